// End to end: the real server with TOKENAUTH_METRICS_LISTEN=127.0.0.1:0,
// scraped over plain HTTP (cpp-httplib's client) before and after a known
// set of calls. Checks the exact request counts by method and code, that the
// latency histogram counts the same calls, that the body is well-formed
// Prometheus text (0.0.4), that the pool, database, cache and process
// metrics are there, and that every other path is 404.
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tokenauth::e2e {
namespace {

using grpc::StatusCode;

constexpr char kAuthenticate[] = "/tokenauth.v1.AuthService/Authenticate";
constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";

// One scrape: sample name with labels, as written ("a{b=\"c\"}"), to value.
using Samples = std::map<std::string, double>;

// Parses a text exposition strictly: every line is "# HELP name text",
// "# TYPE name counter|gauge|histogram" or "name{labels} value"; each sample
// belongs to a family declared by a TYPE line above it; no sample twice.
// Adds a failure for each line that breaks a rule.
Samples ParseExposition(const std::string& body) {
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")"
      R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (\S+))");
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex kType(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  EXPECT_TRUE(absl::EndsWith(body, "\n")) << "the body ends with a newline";
  Samples samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    const std::string text(line);
    std::smatch m;
    if (std::regex_match(text, m, kHelp)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "HELP twice: " << text;
      continue;
    }
    if (std::regex_match(text, m, kType)) {
      EXPECT_TRUE(helped.count(m[1])) << "TYPE before HELP: " << text;
      EXPECT_TRUE(types.emplace(m[1], m[2]).second) << "TYPE twice: " << text;
      continue;
    }
    if (!std::regex_match(text, m, kSample)) {
      ADD_FAILURE() << "not a sample line: " << text;
      continue;
    }
    std::string family = m[1];
    if (!types.count(family)) {
      for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (absl::EndsWith(family, suffix)) {
          const std::string base =
              family.substr(0, family.size() - suffix.size());
          if (types.count(base) && types[base] == "histogram") family = base;
        }
      }
    }
    EXPECT_TRUE(types.count(family)) << "sample without TYPE: " << text;
    double value = 0;
    const std::string v = m[3];
    if (v == "+Inf" || v == "-Inf" || v == "NaN") {
      value = v == "+Inf" ? HUGE_VAL : v == "-Inf" ? -HUGE_VAL : NAN;
    } else {
      EXPECT_TRUE(absl::SimpleAtod(v, &value)) << "bad value: " << text;
    }
    const std::string key = absl::StrCat(m[1].str(), m[2].str());
    EXPECT_TRUE(samples.emplace(key, value).second) << "sample twice: " << text;
  }
  return samples;
}

// 0 when absent (counters with a rare code appear once they are used).
double Get(const Samples& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() ? 0 : it->second;
}

std::string Requests(absl::string_view method, absl::string_view code) {
  return absl::StrCat("tokenauth_rpc_requests_total{method=\"", method,
                      "\",code=\"", code, "\"}");
}
std::string Duration(absl::string_view method, absl::string_view part,
                     absl::string_view le = "") {
  return absl::StrCat("tokenauth_rpc_duration_seconds_", part, "{method=\"",
                      method, "\"", le.empty() ? "" : ",le=\"", le,
                      le.empty() ? "" : "\"", "}");
}

class MetricsE2eTest : public ::testing::Test {
 protected:
  static ServerHarness::Options Options() {
    ServerHarness::Options options;
    options.env["TOKENAUTH_METRICS_LISTEN"] = "127.0.0.1:0";
    // Every repeated Authenticate within the test is a cache hit.
    options.env["REVOCATION_PROPAGATION_BOUND"] = "1h";
    return options;
  }

  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    port_ = server_.MetricsPort();
    ASSERT_GT(port_, 0);
  }

  httplib::Result HttpGet(const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(10);
    client.set_read_timeout(10);
    return client.Get(path.c_str());
  }

  Samples Scrape() {
    httplib::Result result = HttpGet("/metrics");
    if (!result) {
      ADD_FAILURE() << "GET /metrics: " << httplib::to_string(result.error());
      return {};
    }
    EXPECT_EQ(result->status, 200);
    EXPECT_TRUE(absl::StartsWith(result->get_header_value("Content-Type"),
                                 "text/plain; version=0.0.4"))
        << result->get_header_value("Content-Type");
    return ParseExposition(result->body);
  }

  ServerHarness server_{Options()};
  int port_ = 0;
};

TEST_F(MetricsE2eTest, CountsEveryCallByMethodAndCode) {
  server_.MustCreateUser("alice", "alice-password");
  const std::string token =
      server_.MustCreateToken(Caller::Basic("alice", "alice-password"), "ci")
          .value();
  ASSERT_FALSE(token.empty());

  const Samples before = Scrape();
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(server_.AuthenticateToken(token, v1::OPERATION_READ).error_code(),
              StatusCode::OK);
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        server_
            .AuthenticateToken(absl::StrCat("tka_wrong", i), v1::OPERATION_READ)
            .error_code(),
        StatusCode::UNAUTHENTICATED);
  }
  for (int i = 0; i < 2; ++i) {
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(server_.HealthStub()
                    ->Check(ServerHarness::Context(Caller::None()).get(),
                            grpc::health::v1::HealthCheckRequest(), &response)
                    .ok());
  }
  // A token field that is not UTF-8: counted as the INVALID_ARGUMENT sent
  // (server/parse_errors.h), not the INTERNAL gRPC first made of it.
  ASSERT_EQ(
      server_.RawUnaryCall(Caller::None(), kAuthenticate, "\x0a\x02\xff\xfe")
          .error_code(),
      StatusCode::INVALID_ARGUMENT);
  // A path no service has: one bounded label value, "other".
  ASSERT_EQ(server_.RawUnaryCall(Caller::None(), "/no.such.Service/Nope", "")
                .error_code(),
            StatusCode::UNIMPLEMENTED);
  const Samples after = Scrape();

  auto delta = [&](const std::string& key) {
    return Get(after, key) - Get(before, key);
  };
  EXPECT_EQ(delta(Requests(kAuthenticate, "OK")), 7);
  EXPECT_EQ(delta(Requests(kAuthenticate, "UNAUTHENTICATED")), 3);
  EXPECT_EQ(delta(Requests(kAuthenticate, "INVALID_ARGUMENT")), 1);
  EXPECT_EQ(Get(after, Requests(kAuthenticate, "INTERNAL")), 0);
  EXPECT_EQ(delta(Requests(kHealthCheck, "OK")), 2);
  EXPECT_EQ(delta(Requests("other", "UNIMPLEMENTED")), 1);
  // The setup calls, before the first scrape.
  EXPECT_EQ(Get(before, Requests("/tokenauth.v1.UserService/CreateUser", "OK")),
            1);
  EXPECT_EQ(
      Get(before, Requests("/tokenauth.v1.TokenService/CreateToken", "OK")), 1);
  // A method never called shows code="OK" at 0 and no other code.
  EXPECT_EQ(after.count(Requests("/tokenauth.v1.AuthService/Login", "OK")), 1u);
  EXPECT_EQ(Get(after, Requests("/tokenauth.v1.AuthService/Login", "OK")), 0);

  // The histogram counts the same calls; buckets are cumulative and end at
  // +Inf == _count.
  EXPECT_EQ(delta(Duration(kAuthenticate, "count")), 7 + 3 + 1);
  EXPECT_EQ(delta(Duration(kHealthCheck, "count")), 2);
  for (const std::string& method :
       {std::string(kAuthenticate), std::string(kHealthCheck)}) {
    double previous = 0;
    for (const char* le :
         {"0.00001", "0.0001", "0.001", "0.01", "0.1", "1", "10", "+Inf"}) {
      const std::string key = Duration(method, "bucket", le);
      ASSERT_TRUE(after.count(key)) << key;
      EXPECT_GE(after.at(key), previous) << key;
      previous = after.at(key);
    }
    EXPECT_EQ(previous, Get(after, Duration(method, "count"))) << method;
    EXPECT_GT(Get(after, Duration(method, "sum")), 0) << method;
  }

  // Seven identical token checks within the hour: one miss, then six hits,
  // each counted once (a miss answered off-thread is not looked up and
  // counted again there); the malformed tokens never reach the cache.
  EXPECT_EQ(delta("tokenauth_auth_cache_hits_total"), 6);
  EXPECT_EQ(delta("tokenauth_auth_cache_misses_total"), 1);
  EXPECT_GE(Get(after, "tokenauth_auth_cache_entries"), 1);
  EXPECT_GT(Get(after, "tokenauth_auth_cache_bytes"), 0);
}

TEST_F(MetricsE2eTest, DatabasePoolAndProcessMetrics) {
  server_.MustCreateUser("bob", "bob-password");  // Uses the pool.
  const Samples s = Scrape();
  EXPECT_EQ(Get(s, "tokenauth_db_up"), 1);
  EXPECT_EQ(Get(s, "tokenauth_db_pool_size"), 8);  // The default.
  ASSERT_TRUE(s.count("tokenauth_db_pool_connections{state=\"in_use\"}"));
  ASSERT_TRUE(s.count("tokenauth_db_pool_connections{state=\"idle\"}"));
  const double open = s.at("tokenauth_db_pool_connections{state=\"in_use\"}") +
                      s.at("tokenauth_db_pool_connections{state=\"idle\"}");
  EXPECT_GE(open, 1);
  EXPECT_LE(open, 8);
  EXPECT_TRUE(s.count("tokenauth_db_pool_acquire_waits_total"));
  EXPECT_EQ(Get(s, "tokenauth_db_pool_acquire_failures_total"), 0);

  const double rss = Get(s, "process_resident_memory_bytes");
  EXPECT_GT(rss, 1 << 20);
  EXPECT_LT(rss, 4.0 * (1 << 30));
  const double start = Get(s, "process_start_time_seconds");
  const double now = absl::ToUnixSeconds(absl::Now());
  EXPECT_GT(start, now - 600);
  EXPECT_LE(start, now + 1);
  EXPECT_GT(Get(s, "process_cpu_seconds_total"), 0);
  EXPECT_GT(Get(s, "process_open_fds"), 3);
}

TEST_F(MetricsE2eTest, OnlyGetMetricsIsServed) {
  for (const char* path : {"/", "/metric", "/metrics/x", "/healthz"}) {
    httplib::Result result = HttpGet(path);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 404) << path;
  }
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(10);
  httplib::Result post = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 404);
  // Still serving after those.
  EXPECT_EQ(HttpGet("/metrics")->status, 200);
  EXPECT_EQ(server_.Stop(), 0);  // SIGTERM stops the HTTP server too.
  EXPECT_FALSE(HttpGet("/metrics"));
}

TEST(MetricsE2eStartTest, TakenPortIsAClearStartupError) {
  ServerHarness first([] {
    ServerHarness::Options options;
    options.env["TOKENAUTH_METRICS_LISTEN"] = "127.0.0.1:0";
    return options;
  }());
  ASSERT_TRUE(first.ok());
  const int port = first.MetricsPort();
  ASSERT_GT(port, 0);
  // A second server told to use the same port exits 1 naming the setting.
  // (Spawned here: the harness expects its servers to start.) No shell, so
  // that the database password stays out of argv.
  const std::string out = ::testing::TempDir() + "metrics_taken_port.log";
  std::vector<std::string> env = {
      "TOKENAUTH_LISTEN=127.0.0.1:0",
      absl::StrCat("TOKENAUTH_METRICS_LISTEN=127.0.0.1:", port),
      absl::StrCat("TOKENAUTH_MYSQL_HOST=", first.mysql().host),
      absl::StrCat("TOKENAUTH_MYSQL_PORT=", first.mysql().port),
      absl::StrCat("TOKENAUTH_MYSQL_USER=", first.mysql().user),
      absl::StrCat("TOKENAUTH_MYSQL_PASSWORD=", first.mysql().password),
      absl::StrCat("TOKENAUTH_MYSQL_DATABASE=", first.mysql().database),
      "TOKENAUTH_STARTUP_DB_WAIT=10s"};
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string binary = TOKENAUTH_SERVER_BINARY;
  char* argv[] = {binary.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  ASSERT_EQ(
      posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, envp.data()),
      0);
  posix_spawn_file_actions_destroy(&actions);
  // Bounded: a server that does not notice the taken port is killed.
  int status = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > give_up) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::ifstream in(out);
  const std::string log((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 1) << log;
  EXPECT_TRUE(absl::StrContains(
      log, absl::StrCat("TOKENAUTH_METRICS_LISTEN: cannot listen on 127.0.0.1:",
                        port, " (Address already in use)")))
      << log;
  std::remove(out.c_str());
  // The first server still answers.
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);
  httplib::Result result = client.Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
}

}  // namespace
}  // namespace tokenauth::e2e
