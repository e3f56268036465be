#include "core/page_token.h"

#include <zlib.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tokenauth {
namespace {

constexpr absl::string_view kVersion = "v2";

uint32_t ListingTag(absl::string_view listing) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(listing.data()),
            static_cast<uInt>(listing.size())));
}

}  // namespace

std::string EncodePageToken(int64_t before_row, absl::string_view listing) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kVersion, ":", before_row, ":", ListingTag(listing)));
}

absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token,
                                           absl::string_view listing) {
  const absl::Status malformed = absl::InvalidArgumentError(
      "page_token: malformed; pass next_page_token from the previous "
      "response unchanged");
  std::string raw;
  if (token.size() > 256 || !absl::WebSafeBase64Unescape(token, &raw)) {
    return malformed;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(raw, ':');
  PageCursor c;
  uint32_t tag = 0;
  if (parts.size() != 3 || parts[0] != kVersion ||
      !absl::SimpleAtoi(parts[1], &c.before_row) ||
      !absl::SimpleAtoi(parts[2], &tag) || c.before_row <= 0) {
    return malformed;
  }
  if (tag != ListingTag(listing)) {
    return absl::InvalidArgumentError(
        "page_token: belongs to a different listing; repeat the request that "
        "returned it with the same caller and filters");
  }
  return c;
}

}  // namespace tokenauth
