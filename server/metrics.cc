#include "server/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tokenauth::metrics {
namespace {

[[noreturn]] void Fail(absl::string_view what, absl::string_view name) {
  std::cerr << "metrics: " << what << ": " << name << std::endl;
  std::abort();
}

bool IsValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' || c == ':' ||
                    (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

// Label values: backslash, double quote and newline are escaped.
void AppendEscapedLabelValue(std::string* out, absl::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

// HELP text: backslash and newline are escaped.
std::string EscapeHelp(absl::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// `a="x",b="y"` (no braces), or empty.
std::string LabelText(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out.push_back(',');
    absl::StrAppend(&out, name, "=\"");
    AppendEscapedLabelValue(&out, value);
    out.push_back('"');
  }
  return out;
}

// `name{labels,extra} value\n`; `extra` is a pre-rendered label or empty.
void AppendSample(std::string* out, absl::string_view name,
                  absl::string_view labels, absl::string_view extra,
                  absl::string_view value) {
  out->append(name.data(), name.size());
  if (!labels.empty() || !extra.empty()) {
    out->push_back('{');
    out->append(labels.data(), labels.size());
    if (!labels.empty() && !extra.empty()) out->push_back(',');
    out->append(extra.data(), extra.size());
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(value.data(), value.size());
  out->push_back('\n');
}

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The fields of /proc/self/stat after the command name, so that [0] is
// field 3 (state) of proc(5); empty if unreadable.
std::vector<std::string> ProcSelfStatFields() {
  const std::string stat = ReadSmallFile("/proc/self/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  return absl::StrSplit(absl::string_view(stat).substr(paren + 1), ' ',
                        absl::SkipWhitespace());
}

// Field `n` (1-based, as in proc(5)) of /proc/self/stat, or NaN.
double ProcSelfStatField(int n) {
  const std::vector<std::string> fields = ProcSelfStatFields();
  double v;
  if (n < 3 || static_cast<size_t>(n - 3) >= fields.size() ||
      !absl::SimpleAtod(fields[n - 3], &v)) {
    return kNaN;
  }
  return v;
}

double ResidentBytes() {
  // statm: size resident shared text lib data dt, in pages.
  const std::vector<std::string> fields = absl::StrSplit(
      ReadSmallFile("/proc/self/statm"), ' ', absl::SkipWhitespace());
  double pages;
  if (fields.size() < 2 || !absl::SimpleAtod(fields[1], &pages)) return kNaN;
  return pages * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double StartTimeSeconds() {
  double boot_time = kNaN;
  for (absl::string_view line :
       absl::StrSplit(ReadSmallFile("/proc/stat"), '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      if (!absl::SimpleAtod(line, &boot_time)) boot_time = kNaN;
      break;
    }
  }
  const double ticks = ProcSelfStatField(22);  // starttime
  return boot_time + ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double CpuSeconds() {
  const std::vector<std::string> fields = ProcSelfStatFields();
  double user, system;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[14 - 3], &user) ||
      !absl::SimpleAtod(fields[15 - 3], &system)) {
    return kNaN;
  }
  return (user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return kNaN;
  int n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // Not the descriptor of the listing itself.
}

}  // namespace

// --- Gauge, Histogram ---

void Gauge::Add(double delta) {
  double old = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(old, old + delta,
                                       std::memory_order_relaxed)) {
  }
}

const std::array<absl::string_view, Histogram::kBounds>
    Histogram::kBoundLabels = {"0.00001", "0.000025", "0.00005", "0.0001",
                               "0.00025", "0.0005",   "0.001",   "0.0025",
                               "0.005",   "0.01",     "0.025",   "0.05",
                               "0.1",     "0.25",     "0.5",     "1",
                               "2.5",     "5",        "10"};

void Histogram::ObserveNanos(int64_t nanos) {
  if (nanos < 0) nanos = 0;
  int i = 0;
  while (i < kBounds && nanos > kBoundNanos[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(nanos), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  for (int i = 0; i <= kBounds; ++i) {
    s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count += s.buckets[i];
  }
  s.sum_seconds =
      static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

// --- Registry ---

struct Registry::Series {
  std::string labels;  // Rendered, without braces.
  bool hide_while_zero = false;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> read;
};

struct Registry::Family {
  std::string name;
  std::string help;
  Type type;
  std::vector<std::unique_ptr<Series>> series;
  std::set<std::string> label_sets;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Series& Registry::AddSeries(absl::string_view name,
                                      absl::string_view help, Type type,
                                      Labels labels) {
  if (!IsValidName(name)) Fail("invalid metric name", name);
  for (const auto& [label, value] : labels) {
    if (!IsValidName(label) || label.find(':') != std::string::npos ||
        absl::StartsWith(label, "__") ||
        (type == Type::kHistogram && label == "le")) {
      Fail("invalid label name", absl::StrCat(name, " ", label));
    }
  }
  Family* family = nullptr;
  for (const auto& f : families_) {
    if (f->name == name) family = f.get();
  }
  if (family == nullptr) {
    families_.push_back(std::make_unique<Family>());
    family = families_.back().get();
    family->name = std::string(name);
    family->help = std::string(help);
    family->type = type;
  } else if (family->type != type) {
    Fail("metric registered with two types", name);
  }
  auto series = std::make_unique<Series>();
  series->labels = LabelText(labels);
  if (!family->label_sets.insert(series->labels).second) {
    Fail("duplicate label set", absl::StrCat(name, "{", series->labels, "}"));
  }
  family->series.push_back(std::move(series));
  return *family->series.back();
}

Counter* Registry::AddCounter(absl::string_view name, absl::string_view help,
                              Labels labels, bool hide_while_zero) {
  absl::MutexLock lock(&mu_);
  Series& s = AddSeries(name, help, Type::kCounter, std::move(labels));
  s.hide_while_zero = hide_while_zero;
  s.counter = std::make_unique<Counter>();
  return s.counter.get();
}

Gauge* Registry::AddGauge(absl::string_view name, absl::string_view help,
                          Labels labels) {
  absl::MutexLock lock(&mu_);
  Series& s = AddSeries(name, help, Type::kGauge, std::move(labels));
  s.gauge = std::make_unique<Gauge>();
  return s.gauge.get();
}

Histogram* Registry::AddHistogram(absl::string_view name,
                                  absl::string_view help, Labels labels) {
  absl::MutexLock lock(&mu_);
  Series& s = AddSeries(name, help, Type::kHistogram, std::move(labels));
  s.histogram = std::make_unique<Histogram>();
  return s.histogram.get();
}

void Registry::AddCallbackGauge(absl::string_view name, absl::string_view help,
                                Labels labels, std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  AddSeries(name, help, Type::kGauge, std::move(labels)).read = std::move(read);
}

void Registry::AddCallbackCounter(absl::string_view name,
                                  absl::string_view help, Labels labels,
                                  std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  AddSeries(name, help, Type::kCounter, std::move(labels)).read =
      std::move(read);
}

std::string Registry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  out.reserve(16 * 1024);
  for (const auto& family : families_) {
    const char* type = family->type == Type::kCounter ? "counter"
                       : family->type == Type::kGauge ? "gauge"
                                                      : "histogram";
    absl::StrAppend(&out, "# HELP ", family->name, " ",
                    EscapeHelp(family->help), "\n# TYPE ", family->name, " ",
                    type, "\n");
    const std::string bucket_name = absl::StrCat(family->name, "_bucket");
    const std::string sum_name = absl::StrCat(family->name, "_sum");
    const std::string count_name = absl::StrCat(family->name, "_count");
    for (const auto& s : family->series) {
      if (s->histogram != nullptr) {
        const Histogram::Snapshot snap = s->histogram->Read();
        uint64_t cumulative = 0;
        for (int i = 0; i <= Histogram::kBounds; ++i) {
          cumulative += snap.buckets[i];
          const std::string le = absl::StrCat(
              "le=\"",
              i < Histogram::kBounds ? Histogram::kBoundLabels[i] : "+Inf",
              "\"");
          AppendSample(&out, bucket_name, s->labels, le,
                       absl::StrCat(cumulative));
        }
        AppendSample(&out, sum_name, s->labels, "",
                     FormatValue(snap.sum_seconds));
        AppendSample(&out, count_name, s->labels, "", absl::StrCat(snap.count));
        continue;
      }
      std::string value;
      if (s->counter != nullptr) {
        const uint64_t v = s->counter->value();
        if (v == 0 && s->hide_while_zero) continue;
        value = absl::StrCat(v);
      } else if (s->gauge != nullptr) {
        value = FormatValue(s->gauge->value());
      } else {
        const double v = s->read();
        if (std::isnan(v)) continue;
        value = FormatValue(v);
      }
      AppendSample(&out, family->name, s->labels, "", value);
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) <= 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void RegisterProcessMetrics(Registry* registry) {
  registry->AddCallbackGauge("process_resident_memory_bytes",
                             "Resident memory size in bytes.", {},
                             ResidentBytes);
  registry->AddCallbackGauge("process_virtual_memory_bytes",
                             "Virtual memory size in bytes.", {},
                             [] { return ProcSelfStatField(23); });
  registry->AddCallbackGauge(
      "process_start_time_seconds",
      "Start time of the process since the Unix epoch in seconds.", {},
      StartTimeSeconds);
  registry->AddCallbackCounter("process_cpu_seconds_total",
                               "Total user and system CPU time spent in "
                               "seconds.",
                               {}, CpuSeconds);
  registry->AddCallbackGauge("process_open_fds",
                             "Number of open file descriptors.", {}, OpenFds);
}

}  // namespace tokenauth::metrics
