#include "storage/mysql_errors.h"

#include <cppconn/exception.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tokenauth {
namespace {

// Client (2xxx) and server error numbers that mean the connection is gone or
// could not be made.
bool IsConnectionErrorCode(int code) {
  switch (code) {
    case 1040:  // ER_CON_COUNT_ERROR: too many connections.
    case 1053:  // ER_SERVER_SHUTDOWN: shutdown in progress.
    case 1927:  // ER_CONNECTION_KILLED (MariaDB).
    case 2002:  // CR_CONNECTION_ERROR: cannot connect through the socket.
    case 2003:  // CR_CONN_HOST_ERROR: cannot connect to host:port.
    case 2005:  // CR_UNKNOWN_HOST.
    case 2006:  // CR_SERVER_GONE_ERROR.
    case 2013:  // CR_SERVER_LOST.
    case 2055:  // CR_SERVER_LOST_EXTENDED.
    case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8 idle disconnect).
      return true;
    default:
      return false;
  }
}

// Errors a strict sql_mode raises for a value that does not fit its column:
// caused by the request, not by the database.
bool IsValueErrorCode(int code) {
  switch (code) {
    case 1264:  // ER_WARN_DATA_OUT_OF_RANGE.
    case 1265:  // WARN_DATA_TRUNCATED.
    case 1366:  // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (bad string value).
    case 1406:  // ER_DATA_TOO_LONG.
      return true;
    default:
      return false;
  }
}

std::string CodeAndState(const sql::SQLException& e) {
  return absl::StrCat("MySQL error ", e.getErrorCode(), " (SQLSTATE ",
                      e.getSQLState().empty() ? "none" : e.getSQLState(), ")");
}

}  // namespace

bool IsConnectionError(const sql::SQLException& e) {
  return IsConnectionErrorCode(e.getErrorCode()) ||
         absl::StartsWith(e.getSQLState(), "08");
}

absl::Status SqlErrorToStatus(const sql::SQLException& e,
                              absl::string_view operation) {
  const int code = e.getErrorCode();
  if (code == kMysqlDuplicateKey) {
    // The server message quotes the duplicate value: never pass it on.
    return absl::AlreadyExistsError(
        absl::StrCat(operation, ": a row with the same unique key exists"));
  }
  if (IsConnectionError(e)) {
    // Connection-level messages (host, port, socket, "server has gone away")
    // carry no statement data, and they are what an operator needs.
    return absl::UnavailableError(
        absl::StrCat(operation, ": database unavailable: ", CodeAndState(e),
                     ": ", e.what()));
  }
  if (code == kMysqlDeadlock || code == kMysqlLockWaitTimeout) {
    return absl::AbortedError(absl::StrCat(
        operation, ": transaction conflict, retry: ", CodeAndState(e)));
  }
  if (IsValueErrorCode(code)) {
    // The server message may quote the value; name the problem only.
    return absl::InvalidArgumentError(absl::StrCat(
        operation, ": a value does not fit its column: ", CodeAndState(e)));
  }
  return absl::InternalError(
      absl::StrCat(operation, ": database error: ", CodeAndState(e)));
}

}  // namespace tokenauth
