// Authenticator: resolves a credential (a Personal Access Token, a username
// and password, or a session ID with its CSRF token) to a principal and
// checks that it allows an operation. It is the one path every caller goes
// through: AuthService.Authenticate and Login for backends, and the metadata
// of every management RPC.
//
// A malformed token or session ID is refused before any Store call. Password
// checks obey the failed-login lockout, counted atomically in the store.
//
// With an AuthCache, a credential that resolved recently is answered from
// memory (core/auth_cache.h states the bound on how old an answer can be);
// the operation, scope and CSRF checks still run on every call. A repeated
// correct Basic credential served from the cache costs no password hash and
// is not counted toward the lockout: it is not a guess.
// Does not own its dependencies; they must outlive it. Thread-safe.
#ifndef TOKENAUTH_CORE_AUTHENTICATOR_H_
#define TOKENAUTH_CORE_AUTHENTICATOR_H_

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/audit_log.h"
#include "core/auth_cache.h"
#include "core/clock.h"
#include "core/last_use.h"
#include "core/password_hasher.h"
#include "core/policy.h"
#include "core/store.h"
#include "core/token_format.h"
#include "core/token_reader.h"
#include "core/types.h"

namespace tokenauth {

struct TokenCredential {
  std::string value;
};
struct BasicCredential {
  std::string username;
  std::string password;
};
struct SessionCredential {
  std::string session_id;
  std::string csrf_token;  // May be empty; required for writes.
};
using Credential =
    std::variant<TokenCredential, BasicCredential, SessionCredential>;

// Session IDs and CSRF tokens: this many characters from [0-9A-Za-z]
// (~190 bits from the CSPRNG).
inline constexpr int kSessionSecretLength = 32;

// Whether an Authenticate may be answered from the AuthCache.
enum class CacheUse {
  kAllow,
  // Read the store (and refresh the cache): for Login, a password change,
  // callers that ask for a fresh check, and a miss AuthenticateFromMemory
  // already looked up.
  kSkip,
};

class Authenticator {
 public:
  // `uses` (may be null) learns of every successful token use; `audit` (may
  // be null) records failures, lockouts and detected token reuse; `cache`
  // (may be null: every call reads the store) remembers recent answers.
  Authenticator(Store* store, Clock* clock, const TokenFormat* format,
                const PasswordHasher* hasher, AuthPolicy policy,
                TokenUseSink* uses = nullptr, const AuditLog* audit = nullptr,
                AuthCache* cache = nullptr);
  // Stops the cache's refresh threads (waiting for a refresh in progress).
  ~Authenticator();

  // Resolves `credential` and checks it permits `operation` with every scope
  // in `required_scopes`. UNAUTHENTICATED: the credential does not resolve
  // (or the account is locked). PERMISSION_DENIED: it resolves but does not
  // permit this (read-only token, missing scope, missing or wrong CSRF token
  // for a write). UNAVAILABLE: the store is down. Messages never contain the
  // credential.
  // `peer` is where the credential came from (the caller's address); it is
  // recorded as the token's last-use peer and in the audit log.
  absl::StatusOr<AuthResult> Authenticate(
      const Credential& credential, Operation operation,
      absl::Span<const std::string> required_scopes,
      absl::string_view peer = "", CacheUse cache_use = CacheUse::kAllow) const;

  // Authenticate's answer when it needs neither the store nor a password
  // hash: a cache hit that permits the operation, or a token refused by its
  // format or checksum. Otherwise nullopt, and the caller runs Authenticate
  // with *then (off the thread that must not block): kSkip after a cache
  // miss, which was looked up and counted here and is not again there;
  // kAllow otherwise (a hit it refuses is looked up again there, to be
  // audited). Never blocks; same side effects as Authenticate for the
  // answers it gives.
  std::optional<absl::StatusOr<AuthResult>> AuthenticateFromMemory(
      const Credential& credential, Operation operation,
      absl::Span<const std::string> required_scopes, absl::string_view peer,
      CacheUse* then) const;

  // Drops every cached answer for `user_id`. Call after a change to the
  // user's credentials (password, disabled, sessions, tokens) was made.
  void ForgetUser(int64_t user_id) const;

  const AuthPolicy& policy() const { return policy_; }

  // Token reads in flight at once (see core/token_reader.h); callers beyond
  // that wait and are read together. Measured with tools/bench on 2 cores
  // (skip_cache Authenticate as a share of Health): 1 read 0.37-0.39x, 2
  // 0.28-0.35x, 4 0.25-0.28x; once IN lists were sized to the batch, 1 and
  // 2 both 0.31-0.41x. Two, so that one slow read leaves another free.
  static constexpr int kMaxTokenReads = 2;
  // A caller waiting this long for a read starts one anyway (the reads in
  // flight may be stuck); a batched read here takes well under 5 ms.
  static constexpr absl::Duration kTokenReadStall = absl::Milliseconds(20);

 private:
  // Records a successful call's peer and token use.
  void Accepted(AuthResult& result, absl::string_view peer) const;
  // The checks of `operation` and `scopes` on a resolved credential.
  absl::StatusOr<AuthResult> Permit(const Credential& credential,
                                    Operation operation,
                                    absl::Span<const std::string> scopes,
                                    AuthResult result) const;
  // The cache key of `credential` (a token value must be well-formed).
  AuthCache::Key KeyOf(const Credential& credential) const;
  // The cache's answer for `key`, asking for a refresh ahead when due.
  std::optional<AuthResult> CachedAnswer(const Credential& credential,
                                         const AuthCache::Key& key,
                                         absl::Time now) const;
  // The Check and Resolve functions set *subject to the user the credential
  // names once that is known, also when they fail (for the audit log).
  absl::StatusOr<AuthResult> Check(const Credential& credential,
                                   Operation operation,
                                   absl::Span<const std::string> scopes,
                                   CacheUse cache_use, int64_t* subject) const;
  // Resolve through the cache.
  absl::StatusOr<AuthResult> ResolveCached(const Credential& credential,
                                           CacheUse cache_use,
                                           int64_t* subject) const;
  // When a resolved credential stops working by itself (expiry, idleness).
  absl::Time ExpiryOf(const AuthResult& result) const;
  // A cache entry to re-read in the background, and what it was made from.
  struct RefreshItem {
    AuthCache::Key key;
    Credential credential;
  };
  // Re-reads tokens and sessions the cache asked to refresh (on a refresh
  // thread; the tokens in one store call) and stores each answer, or drops
  // the entry if it is now refused.
  void Refresh(std::vector<RefreshItem> batch) const;
  void StoreRefreshed(const AuthCache::Key& key, uint64_t ticket,
                      absl::Time read_start,
                      const absl::StatusOr<AuthResult>& result) const;

  class Refresher;
  // `detect_reuse` false: a rotated-out token is refused without revoking
  // its family (a refresh re-reads a value presented before the rotation).
  absl::StatusOr<AuthResult> Resolve(const TokenCredential& credential,
                                     int64_t* subject,
                                     bool detect_reuse = true) const;
  // The checks of a token after its read: `found` is what
  // Store::GetTokenAndOwner gave for the value's public id.
  absl::StatusOr<AuthResult> CheckToken(
      const TokenCredential& credential,
      absl::StatusOr<std::pair<TokenRecord, User>> found, int64_t* subject,
      bool detect_reuse) const;
  absl::StatusOr<AuthResult> Resolve(const BasicCredential& credential,
                                     int64_t* subject) const;
  absl::StatusOr<AuthResult> Resolve(const SessionCredential& credential,
                                     int64_t* subject) const;

  Store* const store_;
  Clock* const clock_;
  const TokenFormat* const format_;
  const PasswordHasher* const hasher_;
  const AuthPolicy policy_;
  TokenUseSink* const uses_;
  const AuditLog* const audit_;
  AuthCache* const cache_;
  // Token reads of misses and skip_cache calls, batched under load.
  const std::unique_ptr<TokenReader> reader_;
  // Last: destroyed first, so no refresh outlives what it uses.
  std::unique_ptr<Refresher> refresher_;
};

// True if `s` has the length and alphabet of a session ID or CSRF token.
bool IsWellFormedSessionSecret(absl::string_view s);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_AUTHENTICATOR_H_
