// MysqlOptions: where the MySQL/MariaDB database is and how many connections
// to keep. A plain value type; no behaviour, no locking. Declared apart from
// mysql_store.h so that the connection pool can use it too; include
// "storage/mysql_store.h" to get both.
#ifndef TOKENAUTH_STORAGE_MYSQL_OPTIONS_H_
#define TOKENAUTH_STORAGE_MYSQL_OPTIONS_H_

#include <string>

#include "absl/time/time.h"

namespace tokenauth {

struct MysqlOptions {
  // TCP endpoint, used when `socket` is empty.
  std::string host = "127.0.0.1";
  int port = 3306;
  // Unix socket path; when set, host and port are ignored.
  std::string socket;
  std::string user;
  std::string password;  // Never logged nor put in a status message.
  // Schema to use. Empty connects without a default schema (only useful for
  // administrative connections, e.g. test setup).
  std::string database;
  // Upper bound on open connections; they are opened on first need.
  int pool_size = 8;
  // How long a call waits for a free connection before UNAVAILABLE; never
  // longer than the caller's deadline allows (core/call_deadline.h).
  absl::Duration acquire_timeout = absl::Seconds(5);
  // Timeouts of pooled connections, in whole seconds (at least 1): opening
  // one (TCP connect and the server's greeting), and each read or write of a
  // statement. Queries here are small point lookups, so a statement that gets
  // no answer for io_timeout means the database is stuck, not busy.
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration io_timeout = absl::Seconds(3);
  // Connect and I/O timeout of MysqlStore::Ping's own connection, so that a
  // database that stopped answering (frozen, or a network partition) is
  // noticed within about this long.
  absl::Duration ping_timeout = absl::Seconds(1);
  // After a failed Ping, calls fail at once with UNAVAILABLE, without waiting
  // on the database, until a Ping succeeds or this long has passed since the
  // failure (so a store that nobody pings any more tries again by itself).
  // Zero turns failing fast off.
  absl::Duration fail_fast_for = absl::Seconds(5);
};

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_MYSQL_OPTIONS_H_
