// The deadline of the RPC the current thread is serving, so that the storage
// layer can bound its waits (for a pooled connection, say) by the caller's
// deadline without every core and Store method taking it as a parameter.
//
// The server sets it around each handler (server/call_deadline_callbacks.h):
// a synchronous gRPC handler runs start to finish on one thread, and the core
// calls the store on that same thread. Work handed to another thread (the
// last-use recorder, the janitor) is not done for the caller and runs without
// one. Header-only; each thread has its own value, so it is thread-safe.
#ifndef TOKENAUTH_CORE_CALL_DEADLINE_H_
#define TOKENAUTH_CORE_CALL_DEADLINE_H_

#include <algorithm>

#include "absl/time/time.h"

namespace tokenauth {
namespace call_deadline_internal {
inline thread_local absl::Time current = absl::InfiniteFuture();
}  // namespace call_deadline_internal

// The current thread's call deadline; absl::InfiniteFuture() when it serves
// no call, or a call without a deadline.
inline absl::Time CurrentCallDeadline() {
  return call_deadline_internal::current;
}

// Sets the current thread's call deadline; absl::InfiniteFuture() clears it.
inline void SetCurrentCallDeadline(absl::Time deadline) {
  call_deadline_internal::current = deadline;
}

// Tightens the current thread's call deadline to `deadline` (never extends
// it) for its lifetime, then restores the previous one. Not movable.
class ScopedCallDeadline {
 public:
  explicit ScopedCallDeadline(absl::Time deadline)
      : previous_(CurrentCallDeadline()) {
    SetCurrentCallDeadline(std::min(previous_, deadline));
  }
  ~ScopedCallDeadline() { SetCurrentCallDeadline(previous_); }

  ScopedCallDeadline(const ScopedCallDeadline&) = delete;
  ScopedCallDeadline& operator=(const ScopedCallDeadline&) = delete;

 private:
  const absl::Time previous_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_CALL_DEADLINE_H_
