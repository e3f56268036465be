// Schema migrations: the numbered list of schema changes and the routine that
// brings a database up to date. Applied by MysqlStore::Migrate() at server
// start.
//
// Applying is idempotent and safe when several servers start at once: it runs
// under a MySQL named lock (GET_LOCK) held for the whole run, and records each
// applied version in `schema_migrations`. Every statement of a migration is
// itself idempotent (CREATE TABLE IF NOT EXISTS, ...), so a crash between a
// migration's statements and its record only makes the next start redo it.
//
// Thread-safety: the list is immutable; ApplyMigrations uses only the
// connection it is given, which the caller must not share meanwhile.
#ifndef TOKENAUTH_STORAGE_MIGRATIONS_H_
#define TOKENAUTH_STORAGE_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sql {
class Connection;
}  // namespace sql

namespace tokenauth {

struct Migration {
  int version;  // 1, 2, 3, ... in order, never reused.
  std::string name;
  std::vector<std::string> statements;  // Run in order; no parameters.
};

// Every migration, ascending by version. Append new ones at the end; never
// change one that has shipped.
const std::vector<Migration>& AllMigrations();

// Applies the migrations missing from the connection's default schema. Waits
// up to 60s for another server's run to finish (UNAVAILABLE if it does not).
// Errors are mapped as in SqlErrorToStatus; after a failure the caller should
// discard the connection rather than reuse it.
absl::Status ApplyMigrations(sql::Connection& connection);

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_MIGRATIONS_H_
