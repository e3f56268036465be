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
#include "core/call_deadline.h"

namespace tokenauth {
namespace {

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

// Whole seconds, rounded up, at least 1 (Connector/C++ takes integers).
int WholeSeconds(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(
      absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))), 1, 24 * 3600));
}

}  // namespace

absl::StatusOr<std::unique_ptr<sql::Connection>> OpenMysqlConnection(
    const MysqlOptions& options, absl::Duration io_timeout) {
  const int io_timeout_seconds = WholeSeconds(io_timeout);
  // Shorter than the I/O timeout, so that a long lock wait comes back as an
  // error (ABORTED, retried) before the client gives up on the connection.
  const int lock_wait_seconds = std::clamp(io_timeout_seconds - 1, 1, 5);
  sql::ConnectOptionsMap properties;
  properties["hostName"] = sql::SQLString(HostUri(options));
  properties["userName"] = sql::SQLString(options.user);
  properties["password"] = sql::SQLString(options.password);
  if (!options.database.empty()) {
    properties["schema"] = sql::SQLString(options.database);
  }
  properties["OPT_CONNECT_TIMEOUT"] = WholeSeconds(options.connect_timeout);
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
        connection->prepareStatement(absl::StrCat(
            "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,"
            "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', "
            "innodb_lock_wait_timeout = ",
            lock_wait_seconds)));
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

ConnectionPool::Pooled::~Pooled() {
  statements.clear();  // Before the connection they belong to.
}

ConnectionPool::Lease::Lease(ConnectionPool* pool,
                             std::unique_ptr<Pooled> pooled, bool reused,
                             uint64_t generation)
    : pool_(pool),
      pooled_(std::move(pooled)),
      reused_(reused),
      generation_(generation) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      pooled_(std::move(other.pooled_)),
      reused_(other.reused_),
      discard_(other.discard_),
      generation_(other.generation_) {}

ConnectionPool::Lease& ConnectionPool::Lease::operator=(
    Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    pooled_ = std::move(other.pooled_);
    reused_ = other.reused_;
    discard_ = other.discard_;
    generation_ = other.generation_;
  }
  return *this;
}

ConnectionPool::Lease::~Lease() { Release(); }

void ConnectionPool::Lease::Release() {
  if (pooled_ != nullptr) {
    pool_->Release(std::move(pooled_), discard_, generation_);
  }
}

sql::PreparedStatement& ConnectionPool::Lease::Prepared(
    const std::string& sql) {
  std::unique_ptr<sql::PreparedStatement>& slot = pooled_->statements[sql];
  if (slot == nullptr) slot.reset(pooled_->connection->prepareStatement(sql));
  return *slot;
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

bool ConnectionPool::CanAcquireOrDownLocked() const {
  return CanAcquireLocked() || DownLocked(absl::Now());
}

bool ConnectionPool::DownLocked(absl::Time now) const {
  return down_until_.has_value() && now < *down_until_;
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(
    absl::Duration wait, Purpose purpose) {
  const absl::Time now = absl::Now();
  // Infinite when the thread serves no call with a deadline.
  const absl::Duration deadline_left =
      CurrentCallDeadline() - kCallDeadlineMargin - now;
  const bool capped_by_deadline = deadline_left < wait;
  if (capped_by_deadline) wait = std::max(deadline_left, absl::ZeroDuration());
  {
    absl::MutexLock lock(&mu_);
    const bool fail_fast = purpose == Purpose::kCall;
    auto down_error = [&] {
      return absl::UnavailableError(absl::StrCat(
          "database unavailable, not waiting for it (last health check: ",
          down_reason_, ")"));
    };
    if (fail_fast && DownLocked(now)) {
      ++acquire_failures_;
      return down_error();
    }
    if (!CanAcquireLocked()) ++acquire_waits_;
    const bool woken = mu_.AwaitWithTimeout(
        fail_fast
            ? absl::Condition(this, &ConnectionPool::CanAcquireOrDownLocked)
            : absl::Condition(this, &ConnectionPool::CanAcquireLocked),
        wait);
    if (!CanAcquireLocked()) {
      ++acquire_failures_;
      if (woken && fail_fast) return down_error();
      return absl::UnavailableError(absl::StrCat(
          "no free database connection within ", absl::FormatDuration(wait),
          capped_by_deadline ? ", all the call's deadline left" : "",
          " (pool size ", options_.pool_size, ")"));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Pooled> pooled = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(pooled), /*reused=*/true, generation_);
    }
    ++open_;  // Reserve the slot; connect without holding the lock.
  }
  absl::StatusOr<Lease> lease = OpenReserved();
  if (!lease.ok()) {
    absl::MutexLock lock(&mu_);
    ++acquire_failures_;
  }
  return lease;
}

absl::StatusOr<std::optional<ConnectionPool::Lease>>
ConnectionPool::TryAcquireForProbe() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Pooled> pooled = std::move(idle_.back());
      idle_.pop_back();
      return std::optional<Lease>(
          Lease(this, std::move(pooled), /*reused=*/true, generation_));
    }
    if (open_ >= options_.pool_size) return std::optional<Lease>();
    ++open_;
  }
  absl::StatusOr<Lease> lease = OpenReserved();
  if (!lease.ok()) return lease.status();
  return std::optional<Lease>(*std::move(lease));
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::OpenReserved() {
  absl::StatusOr<std::unique_ptr<sql::Connection>> connection =
      OpenMysqlConnection(options_, options_.io_timeout);
  absl::MutexLock lock(&mu_);
  if (!connection.ok()) {
    --open_;
    return connection.status();
  }
  auto pooled = std::make_unique<Pooled>();
  pooled->connection = *std::move(connection);
  return Lease(this, std::move(pooled), /*reused=*/false, generation_);
}

void ConnectionPool::MarkDown(absl::Time until, absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  down_until_ = until;
  down_reason_ = std::string(reason);
}

void ConnectionPool::MarkUp() {
  bool was_down;
  {
    absl::MutexLock lock(&mu_);
    was_down = down_until_.has_value();
    down_until_.reset();
    down_reason_.clear();
  }
  if (was_down) Reset();
}

bool ConnectionPool::marked_down() const {
  absl::MutexLock lock(&mu_);
  return DownLocked(absl::Now());
}

void ConnectionPool::Reset() {
  std::vector<std::unique_ptr<Pooled>> to_close;
  {
    absl::MutexLock lock(&mu_);
    ++generation_;
    to_close.swap(idle_);
    open_ -= static_cast<int>(to_close.size());
  }
  // Closed without the lock: closing may talk to the server.
  to_close.clear();
}

void ConnectionPool::Release(std::unique_ptr<Pooled> pooled, bool discard,
                             uint64_t generation) {
  // Connections to close; closed after the lock is dropped because closing
  // may talk to the server.
  std::vector<std::unique_ptr<Pooled>> to_close;
  {
    absl::MutexLock lock(&mu_);
    if (!discard && generation == generation_) {
      idle_.push_back(std::move(pooled));
      return;
    }
    to_close.push_back(std::move(pooled));
    if (discard) {
      // One connection-level failure usually means the server went away;
      // the idle ones are then dead too, and would each fail one more call.
      for (auto& idle : idle_) to_close.push_back(std::move(idle));
      idle_.clear();
    }
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

ConnectionPool::Stats ConnectionPool::stats() const {
  absl::MutexLock lock(&mu_);
  Stats stats;
  stats.size = options_.pool_size;
  stats.open = open_;
  stats.idle = static_cast<int>(idle_.size());
  stats.acquire_waits = acquire_waits_;
  stats.acquire_failures = acquire_failures_;
  return stats;
}

}  // namespace tokenauth
