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
// Waiting and failing fast: a caller never waits for a connection past
// shortly before the deadline of the call its thread serves
// (core/call_deadline.h). The pool also remembers whether the database was
// last seen down (MarkDown/MarkUp, driven by MysqlStore::Ping); while it is,
// Acquire fails at once instead of handing out connections that would only
// hang on a dead or frozen server.
//
// Thread-safety: ConnectionPool is thread-safe. A Lease (and the connection
// it holds) is used by one thread at a time.
//
// Internal to storage/: the rest of the project sees only MysqlStore.
#ifndef TOKENAUTH_STORAGE_CONNECTION_POOL_H_
#define TOKENAUTH_STORAGE_CONNECTION_POOL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/mysql_options.h"

namespace sql {
class Connection;
class PreparedStatement;
}  // namespace sql

namespace tokenauth {

// Read and write timeout of one-off connections (tests, tools) opened with
// OpenMysqlConnection's default; pooled connections use
// MysqlOptions::io_timeout.
inline constexpr absl::Duration kMysqlIoTimeout = absl::Seconds(10);

// A caller's wait for a connection ends this long before its call's deadline,
// so that the UNAVAILABLE reaches the client before the client gives up.
inline constexpr absl::Duration kCallDeadlineMargin = absl::Milliseconds(100);

// Opens one connection with the options every tokenauth connection uses:
// connect timeout options.connect_timeout, read/write timeouts `io_timeout`
// (both whole seconds, at least 1), no automatic reconnect, utf8mb4 both
// ways, READ COMMITTED isolation, a strict sql_mode, InnoDB lock waits of at
// most 5s and at least 1s shorter than the I/O timeout when it allows (so a
// long lock wait is ABORTED rather than a lost connection), and
// CLIENT_FOUND_ROWS (an UPDATE reports the rows it matched, not only those it
// changed). Connects without a default schema when options.database is
// empty. Any failure is UNAVAILABLE; the message carries the MySQL error but
// never the password.
absl::StatusOr<std::unique_ptr<sql::Connection>> OpenMysqlConnection(
    const MysqlOptions& options, absl::Duration io_timeout = kMysqlIoTimeout);

class ConnectionPool {
 private:
  // A pooled connection and the statements prepared on it with
  // Lease::Prepared, which are closed before it.
  struct Pooled {
    ~Pooled();
    std::unique_ptr<sql::Connection> connection;
    absl::flat_hash_map<std::string, std::unique_ptr<sql::PreparedStatement>>
        statements;
  };

 public:
  // A leased connection. Move-only; returns the connection on destruction.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    sql::Connection& operator*() const { return *pooled_->connection; }
    sql::Connection* operator->() const { return pooled_->connection.get(); }

    // `sql` prepared on this connection: the first time, by the server; after
    // that, the same statement again (one round trip per execution instead
    // of two, and no parse). For the few statements on a hot path, each a
    // fixed string: every distinct string stays prepared while the
    // connection lives. The statement keeps the parameters last bound; set
    // them all. Throws what prepareStatement throws.
    sql::PreparedStatement& Prepared(const std::string& sql);

    // Marks the connection broken: it is closed, not reused, on release.
    void Discard() { discard_ = true; }

    // True if the connection was idle in the pool (it may have died there,
    // e.g. when the server restarted); false if it was opened for this lease.
    bool reused() const { return reused_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Pooled> pooled, bool reused,
          uint64_t generation);
    void Release();

    ConnectionPool* pool_;
    std::unique_ptr<Pooled> pooled_;
    bool reused_;
    bool discard_ = false;
    uint64_t generation_;  // The pool's generation when it was handed out.
  };

  // Whether an acquisition serves a call, which fails fast while the
  // database is marked down, or probes whether the database is back.
  enum class Purpose { kCall, kProbe };

  // Connects lazily with `options` (see OpenMysqlConnection); keeps at most
  // options.pool_size (>= 1) connections open. Does not connect here.
  explicit ConnectionPool(MysqlOptions options);
  ~ConnectionPool();

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Returns an idle connection, or opens one (with options.io_timeout) if
  // fewer than pool_size are open, or waits for one to be released: up to
  // `wait`, and never past kCallDeadlineMargin before the current call's
  // deadline (an idle connection is still taken when the deadline is that
  // close). UNAVAILABLE when the wait runs out, when a new connection cannot
  // be opened, or, for Purpose::kCall, at once while the database is marked
  // down.
  absl::StatusOr<Lease> Acquire(absl::Duration wait,
                                Purpose purpose = Purpose::kCall);

  // For probes: an idle connection, or a new one if there is room, without
  // waiting and whether or not the database is marked down. nullopt when
  // every connection is leased; UNAVAILABLE if a new one cannot be opened.
  absl::StatusOr<std::optional<Lease>> TryAcquireForProbe();

  // Marks the database down until `until` (or MarkUp()): Acquire for a call
  // then fails at once with UNAVAILABLE naming `reason` (a status message
  // without request data, e.g. the failed ping's).
  void MarkDown(absl::Time until, absl::string_view reason);
  // Ends a MarkDown. If the database was marked down (even if that expired),
  // also Reset()s: connections from before the outage may be dead.
  void MarkUp();
  // True while marked down (and not expired).
  bool marked_down() const;

  // Closes every idle connection now, and every leased one when it is
  // released, whether or not it was Discard()ed.
  void Reset();

  // Connections currently open (idle, leased, or being opened).
  int open_connections() const;
  // Connections waiting in the pool.
  int idle_connections() const;

  // A consistent snapshot of the pool, for metrics.
  struct Stats {
    int size = 0;  // options.pool_size: connections at most.
    int open = 0;  // As open_connections().
    int idle = 0;  // As idle_connections().
    // Acquire calls that found every connection leased and had to wait.
    uint64_t acquire_waits = 0;
    // Acquire calls that returned UNAVAILABLE (wait ran out, marked down,
    // could not connect).
    uint64_t acquire_failures = 0;
  };
  Stats stats() const;

 private:
  bool CanAcquireLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // CanAcquireLocked(), or the database was marked down (a waiting call
  // then fails at once).
  bool CanAcquireOrDownLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool DownLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens a connection for a slot already counted in open_; frees the slot
  // if that fails.
  absl::StatusOr<Lease> OpenReserved() ABSL_LOCKS_EXCLUDED(mu_);
  void Release(std::unique_ptr<Pooled> pooled, bool discard,
               uint64_t generation);

  const MysqlOptions options_;
  mutable absl::Mutex mu_;
  // Most recently released last (reused first, so spare ones can time out).
  std::vector<std::unique_ptr<Pooled>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped by Reset(); a lease from an older generation is closed on release.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Set by MarkDown; cleared by MarkUp.
  std::optional<absl::Time> down_until_ ABSL_GUARDED_BY(mu_);
  std::string down_reason_ ABSL_GUARDED_BY(mu_);
  uint64_t acquire_waits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acquire_failures_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_CONNECTION_POOL_H_
