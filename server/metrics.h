// A small metrics registry rendered in the Prometheus text exposition format
// 0.0.4: counters, gauges and latency histograms with fixed label sets, and
// callback gauges/counters read at scrape time.
//
// Every series is created at start-up (Add*), when the label values are
// known (the RPC methods come from the registered services). On the request
// path a series is a pointer to a few atomics: Counter::Increment and
// Histogram::Observe take no lock and allocate nothing.
//
// Ownership: the Registry owns every metric it hands out; the pointers stay
// valid as long as the Registry. Callbacks are owned by the registry and are
// called from Render(), on the scraping thread, so what they read must
// outlive the registry or at least every Render().
//
// Thread-safety: everything is thread-safe. Add* and Render() serialise on
// one mutex (start-up and scrapes only); Counter, Gauge and Histogram are
// lock-free.
#ifndef TOKENAUTH_SERVER_METRICS_H_
#define TOKENAUTH_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tokenauth::metrics {

// Label name/value pairs of one series, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count.
class Counter {
 public:
  void Increment(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A latency histogram with fixed buckets from 10 µs to 10 s (1-2.5-5 steps)
// plus +Inf. Observe() is two relaxed atomic adds and a search of 19 bounds.
class Histogram {
 public:
  static constexpr int kBounds = 19;
  // Upper bounds, in nanoseconds, and as rendered in the `le` label.
  static constexpr std::array<int64_t, kBounds> kBoundNanos = {
      10'000,        25'000,        50'000,        100'000,       250'000,
      500'000,       1'000'000,     2'500'000,     5'000'000,     10'000'000,
      25'000'000,    50'000'000,    100'000'000,   250'000'000,   500'000'000,
      1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
  static const std::array<absl::string_view, kBounds> kBoundLabels;

  // Negative durations count as zero.
  void Observe(absl::Duration d) { ObserveNanos(absl::ToInt64Nanoseconds(d)); }
  void ObserveNanos(int64_t nanos);

  struct Snapshot {
    // Per bucket (not cumulative); the last one is +Inf.
    std::array<uint64_t, kBounds + 1> buckets{};
    uint64_t count = 0;  // The sum of `buckets`.
    double sum_seconds = 0;
  };
  // Reads each bucket once, so that count always equals the +Inf bucket.
  Snapshot Read() const;

 private:
  std::array<std::atomic<uint64_t>, kBounds + 1> buckets_{};
  std::atomic<uint64_t> sum_nanos_{0};
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* adds one series to the family `name` (creating the family,
  // with `help`, on first use). Every series of a family must have the same
  // type; a name, label name or duplicate label set that breaks the format
  // is a programming error and aborts. `name` and label names match
  // [a-zA-Z_:][a-zA-Z0-9_:]* (no "__" prefix for labels; "le" is reserved for
  // histograms); label values are escaped when rendered.

  // `hide_while_zero`: the series is left out of Render() until it is
  // incremented (for label sets that are rare, e.g. one per status code).
  Counter* AddCounter(absl::string_view name, absl::string_view help,
                      Labels labels = {}, bool hide_while_zero = false);
  Gauge* AddGauge(absl::string_view name, absl::string_view help,
                  Labels labels = {});
  Histogram* AddHistogram(absl::string_view name, absl::string_view help,
                          Labels labels = {});
  // Read at every Render(). A callback returning NaN leaves its sample out
  // (e.g. when the value cannot be read).
  void AddCallbackGauge(absl::string_view name, absl::string_view help,
                        Labels labels, std::function<double()> read);
  void AddCallbackCounter(absl::string_view name, absl::string_view help,
                          Labels labels, std::function<double()> read);

  // The exposition: for each family in the order of creation, "# HELP",
  // "# TYPE" and its samples in the order they were added.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series;
  struct Family;

  Series& AddSeries(absl::string_view name, absl::string_view help, Type type,
                    Labels labels) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
};

// Formats a sample value the way Prometheus parses it: integers (up to 2^53)
// without a fraction, NaN, +Inf, -Inf, otherwise the shortest round-trip
// decimal.
std::string FormatValue(double v);

// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_cpu_seconds_total and process_open_fds,
// read from /proc at every scrape (Linux).
void RegisterProcessMetrics(Registry* registry);

}  // namespace tokenauth::metrics

#endif  // TOKENAUTH_SERVER_METRICS_H_
