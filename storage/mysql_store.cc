#include "storage/mysql_store.h"

#include <cppconn/connection.h>
#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <utility>

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

// How many times InsertToken runs its transaction when the database aborts it
// (deadlock, lock wait timeout) before returning ABORTED.
constexpr int kMaxTransactionAttempts = 3;

constexpr char kUserColumns[] =
    "id, username, password_hash, is_admin, disabled, create_time_us, "
    "update_time_us";
constexpr char kTokenColumns[] =
    "id, public_id, user_id, name, value_hash, hint, access, scopes, "
    "create_time_us, update_time_us, expire_time_us, last_used_time_us, "
    "revoke_time_us";
constexpr char kSessionColumns[] =
    "id, handle, user_id, secret_hash, csrf_hash, create_time_us, "
    "last_seen_time_us, expire_time_us, end_time_us, peer, user_agent";
// UsableAt as SQL; binds two parameters: now, stale_before.
constexpr char kUsableCondition[] =
    "revoke_time_us IS NULL AND (expire_time_us IS NULL OR expire_time_us > ?)"
    " AND COALESCE(last_used_time_us, create_time_us) >= ?";

// Schema changes may take long on big tables; the pool's 10s would cut them.
constexpr absl::Duration kMigrationIoTimeout = absl::Minutes(30);

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
    lease_->commit();
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

User ReadUser(const sql::ResultSet& rows) {
  User user;
  user.id = rows.getInt64(1);
  user.username = rows.getString(2).asStdString();
  user.password_hash = rows.getString(3).asStdString();
  user.admin = rows.getBoolean(4);
  user.disabled = rows.getBoolean(5);
  user.create_time = absl::FromUnixMicros(rows.getInt64(6));
  user.update_time = absl::FromUnixMicros(rows.getInt64(7));
  return user;
}

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
  return token;
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

absl::StatusOr<TokenRecord> SelectToken(sql::Connection& connection,
                                        absl::string_view public_id) {
  Statement statement = Prepare(
      connection, absl::StrCat("SELECT ", kTokenColumns,
                               " FROM access_tokens WHERE public_id = ?"));
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

// Session handles and hashes are ASCII columns. A key with other bytes names
// no row, and binding it would fail the comparison (MySQL error 1267), so
// callers answer NOT_FOUND without asking the database.
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
  return std::unique_ptr<MysqlStore>(new MysqlStore(options));
}

MysqlStore::MysqlStore(const MysqlOptions& options)
    : options_(options),
      acquire_timeout_(options.acquire_timeout),
      pool_(std::make_unique<ConnectionPool>(options)) {}

MysqlStore::~MysqlStore() = default;

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
  return WithConnection(*pool_, acquire_timeout_, "Ping", Idempotent::kYes,
                        [](Lease& lease) -> absl::Status {
                          Statement statement = Prepare(*lease, "SELECT 1");
                          Rows rows(statement->executeQuery());
                          return absl::OkStatus();
                        });
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

absl::StatusOr<TokenRecord> MysqlStore::InsertToken(const TokenRecord& token,
                                                    int max_usable,
                                                    const UsableAt& usable) {
  constexpr char kOperation[] = "InsertToken";
  ASSIGN_OR_RETURN(const std::string scopes,
                   JoinScopes(token.permissions.scopes, kOperation));
  absl::StatusOr<TokenRecord> result;
  for (int attempt = 0; attempt < kMaxTransactionAttempts; ++attempt) {
    result = WithConnection(
        *pool_, acquire_timeout_, kOperation, Idempotent::kNo,
        [&](Lease& lease) -> absl::StatusOr<TokenRecord> {
          Transaction transaction(lease);
          // Locking the owner's row serializes inserts for one user, so the
          // count below cannot go stale before the insert commits. Under READ
          // COMMITTED the count sees every token committed before the lock.
          {
            Statement lock =
                Prepare(*lease, "SELECT id FROM users WHERE id = ? FOR UPDATE");
            lock->setInt64(1, token.user_id);
            Rows rows(lock->executeQuery());
            if (!rows->next()) {
              return absl::NotFoundError("InsertToken: owner not found");
            }
          }
          if (max_usable > 0) {
            Statement count = Prepare(
                *lease, absl::StrCat("SELECT COUNT(*) FROM access_tokens "
                                     "WHERE user_id = ? AND ",
                                     kUsableCondition));
            count->setInt64(1, token.user_id);
            count->setInt64(2, absl::ToUnixMicros(usable.now));
            count->setInt64(3, absl::ToUnixMicros(usable.stale_before));
            Rows rows(count->executeQuery());
            rows->next();
            if (rows->getInt64(1) >= max_usable) {
              return absl::ResourceExhaustedError(
                  absl::StrCat("the limit of ", max_usable,
                               " usable access tokens per user is reached"));
            }
          }
          Statement insert =
              Prepare(*lease,
                      "INSERT INTO access_tokens (public_id, user_id, name, "
                      "value_hash, hint, access, scopes, create_time_us, "
                      "update_time_us, expire_time_us, last_used_time_us, "
                      "revoke_time_us) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
          insert->setString(1, token.public_id);
          insert->setInt64(2, token.user_id);
          insert->setString(3, token.name);
          insert->setString(4, token.value_hash);
          insert->setString(5, token.hint);
          insert->setInt(6, AccessToColumn(token.permissions.access));
          insert->setString(7, scopes);
          insert->setInt64(8, absl::ToUnixMicros(token.create_time));
          insert->setInt64(9, absl::ToUnixMicros(token.update_time));
          BindOptionalTime(*insert, 10, token.expire_time);
          BindOptionalTime(*insert, 11, token.last_used_time);
          BindOptionalTime(*insert, 12, token.revoke_time);
          insert->executeUpdate();
          const int64_t row_id = LastInsertId(*lease);
          transaction.Commit();

          TokenRecord stored = token;
          stored.row_id = row_id;
          stored.create_time = Truncate(token.create_time);
          stored.update_time = Truncate(token.update_time);
          stored.expire_time = Truncate(token.expire_time);
          stored.last_used_time = Truncate(token.last_used_time);
          stored.revoke_time = Truncate(token.revoke_time);
          return stored;
        });
    if (!absl::IsAborted(result.status())) break;
  }
  return result;
}

absl::StatusOr<TokenRecord> MysqlStore::GetToken(absl::string_view public_id) {
  return WithConnection(*pool_, acquire_timeout_, "GetToken", Idempotent::kYes,
                        [&](Lease& lease) -> absl::StatusOr<TokenRecord> {
                          return SelectToken(*lease, public_id);
                        });
}

absl::StatusOr<std::vector<TokenRecord>> MysqlStore::ListTokens(
    const TokenListQuery& query) {
  if (query.limit < 1) {
    return absl::InvalidArgumentError("ListTokens: limit must be at least 1");
  }
  return WithConnection(
      *pool_, acquire_timeout_, "ListTokens", Idempotent::kYes,
      [&](Lease& lease) -> absl::StatusOr<std::vector<TokenRecord>> {
        std::string sql = absl::StrCat("SELECT ", kTokenColumns,
                                       " FROM access_tokens WHERE user_id = ?");
        if (query.before_row.has_value()) absl::StrAppend(&sql, " AND id < ?");
        if (query.usable_only.has_value()) {
          absl::StrAppend(&sql, " AND ", kUsableCondition);
        }
        absl::StrAppend(&sql, " ORDER BY id DESC LIMIT ?");

        Statement statement = Prepare(*lease, sql);
        int index = 1;
        statement->setInt64(index++, query.user_id);
        if (query.before_row.has_value()) {
          statement->setInt64(index++, *query.before_row);
        }
        if (query.usable_only.has_value()) {
          statement->setInt64(index++,
                              absl::ToUnixMicros(query.usable_only->now));
          statement->setInt64(
              index++, absl::ToUnixMicros(query.usable_only->stale_before));
        }
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
