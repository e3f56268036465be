// FakeClock: a Clock (core/clock.h) for tests that moves only when told to.
// Header-only. Thread-safe: Now, SetNow and Advance may race.
#ifndef TOKENAUTH_TESTS_FAKE_CLOCK_H_
#define TOKENAUTH_TESTS_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"

namespace tokenauth {

class FakeClock : public Clock {
 public:
  // Starts at a fixed, whole-second instant (2023-11-14T22:13:20Z) so that
  // times survive the store's microsecond precision unchanged.
  FakeClock() : FakeClock(absl::FromUnixSeconds(1700000000)) {}
  explicit FakeClock(absl::Time start) : now_(start) {}

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void SetNow(absl::Time now) {
    absl::MutexLock lock(&mu_);
    now_ = now;
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tokenauth

#endif  // TOKENAUTH_TESTS_FAKE_CLOCK_H_
