// Fuzz target for page tokens (core/page_token.h): EncodePageToken and
// DecodePageToken. Properties checked on every input:
//
//  1. Round trip: for every row > 0 and every listing,
//     DecodePageToken(EncodePageToken(row, listing), listing) gives row back,
//     and the token is at most 256 characters of the web-safe base64
//     alphabet. A row <= 0 is never handed back.
//  2. A token is bound to its listing: one accepted for listing L is refused
//     ("different listing") for any listing whose CRC32 differs from L's
//     (CRC32 computed here bitwise, not by zlib).
//  3. Whatever the token, a refusal is INVALID_ARGUMENT and one of the two
//     fixed refusals (message and payloads), so it never echoes the token; an
//     accepted token gives a row > 0 that re-encodes to a token accepted for
//     the same row.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/page_token.h"
#include "fuzz/fuzz_check.h"

namespace tokenauth::fuzz {
namespace {

uint32_t ReferenceCrc32(absl::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

const std::set<std::string>& AllowedMessages() {
  static const std::set<std::string>* const kMessages = [] {
    auto* m = new std::set<std::string>;
    m->insert(StatusFingerprint(DecodePageToken("!", "l").status()));
    m->insert(StatusFingerprint(
        DecodePageToken(EncodePageToken(1, "a"), "b").status()));
    return m;
  }();
  return *kMessages;
}

// Listings other than `listing`: (listing, must the token be refused).
void CheckBoundToListing(absl::string_view token, absl::string_view listing,
                         int64_t row) {
  const std::string others[] = {
      std::string(), absl::StrCat(listing, "x"), absl::StrCat("x", listing),
      std::string(listing.substr(0, listing.size() / 2)), "tokens:1:1:active"};
  for (const std::string& other : others) {
    absl::StatusOr<PageCursor> c = DecodePageToken(token, other);
    if (ReferenceCrc32(other) == ReferenceCrc32(listing)) {
      FUZZ_CHECK(c.ok() && c->before_row == row,
                 "same-tag listing refused: " + Quote(other));
    } else {
      FUZZ_CHECK(!c.ok(), "token for " + Quote(listing) +
                              " accepted for listing " + Quote(other));
    }
  }
}

void CheckDecode(absl::string_view token, absl::string_view listing) {
  absl::StatusOr<PageCursor> c = DecodePageToken(token, listing);
  const std::string what =
      "DecodePageToken(" + Quote(token) + ", " + Quote(listing) + ")";
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == absl::StatusCode::kInvalidArgument,
               what + ": " + c.status().ToString());
    FUZZ_CHECK(AllowedMessages().count(StatusFingerprint(c.status())) == 1,
               what + ": error depends on the token: " +
                   StatusFingerprint(c.status()));
    return;
  }
  FUZZ_CHECK(c->before_row > 0, what + absl::StrCat(" = ", c->before_row));
  FUZZ_CHECK(token.size() <= 256, what);
  absl::StatusOr<PageCursor> again =
      DecodePageToken(EncodePageToken(c->before_row, listing), listing);
  FUZZ_CHECK(again.ok() && again->before_row == c->before_row,
             what + ": re-encoded token not accepted");
  CheckBoundToListing(token, listing, c->before_row);
}

void CheckRoundTrip(int64_t row, absl::string_view listing) {
  const std::string token = EncodePageToken(row, listing);
  const std::string what = absl::StrCat("EncodePageToken(", row, ", ",
                                        Quote(listing), ") = ", Quote(token));
  FUZZ_CHECK(!token.empty() && token.size() <= 256, what);
  for (char ch : token) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    FUZZ_CHECK(ok, what + ": not web-safe base64");
  }
  absl::StatusOr<PageCursor> c = DecodePageToken(token, listing);
  if (row <= 0) {
    FUZZ_CHECK(!c.ok(), what + ": row <= 0 handed back");
    return;
  }
  FUZZ_CHECK(c.ok() && c->before_row == row,
             what + ": does not round-trip: " + c.status().ToString());
  CheckBoundToListing(token, listing, row);
}

}  // namespace
}  // namespace tokenauth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tokenauth;        // NOLINT
  using namespace tokenauth::fuzz;  // NOLINT
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const absl::string_view fixed_listing = "tokens:42:42:active:";

  // The bytes as a token; as the decoded content of a token; and as the row
  // part of a token whose version and listing tag are right.
  CheckDecode(input, fixed_listing);
  CheckDecode(absl::WebSafeBase64Escape(input), fixed_listing);
  CheckDecode(absl::WebSafeBase64Escape(absl::StrCat(
                  "v2:", input, ":", ReferenceCrc32(fixed_listing))),
              fixed_listing);

  // A row and a listing chosen by the input.
  FuzzedDataProvider provider(data, size);
  const int64_t row = provider.ConsumeIntegral<int64_t>();
  const std::string listing = provider.ConsumeRemainingBytesAsString();
  CheckRoundTrip(row, listing);
  CheckRoundTrip(row == INT64_MIN ? 1 : (row < 0 ? -row : row), listing);
  CheckRoundTrip(INT64_MAX, listing);
  return 0;
}
