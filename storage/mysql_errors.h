// Conversion of MySQL Connector/C++ exceptions into absl::Status, the single
// place where storage/ decides what a database error means to callers.
// Stateless free functions; thread-safe.
//
// The returned messages name the operation and the MySQL error code and
// SQLSTATE only. They never carry the server's message text for statement
// errors, because MySQL echoes bound values in some of them (a duplicate-key
// error quotes the key, which may be a hash or a secret).
#ifndef TOKENAUTH_STORAGE_MYSQL_ERRORS_H_
#define TOKENAUTH_STORAGE_MYSQL_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sql {
class SQLException;
}  // namespace sql

namespace tokenauth {

// MySQL / MariaDB error numbers the storage layer reacts to.
inline constexpr int kMysqlDuplicateKey = 1062;     // ER_DUP_ENTRY
inline constexpr int kMysqlLockWaitTimeout = 1205;  // ER_LOCK_WAIT_TIMEOUT
inline constexpr int kMysqlDeadlock = 1213;         // ER_LOCK_DEADLOCK
inline constexpr int kMysqlNoReferencedRow = 1452;  // ER_NO_REFERENCED_ROW_2

// True if `e` means the connection itself is unusable (could not connect,
// server gone away, lost connection, SQLSTATE class 08, ...). Such a
// connection must be discarded, never reused.
bool IsConnectionError(const sql::SQLException& e);

// Maps `e` to a status:
//   1062 duplicate key                     -> ALREADY_EXISTS
//   connection errors (IsConnectionError)  -> UNAVAILABLE
//   1213 deadlock, 1205 lock wait timeout  -> ABORTED
//   a value that does not fit its column   -> INVALID_ARGUMENT
//     (1406 too long, 1366 bad string, 1265 truncated, 1264 out of range)
//   anything else                          -> INTERNAL
// `operation` is a short, fixed name such as "InsertToken"; it starts the
// message. It must not contain request data.
absl::Status SqlErrorToStatus(const sql::SQLException& e,
                              absl::string_view operation);

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_MYSQL_ERRORS_H_
