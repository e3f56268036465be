// secret_scan: the last ctest test. Scans the run record that the e2e tests'
// recorder wrote (tests/secret_recorder.h) for any recorded secret in any
// server log or error message; see tests/secret_scanner.h.
//
//   secret_scan <run dir> [--full-run-servers N] [--min KIND=N]...
//
// Prints the counts and every hit (secrets masked); exits 0 only with zero
// hits and, when at least N servers wrote logs (a full run), at least the
// given number of each kind of secret and of error messages.
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tests/secret_scanner.h"

int main(int argc, char** argv) {
  tokenauth::e2e::ScanOptions options;
  auto usage = [&]() {
    std::fprintf(
        stderr,
        "usage: %s <run dir> [--full-run-servers N] [--min KIND=N]...\n",
        argv[0]);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--min" || arg == "--full-run-servers") && i + 1 < argc) {
      const std::string value = argv[++i];
      int n = 0;
      if (arg == "--full-run-servers") {
        if (!absl::SimpleAtoi(value, &n)) return usage();
        options.full_run_servers = n;
      } else {
        std::pair<std::string, std::string> kv =
            absl::StrSplit(value, absl::MaxSplits('=', 1));
        if (!absl::SimpleAtoi(kv.second, &n)) return usage();
        options.min_counts[kv.first] = n;
      }
    } else if (options.run_dir.empty() && arg[0] != '-') {
      options.run_dir = arg;
    } else {
      return usage();
    }
  }
  if (options.run_dir.empty()) return usage();

  const tokenauth::e2e::ScanResult result = ScanTestRun(options);
  for (const std::string& hit : result.hits) {
    std::printf("HIT %s\n", hit.c_str());
  }
  for (const std::string& problem : result.problems) {
    std::printf("PROBLEM %s\n", problem.c_str());
  }
  if (result.server_logs < options.full_run_servers) {
    std::printf(
        "secret_scan: a partial run (%d servers < %d): per-kind minimums not "
        "applied\n",
        result.server_logs, options.full_run_servers);
  }
  std::printf("%s\n", result.Summary().c_str());
  return result.ok() ? 0 : 1;
}
