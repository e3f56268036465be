// ServerHarness: runs the real tokenauth-server binary
// (TOKENAUTH_SERVER_BINARY) as a child process for end-to-end tests, against a
// fresh test database, and hands out stubs and helpers to call it.
//
//   ServerHarness::Options options;
//   options.env["MAX_ACCESS_TOKENS_PER_USER"] = "3";
//   ServerHarness server(options);   // starts it; check server.ok()
//   auto stub = server.TokenStub();
//   ...
//   EXPECT_EQ(server.Stop(), 0);     // SIGTERM; the exit code
//
// The server listens on a free loopback port, uses the minimum password hash
// cost, and bootstraps the admin "admin" with a random password
// (admin_password()). Its stdout and stderr go to files in a per-server
// temporary directory; Stdout(), Stderr() and Log() read them, also after the
// server stopped, so tests can scan everything it printed. The directory is
// removed at destruction unless the test failed or TOKENAUTH_E2E_KEEP_LOGS is
// set in the environment. Under ctest (TOKENAUTH_TEST_RUN_DIR set) the files
// are in the run directory instead and kept for the after-suite secret scan,
// and every channel the harness makes records the secrets and errors of its
// calls (tests/secret_recorder.h).
//
// Ownership: a harness owns its child process and, unless it was given one,
// its ScopedTestDatabase; the database outlives the process. Failures while
// starting or stopping are reported with ADD_FAILURE() (so the harness works
// in SetUpTestSuite and constructors); check ok() before using it. The
// destructor stops a running server and adds a failure unless it exits 0.
//
// Thread-safety: stubs and the Call helpers may be used from any thread;
// Start/Stop and destruction from one thread only.
#ifndef TOKENAUTH_TESTS_SERVER_HARNESS_H_
#define TOKENAUTH_TESTS_SERVER_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/test_db.h"
#include "tokenauth/v1/auth_service.grpc.pb.h"
#include "tokenauth/v1/token_service.grpc.pb.h"
#include "tokenauth/v1/user_service.grpc.pb.h"

namespace tokenauth::e2e {

// A credential to present in request metadata.
struct Caller {
  // The whole `authorization` header value; empty: send none.
  std::string authorization;

  static Caller Basic(absl::string_view username, absl::string_view password);
  static Caller Bearer(absl::string_view token);
  static Caller None() { return Caller{}; }
};

class ServerHarness {
 public:
  struct Options {
    // Extra environment for the server (flags in capitals), e.g.
    // {"MAX_ACCESS_TOKENS_PER_USER", "3"}. Wins over the defaults below.
    std::map<std::string, std::string> env;
    // Set TOKENAUTH_BOOTSTRAP_ADMIN=admin.
    bool bootstrap_admin = true;
    // Set TOKENAUTH_BOOTSTRAP_PASSWORD to a random password. When false the
    // server generates (and prints) one if it creates the admin.
    bool bootstrap_password = true;
    // Run against this database instead of a fresh one (e.g. a second server
    // on the first one's database). Must outlive the harness.
    const ScopedTestDatabase* database = nullptr;
    // Run against this server and database instead (e.g. a private MariaDB
    // the test starts and stops itself); wins over `database`, and no
    // ScopedTestDatabase is made, so database() must not be called.
    std::optional<MysqlOptions> mysql;
    // How long to wait for Health/Check to answer SERVING.
    absl::Duration start_timeout = absl::Seconds(30);
    // Credentials of channel() (every stub and helper, and the start-up
    // health check); null: plaintext. Set them when `env` turns on TLS.
    std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
    // The server listens on <listen_host>:<port> (e.g. "0.0.0.0"); the
    // harness connects to 127.0.0.1:<port> whatever it is.
    std::string listen_host = "127.0.0.1";
  };

  ServerHarness();  // Default options.
  explicit ServerHarness(Options options);
  ~ServerHarness();

  ServerHarness(const ServerHarness&) = delete;
  ServerHarness& operator=(const ServerHarness&) = delete;

  // True once the server answered SERVING (and until Stop()).
  bool ok() const { return pid_ > 0 && serving_; }

  // Sends SIGTERM and waits (bounded) for the process to exit. Returns the
  // exit code, or -1 (and adds a failure) if it was killed by a signal or had
  // to be killed. Idempotent: later calls return the first result.
  int Stop();
  // Sends SIGKILL (a crash: nothing is drained or flushed) and reaps the
  // process; a death by that signal is not a failure. Later Stop() calls
  // return -1.
  void Kill();

  const std::string& address() const { return address_; }
  const std::string& admin_password() const { return admin_password_; }
  const ScopedTestDatabase& database() const { return *database_; }
  // Where the server's database is (from `database` or Options::mysql).
  const MysqlOptions& mysql() const { return mysql_; }
  // The channel to the server. After Stop() a new, unconnected one each time.
  std::shared_ptr<grpc::Channel> channel() const;

  std::unique_ptr<v1::TokenService::Stub> TokenStub() const;
  std::unique_ptr<v1::AuthService::Stub> AuthStub() const;
  std::unique_ptr<v1::UserService::Stub> UserStub() const;
  std::unique_ptr<grpc::health::v1::Health::Stub> HealthStub() const;

  Caller Admin() const { return Caller::Basic("admin", admin_password_); }

  // What the server printed so far. Log() is stdout followed by stderr.
  std::string Stdout() const;
  std::string Stderr() const;
  std::string Log() const;
  // The last `lines` lines of Log(), for failure messages.
  std::string LogTail(int lines = 40) const;
  // The port of the metrics endpoint (TOKENAUTH_METRICS_LISTEN, e.g.
  // "127.0.0.1:0" in Options::env), from the server's "metrics on ... (port
  // N, ...)" log line, which follows "serving on": waits up to `wait` for
  // it; 0 (and a failure) if it does not appear.
  int MetricsPort(absl::Duration wait = absl::Seconds(10)) const;

  // A ClientContext with a 10 s deadline and `caller`'s credential.
  static std::unique_ptr<grpc::ClientContext> Context(const Caller& caller);

  // --- Helpers over the stubs; each returns the RPC's status. Output
  // pointers may be null. ---
  grpc::Status CreateUser(const Caller& caller, absl::string_view username,
                          absl::string_view password, bool admin,
                          v1::User* user = nullptr) const;
  // As admin. Adds a failure and returns a default User on error.
  v1::User MustCreateUser(absl::string_view username,
                          absl::string_view password, bool admin = false) const;

  grpc::Status CreateToken(const Caller& caller,
                           const v1::CreateTokenRequest& request,
                           v1::CreateTokenResponse* response) const;
  // A token named `name` with `access` and no expiration. Adds a failure and
  // returns a default response on error.
  v1::CreateTokenResponse MustCreateToken(
      const Caller& caller, absl::string_view name,
      v1::TokenAccess access = v1::TOKEN_ACCESS_READ_WRITE) const;
  grpc::Status GetToken(const Caller& caller, absl::string_view id,
                        v1::Token* token = nullptr) const;
  grpc::Status ListTokens(const Caller& caller,
                          const v1::ListTokensRequest& request,
                          v1::ListTokensResponse* response) const;
  grpc::Status UpdateToken(const Caller& caller,
                           const v1::UpdateTokenRequest& request,
                           v1::Token* token = nullptr) const;
  grpc::Status RevokeToken(const Caller& caller, absl::string_view id,
                           v1::Token* token = nullptr) const;
  grpc::Status AuthenticateToken(
      absl::string_view token, v1::Operation operation,
      v1::AuthenticateResponse* response = nullptr) const;
  // A unary call with a hand-encoded request body (bytes the generated stubs
  // would refuse to send). On OK the response's bytes go to
  // *response_bytes, when not null.
  grpc::Status RawUnaryCall(const Caller& caller, const std::string& method,
                            const std::string& body,
                            std::string* response_bytes = nullptr) const;
  grpc::Status AuthenticateBasic(
      absl::string_view username, absl::string_view password,
      v1::Operation operation,
      v1::AuthenticateResponse* response = nullptr) const;

 private:
  // Spawns the server on a fresh port; false if it exited before serving.
  bool Spawn(const std::map<std::string, std::string>& env, std::string* error);
  // Polls Health/Check until SERVING, the process exits, or the deadline.
  bool WaitServing(absl::Time deadline, std::string* error);
  // The exit code once the child exited, or nullopt while it runs (waiting
  // until `deadline` if `block`).
  std::optional<int> Reap(bool block, absl::Time deadline);

  Options options_;
  std::unique_ptr<ScopedTestDatabase> owned_database_;
  const ScopedTestDatabase* database_ = nullptr;
  MysqlOptions mysql_;
  std::string dir_;
  std::string stdout_path_;
  std::string stderr_path_;
  std::string address_;
  std::string admin_password_;
  std::shared_ptr<grpc::Channel> channel_;
  pid_t pid_ = -1;
  bool serving_ = false;
  std::optional<int> exit_code_;
};

}  // namespace tokenauth::e2e

#endif  // TOKENAUTH_TESTS_SERVER_HARNESS_H_
