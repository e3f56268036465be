#include "core/page_token.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace tokenauth {
namespace {

TEST(PageTokenTest, RoundTripsWithinItsListing) {
  absl::StatusOr<PageCursor> out =
      DecodePageToken(EncodePageToken(1234567, "tokens:42"), "tokens:42");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->before_row, 1234567);
}

TEST(PageTokenTest, RefusedInAnotherListing) {
  const std::string token = EncodePageToken(99, "tokens:42:active");
  for (const char* other : {"tokens:43:active", "tokens:42:revoked", ""}) {
    absl::StatusOr<PageCursor> c = DecodePageToken(token, other);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << other;
    EXPECT_NE(c.status().message().find("different listing"),
              absl::string_view::npos);
  }
}

TEST(PageTokenTest, RefusesGarbage) {
  for (const char* raw : {"", "v2", "v2:1", "v1:1:2", "v2:x:2", "v2:0:2",
                          "v2:-5:2", "v2:1:2:3", "v2:1:99999999999"}) {
    absl::StatusOr<PageCursor> c =
        DecodePageToken(absl::WebSafeBase64Escape(raw), "l");
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << raw;
  }
  EXPECT_FALSE(DecodePageToken("!!!not base64!!!", "l").ok());
  EXPECT_FALSE(DecodePageToken(std::string(300, 'A'), "l").ok());
  absl::StatusOr<PageCursor> c = DecodePageToken("zzz", "l");
  EXPECT_NE(c.status().message().find("page_token"), absl::string_view::npos);
}

}  // namespace
}  // namespace tokenauth
