// Tells ThreadSanitizer about absl::Mutex and absl::CondVar, for
// tools/test-sanitizers thread, which builds this file into
// build-tsan/libtsan_absl_annotations.so and LD_PRELOADs it into the tests
// (and the servers they start).
//
// Debian's Abseil is not built with TSan, so its Mutex (a futex and atomics,
// not pthreads) is invisible to TSan: every member guarded by an absl::Mutex
// would be reported as a data race. Preloaded, this library's definitions of
// the exported Mutex/CondVar functions win over libabsl_synchronization.so's
// (also for calls from gRPC, whose mutexes are absl::Mutex too). Each wraps
// the real function, found with dlsym(RTLD_NEXT), in the __tsan_mutex_*
// annotations Abseil itself makes when built with TSan. Accesses made inside
// a Mutex operation (e.g. Conditions that Unlock evaluates for waiters) are
// ignored, as in Abseil's own TSan build. The destructor is not annotated:
// freeing the memory already drops TSan's state for it, and a destroy
// annotation would report gRPC objects freed on another thread than the one
// that last locked them (handed over through gRPC's own, invisible, sync).
//
// The TSan hooks are weak: in a process without TSan (ctest, bash, cmake)
// they are null and the wrappers only forward. Stateless apart from the
// cached function pointers; thread-safe.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// From <sanitizer/tsan_interface.h>, declared weak here.
extern "C" {
void __tsan_mutex_pre_lock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_lock(void* addr, unsigned flags, int recursion)
    __attribute__((weak));
int __tsan_mutex_pre_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_unlock(void* addr, unsigned flags) __attribute__((weak));
}

namespace {

template <typename F>
F Real(const char* symbol) {
  void* p = dlsym(RTLD_NEXT, symbol);
  if (p == nullptr) {
    std::fprintf(stderr, "tsan absl annotations: %s not found\n", symbol);
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

constexpr unsigned kRead = 1 << 3;       // __tsan_mutex_read_lock
constexpr unsigned kTry = 1 << 4;        // __tsan_mutex_try_lock
constexpr unsigned kTryFailed = 1 << 5;  // __tsan_mutex_try_lock_failed

void PreLock(void* mu, unsigned flags) {
  if (__tsan_mutex_pre_lock != nullptr) __tsan_mutex_pre_lock(mu, flags);
}
void PostLock(void* mu, unsigned flags) {
  if (__tsan_mutex_post_lock != nullptr) __tsan_mutex_post_lock(mu, flags, 0);
}
void PreUnlock(void* mu, unsigned flags) {
  if (__tsan_mutex_pre_unlock != nullptr) __tsan_mutex_pre_unlock(mu, flags);
}
void PostUnlock(void* mu, unsigned flags) {
  if (__tsan_mutex_post_unlock != nullptr) __tsan_mutex_post_unlock(mu, flags);
}

}  // namespace

// Each wrapper: the real function's mangled name, its type as a free
// function taking `this` first (the Itanium C++ ABI), and the annotations.
// The real *WithTimeout functions call the *WithDeadline ones through the
// PLT, that is, through these wrappers; annotating both would nest. So the
// timeout wrappers only turn the timeout into a deadline.
#define TA_REAL(type, symbol) static const auto real = Real<type>(symbol)

namespace absl {
ABSL_NAMESPACE_BEGIN

using Deadline = absl::Time;

void Mutex::Lock() {
  TA_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  PreLock(this, 0);
  real(this);
  PostLock(this, 0);
}

void Mutex::ReaderLock() {
  TA_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  PreLock(this, kRead);
  real(this);
  PostLock(this, kRead);
}

bool Mutex::TryLock() {
  TA_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  PreLock(this, kTry);
  const bool locked = real(this);
  PostLock(this, kTry | (locked ? 0 : kTryFailed));
  return locked;
}

bool Mutex::ReaderTryLock() {
  TA_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  PreLock(this, kRead | kTry);
  const bool locked = real(this);
  PostLock(this, kRead | kTry | (locked ? 0 : kTryFailed));
  return locked;
}

void Mutex::Unlock() {
  TA_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  PreUnlock(this, 0);
  real(this);
  PostUnlock(this, 0);
}

void Mutex::ReaderUnlock() {
  TA_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  PreUnlock(this, kRead);
  real(this);
  PostUnlock(this, kRead);
}

void Mutex::LockWhen(const Condition& cond) {
  TA_REAL(void (*)(Mutex*, const Condition&),
          "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  PreLock(this, 0);
  real(this, cond);
  PostLock(this, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  TA_REAL(void (*)(Mutex*, const Condition&),
          "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  PreLock(this, kRead);
  real(this, cond);
  PostLock(this, kRead);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  return LockWhenWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond,
                                      absl::Duration timeout) {
  return ReaderLockWhenWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Deadline deadline) {
  TA_REAL(bool (*)(Mutex*, const Condition&, Deadline),
          "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_"
          "4TimeE");
  PreLock(this, 0);
  const bool r = real(this, cond, deadline);
  PostLock(this, 0);
  return r;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond,
                                       Deadline deadline) {
  TA_REAL(bool (*)(Mutex*, const Condition&, Deadline),
          "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_"
          "9ConditionENS0_4TimeE");
  PreLock(this, kRead);
  const bool r = real(this, cond, deadline);
  PostLock(this, kRead);
  return r;
}

// Await and CondVar::Wait release the mutex, wait, and take it again: a
// release before the real call and an acquire after it. (Abseil does not
// say whether a waiter holds it in read or write mode; write is assumed,
// which is what this code base uses.)
#define TA_RELEASE_AROUND(mu, call) \
  PreUnlock((mu), 0);               \
  call;                             \
  PostUnlock((mu), 0);              \
  PreLock((mu), 0);                 \
  PostLock((mu), 0)

void Mutex::Await(const Condition& cond) {
  TA_REAL(void (*)(Mutex*, const Condition&),
          "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  TA_RELEASE_AROUND(this, real(this, cond));
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  return AwaitWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Deadline deadline) {
  TA_REAL(bool (*)(Mutex*, const Condition&, Deadline),
          "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_"
          "4TimeE");
  bool r;
  TA_RELEASE_AROUND(this, r = real(this, cond, deadline));
  return r;
}

void CondVar::Wait(Mutex* mu) {
  TA_REAL(void (*)(CondVar*, Mutex*),
          "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  TA_RELEASE_AROUND(mu, real(this, mu));
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  return WaitWithDeadline(mu, absl::Now() + timeout);
}

bool CondVar::WaitWithDeadline(Mutex* mu, Deadline deadline) {
  TA_REAL(bool (*)(CondVar*, Mutex*, Deadline),
          "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_"
          "4TimeE");
  bool r;
  TA_RELEASE_AROUND(mu, r = real(this, mu, deadline));
  return r;
}

ABSL_NAMESPACE_END
}  // namespace absl
