#include "storage/connection_pool.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <mysql_driver.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tokenauth {
namespace {

constexpr int kConnectTimeoutSeconds = 2;

// get_mysql_driver_instance() is not safe to call concurrently the first
// time; a function-local static makes the first call happen once.
sql::mysql::MySQL_Driver* Driver() {
  static sql::mysql::MySQL_Driver* const driver =
      sql::mysql::get_mysql_driver_instance();
  return driver;
}

std::string HostUri(const MysqlOptions& options) {
  if (!options.socket.empty()) return absl::StrCat("unix://", options.socket);
  if (absl::StrContains(options.host, ':')) {  // IPv6 literal.
    return absl::StrCat("tcp://[", options.host, "]:", options.port);
  }
  return absl::StrCat("tcp://", options.host, ":", options.port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<sql::Connection>> OpenMysqlConnection(
    const MysqlOptions& options, absl::Duration io_timeout) {
  const int io_timeout_seconds = static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Seconds(io_timeout), 1, 24 * 3600));
  sql::ConnectOptionsMap properties;
  properties["hostName"] = sql::SQLString(HostUri(options));
  properties["userName"] = sql::SQLString(options.user);
  properties["password"] = sql::SQLString(options.password);
  if (!options.database.empty()) {
    properties["schema"] = sql::SQLString(options.database);
  }
  properties["OPT_CONNECT_TIMEOUT"] = kConnectTimeoutSeconds;
  properties["OPT_READ_TIMEOUT"] = io_timeout_seconds;
  properties["OPT_WRITE_TIMEOUT"] = io_timeout_seconds;
  properties["OPT_RECONNECT"] = false;
  properties["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  // Some Connector/C++ 1.1 builds default character_set_results to utf8
  // (3-byte), which would mangle 4-byte characters; say it explicitly.
  properties["characterSetResults"] = sql::SQLString("utf8mb4");
  properties["CLIENT_FOUND_ROWS"] = true;
  try {
    std::unique_ptr<sql::Connection> connection(Driver()->connect(properties));
    // Each statement sees the latest committed rows; the token limit relies
    // on this after it locks the owner's row (see MysqlStore::InsertToken).
    connection->setTransactionIsolation(sql::TRANSACTION_READ_COMMITTED);
    // Whatever the server's defaults: a value too long for its column, or
    // not valid in its character set, is an error, never silently cut; and a
    // lock wait ends (as ABORTED) well before the client's read timeout.
    std::unique_ptr<sql::PreparedStatement> set_mode(
        connection->prepareStatement(
            "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,"
            "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', "
            "innodb_lock_wait_timeout = 5"));
    set_mode->execute();
    return connection;
  } catch (const sql::SQLException& e) {
    // Nothing of the request is in a connect error, and its text (host,
    // socket, "Access denied for user ...") is what an operator needs.
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to the database: MySQL error ", e.getErrorCode(),
        " (SQLSTATE ", e.getSQLState(), "): ", e.what()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to the database: ", e.what()));
  }
}

// --- Lease ---

ConnectionPool::Lease::Lease(ConnectionPool* pool,
                             std::unique_ptr<sql::Connection> connection,
                             bool reused)
    : pool_(pool), connection_(std::move(connection)), reused_(reused) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      connection_(std::move(other.connection_)),
      reused_(other.reused_),
      discard_(other.discard_) {}

ConnectionPool::Lease& ConnectionPool::Lease::operator=(
    Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    connection_ = std::move(other.connection_);
    reused_ = other.reused_;
    discard_ = other.discard_;
  }
  return *this;
}

ConnectionPool::Lease::~Lease() { Release(); }

void ConnectionPool::Lease::Release() {
  if (connection_ != nullptr) pool_->Release(std::move(connection_), discard_);
}

// --- ConnectionPool ---

ConnectionPool::ConnectionPool(MysqlOptions options)
    : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() {
  absl::MutexLock lock(&mu_);
  // A live lease would hand its connection back to a destroyed pool.
  if (open_ != static_cast<int>(idle_.size())) std::terminate();
}

bool ConnectionPool::CanAcquireLocked() const {
  return !idle_.empty() || open_ < options_.pool_size;
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(
    absl::Duration wait) {
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(
            absl::Condition(this, &ConnectionPool::CanAcquireLocked), wait)) {
      return absl::UnavailableError(absl::StrCat(
          "no free database connection within ", absl::FormatDuration(wait),
          " (pool size ", options_.pool_size, ")"));
    }
    if (!idle_.empty()) {
      std::unique_ptr<sql::Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection), /*reused=*/true);
    }
    ++open_;  // Reserve the slot; connect without holding the lock.
  }
  absl::StatusOr<std::unique_ptr<sql::Connection>> connection =
      OpenMysqlConnection(options_);
  if (!connection.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return connection.status();
  }
  return Lease(this, *std::move(connection), /*reused=*/false);
}

void ConnectionPool::Release(std::unique_ptr<sql::Connection> connection,
                             bool discard) {
  // Connections to close; closed after the lock is dropped because closing
  // may talk to the server.
  std::vector<std::unique_ptr<sql::Connection>> to_close;
  {
    absl::MutexLock lock(&mu_);
    if (!discard) {
      idle_.push_back(std::move(connection));
      return;
    }
    to_close.push_back(std::move(connection));
    // One connection-level failure usually means the server went away; the
    // idle ones are then dead too, and would each fail one more call.
    for (auto& idle : idle_) to_close.push_back(std::move(idle));
    idle_.clear();
    open_ -= static_cast<int>(to_close.size());
  }
  to_close.clear();
}

int ConnectionPool::open_connections() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

int ConnectionPool::idle_connections() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(idle_.size());
}

}  // namespace tokenauth
