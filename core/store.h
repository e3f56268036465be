// Store: everything the core rules need from persistent storage. The only
// implementation that ships is storage/mysql_store.h; the core depends on
// this interface alone. Implementations must be thread-safe.
//
// Error contract (absl::Status codes):
//   NOT_FOUND       the row does not exist (or, where stated, is revoked)
//   ALREADY_EXISTS  a unique key (username, token id) is taken
//   RESOURCE_EXHAUSTED  the per-user usable-token limit is reached
//   UNAVAILABLE     the database cannot be reached; retrying may help
//   ABORTED         a transaction conflict (deadlock); retry the operation
//   INTERNAL        anything else (a bug or a schema mismatch)
#ifndef TOKENAUTH_CORE_STORE_H_
#define TOKENAUTH_CORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/types.h"

namespace tokenauth {

// Which tokens count as usable at a moment: not revoked, not expired at
// `now`, and used (or, if never used, created) at or after `stale_before`.
struct UsableAt {
  absl::Time now;
  absl::Time stale_before;
};

// Which sessions are live at a moment: not ended, expire_time after `now`,
// and last seen at or after `idle_before`.
struct SessionLiveAt {
  absl::Time now;
  absl::Time idle_before;
};

// The failed-login rule: at most `max_failures` failed password checks per
// user in a window of `period` that starts at the first failure.
struct LockoutRule {
  int max_failures = 10;
  absl::Duration period = absl::Minutes(15);
};

struct NewUser {
  std::string username;
  std::string password_hash;
  bool admin = false;
};

struct TokenListQuery {
  int64_t user_id = 0;
  int limit = 50;                     // Rows to return, >= 1.
  std::optional<int64_t> before_row;  // Only rows with row_id < this.
  // Only tokens in this state at `at` (computed as core/policy.h StateOf
  // does: revoked, else expired, else stale, else active). Unset: any state.
  std::optional<TokenState> state;
  UsableAt at;  // The moment states are computed for.
  // Only tokens whose name contains this, byte for byte (no wildcards).
  std::string name_contains;
  // Only tokens with an expire_time at or before this.
  std::optional<absl::Time> expire_before;
};

// An idempotent request: the same (user, method, request_id) within the
// window returns the first result instead of acting again.
struct IdempotencyKey {
  std::string method;       // "CreateToken" or "RotateToken".
  std::string request_id;   // Client-chosen, 1..64 of [A-Za-z0-9._-].
  std::string fingerprint;  // Hex SHA-256 of the request's parameters.
  // Keys recorded before this are forgotten (treated as absent).
  absl::Time forget_before;
};

struct InsertTokenResult {
  TokenRecord token;
  bool replayed = false;  // True: an earlier request with the key made it.
};

struct RotateTokenResult {
  TokenRecord old_token;  // As stored after (revoked, rotated_to set).
  TokenRecord successor;
  bool replayed = false;
};

struct TokenUse {
  std::string public_id;
  absl::Time time;
  std::string peer;
};

// What the janitor deletes: tokens revoked, expired, or unused since before
// the cutoffs.
struct JanitorCutoffs {
  absl::Time revoked_before;
  absl::Time expired_before;
  absl::Time unused_before;  // COALESCE(last_used_time, create_time) < this.
};

struct AuditQuery {
  std::optional<int64_t> user_id;    // Events whose actor or subject is this.
  std::optional<std::string> type;   // Exact event type.
  std::optional<int64_t> before_id;  // Only ids below this.
  int limit = 50;                    // >= 1.
};

struct TokenUpdate {
  std::optional<std::string> name;
  // Outer optional: whether to change it; inner: the new value (nullopt
  // removes the expiration).
  std::optional<std::optional<absl::Time>> expire_time;
  std::optional<Permissions> permissions;
};

class Store {
 public:
  virtual ~Store() = default;

  // Cheap round trip to the database, for health checks.
  virtual absl::Status Ping() = 0;

  // --- Users ---
  // ALREADY_EXISTS if the username is taken.
  virtual absl::StatusOr<User> CreateUser(const NewUser& user,
                                          absl::Time now) = 0;
  // Creates the user unless one with that username exists. Returns the user
  // and whether it was created. Safe when several servers race.
  virtual absl::StatusOr<std::pair<User, bool>> CreateUserIfAbsent(
      const NewUser& user, absl::Time now) = 0;
  virtual absl::StatusOr<User> GetUserById(int64_t id) = 0;
  virtual absl::StatusOr<User> GetUserByName(absl::string_view username) = 0;
  // NOT_FOUND if no such user.
  virtual absl::Status SetUserDisabled(int64_t id, bool disabled,
                                       absl::Time now) = 0;
  virtual absl::Status SetPasswordHash(int64_t id, absl::string_view hash,
                                       absl::Time now) = 0;

  // --- Failed-login lockout ---
  // Atomically reserves one password check for the user under `rule`,
  // counting it as a failure in advance: returns true and counts it when the
  // user has fewer than rule.max_failures failures in the current window
  // (a window older than rule.period is restarted at `now`); returns false,
  // counting nothing, while the user is locked. So however many checks run
  // in parallel, at most max_failures are evaluated per window.
  // NOT_FOUND if no such user.
  virtual absl::StatusOr<bool> ReservePasswordCheck(int64_t user_id,
                                                    const LockoutRule& rule,
                                                    absl::Time now) = 0;
  // After a successful check: forget the user's failures.
  virtual absl::Status ClearPasswordFailures(int64_t user_id) = 0;

  // --- Personal Access Tokens ---
  // Inserts `token` (row_id is assigned and returned; an empty family_id
  // becomes the token's own public_id). When max_usable > 0, fails with
  // RESOURCE_EXHAUSTED if the owner already has max_usable usable tokens at
  // `usable`; the count and the insert are atomic with respect to other
  // inserts for the same user. NOT_FOUND if the owner does not exist.
  //
  // With `key` (method "CreateToken"): if the owner recorded the same
  // method and request_id at or after key->forget_before, returns that
  // request's token with replayed = true and inserts nothing, or
  // ALREADY_EXISTS if the fingerprint differs; otherwise records the key
  // with the new token, atomically with the insert.
  virtual absl::StatusOr<InsertTokenResult> InsertToken(
      const TokenRecord& token, int max_usable, const UsableAt& usable,
      const IdempotencyKey* key) = 0;
  // Any stored token, usable or not. NOT_FOUND if absent.
  virtual absl::StatusOr<TokenRecord> GetToken(absl::string_view public_id) = 0;
  // A token and its owner, for the Authenticator's lookup. NOT_FOUND if
  // either is absent. This default makes two calls; a store may answer in
  // one round trip.
  virtual absl::StatusOr<std::pair<TokenRecord, User>> GetTokenAndOwner(
      absl::string_view public_id) {
    absl::StatusOr<TokenRecord> token = GetToken(public_id);
    if (!token.ok()) return token.status();
    absl::StatusOr<User> user = GetUserById(token->user_id);
    if (!user.ok()) return user.status();
    return std::make_pair(*std::move(token), *std::move(user));
  }
  // The tokens among `public_ids` that exist, each with its owner, in no
  // particular order; an absent one (or one whose owner is absent) is left
  // out. For the batched reads (core/token_reader.h, the cache's background
  // refreshes): a store may answer many in one round trip. This default asks
  // GetTokenAndOwner for each.
  virtual absl::StatusOr<std::vector<std::pair<TokenRecord, User>>>
  GetTokensAndOwners(absl::Span<const std::string> public_ids) {
    std::vector<std::pair<TokenRecord, User>> found;
    for (const std::string& id : public_ids) {
      absl::StatusOr<std::pair<TokenRecord, User>> one = GetTokenAndOwner(id);
      if (absl::IsNotFound(one.status())) continue;
      if (!one.ok()) return one.status();
      found.push_back(*std::move(one));
    }
    return found;
  }
  // Newest first (row_id descending).
  virtual absl::StatusOr<std::vector<TokenRecord>> ListTokens(
      const TokenListQuery& query) = 0;
  // Applies the set fields of `update` to a token that is not revoked, and
  // returns it as stored afterwards. NOT_FOUND if absent or revoked.
  virtual absl::StatusOr<TokenRecord> UpdateToken(absl::string_view public_id,
                                                  const TokenUpdate& update,
                                                  absl::Time now) = 0;
  // Sets revoke_time if it is not set. NOT_FOUND if absent or already revoked.
  virtual absl::StatusOr<TokenRecord> RevokeToken(absl::string_view public_id,
                                                  absl::Time now) = 0;

  // In one transaction: revokes `old_public_id` (revoke_time = now,
  // rotated_to = successor.public_id) and inserts `successor` into the old
  // token's family (its family_id is taken from the old token). NOT_FOUND if
  // the old token is absent or belongs to another user than
  // successor.user_id, or was revoked without rotation; FAILED_PRECONDITION
  // if it was already rotated out (the caller decides about reuse). With
  // `key` (method "RotateToken"): replay or ALREADY_EXISTS as InsertToken.
  virtual absl::StatusOr<RotateTokenResult> RotateToken(
      absl::string_view old_public_id, const TokenRecord& successor,
      absl::Time now, const IdempotencyKey* key) = 0;
  // Revokes every token of the family that is not revoked yet; returns how
  // many it revoked.
  virtual absl::StatusOr<int> RevokeTokenFamily(absl::string_view family_id,
                                                absl::Time now) = 0;
  // For each use: moves last_used_time forward to use.time and puts
  // use.peer first in last_used_peers (distinct, at most `max_peers`), only
  // if the token is not revoked (at all) and not expired at use.time.
  // Absent tokens are skipped.
  virtual absl::Status RecordTokenUses(const std::vector<TokenUse>& uses,
                                       int max_peers) = 0;
  // Deletes at most `batch_size` tokens matching any cutoff and, in the same
  // transaction, appends one "token.janitor_delete" audit event per token
  // (time `now`). Rows locked by a concurrent janitor are skipped, so
  // replicas can run it at once. Returns the deleted tokens.
  virtual absl::StatusOr<std::vector<TokenRecord>> DeleteUnusableTokens(
      const JanitorCutoffs& cutoffs, int batch_size, absl::Time now) = 0;
  // Forgets idempotency keys recorded before `before`; returns how many.
  virtual absl::StatusOr<int> DeleteIdempotencyKeys(absl::Time before,
                                                    int batch_size) = 0;

  // --- Audit log ---
  virtual absl::Status AppendAuditEvent(const AuditEvent& event) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      const AuditQuery& query) = 0;

  // --- Sessions ---
  // Inserts a session (row_id is assigned). ALREADY_EXISTS if the handle or
  // the secret hash is taken; NOT_FOUND if the user does not exist.
  virtual absl::StatusOr<SessionRecord> InsertSession(
      const SessionRecord& session) = 0;
  // Any stored session, live or not, by the hash of its session ID.
  virtual absl::StatusOr<SessionRecord> GetSessionBySecretHash(
      absl::string_view secret_hash) = 0;
  // Any stored session, live or not, by its handle.
  virtual absl::StatusOr<SessionRecord> GetSession(
      absl::string_view handle) = 0;
  // Moves last_seen_time forward to `seen` (never backward). NOT_FOUND if
  // absent.
  virtual absl::Status TouchSession(absl::string_view handle,
                                    absl::Time seen) = 0;
  // Sets end_time if unset; returns the session after. NOT_FOUND if absent
  // or already ended.
  virtual absl::StatusOr<SessionRecord> EndSession(absl::string_view handle,
                                                   absl::Time now) = 0;
  // Ends every session of the user that has not ended; returns how many.
  virtual absl::StatusOr<int> EndUserSessions(int64_t user_id,
                                              absl::Time now) = 0;
  // The user's live sessions at `live`, newest first, at most `limit`.
  virtual absl::StatusOr<std::vector<SessionRecord>> ListLiveSessions(
      int64_t user_id, const SessionLiveAt& live, int limit) = 0;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_STORE_H_
