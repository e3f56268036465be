#include "core/page_token.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace tokenauth {
namespace {

TEST(PageTokenTest, RoundTrips) {
  PageCursor in{42, 1234567, true};
  absl::StatusOr<PageCursor> out = DecodePageToken(EncodePageToken(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->user_id, 42);
  EXPECT_EQ(out->before_row, 1234567);
  EXPECT_TRUE(out->show_unusable);
}

TEST(PageTokenTest, RefusesGarbage) {
  for (const char* raw : {"", "v1", "v1:1:2", "v2:1:2:0", "v1:x:2:0",
                          "v1:1:2:7", "v1:-1:2:0", "v1:1:0:0", "v1:1:2:0:9"}) {
    absl::StatusOr<PageCursor> c =
        DecodePageToken(absl::WebSafeBase64Escape(raw));
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << raw;
  }
  EXPECT_FALSE(DecodePageToken("!!!not base64!!!").ok());
  EXPECT_FALSE(DecodePageToken(std::string(300, 'A')).ok());
  absl::StatusOr<PageCursor> c = DecodePageToken("zzz");
  EXPECT_NE(c.status().message().find("page_token"), absl::string_view::npos);
}

}  // namespace
}  // namespace tokenauth
