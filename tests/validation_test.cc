#include "core/validation.h"

#include "gtest/gtest.h"

namespace tokenauth {
namespace {

TEST(Utf8Test, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));           // é
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));          // €
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x94\x91 key"));  // 🔑
}

TEST(Utf8Test, RefusesMalformed) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // Surrogate.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // Past U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("a\x80z"));            // Stray continuation.
}

TEST(TokenNameTest, Rules) {
  EXPECT_TRUE(ValidateTokenName("name", "ci deploy").ok());
  EXPECT_TRUE(ValidateTokenName("name", std::string(255, 'x')).ok());
  absl::Status empty = ValidateTokenName("name", "");
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.message().substr(0, 5), "name:");
  absl::Status longer = ValidateTokenName("name", std::string(256, 'x'));
  EXPECT_EQ(longer.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(longer.message().find("255 bytes"), absl::string_view::npos);
  // 128 two-byte characters: 256 bytes although only 128 characters.
  std::string wide;
  for (int i = 0; i < 128; ++i) wide += "\xc3\xa9";
  EXPECT_FALSE(ValidateTokenName("name", wide).ok());
  absl::Status bad = ValidateTokenName("name", "ab\xff");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("UTF-8"), absl::string_view::npos);
  EXPECT_FALSE(ValidateTokenName("name", "tab\there").ok());
}

TEST(UsernameTest, Rules) {
  EXPECT_TRUE(ValidateUsername("username", "alice").ok());
  EXPECT_TRUE(ValidateUsername("username", "a.b_c-d@e").ok());
  EXPECT_FALSE(ValidateUsername("username", "").ok());
  EXPECT_FALSE(ValidateUsername("username", "with space").ok());
  EXPECT_FALSE(ValidateUsername("username", "colon:").ok());
  EXPECT_FALSE(ValidateUsername("username", std::string(65, 'a')).ok());
}

TEST(PasswordTest, LengthRuleAndNoEcho) {
  EXPECT_TRUE(ValidatePassword("password", "12345678").ok());
  absl::Status s = ValidatePassword("password", "short7!");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().find("short7!"), absl::string_view::npos);
  EXPECT_FALSE(ValidatePassword("password", std::string(1025, 'p')).ok());
}

TEST(ScopesTest, Rules) {
  EXPECT_TRUE(ValidateScopes("scopes", {}, {}).ok());
  EXPECT_TRUE(ValidateScopes("scopes", {"repo:read", "api"}, {}).ok());
  EXPECT_FALSE(ValidateScopes("scopes", {"Repo"}, {}).ok());
  EXPECT_FALSE(ValidateScopes("scopes", {":x"}, {}).ok());
  EXPECT_FALSE(ValidateScopes("scopes", {"api", "api"}, {}).ok());
  EXPECT_TRUE(ValidateScopes("scopes", {"api"}, {"api", "repo"}).ok());
  absl::Status unknown = ValidateScopes("scopes", {"admin"}, {"api", "repo"});
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("scopes[0]"), absl::string_view::npos);
  std::vector<std::string> many(33);
  for (int i = 0; i < 33; ++i) many[i] = "s" + std::to_string(i);
  EXPECT_FALSE(ValidateScopes("scopes", many, {}).ok());
}

}  // namespace
}  // namespace tokenauth
