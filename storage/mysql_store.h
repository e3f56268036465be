// MysqlStore: the Store (core/store.h) over MySQL / MariaDB through MySQL
// Connector/C++ 1.1. This is the only SQL in the project.
//
// Ownership: a MysqlStore owns its connection pool; connections are opened on
// first need, at most MysqlOptions::pool_size of them. Thread-safety: all
// methods are thread-safe.
//
// Conventions:
//   - Every statement is a prepared statement with bound parameters.
//   - No Connector/C++ exception leaves this class; errors follow the Store
//     error contract (see storage/mysql_errors.h for the mapping). In
//     addition, a value that does not fit its column (too long, not valid
//     UTF-8, a scope containing a space) is INVALID_ARGUMENT; callers are
//     expected to validate lengths first.
//   - Times are stored as integer microseconds since the Unix epoch, so they
//     come back truncated to whole microseconds; the records returned by
//     writes are truncated the same way, so they equal what a read returns.
//   - A connection that fails at the connection level is discarded, so the
//     store recovers by itself once the database is back. Reads that fail
//     that way on a reused connection are retried once on a fresh one.
//   - Outages (see docs/RELIABILITY.md): a call waits for a pooled
//     connection at most MysqlOptions::acquire_timeout and never past its
//     RPC's deadline (core/call_deadline.h); a statement that gets no answer
//     for MysqlOptions::io_timeout is UNAVAILABLE. After a failed Ping, calls
//     fail at once with UNAVAILABLE (for at most fail_fast_for) instead of
//     waiting on a database that is known to be down; the first Ping that
//     succeeds ends that and drops every connection from before the outage.
#ifndef TOKENAUTH_STORAGE_MYSQL_STORE_H_
#define TOKENAUTH_STORAGE_MYSQL_STORE_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/store.h"
#include "core/types.h"
#include "storage/mysql_options.h"

namespace sql {
class Connection;
}  // namespace sql

namespace tokenauth {

class ConnectionPool;

class MysqlStore : public Store {
 public:
  // Checks `options` (INVALID_ARGUMENT if unusable) and makes the store. Does
  // not connect: the first call that needs the database does.
  static absl::StatusOr<std::unique_ptr<MysqlStore>> Open(
      const MysqlOptions& options);

  ~MysqlStore() override;

  MysqlStore(const MysqlStore&) = delete;
  MysqlStore& operator=(const MysqlStore&) = delete;

  // Brings the schema up to date (storage/migrations.h). Call once at start;
  // safe to call again and from several servers at once. Uses a connection
  // of its own, with I/O timeouts long enough for slow schema changes.
  absl::Status Migrate();

  // The connection pool's numbers, for metrics (a consistent snapshot).
  struct PoolStats {
    int size = 0;                   // MysqlOptions::pool_size.
    int in_use = 0;                 // Leased, or being opened for a caller.
    int idle = 0;                   // Open and waiting in the pool.
    uint64_t acquire_waits = 0;     // Calls that found the pool exhausted.
    uint64_t acquire_failures = 0;  // Calls that got no connection.
  };
  PoolStats pool_stats() const;

  // Store:
  // The health probe. Runs SELECT 1 on a connection of its own, outside the
  // pool (so a pool full of stuck calls cannot delay it), with connect and
  // I/O timeouts of MysqlOptions::ping_timeout; then, if that answered, on
  // one pooled connection (an idle one, or a new one if there is room; none
  // if all are in use), so that connections that died while idle are dropped
  // here rather than by a caller. A failure marks the database down for the
  // calls (see the class comment); success marks it up. Pings are
  // serialised.
  absl::Status Ping() override;
  absl::StatusOr<User> CreateUser(const NewUser& user, absl::Time now) override;
  absl::StatusOr<std::pair<User, bool>> CreateUserIfAbsent(
      const NewUser& user, absl::Time now) override;
  absl::StatusOr<User> GetUserById(int64_t id) override;
  absl::StatusOr<User> GetUserByName(absl::string_view username) override;
  absl::Status SetUserDisabled(int64_t id, bool disabled,
                               absl::Time now) override;
  absl::Status SetPasswordHash(int64_t id, absl::string_view hash,
                               absl::Time now) override;
  // Retries internally when the transaction hits a deadlock. A last-use
  // peer that is empty or holds a newline is INVALID_ARGUMENT, and so is a
  // key field that is empty, not ASCII, or longer than its column (method
  // 32, request_id 64, fingerprint 64). The key is recorded under
  // key->method as given. A replay whose token has been deleted since is
  // FAILED_PRECONDITION.
  absl::StatusOr<InsertTokenResult> InsertToken(
      const TokenRecord& token, int max_usable, const UsableAt& usable,
      const IdempotencyKey* key) override;
  // A public id with non-ASCII bytes is NOT_FOUND (ids are ASCII columns);
  // likewise for UpdateToken, RevokeToken and RotateToken.
  absl::StatusOr<TokenRecord> GetToken(absl::string_view public_id) override;
  // One query (a join).
  absl::StatusOr<std::pair<TokenRecord, User>> GetTokenAndOwner(
      absl::string_view public_id) override;
  // One query (a join with `IN`, kept prepared) per 64 distinct ids; an id
  // with non-ASCII bytes is absent.
  absl::StatusOr<std::vector<std::pair<TokenRecord, User>>> GetTokensAndOwners(
      absl::Span<const std::string> public_ids) override;
  // INVALID_ARGUMENT if query.limit < 1 or name_contains is not UTF-8.
  absl::StatusOr<std::vector<TokenRecord>> ListTokens(
      const TokenListQuery& query) override;
  // Always sets update_time to `now`, even if no field is set.
  absl::StatusOr<TokenRecord> UpdateToken(absl::string_view public_id,
                                          const TokenUpdate& update,
                                          absl::Time now) override;
  // Sets revoke_time and update_time to `now`.
  absl::StatusOr<TokenRecord> RevokeToken(absl::string_view public_id,
                                          absl::Time now) override;
  // Takes the owner's row lock first, as InsertToken does, so it serializes
  // with creates and other rotations of the user; no limit check (one token
  // out, one in). Sets the old token's update_time to `now` too. A replay
  // returns both tokens as stored now; NOT_FOUND (not FAILED_PRECONDITION,
  // which here means only "already rotated out") if either was deleted
  // since. Key and peer checks and deadlock retries as InsertToken.
  absl::StatusOr<RotateTokenResult> RotateToken(
      absl::string_view old_public_id, const TokenRecord& successor,
      absl::Time now, const IdempotencyKey* key) override;
  // Sets update_time to `now` too. Rows from before migration 3 (no family
  // id) are their own family.
  absl::StatusOr<int> RevokeTokenFamily(absl::string_view family_id,
                                        absl::Time now) override;
  // Up to 64 tokens per transaction, rows locked in public id order (two
  // flushers cannot deadlock); stops at the first error (uses of the tokens
  // not reached yet are dropped). A revoked token is skipped whatever
  // the use's time. update_time does not change. A peer is stored with
  // newlines replaced by spaces, bytes that are not UTF-8 replaced by '?',
  // and cut to 128 bytes on a character boundary; an empty peer only moves
  // last_used_time. Oldest peers are dropped further if the list would not
  // fit its 1024-byte column. INVALID_ARGUMENT if max_peers < 0 (0 keeps no
  // peers).
  absl::Status RecordTokenUses(const std::vector<TokenUse>& uses,
                               int max_peers) override;
  // Oldest rows (by row id) first. Also forgets the idempotency keys that
  // point at the deleted tokens. The audit events have actor 0, the owner as
  // subject, the public id as object, and details "reason=revoked",
  // "reason=expired" or "reason=unused" (the first cutoff that matched, in
  // that order). INVALID_ARGUMENT unless batch_size is in 1..10000.
  absl::StatusOr<std::vector<TokenRecord>> DeleteUnusableTokens(
      const JanitorCutoffs& cutoffs, int batch_size, absl::Time now) override;
  // Oldest first. INVALID_ARGUMENT if batch_size < 1.
  absl::StatusOr<int> DeleteIdempotencyKeys(absl::Time before,
                                            int batch_size) override;
  // object_id, peer and details are fitted to their columns (128, 128 and
  // 1024 bytes; non-UTF-8 bytes become '?') rather than refused. A type or
  // credential kind that is not ASCII or too long (64, 16) is
  // INVALID_ARGUMENT.
  absl::Status AppendAuditEvent(const AuditEvent& event) override;
  // INVALID_ARGUMENT if query.limit < 1.
  absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      const AuditQuery& query) override;
  // One UPDATE of the user's row, so parallel calls cannot pass the limit.
  // The window that starts at the first failure ends at start + period: a
  // call at or after that instant restarts it. INVALID_ARGUMENT if
  // rule.max_failures < 1 or rule.period is not positive.
  absl::StatusOr<bool> ReservePasswordCheck(int64_t user_id,
                                            const LockoutRule& rule,
                                            absl::Time now) override;
  // NOT_FOUND if no such user.
  absl::Status ClearPasswordFailures(int64_t user_id) override;
  // A handle or hash with non-ASCII bytes is NOT_FOUND when looked up and
  // INVALID_ARGUMENT when inserted (sessions keep them in ASCII columns).
  absl::StatusOr<SessionRecord> InsertSession(
      const SessionRecord& session) override;
  absl::StatusOr<SessionRecord> GetSessionBySecretHash(
      absl::string_view secret_hash) override;
  absl::StatusOr<SessionRecord> GetSession(absl::string_view handle) override;
  // Finds ended sessions too.
  absl::Status TouchSession(absl::string_view handle, absl::Time seen) override;
  absl::StatusOr<SessionRecord> EndSession(absl::string_view handle,
                                           absl::Time now) override;
  // Counts sessions that expired or went idle without being ended too.
  absl::StatusOr<int> EndUserSessions(int64_t user_id, absl::Time now) override;
  // INVALID_ARGUMENT if limit < 1.
  absl::StatusOr<std::vector<SessionRecord>> ListLiveSessions(
      int64_t user_id, const SessionLiveAt& live, int limit) override;

 private:
  explicit MysqlStore(const MysqlOptions& options);

  // SELECT 1 on ping_connection_ (opened if needed).
  absl::Status ProbeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(ping_mu_);
  // SELECT 1 on one pooled connection, if one is free or can be opened.
  absl::Status CheckPooledConnection();

  const MysqlOptions options_;
  const absl::Duration acquire_timeout_;
  const std::unique_ptr<ConnectionPool> pool_;
  absl::Mutex ping_mu_;
  std::unique_ptr<sql::Connection> ping_connection_ ABSL_GUARDED_BY(ping_mu_);
};

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_MYSQL_STORE_H_
