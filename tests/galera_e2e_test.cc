// End to end: two tokenauth replicas over a 3-node MariaDB Galera cluster.
//
// Opt-in: tools/test-galera starts the cluster on loopback, runs this binary
// and tears the cluster down. It passes the cluster in the environment:
//   TOKENAUTH_GALERA_NODES   host:port of each node, comma-separated (3)
//   TOKENAUTH_GALERA_PIDS    each node's mariadbd pid, same order
//   TOKENAUTH_MYSQL_USER / TOKENAUTH_MYSQL_PASSWORD   the app account, which
//                            may create databases named tokenauth*
// Without TOKENAUTH_GALERA_NODES every test SKIPS with a message saying so;
// tools/test-galera counts a skip as a failure. Not part of ctest.
//
// What must hold (docs/DEPLOYMENT.md):
//   - a token created through one replica authenticates through the other;
//   - parallel creates for one user through two replicas store every
//     acknowledged create; with both replicas writing through one node the
//     per-user token limit holds; through two nodes (where only the written
//     owner lock, certified by Galera, serializes them) over-limit rounds are
//     measured and printed; no answer is UNKNOWN/INTERNAL;
//   - kill -9 of the node one replica uses, under a stream of creates through
//     both: nothing acknowledged is lost, and both replicas serve again (the
//     second one reaches the database through a failover proxy, as a
//     deployment would through HAProxy or MaxScale).
// Measured numbers are printed on "[galera] ..." lines.
//
// The tests run one at a time (nothing here is thread-safe across tests);
// each makes its own database.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"
#include "tests/test_db.h"

namespace tokenauth::e2e {
namespace {

using grpc::StatusCode;

constexpr absl::Duration kCallDeadline = absl::Seconds(5);

struct Node {
  std::string host;
  int port = 0;
  pid_t pid = -1;
};

struct Cluster {
  std::vector<Node> nodes;
  std::string user;
  std::string password;

  MysqlOptions Options(int node, const std::string& database) const {
    MysqlOptions options;
    options.host = nodes[node].host;
    options.port = nodes[node].port;
    options.user = user;
    options.password = password;
    options.database = database;
    return options;
  }
};

// The cluster from the environment; nullopt (and *why set) if there is none.
std::optional<Cluster> ClusterFromEnv(std::string* why) {
  const char* nodes = std::getenv("TOKENAUTH_GALERA_NODES");
  const char* pids = std::getenv("TOKENAUTH_GALERA_PIDS");
  const char* user = std::getenv("TOKENAUTH_MYSQL_USER");
  const char* password = std::getenv("TOKENAUTH_MYSQL_PASSWORD");
  if (nodes == nullptr || pids == nullptr || user == nullptr ||
      password == nullptr) {
    *why =
        "no Galera cluster: TOKENAUTH_GALERA_NODES, TOKENAUTH_GALERA_PIDS, "
        "TOKENAUTH_MYSQL_USER and TOKENAUTH_MYSQL_PASSWORD are not all set; "
        "run tools/test-galera";
    return std::nullopt;
  }
  Cluster cluster;
  cluster.user = user;
  cluster.password = password;
  std::vector<std::string> addresses = absl::StrSplit(nodes, ',');
  std::vector<std::string> pid_list = absl::StrSplit(pids, ',');
  if (addresses.size() != 3 || pid_list.size() != 3) {
    *why = "TOKENAUTH_GALERA_NODES and TOKENAUTH_GALERA_PIDS need 3 entries";
    return std::nullopt;
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    std::pair<std::string, std::string> host_port =
        absl::StrSplit(addresses[i], absl::MaxSplits(':', 1));
    Node node;
    node.host = host_port.first;
    int pid = 0;
    if (!absl::SimpleAtoi(host_port.second, &node.port) ||
        !absl::SimpleAtoi(pid_list[i], &pid)) {
      *why = absl::StrCat("cannot parse node ", i + 1, ": ", addresses[i]);
      return std::nullopt;
    }
    node.pid = pid;
    cluster.nodes.push_back(node);
  }
  return cluster;
}

std::string RandomHex() {
  absl::BitGen gen;
  return absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

int Connect(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A TCP forwarder on a loopback port: each client connection goes to the
// first backend that accepts a connection, in order, and is closed when
// either side closes. What HAProxy in TCP mode with health-checked backup
// servers does, without the health checks. Thread-safe; Stop() (or the
// destructor) closes everything.
class FailoverProxy {
 public:
  explicit FailoverProxy(std::vector<Node> backends)
      : backends_(std::move(backends)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listen_fd_ < 0 ||
        bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
            0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
            0) {
      ADD_FAILURE() << "proxy: cannot listen: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FailoverProxy() { Stop(); }

  int port() const { return port_; }

  void Stop() {
    if (stop_.exchange(true)) return;
    if (accept_thread_.joinable()) accept_thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

  // Client connections forwarded to each backend so far.
  std::map<int, int> forwarded() const {
    absl::MutexLock lock(&mu_);
    return forwarded_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      int upstream = -1;
      int chosen = -1;
      for (size_t i = 0; i < backends_.size() && upstream < 0; ++i) {
        upstream = Connect(backends_[i].host, backends_[i].port);
        if (upstream >= 0) chosen = static_cast<int>(i);
      }
      if (upstream < 0) {
        close(client);
        continue;
      }
      absl::MutexLock lock(&mu_);
      ++forwarded_[chosen];
      threads_.emplace_back([this, client, upstream] {
        Pump(client, upstream);
        close(client);
        close(upstream);
      });
    }
  }

  // Copies bytes both ways until one side closes or Stop().
  void Pump(int a, int b) {
    char buffer[16384];
    while (!stop_) {
      pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(fds, 2, 100) < 0 && errno != EINTR) return;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        const int from = fds[i].fd;
        const int to = i == 0 ? b : a;
        const ssize_t n = read(from, buffer, sizeof(buffer));
        if (n <= 0) return;
        for (ssize_t sent = 0; sent < n;) {
          const ssize_t w = send(to, buffer + sent, n - sent, MSG_NOSIGNAL);
          if (w <= 0) return;
          sent += w;
        }
      }
    }
  }

  const std::vector<Node> backends_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::map<int, int> forwarded_ ABSL_GUARDED_BY(mu_);
};

std::string CodeName(StatusCode code) {
  switch (code) {
    case StatusCode::OK:
      return "OK";
    case StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case StatusCode::ABORTED:
      return "ABORTED";
    case StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case StatusCode::UNKNOWN:
      return "UNKNOWN";
    case StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return absl::StrCat("code ", static_cast<int>(code));
  }
}

std::string Counts(const std::map<StatusCode, int>& codes) {
  std::vector<std::string> parts;
  for (const auto& [code, n] : codes) {
    parts.push_back(absl::StrCat(CodeName(code), "=", n));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, " ");
}

// Request metadata carrying a credential.
using Metadata = std::vector<std::pair<std::string, std::string>>;

Metadata BasicMetadata(const std::string& username,
                       const std::string& password) {
  return {{"authorization", Caller::Basic(username, password).authorization}};
}

grpc::Status Create(const ServerHarness& server, const Metadata& metadata,
                    const std::string& name,
                    v1::CreateTokenResponse* response) {
  v1::CreateTokenRequest request;
  request.set_name(name);
  request.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_ONLY);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  return server.TokenStub()->CreateToken(&context, request, response);
}

// Polls until `server` answers Health SERVING, or `timeout`; when it did.
std::optional<absl::Time> AwaitServing(const ServerHarness& server,
                                       absl::Duration timeout) {
  auto stub = server.HealthStub();
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    grpc::health::v1::HealthCheckResponse response;
    if (stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response)
            .ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::Now();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return std::nullopt;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

class GaleraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    cluster_ = ClusterFromEnv(&why);
    if (!cluster_.has_value()) {
      // Visible in the plain output too, not only in gtest's summary.
      std::fprintf(stderr, "[galera] SKIPPED: %s\n", why.c_str());
      GTEST_SKIP() << why;
    }
    database_ = absl::StrCat("tokenauth_galera_", RandomHex());
    ASSERT_TRUE(ExecuteForTest(cluster_->Options(0, ""),
                               absl::StrCat("CREATE DATABASE `", database_,
                                            "` CHARACTER SET utf8mb4 COLLATE "
                                            "utf8mb4_unicode_ci"))
                    .ok());
  }

  void TearDown() override {
    if (!cluster_.has_value() || database_.empty()) return;
    if (HasFailure()) {
      std::fprintf(stderr, "[galera] database %s kept for inspection\n",
                   database_.c_str());
      return;
    }
    // Through any node still up (the kill test leaves one down).
    for (int node = 0; node < 3; ++node) {
      if (ExecuteForTest(
              cluster_->Options(node, ""),
              absl::StrCat("DROP DATABASE IF EXISTS `", database_, "`"))
              .ok()) {
        return;
      }
    }
  }

  // A replica on `mysql`. Only the first one bootstraps the admin (and runs
  // the migrations before any other starts: docs/DEPLOYMENT.md).
  ServerHarness::Options ReplicaOptions(const MysqlOptions& mysql, bool first) {
    ServerHarness::Options options;
    options.mysql = mysql;
    options.bootstrap_admin = first;
    options.bootstrap_password = first;
    options.env["TOKENAUTH_HEALTH_CHECK_INTERVAL"] = "1s";
    return options;
  }

  int LimitRounds(int b_node, bool enforce_limit);

  std::optional<Cluster> cluster_;
  std::string database_;
};

// Rounds of parallel creates for one user, half through replica A on node 1
// and half through replica B on node `b_node`, against a limit of 5. Every
// acknowledged create must be stored; with `enforce_limit`, no round may end
// over the limit. Returns the rounds that did.
int GaleraTest::LimitRounds(int b_node, bool enforce_limit) {
  constexpr int kLimit = 5;
  constexpr int kPerReplica = 12;
  constexpr int kRounds = 6;
  const std::string label =
      b_node == 0 ? "one writer node" : "two writer nodes";
  ServerHarness::Options a_options =
      ReplicaOptions(cluster_->Options(0, database_), true);
  a_options.env["MAX_ACCESS_TOKENS_PER_USER"] = absl::StrCat(kLimit);
  ServerHarness a(a_options);
  if (!a.ok()) return -1;
  ServerHarness::Options b_options =
      ReplicaOptions(cluster_->Options(b_node, database_), false);
  b_options.env["MAX_ACCESS_TOKENS_PER_USER"] = absl::StrCat(kLimit);
  ServerHarness b(b_options);
  if (!b.ok()) return -1;

  std::map<StatusCode, int> all_codes;
  int over_limit_rounds = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string user = absl::StrCat("limit", b_node, "x", round);
    const std::string password = absl::StrCat(user, "-password");
    a.MustCreateUser(user, password);
    // A session, not Basic: a Basic check writes the owner's row (the
    // lockout count), which would conflict with the creates and hide
    // whether the creates alone keep the limit.
    v1::LoginRequest login;
    login.set_username(user);
    login.set_password(password);
    v1::LoginResponse session;
    if (!a.AuthStub()
             ->Login(ServerHarness::Context(Caller::None()).get(), login,
                     &session)
             .ok()) {
      ADD_FAILURE() << "Login failed";
      return -1;
    }
    const Metadata caller = {{"x-session-id", session.session_id()},
                             {"x-csrf-token", session.csrf_token()}};
    absl::Mutex mu;
    std::map<StatusCode, int> codes;
    std::vector<std::string> acked_ids;
    int started = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < 2 * kPerReplica; ++i) {
      const ServerHarness& server = i % 2 == 0 ? a : b;
      threads.emplace_back([&, i, &server = server] {
        {
          // Start together, so the creates overlap as much as they can.
          absl::MutexLock lock(&mu);
          ++started;
          mu.Await(absl::Condition(
              +[](int* n) { return *n == 2 * kPerReplica; }, &started));
        }
        v1::CreateTokenResponse response;
        const grpc::Status status =
            Create(server, caller, absl::StrCat("t", i), &response);
        absl::MutexLock lock(&mu);
        ++codes[status.error_code()];
        if (status.ok()) acked_ids.push_back(response.token().id());
      });
    }
    for (std::thread& t : threads) t.join();

    // What the database holds, read through node 2.
    absl::StatusOr<TestRows> rows = QueryForTest(
        cluster_->Options(1, database_),
        absl::StrCat("SELECT t.public_id FROM access_tokens t JOIN users u ON "
                     "u.id = t.user_id WHERE u.username = '",
                     user, "' AND t.revoke_time_us IS NULL"));
    if (!rows.ok()) {
      ADD_FAILURE() << rows.status();
      return -1;
    }
    std::set<std::string> stored_ids;
    for (const auto& row : *rows) stored_ids.insert(row[0].value_or(""));
    const int stored = static_cast<int>(stored_ids.size());
    int not_stored = 0;
    for (const std::string& id : acked_ids) {
      not_stored += stored_ids.count(id) == 0;
    }
    std::printf(
        "[galera] %s: limit %d, %d parallel creates (%d per replica): %s; "
        "%d tokens stored, %d acknowledged but not stored\n",
        label.c_str(), kLimit, 2 * kPerReplica, kPerReplica,
        Counts(codes).c_str(), stored, not_stored);
    EXPECT_EQ(not_stored, 0)
        << label << ", round " << round << ": acknowledged creates were lost";
    for (const auto& [code, n] : codes) all_codes[code] += n;
    if (stored > kLimit) ++over_limit_rounds;
    if (enforce_limit) {
      EXPECT_LE(stored, kLimit) << label << ", round " << round;
    }
    EXPECT_GE(codes[StatusCode::OK], 1) << label << ", round " << round;
    for (const auto& [code, n] : codes) {
      EXPECT_TRUE(code == StatusCode::OK ||
                  code == StatusCode::RESOURCE_EXHAUSTED ||
                  code == StatusCode::ABORTED)
          << n << " creates ended " << CodeName(code);
    }
  }
  std::printf("[galera] %s: %d rounds, %s; %d rounds ended over the limit\n",
              label.c_str(), kRounds, Counts(all_codes).c_str(),
              over_limit_rounds);
  std::fflush(stdout);
  EXPECT_EQ(b.Stop(), 0);
  EXPECT_EQ(a.Stop(), 0);
  return over_limit_rounds;
}

// Both replicas write through node 1 (what HAProxy with one active node and
// the others as backups gives): the owner-row lock serializes creates as on
// one server, and the limit holds.
TEST_F(GaleraTest, TokenLimitHoldsWithOneWriterNode) {
  EXPECT_EQ(LimitRounds(/*b_node=*/0, /*enforce_limit=*/true), 0);
}

// Replica B writes through node 3. Galera does not replicate row locks; the
// owner lock is a write (storage/mysql_store.cc LockUser), so two creates for
// one user on different nodes conflict at certification, and the limit
// mostly holds: over-limit rounds are measured and printed, not failed (see
// docs/DEPLOYMENT.md: 2 of 102 rounds still ended with 6 tokens, unexplained).
// What must hold: every acknowledged create is stored, no answer is UNKNOWN
// or INTERNAL.
TEST_F(GaleraTest, TwoWriterNodesLoseNoAcknowledgedCreate) {
  const int over = LimitRounds(/*b_node=*/2, /*enforce_limit=*/false);
  EXPECT_GE(over, 0);
}

// A stream of creates through both replicas; kill -9 the node replica B
// uses; B fails over through its proxy; nothing acknowledged is lost.
TEST_F(GaleraTest, NodeKilledUnderLoad) {
  const absl::Time test_start = absl::Now();
  const Node& victim = cluster_->nodes[1];
  ASSERT_GT(victim.pid, 0);
  ASSERT_EQ(kill(victim.pid, 0), 0) << "node 2 is not running";

  // B reaches node 2 through a proxy that fails over to node 3.
  FailoverProxy proxy({cluster_->nodes[1], cluster_->nodes[2]});
  ASSERT_GT(proxy.port(), 0);
  MysqlOptions b_mysql = cluster_->Options(1, database_);
  b_mysql.host = "127.0.0.1";
  b_mysql.port = proxy.port();

  ServerHarness::Options a_options =
      ReplicaOptions(cluster_->Options(0, database_), true);
  a_options.env["MAX_ACCESS_TOKENS_PER_USER"] = "0";  // No limit here.
  ServerHarness a(a_options);
  ASSERT_TRUE(a.ok());
  ServerHarness::Options b_options = ReplicaOptions(b_mysql, false);
  b_options.env["MAX_ACCESS_TOKENS_PER_USER"] = "0";
  ServerHarness b(b_options);
  ASSERT_TRUE(b.ok());
  ServerHarness* replicas[2] = {&a, &b};
  std::printf("[galera] both replicas serving %.1f s after the test began\n",
              absl::ToDoubleSeconds(absl::Now() - test_start));
  std::fflush(stdout);
  const char* names[2] = {"A (node 1)", "B (node 2, failover node 3)"};

  // 1. Each replica sees what the other wrote.
  a.MustCreateUser("alice", "alice-password");
  const Caller alice = Caller::Basic("alice", "alice-password");
  for (int from = 0; from < 2; ++from) {
    const v1::CreateTokenResponse created =
        replicas[from]->MustCreateToken(alice, "cross");
    ASSERT_FALSE(created.value().empty());
    v1::AuthenticateResponse response;
    const grpc::Status status = replicas[1 - from]->AuthenticateToken(
        created.value(), v1::OPERATION_READ, &response);
    EXPECT_TRUE(status.ok())
        << "made through " << names[from] << ", checked through "
        << names[1 - from] << ": " << status.error_code() << " "
        << status.error_message();
    EXPECT_EQ(response.principal().username(), "alice");
  }

  // 2. Two writers per replica, each its own user, creating back to back.
  constexpr int kWritersPerReplica = 2;
  struct Acked {
    int replica;
    std::string username;
    std::string id;
    std::string value;
    absl::Time at;
  };
  absl::Mutex mu;
  std::vector<Acked> acked;
  std::map<StatusCode, int> codes[2];
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int r = 0; r < 2; ++r) {
    for (int w = 0; w < kWritersPerReplica; ++w) {
      const std::string user = absl::StrCat("writer", r, w);
      a.MustCreateUser(user, user + "-password");
      writers.emplace_back([&, r, w, user] {
        const Metadata caller = BasicMetadata(user, user + "-password");
        for (int i = 0; !stop; ++i) {
          v1::CreateTokenResponse response;
          const grpc::Status status = Create(
              *replicas[r], caller, absl::StrCat("s", w, "-", i), &response);
          {
            absl::MutexLock lock(&mu);
            ++codes[r][status.error_code()];
            if (status.ok()) {
              acked.push_back(Acked{r, user, response.token().id(),
                                    response.value(), absl::Now()});
            }
          }
          // Like a client backing off a little after a failure.
          if (!status.ok()) absl::SleepFor(absl::Milliseconds(20));
        }
      });
    }
  }
  absl::SleepFor(absl::Milliseconds(1500));  // Steady state first.

  // 3. kill -9 node 2.
  const absl::Time kill_time = absl::Now();
  ASSERT_EQ(kill(victim.pid, SIGKILL), 0) << std::strerror(errno);
  // Wait until both replicas acknowledged creates after the kill (bounded).
  std::optional<absl::Time> first_after[2];
  const absl::Time give_up = kill_time + absl::Seconds(45);
  while (absl::Now() < give_up && !(first_after[0] && first_after[1])) {
    absl::SleepFor(absl::Milliseconds(50));
    absl::MutexLock lock(&mu);
    for (const Acked& k : acked) {
      if (k.at > kill_time && !first_after[k.replica]) {
        first_after[k.replica] = k.at;
      }
    }
  }
  absl::SleepFor(absl::Seconds(2));  // Serve a while after failing over.
  stop = true;
  for (std::thread& t : writers) t.join();
  const absl::Time load_end = absl::Now();
  std::printf("[galera] load stopped %.1f s after the kill\n",
              absl::ToDoubleSeconds(load_end - kill_time));
  std::fflush(stdout);

  int before[2] = {0, 0}, after[2] = {0, 0};
  for (const Acked& k : acked)
    ++(k.at <= kill_time ? before : after)[k.replica];
  for (int r = 0; r < 2; ++r) {
    std::printf(
        "[galera] replica %s: %d creates acknowledged before the kill, %d "
        "after; all answers: %s; first acknowledged create %.0f ms after the "
        "kill\n",
        names[r], before[r], after[r], Counts(codes[r]).c_str(),
        first_after[r] ? Ms(*first_after[r] - kill_time) : -1.0);
    EXPECT_TRUE(first_after[r].has_value())
        << names[r] << " acknowledged no create within 45 s of the kill";
    for (const auto& [code, n] : codes[r]) {
      EXPECT_TRUE(code == StatusCode::OK || code == StatusCode::UNAVAILABLE ||
                  code == StatusCode::ABORTED ||
                  code == StatusCode::DEADLINE_EXCEEDED)
          << names[r] << ": " << n << " creates ended " << CodeName(code);
    }
  }
  const std::map<int, int> forwarded = proxy.forwarded();
  std::printf("[galera] proxy: %d connections to node 2, %d to node 3\n",
              forwarded.count(0) ? forwarded.at(0) : 0,
              forwarded.count(1) ? forwarded.at(1) : 0);
  EXPECT_GT(forwarded.count(1) ? forwarded.at(1) : 0, 0)
      << "B never failed over to node 3";

  // 4. Both replicas serve; every acknowledged token authenticates through
  // both, and its row is on both surviving nodes.
  ASSERT_TRUE(AwaitServing(a, absl::Seconds(10)).has_value());
  ASSERT_TRUE(AwaitServing(b, absl::Seconds(10)).has_value());
  const absl::Time verify_start = absl::Now();
  // Eight threads: one Authenticate waits for the node to catch up
  // (wsrep_sync_wait), so one at a time takes minutes.
  int lost[2] = {0, 0};
  {
    std::vector<std::thread> checkers;
    for (int t = 0; t < 8; ++t) {
      checkers.emplace_back([&, t] {
        for (size_t i = t; i < acked.size(); i += 8) {
          const Acked& k = acked[i];
          for (int r = 0; r < 2; ++r) {
            v1::AuthenticateResponse response;
            const grpc::Status status = replicas[r]->AuthenticateToken(
                k.value, v1::OPERATION_READ, &response);
            if (status.ok() && response.principal().username() == k.username) {
              continue;
            }
            absl::MutexLock lock(&mu);
            if (++lost[r] <= 5) {
              ADD_FAILURE()
                  << "token " << k.id << " made through " << names[k.replica]
                  << " at " << Ms(k.at - kill_time)
                  << " ms after the kill does not authenticate "
                     "through "
                  << names[r] << ": " << CodeName(status.error_code());
            }
          }
        }
      });
    }
    for (std::thread& t : checkers) t.join();
  }
  std::printf("[galera] %zu tokens authenticated through both in %.1f s\n",
              acked.size(), absl::ToDoubleSeconds(absl::Now() - verify_start));
  std::fflush(stdout);
  int missing_rows[2] = {0, 0};
  const int survivors[2] = {0, 2};
  for (int s = 0; s < 2; ++s) {
    absl::StatusOr<TestRows> rows =
        QueryForTest(cluster_->Options(survivors[s], database_),
                     "SELECT public_id FROM access_tokens");
    ASSERT_TRUE(rows.ok()) << rows.status();
    std::set<std::string> ids;
    for (const auto& row : *rows) ids.insert(row[0].value_or(""));
    for (const Acked& k : acked) missing_rows[s] += ids.count(k.id) == 0;
  }
  std::printf(
      "[galera] %zu creates acknowledged in all; lost: %d through A, %d "
      "through B; rows missing: %d on node 1, %d on node 3; load ran %.1f s, "
      "whole test %.1f s\n",
      acked.size(), lost[0], lost[1], missing_rows[0], missing_rows[1],
      absl::ToDoubleSeconds(load_end - kill_time + absl::Milliseconds(1500)),
      absl::ToDoubleSeconds(absl::Now() - test_start));
  std::fflush(stdout);
  EXPECT_EQ(lost[0], 0);
  EXPECT_EQ(lost[1], 0);
  EXPECT_EQ(missing_rows[0], 0);
  EXPECT_EQ(missing_rows[1], 0);
  EXPECT_GT(after[0], 0);
  EXPECT_GT(after[1], 0);

  // Each stop writes the replica's buffered last-use times (every token
  // above, used through both) before it exits.
  for (int r : {1, 0}) {
    const absl::Time stop_start = absl::Now();
    EXPECT_EQ(replicas[r]->Stop(), 0) << names[r];
    std::printf("[galera] replica %s exited %.1f s after SIGTERM\n", names[r],
                absl::ToDoubleSeconds(absl::Now() - stop_start));
  }
  std::fflush(stdout);
  proxy.Stop();
}

}  // namespace
}  // namespace tokenauth::e2e
