// ConnectionPool: a bounded set of MySQL Connector/C++ connections to one
// database, opened lazily, handed out as move-only RAII leases.
//
// Ownership: the pool owns every idle connection; a Lease owns its connection
// while it lives and gives it back to the pool when destroyed. A lease whose
// connection failed at the connection level must be Discard()ed: the pool then
// closes it (and every idle connection, which is likely dead for the same
// reason, e.g. a database restart) instead of reusing it, so the pool heals
// once the database is back. Every lease must be destroyed before the pool.
//
// Thread-safety: ConnectionPool is thread-safe. A Lease (and the connection
// it holds) is used by one thread at a time.
//
// Internal to storage/: the rest of the project sees only MysqlStore.
#ifndef TOKENAUTH_STORAGE_CONNECTION_POOL_H_
#define TOKENAUTH_STORAGE_CONNECTION_POOL_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/mysql_options.h"

namespace sql {
class Connection;
}  // namespace sql

namespace tokenauth {

// Read and write timeout of pooled connections: a statement that gets no
// answer for this long fails as UNAVAILABLE and its connection is dropped.
inline constexpr absl::Duration kMysqlIoTimeout = absl::Seconds(10);

// Opens one connection with the options every tokenauth connection uses:
// connect timeout 2s, read/write timeouts `io_timeout` (whole seconds, at
// least 1), no automatic reconnect, utf8mb4 both ways, READ COMMITTED
// isolation, a strict sql_mode, InnoDB lock waits of at most 5s (shorter than
// the I/O timeout, so a long lock wait is ABORTED rather than a lost
// connection), and CLIENT_FOUND_ROWS (an UPDATE reports the rows it matched,
// not only those it changed). Connects without a default schema when
// options.database is empty. Any failure is UNAVAILABLE; the message carries
// the MySQL error but never the password.
absl::StatusOr<std::unique_ptr<sql::Connection>> OpenMysqlConnection(
    const MysqlOptions& options, absl::Duration io_timeout = kMysqlIoTimeout);

class ConnectionPool {
 public:
  // A leased connection. Move-only; returns the connection on destruction.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    sql::Connection& operator*() const { return *connection_; }
    sql::Connection* operator->() const { return connection_.get(); }

    // Marks the connection broken: it is closed, not reused, on release.
    void Discard() { discard_ = true; }

    // True if the connection was idle in the pool (it may have died there,
    // e.g. when the server restarted); false if it was opened for this lease.
    bool reused() const { return reused_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<sql::Connection> connection,
          bool reused);
    void Release();

    ConnectionPool* pool_;
    std::unique_ptr<sql::Connection> connection_;
    bool reused_;
    bool discard_ = false;
  };

  // Connects lazily with `options` (see OpenMysqlConnection); keeps at most
  // options.pool_size (>= 1) connections open. Does not connect here.
  explicit ConnectionPool(MysqlOptions options);
  ~ConnectionPool();

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Returns an idle connection, or opens one if fewer than pool_size are
  // open, or waits up to `wait` for one to be released. UNAVAILABLE when the
  // wait runs out or a new connection cannot be opened.
  absl::StatusOr<Lease> Acquire(absl::Duration wait);

  // Connections currently open (idle, leased, or being opened).
  int open_connections() const;
  // Connections waiting in the pool.
  int idle_connections() const;

 private:
  bool CanAcquireLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(std::unique_ptr<sql::Connection> connection, bool discard);

  const MysqlOptions options_;
  mutable absl::Mutex mu_;
  // Most recently released last (reused first, so spare ones can time out).
  std::vector<std::unique_ptr<sql::Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_CONNECTION_POOL_H_
