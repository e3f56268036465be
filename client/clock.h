// Clock: where the client library gets "now" and how it waits (between
// retries). Validator takes one through its options, so tests can replace
// real time and sleeping with a fake that only moves when told to.
//
// Clock::Real() is a process-wide instance that is never destroyed.
// Implementations must be thread-safe.
#ifndef TOKENAUTH_CLIENT_CLOCK_H_
#define TOKENAUTH_CLIENT_CLOCK_H_

#include "absl/time/time.h"

namespace tokenauth::client {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() = 0;
  // Blocks the calling thread for `d` (returns at once for d <= 0).
  virtual void SleepFor(absl::Duration d) = 0;

  // absl::Now() and absl::SleepFor(). Not owned by the caller.
  static Clock* Real();
};

}  // namespace tokenauth::client

#endif  // TOKENAUTH_CLIENT_CLOCK_H_
