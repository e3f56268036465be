// TokenPolicy: the operator-set rules for Personal Access Tokens, and the
// computed state of a token under them. Header-only values; thread-safe.
#ifndef TOKENAUTH_CORE_POLICY_H_
#define TOKENAUTH_CORE_POLICY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/store.h"
#include "core/types.h"

namespace tokenauth {

struct TokenPolicy {
  // ACCESS_TOKEN_STALE_PERIOD: unused this long, a token stops working.
  absl::Duration stale_period = absl::Hours(24 * 365);
  // MAX_ACCESS_TOKENS_PER_USER: usable tokens per user; 0 = no limit.
  int max_tokens_per_user = 50;
  // TOKENAUTH_TOKEN_SCOPES: allowed scopes; empty = any well-formed scope.
  std::vector<std::string> scope_catalogue;
  // ACCESS_TOKEN_DEFAULT_LIFETIME: applied when a create gives none.
  std::optional<absl::Duration> default_lifetime;
  // ACCESS_TOKEN_MAX_LIFETIME: expire_time at most this far from now.
  std::optional<absl::Duration> max_lifetime;
  // ACCESS_TOKEN_REQUIRE_EXPIRATION: every token must expire.
  bool require_expiration = false;
  // ACCESS_TOKEN_LAST_USE_UPDATE_MIN_INTERVAL: last use written at most
  // this often per token.
  absl::Duration last_use_interval = absl::Minutes(10);
  // ACCESS_TOKEN_UNUSABLE_TOKEN_TTL: the janitor deletes tokens unusable for
  // longer than this.
  absl::Duration unusable_ttl = absl::Hours(24 * 90);
  // Distinct peer addresses kept per token.
  int max_last_used_peers = 5;
};

// How long a request_id is remembered: a retry within this returns the first
// request's result; the janitor forgets keys older than this.
inline constexpr absl::Duration kIdempotencyWindow = absl::Hours(24);

struct SessionPolicy {
  // SESSION_IDLE_TIMEOUT: unused this long, a session ends.
  absl::Duration idle_timeout = absl::Hours(2);
  // SESSION_MAX_AGE: a session ends this long after Login, used or not.
  absl::Duration max_age = absl::Hours(24 * 14);
  // last_seen_time is written at most this often per session.
  absl::Duration touch_interval = absl::Minutes(1);
};

// Everything the Authenticator enforces.
struct AuthPolicy {
  TokenPolicy tokens;
  SessionPolicy sessions;
  // LOGIN_MAX_FAILED_ATTEMPTS, LOGIN_LOCKOUT_PERIOD.
  LockoutRule lockout;
};

inline SessionLiveAt SessionLiveAtTime(const SessionPolicy& policy,
                                       absl::Time now) {
  return SessionLiveAt{now, now - policy.idle_timeout};
}

inline UsableAt UsableAtTime(const TokenPolicy& policy, absl::Time now) {
  return UsableAt{now, now - policy.stale_period};
}

// Revoked wins over expired, expired over stale.
inline TokenState StateOf(const TokenRecord& t, const TokenPolicy& policy,
                          absl::Time now) {
  if (t.revoke_time.has_value()) return TokenState::kRevoked;
  if (t.expire_time.has_value() && *t.expire_time <= now) {
    return TokenState::kExpired;
  }
  absl::Time last = t.last_used_time.value_or(t.create_time);
  if (last < now - policy.stale_period) return TokenState::kStale;
  return TokenState::kActive;
}

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_POLICY_H_
