// End to end: the real server against a real MariaDB that goes away under
// load, once stopped (SIGTERM) and once frozen (SIGSTOP), then comes back.
//
// The MariaDB is private to this test (its own data directory, socket and
// port, a child of the test process), never the shared one the other tests
// use. What must hold while it is away (docs/RELIABILITY.md):
//   - every call ends within its deadline, as OK (it finished before) or
//     UNAVAILABLE; never UNKNOWN or INTERNAL, never a hang, never a crash;
//   - health turns NOT_SERVING within 3 s;
//   - within 2 s of the database answering again, health is SERVING and
//     calls succeed, without restarting the server.
// The measured numbers are printed ("[outage] ..." lines).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

extern char** environ;

namespace tokenauth::e2e {
namespace {

using grpc::StatusCode;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr absl::Duration kCallDeadline = absl::Seconds(2);
constexpr int kLoadThreads = 8;
// The server's default MySQL pool size (TOKENAUTH_MYSQL_POOL_SIZE).
constexpr int kPoolSize = 8;

// --- Processes ---

// `name` on PATH, or in /usr/sbin and /usr/bin (mariadbd lives in sbin).
std::string FindProgram(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    dirs = absl::StrSplit(path, ':', absl::SkipEmpty());
  }
  dirs.push_back("/usr/sbin");
  dirs.push_back("/usr/bin");
  for (const std::string& dir : dirs) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Starts argv[0] with stdout and stderr appended to `log` and `input` on its
// stdin. The child is killed if this thread exits. Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::string& input = "") {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return -1;
  const int out =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in[0], 0);
    dup2(out, 1);
    dup2(out, 2);
    execve(args[0], args.data(), environ);
    _exit(127);
  }
  close(in[0]);
  close(out);
  if (pid > 0 && !input.empty()) {
    ssize_t ignored = write(in[1], input.data(), input.size());
    (void)ignored;
  }
  close(in[1]);
  return pid;
}

// Waits for `pid` until `deadline`; its exit code, or -1 (killed, timed
// out: then it is killed).
int WaitFor(pid_t pid, absl::Time deadline) {
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0 && errno != EINTR) return -1;
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

int Run(const std::vector<std::string>& argv, const std::string& log,
        const std::string& input = "",
        absl::Duration timeout = absl::Seconds(60)) {
  const pid_t pid = Spawn(argv, log, input);
  if (pid < 0) return -1;
  return WaitFor(pid, absl::Now() + timeout);
}

std::string RandomHex() {
  absl::BitGen gen;
  return absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

// A MariaDB server of our own: a fresh data directory, a unix socket for
// the admin (unix_socket authentication as the OS user) and a TCP port for
// the server under test, which logs in as an app user with a password.
class PrivateMariaDb {
 public:
  PrivateMariaDb() {
    std::string dir = absl::StrCat(::testing::TempDir(), "ta_outage_XXXXXX");
    if (mkdtemp(dir.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
      return;
    }
    dir_ = dir;
    log_ = dir_ + "/mariadb.log";
    const passwd* pw = getpwuid(geteuid());
    os_user_ = pw != nullptr ? pw->pw_name : "root";
    mariadbd_ = FindProgram("mariadbd");
    const std::string install = FindProgram("mariadb-install-db");
    client_ = FindProgram("mariadb");
    if (mariadbd_.empty() || install.empty() || client_.empty()) {
      ADD_FAILURE() << "mariadbd, mariadb-install-db and mariadb are needed "
                       "(Debian packages mariadb-server, mariadb-client)";
      return;
    }
    std::string error;
    port_ = PickPort();
    if (port_ == 0) {
      ADD_FAILURE() << "no free port";
      return;
    }
    std::filesystem::create_directories(dir_ + "/data");
    if (int rc =
            Run({install, "--no-defaults", "--datadir=" + dir_ + "/data",
                 "--user=" + os_user_,
                 "--auth-root-authentication-method=socket", "--skip-test-db"},
                log_);
        rc != 0) {
      ADD_FAILURE() << "mariadb-install-db exited " << rc << "; see " << log_;
      return;
    }
    if (!Start() || !AwaitAdmin(absl::Seconds(30))) return;
    const std::string password = RandomHex();
    std::string sql;
    for (const char* host : {"localhost", "127.0.0.1"}) {
      absl::StrAppend(&sql, "CREATE USER 'tokenauth'@'", host,
                      "' IDENTIFIED BY '", password, "';",
                      "GRANT ALL PRIVILEGES ON `tokenauth`.* TO 'tokenauth'@'",
                      host, "';");
    }
    absl::StrAppend(&sql,
                    "CREATE DATABASE tokenauth CHARACTER SET utf8mb4 "
                    "COLLATE utf8mb4_unicode_ci; FLUSH PRIVILEGES;");
    if (int rc = Run({client_, "--no-defaults", "--socket=" + socket(),
                      "-u" + os_user_, "--batch"},
                     log_, sql);
        rc != 0) {
      ADD_FAILURE() << "creating the app user failed (" << rc << "); see "
                    << log_;
      return;
    }
    app_.host = "127.0.0.1";
    app_.port = port_;
    app_.user = "tokenauth";
    app_.password = password;
    app_.database = "tokenauth";
    ok_ = true;
  }

  ~PrivateMariaDb() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
    if (!dir_.empty() && !::testing::Test::HasFailure()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    } else if (!dir_.empty()) {
      std::fprintf(stderr, "[outage] MariaDB files kept in %s\n", dir_.c_str());
    }
  }

  bool ok() const { return ok_; }
  const MysqlOptions& app() const { return app_; }
  std::string socket() const { return dir_ + "/sock"; }

  // Starts mariadbd on the data directory, socket and port; does not wait.
  bool Start() {
    std::vector<std::string> argv = {
        mariadbd_,
        "--no-defaults",
        "--datadir=" + dir_ + "/data",
        "--socket=" + socket(),
        absl::StrCat("--port=", port_),
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=32M",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        "--pid-file=" + dir_ + "/mariadb.pid",
    };
    if (geteuid() == 0) argv.push_back("--user=root");
    pid_ = Spawn(argv, log_);
    if (pid_ < 0) ADD_FAILURE() << "cannot start mariadbd";
    return pid_ > 0;
  }

  // SIGTERM (a clean shutdown), and waits for the process to exit.
  bool Stop() {
    kill(pid_, SIGTERM);
    const int rc = WaitFor(pid_, absl::Now() + absl::Seconds(30));
    pid_ = -1;
    return rc == 0;
  }

  void Freeze() { kill(pid_, SIGSTOP); }
  void Thaw() { kill(pid_, SIGCONT); }

  // Polls until the app user can run SELECT 1 over TCP (what the server
  // under test does); returns when it first could, or InfiniteFuture.
  absl::Time AwaitApp(absl::Duration timeout) {
    const absl::Time give_up = absl::Now() + timeout;
    while (absl::Now() < give_up) {
      if (QueryForTest(app_, "SELECT 1").ok()) return absl::Now();
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "MariaDB did not answer the app user within " << timeout
                  << "; see " << log_;
    return absl::InfiniteFuture();
  }

 private:
  static int PickPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
  }

  bool AwaitAdmin(absl::Duration timeout) {
    const absl::Time give_up = absl::Now() + timeout;
    while (absl::Now() < give_up) {
      if (Run({client_, "--no-defaults", "--socket=" + socket(),
               "-u" + os_user_, "-e", "SELECT 1"},
              dir_ + "/probe.log") == 0) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "mariadbd did not answer within " << timeout << "; see "
                  << log_;
    return false;
  }

  bool ok_ = false;
  std::string dir_;
  std::string log_;
  std::string os_user_;
  std::string mariadbd_;
  std::string client_;
  int port_ = 0;
  pid_t pid_ = -1;
  MysqlOptions app_;
};

// --- Load and observation ---

struct Sample {
  absl::Time start;
  absl::Time end;
  StatusCode code;
};

// kLoadThreads threads calling Authenticate and ListTokens (a token
// credential: reads only) back to back, each with a kCallDeadline deadline,
// plus one thread polling Health/Check every 50 ms.
class Load {
 public:
  Load(const ServerHarness& server, std::string token) : token_(token) {
    for (int i = 0; i < kLoadThreads; ++i) {
      threads_.emplace_back([this, &server] { Work(server); });
    }
    threads_.emplace_back([this, &server] { PollHealth(server); });
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  std::vector<Sample> samples() const {
    absl::MutexLock lock(&mu_);
    return samples_;
  }
  // (time, serving) for each answered health check.
  std::vector<std::pair<absl::Time, bool>> health() const {
    absl::MutexLock lock(&mu_);
    return health_;
  }

 private:
  void Work(const ServerHarness& server) {
    auto auth = server.AuthStub();
    auto tokens = server.TokenStub();
    for (int i = 0; !stop_; ++i) {
      grpc::ClientContext context;
      const absl::Time start = absl::Now();
      context.set_deadline(absl::ToChronoTime(start + kCallDeadline));
      grpc::Status status;
      if (i % 2 == 0) {
        v1::AuthenticateRequest request;
        request.set_token(token_);
        request.set_operation(v1::OPERATION_READ);
        v1::AuthenticateResponse response;
        status = auth->Authenticate(&context, request, &response);
      } else {
        context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
        v1::ListTokensRequest request;
        v1::ListTokensResponse response;
        status = tokens->ListTokens(&context, request, &response);
      }
      const Sample sample{start, absl::Now(), status.error_code()};
      {
        absl::MutexLock lock(&mu_);
        samples_.push_back(sample);
      }
      // Like a client that backs off a little, so that failing fast does not
      // turn the load into a busy loop.
      if (!status.ok()) absl::SleepFor(absl::Milliseconds(10));
    }
  }

  void PollHealth(const ServerHarness& server) {
    auto stub = server.HealthStub();
    while (!stop_) {
      grpc::ClientContext context;
      context.set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
      HealthCheckResponse response;
      grpc::Status status =
          stub->Check(&context, HealthCheckRequest(), &response);
      if (status.ok()) {
        absl::MutexLock lock(&mu_);
        health_.emplace_back(absl::Now(),
                             response.status() == HealthCheckResponse::SERVING);
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  const std::string token_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<Sample> samples_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<absl::Time, bool>> health_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

std::string CodeName(StatusCode code) {
  switch (code) {
    case StatusCode::OK:
      return "OK";
    case StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case StatusCode::UNKNOWN:
      return "UNKNOWN";
    case StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return absl::StrCat("code ", static_cast<int>(code));
  }
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// One outage: the database went away at `fault` and answered again at
// `back`. Checks the calls started in between and after, and the health
// transitions; prints what it measured.
void CheckOutage(const char* name, const std::vector<Sample>& samples,
                 const std::vector<std::pair<absl::Time, bool>>& health,
                 absl::Time fault, absl::Time back, absl::Time end,
                 int deadline_exceeded_tolerance) {
  std::map<StatusCode, int> during;
  std::vector<absl::Duration> unavailable_latency;
  absl::Duration slowest = absl::ZeroDuration();
  absl::Time first_ok_after_back = absl::InfiniteFuture();
  int late_failures = 0;  // Each one is reported; the first 10.
  for (const Sample& s : samples) {
    const absl::Duration took = s.end - s.start;
    // In flight at some point while the database was away.
    if (s.end >= fault && s.start < back) {
      ++during[s.code];
      slowest = std::max(slowest, took);
      if (s.code == StatusCode::UNAVAILABLE) {
        unavailable_latency.push_back(took);
      }
      // The client enforces the deadline; this catches a client that would
      // not (and a clock gone wrong). 200 ms of scheduling slack.
      EXPECT_LE(took, kCallDeadline + absl::Milliseconds(200))
          << name << ": a call took " << took;
    }
    if (s.start >= back && s.code == StatusCode::OK) {
      first_ok_after_back = std::min(first_ok_after_back, s.end);
    }
    // Calls started 2 s after the database is back, and over before the
    // next fault, must all succeed.
    if (s.start >= back + absl::Seconds(2) && s.end < end &&
        s.code != StatusCode::OK && late_failures < 10) {
      ADD_FAILURE() << name << ": a call started " << s.start - back
                    << " after the database was back ended " << CodeName(s.code)
                    << " after " << took;
      ++late_failures;
    }
  }
  absl::Time not_serving = absl::InfiniteFuture();
  absl::Time serving_again = absl::InfiniteFuture();
  for (const auto& [t, serving] : health) {
    if (t >= fault && !serving) not_serving = std::min(not_serving, t);
    if (t >= back && serving) serving_again = std::min(serving_again, t);
  }
  std::sort(unavailable_latency.begin(), unavailable_latency.end());
  auto percentile = [&](double p) {
    if (unavailable_latency.empty()) return 0.0;
    return Ms(unavailable_latency[static_cast<size_t>(
        p * static_cast<double>(unavailable_latency.size() - 1))]);
  };
  std::vector<std::string> counts;
  int total = 0;
  for (const auto& [code, n] : during) {
    counts.push_back(absl::StrCat(CodeName(code), "=", n));
    total += n;
  }
  std::printf(
      "[outage] %s: database away for %.0f ms; %d calls in flight meanwhile: "
      "%s\n"
      "[outage] %s: UNAVAILABLE latency p50 %.0f ms, p99 %.0f ms, max %.0f "
      "ms; slowest call %.0f ms (deadline %.0f ms)\n"
      "[outage] %s: health NOT_SERVING %.0f ms after the fault; SERVING "
      "%.0f ms after the database answered; first OK call ended %.0f ms "
      "after it answered\n",
      name, Ms(back - fault), total, absl::StrJoin(counts, " ").c_str(), name,
      percentile(0.5), percentile(0.99), percentile(1.0), Ms(slowest),
      Ms(kCallDeadline), name, Ms(not_serving - fault),
      Ms(serving_again - back), Ms(first_ok_after_back - back));
  std::fflush(stdout);

  for (const auto& [code, n] : during) {
    if (code == StatusCode::OK || code == StatusCode::UNAVAILABLE) continue;
    if (code == StatusCode::DEADLINE_EXCEEDED) {
      EXPECT_LE(n, deadline_exceeded_tolerance)
          << name << ": calls that outlived their deadline";
      continue;
    }
    ADD_FAILURE() << name << ": " << n << " calls ended " << CodeName(code);
  }
  EXPECT_GT(during[StatusCode::UNAVAILABLE], 0)
      << name << ": the outage was not noticed";
  EXPECT_LE(not_serving - fault, absl::Seconds(3))
      << name << ": health did not turn NOT_SERVING in time";
  EXPECT_LE(serving_again - back, absl::Seconds(2))
      << name << ": health did not turn SERVING in time";
  EXPECT_LE(first_ok_after_back - back, absl::Seconds(2))
      << name << ": calls did not succeed again in time";
}

TEST(OutageTest, StoppedAndFrozenDatabase) {
  const absl::Time test_start = absl::Now();
  PrivateMariaDb db;
  ASSERT_TRUE(db.ok());
  ASSERT_NE(db.AwaitApp(absl::Seconds(10)), absl::InfiniteFuture());
  std::printf("[outage] private MariaDB up in %.0f ms\n",
              Ms(absl::Now() - test_start));

  ServerHarness::Options options;
  options.mysql = db.app();
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  server.MustCreateUser("olga", "olga-password-1");
  const std::string token =
      server
          .MustCreateToken(Caller::Basic("olga", "olga-password-1"), "load",
                           v1::TOKEN_ACCESS_READ_ONLY)
          .value();
  ASSERT_FALSE(token.empty());

  Load load(server, token);
  absl::SleepFor(absl::Milliseconds(1500));  // Steady state first.

  // 1. Stopped: a clean shutdown closes every connection; new ones are
  // refused.
  const absl::Time stop_fault = absl::Now();
  ASSERT_TRUE(db.Stop());
  std::printf("[outage] mariadbd stopped in %.0f ms\n",
              Ms(absl::Now() - stop_fault));
  absl::SleepFor(stop_fault + absl::Seconds(4) - absl::Now());
  ASSERT_TRUE(db.Start());
  const absl::Time stop_back = db.AwaitApp(absl::Seconds(30));
  ASSERT_NE(stop_back, absl::InfiniteFuture());
  absl::SleepFor(absl::Seconds(3));

  // 2. Frozen: connections stay open but nothing answers, like a hung host
  // or a network partition. Longer than the connections' I/O timeout (3 s).
  const absl::Time freeze_fault = absl::Now();
  db.Freeze();
  absl::SleepFor(absl::Milliseconds(4500));
  db.Thaw();
  const absl::Time freeze_back = absl::Now();
  absl::SleepFor(absl::Seconds(3));
  const absl::Time end = absl::Now();
  load.Stop();

  const std::vector<Sample> samples = load.samples();
  const auto health = load.health();
  int before = 0;
  for (const Sample& s : samples) {
    if (s.end < stop_fault) {
      ++before;
      EXPECT_EQ(s.code, StatusCode::OK) << "before any fault";
    }
  }
  std::printf("[outage] %d calls before the first fault, %zu in all\n", before,
              samples.size());
  // Stopped: a clean shutdown ends every statement with an error at once, so
  // no call may outlive its deadline.
  CheckOutage("stopped", samples, health, stop_fault, stop_back, freeze_fault,
              0);
  // Frozen: a call whose statement was already on the wire when the
  // database froze cannot be interrupted (Connector/C++ 1.1 has no way to
  // cancel a blocking read); it ends at the I/O timeout (3 s), after its 2 s
  // deadline, and the client sees DEADLINE_EXCEEDED. Each pooled connection
  // strands at most one such call: when it times out the connection is
  // dropped, and by then the health check has marked the database down, so
  // later calls fail fast. Hence at most kPoolSize.
  CheckOutage("frozen", samples, health, freeze_fault, freeze_back, end,
              kPoolSize);

  EXPECT_TRUE(server.ok());
  EXPECT_EQ(server.Stop(), 0);

  // 3. Frozen, and no health check to notice it: calls must still end
  // within their deadline as UNAVAILABLE, because the wait for a pooled
  // connection is cut by the RPC's deadline (server/call_deadline_callbacks.h
  // -> core/call_deadline.h -> ConnectionPool::Acquire). Without that, they
  // would wait the 5 s acquire timeout and all end DEADLINE_EXCEEDED.
  ServerHarness::Options blind_options;
  blind_options.mysql = db.app();
  blind_options.bootstrap_admin = false;
  blind_options.env["TOKENAUTH_HEALTH_CHECK_INTERVAL"] = "1h";
  // One connection, opened before the freeze: a new connection to a frozen
  // server would take the 1 s connect timeout, as long as the deadline.
  blind_options.env["TOKENAUTH_MYSQL_POOL_SIZE"] = "1";
  ServerHarness blind(blind_options);
  ASSERT_TRUE(blind.ok());
  ASSERT_TRUE(blind.AuthenticateToken(token, v1::OPERATION_READ).ok());
  constexpr absl::Duration kShortDeadline = absl::Seconds(1);
  const absl::Time blind_fault = absl::Now();
  db.Freeze();
  // Shorter than the I/O timeout: the stranded connections stay stranded.
  const absl::Time blind_until = blind_fault + absl::Milliseconds(2500);
  absl::Mutex mu;
  std::map<StatusCode, int> codes;
  std::vector<absl::Duration> unavailable_latency;
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        auto auth = blind.AuthStub();
        while (absl::Now() < blind_until - kShortDeadline) {
          grpc::ClientContext context;
          const absl::Time start = absl::Now();
          context.set_deadline(absl::ToChronoTime(start + kShortDeadline));
          v1::AuthenticateRequest request;
          request.set_token(token);
          request.set_operation(v1::OPERATION_READ);
          v1::AuthenticateResponse response;
          const StatusCode code =
              auth->Authenticate(&context, request, &response).error_code();
          absl::MutexLock lock(&mu);
          ++codes[code];
          if (code == StatusCode::UNAVAILABLE) {
            unavailable_latency.push_back(absl::Now() - start);
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  db.Thaw();
  std::vector<std::string> counts;
  for (const auto& [code, n] : codes) {
    counts.push_back(absl::StrCat(CodeName(code), "=", n));
  }
  std::sort(unavailable_latency.begin(), unavailable_latency.end());
  std::printf(
      "[outage] frozen, no health check, pool of 1, %.0f ms deadlines: %s; "
      "UNAVAILABLE after %.0f..%.0f ms\n",
      Ms(kShortDeadline), absl::StrJoin(counts, " ").c_str(),
      unavailable_latency.empty() ? 0.0 : Ms(unavailable_latency.front()),
      unavailable_latency.empty() ? 0.0 : Ms(unavailable_latency.back()));
  for (const auto& [code, n] : codes) {
    if (code == StatusCode::DEADLINE_EXCEEDED) {
      EXPECT_LE(n, 1) << "more calls stranded than pooled connections";
    } else if (code != StatusCode::OK && code != StatusCode::UNAVAILABLE) {
      ADD_FAILURE() << n << " calls ended " << CodeName(code);
    }
  }
  EXPECT_GE(unavailable_latency.size(), 2u);
  for (absl::Duration d : unavailable_latency) {
    // It waited (nothing marked the database down)...
    EXPECT_GE(d, kShortDeadline - absl::Milliseconds(300));
    // ...and gave up before the deadline.
    EXPECT_LT(d, kShortDeadline);
  }
  EXPECT_TRUE(blind.ok());
  EXPECT_EQ(blind.Stop(), 0);
  std::printf("[outage] whole test %.1f s\n",
              absl::ToDoubleSeconds(absl::Now() - test_start));
}

}  // namespace
}  // namespace tokenauth::e2e
