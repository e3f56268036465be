#include "storage/mysql_store.h"

#include <cppconn/connection.h>
#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <exception>
#include <optional>
#include <string>
#include <utility>

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

}  // namespace tokenauth
