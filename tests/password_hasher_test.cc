#include "core/password_hasher.h"

#include "gtest/gtest.h"

namespace tokenauth {
namespace {

TEST(PasswordHasherTest, HashIsArgon2idAndVerifies) {
  PasswordHasher hasher(PasswordHashCost::Minimum());
  absl::StatusOr<std::string> hash = hasher.Hash("correct horse");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
  EXPECT_TRUE(hasher.Verify(*hash, "correct horse"));
  EXPECT_FALSE(hasher.Verify(*hash, "correct horsE"));
  EXPECT_FALSE(hasher.Verify(*hash, ""));
}

TEST(PasswordHasherTest, SaltedSoEqualPasswordsHashDifferently) {
  PasswordHasher hasher(PasswordHashCost::Minimum());
  EXPECT_NE(*hasher.Hash("same password"), *hasher.Hash("same password"));
}

TEST(PasswordHasherTest, MalformedHashNeverVerifies) {
  PasswordHasher hasher(PasswordHashCost::Minimum());
  EXPECT_FALSE(hasher.Verify("", "x"));
  EXPECT_FALSE(hasher.Verify("$argon2id$garbage", "x"));
  EXPECT_FALSE(hasher.Verify(std::string(500, 'a'), "x"));
}

TEST(PasswordHasherTest, InteractiveCostIsTheDefaultName) {
  absl::StatusOr<PasswordHashCost> cost =
      PasswordHashCost::FromName("interactive");
  ASSERT_TRUE(cost.ok());
  EXPECT_EQ(cost->memlimit, PasswordHashCost::Interactive().memlimit);
  PasswordHasher hasher(*cost);
  absl::StatusOr<std::string> hash = hasher.Hash("pw for interactive");
  ASSERT_TRUE(hash.ok());
  EXPECT_NE(hash->find("m=65536"), std::string::npos);  // 64 MiB.
  EXPECT_FALSE(PasswordHashCost::FromName("cheap").ok());
}

}  // namespace
}  // namespace tokenauth
