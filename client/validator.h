// Validator: asks tokenauth "who is this caller, and may they do this?" for a
// credential one of your callers presented (AuthService.Authenticate), the
// way a backend should ask it on every request:
//
//   - with a deadline (ValidatorOptions::timeout, or one per call) that
//     covers every attempt;
//   - retrying with exponential backoff and jitter on UNAVAILABLE only (the
//     one code that says "try again"), at most max_attempts times;
//   - refusing a malformed token (prefix, length, alphabet, CRC32 checksum;
//     see token_check.h) locally, without an RPC;
//   - optionally remembering positive answers for a short while (cache_ttl,
//     off by default), at most cache_max_entries of them, keyed by a keyed
//     hash of the credential and the request, never the credential itself.
//     An answer is never kept past the token's or the session's expiry, but a
//     token revoked while cached keeps working here for up to cache_ttl:
//     choose the staleness you can accept.
//
//   auto channel = grpc::CreateChannel("tokenauth:50051",
//                                      grpc::InsecureChannelCredentials());
//   tokenauth::client::Validator validator(channel);
//   absl::StatusOr<tokenauth::v1::AuthenticateResponse> who =
//       validator.AuthenticateToken(token, tokenauth::v1::OPERATION_WRITE);
//   if (!who.ok()) return who.status();  // UNAUTHENTICATED, PERMISSION_DENIED,
//                                        // UNAVAILABLE, DEADLINE_EXCEEDED...
//   who->principal().username();
//
// Errors are tokenauth's (its code and message, which never contain a
// secret), or the local refusals documented on each method.
//
// Ownership: the Validator shares the channel; ValidatorOptions::clock, if
// set, is not owned and must outlive it.
// Thread-safety: thread-safe; one Validator is meant to be shared by every
// thread of a process.
#ifndef TOKENAUTH_CLIENT_VALIDATOR_H_
#define TOKENAUTH_CLIENT_VALIDATOR_H_

#include <grpcpp/channel.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tokenauth/client/clock.h"
#include "tokenauth/client/token_check.h"
#include "tokenauth/v1/auth_service.grpc.pb.h"

namespace tokenauth::client {

namespace internal {
template <typename V>
class ExpiringMap;
}  // namespace internal

struct ValidatorOptions {
  // Deadline of one Authenticate call, all attempts and waits included.
  absl::Duration timeout = absl::Seconds(2);

  // Attempts per call (>= 1). Only UNAVAILABLE is retried.
  int max_attempts = 3;
  // The wait before retry n (n >= 1) is
  //   min(max_backoff, initial_backoff * backoff_multiplier^(n-1))
  // times a random factor in [1 - jitter, 1 + jitter]. A wait that would end
  // past the deadline is not started: the last error is returned instead.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
  double backoff_multiplier = 2.0;
  double jitter = 0.2;

  // The server's token prefix (its TOKENAUTH_TOKEN_PREFIX setting).
  std::string token_prefix = kDefaultTokenPrefix;

  // Positive cache: how long an OK answer may be reused. Zero: no cache.
  absl::Duration cache_ttl = absl::ZeroDuration();
  // At most this many cached answers (the oldest go first).
  size_t cache_max_entries = 10000;

  // Time and waiting; null means Clock::Real(). Not owned.
  Clock* clock = nullptr;
};

class Validator {
 public:
  explicit Validator(std::shared_ptr<grpc::ChannelInterface> channel,
                     ValidatorOptions options = ValidatorOptions());
  ~Validator();

  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  // Checks `request`'s credential for its operation and required scopes.
  // Local refusals (no RPC): INVALID_ARGUMENT when the request has no
  // credential; UNAUTHENTICATED for a malformed token. DEADLINE_EXCEEDED when
  // `deadline` passes first.
  absl::StatusOr<v1::AuthenticateResponse> Authenticate(
      const v1::AuthenticateRequest& request, absl::Time deadline) const;
  // As above, with a deadline of options().timeout from now.
  absl::StatusOr<v1::AuthenticateResponse> Authenticate(
      const v1::AuthenticateRequest& request) const;

  // Shorthand for a Personal Access Token.
  absl::StatusOr<v1::AuthenticateResponse> AuthenticateToken(
      absl::string_view token, v1::Operation operation,
      absl::Span<const std::string> required_scopes = {}) const;

  // The local check alone: CheckTokenFormat with options().token_prefix.
  absl::Status CheckTokenFormat(absl::string_view token) const;

  // Counters since construction, for metrics and tests.
  struct Stats {
    uint64_t calls = 0;             // Authenticate calls.
    uint64_t rpcs = 0;              // Attempts sent to tokenauth.
    uint64_t retries = 0;           // Attempts after an UNAVAILABLE.
    uint64_t cache_hits = 0;        // Calls answered from the cache.
    uint64_t local_rejections = 0;  // Calls refused without an RPC.
  };
  Stats stats() const;

  const ValidatorOptions& options() const { return options_; }

 private:
  // How long to wait before retry `retry` (1-based), jitter included.
  absl::Duration Backoff(int retry) const;

  const ValidatorOptions options_;
  Clock* const clock_;
  const std::unique_ptr<v1::AuthService::Stub> stub_;
  const std::unique_ptr<internal::ExpiringMap<v1::AuthenticateResponse>>
      cache_;  // Null when options_.cache_ttl is zero.

  mutable absl::Mutex random_mu_;
  mutable absl::BitGen random_ ABSL_GUARDED_BY(random_mu_);

  mutable std::atomic<uint64_t> calls_{0};
  mutable std::atomic<uint64_t> rpcs_{0};
  mutable std::atomic<uint64_t> retries_{0};
  mutable std::atomic<uint64_t> cache_hits_{0};
  mutable std::atomic<uint64_t> local_rejections_{0};
};

}  // namespace tokenauth::client

#endif  // TOKENAUTH_CLIENT_VALIDATOR_H_
