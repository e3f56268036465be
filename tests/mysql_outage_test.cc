// How storage/ behaves when the database is slow, silent or down: waits for
// a pooled connection end before the call's deadline, the pool fails fast
// while the database is marked down and drops its connections when it comes
// back, and the health ping of a silent server gives up within its timeout.
// Against the real MariaDB (tests/test_db.h), plus a listener that accepts
// TCP connections and never answers, which looks like a frozen server.
//
// These tests measure real elapsed time: the timeouts under test are the
// real clock's. The bounds are loose.
#include <arpa/inet.h>
#include <cppconn/connection.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/call_deadline.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/connection_pool.h"
#include "storage/mysql_store.h"
#include "tests/test_db.h"

namespace tokenauth {
namespace {

using ::testing::HasSubstr;

// A TCP listener that never accepts: connects succeed (the kernel queues
// them) but the server's greeting never comes, as with a frozen MariaDB.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_, 64) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on a loopback port";
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() {
    if (fd_ >= 0) close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ConnectionPoolOutageTest, WaitEndsBeforeTheCallDeadline) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  MysqlOptions options = db.options();
  options.pool_size = 1;
  ConnectionPool pool(options);
  std::optional<absl::StatusOr<ConnectionPool::Lease>> held =
      pool.Acquire(absl::Seconds(5));
  ASSERT_TRUE(held->ok()) << held->status();

  {
    ScopedCallDeadline deadline(absl::Now() + absl::Milliseconds(500));
    const absl::Time start = absl::Now();
    absl::StatusOr<ConnectionPool::Lease> waited =
        pool.Acquire(absl::Seconds(5));
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(waited.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(waited.status().message(), HasSubstr("deadline"));
    // 500 ms minus kCallDeadlineMargin.
    EXPECT_GE(took, absl::Milliseconds(350));
    EXPECT_LT(took, absl::Milliseconds(490));
  }
  EXPECT_EQ(CurrentCallDeadline(), absl::InfiniteFuture());

  // A free connection is still handed out when the deadline is (nearly)
  // gone: using it takes milliseconds; only waiting is cut.
  held.reset();
  ScopedCallDeadline past(absl::Now() - absl::Seconds(1));
  absl::StatusOr<ConnectionPool::Lease> idle = pool.Acquire(absl::Seconds(5));
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_TRUE(idle->reused());
}

TEST(ConnectionPoolOutageTest, MarkedDownFailsCallsAtOnceAndWakesWaiters) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  MysqlOptions options = db.options();
  options.pool_size = 1;
  ConnectionPool pool(options);
  std::optional<absl::StatusOr<ConnectionPool::Lease>> held =
      pool.Acquire(absl::Seconds(5));
  ASSERT_TRUE(held->ok()) << held->status();

  absl::Status waiter_status;
  absl::Notification waiting;
  std::thread waiter([&] {
    waiting.Notify();
    waiter_status = pool.Acquire(absl::Seconds(30)).status();
  });
  waiting.WaitForNotification();
  absl::SleepFor(absl::Milliseconds(50));  // Let it block.
  const absl::Time marked = absl::Now();
  pool.MarkDown(absl::Now() + absl::Seconds(60), "the ping failed");
  waiter.join();
  EXPECT_LT(absl::Now() - marked, absl::Seconds(1));
  EXPECT_EQ(waiter_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(waiter_status.message(), HasSubstr("the ping failed"));

  held.reset();  // One idle connection now.
  EXPECT_TRUE(pool.marked_down());
  EXPECT_EQ(pool.Acquire(absl::Seconds(5)).status().code(),
            absl::StatusCode::kUnavailable);
  {
    // Probes get connections while the database is marked down.
    absl::StatusOr<ConnectionPool::Lease> probe =
        pool.Acquire(absl::Seconds(5), ConnectionPool::Purpose::kProbe);
    EXPECT_TRUE(probe.ok()) << probe.status();
  }

  pool.MarkUp();
  EXPECT_FALSE(pool.marked_down());
  EXPECT_TRUE(pool.Acquire(absl::Seconds(5)).ok());

  // A mark in the past has expired: calls go to the database again.
  pool.MarkDown(absl::Now() - absl::Milliseconds(1), "long ago");
  EXPECT_FALSE(pool.marked_down());
  EXPECT_TRUE(pool.Acquire(absl::Seconds(5)).ok());
}

TEST(ConnectionPoolOutageTest, MarkUpDropsConnectionsFromBeforeTheOutage) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  MysqlOptions options = db.options();
  options.pool_size = 2;
  ConnectionPool pool(options);
  absl::StatusOr<ConnectionPool::Lease> leased = pool.Acquire(absl::Seconds(5));
  ASSERT_TRUE(leased.ok()) << leased.status();
  {
    absl::StatusOr<ConnectionPool::Lease> idle = pool.Acquire(absl::Seconds(5));
    ASSERT_TRUE(idle.ok()) << idle.status();
  }
  EXPECT_EQ(pool.open_connections(), 2);
  EXPECT_EQ(pool.idle_connections(), 1);

  pool.MarkDown(absl::Now() + absl::Seconds(60), "down");
  pool.MarkUp();
  EXPECT_EQ(pool.idle_connections(), 0);
  EXPECT_EQ(pool.open_connections(), 1);  // The leased one, closed on return.
  leased = absl::UnavailableError("released");
  EXPECT_EQ(pool.open_connections(), 0);

  // MarkUp without a MarkDown keeps the pool as it is.
  {
    absl::StatusOr<ConnectionPool::Lease> lease =
        pool.Acquire(absl::Seconds(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
  }
  pool.MarkUp();
  EXPECT_EQ(pool.idle_connections(), 1);
}

TEST(ConnectionPoolOutageTest, PooledConnectionsWaitForLocksLessThanTheirIo) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  MysqlOptions options = db.options();
  options.io_timeout = absl::Seconds(3);
  ConnectionPool pool(options);
  absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire(absl::Seconds(5));
  ASSERT_TRUE(lease.ok()) << lease.status();
  std::unique_ptr<sql::PreparedStatement> statement(
      (*lease)->prepareStatement("SELECT @@SESSION.innodb_lock_wait_timeout"));
  std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(rows->getInt(1), 2);
}

TEST(MysqlStoreOutageTest, PingOfASilentServerGivesUpAndCallsFailFast) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  MysqlOptions options;
  options.host = "127.0.0.1";
  options.port = silent.port();
  options.user = "nobody";
  options.database = "tokenauth_none";
  options.ping_timeout = absl::Seconds(1);
  options.fail_fast_for = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<MysqlStore>> store = MysqlStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();

  absl::Time start = absl::Now();
  absl::Status ping = (*store)->Ping();
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Milliseconds(2500));

  // Calls do not wait on the silent server now.
  start = absl::Now();
  absl::Status call = (*store)->GetToken("abc").status();
  took = absl::Now() - start;
  EXPECT_EQ(call.code(), absl::StatusCode::kUnavailable) << call;
  EXPECT_THAT(call.message(), HasSubstr("not waiting"));
  EXPECT_LT(took, absl::Milliseconds(100));
}

TEST(MysqlStoreOutageTest, RejectsUnusableTimeouts) {
  MysqlOptions options;
  options.user = "u";
  options.database = "d";
  options.io_timeout = absl::ZeroDuration();
  EXPECT_EQ(MysqlStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.io_timeout = absl::Seconds(3);
  options.fail_fast_for = -absl::Seconds(1);
  EXPECT_EQ(MysqlStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tokenauth
