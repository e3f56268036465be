// Tests for the after-suite secret scan (tests/secret_scanner.h): a secret
// planted in a server log or an error message is found and reported masked,
// a clean run passes, and a run that recorded too little fails.
#include "tests/secret_scanner.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tokenauth::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kToken[] = "tka_AbCdEfGhIjKl0123456789abcdefghijklXyZ123";
constexpr char kPassword[] = "correct-horse-battery";
constexpr char kSession[] = "S3ss10nS3ss10nS3ss10nS3ss10nAbCd";

class SecretScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        ::testing::TempDir(), "secret_scan_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
        getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/servers");
    Write("secrets.tsv", absl::StrCat("token\t", kToken, "\npassword\t",
                                      absl::CEscape(kPassword), "\nsession\t",
                                      kSession, "\npassword\tshort\n"));
    Write("servers/a.1.stdout", "listening on 127.0.0.1:1234\n");
    Write("servers/a.1.stderr", "I created token id=AbCdEfGhIjKl\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(absl::StrCat(dir_, "/", name), std::ios::binary) << content;
  }
  ScanResult Scan() {
    ScanOptions options;
    options.run_dir = dir_;
    return ScanTestRun(options);
  }

  std::string dir_;
};

TEST_F(SecretScannerTest, CleanRunPasses) {
  Write("errors.tsv",
        "t\t/tokenauth.v1.AuthService/Authenticate\t16\ttoken: revoked\t\n");
  const ScanResult result = Scan();
  EXPECT_TRUE(result.ok()) << absl::StrJoin(result.problems, "\n");
  EXPECT_EQ(result.secrets, 3);
  EXPECT_EQ(result.short_secrets, 1);
  EXPECT_EQ(result.server_logs, 1);
  EXPECT_EQ(result.errors, 1);
  EXPECT_THAT(result.Summary(), HasSubstr(": 0 hits"));
  EXPECT_THAT(result.Summary(), HasSubstr("3 secrets (token 1, password 1, "
                                          "basic 0, session 1, csrf 0;"));
}

TEST_F(SecretScannerTest, PlantedSecretInALogIsFoundAndMasked) {
  Write("servers/a.1.stderr",
        absl::StrCat("line one\nW login failed for alice password=", kPassword,
                     " from 127.0.0.1\nline three\n"));
  const ScanResult result = Scan();
  EXPECT_FALSE(result.ok());
  ASSERT_THAT(result.hits, SizeIs(1));
  EXPECT_THAT(result.hits[0], HasSubstr("servers/a.1.stderr:2: a password"));
  EXPECT_THAT(result.hits[0], HasSubstr("password=[password] from"));
  EXPECT_THAT(result.hits[0], Not(HasSubstr(kPassword)));
  EXPECT_THAT(result.Summary(), HasSubstr(": 1 hits"));
}

TEST_F(SecretScannerTest, EveryOccurrenceAndKindIsFound) {
  Write("servers/b.2.stdout", absl::StrCat(kToken, " ", kSession, "\n"));
  Write("servers/b.2.stderr", absl::StrCat("x", kToken, "x\n"));
  const ScanResult result = Scan();
  ASSERT_THAT(result.hits, SizeIs(3));
  for (const std::string& hit : result.hits) {
    EXPECT_THAT(hit, Not(HasSubstr(kToken)));
    EXPECT_THAT(hit, Not(HasSubstr(kSession)));
  }
  EXPECT_EQ(result.server_logs, 2);
}

TEST_F(SecretScannerTest, PlantedSecretInAnErrorMessageOrDetailsIsFound) {
  Write("errors.tsv",
        absl::StrCat("t\t/m\t3\tbad token ", absl::CEscape(kToken), "\t\n",
                     "t\t/m\t3\tfine\t",
                     absl::CEscape(absl::StrCat("\x0a\x12", kSession)), "\n"));
  const ScanResult result = Scan();
  ASSERT_THAT(result.hits, SizeIs(2));
  EXPECT_THAT(result.hits[0], HasSubstr("errors.tsv record 1 (t /m code 3 "
                                        "message): a token"));
  EXPECT_THAT(result.hits[1], HasSubstr("record 2 (t /m code 3 details)"));
  EXPECT_THAT(result.hits[0], Not(HasSubstr(kToken)));
}

TEST_F(SecretScannerTest, TheBootstrapPasswordLineOnStdoutIsAllowed) {
  Write("servers/a.1.stdout",
        absl::StrCat("\n  Created admin user \"admin\" with generated "
                     "password:\n\n    ",
                     kPassword, "\n\n"));
  EXPECT_TRUE(Scan().ok());
  // Anywhere else it is a hit.
  Write("servers/a.1.stdout", absl::StrCat("started\n", kPassword, "\n"));
  EXPECT_THAT(Scan().hits, SizeIs(1));
}

TEST_F(SecretScannerTest, HashViolationsFail) {
  Write("violations.tsv",
        "/tokenauth.v1.TokenService/GetToken\tresponse carries SHA-256 (hex) "
        "of a token\n");
  const ScanResult result = Scan();
  ASSERT_THAT(result.hits, SizeIs(1));
  EXPECT_THAT(result.hits[0], HasSubstr("GetToken"));
}

TEST_F(SecretScannerTest, NothingRecordedFails) {
  std::filesystem::remove(dir_ + "/secrets.tsv");
  EXPECT_THAT(Scan().problems, Not(IsEmpty()));
  std::filesystem::remove_all(dir_);
  EXPECT_FALSE(Scan().ok());
}

TEST_F(SecretScannerTest, MinimumsApplyToAFullRunOnly) {
  ScanOptions options;
  options.run_dir = dir_;
  options.min_counts = {{"token", 2}, {"session", 1}, {"errors", 1}};
  options.full_run_servers = 1;  // One server: a full run.
  ScanResult result = ScanTestRun(options);
  ASSERT_THAT(result.problems, SizeIs(2));
  EXPECT_THAT(result.problems[0], HasSubstr("only 0 errors"));  // By name.
  EXPECT_THAT(result.problems[1], HasSubstr("only 1 token"));
  options.full_run_servers = 2;  // A subset of the suite ran.
  result = ScanTestRun(options);
  EXPECT_TRUE(result.ok()) << absl::StrJoin(result.problems, "\n");
}

TEST(NeedleSetTest, FindsOverlappingAndRepeatedNeedles) {
  NeedleSet set;
  EXPECT_EQ(set.Add("abcdefgh"), 0);
  EXPECT_EQ(set.Add("abcdefghij"), 1);
  EXPECT_EQ(set.Add("cdefghij"), 2);
  EXPECT_EQ(set.Add("abcdefgh"), 0);
  std::vector<std::pair<size_t, int>> found;
  set.FindAll("xxabcdefghijabcdefgh",
              [&](size_t at, int i) { found.emplace_back(at, i); });
  EXPECT_EQ(found, (std::vector<std::pair<size_t, int>>{
                       {2, 0}, {2, 1}, {4, 2}, {12, 0}}));
  found.clear();
  set.FindAll("abcdefg", [&](size_t at, int i) { found.emplace_back(at, i); });
  EXPECT_THAT(found, IsEmpty());
}

}  // namespace
}  // namespace tokenauth::e2e
