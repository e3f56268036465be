#include "storage/migrations.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "storage/mysql_errors.h"

namespace tokenauth {
namespace {

constexpr int kLockWaitSeconds = 60;

// The lock is per database, so that deployments (or test databases) sharing
// one server do not wait for each other. MySQL caps lock names at 64
// characters; a long database name is cut, which can only make two databases
// share a lock, never let two runs on one database overlap.
constexpr char kLockName[] =
    "CONCAT('tokenauth_migrations.', LEFT(DATABASE(), 40))";

void Execute(sql::Connection& connection, const std::string& sql) {
  std::unique_ptr<sql::PreparedStatement> statement(
      connection.prepareStatement(sql));
  statement->execute();
}

// Runs the missing migrations. The caller holds the migration lock. Throws
// sql::SQLException on a database error.
absl::Status ApplyLocked(sql::Connection& connection) {
  Execute(connection,
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "version INT PRIMARY KEY, "
          "name VARCHAR(255) NOT NULL, "
          "applied_at_us BIGINT NOT NULL"
          ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");

  std::set<int> applied;
  {
    std::unique_ptr<sql::PreparedStatement> select(
        connection.prepareStatement("SELECT version FROM schema_migrations"));
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) applied.insert(rows->getInt(1));
  }

  for (const Migration& migration : AllMigrations()) {
    if (applied.count(migration.version) > 0) continue;
    const std::string operation =
        absl::StrCat("Migrate to version ", migration.version);
    try {
      for (const std::string& sql : migration.statements) {
        Execute(connection, sql);
      }
      // The database's clock: the store has no Clock, and this is a record
      // for operators only.
      std::unique_ptr<sql::PreparedStatement> record(
          connection.prepareStatement(
              "INSERT INTO schema_migrations (version, name, applied_at_us) "
              "VALUES (?, ?, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS "
              "SIGNED))"));
      record->setInt(1, migration.version);
      record->setString(2, migration.name);
      record->executeUpdate();
    } catch (const sql::SQLException& e) {
      return SqlErrorToStatus(e, operation);
    }
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration>* const migrations =
      new std::vector<Migration>{
          {1,
           "users and access tokens",
           {
               "CREATE TABLE IF NOT EXISTS users ("
               "id BIGINT AUTO_INCREMENT PRIMARY KEY, "
               "username VARCHAR(64) CHARACTER SET utf8mb4 "
               "COLLATE utf8mb4_bin NOT NULL UNIQUE, "
               "password_hash VARCHAR(255) NOT NULL, "
               "is_admin BOOLEAN NOT NULL, "
               "disabled BOOLEAN NOT NULL DEFAULT FALSE, "
               "create_time_us BIGINT NOT NULL, "
               "update_time_us BIGINT NOT NULL"
               ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

               // access: 1 = read-only, 2 = read-write. scopes: joined with
               // single spaces (a scope never contains a space). Times:
               // microseconds since the Unix epoch.
               "CREATE TABLE IF NOT EXISTS access_tokens ("
               "id BIGINT AUTO_INCREMENT PRIMARY KEY, "
               "public_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin "
               "NOT NULL UNIQUE, "
               "user_id BIGINT NOT NULL, "
               "name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin "
               "NOT NULL, "
               "value_hash CHAR(64) CHARACTER SET ascii NOT NULL, "
               "hint VARCHAR(128) NOT NULL, "
               "access TINYINT NOT NULL, "
               "scopes TEXT NOT NULL, "
               "create_time_us BIGINT NOT NULL, "
               "update_time_us BIGINT NOT NULL, "
               "expire_time_us BIGINT NULL, "
               "last_used_time_us BIGINT NULL, "
               "revoke_time_us BIGINT NULL, "
               "FOREIGN KEY (user_id) REFERENCES users(id), "
               "INDEX (user_id, id)"
               ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
           }},
          // MariaDB syntax: ADD COLUMN IF NOT EXISTS keeps the ALTER
          // idempotent, so a crash before the version is recorded only makes
          // the next start redo it. (MySQL 8 has no such clause.)
          {2,
           "failed-login lockout and sessions",
           {
               // failed_login_count: failures counted in the window that
               // started at failed_login_window_start_us (NULL: none yet).
               "ALTER TABLE users "
               "ADD COLUMN IF NOT EXISTS failed_login_count INT NOT NULL "
               "DEFAULT 0, "
               "ADD COLUMN IF NOT EXISTS failed_login_window_start_us BIGINT "
               "NULL",

               // Only hashes of the session ID and the CSRF token. Times:
               // microseconds since the Unix epoch.
               "CREATE TABLE IF NOT EXISTS sessions ("
               "id BIGINT AUTO_INCREMENT PRIMARY KEY, "
               "handle VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin "
               "NOT NULL UNIQUE, "
               "user_id BIGINT NOT NULL, "
               "secret_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin "
               "NOT NULL UNIQUE, "
               "csrf_hash CHAR(64) CHARACTER SET ascii NOT NULL, "
               "create_time_us BIGINT NOT NULL, "
               "last_seen_time_us BIGINT NOT NULL, "
               "expire_time_us BIGINT NOT NULL, "
               "end_time_us BIGINT NULL, "
               "peer VARCHAR(128) CHARACTER SET utf8mb4 NOT NULL, "
               "user_agent VARCHAR(256) CHARACTER SET utf8mb4 NOT NULL, "
               "FOREIGN KEY (user_id) REFERENCES users(id), "
               "INDEX (user_id, id)"
               ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
           }},
          // Every statement is idempotent (IF NOT EXISTS on columns, indexes
          // and tables), so a crash between them only makes the next start
          // redo the migration.
          {3,
           "token rotation, last-use peers, idempotency keys and audit log",
           {
               // family_id: the public id of the family's first token; NULL
               // (rows from before this migration) means the row's own
               // public_id. rotated_to: the successor's public id once
               // rotated out. last_used_peers: distinct peer addresses of the
               // last uses, most recent first, joined with '\n' (a peer never
               // holds one). The time indexes serve the janitor.
               "ALTER TABLE access_tokens "
               "ADD COLUMN IF NOT EXISTS family_id VARCHAR(32) CHARACTER SET "
               "ascii COLLATE ascii_bin NULL, "
               "ADD COLUMN IF NOT EXISTS rotated_to VARCHAR(32) CHARACTER SET "
               "ascii COLLATE ascii_bin NULL, "
               "ADD COLUMN IF NOT EXISTS last_used_peers VARCHAR(1024) "
               "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '', "
               "ADD INDEX IF NOT EXISTS access_tokens_family (family_id), "
               "ADD INDEX IF NOT EXISTS access_tokens_revoke_time "
               "(revoke_time_us), "
               "ADD INDEX IF NOT EXISTS access_tokens_expire_time "
               "(expire_time_us)",

               // One row per idempotent request (CreateToken, RotateToken):
               // the hex SHA-256 of its parameters and the token it made.
               // token_public_id is indexed so the janitor can drop the keys
               // of the tokens it deletes without scanning. No foreign keys:
               // rows are removed by the store, by age or with their token.
               "CREATE TABLE IF NOT EXISTS idempotency_keys ("
               "user_id BIGINT NOT NULL, "
               "method VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin "
               "NOT NULL, "
               "request_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin "
               "NOT NULL, "
               "fingerprint CHAR(64) CHARACTER SET ascii NOT NULL, "
               "token_public_id VARCHAR(32) CHARACTER SET ascii COLLATE "
               "ascii_bin NOT NULL, "
               "create_time_us BIGINT NOT NULL, "
               "PRIMARY KEY (user_id, method, request_id), "
               "INDEX idempotency_keys_create_time (create_time_us), "
               "INDEX idempotency_keys_token (token_public_id)"
               ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

               // The audit log. No foreign keys: it outlives users and
               // tokens. Never holds a secret.
               "CREATE TABLE IF NOT EXISTS audit_events ("
               "id BIGINT AUTO_INCREMENT PRIMARY KEY, "
               "time_us BIGINT NOT NULL, "
               "type VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin "
               "NOT NULL, "
               "actor_user_id BIGINT NOT NULL DEFAULT 0, "
               "subject_user_id BIGINT NOT NULL DEFAULT 0, "
               "object_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE "
               "utf8mb4_bin NOT NULL, "
               "credential_kind VARCHAR(16) CHARACTER SET ascii NOT NULL, "
               "peer VARCHAR(128) CHARACTER SET utf8mb4 NOT NULL, "
               "details VARCHAR(1024) CHARACTER SET utf8mb4 NOT NULL, "
               "INDEX audit_events_actor (actor_user_id, id), "
               "INDEX audit_events_subject (subject_user_id, id), "
               "INDEX audit_events_type (type, id)"
               ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
           }},
          {4,
           "a written owner lock for token inserts",
           {
               // Bumped by every transaction that inserts a token, as its
               // first statement (storage/mysql_store.cc LockUser): a write
               // that multi-primary clusters certify, where a SELECT ... FOR
               // UPDATE lock stays on one node. Nothing reads it.
               "ALTER TABLE users "
               "ADD COLUMN IF NOT EXISTS token_write_count BIGINT NOT NULL "
               "DEFAULT 0",
           }},
      };
  return *migrations;
}

absl::Status ApplyMigrations(sql::Connection& connection) {
  constexpr char kOperation[] = "Migrate";
  bool locked = false;
  absl::Status status;
  try {
    std::unique_ptr<sql::PreparedStatement> lock(connection.prepareStatement(
        absl::StrCat("SELECT GET_LOCK(", kLockName, ", ?)")));
    lock->setInt(1, kLockWaitSeconds);
    std::unique_ptr<sql::ResultSet> result(lock->executeQuery());
    if (!result->next() || result->isNull(1)) {
      // NULL: an error inside GET_LOCK, or no default schema selected.
      return absl::InternalError(
          "Migrate: could not take the migration lock (is a database "
          "selected?)");
    }
    if (result->getInt(1) != 1) {
      return absl::UnavailableError(
          absl::StrCat("Migrate: another server held the migration lock for ",
                       kLockWaitSeconds, "s"));
    }
    locked = true;
    status = ApplyLocked(connection);
  } catch (const sql::SQLException& e) {
    status = SqlErrorToStatus(e, kOperation);
  }
  if (locked) {
    try {
      std::unique_ptr<sql::PreparedStatement> release(
          connection.prepareStatement(
              absl::StrCat("SELECT RELEASE_LOCK(", kLockName, ")")));
      std::unique_ptr<sql::ResultSet> result(release->executeQuery());
    } catch (const sql::SQLException& e) {
      // The lock dies with the session; the caller discards the connection.
      if (status.ok()) status = SqlErrorToStatus(e, kOperation);
    }
  }
  return status;
}

}  // namespace tokenauth
