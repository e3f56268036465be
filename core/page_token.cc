#include "core/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tokenauth {
namespace {
constexpr absl::string_view kVersion = "v1";
}  // namespace

std::string EncodePageToken(const PageCursor& cursor) {
  return absl::WebSafeBase64Escape(absl::StrCat(kVersion, ":", cursor.user_id,
                                                ":", cursor.before_row, ":",
                                                cursor.show_unusable ? 1 : 0));
}

absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token) {
  const absl::Status malformed = absl::InvalidArgumentError(
      "page_token: malformed; pass next_page_token from the previous "
      "response unchanged");
  std::string raw;
  if (token.size() > 256 || !absl::WebSafeBase64Unescape(token, &raw)) {
    return malformed;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(raw, ':');
  PageCursor c;
  int unusable = 0;
  if (parts.size() != 4 || parts[0] != kVersion ||
      !absl::SimpleAtoi(parts[1], &c.user_id) ||
      !absl::SimpleAtoi(parts[2], &c.before_row) ||
      !absl::SimpleAtoi(parts[3], &unusable) || c.user_id <= 0 ||
      c.before_row <= 0 || (unusable != 0 && unusable != 1)) {
    return malformed;
  }
  c.show_unusable = unusable == 1;
  return c;
}

}  // namespace tokenauth
