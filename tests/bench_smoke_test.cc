// Smoke test of tools/benchmark (tokenauth-bench): runs every phase for about
// 0.8 s against a harness server, bulk seeding and the memory phase
// included, and checks it completes with zero errors. It checks no speed:
// the numbers are docs/PERFORMANCE.md's business, not a test's.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tokenauth::e2e {
namespace {

// Runs `command`, returns its exit status and puts its stdout in `output`.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output->append(buffer, n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(BenchSmokeTest, EveryPhaseCompletesWithoutErrors) {
  ServerHarness::Options options;
  options.env["MAX_ACCESS_TOKENS_PER_USER"] = "0";
  options.env["LOGIN_MAX_FAILED_ATTEMPTS"] = "1000";
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  // The admin password reaches the child through its environment, not argv.
  setenv("TOKENAUTH_BENCH_ADMIN_PASSWORD", server.admin_password().c_str(), 1);
  std::string output;
  const int code = RunCommand(
      absl::StrCat(TOKENAUTH_BENCH_BINARY, " --target=", server.address(),
                   " --duration=700ms --warmup=100ms --concurrency=8",
                   " --users=4 --tokens=40 --stored_tokens=1000,2000"
                   " --settle_after_fill=0s",
                   " --paired_rounds=2 --paired_slice=200ms",
                   " --memory --mysql_database=", server.database().name(),
                   " 2>&1"),
      &output);
  unsetenv("TOKENAUTH_BENCH_ADMIN_PASSWORD");
  EXPECT_EQ(code, 0) << output;
  for (const char* phase :
       {"(a) Health/Check", "(b) Authenticate PAT, cache on",
        "(c) Authenticate PAT, skip_cache", "(d) Authenticate Basic",
        "(e) CreateToken (session)", "(b) open loop at", "(a) open loop at",
        "paired: 2 rounds of (a), (b), (c)", "(b)/(a): median of rounds",
        "(c)/(a): median of rounds", "change from 1000 to 2000 stored tokens",
        "memory: 1960 distinct tokens presented once each"}) {
    EXPECT_NE(output.find(phase), std::string::npos)
        << "missing \"" << phase << "\" in:\n"
        << output;
  }
  EXPECT_EQ(output.find("ERRORS"), std::string::npos) << output;
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace tokenauth::e2e
