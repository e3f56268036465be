#include "core/token_format.h"

#include <set>

#include "gtest/gtest.h"

namespace tokenauth {
namespace {

// Deterministic bytes, so a test can build a value it knows.
class CountingRandom : public Random {
 public:
  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) b = static_cast<uint8_t>(next_++ * 37 + 11);
  }

 private:
  uint32_t next_ = 0;
};

TEST(TokenFormatTest, GeneratedValueParsesToItsId) {
  SodiumRandom random;
  TokenFormat format("tka");
  TokenFormat::NewToken t = format.Generate(random);
  EXPECT_EQ(t.value.size(), 4u + 12 + 22 + 6);
  EXPECT_EQ(t.value.substr(0, 4), "tka_");
  EXPECT_EQ(t.value.substr(4, 12), t.public_id);
  absl::StatusOr<std::string> id = format.Parse(t.value);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, t.public_id);
}

TEST(TokenFormatTest, HintShowsPrefixIdAndTailOnly) {
  SodiumRandom random;
  TokenFormat format("tka");
  TokenFormat::NewToken t = format.Generate(random);
  EXPECT_EQ(t.hint,
            "tka_" + t.public_id + "..." + t.value.substr(t.value.size() - 4));
  EXPECT_EQ(t.hint.find(t.value.substr(16, 22)), std::string::npos);
}

TEST(TokenFormatTest, ValuesAreDistinct) {
  SodiumRandom random;
  TokenFormat format("tka");
  std::set<std::string> values, ids;
  for (int i = 0; i < 1000; ++i) {
    TokenFormat::NewToken t = format.Generate(random);
    values.insert(t.value);
    ids.insert(t.public_id);
  }
  EXPECT_EQ(values.size(), 1000u);
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(TokenFormatTest, EveryOneCharacterChangeIsRefused) {
  SodiumRandom random;
  TokenFormat format("tka");
  const std::string value = format.Generate(random).value;
  const std::string alphabet =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
  int tried = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    for (char c : alphabet) {
      if (c == value[i]) continue;
      std::string changed = value;
      changed[i] = c;
      absl::StatusOr<std::string> id = format.Parse(changed);
      ASSERT_FALSE(id.ok()) << "position " << i << " char " << c;
      EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
      ++tried;
    }
  }
  EXPECT_GT(tried, 2000);
}

TEST(TokenFormatTest, RefusesWrongPrefixLengthAndAlphabet) {
  SodiumRandom random;
  TokenFormat format("tka");
  const std::string value = format.Generate(random).value;
  EXPECT_FALSE(format.Parse("").ok());
  EXPECT_FALSE(format.Parse("xyz" + value.substr(3)).ok());
  EXPECT_FALSE(format.Parse(value + "0").ok());
  EXPECT_FALSE(format.Parse(value.substr(0, value.size() - 1)).ok());
  std::string bad = value;
  bad[10] = '-';
  EXPECT_FALSE(format.Parse(bad).ok());
  EXPECT_FALSE(TokenFormat("other").Parse(value).ok());
}

TEST(TokenFormatTest, ErrorsNeverContainTheValue) {
  SodiumRandom random;
  TokenFormat format("tka");
  std::string value = format.Generate(random).value;
  value[20] = value[20] == 'a' ? 'b' : 'a';
  absl::StatusOr<std::string> id = format.Parse(value);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(std::string(id.status().message()).find(value.substr(4, 20)),
            std::string::npos);
}

TEST(TokenFormatTest, ChecksumIsCrc32InBase62) {
  // CRC32("123456789") = 0xCBF43926, the standard check value, in base62.
  EXPECT_EQ(Base62Checksum("123456789", 6), "3jZRME");
}

TEST(TokenFormatTest, HashIsSha256HexAndComparesInConstantTimeHelper) {
  EXPECT_EQ(TokenFormat::Hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(
      TokenFormat::HashesEqual(TokenFormat::Hash("x"), TokenFormat::Hash("x")));
  EXPECT_FALSE(
      TokenFormat::HashesEqual(TokenFormat::Hash("x"), TokenFormat::Hash("y")));
  EXPECT_FALSE(TokenFormat::HashesEqual("ab", "abc"));
}

TEST(TokenFormatTest, PrefixRules) {
  EXPECT_TRUE(TokenFormat::ValidatePrefix("tka").ok());
  EXPECT_TRUE(TokenFormat::ValidatePrefix("acme2").ok());
  EXPECT_FALSE(TokenFormat::ValidatePrefix("").ok());
  EXPECT_FALSE(TokenFormat::ValidatePrefix("Tka").ok());
  EXPECT_FALSE(TokenFormat::ValidatePrefix("t_a").ok());
  EXPECT_FALSE(TokenFormat::ValidatePrefix("abcdefghijklmnopq").ok());
}

TEST(RandomBase62Test, UsesWholeAlphabetAndRequestedLength) {
  SodiumRandom random;
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    std::string s = RandomBase62(random, 22);
    ASSERT_EQ(s.size(), 22u);
    seen.insert(s.begin(), s.end());
  }
  EXPECT_EQ(seen.size(), 62u);
  CountingRandom counting;
  EXPECT_EQ(RandomBase62(counting, 5).size(), 5u);
}

}  // namespace
}  // namespace tokenauth
