#include "storage/mysql_store.h"

#include <cppconn/connection.h>
#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "storage/connection_pool.h"
#include "storage/migrations.h"
#include "storage/mysql_errors.h"

namespace tokenauth {
namespace {

using Lease = ConnectionPool::Lease;
using Statement = std::unique_ptr<sql::PreparedStatement>;
using Rows = std::unique_ptr<sql::ResultSet>;

// How many times a transaction is run when the database aborts it (deadlock,
// lock wait timeout) before returning ABORTED; see RetryAborted().
constexpr int kMaxTransactionAttempts = 3;

constexpr char kUserColumns[] =
    "id, username, password_hash, is_admin, disabled, create_time_us, "
    "update_time_us";
constexpr char kTokenColumns[] =
    "id, public_id, user_id, name, value_hash, hint, access, scopes, "
    "create_time_us, update_time_us, expire_time_us, last_used_time_us, "
    "revoke_time_us, family_id, rotated_to, last_used_peers";
constexpr char kAuditColumns[] =
    "id, time_us, type, actor_user_id, subject_user_id, object_id, "
    "credential_kind, peer, details";
constexpr char kSessionColumns[] =
    "id, handle, user_id, secret_hash, csrf_hash, create_time_us, "
    "last_seen_time_us, expire_time_us, end_time_us, peer, user_agent";
// UsableAt as SQL; binds two parameters: now, stale_before. The same test
// as core/policy.h StateOf() == kActive.
constexpr char kUsableCondition[] =
    "revoke_time_us IS NULL AND (expire_time_us IS NULL OR expire_time_us > ?)"
    " AND COALESCE(last_used_time_us, create_time_us) >= ?";

// Column sizes the store fits values into rather than failing.
constexpr size_t kMaxPeerBytes = 128;            // One last-use peer.
constexpr size_t kMaxLastUsedPeersBytes = 1024;  // All of them, joined.
constexpr size_t kMaxAuditObjectIdBytes = 128;
constexpr size_t kMaxAuditPeerBytes = 128;
constexpr size_t kMaxAuditDetailsBytes = 1024;

// Idempotency key columns (ASCII).
constexpr size_t kMaxKeyMethodBytes = 32;
constexpr size_t kMaxKeyRequestIdBytes = 64;
constexpr size_t kMaxKeyFingerprintBytes = 64;

constexpr char kJanitorDeleteEvent[] = "token.janitor_delete";
// One janitor transaction locks its whole batch, and binds one parameter per
// row (MySQL allows 65535 per statement).
constexpr int kMaxJanitorBatch = 10000;

// Schema changes may take long on big tables; the pool's I/O timeout (a few
// seconds) would cut them.
constexpr absl::Duration kMigrationIoTimeout = absl::Minutes(30);

// Ids per query of GetTokensAndOwners.
constexpr size_t kTokenLookupBatch = 64;

// Values of the access column.
constexpr int kAccessReadOnly = 1;
constexpr int kAccessReadWrite = 2;

// Whether an operation may be run again on a fresh connection when a reused
// one turns out to be dead. Only for reads: a write may have been applied
// before the connection broke.
enum class Idempotent { kNo, kYes };

// Runs fn(lease) on a pooled connection and turns every exception into a
// status. fn returns absl::Status or absl::StatusOr<T>.
template <typename Fn>
auto WithConnection(ConnectionPool& pool, absl::Duration wait,
                    absl::string_view operation, Idempotent idempotent, Fn fn)
    -> decltype(fn(std::declval<Lease&>())) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<Lease> lease = pool.Acquire(wait);
    if (!lease.ok()) {
      return absl::Status(
          lease.status().code(),
          absl::StrCat(operation, ": ", lease.status().message()));
    }
    try {
      return fn(*lease);
    } catch (const sql::SQLException& e) {
      if (!IsConnectionError(e)) return SqlErrorToStatus(e, operation);
      lease->Discard();
      if (idempotent == Idempotent::kNo || !lease->reused() || attempt > 1) {
        return SqlErrorToStatus(e, operation);
      }
      // A connection that died while idle (e.g. the server restarted): the
      // pool has now dropped the idle ones; try once on a new connection.
    } catch (const std::exception&) {
      lease->Discard();
      return absl::InternalError(absl::StrCat(
          operation, ": unexpected error in the database client library"));
    }
  }
}

// A transaction on a leased connection. Rolls back unless committed, and
// always restores autocommit before the connection goes back to the pool;
// if that fails, the connection is discarded.
class Transaction {
 public:
  explicit Transaction(Lease& lease) : lease_(lease) {
    lease_->setAutoCommit(false);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    try {
      if (!committed_) lease_->rollback();
      lease_->setAutoCommit(true);
    } catch (...) {
      lease_.Discard();
    }
  }

  void Commit() {
    // A COMMIT statement, not lease_->commit(): Connector/C++ 1.1's commit()
    // ignores the server's answer, so a COMMIT that failed (a Galera
    // certification conflict, ER_LOCK_DEADLOCK; the connection lost before
    // the reply) looked like success and the caller was told OK for a
    // transaction that was rolled back (docs/DEPLOYMENT.md).
    std::unique_ptr<sql::PreparedStatement> commit(
        lease_->prepareStatement("COMMIT"));
    commit->execute();
    committed_ = true;
  }

 private:
  Lease& lease_;
  bool committed_ = false;
};

Statement Prepare(sql::Connection& connection, const std::string& sql) {
  return Statement(connection.prepareStatement(sql));
}

sql::SQLString Str(absl::string_view s) { return std::string(s); }

absl::Time Truncate(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}
std::optional<absl::Time> Truncate(const std::optional<absl::Time>& t) {
  if (!t.has_value()) return std::nullopt;
  return Truncate(*t);
}

void BindOptionalTime(sql::PreparedStatement& statement, int index,
                      const std::optional<absl::Time>& t) {
  if (t.has_value()) {
    statement.setInt64(index, absl::ToUnixMicros(*t));
  } else {
    statement.setNull(index, sql::DataType::BIGINT);
  }
}

std::optional<absl::Time> OptionalTime(const sql::ResultSet& rows, int index) {
  if (rows.isNull(index)) return std::nullopt;
  return absl::FromUnixMicros(rows.getInt64(index));
}

const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Runs fn() (one whole transaction, returning absl::Status or StatusOr) again
// while the database aborts it (deadlock, lock wait timeout), at most
// kMaxTransactionAttempts times in all.
template <typename Fn>
auto RetryAborted(Fn fn) -> decltype(fn()) {
  auto result = fn();
  for (int attempt = 1;
       attempt < kMaxTransactionAttempts && absl::IsAborted(StatusOf(result));
       ++attempt) {
    result = fn();
  }
  return result;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 if the byte there
// does not start one (overlong forms, surrogates and code points above
// U+10FFFF are not well-formed).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code_point;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < length) return 0;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  if ((length == 3 && code_point < 0x800) ||
      (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)) ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

bool IsValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t length = Utf8SequenceLength(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// `s` made to fit a utf8mb4 column: each byte that is not part of well-formed
// UTF-8 becomes '?', and the text is cut after the last whole character that
// fits in `max_bytes`. (Bytes, not characters: at most max_bytes bytes are at
// most max_bytes characters, whatever the column counts.)
std::string FitUtf8(absl::string_view s, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t length = Utf8SequenceLength(s, i);
    const absl::string_view piece = length == 0 ? "?" : s.substr(i, length);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece.data(), piece.size());
    i += length == 0 ? 1 : length;
  }
  return out;
}

// A peer address as stored in last_used_peers: newlines (the separator)
// become spaces, and it is fitted to kMaxPeerBytes.
std::string NormalizePeer(absl::string_view peer) {
  std::string normalized(peer);
  std::replace(normalized.begin(), normalized.end(), '\n', ' ');
  return FitUtf8(normalized, kMaxPeerBytes);
}

// Peers are stored joined by newlines, so a peer must be non-empty and free
// of newlines to come back as it went in.
absl::StatusOr<std::string> JoinPeers(const std::vector<std::string>& peers,
                                      absl::string_view operation) {
  for (const std::string& peer : peers) {
    if (peer.empty() || peer.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(operation,
                       ": a last-use peer must be non-empty and contain no "
                       "newline"));
    }
  }
  return absl::StrJoin(peers, "\n");
}

// Scopes are stored joined by single spaces, so a scope must be non-empty
// and free of spaces to come back as it went in.
absl::StatusOr<std::string> JoinScopes(const std::vector<std::string>& scopes,
                                       absl::string_view operation) {
  for (const std::string& scope : scopes) {
    if (scope.empty() || scope.find(' ') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          operation, ": a scope must be non-empty and contain no space"));
    }
  }
  return absl::StrJoin(scopes, " ");
}

int AccessToColumn(Access access) {
  return access == Access::kReadWrite ? kAccessReadWrite : kAccessReadOnly;
}

// Reads kUserColumns starting at column `first`.
User ReadUser(const sql::ResultSet& rows, int first = 1) {
  User user;
  user.id = rows.getInt64(first);
  user.username = rows.getString(first + 1).asStdString();
  user.password_hash = rows.getString(first + 2).asStdString();
  user.admin = rows.getBoolean(first + 3);
  user.disabled = rows.getBoolean(first + 4);
  user.create_time = absl::FromUnixMicros(rows.getInt64(first + 5));
  user.update_time = absl::FromUnixMicros(rows.getInt64(first + 6));
  return user;
}

// "a, b" -> "t.a, t.b".
std::string Qualified(absl::string_view table, absl::string_view columns) {
  std::vector<std::string> out;
  for (absl::string_view c : absl::StrSplit(columns, ", ")) {
    out.push_back(absl::StrCat(table, ".", c));
  }
  return absl::StrJoin(out, ", ");
}

constexpr int kTokenColumnCount = 16;

absl::StatusOr<TokenRecord> ReadToken(const sql::ResultSet& rows) {
  TokenRecord token;
  token.row_id = rows.getInt64(1);
  token.public_id = rows.getString(2).asStdString();
  token.user_id = rows.getInt64(3);
  token.name = rows.getString(4).asStdString();
  token.value_hash = rows.getString(5).asStdString();
  token.hint = rows.getString(6).asStdString();
  switch (rows.getInt(7)) {
    case kAccessReadOnly:
      token.permissions.access = Access::kReadOnly;
      break;
    case kAccessReadWrite:
      token.permissions.access = Access::kReadWrite;
      break;
    default:
      return absl::InternalError(
          "access_tokens row holds an unknown access value");
  }
  token.permissions.scopes =
      absl::StrSplit(rows.getString(8).asStdString(), ' ', absl::SkipEmpty());
  token.create_time = absl::FromUnixMicros(rows.getInt64(9));
  token.update_time = absl::FromUnixMicros(rows.getInt64(10));
  token.expire_time = OptionalTime(rows, 11);
  token.last_used_time = OptionalTime(rows, 12);
  token.revoke_time = OptionalTime(rows, 13);
  // NULL (a row from before migration 3) or empty: the token started its
  // own family.
  token.family_id = rows.isNull(14) ? "" : rows.getString(14).asStdString();
  if (token.family_id.empty()) token.family_id = token.public_id;
  if (!rows.isNull(15)) token.rotated_to = rows.getString(15).asStdString();
  token.last_used_peers =
      absl::StrSplit(rows.getString(16).asStdString(), '\n', absl::SkipEmpty());
  return token;
}

AuditEvent ReadAuditEvent(const sql::ResultSet& rows) {
  AuditEvent event;
  event.id = rows.getInt64(1);
  event.time = absl::FromUnixMicros(rows.getInt64(2));
  event.type = rows.getString(3).asStdString();
  event.actor_user_id = rows.getInt64(4);
  event.subject_user_id = rows.getInt64(5);
  event.object_id = rows.getString(6).asStdString();
  event.credential_kind = rows.getString(7).asStdString();
  event.peer = rows.getString(8).asStdString();
  event.details = rows.getString(9).asStdString();
  return event;
}

SessionRecord ReadSession(const sql::ResultSet& rows) {
  SessionRecord session;
  session.row_id = rows.getInt64(1);
  session.handle = rows.getString(2).asStdString();
  session.user_id = rows.getInt64(3);
  session.secret_hash = rows.getString(4).asStdString();
  session.csrf_hash = rows.getString(5).asStdString();
  session.create_time = absl::FromUnixMicros(rows.getInt64(6));
  session.last_seen_time = absl::FromUnixMicros(rows.getInt64(7));
  session.expire_time = absl::FromUnixMicros(rows.getInt64(8));
  session.end_time = OptionalTime(rows, 9);
  session.peer = rows.getString(10).asStdString();
  session.user_agent = rows.getString(11).asStdString();
  return session;
}

int64_t LastInsertId(sql::Connection& connection) {
  Statement statement = Prepare(connection, "SELECT LAST_INSERT_ID()");
  Rows rows(statement->executeQuery());
  rows->next();
  return rows->getInt64(1);
}

std::optional<User> SelectUserByName(sql::Connection& connection,
                                     absl::string_view username) {
  Statement statement = Prepare(
      connection,
      absl::StrCat("SELECT ", kUserColumns, " FROM users WHERE username = ?"));
  statement->setString(1, Str(username));
  Rows rows(statement->executeQuery());
  if (!rows->next()) return std::nullopt;
  return ReadUser(*rows);
}

// Inserts a user; throws sql::SQLException (1062 if the name is taken).
User InsertUser(sql::Connection& connection, const NewUser& new_user,
                absl::Time now) {
  Statement statement =
      Prepare(connection,
              "INSERT INTO users (username, password_hash, is_admin, disabled, "
              "create_time_us, update_time_us) VALUES (?, ?, ?, FALSE, ?, ?)");
  statement->setString(1, new_user.username);
  statement->setString(2, new_user.password_hash);
  statement->setBoolean(3, new_user.admin);
  statement->setInt64(4, absl::ToUnixMicros(now));
  statement->setInt64(5, absl::ToUnixMicros(now));
  statement->executeUpdate();

  User user;
  user.id = LastInsertId(connection);
  user.username = new_user.username;
  user.password_hash = new_user.password_hash;
  user.admin = new_user.admin;
  user.disabled = false;
  user.create_time = Truncate(now);
  user.update_time = user.create_time;
  return user;
}

// Whether a SELECT locks the rows it returns until the transaction ends.
enum class RowLock { kNone, kForUpdate };

absl::StatusOr<TokenRecord> SelectToken(sql::Connection& connection,
                                        absl::string_view public_id,
                                        RowLock lock = RowLock::kNone) {
  Statement statement =
      Prepare(connection,
              absl::StrCat("SELECT ", kTokenColumns,
                           " FROM access_tokens WHERE public_id = ?",
                           lock == RowLock::kForUpdate ? " FOR UPDATE" : ""));
  statement->setString(1, Str(public_id));
  Rows rows(statement->executeQuery());
  if (!rows->next()) return absl::NotFoundError("access token not found");
  return ReadToken(*rows);
}

bool UserExists(sql::Connection& connection, int64_t id) {
  Statement statement = Prepare(connection, "SELECT 1 FROM users WHERE id = ?");
  statement->setInt64(1, id);
  Rows rows(statement->executeQuery());
  return rows->next();
}

// Token public ids, session handles and hashes are ASCII columns. A key with
// other bytes names no row, and binding it would fail the comparison (MySQL
// error 1267), so callers answer NOT_FOUND without asking the database.
bool IsAsciiKey(absl::string_view key) {
  return std::all_of(key.begin(), key.end(),
                     [](char c) { return absl::ascii_isascii(c); });
}

// `key_column` is a fixed column name, never request data.
absl::StatusOr<SessionRecord> SelectSession(sql::Connection& connection,
                                            const char* key_column,
                                            absl::string_view key) {
  Statement statement = Prepare(
      connection, absl::StrCat("SELECT ", kSessionColumns,
                               " FROM sessions WHERE ", key_column, " = ?"));
  statement->setString(1, Str(key));
  Rows rows(statement->executeQuery());
  if (!rows->next()) return absl::NotFoundError("session not found");
  return ReadSession(*rows);
}

// Locks the user's row until the transaction ends. Every transaction that
// inserts tokens for a user takes this lock first, so they run one at a time
// per user and always take their locks in the same order. False if there is
// no such user.
//
// The lock is taken with a write (a counter no one reads), not SELECT ... FOR
// UPDATE: on a multi-primary cluster (Galera, group replication) row locks
// are not replicated, so two nodes could each insert under their own lock
// and pass the per-user limit together. Written rows are certified: of two
// creates for one user on different nodes, the second to commit fails with
// ER_LOCK_DEADLOCK (ABORTED), and its retry sees the first one's token.
// (Measured on Galera, docs/DEPLOYMENT.md: it closes most of the gap, not
// all of it; one writer node is still the recommendation.)
bool LockUser(sql::Connection& connection, int64_t user_id) {
  Statement lock =
      Prepare(connection,
              "UPDATE users SET token_write_count = token_write_count + 1 "
              "WHERE id = ?");
  lock->setInt64(1, user_id);
  return lock->executeUpdate() == 1;
}

// The number of the user's tokens usable at `usable`.
int64_t CountUsableTokens(sql::Connection& connection, int64_t user_id,
                          const UsableAt& usable) {
  Statement count = Prepare(
      connection,
      absl::StrCat("SELECT COUNT(*) FROM access_tokens WHERE user_id = ? AND ",
                   kUsableCondition));
  count->setInt64(1, user_id);
  count->setInt64(2, absl::ToUnixMicros(usable.now));
  count->setInt64(3, absl::ToUnixMicros(usable.stale_before));
  Rows rows(count->executeQuery());
  rows->next();
  return rows->getInt64(1);
}

// A token ready to insert: its columns that need conversion, checked.
struct TokenRow {
  std::string scopes;
  std::string peers;
};

absl::StatusOr<TokenRow> ToTokenRow(const TokenRecord& token,
                                    absl::string_view operation) {
  TokenRow row;
  ASSIGN_OR_RETURN(row.scopes, JoinScopes(token.permissions.scopes, operation));
  ASSIGN_OR_RETURN(row.peers, JoinPeers(token.last_used_peers, operation));
  return row;
}

// After the COMMIT of a transaction that inserted token `public_id`: OK if
// its row is there, ABORTED (so RetryAborted runs the transaction again) if
// not. A fresh read after the COMMIT sees every committed row. An
// acknowledged token must exist; this checks it rather than trusting the
// COMMIT's answer alone, which has been wrong before (Connector/C++'s
// commit() ignored errors; a Galera node answered OK with the row absent;
// docs/DEPLOYMENT.md), and it is one indexed read on a path that already
// takes a lock and writes two rows.
absl::Status CheckInserted(sql::Connection& connection,
                           absl::string_view public_id,
                           absl::string_view operation) {
  Statement select =
      Prepare(connection, "SELECT 1 FROM access_tokens WHERE public_id = ?");
  select->setString(1, Str(public_id));
  Rows rows(select->executeQuery());
  if (rows->next()) return absl::OkStatus();
  return absl::AbortedError(
      absl::StrCat(operation,
                   ": the database acknowledged the COMMIT but the new token's "
                   "row is not there"));
}

// Inserts `token` into `family_id` and returns it as stored (row id set,
// times truncated). Throws sql::SQLException (1062 if the public id is
// taken, 1452 if the owner does not exist).
TokenRecord InsertTokenRow(sql::Connection& connection,
                           const TokenRecord& token, const TokenRow& row,
                           absl::string_view family_id) {
  Statement insert =
      Prepare(connection,
              "INSERT INTO access_tokens (public_id, user_id, name, "
              "value_hash, hint, access, scopes, create_time_us, "
              "update_time_us, expire_time_us, last_used_time_us, "
              "revoke_time_us, family_id, rotated_to, last_used_peers) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert->setString(1, token.public_id);
  insert->setInt64(2, token.user_id);
  insert->setString(3, token.name);
  insert->setString(4, token.value_hash);
  insert->setString(5, token.hint);
  insert->setInt(6, AccessToColumn(token.permissions.access));
  insert->setString(7, row.scopes);
  insert->setInt64(8, absl::ToUnixMicros(token.create_time));
  insert->setInt64(9, absl::ToUnixMicros(token.update_time));
  BindOptionalTime(*insert, 10, token.expire_time);
  BindOptionalTime(*insert, 11, token.last_used_time);
  BindOptionalTime(*insert, 12, token.revoke_time);
  insert->setString(13, Str(family_id));
  if (token.rotated_to.has_value()) {
    insert->setString(14, *token.rotated_to);
  } else {
    insert->setNull(14, sql::DataType::VARCHAR);
  }
  insert->setString(15, row.peers);
  insert->executeUpdate();

  TokenRecord stored = token;
  stored.row_id = LastInsertId(connection);
  stored.family_id = std::string(family_id);
  stored.create_time = Truncate(token.create_time);
  stored.update_time = Truncate(token.update_time);
  stored.expire_time = Truncate(token.expire_time);
  stored.last_used_time = Truncate(token.last_used_time);
  stored.revoke_time = Truncate(token.revoke_time);
  return stored;
}

// INVALID_ARGUMENT unless every field of `key` fits its ASCII column.
absl::Status CheckIdempotencyKey(const IdempotencyKey& key,
                                 absl::string_view operation) {
  auto fits = [](absl::string_view value, size_t max_bytes) {
    return !value.empty() && value.size() <= max_bytes && IsAsciiKey(value);
  };
  if (!fits(key.method, kMaxKeyMethodBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        operation, ": idempotency key method must be 1..32 ASCII characters"));
  }
  if (!fits(key.request_id, kMaxKeyRequestIdBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(operation, ": request_id must be 1..64 ASCII characters"));
  }
  if (!fits(key.fingerprint, kMaxKeyFingerprintBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(operation,
                     ": idempotency key fingerprint must be 1..64 ASCII "
                     "characters"));
  }
  return absl::OkStatus();
}

// Looks `key` up for the user, inside a transaction that holds the user's
// row lock (so no other request with the key can run meanwhile). Returns the
// public id of the token the earlier request made when it is to be replayed;
// nullopt when the request is new (a record older than key.forget_before is
// deleted here); ALREADY_EXISTS when the key was used with other parameters.
absl::StatusOr<std::optional<std::string>> FindIdempotencyKey(
    sql::Connection& connection, int64_t user_id, const IdempotencyKey& key) {
  Statement select =
      Prepare(connection,
              "SELECT fingerprint, token_public_id, create_time_us "
              "FROM idempotency_keys WHERE user_id = ? AND method = ? AND "
              "request_id = ? FOR UPDATE");
  select->setInt64(1, user_id);
  select->setString(2, key.method);
  select->setString(3, key.request_id);
  Rows rows(select->executeQuery());
  if (!rows->next()) return std::nullopt;
  if (rows->getInt64(3) < absl::ToUnixMicros(key.forget_before)) {
    Statement forget =
        Prepare(connection,
                "DELETE FROM idempotency_keys WHERE user_id = ? AND "
                "method = ? AND request_id = ?");
    forget->setInt64(1, user_id);
    forget->setString(2, key.method);
    forget->setString(3, key.request_id);
    forget->executeUpdate();
    return std::nullopt;
  }
  // Compared here, byte for byte, whatever the column's collation.
  if (rows->getString(1).asStdString() != key.fingerprint) {
    return absl::AlreadyExistsError(
        "request_id: already used for a request with different parameters");
  }
  return rows->getString(2).asStdString();
}

// Records `key` for the user as having made `token`.
void InsertIdempotencyKey(sql::Connection& connection, int64_t user_id,
                          const IdempotencyKey& key, const TokenRecord& token) {
  Statement insert =
      Prepare(connection,
              "INSERT INTO idempotency_keys (user_id, method, request_id, "
              "fingerprint, token_public_id, create_time_us) "
              "VALUES (?, ?, ?, ?, ?, ?)");
  insert->setInt64(1, user_id);
  insert->setString(2, key.method);
  insert->setString(3, key.request_id);
  insert->setString(4, key.fingerprint);
  insert->setString(5, token.public_id);
  insert->setInt64(6, absl::ToUnixMicros(token.create_time));
  insert->executeUpdate();
}

// The token an idempotent request made earlier, for a replay.
absl::StatusOr<TokenRecord> SelectReplayedToken(sql::Connection& connection,
                                                absl::string_view public_id) {
  absl::StatusOr<TokenRecord> token = SelectToken(connection, public_id);
  if (absl::IsNotFound(token.status())) {
    return absl::FailedPreconditionError(
        "request_id: the token it created no longer exists");
  }
  return token;
}

// Tokens in `state` at `at`, as core/policy.h StateOf() decides it: revoked
// wins over expired, expired over stale. Appends the condition's parameters
// to `params`.
std::string TokenStateCondition(TokenState state, const UsableAt& at,
                                std::vector<int64_t>& params) {
  const int64_t now_us = absl::ToUnixMicros(at.now);
  const int64_t stale_before_us = absl::ToUnixMicros(at.stale_before);
  switch (state) {
    case TokenState::kRevoked:
      return "revoke_time_us IS NOT NULL";
    case TokenState::kExpired:
      params.push_back(now_us);
      return "revoke_time_us IS NULL AND expire_time_us IS NOT NULL AND "
             "expire_time_us <= ?";
    case TokenState::kStale:
      params.push_back(now_us);
      params.push_back(stale_before_us);
      return "revoke_time_us IS NULL AND (expire_time_us IS NULL OR "
             "expire_time_us > ?) AND COALESCE(last_used_time_us, "
             "create_time_us) < ?";
    case TokenState::kActive:
      params.push_back(now_us);
      params.push_back(stale_before_us);
      return kUsableCondition;
  }
  // Unreachable for a valid enum value; match nothing rather than all.
  return "FALSE";
}

// "?, ?, ..., ?" with n placeholders (n >= 1).
std::string Placeholders(size_t n) {
  std::string out = "?";
  for (size_t i = 1; i < n; ++i) out += ", ?";
  return out;
}

// Why the janitor deletes `token` under `cutoffs`, for its audit event.
const char* JanitorReason(const TokenRecord& token,
                          const JanitorCutoffs& cutoffs) {
  if (token.revoke_time.has_value() &&
      *token.revoke_time < Truncate(cutoffs.revoked_before)) {
    return "reason=revoked";
  }
  if (token.expire_time.has_value() &&
      *token.expire_time < Truncate(cutoffs.expired_before)) {
    return "reason=expired";
  }
  return "reason=unused";
}

}  // namespace

absl::StatusOr<std::unique_ptr<MysqlStore>> MysqlStore::Open(
    const MysqlOptions& options) {
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("MySQL pool_size must be at least 1");
  }
  if (options.database.empty()) {
    return absl::InvalidArgumentError("MySQL database name is empty");
  }
  if (options.socket.empty() &&
      (options.host.empty() || options.port < 1 || options.port > 65535)) {
    return absl::InvalidArgumentError(
        "MySQL needs a socket, or a host and a port in 1..65535");
  }
  if (options.acquire_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("MySQL acquire_timeout is negative");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.io_timeout <= absl::ZeroDuration() ||
      options.ping_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "MySQL connect_timeout, io_timeout and ping_timeout must be positive");
  }
  if (options.fail_fast_for < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("MySQL fail_fast_for is negative");
  }
  return std::unique_ptr<MysqlStore>(new MysqlStore(options));
}

MysqlStore::MysqlStore(const MysqlOptions& options)
    : options_(options),
      acquire_timeout_(options.acquire_timeout),
      pool_(std::make_unique<ConnectionPool>(options)) {}

MysqlStore::~MysqlStore() = default;

MysqlStore::PoolStats MysqlStore::pool_stats() const {
  const ConnectionPool::Stats pool = pool_->stats();
  PoolStats stats;
  stats.size = pool.size;
  stats.in_use = pool.open - pool.idle;
  stats.idle = pool.idle;
  stats.acquire_waits = pool.acquire_waits;
  stats.acquire_failures = pool.acquire_failures;
  return stats;
}

absl::Status MysqlStore::Migrate() {
  absl::StatusOr<std::unique_ptr<sql::Connection>> connection =
      OpenMysqlConnection(options_, kMigrationIoTimeout);
  if (!connection.ok()) {
    return absl::Status(
        connection.status().code(),
        absl::StrCat("Migrate: ", connection.status().message()));
  }
  try {
    return ApplyMigrations(**connection);
  } catch (const std::exception&) {
    return absl::InternalError(
        "Migrate: unexpected error in the database client library");
  }
}

absl::Status MysqlStore::Ping() {
  absl::MutexLock lock(&ping_mu_);
  absl::Status status = ProbeLocked();
  if (status.ok()) {
    // Before the pooled check: after an outage, the pool's connections from
    // before it may be dead; MarkUp drops them.
    pool_->MarkUp();
    status = CheckPooledConnection();
  }
  if (!status.ok() && options_.fail_fast_for > absl::ZeroDuration()) {
    pool_->MarkDown(absl::Now() + options_.fail_fast_for, status.message());
  }
  return status;
}

absl::Status MysqlStore::ProbeLocked() {
  for (int attempt = 1;; ++attempt) {
    const bool reused = ping_connection_ != nullptr;
    if (!reused) {
      MysqlOptions probe_options = options_;
      probe_options.connect_timeout = options_.ping_timeout;
      absl::StatusOr<std::unique_ptr<sql::Connection>> connection =
          OpenMysqlConnection(probe_options, options_.ping_timeout);
      if (!connection.ok()) {
        return absl::Status(
            connection.status().code(),
            absl::StrCat("Ping: ", connection.status().message()));
      }
      ping_connection_ = *std::move(connection);
    }
    const absl::Time start = absl::Now();
    try {
      Statement statement = Prepare(*ping_connection_, "SELECT 1");
      Rows rows(statement->executeQuery());
      return absl::OkStatus();
    } catch (const sql::SQLException& e) {
      ping_connection_.reset();
      // A connection that died while idle (a restart, a killed connection)
      // fails at once: try a new one. One that timed out would only time out
      // again, and the health check would take twice as long to notice.
      const bool failed_fast = absl::Now() - start < options_.ping_timeout / 2;
      if (!reused || attempt > 1 || !failed_fast || !IsConnectionError(e)) {
        return SqlErrorToStatus(e, "Ping");
      }
    } catch (const std::exception&) {
      ping_connection_.reset();
      return absl::InternalError(
          "Ping: unexpected error in the database client library");
    }
  }
}

absl::Status MysqlStore::CheckPooledConnection() {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::optional<Lease>> lease = pool_->TryAcquireForProbe();
    if (!lease.ok()) {
      return absl::Status(lease.status().code(),
                          absl::StrCat("Ping: ", lease.status().message()));
    }
    // Every connection is in use: busy, not down.
    if (!lease->has_value()) return absl::OkStatus();
    Lease& leased = **lease;
    try {
      Statement statement = Prepare(*leased, "SELECT 1");
      Rows rows(statement->executeQuery());
      return absl::OkStatus();
    } catch (const sql::SQLException& e) {
      leased.Discard();
      if (!IsConnectionError(e) || !leased.reused() || attempt > 1) {
        return SqlErrorToStatus(e, "Ping");
      }
      // It died while idle; the pool has now dropped the idle ones too.
    } catch (const std::exception&) {
      leased.Discard();
      return absl::InternalError(
          "Ping: unexpected error in the database client library");
    }
  }
}

// --- Users ---

absl::StatusOr<User> MysqlStore::CreateUser(const NewUser& user,
                                            absl::Time now) {
  return WithConnection(*pool_, acquire_timeout_, "CreateUser", Idempotent::kNo,
                        [&](Lease& lease) -> absl::StatusOr<User> {
                          return InsertUser(*lease, user, now);
                        });
}

absl::StatusOr<std::pair<User, bool>> MysqlStore::CreateUserIfAbsent(
    const NewUser& user, absl::Time now) {
  return WithConnection(
      *pool_, acquire_timeout_, "CreateUserIfAbsent", Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<std::pair<User, bool>> {
        try {
          return std::make_pair(InsertUser(*lease, user, now), true);
        } catch (const sql::SQLException& e) {
          if (e.getErrorCode() != kMysqlDuplicateKey) throw;
        }
        // Taken, by us earlier or by a racing server: the committed row is
        // visible now (each statement runs in its own transaction).
        std::optional<User> existing = SelectUserByName(*lease, user.username);
        if (!existing.has_value()) {
          // Only possible if the user was deleted in between.
          return absl::AbortedError(
              "CreateUserIfAbsent: the user changed concurrently; retry");
        }
        return std::make_pair(*std::move(existing), false);
      });
}

absl::StatusOr<User> MysqlStore::GetUserById(int64_t id) {
  return WithConnection(
      *pool_, acquire_timeout_, "GetUserById", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<User> {
        Statement statement = Prepare(
            *lease,
            absl::StrCat("SELECT ", kUserColumns, " FROM users WHERE id = ?"));
        statement->setInt64(1, id);
        Rows rows(statement->executeQuery());
        if (!rows->next()) return absl::NotFoundError("user not found");
        return ReadUser(*rows);
      });
}

absl::StatusOr<User> MysqlStore::GetUserByName(absl::string_view username) {
  return WithConnection(
      *pool_, acquire_timeout_, "GetUserByName", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<User> {
        std::optional<User> user = SelectUserByName(*lease, username);
        if (!user.has_value()) return absl::NotFoundError("user not found");
        return *std::move(user);
      });
}

absl::Status MysqlStore::SetUserDisabled(int64_t id, bool disabled,
                                         absl::Time now) {
  return WithConnection(
      *pool_, acquire_timeout_, "SetUserDisabled", Idempotent::kNo,
      [&](Lease& lease) -> absl::Status {
        Statement statement = Prepare(
            *lease,
            "UPDATE users SET disabled = ?, update_time_us = ? WHERE id = ?");
        statement->setBoolean(1, disabled);
        statement->setInt64(2, absl::ToUnixMicros(now));
        statement->setInt64(3, id);
        // CLIENT_FOUND_ROWS: counts matched rows, changed or not.
        if (statement->executeUpdate() == 0) {
          return absl::NotFoundError("user not found");
        }
        return absl::OkStatus();
      });
}

absl::Status MysqlStore::SetPasswordHash(int64_t id, absl::string_view hash,
                                         absl::Time now) {
  return WithConnection(
      *pool_, acquire_timeout_, "SetPasswordHash", Idempotent::kNo,
      [&](Lease& lease) -> absl::Status {
        Statement statement =
            Prepare(*lease,
                    "UPDATE users SET password_hash = ?, update_time_us = ? "
                    "WHERE id = ?");
        statement->setString(1, Str(hash));
        statement->setInt64(2, absl::ToUnixMicros(now));
        statement->setInt64(3, id);
        if (statement->executeUpdate() == 0) {
          return absl::NotFoundError("user not found");
        }
        return absl::OkStatus();
      });
}

// --- Failed-login lockout ---

absl::StatusOr<bool> MysqlStore::ReservePasswordCheck(int64_t user_id,
                                                      const LockoutRule& rule,
                                                      absl::Time now) {
  constexpr char kOperation[] = "ReservePasswordCheck";
  if (rule.max_failures < 1 || rule.period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kOperation, ": max_failures must be at least 1 and period positive"));
  }
  const int64_t now_us = absl::ToUnixMicros(now);
  const int64_t cutoff_us = absl::ToUnixMicros(now - rule.period);
  return WithConnection(
      *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<bool> {
        // One statement, so InnoDB's row lock makes it atomic: parallel
        // calls queue on the row and each sees the count the previous one
        // left. A window is over when it started at or before the cutoff.
        // MySQL assigns single-table SET clauses left to right, and a later
        // one sees the new value of an earlier one: the count is assigned
        // first so that both read the old window start.
        Statement statement = Prepare(
            *lease,
            "UPDATE users SET "
            "failed_login_count = IF(failed_login_window_start_us IS NULL OR "
            "failed_login_window_start_us <= ?, 1, failed_login_count + 1), "
            "failed_login_window_start_us = IF(failed_login_window_start_us "
            "IS NULL OR failed_login_window_start_us <= ?, ?, "
            "failed_login_window_start_us) "
            "WHERE id = ? AND NOT (failed_login_window_start_us IS NOT NULL "
            "AND failed_login_window_start_us > ? AND failed_login_count >= "
            "?)");
        statement->setInt64(1, cutoff_us);
        statement->setInt64(2, cutoff_us);
        statement->setInt64(3, now_us);
        statement->setInt64(4, user_id);
        statement->setInt64(5, cutoff_us);
        statement->setInt(6, rule.max_failures);
        if (statement->executeUpdate() == 1) return true;
        // Locked, or no such user. (Users are never deleted, so a user that
        // did not match above because it is locked still exists here.)
        if (!UserExists(*lease, user_id)) {
          return absl::NotFoundError("user not found");
        }
        return false;
      });
}

absl::Status MysqlStore::ClearPasswordFailures(int64_t user_id) {
  return WithConnection(
      *pool_, acquire_timeout_, "ClearPasswordFailures", Idempotent::kNo,
      [&](Lease& lease) -> absl::Status {
        Statement statement =
            Prepare(*lease,
                    "UPDATE users SET failed_login_count = 0, "
                    "failed_login_window_start_us = NULL WHERE id = ?");
        statement->setInt64(1, user_id);
        // CLIENT_FOUND_ROWS: a user with no failures still matches.
        if (statement->executeUpdate() == 0) {
          return absl::NotFoundError("user not found");
        }
        return absl::OkStatus();
      });
}

// --- Personal Access Tokens ---

absl::StatusOr<InsertTokenResult> MysqlStore::InsertToken(
    const TokenRecord& token, int max_usable, const UsableAt& usable,
    const IdempotencyKey* key) {
  constexpr char kOperation[] = "InsertToken";
  ASSIGN_OR_RETURN(const TokenRow row, ToTokenRow(token, kOperation));
  if (key != nullptr) RETURN_IF_ERROR(CheckIdempotencyKey(*key, kOperation));
  const std::string family_id =
      token.family_id.empty() ? token.public_id : token.family_id;
  return RetryAborted([&]() -> absl::StatusOr<InsertTokenResult> {
    return WithConnection(
        *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
        [&](Lease& lease) -> absl::StatusOr<InsertTokenResult> {
          Transaction transaction(lease);
          // Locking the owner's row serializes inserts for one user, so
          // neither the key lookup nor the count below can go stale before
          // the insert commits. Under READ COMMITTED they see every row
          // committed before the lock was granted.
          if (!LockUser(*lease, token.user_id)) {
            return absl::NotFoundError("InsertToken: owner not found");
          }
          if (key != nullptr) {
            ASSIGN_OR_RETURN(std::optional<std::string> earlier,
                             FindIdempotencyKey(*lease, token.user_id, *key));
            if (earlier.has_value()) {
              ASSIGN_OR_RETURN(TokenRecord replayed,
                               SelectReplayedToken(*lease, *earlier));
              return InsertTokenResult{std::move(replayed), true};
            }
          }
          if (max_usable > 0 &&
              CountUsableTokens(*lease, token.user_id, usable) >= max_usable) {
            return absl::ResourceExhaustedError(
                absl::StrCat("the limit of ", max_usable,
                             " usable access tokens per user is reached"));
          }
          TokenRecord stored = InsertTokenRow(*lease, token, row, family_id);
          if (key != nullptr) {
            InsertIdempotencyKey(*lease, token.user_id, *key, stored);
          }
          transaction.Commit();
          RETURN_IF_ERROR(CheckInserted(*lease, stored.public_id, kOperation));
          return InsertTokenResult{std::move(stored), false};
        });
  });
}

absl::StatusOr<TokenRecord> MysqlStore::GetToken(absl::string_view public_id) {
  if (!IsAsciiKey(public_id)) {
    return absl::NotFoundError("access token not found");
  }
  return WithConnection(*pool_, acquire_timeout_, "GetToken", Idempotent::kYes,
                        [&](Lease& lease) -> absl::StatusOr<TokenRecord> {
                          return SelectToken(*lease, public_id);
                        });
}

absl::StatusOr<std::pair<TokenRecord, User>> MysqlStore::GetTokenAndOwner(
    absl::string_view public_id) {
  if (!IsAsciiKey(public_id)) {
    return absl::NotFoundError("access token not found");
  }
  static const std::string* const kSql = new std::string(
      absl::StrCat("SELECT ", Qualified("t", kTokenColumns), ", ",
                   Qualified("u", kUserColumns),
                   " FROM access_tokens t JOIN users u ON u.id = t.user_id"
                   " WHERE t.public_id = ?"));
  return WithConnection(
      *pool_, acquire_timeout_, "GetTokenAndOwner", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<std::pair<TokenRecord, User>> {
        // The Authenticate path (skip_cache, cache misses): kept prepared.
        sql::PreparedStatement& statement = lease.Prepared(*kSql);
        statement.setString(1, Str(public_id));
        Rows rows(statement.executeQuery());
        if (!rows->next()) return absl::NotFoundError("access token not found");
        ASSIGN_OR_RETURN(TokenRecord token, ReadToken(*rows));
        return std::make_pair(std::move(token),
                              ReadUser(*rows, kTokenColumnCount + 1));
      });
}

namespace {

// The tokens and owners of `slots` public ids.
std::string TokenLookupSql(size_t slots) {
  return absl::StrCat("SELECT ", Qualified("t", kTokenColumns), ", ",
                      Qualified("u", kUserColumns),
                      " FROM access_tokens t JOIN users u ON u.id = t.user_id"
                      " WHERE t.public_id IN (",
                      Placeholders(slots), ")");
}

}  // namespace

absl::StatusOr<std::vector<std::pair<TokenRecord, User>>>
MysqlStore::GetTokensAndOwners(absl::Span<const std::string> public_ids) {
  // Each id once (a repeat in another batch would come back twice); a
  // non-ASCII one matches no token.
  std::vector<std::string> ids;
  ids.reserve(public_ids.size());
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& id : public_ids) {
    if (IsAsciiKey(id) && seen.insert(id).second) ids.push_back(id);
  }
  // A few fixed sizes of IN list, each its own prepared statement; a batch
  // takes the smallest that fits and repeats its last id in the spare
  // places. (Grouped reads carry ~3 ids: 64 placeholders for them cost
  // MariaDB a range of 64 values to sort.)
  static const auto* const kSql = new std::array<std::string, 3>{
      TokenLookupSql(4), TokenLookupSql(16), TokenLookupSql(kTokenLookupBatch)};
  std::vector<std::pair<TokenRecord, User>> found;
  for (size_t begin = 0; begin < ids.size(); begin += kTokenLookupBatch) {
    const size_t end = std::min(ids.size(), begin + kTokenLookupBatch);
    const size_t size = end - begin;
    const size_t which = size <= 4 ? 0 : size <= 16 ? 1 : 2;
    const size_t slots = which == 0 ? 4 : which == 1 ? 16 : kTokenLookupBatch;
    absl::Status status = WithConnection(
        *pool_, acquire_timeout_, "GetTokensAndOwners", Idempotent::kYes,
        [&, mark = found.size()](Lease& lease) -> absl::Status {
          found.resize(mark);  // Nothing twice if this is a second attempt.
          sql::PreparedStatement& statement = lease.Prepared((*kSql)[which]);
          for (size_t i = 0; i < slots; ++i) {
            statement.setString(static_cast<int>(i + 1),
                                Str(ids[std::min(begin + i, end - 1)]));
          }
          Rows rows(statement.executeQuery());
          while (rows->next()) {
            ASSIGN_OR_RETURN(TokenRecord token, ReadToken(*rows));
            found.emplace_back(std::move(token),
                               ReadUser(*rows, kTokenColumnCount + 1));
          }
          return absl::OkStatus();
        });
    RETURN_IF_ERROR(status);
  }
  return found;
}

absl::StatusOr<std::vector<TokenRecord>> MysqlStore::ListTokens(
    const TokenListQuery& query) {
  if (query.limit < 1) {
    return absl::InvalidArgumentError("ListTokens: limit must be at least 1");
  }
  if (!IsValidUtf8(query.name_contains)) {
    return absl::InvalidArgumentError(
        "ListTokens: name_contains is not valid UTF-8");
  }
  return WithConnection(
      *pool_, acquire_timeout_, "ListTokens", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<std::vector<TokenRecord>> {
        // Parameters in order, all integers but the name.
        std::vector<int64_t> params = {query.user_id};
        std::string sql = absl::StrCat("SELECT ", kTokenColumns,
                                       " FROM access_tokens WHERE user_id = ?");
        if (query.before_row.has_value()) {
          absl::StrAppend(&sql, " AND id < ?");
          params.push_back(*query.before_row);
        }
        if (query.state.has_value()) {
          absl::StrAppend(&sql, " AND (",
                          TokenStateCondition(*query.state, query.at, params),
                          ")");
        }
        if (query.expire_before.has_value()) {
          absl::StrAppend(&sql,
                          " AND expire_time_us IS NOT NULL AND "
                          "expire_time_us <= ?");
          params.push_back(absl::ToUnixMicros(*query.expire_before));
        }
        // INSTR, not LIKE: no wildcards to escape. The name column is
        // utf8mb4_bin, so the match is exact, case included.
        const bool by_name = !query.name_contains.empty();
        if (by_name) absl::StrAppend(&sql, " AND INSTR(name, ?) > 0");
        absl::StrAppend(&sql, " ORDER BY id DESC LIMIT ?");

        Statement statement = Prepare(*lease, sql);
        int index = 1;
        for (int64_t param : params) statement->setInt64(index++, param);
        if (by_name) statement->setString(index++, query.name_contains);
        statement->setInt(index++, query.limit);

        Rows rows(statement->executeQuery());
        std::vector<TokenRecord> tokens;
        while (rows->next()) {
          ASSIGN_OR_RETURN(TokenRecord token, ReadToken(*rows));
          tokens.push_back(std::move(token));
        }
        return tokens;
      });
}

absl::StatusOr<TokenRecord> MysqlStore::UpdateToken(absl::string_view public_id,
                                                    const TokenUpdate& update,
                                                    absl::Time now) {
  constexpr char kOperation[] = "UpdateToken";
  std::string scopes;
  if (update.permissions.has_value()) {
    ASSIGN_OR_RETURN(scopes,
                     JoinScopes(update.permissions->scopes, kOperation));
  }
  if (!IsAsciiKey(public_id)) {
    return absl::NotFoundError("access token not found or revoked");
  }
  return WithConnection(
      *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<TokenRecord> {
        std::string sql = "UPDATE access_tokens SET update_time_us = ?";
        if (update.name.has_value()) absl::StrAppend(&sql, ", name = ?");
        if (update.expire_time.has_value()) {
          absl::StrAppend(&sql, ", expire_time_us = ?");
        }
        if (update.permissions.has_value()) {
          absl::StrAppend(&sql, ", access = ?, scopes = ?");
        }
        absl::StrAppend(&sql,
                        " WHERE public_id = ? AND revoke_time_us IS NULL");

        Statement statement = Prepare(*lease, sql);
        int index = 1;
        statement->setInt64(index++, absl::ToUnixMicros(now));
        if (update.name.has_value()) {
          statement->setString(index++, *update.name);
        }
        if (update.expire_time.has_value()) {
          BindOptionalTime(*statement, index++, *update.expire_time);
        }
        if (update.permissions.has_value()) {
          statement->setInt(index++,
                            AccessToColumn(update.permissions->access));
          statement->setString(index++, scopes);
        }
        statement->setString(index++, Str(public_id));
        // CLIENT_FOUND_ROWS: 0 means no live token matched, even when the
        // new values equal the old ones.
        if (statement->executeUpdate() == 0) {
          return absl::NotFoundError("access token not found or revoked");
        }
        return SelectToken(*lease, public_id);
      });
}

absl::StatusOr<TokenRecord> MysqlStore::RevokeToken(absl::string_view public_id,
                                                    absl::Time now) {
  if (!IsAsciiKey(public_id)) {
    return absl::NotFoundError("access token not found or already revoked");
  }
  return WithConnection(
      *pool_, acquire_timeout_, "RevokeToken", Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<TokenRecord> {
        Statement statement =
            Prepare(*lease,
                    "UPDATE access_tokens SET revoke_time_us = ?, "
                    "update_time_us = ? "
                    "WHERE public_id = ? AND revoke_time_us IS NULL");
        statement->setInt64(1, absl::ToUnixMicros(now));
        statement->setInt64(2, absl::ToUnixMicros(now));
        statement->setString(3, Str(public_id));
        if (statement->executeUpdate() == 0) {
          return absl::NotFoundError(
              "access token not found or already revoked");
        }
        return SelectToken(*lease, public_id);
      });
}

absl::StatusOr<RotateTokenResult> MysqlStore::RotateToken(
    absl::string_view old_public_id, const TokenRecord& successor,
    absl::Time now, const IdempotencyKey* key) {
  constexpr char kOperation[] = "RotateToken";
  ASSIGN_OR_RETURN(const TokenRow row, ToTokenRow(successor, kOperation));
  if (key != nullptr) RETURN_IF_ERROR(CheckIdempotencyKey(*key, kOperation));
  if (!IsAsciiKey(old_public_id)) {
    return absl::NotFoundError("access token not found");
  }
  return RetryAborted([&]() -> absl::StatusOr<RotateTokenResult> {
    return WithConnection(
        *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
        [&](Lease& lease) -> absl::StatusOr<RotateTokenResult> {
          Transaction transaction(lease);
          // The same first lock as InsertToken: rotations and creates of one
          // user run one at a time, and the key lookup cannot go stale.
          if (!LockUser(*lease, successor.user_id)) {
            return absl::NotFoundError("access token not found");
          }
          if (key != nullptr) {
            ASSIGN_OR_RETURN(
                std::optional<std::string> earlier,
                FindIdempotencyKey(*lease, successor.user_id, *key));
            if (earlier.has_value()) {
              // Not FAILED_PRECONDITION when a token of the rotation is gone:
              // for RotateToken that code means "already rotated out", which
              // callers treat as reuse and answer by revoking the family.
              absl::StatusOr<TokenRecord> made = SelectToken(*lease, *earlier);
              absl::StatusOr<TokenRecord> retired =
                  SelectToken(*lease, old_public_id);
              if (absl::IsNotFound(made.status()) ||
                  absl::IsNotFound(retired.status())) {
                return absl::NotFoundError(
                    "request_id: a token of the rotation it made no longer "
                    "exists");
              }
              if (!made.ok()) return made.status();
              if (!retired.ok()) return retired.status();
              if (retired->rotated_to != made->public_id) {
                // The key made a successor for another token.
                return absl::AlreadyExistsError(
                    "request_id: already used for a request with different "
                    "parameters");
              }
              return RotateTokenResult{*std::move(retired), *std::move(made),
                                       /*replayed=*/true};
            }
          }

          absl::StatusOr<TokenRecord> old =
              SelectToken(*lease, old_public_id, RowLock::kForUpdate);
          if (absl::IsNotFound(old.status()) ||
              (old.ok() && old->user_id != successor.user_id)) {
            return absl::NotFoundError("access token not found");
          }
          if (!old.ok()) return old.status();
          if (old->revoke_time.has_value()) {
            if (old->rotated_to.has_value()) {
              return absl::FailedPreconditionError(
                  "access token was already rotated");
            }
            return absl::NotFoundError("access token not found or revoked");
          }

          // The family id is written out on the old row too, in case it
          // predates migration 3 (NULL there means the same thing).
          Statement retire =
              Prepare(*lease,
                      "UPDATE access_tokens SET revoke_time_us = ?, "
                      "update_time_us = ?, rotated_to = ?, family_id = ? "
                      "WHERE id = ?");
          retire->setInt64(1, absl::ToUnixMicros(now));
          retire->setInt64(2, absl::ToUnixMicros(now));
          retire->setString(3, successor.public_id);
          retire->setString(4, old->family_id);
          retire->setInt64(5, old->row_id);
          retire->executeUpdate();

          RotateTokenResult result;
          result.old_token = *std::move(old);
          result.old_token.revoke_time = Truncate(now);
          result.old_token.update_time = Truncate(now);
          result.old_token.rotated_to = successor.public_id;
          result.successor = InsertTokenRow(*lease, successor, row,
                                            result.old_token.family_id);
          if (key != nullptr) {
            InsertIdempotencyKey(*lease, successor.user_id, *key,
                                 result.successor);
          }
          transaction.Commit();
          RETURN_IF_ERROR(
              CheckInserted(*lease, result.successor.public_id, kOperation));
          return result;
        });
  });
}

absl::StatusOr<int> MysqlStore::RevokeTokenFamily(absl::string_view family_id,
                                                  absl::Time now) {
  // Family ids are public ids: ASCII, never empty.
  if (family_id.empty() || !IsAsciiKey(family_id)) return 0;
  return WithConnection(
      *pool_, acquire_timeout_, "RevokeTokenFamily", Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<int> {
        // A row from before migration 3 has no family id: it is the first
        // (and only) token of the family named by its public id.
        Statement statement = Prepare(
            *lease,
            "UPDATE access_tokens SET revoke_time_us = ?, update_time_us = ? "
            "WHERE (family_id = ? OR ((family_id IS NULL OR family_id = '') "
            "AND public_id = ?)) AND revoke_time_us IS NULL");
        statement->setInt64(1, absl::ToUnixMicros(now));
        statement->setInt64(2, absl::ToUnixMicros(now));
        statement->setString(3, Str(family_id));
        statement->setString(4, Str(family_id));
        return statement->executeUpdate();
      });
}

absl::Status MysqlStore::RecordTokenUses(const std::vector<TokenUse>& uses,
                                         int max_peers) {
  constexpr char kOperation[] = "RecordTokenUses";
  if (max_peers < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(kOperation, ": max_peers must not be negative"));
  }
  // The uses of each token, in the order given, by public id.
  std::map<std::string, std::vector<const TokenUse*>> by_token;
  for (const TokenUse& use : uses) {
    // Not ASCII: names no token (see IsAsciiKey).
    if (use.public_id.empty() || !IsAsciiKey(use.public_id)) continue;
    by_token[use.public_id].push_back(&use);
  }

  // Up to kTokensPerTransaction tokens per transaction, their rows locked in
  // public id order (the order of the map and of the unique index the
  // locking read scans), so two flushers (two replicas) cannot deadlock. One
  // transaction per token made a flush of a few thousand tokens take tens of
  // seconds on a Galera cluster, where every COMMIT is a cluster round trip.
  // Authenticate reads without locks, so it never waits for a flush.
  constexpr size_t kTokensPerTransaction = 64;
  std::vector<const std::string*> chunk;
  for (auto it = by_token.begin(); it != by_token.end();) {
    chunk.clear();
    for (; it != by_token.end() && chunk.size() < kTokensPerTransaction; ++it) {
      chunk.push_back(&it->first);
    }
    RETURN_IF_ERROR(RetryAborted([&]() -> absl::Status {
      return WithConnection(
          *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
          [&](Lease& lease) -> absl::Status {
            Transaction transaction(lease);
            std::string sql =
                "SELECT id, public_id, revoke_time_us, expire_time_us, "
                "last_used_time_us, last_used_peers FROM access_tokens WHERE "
                "public_id IN (?";
            for (size_t i = 1; i < chunk.size(); ++i) sql += ", ?";
            sql += ") ORDER BY public_id FOR UPDATE";
            Statement select = Prepare(*lease, sql);
            for (size_t i = 0; i < chunk.size(); ++i) {
              select->setString(static_cast<int>(i + 1), *chunk[i]);
            }
            Rows rows(select->executeQuery());
            struct Change {
              int64_t id;
              int64_t last_used_us;
              std::string peers;
            };
            std::vector<Change> changes;
            while (rows->next()) {  // Deleted tokens have no row: skipped.
              if (!rows->isNull(3)) continue;  // Revoked.
              const int64_t id = rows->getInt64(1);
              const std::string public_id = rows->getString(2).asStdString();
              const auto uses_of = by_token.find(public_id);
              if (uses_of == by_token.end()) continue;  // Not asked for.
              const std::optional<absl::Time> expire_time =
                  OptionalTime(*rows, 4);
              std::optional<absl::Time> last_used = OptionalTime(*rows, 5);
              std::vector<std::string> peers = absl::StrSplit(
                  rows->getString(6).asStdString(), '\n', absl::SkipEmpty());

              bool changed = false;
              for (const TokenUse* use : uses_of->second) {
                const absl::Time time = Truncate(use->time);
                // A use at or after the expiration did not happen.
                if (expire_time.has_value() && *expire_time <= time) continue;
                changed = true;
                if (!last_used.has_value() || *last_used < time) {
                  last_used = time;
                }
                const std::string peer = NormalizePeer(use->peer);
                if (peer.empty()) continue;  // No address known.
                peers.erase(std::remove(peers.begin(), peers.end(), peer),
                            peers.end());
                peers.insert(peers.begin(), peer);
              }
              if (!changed) continue;
              if (peers.size() > static_cast<size_t>(max_peers)) {
                peers.resize(max_peers);
              }
              std::string joined = absl::StrJoin(peers, "\n");
              // Too many long peers for the column: drop the oldest.
              while (joined.size() > kMaxLastUsedPeersBytes) {
                peers.pop_back();
                joined = absl::StrJoin(peers, "\n");
              }
              changes.push_back(
                  {id, absl::ToUnixMicros(*last_used), std::move(joined)});
            }
            rows.reset();
            if (!changes.empty()) {
              // One statement for the whole chunk (a round trip per row made
              // the flush slow on a cluster). update_time stays: it tracks
              // edits by the owner.
              std::string sql =
                  "UPDATE access_tokens SET last_used_time_us = CASE id";
              for (size_t i = 0; i < changes.size(); ++i) {
                sql += " WHEN ? THEN ?";
              }
              sql += " END, last_used_peers = CASE id";
              for (size_t i = 0; i < changes.size(); ++i) {
                sql += " WHEN ? THEN ?";
              }
              sql += " END WHERE id IN (?";
              for (size_t i = 1; i < changes.size(); ++i) sql += ", ?";
              sql += ")";
              Statement update = Prepare(*lease, sql);
              int index = 1;
              for (const Change& c : changes) {
                update->setInt64(index++, c.id);
                update->setInt64(index++, c.last_used_us);
              }
              for (const Change& c : changes) {
                update->setInt64(index++, c.id);
                update->setString(index++, c.peers);
              }
              for (const Change& c : changes) update->setInt64(index++, c.id);
              update->executeUpdate();
            }
            transaction.Commit();
            return absl::OkStatus();
          });
    }));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TokenRecord>> MysqlStore::DeleteUnusableTokens(
    const JanitorCutoffs& cutoffs, int batch_size, absl::Time now) {
  constexpr char kOperation[] = "DeleteUnusableTokens";
  if (batch_size < 1 || batch_size > kMaxJanitorBatch) {
    return absl::InvalidArgumentError(absl::StrCat(
        kOperation, ": batch_size must be in 1..", kMaxJanitorBatch));
  }
  return RetryAborted([&]() -> absl::StatusOr<std::vector<TokenRecord>> {
    return WithConnection(
        *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
        [&](Lease& lease) -> absl::StatusOr<std::vector<TokenRecord>> {
          Transaction transaction(lease);
          // SKIP LOCKED (MariaDB 10.6+): rows another janitor (or any
          // writer) holds are left for a later run, so concurrent janitors
          // neither wait for nor delete the same rows.
          Statement select = Prepare(
              *lease,
              absl::StrCat("SELECT ", kTokenColumns,
                           " FROM access_tokens WHERE revoke_time_us < ? OR "
                           "expire_time_us < ? OR COALESCE(last_used_time_us, "
                           "create_time_us) < ? ORDER BY id LIMIT ? "
                           "FOR UPDATE SKIP LOCKED"));
          select->setInt64(1, absl::ToUnixMicros(cutoffs.revoked_before));
          select->setInt64(2, absl::ToUnixMicros(cutoffs.expired_before));
          select->setInt64(3, absl::ToUnixMicros(cutoffs.unused_before));
          select->setInt(4, batch_size);
          std::vector<TokenRecord> tokens;
          {
            Rows rows(select->executeQuery());
            while (rows->next()) {
              ASSIGN_OR_RETURN(TokenRecord token, ReadToken(*rows));
              tokens.push_back(std::move(token));
            }
          }
          if (tokens.empty()) return tokens;

          const std::string placeholders = Placeholders(tokens.size());
          Statement delete_tokens = Prepare(
              *lease, absl::StrCat("DELETE FROM access_tokens WHERE id IN (",
                                   placeholders, ")"));
          Statement delete_keys =
              Prepare(*lease, absl::StrCat("DELETE FROM idempotency_keys WHERE "
                                           "token_public_id IN (",
                                           placeholders, ")"));
          for (size_t i = 0; i < tokens.size(); ++i) {
            const int index = static_cast<int>(i) + 1;
            delete_tokens->setInt64(index, tokens[i].row_id);
            delete_keys->setString(index, tokens[i].public_id);
          }
          delete_tokens->executeUpdate();
          delete_keys->executeUpdate();

          Statement audit =
              Prepare(*lease,
                      "INSERT INTO audit_events (time_us, type, "
                      "actor_user_id, subject_user_id, object_id, "
                      "credential_kind, peer, details) "
                      "VALUES (?, ?, 0, ?, ?, '', '', ?)");
          for (const TokenRecord& token : tokens) {
            audit->setInt64(1, absl::ToUnixMicros(now));
            audit->setString(2, kJanitorDeleteEvent);
            audit->setInt64(3, token.user_id);
            audit->setString(4, token.public_id);
            audit->setString(5, JanitorReason(token, cutoffs));
            audit->executeUpdate();
          }
          transaction.Commit();
          return tokens;
        });
  });
}

absl::StatusOr<int> MysqlStore::DeleteIdempotencyKeys(absl::Time before,
                                                      int batch_size) {
  constexpr char kOperation[] = "DeleteIdempotencyKeys";
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(kOperation, ": batch_size must be at least 1"));
  }
  return WithConnection(
      *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<int> {
        Statement statement =
            Prepare(*lease,
                    "DELETE FROM idempotency_keys WHERE create_time_us < ? "
                    "ORDER BY create_time_us LIMIT ?");
        statement->setInt64(1, absl::ToUnixMicros(before));
        statement->setInt(2, batch_size);
        return statement->executeUpdate();
      });
}

// --- Audit log ---

absl::Status MysqlStore::AppendAuditEvent(const AuditEvent& event) {
  return WithConnection(
      *pool_, acquire_timeout_, "AppendAuditEvent", Idempotent::kNo,
      [&](Lease& lease) -> absl::Status {
        Statement insert =
            Prepare(*lease,
                    "INSERT INTO audit_events (time_us, type, actor_user_id, "
                    "subject_user_id, object_id, credential_kind, peer, "
                    "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        insert->setInt64(1, absl::ToUnixMicros(event.time));
        insert->setString(2, event.type);
        insert->setInt64(3, event.actor_user_id);
        insert->setInt64(4, event.subject_user_id);
        insert->setString(5, FitUtf8(event.object_id, kMaxAuditObjectIdBytes));
        insert->setString(6, event.credential_kind);
        insert->setString(7, FitUtf8(event.peer, kMaxAuditPeerBytes));
        insert->setString(8, FitUtf8(event.details, kMaxAuditDetailsBytes));
        insert->executeUpdate();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<AuditEvent>> MysqlStore::ListAuditEvents(
    const AuditQuery& query) {
  if (query.limit < 1) {
    return absl::InvalidArgumentError(
        "ListAuditEvents: limit must be at least 1");
  }
  // Types are ASCII: another one names no event (see IsAsciiKey).
  if (query.type.has_value() && !IsAsciiKey(*query.type)) {
    return std::vector<AuditEvent>();
  }
  return WithConnection(
      *pool_, acquire_timeout_, "ListAuditEvents", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<std::vector<AuditEvent>> {
        std::string sql = absl::StrCat("SELECT ", kAuditColumns,
                                       " FROM audit_events WHERE TRUE");
        if (query.user_id.has_value()) {
          absl::StrAppend(&sql,
                          " AND (actor_user_id = ? OR subject_user_id = ?)");
        }
        if (query.type.has_value()) absl::StrAppend(&sql, " AND type = ?");
        if (query.before_id.has_value()) absl::StrAppend(&sql, " AND id < ?");
        absl::StrAppend(&sql, " ORDER BY id DESC LIMIT ?");

        Statement statement = Prepare(*lease, sql);
        int index = 1;
        if (query.user_id.has_value()) {
          statement->setInt64(index++, *query.user_id);
          statement->setInt64(index++, *query.user_id);
        }
        if (query.type.has_value()) {
          statement->setString(index++, *query.type);
        }
        if (query.before_id.has_value()) {
          statement->setInt64(index++, *query.before_id);
        }
        statement->setInt(index++, query.limit);

        Rows rows(statement->executeQuery());
        std::vector<AuditEvent> events;
        while (rows->next()) events.push_back(ReadAuditEvent(*rows));
        return events;
      });
}

// --- Sessions ---

absl::StatusOr<SessionRecord> MysqlStore::InsertSession(
    const SessionRecord& session) {
  return WithConnection(
      *pool_, acquire_timeout_, "InsertSession", Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<SessionRecord> {
        Statement insert =
            Prepare(*lease,
                    "INSERT INTO sessions (handle, user_id, secret_hash, "
                    "csrf_hash, create_time_us, last_seen_time_us, "
                    "expire_time_us, end_time_us, peer, user_agent) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        insert->setString(1, session.handle);
        insert->setInt64(2, session.user_id);
        insert->setString(3, session.secret_hash);
        insert->setString(4, session.csrf_hash);
        insert->setInt64(5, absl::ToUnixMicros(session.create_time));
        insert->setInt64(6, absl::ToUnixMicros(session.last_seen_time));
        insert->setInt64(7, absl::ToUnixMicros(session.expire_time));
        BindOptionalTime(*insert, 8, session.end_time);
        insert->setString(9, session.peer);
        insert->setString(10, session.user_agent);
        try {
          insert->executeUpdate();
        } catch (const sql::SQLException& e) {
          // The foreign key: no such user. (Duplicates are ALREADY_EXISTS
          // through the common mapping.)
          if (e.getErrorCode() != kMysqlNoReferencedRow) throw;
          return absl::NotFoundError("InsertSession: user not found");
        }

        SessionRecord stored = session;
        stored.row_id = LastInsertId(*lease);
        stored.create_time = Truncate(session.create_time);
        stored.last_seen_time = Truncate(session.last_seen_time);
        stored.expire_time = Truncate(session.expire_time);
        stored.end_time = Truncate(session.end_time);
        return stored;
      });
}

absl::StatusOr<SessionRecord> MysqlStore::GetSessionBySecretHash(
    absl::string_view secret_hash) {
  if (!IsAsciiKey(secret_hash)) return absl::NotFoundError("session not found");
  return WithConnection(
      *pool_, acquire_timeout_, "GetSessionBySecretHash", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<SessionRecord> {
        return SelectSession(*lease, "secret_hash", secret_hash);
      });
}

absl::StatusOr<SessionRecord> MysqlStore::GetSession(absl::string_view handle) {
  if (!IsAsciiKey(handle)) return absl::NotFoundError("session not found");
  return WithConnection(*pool_, acquire_timeout_, "GetSession",
                        Idempotent::kYes,
                        [&](Lease& lease) -> absl::StatusOr<SessionRecord> {
                          return SelectSession(*lease, "handle", handle);
                        });
}

absl::Status MysqlStore::TouchSession(absl::string_view handle,
                                      absl::Time seen) {
  if (!IsAsciiKey(handle)) return absl::NotFoundError("session not found");
  return WithConnection(
      *pool_, acquire_timeout_, "TouchSession", Idempotent::kNo,
      [&](Lease& lease) -> absl::Status {
        Statement statement =
            Prepare(*lease,
                    "UPDATE sessions SET last_seen_time_us = "
                    "GREATEST(last_seen_time_us, ?) WHERE handle = ?");
        statement->setInt64(1, absl::ToUnixMicros(seen));
        statement->setString(2, Str(handle));
        // CLIENT_FOUND_ROWS: a touch that moves nothing still matches.
        if (statement->executeUpdate() == 0) {
          return absl::NotFoundError("session not found");
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<SessionRecord> MysqlStore::EndSession(absl::string_view handle,
                                                     absl::Time now) {
  if (!IsAsciiKey(handle)) return absl::NotFoundError("session not found");
  return WithConnection(
      *pool_, acquire_timeout_, "EndSession", Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<SessionRecord> {
        Statement statement =
            Prepare(*lease,
                    "UPDATE sessions SET end_time_us = ? "
                    "WHERE handle = ? AND end_time_us IS NULL");
        statement->setInt64(1, absl::ToUnixMicros(now));
        statement->setString(2, Str(handle));
        if (statement->executeUpdate() == 0) {
          return absl::NotFoundError("session not found or already ended");
        }
        return SelectSession(*lease, "handle", handle);
      });
}

absl::StatusOr<int> MysqlStore::EndUserSessions(int64_t user_id,
                                                absl::Time now) {
  return WithConnection(
      *pool_, acquire_timeout_, "EndUserSessions", Idempotent::kNo,
      [&](Lease& lease) -> absl::StatusOr<int> {
        Statement statement =
            Prepare(*lease,
                    "UPDATE sessions SET end_time_us = ? "
                    "WHERE user_id = ? AND end_time_us IS NULL");
        statement->setInt64(1, absl::ToUnixMicros(now));
        statement->setInt64(2, user_id);
        return statement->executeUpdate();
      });
}

absl::StatusOr<std::vector<SessionRecord>> MysqlStore::ListLiveSessions(
    int64_t user_id, const SessionLiveAt& live, int limit) {
  if (limit < 1) {
    return absl::InvalidArgumentError(
        "ListLiveSessions: limit must be at least 1");
  }
  return WithConnection(
      *pool_, acquire_timeout_, "ListLiveSessions", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<std::vector<SessionRecord>> {
        Statement statement = Prepare(
            *lease,
            absl::StrCat("SELECT ", kSessionColumns,
                         " FROM sessions WHERE user_id = ? AND end_time_us IS "
                         "NULL AND expire_time_us > ? AND last_seen_time_us "
                         ">= ? ORDER BY id DESC LIMIT ?"));
        statement->setInt64(1, user_id);
        statement->setInt64(2, absl::ToUnixMicros(live.now));
        statement->setInt64(3, absl::ToUnixMicros(live.idle_before));
        statement->setInt(4, limit);
        Rows rows(statement->executeQuery());
        std::vector<SessionRecord> sessions;
        while (rows->next()) sessions.push_back(ReadSession(*rows));
        return sessions;
      });
}

}  // namespace tokenauth
