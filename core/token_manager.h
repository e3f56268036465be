// TokenManager: the Personal Access Token lifecycle (create, read, list,
// update, revoke) with PRODUCT.md's rules: owners see and change only their
// own tokens, admins may read, list and revoke anyone's; a caller
// authenticated by a token may only read; revocation is irreversible; the
// value is returned once, by Create.
//
// Does not own its dependencies; they must outlive it. Thread-safe.
#ifndef TOKENAUTH_CORE_TOKEN_MANAGER_H_
#define TOKENAUTH_CORE_TOKEN_MANAGER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/audit_log.h"
#include "core/auth_cache.h"
#include "core/clock.h"
#include "core/policy.h"
#include "core/random.h"
#include "core/store.h"
#include "core/token_format.h"
#include "core/types.h"

namespace tokenauth {

class TokenManager {
 public:
  static constexpr int kDefaultPageSize = 50;
  static constexpr int kMaxPageSize = 1000;

  // `audit` may be null (no audit log). `cache` (may be null) is told of
  // every change that can make a cached token answer wrong (revoke, rotate,
  // edit), so this process never uses a stale one.
  TokenManager(Store* store, Clock* clock, Random* random,
               const TokenFormat* format, TokenPolicy policy,
               const AuditLog* audit = nullptr, AuthCache* cache = nullptr);

  // An expiration as a request gives it: at most one of the two.
  struct Expiration {
    std::optional<absl::Time> expire_time;
    std::optional<absl::Duration> ttl;
  };

  struct CreateParams {
    std::string name;
    // Neither: ACCESS_TOKEN_DEFAULT_LIFETIME if set, else no expiration.
    Expiration expiration;
    Permissions permissions;
    std::string request_id;  // Optional idempotency key.
  };
  struct Created {
    TokenRecord token;
    std::string value;  // Secret; shown to the caller once. Empty on replay.
    bool replayed = false;
  };
  absl::StatusOr<Created> Create(const AuthResult& caller,
                                 const CreateParams& params);

  absl::StatusOr<TokenRecord> Get(const AuthResult& caller,
                                  absl::string_view id);

  struct ListParams {
    int64_t user_id = 0;  // 0: the caller.
    int page_size = 0;    // 0: kDefaultPageSize.
    std::string page_token;
    bool show_unusable = false;
    // Only this state (wins over show_unusable).
    std::optional<TokenState> state;
    std::string name_contains;
    // Only usable tokens expiring within this from now.
    std::optional<absl::Duration> expiring_within;
  };
  struct Page {
    std::vector<TokenRecord> tokens;
    std::string next_page_token;  // Empty on the last page.
  };
  absl::StatusOr<Page> List(const AuthResult& caller, const ListParams& params);

  // `update` names the fields to change; at least one must be set.
  absl::StatusOr<TokenRecord> Update(const AuthResult& caller,
                                     absl::string_view id,
                                     const TokenUpdate& update);

  absl::StatusOr<TokenRecord> Revoke(const AuthResult& caller,
                                     absl::string_view id);

  struct Rotated {
    TokenRecord old_token;
    TokenRecord successor;
    std::string value;  // The successor's; empty on replay.
    bool replayed = false;
  };
  // Revokes `id` and issues its successor. Rotating a token that was already
  // rotated out revokes its whole family and answers NOT_FOUND.
  absl::StatusOr<Rotated> Rotate(const AuthResult& caller, absl::string_view id,
                                 const Expiration& expiration,
                                 absl::string_view request_id);

  TokenState StateOf(const TokenRecord& token);
  const TokenPolicy& policy() const { return policy_; }

 private:
  enum class Intent { kRead, kChange, kRevoke };
  // Loads a token the caller may act on, or NOT_FOUND.
  absl::StatusOr<TokenRecord> LoadFor(const AuthResult& caller,
                                      absl::string_view id, Intent intent);
  // The expire_time a create or rotation gets under the policy;
  // `fallback` is the lifetime used when the request gives none.
  absl::StatusOr<std::optional<absl::Time>> ResolveExpiration(
      const Expiration& expiration, std::optional<absl::Duration> fallback,
      absl::Time now) const;
  // Checks an expire_time (or none) against the policy.
  absl::Status CheckExpirationPolicy(absl::string_view field,
                                     const std::optional<absl::Time>& expire,
                                     absl::Time now) const;
  TokenRecord NewRecord(const AuthResult& caller, absl::Time now,
                        std::string* value);

  Store* const store_;
  Clock* const clock_;
  Random* const random_;
  const TokenFormat* const format_;
  const TokenPolicy policy_;
  // After a change to a user's tokens (whether or not the store reported
  // success: a timeout may hide a commit).
  void ForgetCachedAnswers(int64_t user_id);

  const AuditLog* const audit_;
  AuthCache* const cache_;
};

// 1..64 characters from [A-Za-z0-9._-]; INVALID_ARGUMENT otherwise.
absl::Status ValidateRequestId(absl::string_view request_id);

// PERMISSION_DENIED when the caller authenticated with a token: `what` needs
// a password (Basic) or a session.
absl::Status RequireNonTokenCaller(const AuthResult& caller,
                                   absl::string_view what);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_TOKEN_MANAGER_H_
