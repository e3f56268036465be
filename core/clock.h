// Clock: the only source of "now" for the core and the server. Inject a fake
// in tests; never call absl::Now() elsewhere. Implementations are
// thread-safe.
#ifndef TOKENAUTH_CORE_CLOCK_H_
#define TOKENAUTH_CORE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tokenauth {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_CLOCK_H_
