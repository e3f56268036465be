#include "tools/benchmark/load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tokenauth::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

struct Slot {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<Pending> pending;
  grpc::Status status;
  TimePoint start;  // When the call started (closed) or was due (open loop).
};

// What one driver thread measured.
struct ThreadStats {
  std::vector<int64_t> latencies_ns;  // Successful measured calls.
  int64_t window_calls = 0;           // Measured calls, failed ones too.
  int64_t errors = 0;
  int64_t skipped = 0;
  std::string first_error;
  TimePoint last_completion{};
};

// The window every thread shares.
struct Window {
  TimePoint begin;     // Start of the phase.
  TimePoint measured;  // End of the warm-up.
  TimePoint end;
};

std::chrono::system_clock::time_point ToSystem(TimePoint t) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             t - SteadyClock::now());
}

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

void StartSlot(Slot& slot, TimePoint start_time, uint64_t seq, int channel,
               grpc::CompletionQueue* cq, const Starter& start,
               absl::Duration timeout) {
  slot.context = std::make_unique<grpc::ClientContext>();
  slot.context->set_deadline(std::chrono::system_clock::now() +
                             ToChrono(timeout));
  slot.status = grpc::Status();
  slot.start = start_time;
  slot.pending =
      start(seq, channel, slot.context.get(), cq, &slot.status, &slot);
}

void CountError(const Slot& slot, ThreadStats& stats) {
  ++stats.errors;
  if (stats.first_error.empty()) {
    stats.first_error = absl::StrCat("code ", slot.status.error_code(), ": ",
                                     slot.status.error_message());
  }
}

void DrainQueue(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

int SlotsOf(int thread, int threads, int concurrency) {
  return concurrency / threads + (thread < concurrency % threads ? 1 : 0);
}

void ClosedLoopThread(int thread, const LoadOptions& options, int channels,
                      const Starter& start, const Window& window,
                      std::atomic<uint64_t>& seq, ThreadStats& stats) {
  grpc::CompletionQueue cq;
  std::vector<Slot> slots(
      SlotsOf(thread, options.threads, options.concurrency));
  int outstanding = 0;
  const uint64_t max_calls = options.max_calls > 0
                                 ? static_cast<uint64_t>(options.max_calls)
                                 : UINT64_MAX;
  for (size_t i = 0; i < slots.size(); ++i) {
    const uint64_t n = seq.fetch_add(1, std::memory_order_relaxed);
    if (n >= max_calls) break;
    StartSlot(slots[i], SteadyClock::now(), n, static_cast<int>(n % channels),
              &cq, start, options.call_timeout);
    ++outstanding;
  }
  while (outstanding > 0) {
    void* tag;
    bool ok;
    if (!cq.Next(&tag, &ok)) break;
    const TimePoint now = SteadyClock::now();
    Slot& slot = *static_cast<Slot*>(tag);
    --outstanding;
    stats.last_completion = now;
    const bool in_window = now >= window.measured && now <= window.end;
    if (in_window) ++stats.window_calls;
    if (!slot.status.ok()) {
      CountError(slot, stats);
    } else if (in_window) {
      stats.latencies_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.start)
              .count());
    }
    slot.pending.reset();
    if (now < window.end) {
      const uint64_t n = seq.fetch_add(1, std::memory_order_relaxed);
      if (n >= max_calls) continue;
      StartSlot(slot, now, n, static_cast<int>(n % channels), &cq, start,
                options.call_timeout);
      ++outstanding;
    }
  }
  DrainQueue(cq);
}

void OpenLoopThread(int thread, const LoadOptions& options, int channels,
                    const Starter& start, const Window& window,
                    std::atomic<uint64_t>& seq, ThreadStats& stats) {
  grpc::CompletionQueue cq;
  std::vector<Slot> slots(
      std::max(1, SlotsOf(thread, options.threads, options.concurrency)));
  std::vector<Slot*> free_slots;
  for (Slot& slot : slots) free_slots.push_back(&slot);
  const double per_thread = options.rate / options.threads;
  const auto interval = std::chrono::nanoseconds(
      static_cast<int64_t>(std::llround(1e9 / per_thread)));
  // Stagger the threads' schedules.
  TimePoint next = window.begin + interval * thread / options.threads;
  int outstanding = 0;
  while (true) {
    TimePoint now = SteadyClock::now();
    while (next < window.end && next <= now) {
      if (free_slots.empty()) {
        if (next >= window.measured) ++stats.skipped;
      } else {
        Slot* slot = free_slots.back();
        free_slots.pop_back();
        const uint64_t n = seq.fetch_add(1, std::memory_order_relaxed);
        StartSlot(*slot, next, n, static_cast<int>(n % channels), &cq, start,
                  options.call_timeout);
        ++outstanding;
      }
      next += interval;
    }
    if (next >= window.end && outstanding == 0) break;
    const TimePoint wake =
        next < window.end ? next : now + std::chrono::milliseconds(50);
    void* tag;
    bool ok;
    const grpc::CompletionQueue::NextStatus got =
        cq.AsyncNext(&tag, &ok, ToSystem(wake));
    if (got == grpc::CompletionQueue::SHUTDOWN) break;
    if (got != grpc::CompletionQueue::GOT_EVENT) continue;
    now = SteadyClock::now();
    Slot& slot = *static_cast<Slot*>(tag);
    --outstanding;
    const bool in_window =
        slot.start >= window.measured && slot.start < window.end;
    if (in_window) ++stats.window_calls;
    if (!slot.status.ok()) {
      CountError(slot, stats);
    } else if (in_window) {
      stats.latencies_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.start)
              .count());
    }
    slot.pending.reset();
    free_slots.push_back(&slot);
  }
  DrainQueue(cq);
}

using ThreadBody = void (*)(int, const LoadOptions&, int, const Starter&,
                            const Window&, std::atomic<uint64_t>&,
                            ThreadStats&);

LoadResult Run(ThreadBody body, const LoadOptions& options, int channels,
               const Starter& start) {
  Window window;
  window.begin = SteadyClock::now();
  window.measured = window.begin + ToChrono(options.warmup);
  window.end = window.measured + ToChrono(options.duration);
  std::atomic<uint64_t> seq{0};
  std::vector<ThreadStats> stats(options.threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < options.threads; ++t) {
    threads.emplace_back(body, t, std::cref(options), channels,
                         std::cref(start), std::cref(window), std::ref(seq),
                         std::ref(stats[t]));
  }
  for (std::thread& t : threads) t.join();

  LoadResult result;
  std::vector<int64_t> all;
  for (ThreadStats& s : stats) {
    result.calls += s.window_calls;
    result.errors += s.errors;
    result.skipped += s.skipped;
    if (result.first_error.empty()) result.first_error = s.first_error;
    all.insert(all.end(), s.latencies_ns.begin(), s.latencies_ns.end());
  }
  result.seconds = absl::ToDoubleSeconds(options.duration);
  if (options.max_calls > 0) {
    TimePoint last = window.measured;
    for (const ThreadStats& s : stats) last = std::max(last, s.last_completion);
    result.seconds = std::max(
        1e-9, std::chrono::duration<double>(last - window.measured).count());
  }
  result.rate = result.calls / result.seconds;
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    auto at = [&all](double q) {
      size_t i = static_cast<size_t>(std::ceil(q * all.size()));
      i = std::clamp<size_t>(i, 1, all.size()) - 1;
      return all[i] / 1e6;
    };
    result.p50_ms = at(0.50);
    result.p99_ms = at(0.99);
    result.max_ms = all.back() / 1e6;
  }
  return result;
}

}  // namespace

LoadResult RunClosedLoop(const LoadOptions& options, int channels,
                         const Starter& start) {
  return Run(&ClosedLoopThread, options, channels, start);
}

LoadResult RunOpenLoop(const LoadOptions& options, int channels,
                       const Starter& start) {
  return Run(&OpenLoopThread, options, channels, start);
}

}  // namespace tokenauth::bench
