// The after-suite secret scan: reads the run record written by
// tests/secret_recorder.h (secrets.tsv, errors.tsv, violations.tsv,
// servers/*) and looks for every recorded secret, as an exact substring, in
// every server log and every recorded error message and its details. Also
// defines NeedleSet, the many-needle substring search it and the recorder's
// hash check share.
//
// Nothing here ever prints a secret: a hit is reported with its file and line
// (or error record) and the line with every known secret replaced by
// "[<kind>]".
//
// Thread-safety: NeedleSet is safe for concurrent const use; ScanTestRun is a
// plain function.
#ifndef TOKENAUTH_TESTS_SECRET_SCANNER_H_
#define TOKENAUTH_TESTS_SECRET_SCANNER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace tokenauth::e2e {

// Needles shorter than this are not searched (a 3-letter wrong password would
// match ordinary words); tokenauth refuses passwords under 8 bytes, so every
// real secret is at least this long.
inline constexpr size_t kMinNeedleLength = 8;

// A set of needles found in one pass over a text: each position's first 8
// bytes are looked up in a hash map, and only candidates are compared.
class NeedleSet {
 public:
  // Adds `needle` (at least kMinNeedleLength bytes) and returns its index; an
  // existing needle returns its old index.
  int Add(absl::string_view needle);
  size_t size() const { return needles_.size(); }
  const std::string& needle(int index) const { return needles_[index]; }
  // Calls found(offset, index) for every occurrence of every needle.
  void FindAll(absl::string_view text,
               const std::function<void(size_t, int)>& found) const;

 private:
  std::vector<std::string> needles_;
  absl::flat_hash_map<std::string, int> index_;
  absl::flat_hash_map<uint64_t, std::vector<int>> by_prefix_;
};

struct ScanOptions {
  std::string run_dir;
  // Minimum number of distinct recorded secrets per kind ("token",
  // "password", "basic", "session", "csrf") and of "errors" (recorded error
  // statuses), applied when at least `full_run_servers` servers wrote logs.
  std::map<std::string, int> min_counts;
  int full_run_servers = 0;
};

struct ScanResult {
  std::map<std::string, int> secrets_by_kind;  // Distinct secrets per kind.
  int secrets = 0;                             // Distinct secrets searched for.
  int short_secrets = 0;  // Recorded but shorter than kMinNeedleLength.
  int server_logs = 0;    // Servers (a stdout + stderr pair each).
  int64_t log_bytes = 0;
  int errors = 0;                     // Error statuses scanned.
  std::vector<std::string> hits;      // One line per hit, secrets masked.
  std::vector<std::string> problems;  // Why the run record is not enough.
  bool ok() const { return hits.empty() && problems.empty(); }
  // "secret_scan: 812 secrets (token 400, ...) x 41 server logs (1.9 MB) +
  // 3,100 error messages: 0 hits"
  std::string Summary() const;
};

ScanResult ScanTestRun(const ScanOptions& options);

}  // namespace tokenauth::e2e

#endif  // TOKENAUTH_TESTS_SECRET_SCANNER_H_
