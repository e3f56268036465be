// BlockingPool: a fixed set of threads for the work a callback handler must
// not do on gRPC's own threads: anything that waits for the store or hashes
// a password. gRPC runs callback handlers on a few polling threads; a handler
// that blocked there would stall every other call on them.
//
// Tasks run in the order they were queued. The wait is bounded: Run refuses
// a task (returns false) when no thread is idle and `max_queued` tasks
// already wait for one, so an overload is answered at once instead of
// piling up (with `max_queued` 0, a task runs only if a thread is free). The
// destructor runs every task still queued, then joins the threads; destroy the
// pool after the grpc::Server whose calls it finishes. Thread-safe.
//
//   BlockingPool pool(/*threads=*/32, /*max_queued=*/10000);
//   if (!pool.Run([reactor] { reactor->Finish(Slow()); })) { ... }
#ifndef TOKENAUTH_SERVER_BLOCKING_POOL_H_
#define TOKENAUTH_SERVER_BLOCKING_POOL_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace tokenauth {

class BlockingPool {
 public:
  // `threads` >= 1.
  BlockingPool(int threads, size_t max_queued);
  ~BlockingPool();

  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues `task`; false (and `task` is dropped unrun) if it would have to
  // wait behind `max_queued` others.
  bool Run(absl::AnyInvocable<void() &&> task) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Work() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasWorkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || !queue_.empty();
  }

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;  // Threads waiting for a task.
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_BLOCKING_POOL_H_
