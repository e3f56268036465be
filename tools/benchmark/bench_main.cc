// tokenauth-bench: seeds users and tokens into a running tokenauth-server and
// measures, against that one server, the rate and p50/p99 latency of
//   (a) grpc.health.v1.Health/Check           (the floor: no tokenauth work)
//   (b) Authenticate with a token, cache on
//   (c) Authenticate with a token, skip_cache (the database path)
//   (d) Authenticate with username + password (Argon2id)
//   (e) CreateToken (session credential)
// each at a fixed concurrency for a fixed time, as a ratio to (a); then (b)
// open-loop at half its measured rate; then (a), (b) and (c) again in short
// alternating slices (the paired phase: the host's drift, which moves whole
// phases by more than the gaps measured, cancels in each round's ratio);
// optionally (b)/(c) with 10k vs 1M
// stored tokens (bulk-seeded through storage/bench_seed.h) and a phase that
// presents every bulk-seeded token once while the server's RSS is watched.
//
// Run it through tools/bench, which starts the server (docs/PERFORMANCE.md).
// Secrets (token values, passwords, session IDs) stay in memory; the only
// exception is --h2load_dir, which writes one gRPC-framed request with one
// token of the throwaway bench database, mode 0600, for h2load to send.
//
// Single-threaded orchestration; the load itself runs on --threads driver
// threads (tools/benchmark/load.h).
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/random.h"
#include "core/token_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "storage/bench_seed.h"
#include "tokenauth/v1/auth_service.grpc.pb.h"
#include "tokenauth/v1/token_service.grpc.pb.h"
#include "tokenauth/v1/user_service.grpc.pb.h"
#include "tools/benchmark/load.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "The server, host:port.");
ABSL_FLAG(std::string, admin_user, "admin",
          "An admin account (its password in TOKENAUTH_BENCH_ADMIN_PASSWORD).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "Measured time per phase.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Unmeasured time before each phase's window.");
ABSL_FLAG(int, concurrency, 32, "Calls in flight (closed loop).");
ABSL_FLAG(int, basic_concurrency, 8,
          "Calls in flight for (d): Argon2id is CPU-bound and takes 64 MiB "
          "per check at the interactive cost, so more only adds memory.");
ABSL_FLAG(int, channels, 4, "gRPC channels (TCP connections).");
ABSL_FLAG(int, threads, 2, "Driver threads (one CompletionQueue each).");
ABSL_FLAG(int, users, 16, "Users to create (round-robin for (d) and (e)).");
ABSL_FLAG(int, tokens, 1000,
          "Tokens to create by RPC; (b) and (c) cycle through them.");
ABSL_FLAG(std::string, phases,
          "health,auth,auth_nocache,basic,create,half,half_health,paired",
          "Phases to run, comma-separated.");
ABSL_FLAG(int, paired_rounds, 10,
          "The paired phase: rounds of (a), (b) and (c) back to back.");
ABSL_FLAG(absl::Duration, paired_slice, absl::Seconds(1),
          "The paired phase: each measured slice (after a quarter of it, at "
          "most --warmup, unmeasured).");
ABSL_FLAG(std::string, stored_tokens, "",
          "Token counts to bulk-fill the table to, e.g. 10000,1000000; (b) "
          "and (c) are measured at each. Needs TOKENAUTH_MYSQL_* and "
          "--mysql_database.");
ABSL_FLAG(std::string, mysql_database, "",
          "The server's database, for bulk seeding.");
ABSL_FLAG(bool, memory, false,
          "After --stored_tokens: present every bulk-seeded token once "
          "(cache on) and report the server's RSS.");
ABSL_FLAG(int, server_pid, 0, "The server's pid, to read its RSS; 0: none.");
ABSL_FLAG(int64_t, cache_max_bytes, 64 << 20,
          "The server's AUTH_CACHE_MAX_BYTES, for the stated RSS bound.");
ABSL_FLAG(int64_t, rss_slack_mib, 64,
          "RSS bound = baseline + AUTH_CACHE_MAX_BYTES + this (the last-use "
          "queue, at most ~20 MiB, gRPC buffers, allocator slack).");
ABSL_FLAG(std::string, token_prefix, "tka", "The server's token prefix.");
ABSL_FLAG(absl::Duration, settle_after_fill, absl::Seconds(20),
          "After a bulk fill, wait this long before measuring: InnoDB writes "
          "the new pages out in the background, on the same cores.");
ABSL_FLAG(std::string, h2load_dir, "",
          "Write gRPC-framed request bodies and h2load command lines here.");

namespace tokenauth::bench {
namespace {

namespace v1 = ::tokenauth::v1;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "tokenauth-bench: %s\n", message.c_str());
  std::exit(1);
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat("code ", s.error_code(), ": ", s.error_message());
}

// The server's resident set in bytes (VmRSS), or -1.
int64_t ServerRss(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      int64_t kb = 0;
      std::string number = line.substr(6);
      number.erase(std::remove_if(number.begin(), number.end(),
                                  [](char c) { return c < '0' || c > '9'; }),
                   number.end());
      if (absl::SimpleAtoi(number, &kb)) return kb * 1024;
    }
  }
  return -1;
}

std::string Mib(int64_t bytes) {
  return bytes < 0 ? "-" : absl::StrFormat("%.0f", bytes / 1048576.0);
}

struct BenchUser {
  std::string username;
  std::string password;
  int64_t id = 0;
  std::string session_id;
  std::string csrf_token;
};

struct Row {
  std::string name;
  LoadResult result;
  int64_t rss = -1;
};

// The paired phase: rates of (a), (b) and (c) measured in the same round,
// one round after another.
struct Paired {
  int rounds = 0;
  absl::Duration slice;
  std::vector<double> a, b, c;  // Calls/s, one entry per round.
  int64_t errors = 0;
  std::string first_error;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

class Bench {
 public:
  Bench() : format_(absl::GetFlag(FLAGS_token_prefix)) {
    const std::string target = absl::GetFlag(FLAGS_target);
    const int channels = std::max(1, absl::GetFlag(FLAGS_channels));
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      // A distinct argument per channel, so each gets its own connection.
      args.SetInt("tokenauth.bench.channel", i);
      channels_.push_back(grpc::CreateCustomChannel(
          target, grpc::InsecureChannelCredentials(), args));
      auth_.push_back(v1::AuthService::NewStub(channels_.back()));
      tokens_stub_.push_back(v1::TokenService::NewStub(channels_.back()));
      health_.push_back(Health::NewStub(channels_.back()));
    }
    load_.warmup = absl::GetFlag(FLAGS_warmup);
    load_.duration = absl::GetFlag(FLAGS_duration);
    load_.threads = std::max(1, absl::GetFlag(FLAGS_threads));
    load_.concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
    pid_ = absl::GetFlag(FLAGS_server_pid);
  }

  int Run() {
    for (auto& ch : channels_) {
      if (!ch->WaitForConnected(std::chrono::system_clock::now() +
                                std::chrono::seconds(10))) {
        Die("cannot connect to " + absl::GetFlag(FLAGS_target));
      }
    }
    Seed();
    const std::vector<std::string> phases =
        absl::StrSplit(absl::GetFlag(FLAGS_phases), ',', absl::SkipEmpty());
    auto wanted = [&phases](absl::string_view p) {
      return std::find(phases.begin(), phases.end(), p) != phases.end();
    };
    std::printf(
        "\nphases: %s measured after %s warm-up, concurrency %d ((d): %d), "
        "%zu channels, %d driver threads, %d users, %d tokens\n\n",
        absl::FormatDuration(load_.duration).c_str(),
        absl::FormatDuration(load_.warmup).c_str(), load_.concurrency,
        absl::GetFlag(FLAGS_basic_concurrency), channels_.size(), load_.threads,
        absl::GetFlag(FLAGS_users), absl::GetFlag(FLAGS_tokens));
    std::fflush(stdout);
    if (wanted("health")) Measure("(a) Health/Check", HealthStarter());
    if (wanted("auth"))
      Measure("(b) Authenticate PAT, cache on", AuthStarter(false));
    if (wanted("auth_nocache")) {
      Measure("(c) Authenticate PAT, skip_cache", AuthStarter(true));
    }
    if (wanted("basic")) {
      LoadOptions o = load_;
      o.concurrency = std::max(1, absl::GetFlag(FLAGS_basic_concurrency));
      Measure("(d) Authenticate Basic", BasicStarter(), &o);
    }
    if (wanted("half"))
      OpenLoopAtHalf("(b)", "half", "auth", AuthStarter(false));
    // The floor of the target above: the empty RPC, open loop at half of
    // its own rate, on the same machine.
    if (wanted("half_health")) {
      OpenLoopAtHalf("(a)", "half_health", "health", HealthStarter());
    }
    if (wanted("paired")) MeasurePaired();
    // Before (e), which adds tokens, so the first point is what it says.
    bool failed = false;
    const bool stored = !absl::GetFlag(FLAGS_stored_tokens).empty();
    if (stored) failed |= !StoredTokens();
    if (wanted("create")) Measure("(e) CreateToken (session)", CreateStarter());
    PrintTable();
    if (!absl::GetFlag(FLAGS_h2load_dir).empty()) WriteH2load();
    failed |= AnyErrors();
    if (stored && absl::GetFlag(FLAGS_memory)) failed |= !Memory();
    return failed ? 1 : 0;
  }

 private:
  // --- seeding through the real RPCs ---------------------------------------

  void Seed() {
    const char* admin_password = std::getenv("TOKENAUTH_BENCH_ADMIN_PASSWORD");
    if (admin_password == nullptr || *admin_password == '\0') {
      Die("set TOKENAUTH_BENCH_ADMIN_PASSWORD to the admin's password");
    }
    const std::string admin_auth = absl::StrCat(
        "Basic ", absl::Base64Escape(absl::StrCat(
                      absl::GetFlag(FLAGS_admin_user), ":", admin_password)));
    const absl::Time t0 = absl::Now();
    auto users = v1::UserService::NewStub(channels_[0]);
    const int n_users = std::max(1, absl::GetFlag(FLAGS_users));
    const std::string run = RandomBase62(random_, 6);
    for (int i = 0; i < n_users; ++i) {
      BenchUser user;
      user.username = absl::StrCat("bench-", run, "-", i);
      user.password = RandomBase62(random_, 24);
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", admin_auth);
      v1::CreateUserRequest req;
      req.set_username(user.username);
      req.set_password(user.password);
      v1::CreateUserResponse resp;
      grpc::Status s = users->CreateUser(&ctx, req, &resp);
      if (!s.ok()) Die("seeding: CreateUser: " + Describe(s));
      user.id = resp.user().id();
      grpc::ClientContext login_ctx;
      v1::LoginRequest login;
      login.set_username(user.username);
      login.set_password(user.password);
      login.set_user_agent("tokenauth-bench");
      v1::LoginResponse session;
      s = auth_[0]->Login(&login_ctx, login, &session);
      if (!s.ok()) Die("seeding: Login: " + Describe(s));
      user.session_id = session.session_id();
      user.csrf_token = session.csrf_token();
      users_.push_back(std::move(user));
    }
    const int n_tokens = std::max(1, absl::GetFlag(FLAGS_tokens));
    token_values_.resize(n_tokens);
    std::atomic<int> next{0};
    absl::Mutex mu;
    std::string error;
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w) {
      workers.emplace_back([&, w] {
        auto& stub = *tokens_stub_[w % tokens_stub_.size()];
        for (int i = next++; i < n_tokens; i = next++) {
          const BenchUser& user = users_[i % users_.size()];
          grpc::ClientContext ctx;
          ctx.AddMetadata("x-session-id", user.session_id);
          ctx.AddMetadata("x-csrf-token", user.csrf_token);
          v1::CreateTokenRequest req;
          req.set_name(absl::StrCat("bench-", i));
          req.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_WRITE);
          v1::CreateTokenResponse resp;
          grpc::Status s = stub.CreateToken(&ctx, req, &resp);
          if (!s.ok()) {
            absl::MutexLock lock(&mu);
            if (error.empty()) error = Describe(s);
            return;
          }
          token_values_[i] = resp.value();
        }
      });
    }
    for (auto& t : workers) t.join();
    if (!error.empty()) Die("seeding: CreateToken: " + error);
    std::printf("seeded %d users and %d tokens by RPC in %.1f s\n", n_users,
                n_tokens, absl::ToDoubleSeconds(absl::Now() - t0));
    for (bool skip : {false, true}) {
      auto& reqs = skip ? auth_nocache_requests_ : auth_requests_;
      for (const std::string& value : token_values_) {
        v1::AuthenticateRequest r;
        r.set_token(value);
        r.set_operation(v1::OPERATION_READ);
        r.set_skip_cache(skip);
        reqs.push_back(std::move(r));
      }
    }
    for (const BenchUser& user : users_) {
      v1::AuthenticateRequest r;
      r.mutable_basic()->set_username(user.username);
      r.mutable_basic()->set_password(user.password);
      r.set_operation(v1::OPERATION_READ);
      basic_requests_.push_back(std::move(r));
    }
  }

  // --- phases ---------------------------------------------------------------

  Starter HealthStarter() {
    return [this](uint64_t, int ch, grpc::ClientContext* ctx,
                  grpc::CompletionQueue* cq, grpc::Status* status, void* tag) {
      return StartUnary<HealthCheckResponse>(
          [&] {
            return health_[ch]->PrepareAsyncCheck(ctx, health_request_, cq);
          },
          status, tag);
    };
  }

  Starter AuthStarter(bool skip_cache) {
    const auto* reqs = skip_cache ? &auth_nocache_requests_ : &auth_requests_;
    return RequestsStarter(reqs);
  }

  Starter BasicStarter() { return RequestsStarter(&basic_requests_); }

  Starter RequestsStarter(const std::vector<v1::AuthenticateRequest>* reqs) {
    return [this, reqs](uint64_t seq, int ch, grpc::ClientContext* ctx,
                        grpc::CompletionQueue* cq, grpc::Status* status,
                        void* tag) {
      const v1::AuthenticateRequest& r = (*reqs)[seq % reqs->size()];
      return StartUnary<v1::AuthenticateResponse>(
          [&] { return auth_[ch]->PrepareAsyncAuthenticate(ctx, r, cq); },
          status, tag);
    };
  }

  Starter CreateStarter() {
    return [this](uint64_t seq, int ch, grpc::ClientContext* ctx,
                  grpc::CompletionQueue* cq, grpc::Status* status, void* tag) {
      const BenchUser& user = users_[seq % users_.size()];
      ctx->AddMetadata("x-session-id", user.session_id);
      ctx->AddMetadata("x-csrf-token", user.csrf_token);
      v1::CreateTokenRequest r;
      r.set_name(absl::StrCat("bench-create-", seq));
      r.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_ONLY);
      return StartUnary<v1::CreateTokenResponse>(
          [&] { return tokens_stub_[ch]->PrepareAsyncCreateToken(ctx, r, cq); },
          status, tag);
    };
  }

  const Row& Measure(const std::string& name, const Starter& starter,
                     const LoadOptions* options = nullptr) {
    Row row;
    row.name = name;
    row.result =
        RunClosedLoop(options ? *options : load_, channels_.size(), starter);
    row.rss = ServerRss(pid_);
    rows_.push_back(row);
    PrintRow(rows_.back());
    return rows_.back();
  }

  // The row `of` ("(b)") again, open loop at half its measured rate; the
  // row is named "<of> open loop at <rate>/s".
  void OpenLoopAtHalf(const std::string& of, const char* phase,
                      const char* needs, Starter starter) {
    const Row* measured = Find(of);
    if (measured == nullptr || measured->result.rate <= 0) {
      std::printf("%s: skipped, needs phase %s\n", phase, needs);
      return;
    }
    LoadOptions o = load_;
    o.rate = measured->result.rate / 2;
    o.concurrency = std::max(load_.concurrency * 32, 1024);
    Row row;
    row.name = absl::StrFormat("%s open loop at %.0f/s", of, o.rate);
    row.result = RunOpenLoop(o, channels_.size(), std::move(starter));
    row.rss = ServerRss(pid_);
    rows_.push_back(row);
    PrintRow(rows_.back());
  }

  const Row* Find(absl::string_view prefix) const {
    for (const Row& r : rows_) {
      if (r.name.rfind(std::string(prefix), 0) == 0) return &r;
    }
    return nullptr;
  }

  bool AnyErrors() const {
    for (const Row& r : rows_) {
      if (r.result.errors > 0) return true;
    }
    return paired_.errors > 0;
  }

  // (a), (b) and (c) in slices of --paired_slice, round after round; the
  // order alternates (a b c, then c b a) so that a steady drift of the host
  // favours no phase. Each round's ratios compare slices a few seconds
  // apart instead of whole phases half a minute apart.
  void MeasurePaired() {
    paired_.rounds = std::max(1, absl::GetFlag(FLAGS_paired_rounds));
    paired_.slice = absl::GetFlag(FLAGS_paired_slice);
    LoadOptions o = load_;
    o.duration = paired_.slice;
    o.warmup = std::min(load_.warmup, paired_.slice / 4);
    const Starter health = HealthStarter();
    const Starter auth = AuthStarter(false);
    const Starter nocache = AuthStarter(true);
    struct Leg {
      const Starter* starter;
      std::vector<double>* rates;
    };
    const Leg forward[] = {
        {&health, &paired_.a}, {&auth, &paired_.b}, {&nocache, &paired_.c}};
    for (int round = 0; round < paired_.rounds; ++round) {
      for (int i = 0; i < 3; ++i) {
        const Leg& leg = forward[round % 2 == 0 ? i : 2 - i];
        const LoadResult r = RunClosedLoop(o, channels_.size(), *leg.starter);
        leg.rates->push_back(r.rate);
        paired_.errors += r.errors;
        if (paired_.first_error.empty()) paired_.first_error = r.first_error;
      }
    }
    std::printf("  done: paired, %d rounds of (a), (b), (c) for %s each\n",
                paired_.rounds, absl::FormatDuration(paired_.slice).c_str());
    std::fflush(stdout);
  }

  void PrintPaired() const {
    if (paired_.rounds == 0) return;
    std::printf(
        "\npaired: %d rounds of (a), (b), (c), %s measured each after %s "
        "unmeasured, order a b c then c b a%s\n",
        paired_.rounds, absl::FormatDuration(paired_.slice).c_str(),
        absl::FormatDuration(std::min(load_.warmup, paired_.slice / 4)).c_str(),
        paired_.errors ? "  <-- ERRORS" : "");
    if (paired_.errors > 0) {
      std::printf("paired: %" PRId64 " errors; first: %s\n", paired_.errors,
                  paired_.first_error.c_str());
    }
    std::printf("  (a) rate/s per round: median %.0f, min %.0f, max %.0f\n",
                Median(paired_.a),
                *std::min_element(paired_.a.begin(), paired_.a.end()),
                *std::max_element(paired_.a.begin(), paired_.a.end()));
    auto ratio = [this](const char* name, const std::vector<double>& x,
                        double target) {
      std::vector<double> per_round;
      double sum_x = 0, sum_a = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        sum_x += x[i];
        sum_a += paired_.a[i];
        if (paired_.a[i] > 0) per_round.push_back(x[i] / paired_.a[i]);
      }
      if (per_round.empty() || sum_a <= 0) return;
      const double median = Median(per_round);
      std::printf(
          "  %s/(a): median of rounds %.2fx (min %.2fx, max %.2fx), all "
          "rounds' calls %.2fx; target >= %.1fx: %s\n",
          name, median, *std::min_element(per_round.begin(), per_round.end()),
          *std::max_element(per_round.begin(), per_round.end()), sum_x / sum_a,
          target, median >= target ? "met" : "NOT met");
    };
    ratio("(b)", paired_.b, 0.9);
    ratio("(c)", paired_.c, 0.5);
    std::fflush(stdout);
  }

  void PrintRow(const Row& row) {
    std::printf(
        "  done: %-34s %8" PRId64 " calls, %6.0f/s, %" PRId64 " errors\n",
        row.name.c_str(), row.result.calls, row.result.rate, row.result.errors);
    std::fflush(stdout);
  }

  void PrintTable() {
    const Row* a = Find("(a)");
    std::printf("\n%-36s %9s %7s %9s %8s %8s %8s %7s %8s\n", "phase", "calls",
                "errors", "rate/s", "p50 ms", "p99 ms", "max ms", "vs (a)",
                "RSS MiB");
    for (const Row& r : rows_) {
      std::string ratio = "-";
      if (a != nullptr && a->result.rate > 0) {
        ratio = absl::StrFormat("%.2fx", r.result.rate / a->result.rate);
      }
      std::printf("%-36s %9" PRId64 " %7" PRId64
                  " %9.0f %8.2f %8.2f %8.2f %7s %8s%s\n",
                  r.name.c_str(), r.result.calls, r.result.errors,
                  r.result.rate, r.result.p50_ms, r.result.p99_ms,
                  r.result.max_ms, ratio.c_str(), Mib(r.rss).c_str(),
                  r.result.errors    ? "  <-- ERRORS"
                  : r.result.skipped ? "  <-- SKIPPED STARTS"
                                     : "");
    }
    for (const Row& r : rows_) {
      if (r.result.errors > 0) {
        std::printf("%s: %" PRId64 " errors; first: %s\n", r.name.c_str(),
                    r.result.errors, r.result.first_error.c_str());
      }
      if (r.result.skipped > 0) {
        std::printf("%s: %" PRId64 " starts skipped (too many in flight)\n",
                    r.name.c_str(), r.result.skipped);
      }
    }
    const Row* b = Find("(b) Auth");
    const Row* c = Find("(c)");
    const Row* half = Find("(b) open");
    if (a && b && a->result.rate > 0) {
      std::printf("target (b) >= 0.9x (a): %.2fx %s\n",
                  b->result.rate / a->result.rate,
                  b->result.rate >= 0.9 * a->result.rate ? "met" : "NOT met");
    }
    if (a && c && a->result.rate > 0) {
      std::printf("target (c) >= 0.5x (a): %.2fx %s\n",
                  c->result.rate / a->result.rate,
                  c->result.rate >= 0.5 * a->result.rate ? "met" : "NOT met");
    }
    if (half) {
      std::printf(
          "target p99 of (b) at half its max rate <= 2 ms: %.2f ms %s\n",
          half->result.p99_ms, half->result.p99_ms <= 2.0 ? "met" : "NOT met");
    }
    if (const Row* floor = Find("(a) open")) {
      std::printf(
          "  (the same open loop of Health/Check at half its rate: p99 "
          "%.2f ms)\n",
          floor->result.p99_ms);
    }
    PrintPaired();
    std::fflush(stdout);
  }

  // --- h2load cross-check ---------------------------------------------------

  static std::string Frame(const google::protobuf::Message& m) {
    const std::string body = m.SerializeAsString();
    std::string out(5, '\0');
    const uint32_t n = body.size();
    out[1] = char(n >> 24);
    out[2] = char(n >> 16);
    out[3] = char(n >> 8);
    out[4] = char(n);
    return out + body;
  }

  void WriteH2load() {
    const std::string dir = absl::GetFlag(FLAGS_h2load_dir);
    ::mkdir(dir.c_str(), 0700);
    // The expected response sizes, so the script can check every h2load
    // call got a message (an error is a trailers-only answer: no data).
    grpc::ClientContext hctx;
    HealthCheckResponse hresp;
    grpc::Status hs = health_[0]->Check(&hctx, health_request_, &hresp);
    grpc::ClientContext actx;
    v1::AuthenticateResponse aresp;
    grpc::Status as = auth_[0]->Authenticate(&actx, auth_requests_[0], &aresp);
    if (!hs.ok() || !as.ok()) {
      std::printf("h2load: reference call failed; not writing bodies\n");
      return;
    }
    const std::string target = absl::GetFlag(FLAGS_target);
    const int c = channels_.size();
    const int m = std::max(1, load_.concurrency / c);
    std::ofstream tsv(dir + "/h2load.tsv");
    std::printf("\nThe same calls through h2load (nghttp2-client):\n");
    struct Item {
      const char* name;
      const char* path;
      std::string body;
      size_t response_bytes;
      const Row* row;
    };
    const Item items[] = {
        {"health", "/grpc.health.v1.Health/Check", Frame(health_request_),
         5 + hresp.ByteSizeLong(), Find("(a)")},
        {"authenticate", "/tokenauth.v1.AuthService/Authenticate",
         Frame(auth_requests_[0]), 5 + aresp.ByteSizeLong(), Find("(b) Auth")},
    };
    for (const Item& item : items) {
      const std::string file = absl::StrCat(dir, "/", item.name, ".bin");
      {
        // Holds a token of the bench database: owner-only.
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out << item.body;
      }
      ::chmod(file.c_str(), 0600);
      const double rate = item.row ? item.row->result.rate : 1000;
      const int64_t n = std::max<int64_t>(
          1000,
          static_cast<int64_t>(rate * absl::ToDoubleSeconds(load_.duration)));
      const std::string url = absl::StrCat("http://", target, item.path);
      std::printf("  h2load -n %" PRId64
                  " -c %d -m %d -d %s -H 'content-type: application/grpc' "
                  "-H 'te: trailers' %s\n",
                  n, c, m, file.c_str(), url.c_str());
      tsv << item.name << '\t' << n << '\t' << c << '\t' << m << '\t' << file
          << '\t' << url << '\t' << item.response_bytes << '\t'
          << absl::StrFormat("%.0f", rate) << '\n';
    }
    std::fflush(stdout);
  }

  // --- stored tokens and memory ---------------------------------------------

  bool StoredTokens() {
    const char* host = std::getenv("TOKENAUTH_MYSQL_HOST");
    const char* port = std::getenv("TOKENAUTH_MYSQL_PORT");
    const char* user = std::getenv("TOKENAUTH_MYSQL_USER");
    const char* password = std::getenv("TOKENAUTH_MYSQL_PASSWORD");
    MysqlOptions mysql;
    if (host) mysql.host = host;
    if (port && !absl::SimpleAtoi(port, &mysql.port))
      Die("bad TOKENAUTH_MYSQL_PORT");
    if (user) mysql.user = user;
    if (password) mysql.password = password;
    mysql.database = absl::GetFlag(FLAGS_mysql_database);
    if (mysql.database.empty()) Die("--stored_tokens needs --mysql_database");
    absl::StatusOr<std::unique_ptr<BenchSeeder>> seeder =
        BenchSeeder::Open(mysql);
    if (!seeder.ok()) Die(std::string(seeder.status().message()));
    std::vector<int64_t> points;
    for (absl::string_view p : absl::StrSplit(
             absl::GetFlag(FLAGS_stored_tokens), ',', absl::SkipEmpty())) {
      int64_t n;
      if (!absl::SimpleAtoi(p, &n) || n < 0) Die("bad --stored_tokens");
      points.push_back(n);
    }
    std::sort(points.begin(), points.end());
    const int64_t filler_user = users_[0].id;
    std::printf("\n%-12s %10s %12s %12s %9s %9s %9s %9s\n", "stored", "seed s",
                "(b) rate/s", "(c) rate/s", "(b) p99", "(c) p99", "errors",
                "RSS MiB");
    struct Point {
      int64_t stored;
      LoadResult b, c;
    };
    std::vector<Point> results;
    bool ok = true;
    for (int64_t target : points) {
      absl::StatusOr<int64_t> have = (*seeder)->CountTokens();
      if (!have.ok()) Die(std::string(have.status().message()));
      const absl::Time t0 = absl::Now();
      int64_t missing = target - *have;
      while (missing > 0) {
        const int64_t batch = std::min<int64_t>(missing, 50000);
        std::vector<BenchTokenRow> rows;
        rows.reserve(batch);
        for (int64_t i = 0; i < batch; ++i) {
          TokenFormat::NewToken t = format_.Generate(random_);
          rows.push_back({t.public_id, TokenFormat::Hash(t.value), t.hint});
          filler_values_.push_back(std::move(t.value));
        }
        absl::Status s = (*seeder)->InsertTokens(filler_user, "bench-filler",
                                                 rows, absl::Now());
        if (!s.ok()) Die(std::string(s.message()));
        missing -= batch;
      }
      const double seed_seconds = absl::ToDoubleSeconds(absl::Now() - t0);
      if (target - *have > 0) {
        absl::SleepFor(absl::GetFlag(FLAGS_settle_after_fill));
      }
      have = (*seeder)->CountTokens();
      if (!have.ok()) Die(std::string(have.status().message()));
      Point p{*have, RunClosedLoop(load_, channels_.size(), AuthStarter(false)),
              RunClosedLoop(load_, channels_.size(), AuthStarter(true))};
      const int64_t errors = p.b.errors + p.c.errors;
      ok &= errors == 0;
      std::printf("%-12" PRId64 " %10.1f %12.0f %12.0f %9.2f %9.2f %9" PRId64
                  " %9s%s\n",
                  p.stored, seed_seconds, p.b.rate, p.c.rate, p.b.p99_ms,
                  p.c.p99_ms, errors, Mib(ServerRss(pid_)).c_str(),
                  errors ? "  <-- ERRORS" : "");
      std::fflush(stdout);
      results.push_back(p);
    }
    if (results.size() >= 2 && results.front().b.rate > 0 &&
        results.front().c.rate > 0) {
      const Point& lo = results.front();
      const Point& hi = results.back();
      const double db = 100.0 * (hi.b.rate - lo.b.rate) / lo.b.rate;
      const double dc = 100.0 * (hi.c.rate - lo.c.rate) / lo.c.rate;
      std::printf(
          "change from %" PRId64 " to %" PRId64
          " stored tokens: (b) %+.1f%%, (c) %+.1f%%; target |(b)| < 10%%: "
          "%s\n",
          lo.stored, hi.stored, db, dc, std::abs(db) < 10 ? "met" : "NOT met");
    }
    std::fflush(stdout);
    return ok;
  }

  bool Memory() {
    if (filler_values_.empty()) {
      std::printf("memory: no bulk-seeded tokens; skipped\n");
      return true;
    }
    const int64_t baseline = ServerRss(pid_);
    std::vector<v1::AuthenticateRequest> reqs;
    reqs.reserve(filler_values_.size());
    for (const std::string& value : filler_values_) {
      v1::AuthenticateRequest r;
      r.set_token(value);
      r.set_operation(v1::OPERATION_READ);
      reqs.push_back(std::move(r));
    }
    // Peak RSS while the phase runs, sampled every 100 ms.
    std::atomic<int64_t> peak{baseline};
    absl::Notification done;
    std::thread sampler([&] {
      while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
        const int64_t now = ServerRss(pid_);
        if (now > peak.load()) peak.store(now);
      }
    });
    LoadOptions o = load_;
    o.warmup = absl::ZeroDuration();
    o.max_calls = static_cast<int64_t>(reqs.size());
    o.duration = absl::Hours(1);  // Ends when every token was presented.
    const absl::Time t0 = absl::Now();
    LoadResult r = RunClosedLoop(o, channels_.size(), RequestsStarter(&reqs));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    done.Notify();
    sampler.join();
    const int64_t after = ServerRss(pid_);
    const int64_t max_bytes = absl::GetFlag(FLAGS_cache_max_bytes);
    const int64_t bound =
        baseline + max_bytes + (absl::GetFlag(FLAGS_rss_slack_mib) << 20);
    const bool within = peak.load() <= bound && r.errors == 0;
    std::printf(
        "\nmemory: %zu distinct tokens presented once each (skip_cache false) "
        "in "
        "%.0f s, %.0f/s, p99 %.2f ms, %" PRId64
        " errors\n  server RSS: before %s MiB, peak %s MiB, after %s MiB\n"
        "  stated bound: baseline %s + AUTH_CACHE_MAX_BYTES %s + slack "
        "%" PRId64 " = %s MiB: %s\n",
        reqs.size(), seconds, r.calls / seconds, r.p99_ms, r.errors,
        Mib(baseline).c_str(), Mib(peak.load()).c_str(), Mib(after).c_str(),
        Mib(baseline).c_str(), Mib(max_bytes).c_str(),
        absl::GetFlag(FLAGS_rss_slack_mib), Mib(bound).c_str(),
        within ? "within" : "EXCEEDED");
    if (r.errors > 0) std::printf("  first error: %s\n", r.first_error.c_str());
    std::fflush(stdout);
    return within;
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::AuthService::Stub>> auth_;
  std::vector<std::unique_ptr<v1::TokenService::Stub>> tokens_stub_;
  std::vector<std::unique_ptr<Health::Stub>> health_;
  LoadOptions load_;
  int pid_ = 0;
  SodiumRandom random_;
  TokenFormat format_;
  std::vector<BenchUser> users_;
  std::vector<std::string> token_values_;
  std::vector<std::string> filler_values_;
  HealthCheckRequest health_request_;
  std::vector<v1::AuthenticateRequest> auth_requests_;
  std::vector<v1::AuthenticateRequest> auth_nocache_requests_;
  std::vector<v1::AuthenticateRequest> basic_requests_;
  std::vector<Row> rows_;
  Paired paired_;
};

}  // namespace
}  // namespace tokenauth::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tokenauth-bench: measures a running tokenauth-server. Use tools/bench; "
      "see docs/PERFORMANCE.md.");
  absl::ParseCommandLine(argc, argv);
  tokenauth::bench::Bench bench;
  return bench.Run();
}
