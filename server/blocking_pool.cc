#include "server/blocking_pool.h"

#include <algorithm>
#include <utility>

namespace tokenauth {

BlockingPool::BlockingPool(int threads, size_t max_queued)
    : max_queued_(max_queued) {
  threads = std::max(1, threads);
  {
    // Idle from the start: a task queued before a thread first waits is
    // still taken by it.
    absl::MutexLock lock(&mu_);
    idle_ = static_cast<size_t>(threads);
  }
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

BlockingPool::~BlockingPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

bool BlockingPool::Run(absl::AnyInvocable<void() &&> task) {
  absl::MutexLock lock(&mu_);
  // The tasks already queued go to idle threads first; what is left waits.
  if (queue_.size() >= idle_ + max_queued_) return false;
  queue_.push_back(std::move(task));
  return true;
}

void BlockingPool::Work() {
  bool ran = false;
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      if (ran) ++idle_;
      mu_.Await(absl::Condition(this, &BlockingPool::HasWorkLocked));
      // Stopping: finish what is queued first (each task ends an RPC).
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      --idle_;
    }
    std::move(task)();
    ran = true;
  }
}

}  // namespace tokenauth
