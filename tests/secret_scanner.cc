#include "tests/secret_scanner.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tokenauth::e2e {
namespace {

constexpr const char* kKinds[] = {"token", "password", "basic", "session",
                                  "csrf"};
constexpr size_t kMaxShownLine = 240;
constexpr size_t kMaxHits = 200;  // Printed; all are counted.

uint64_t Prefix(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream content;
  content << in.rdbuf();
  *out = content.str();
  return true;
}

std::string WithCommas(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? absl::StrCat("-", out) : out;
}

class Secrets {
 public:
  // Adds a recorded secret; false if it is too short to search for.
  bool Add(const std::string& kind, const std::string& value) {
    if (value.size() < kMinNeedleLength) return false;
    const int index = needles_.Add(value);
    if (static_cast<size_t>(index) >= kinds_.size()) kinds_.push_back(kind);
    return true;
  }
  const NeedleSet& needles() const { return needles_; }
  const std::string& kind(int index) const { return kinds_[index]; }

  // `text` with every secret in it replaced by "[<kind>]", shortened.
  std::string Mask(absl::string_view text) const {
    std::vector<std::pair<size_t, int>> found;
    needles_.FindAll(
        text, [&](size_t at, int index) { found.emplace_back(at, index); });
    std::sort(found.begin(), found.end());
    std::string out;
    size_t pos = 0;
    for (const auto& [at, index] : found) {
      if (at < pos) continue;  // Overlaps one already masked.
      absl::StrAppend(&out, absl::CEscape(text.substr(pos, at - pos)), "[",
                      kinds_[index], "]");
      pos = at + needles_.needle(index).size();
    }
    absl::StrAppend(&out, absl::CEscape(text.substr(pos)));
    if (out.size() > kMaxShownLine) {
      out.resize(kMaxShownLine);
      out += "...";
    }
    return out;
  }

 private:
  NeedleSet needles_;
  std::vector<std::string> kinds_;
};

absl::string_view LineAt(absl::string_view text, size_t at, int* line_number) {
  const size_t start = text.rfind('\n', at);
  const size_t begin = start == absl::string_view::npos ? 0 : start + 1;
  size_t end = text.find('\n', at);
  if (end == absl::string_view::npos) end = text.size();
  *line_number = 1 + static_cast<int>(
                         std::count(text.begin(), text.begin() + begin, '\n'));
  return text.substr(begin, end - begin);
}

// The server prints a generated bootstrap password once, on stdout, on the
// first non-empty line after the announcement (docs/SETTINGS.md): that one
// line is allowed to hold a password.
bool IsBootstrapPasswordLine(absl::string_view text, size_t line_begin) {
  absl::string_view before = text.substr(0, line_begin);
  while (true) {
    before = absl::StripSuffix(before, "\n");
    const size_t newline = before.rfind('\n');
    const absl::string_view previous = newline == absl::string_view::npos
                                           ? before
                                           : before.substr(newline + 1);
    if (absl::StrContains(previous, "with generated password")) return true;
    if (!absl::StripAsciiWhitespace(previous).empty() ||
        newline == absl::string_view::npos) {
      return false;
    }
    before = before.substr(0, newline + 1);
  }
}

}  // namespace

int NeedleSet::Add(absl::string_view needle) {
  auto [it, inserted] =
      index_.emplace(std::string(needle), static_cast<int>(needles_.size()));
  if (!inserted) return it->second;
  needles_.emplace_back(needle);
  by_prefix_[Prefix(needle.data())].push_back(it->second);
  return it->second;
}

void NeedleSet::FindAll(absl::string_view text,
                        const std::function<void(size_t, int)>& found) const {
  if (needles_.empty() || text.size() < kMinNeedleLength) return;
  const char* data = text.data();
  for (size_t i = 0; i + kMinNeedleLength <= text.size(); ++i) {
    auto it = by_prefix_.find(Prefix(data + i));
    if (it == by_prefix_.end()) continue;
    for (int index : it->second) {
      const std::string& needle = needles_[index];
      if (needle.size() <= text.size() - i &&
          std::memcmp(data + i, needle.data(), needle.size()) == 0) {
        found(i, index);
      }
    }
  }
}

std::string ScanResult::Summary() const {
  std::vector<std::string> kinds;
  for (const char* kind : kKinds) {
    auto it = secrets_by_kind.find(kind);
    kinds.push_back(absl::StrCat(
        kind, " ", WithCommas(it == secrets_by_kind.end() ? 0 : it->second)));
  }
  const std::string size =
      log_bytes < 1000000
          ? absl::StrFormat("%.1f KB", static_cast<double>(log_bytes) / 1e3)
          : absl::StrFormat("%.1f MB", static_cast<double>(log_bytes) / 1e6);
  return absl::StrFormat(
      "secret_scan: %s secrets (%s; %d shorter than %d bytes not searched) x "
      "%d server logs (%s) + %s error messages: %d hits",
      WithCommas(secrets), absl::StrJoin(kinds, ", "), short_secrets,
      kMinNeedleLength, server_logs, size, WithCommas(errors),
      static_cast<int>(hits.size()));
}

ScanResult ScanTestRun(const ScanOptions& options) {
  ScanResult result;
  const std::string& dir = options.run_dir;
  auto problem = [&](std::string text) {
    result.problems.push_back(std::move(text));
  };

  // The secrets.
  Secrets secrets;
  std::string text;
  if (!ReadFile(absl::StrCat(dir, "/secrets.tsv"), &text)) {
    problem(absl::StrCat("no ", dir,
                         "/secrets.tsv: nothing was recorded (is "
                         "TOKENAUTH_TEST_RUN_DIR set on the tests?)"));
  }
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> fields =
        absl::StrSplit(line, absl::MaxSplits('\t', 1));
    std::string value;
    if (!absl::CUnescape(fields.second, &value)) {
      problem("secrets.tsv: a line does not unescape");
      continue;
    }
    const int before = static_cast<int>(secrets.needles().size());
    if (!secrets.Add(fields.first, value)) {
      ++result.short_secrets;
    } else if (static_cast<int>(secrets.needles().size()) > before) {
      ++result.secrets_by_kind[fields.first];
    }
  }
  result.secrets = static_cast<int>(secrets.needles().size());

  auto add_hit = [&](std::string where, absl::string_view line, int index) {
    if (result.hits.size() < kMaxHits) {
      result.hits.push_back(absl::StrCat(where, ": a ", secrets.kind(index),
                                         " (",
                                         secrets.needles().needle(index).size(),
                                         " bytes) in: ", secrets.Mask(line)));
    } else {
      result.hits.push_back(where);
    }
  };

  // The server logs.
  std::error_code error;
  std::vector<std::string> logs;
  for (const auto& entry : std::filesystem::directory_iterator(
           absl::StrCat(dir, "/servers"), error)) {
    if (entry.is_regular_file()) logs.push_back(entry.path().string());
  }
  std::sort(logs.begin(), logs.end());
  for (const std::string& path : logs) {
    if (absl::EndsWith(path, ".stdout")) ++result.server_logs;
    std::string log;
    if (!ReadFile(path, &log)) {
      problem(absl::StrCat("cannot read ", path));
      continue;
    }
    result.log_bytes += static_cast<int64_t>(log.size());
    const bool is_stdout = absl::EndsWith(path, ".stdout");
    secrets.needles().FindAll(log, [&](size_t at, int index) {
      int line_number = 0;
      const absl::string_view line = LineAt(log, at, &line_number);
      if (is_stdout && secrets.kind(index) == "password" &&
          IsBootstrapPasswordLine(log, line.data() - log.data())) {
        return;
      }
      add_hit(absl::StrCat(path, ":", line_number), line, index);
    });
  }

  // The error messages.
  text.clear();
  ReadFile(absl::StrCat(dir, "/errors.tsv"), &text);
  int record = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++record;
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 5) {
      problem(absl::StrCat("errors.tsv record ", record, ": ", fields.size(),
                           " fields, want 5"));
      continue;
    }
    ++result.errors;
    for (int f : {3, 4}) {
      std::string value;
      if (!absl::CUnescape(fields[f], &value)) {
        problem(
            absl::StrCat("errors.tsv record ", record, " does not unescape"));
        continue;
      }
      secrets.needles().FindAll(value, [&](size_t, int index) {
        add_hit(absl::StrCat(dir, "/errors.tsv record ", record, " (",
                             fields[0], " ", fields[1], " code ", fields[2],
                             f == 3 ? " message)" : " details)"),
                value, index);
      });
    }
  }

  // Hashes in responses, found by the recorder.
  text.clear();
  ReadFile(absl::StrCat(dir, "/violations.tsv"), &text);
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    result.hits.push_back(absl::StrCat("violations.tsv: ", line));
  }

  // Enough was recorded for the scan to mean something.
  if (result.server_logs == 0) problem("no server logs in servers/");
  if (result.secrets == 0) problem("no secrets recorded");
  if (result.server_logs >= options.full_run_servers) {
    for (const auto& [kind, minimum] : options.min_counts) {
      const int have =
          kind == "errors" ? result.errors : result.secrets_by_kind[kind];
      if (have < minimum) {
        problem(absl::StrCat("only ", have, " ", kind,
                             " recorded in a full run (", result.server_logs,
                             " servers), want at least ", minimum,
                             ": is the recorder broken?"));
      }
    }
  }
  return result;
}

}  // namespace tokenauth::e2e
