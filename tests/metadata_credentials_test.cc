#include "core/metadata_credentials.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace tokenauth {
namespace {

using Metadata = std::vector<std::pair<absl::string_view, absl::string_view>>;

TEST(AuthorizationHeaderTest, Bearer) {
  for (const char* header : {"Bearer tka_abc", "bearer tka_abc",
                             "BEARER   tka_abc", " Bearer tka_abc "}) {
    absl::StatusOr<Credential> c = ParseAuthorizationHeader(header);
    ASSERT_TRUE(c.ok()) << header << ": " << c.status();
    ASSERT_TRUE(std::holds_alternative<TokenCredential>(*c));
    EXPECT_EQ(std::get<TokenCredential>(*c).value, "tka_abc");
  }
}

TEST(AuthorizationHeaderTest, BasicSplitsAtTheFirstColon) {
  std::string header = "basic " + absl::Base64Escape("alice:pa:ss:word");
  absl::StatusOr<Credential> c = ParseAuthorizationHeader(header);
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& basic = std::get<BasicCredential>(*c);
  EXPECT_EQ(basic.username, "alice");
  EXPECT_EQ(basic.password, "pa:ss:word");
}

TEST(AuthorizationHeaderTest, MalformedIsUnauthenticatedAndNeverEchoed) {
  const std::string no_colon = "Basic " + absl::Base64Escape("secretvalue");
  for (const std::string& header :
       {std::string("secretvalue"), std::string("Bearer "),
        std::string("Basic !!secretvalue!!"), no_colon,
        std::string("Digest secretvalue"),
        "Bearer " + std::string(9000, 'x')}) {
    absl::StatusOr<Credential> c = ParseAuthorizationHeader(header);
    ASSERT_FALSE(c.ok()) << header;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(c.status().message().find("secretvalue"),
              absl::string_view::npos);
    EXPECT_EQ(c.status().message().substr(0, 14), "authorization:");
  }
}

TEST(CredentialFromMetadataTest, FindsTheHeaderAmongOthers) {
  Metadata md = {{"user-agent", "x"}, {"authorization", "Bearer tka_1"}};
  absl::StatusOr<Credential> c = CredentialFromMetadata(md);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<TokenCredential>(*c).value, "tka_1");
}

TEST(CredentialFromMetadataTest, MissingOrDoubledIsUnauthenticated) {
  EXPECT_EQ(CredentialFromMetadata({}).status().code(),
            absl::StatusCode::kUnauthenticated);
  Metadata twice = {{"authorization", "Bearer a"},
                    {"authorization", "Bearer b"}};
  absl::Status s = CredentialFromMetadata(twice).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("more than once"), absl::string_view::npos);
}

TEST(CredentialFromMetadataTest, SessionWithAndWithoutCsrf) {
  Metadata read = {{"x-session-id", "sid"}};
  absl::StatusOr<Credential> c = CredentialFromMetadata(read);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(std::get<SessionCredential>(*c).session_id, "sid");
  EXPECT_EQ(std::get<SessionCredential>(*c).csrf_token, "");
  Metadata write = {{"x-csrf-token", "csrf"}, {"X-Session-Id", "sid"}};
  c = CredentialFromMetadata(write);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(std::get<SessionCredential>(*c).csrf_token, "csrf");
}

TEST(CredentialFromMetadataTest, TwoCredentialsOrAnOrphanCsrfAreRefused) {
  Metadata both = {{"authorization", "Bearer a"}, {"x-session-id", "s"}};
  absl::Status s = CredentialFromMetadata(both).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("two credentials"), absl::string_view::npos);
  Metadata orphan = {{"x-csrf-token", "csrf"}};
  EXPECT_EQ(CredentialFromMetadata(orphan).status().code(),
            absl::StatusCode::kUnauthenticated);
  Metadata twice = {{"x-session-id", "a"}, {"x-session-id", "b"}};
  EXPECT_EQ(CredentialFromMetadata(twice).status().code(),
            absl::StatusCode::kUnauthenticated);
  const std::string big(9000, 's');
  Metadata huge = {{"x-session-id", big}};
  s = CredentialFromMetadata(huge).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("8 KiB"), absl::string_view::npos);
}

}  // namespace
}  // namespace tokenauth
