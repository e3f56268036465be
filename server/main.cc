// tokenauth-server: wires settings, the MySQL store, the core rules and the
// gRPC services together, then serves until SIGINT or SIGTERM, draining
// in-flight calls before it exits 0.
//
// Every flag below is also read from the environment variable of the same
// name in capitals (TOKENAUTH_LISTEN, MAX_ACCESS_TOKENS_PER_USER, ...); a
// flag given on the command line wins.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/audit_log.h"
#include "core/auth_cache.h"
#include "core/authenticator.h"
#include "core/clock.h"
#include "core/janitor.h"
#include "core/last_use.h"
#include "core/password_hasher.h"
#include "core/random.h"
#include "core/session_manager.h"
#include "core/token_format.h"
#include "core/token_manager.h"
#include "core/user_manager.h"
#include "server/call_deadline_callbacks.h"
#include "server/caller_auth.h"
#include "server/health.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/metrics_http.h"
#include "server/parse_errors.h"
#include "server/rpc_metrics.h"
#include "server/services.h"
#include "server/settings.h"
#include "server/tls.h"
#include "storage/mysql_store.h"

using tokenauth::DurationSetting;

ABSL_FLAG(std::string, tokenauth_listen, "127.0.0.1:50051",
          "Address to serve gRPC on (host:port); TLS when "
          "TOKENAUTH_TLS_CERT_FILE is set, else plaintext.");
ABSL_FLAG(std::string, tokenauth_tls_cert_file, "",
          "PEM server certificate (chain); with TOKENAUTH_TLS_KEY_FILE, "
          "serve TLS.");
ABSL_FLAG(std::string, tokenauth_tls_key_file, "",
          "PEM private key of TOKENAUTH_TLS_CERT_FILE.");
ABSL_FLAG(std::string, tokenauth_tls_client_ca_file, "",
          "PEM CA certificates; when set, clients must present a certificate "
          "signed by one of them (mTLS).");
ABSL_FLAG(std::string, tokenauth_mysql_host, "127.0.0.1", "MySQL host.");
ABSL_FLAG(int, tokenauth_mysql_port, 3306, "MySQL TCP port.");
ABSL_FLAG(std::string, tokenauth_mysql_socket, "",
          "MySQL unix socket; when set, used instead of host and port.");
ABSL_FLAG(std::string, tokenauth_mysql_user, "tokenauth", "MySQL user.");
ABSL_FLAG(std::string, tokenauth_mysql_password, "",
          "MySQL password. Prefer the environment variable: flags show in ps.");
ABSL_FLAG(std::string, tokenauth_mysql_database, "tokenauth",
          "MySQL database (must exist; tables are created by migrations).");
ABSL_FLAG(int, tokenauth_mysql_pool_size, 8, "MySQL connections at most.");
ABSL_FLAG(DurationSetting, tokenauth_startup_db_wait,
          DurationSetting{absl::Seconds(60)},
          "How long to wait for the database at start before giving up.");
ABSL_FLAG(std::string, tokenauth_token_prefix, "tka",
          "Prefix of token values ([a-z0-9]{1,16}); changing it invalidates "
          "every issued token.");
ABSL_FLAG(std::string, tokenauth_token_scopes, "",
          "Comma-separated scope catalogue; empty accepts any well-formed "
          "scope.");
ABSL_FLAG(std::string, tokenauth_bootstrap_admin, "",
          "Create this admin user at start if no user of that name exists.");
ABSL_FLAG(std::string, tokenauth_bootstrap_password, "",
          "Password for the bootstrap admin; empty: generate and print one.");
ABSL_FLAG(std::string, tokenauth_password_hash_cost, "interactive",
          "Argon2id cost: interactive, moderate, or minimum (tests only).");
ABSL_FLAG(DurationSetting, tokenauth_health_check_interval,
          DurationSetting{absl::Seconds(1)},
          "How often the database is pinged for the health service.");
ABSL_FLAG(DurationSetting, tokenauth_drain_timeout,
          DurationSetting{absl::Seconds(10)},
          "On SIGINT/SIGTERM, how long in-flight calls may take to finish.");
ABSL_FLAG(std::string, tokenauth_metrics_listen, "",
          "Address (host:port) to serve Prometheus metrics on, plain HTTP "
          "GET /metrics; empty = no metrics. E.g. 127.0.0.1:9464.");
ABSL_FLAG(int, max_access_tokens_per_user, 50,
          "Usable tokens a user may hold at once; 0 = no limit.");
ABSL_FLAG(DurationSetting, access_token_stale_period,
          DurationSetting{absl::Hours(24 * 365)},
          "A token unused this long stops authenticating.");
ABSL_FLAG(DurationSetting, access_token_default_lifetime,
          DurationSetting{absl::ZeroDuration()},
          "Expiration applied to a token created without one; 0 = none.");
ABSL_FLAG(DurationSetting, access_token_max_lifetime,
          DurationSetting{absl::ZeroDuration()},
          "A token's expire_time may be at most this far from now; 0 = no "
          "maximum.");
ABSL_FLAG(bool, access_token_require_expiration, false,
          "Refuse tokens without an expiration.");
ABSL_FLAG(DurationSetting, access_token_last_use_update_min_interval,
          DurationSetting{absl::Minutes(10)},
          "A token's last use is written at most this often.");
ABSL_FLAG(DurationSetting, access_token_unusable_token_ttl,
          DurationSetting{absl::Hours(24 * 90)},
          "The janitor deletes tokens unusable (expired, revoked, stale) for "
          "longer than this.");
ABSL_FLAG(DurationSetting, access_token_janitor_interval,
          DurationSetting{absl::Hours(1)},
          "How often the janitor runs in the background; 0 = never.");
ABSL_FLAG(bool, tokenauth_janitor_once, false,
          "Run the janitor once, print what it deleted, and exit.");
ABSL_FLAG(DurationSetting, session_idle_timeout,
          DurationSetting{absl::Hours(2)}, "A session unused this long ends.");
ABSL_FLAG(DurationSetting, session_max_age,
          DurationSetting{absl::Hours(24 * 14)},
          "A session ends this long after Login, used or not.");
ABSL_FLAG(int, login_max_failed_attempts, 10,
          "Wrong passwords per account within LOGIN_LOCKOUT_PERIOD before "
          "Basic auth and Login are refused for the rest of the period.");
ABSL_FLAG(int64_t, auth_cache_max_entries, 100000,
          "Credentials whose Authenticate answer is kept in memory at most; "
          "0 turns the cache off.");
ABSL_FLAG(int64_t, auth_cache_max_bytes, int64_t{64} << 20,
          "Estimated memory of the Authenticate cache at most, in bytes.");
ABSL_FLAG(int, auth_worker_threads, 32,
          "Threads for the Authenticate calls the cache does not answer (a "
          "database read or a password hash): at most this many at once.");
ABSL_FLAG(int, auth_max_waiting, 10000,
          "Authenticate calls that may wait for one of those threads; "
          "beyond, UNAVAILABLE with reason SERVER_BUSY.");
ABSL_FLAG(DurationSetting, revocation_propagation_bound,
          DurationSetting{absl::Seconds(1)},
          "A revocation (token, session, password change, disabled user) made "
          "through another replica takes effect here within this; made "
          "through this one, at once. The age of the oldest cached answer.");
ABSL_FLAG(DurationSetting, login_lockout_period,
          DurationSetting{absl::Minutes(15)},
          "The failed-login window, from the first failure.");

namespace tokenauth {
namespace {

[[noreturn]] void Die(absl::string_view message) {
  LogError(message);
  std::exit(1);
}

template <typename T>
T ValueOrDie(absl::StatusOr<T> v) {
  if (!v.ok()) Die(v.status().message());
  return *std::move(v);
}

// Retries while the database is unreachable. The stop signals are blocked
// by then, so wait for them here too: SIGTERM during start-up exits 0.
absl::Status MigrateWithRetry(MysqlStore& store, absl::Duration wait,
                              const sigset_t& stop_signals) {
  const absl::Time give_up = absl::Now() + wait;
  while (true) {
    absl::Status s = store.Migrate();
    if (s.ok() || !absl::IsUnavailable(s) || absl::Now() >= give_up) return s;
    LogWarning("database not reachable yet (", s.message(), "); retrying");
    const timespec one_second{1, 0};
    if (int sig = sigtimedwait(&stop_signals, nullptr, &one_second); sig > 0) {
      LogInfo("received ", strsignal(sig), " while starting; exiting");
      std::exit(0);
    }
  }
}

// The metrics read at scrape time from the parts of the server
// (docs/METRICS.md). All must outlive the registry's last Render().
void RegisterServerMetrics(metrics::Registry* registry, const MysqlStore* store,
                           const DatabaseMonitor* monitor,
                           const AuthCache* cache) {
  metrics::RegisterProcessMetrics(registry);
  registry->AddCallbackGauge(
      "tokenauth_db_up",
      "1 if the last health ping of the database answered, else 0.", {},
      [monitor] { return monitor->database_up() ? 1.0 : 0.0; });
  registry->AddCallbackGauge(
      "tokenauth_db_pool_size",
      "Database connections the pool may open (TOKENAUTH_MYSQL_POOL_SIZE).", {},
      [store] { return store->pool_stats().size; });
  constexpr char kConnectionsHelp[] =
      "Open database connections: in_use (leased to a call, or being "
      "opened) or idle.";
  registry->AddCallbackGauge("tokenauth_db_pool_connections", kConnectionsHelp,
                             {{"state", "in_use"}},
                             [store] { return store->pool_stats().in_use; });
  registry->AddCallbackGauge("tokenauth_db_pool_connections", kConnectionsHelp,
                             {{"state", "idle"}},
                             [store] { return store->pool_stats().idle; });
  registry->AddCallbackCounter(
      "tokenauth_db_pool_acquire_waits_total",
      "Calls that found every database connection in use and waited.", {},
      [store] { return store->pool_stats().acquire_waits; });
  registry->AddCallbackCounter(
      "tokenauth_db_pool_acquire_failures_total",
      "Calls that got no database connection (UNAVAILABLE).", {},
      [store] { return store->pool_stats().acquire_failures; });
  registry->AddCallbackCounter("tokenauth_auth_cache_hits_total",
                               "Authenticate answers served from the cache.",
                               {}, [cache] { return cache->Stats().hits; });
  registry->AddCallbackCounter(
      "tokenauth_auth_cache_misses_total",
      "Authenticate lookups that were not in the cache.", {},
      [cache] { return cache->Stats().misses; });
  registry->AddCallbackCounter(
      "tokenauth_auth_cache_evictions_total",
      "Cache entries removed to stay within AUTH_CACHE_MAX_ENTRIES/BYTES.", {},
      [cache] { return cache->Stats().evictions; });
  registry->AddCallbackCounter(
      "tokenauth_auth_cache_invalidations_total",
      "Invalidations of a user's cache entries (a credential changed).", {},
      [cache] { return cache->Stats().invalidations; });
  registry->AddCallbackGauge("tokenauth_auth_cache_entries",
                             "Entries in the Authenticate cache.", {},
                             [cache] { return cache->Stats().entries; });
  registry->AddCallbackGauge(
      "tokenauth_auth_cache_bytes",
      "Estimated memory of the Authenticate cache entries, in bytes.", {},
      [cache] { return cache->Stats().bytes; });
}

int Serve() {
  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const TlsSettings tls{absl::GetFlag(FLAGS_tokenauth_tls_cert_file),
                        absl::GetFlag(FLAGS_tokenauth_tls_key_file),
                        absl::GetFlag(FLAGS_tokenauth_tls_client_ca_file)};
  const std::shared_ptr<grpc::ServerCredentials> listen_credentials =
      ValueOrDie(MakeServerCredentials(tls));
  const std::string prefix = absl::GetFlag(FLAGS_tokenauth_token_prefix);
  if (absl::Status s = TokenFormat::ValidatePrefix(prefix); !s.ok()) {
    Die(absl::StrCat("TOKENAUTH_TOKEN_PREFIX: ", s.message()));
  }
  if (absl::GetFlag(FLAGS_max_access_tokens_per_user) < 0) {
    Die("MAX_ACCESS_TOKENS_PER_USER: must be 0 (no limit) or positive");
  }
  TokenPolicy policy;
  policy.stale_period = absl::GetFlag(FLAGS_access_token_stale_period).value;
  if (policy.stale_period <= absl::ZeroDuration()) {
    Die("ACCESS_TOKEN_STALE_PERIOD: must be positive");
  }
  policy.max_tokens_per_user = absl::GetFlag(FLAGS_max_access_tokens_per_user);
  AuthPolicy auth_policy;
  auth_policy.sessions.idle_timeout =
      absl::GetFlag(FLAGS_session_idle_timeout).value;
  auth_policy.sessions.max_age = absl::GetFlag(FLAGS_session_max_age).value;
  auth_policy.lockout.max_failures =
      absl::GetFlag(FLAGS_login_max_failed_attempts);
  auth_policy.lockout.period = absl::GetFlag(FLAGS_login_lockout_period).value;
  if (auth_policy.sessions.idle_timeout <= absl::ZeroDuration()) {
    Die("SESSION_IDLE_TIMEOUT: must be positive");
  }
  if (auth_policy.sessions.max_age <= absl::ZeroDuration()) {
    Die("SESSION_MAX_AGE: must be positive");
  }
  if (auth_policy.lockout.max_failures < 1) {
    Die("LOGIN_MAX_FAILED_ATTEMPTS: must be at least 1");
  }
  if (auth_policy.lockout.period <= absl::ZeroDuration()) {
    Die("LOGIN_LOCKOUT_PERIOD: must be positive");
  }
  policy.scope_catalogue = absl::StrSplit(
      absl::GetFlag(FLAGS_tokenauth_token_scopes), ',', absl::SkipWhitespace());
  if (absl::Duration d =
          absl::GetFlag(FLAGS_access_token_default_lifetime).value;
      d > absl::ZeroDuration()) {
    policy.default_lifetime = d;
  }
  if (absl::Duration d = absl::GetFlag(FLAGS_access_token_max_lifetime).value;
      d > absl::ZeroDuration()) {
    policy.max_lifetime = d;
  }
  if (policy.default_lifetime && policy.max_lifetime &&
      *policy.default_lifetime > *policy.max_lifetime) {
    Die("ACCESS_TOKEN_DEFAULT_LIFETIME: must not exceed "
        "ACCESS_TOKEN_MAX_LIFETIME");
  }
  policy.require_expiration =
      absl::GetFlag(FLAGS_access_token_require_expiration);
  policy.last_use_interval =
      absl::GetFlag(FLAGS_access_token_last_use_update_min_interval).value;
  policy.unusable_ttl =
      absl::GetFlag(FLAGS_access_token_unusable_token_ttl).value;
  auth_policy.tokens = policy;
  AuthCacheOptions cache_options;
  if (const int64_t n = absl::GetFlag(FLAGS_auth_cache_max_entries); n < 0) {
    Die("AUTH_CACHE_MAX_ENTRIES: must be 0 (no cache) or positive");
  } else {
    cache_options.max_entries = static_cast<size_t>(n);
  }
  if (const int64_t n = absl::GetFlag(FLAGS_auth_cache_max_bytes); n < 4096) {
    Die("AUTH_CACHE_MAX_BYTES: must be at least 4096");
  } else {
    cache_options.max_bytes = static_cast<size_t>(n);
  }
  cache_options.max_age =
      absl::GetFlag(FLAGS_revocation_propagation_bound).value;
  if (cache_options.max_age <= absl::ZeroDuration()) {
    Die("REVOCATION_PROPAGATION_BOUND: must be positive (turn the cache off "
        "with AUTH_CACHE_MAX_ENTRIES=0)");
  }
  const int worker_threads = absl::GetFlag(FLAGS_auth_worker_threads);
  if (worker_threads < 1 || worker_threads > 1024) {
    Die(absl::StrCat("AUTH_WORKER_THREADS: must be between 1 and 1024; got ",
                     worker_threads));
  }
  const int max_waiting = absl::GetFlag(FLAGS_auth_max_waiting);
  if (max_waiting < 0 || max_waiting > 1000000) {
    Die(absl::StrCat("AUTH_MAX_WAITING: must be between 0 and 1000000; got ",
                     max_waiting));
  }
  const PasswordHashCost cost = ValueOrDie(PasswordHashCost::FromName(
      absl::GetFlag(FLAGS_tokenauth_password_hash_cost)));

  MysqlOptions mysql;
  mysql.host = absl::GetFlag(FLAGS_tokenauth_mysql_host);
  mysql.port = absl::GetFlag(FLAGS_tokenauth_mysql_port);
  mysql.socket = absl::GetFlag(FLAGS_tokenauth_mysql_socket);
  mysql.user = absl::GetFlag(FLAGS_tokenauth_mysql_user);
  mysql.password = absl::GetFlag(FLAGS_tokenauth_mysql_password);
  mysql.database = absl::GetFlag(FLAGS_tokenauth_mysql_database);
  mysql.pool_size = absl::GetFlag(FLAGS_tokenauth_mysql_pool_size);
  if (mysql.pool_size < 1) Die("TOKENAUTH_MYSQL_POOL_SIZE: must be at least 1");
  // Calls fail fast after a failed health ping until the next one answers.
  // The window outlasts the gap between two pings (the interval plus a ping
  // that times out, with room to spare), so it does not lapse in the middle
  // of an outage; capped, so that with rare pings the calls go back to
  // trying the database themselves.
  const absl::Duration health_interval =
      absl::GetFlag(FLAGS_tokenauth_health_check_interval).value;
  // 0 would ping the database in a tight loop.
  if (health_interval < absl::Milliseconds(100)) {
    Die("TOKENAUTH_HEALTH_CHECK_INTERVAL: must be at least 100ms");
  }
  mysql.fail_fast_for = std::clamp(health_interval + 3 * mysql.ping_timeout,
                                   3 * mysql.ping_timeout, absl::Seconds(30));
  std::unique_ptr<MysqlStore> store = ValueOrDie(MysqlStore::Open(mysql));
  if (absl::Status s = MigrateWithRetry(
          *store, absl::GetFlag(FLAGS_tokenauth_startup_db_wait).value,
          stop_signals);
      !s.ok()) {
    Die(absl::StrCat("database: cannot apply migrations: ", s.message()));
  }

  RealClock clock;
  Janitor janitor(store.get(), &clock, policy);
  if (absl::GetFlag(FLAGS_tokenauth_janitor_once)) {
    absl::StatusOr<Janitor::Result> done = janitor.RunOnce();
    if (!done.ok()) Die(absl::StrCat("janitor: ", done.status().message()));
    std::printf(
        "janitor: deleted %d tokens and %d idempotency keys in %d "
        "batches\n",
        done->deleted_tokens, done->deleted_keys, done->batches);
    return 0;
  }
  SodiumRandom random;
  const TokenFormat format(prefix);
  const PasswordHasher hasher(cost);
  const AuditLog audit(store.get(), &clock,
                       [](const absl::Status& s, const AuditEvent& e) {
                         LogWarning("audit: could not record ", e.type, " ",
                                    e.object_id, ": ", s.message());
                       });
  LastUseRecorder last_use(store.get(), policy.last_use_interval,
                           policy.max_last_used_peers);
  last_use.StartBackground(absl::Seconds(1));
  AuthCache auth_cache(cache_options);
  const Authenticator authenticator(store.get(), &clock, &format, &hasher,
                                    auth_policy, &last_use, &audit,
                                    &auth_cache);
  TokenManager tokens(store.get(), &clock, &random, &format, policy, &audit,
                      &auth_cache);
  UserManager users(store.get(), &clock, &hasher, &authenticator, &audit);
  SessionManager sessions(store.get(), &clock, &random, &authenticator, &audit);

  if (const std::string admin = absl::GetFlag(FLAGS_tokenauth_bootstrap_admin);
      !admin.empty()) {
    UserManager::Bootstrap boot = ValueOrDie(users.BootstrapAdmin(
        admin, absl::GetFlag(FLAGS_tokenauth_bootstrap_password), random));
    if (!boot.created) {
      LogInfo("bootstrap: user \"", admin, "\" exists; left unchanged");
    } else if (boot.generated_password.empty()) {
      LogInfo("bootstrap: created admin \"", admin,
              "\" with the password from TOKENAUTH_BOOTSTRAP_PASSWORD");
    } else {
      // Printed once, on stdout, by design: the operator has no other way to
      // learn it. Never logged.
      std::printf(
          "\n  Created admin user \"%s\" with generated password:\n\n"
          "      %s\n\n"
          "  It is shown only now. Change it with "
          "tokenauth.v1.UserService/SetPassword.\n\n",
          admin.c_str(), boot.generated_password.c_str());
      std::fflush(stdout);
    }
  }

  const CallerAuth callers(&authenticator);
  TokenServiceImpl token_service(&callers, &tokens);
  // Authenticate's calls that wait for the store or a password hash run
  // here, not on gRPC's threads (server/services.h). The default 32
  // threads: as many calls at once as the benchmark's concurrency, and at
  // most 32 password hashes' memory at once (2 GiB at the interactive
  // cost). Declared before the gRPC server, which must be gone before the
  // pool stops.
  BlockingPool blocking(worker_threads, static_cast<size_t>(max_waiting));
  AuthServiceImpl auth_service(&authenticator, &callers, &sessions, &blocking);
  UserServiceImpl user_service(&callers, &users);
  SessionServiceImpl session_service(&callers, &sessions);
  AuditServiceImpl audit_service(&callers, &audit);
  HealthServiceImpl health(
      {"tokenauth.v1.TokenService", "tokenauth.v1.AuthService",
       "tokenauth.v1.UserService", "tokenauth.v1.SessionService",
       "tokenauth.v1.AuditService"});
  DatabaseMonitor monitor(store.get(), &health, health_interval);

  // Metrics are recorded only when they are served. Declared before the
  // gRPC server, which uses them until it is destroyed.
  const std::string metrics_listen =
      absl::GetFlag(FLAGS_tokenauth_metrics_listen);
  metrics::Registry metrics_registry;
  std::unique_ptr<RpcMetrics> rpc_metrics;
  if (!metrics_listen.empty()) {
    rpc_metrics = std::make_unique<RpcMetrics>(
        &metrics_registry,
        std::vector<std::string>{v1::TokenService::service_full_name(),
                                 v1::AuthService::service_full_name(),
                                 v1::UserService::service_full_name(),
                                 v1::SessionService::service_full_name(),
                                 v1::AuditService::service_full_name(),
                                 grpc::health::v1::Health::service_full_name(),
                                 "grpc.reflection.v1alpha.ServerReflection"});
    RegisterServerMetrics(&metrics_registry, store.get(), &monitor,
                          &auth_cache);
  }

  InstallProtobufLogCapture();
  // Hands each handler's deadline to the store (core/call_deadline.h).
  grpc::Server::SetGlobalCallbacks(new CallDeadlineCallbacks);  // gRPC owns it.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<ParseErrorInterceptorFactory>());
  if (rpc_metrics != nullptr) {  // Last: it records the status as sent.
    interceptors.push_back(
        std::make_unique<RpcMetricsInterceptorFactory>(rpc_metrics.get()));
  }
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  const std::string listen = absl::GetFlag(FLAGS_tokenauth_listen);
  int bound_port = 0;
  builder.AddListeningPort(listen, listen_credentials, &bound_port);
  // gRPC's own limit on request metadata is 8 KiB; raise it so that our
  // credential parser sees an oversized header and answers UNAUTHENTICATED
  // saying so, instead of the transport's bare RESOURCE_EXHAUSTED.
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, 64 * 1024);
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind the
  // same port and silently share its traffic; a taken port must be an error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // One completion queue per core with at least two polling threads each
  // (gRPC's defaults: one queue, one to two pollers). Measured with
  // tools/bench on 2 cores: Authenticate's p99 at half its top rate went from
  // 24 ms to 12 ms and the server stopped growing threads (RSS 59 -> 29 MiB).
  // Up to 16 idle pollers a queue: a handler waiting for the database holds
  // its thread, and with 4 the threads that had waited exited as soon as
  // they were done and new ones were made for the next calls (skip_cache
  // Authenticate: 0.19-0.26x of Health with 4, 0.28-0.36x with 16; RSS the
  // same 29 MiB).
  const int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS,
                              cores);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  builder.RegisterService(&token_service);
  builder.RegisterService(&auth_service);
  builder.RegisterService(&user_service);
  builder.RegisterService(&session_service);
  builder.RegisterService(&audit_service);
  builder.RegisterService(&health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    Die(absl::StrCat("TOKENAUTH_LISTEN: cannot listen on ", listen));
  }
  LogInfo("serving on ", listen, " (port ", bound_port, ", ",
          !tls.enabled() ? "plaintext"
          : tls.mutual() ? "TLS, client certificates required"
                         : "TLS",
          ")");
  if (!tls.enabled() && !IsLoopbackListenAddress(listen)) {
    LogWarning(PlaintextListenWarning(listen));
  }
  std::unique_ptr<MetricsHttpServer> metrics_http;
  if (!metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started =
        MetricsHttpServer::Start(metrics_listen, &metrics_registry);
    if (!started.ok()) {
      LogError("TOKENAUTH_METRICS_LISTEN: ", started.status().message());
      server->Shutdown();
      server->Wait();
      return 1;
    }
    metrics_http = *std::move(started);
    LogInfo("metrics on ", metrics_listen, " (port ", metrics_http->port(),
            ", http GET /metrics)");
  }

  // The janitor runs on its own thread until shutdown.
  absl::Notification stop_janitor;
  std::thread janitor_thread;
  if (const absl::Duration every =
          absl::GetFlag(FLAGS_access_token_janitor_interval).value;
      every > absl::ZeroDuration()) {
    janitor_thread = std::thread([&janitor, &stop_janitor, every] {
      while (!stop_janitor.WaitForNotificationWithTimeout(every)) {
        absl::StatusOr<Janitor::Result> done = janitor.RunOnce();
        if (!done.ok()) {
          LogWarning("janitor: ", done.status().message());
        } else if (done->deleted_tokens > 0 || done->deleted_keys > 0) {
          LogInfo("janitor: deleted ", done->deleted_tokens, " tokens and ",
                  done->deleted_keys, " idempotency keys in ", done->batches,
                  " batches");
        }
      }
    });
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo("received ", strsignal(signal_number), "; draining");
  health.Shutdown();
  server->Shutdown(absl::ToChronoTime(
      absl::Now() + absl::GetFlag(FLAGS_tokenauth_drain_timeout).value));
  server->Wait();
  if (metrics_http != nullptr) metrics_http->Stop();
  stop_janitor.Notify();
  if (janitor_thread.joinable()) janitor_thread.join();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace tokenauth

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tokenauth-server: issues and checks API credentials over gRPC.\n"
      "Every flag can also be set by the environment variable of the same "
      "name in capitals.");
  if (absl::Status s = tokenauth::ApplyEnvironmentToFlags("server/main.cc");
      !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock
  // detector on: every lock then updates a process-wide lock graph under a
  // global lock, on the Authenticate path too. The tests keep it on; the
  // server does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return tokenauth::Serve();
}
