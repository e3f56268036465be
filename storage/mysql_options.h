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
  // How long a call waits for a free connection before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(5);
};

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_MYSQL_OPTIONS_H_
