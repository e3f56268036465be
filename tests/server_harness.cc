#include "tests/server_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/call_credentials.h"
#include "gtest/gtest.h"
#include "tests/secret_recorder.h"

#ifndef TOKENAUTH_SERVER_BINARY
#error "TOKENAUTH_SERVER_BINARY must name the tokenauth-server binary"
#endif

extern char** environ;

namespace tokenauth::e2e {
namespace {

// What `command` prints on stdout; empty if it cannot be run.
std::string CommandOutput(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    out.append(buffer, n);
  }
  pclose(pipe);
  return out;
}

// Every thread's stack and the TCP connections of a process that will not
// stop, when gdb is installed (it is on the development machines; CI may lack
// it). Empty otherwise. Only for a failure message.
std::string ThreadStacks(pid_t pid) {
  if (access("/usr/bin/gdb", X_OK) != 0) return "";
  return absl::StrCat(
      "\n--- server threads (gdb) ---\n",
      CommandOutput(absl::StrCat("/usr/bin/gdb -p ", pid,
                                 " -batch -nx -ex 'thread apply all bt' "
                                 "2>/dev/null")),
      "--- server sockets (ss) ---\n",
      CommandOutput(
          absl::StrCat("ss -tnpi 2>/dev/null | grep -A1 'pid=", pid, ",'")));
}

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);
constexpr absl::Duration kStopTimeout = absl::Seconds(20);
constexpr int kSpawnAttempts = 3;

std::string RandomPassword() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  absl::BitGen gen;
  std::string out;
  for (int i = 0; i < 24; ++i) {
    out.push_back(kAlphabet[absl::Uniform<size_t>(gen, 0, 62)]);
  }
  return out;
}

// A loopback port nobody listens on right now (bind port 0, read, close).
// Another process may take it before the server binds; Spawn retries.
int PickFreePort(std::string* error) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = absl::StrCat("socket: ", std::strerror(errno));
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    *error = absl::StrCat("bind/getsockname: ", std::strerror(errno));
  } else {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// A channel with its own connection, closed when the channel goes away, that
// retries connecting quickly: the server is starting up while we poll it, and
// the default backoff would add seconds to every start. Every call on it is
// recorded for the after-suite secret scan (tests/secret_recorder.h).
std::shared_ptr<grpc::Channel> NewChannel(
    const std::string& address,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return NewRecordingChannel(address, credentials, args);
}

// Settings the test environment must not leak into the server.
bool IsServerSetting(absl::string_view name) {
  return absl::StartsWith(name, "TOKENAUTH_") ||
         absl::StartsWith(name, "MAX_ACCESS_TOKENS") ||
         absl::StartsWith(name, "ACCESS_TOKEN_") ||
         absl::StartsWith(name, "LOGIN_");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status), " (",
                        strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("wait status ", status);
}

}  // namespace

Caller Caller::Basic(absl::string_view username, absl::string_view password) {
  return Caller{client::BasicAuthorizationValue(username, password)};
}

Caller Caller::Bearer(absl::string_view token) {
  return Caller{absl::StrCat("Bearer ", token)};
}

ServerHarness::ServerHarness() : ServerHarness(Options()) {}

ServerHarness::ServerHarness(Options options) : options_(std::move(options)) {
  if (options_.mysql.has_value()) {
    mysql_ = *options_.mysql;
  } else {
    if (options_.database != nullptr) {
      database_ = options_.database;
    } else {
      owned_database_ = std::make_unique<ScopedTestDatabase>();
      database_ = owned_database_.get();
    }
    if (!database_->ok()) return;  // ScopedTestDatabase added the failure.
    mysql_ = database_->options();
  }

  // In a ctest run the output goes to the run directory, where the secret
  // scan reads it after the suite (and the next run clears it); otherwise to
  // a temporary directory of this server's own.
  std::tie(stdout_path_, stderr_path_) = NewServerLogPaths();
  if (stdout_path_.empty()) {
    std::string dir_template =
        absl::StrCat(::testing::TempDir(), "tokenauth_e2e_XXXXXX");
    if (mkdtemp(dir_template.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << dir_template << ": "
                    << std::strerror(errno);
      return;
    }
    dir_ = dir_template;
    stdout_path_ = absl::StrCat(dir_, "/server.stdout");
    stderr_path_ = absl::StrCat(dir_, "/server.stderr");
  }

  const MysqlOptions& mysql = mysql_;
  std::map<std::string, std::string> env;
  if (mysql.socket.empty()) {
    env["TOKENAUTH_MYSQL_HOST"] = mysql.host;
    env["TOKENAUTH_MYSQL_PORT"] = absl::StrCat(mysql.port);
  } else {
    env["TOKENAUTH_MYSQL_SOCKET"] = mysql.socket;
  }
  env["TOKENAUTH_MYSQL_USER"] = mysql.user;
  env["TOKENAUTH_MYSQL_PASSWORD"] = mysql.password;
  env["TOKENAUTH_MYSQL_DATABASE"] = mysql.database;
  env["TOKENAUTH_PASSWORD_HASH_COST"] = "minimum";
  env["TOKENAUTH_STARTUP_DB_WAIT"] = "10s";
  if (options_.bootstrap_admin) env["TOKENAUTH_BOOTSTRAP_ADMIN"] = "admin";
  if (options_.bootstrap_password) {
    admin_password_ = RandomPassword();
    RecordSecrets({{std::string(kSecretPassword), admin_password_}});
    env["TOKENAUTH_BOOTSTRAP_PASSWORD"] = admin_password_;
  }
  for (const auto& [name, value] : options_.env) env[name] = value;

  const absl::Time deadline = absl::Now() + options_.start_timeout;
  std::string error;
  for (int attempt = 1; attempt <= kSpawnAttempts; ++attempt) {
    error.clear();
    if (!Spawn(env, &error)) break;
    if (WaitServing(deadline, &error)) {
      serving_ = true;
      return;
    }
    // A lost race for the port is worth another try; anything else is not.
    if (pid_ > 0 || !absl::StrContains(Stderr(), "cannot listen")) break;
  }
  ADD_FAILURE() << "tokenauth-server did not start: " << error
                << "\n--- server output (" << stdout_path_ << ", .stderr) ---\n"
                << LogTail();
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = -1;
  }
}

ServerHarness::~ServerHarness() {
  if (pid_ > 0 && !exit_code_.has_value()) Stop();
  channel_.reset();
  if (dir_.empty() && !stdout_path_.empty() && ::testing::Test::HasFailure()) {
    std::fprintf(stderr, "[server harness] server output in %s and .stderr\n",
                 stdout_path_.c_str());
  }
  if (!dir_.empty()) {
    if (::testing::Test::HasFailure() ||
        std::getenv("TOKENAUTH_E2E_KEEP_LOGS") != nullptr) {
      std::fprintf(stderr, "[server harness] server output kept in %s\n",
                   dir_.c_str());
    } else {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }
  // owned_database_ is dropped last, after the server exited.
}

bool ServerHarness::Spawn(const std::map<std::string, std::string>& settings,
                          std::string* error) {
  const int port = PickFreePort(error);
  if (port == 0) return false;
  address_ = absl::StrCat("127.0.0.1:", port);

  // Everything the child needs is built before fork(): between fork and exec
  // only async-signal-safe calls are allowed.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    if (!IsServerSetting(entry.substr(0, entry.find('=')))) {
      env_strings.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : settings) {
    env_strings.push_back(absl::StrCat(name, "=", value));
  }
  env_strings.push_back(
      absl::StrCat("TOKENAUTH_LISTEN=", options_.listen_host, ":", port));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string binary = TOKENAUTH_SERVER_BINARY;
  char* argv[] = {binary.data(), nullptr};

  const int out = open(stdout_path_.c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int err = open(stderr_path_.c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) {
    *error = absl::StrCat("cannot open log files ", stdout_path_, ", ",
                          stderr_path_, ": ", std::strerror(errno));
    for (int fd : {out, err, in}) {
      if (fd >= 0) close(fd);
    }
    return false;
  }

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Child. The server must not outlive a crashed test.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
#ifdef SYS_close_range
    syscall(SYS_close_range, 3U, ~0U, 0U);
#endif
    execve(argv[0], argv, envp.data());
    static constexpr char kMessage[] = "server harness: execve failed\n";
    ssize_t ignored = write(2, kMessage, sizeof(kMessage) - 1);
    (void)ignored;
    _exit(127);
  }
  close(out);
  close(err);
  close(in);
  if (pid < 0) {
    *error = absl::StrCat("fork: ", std::strerror(errno));
    return false;
  }
  pid_ = pid;
  exit_code_.reset();
  channel_ = NewChannel(address_, options_.channel_credentials);
  return true;
}

std::optional<int> ServerHarness::Reap(bool block, absl::Time deadline) {
  if (exit_code_.has_value()) return exit_code_;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      if (WIFEXITED(status)) {
        exit_code_ = WEXITSTATUS(status);
      } else {
        ADD_FAILURE() << "tokenauth-server " << DescribeWaitStatus(status)
                      << "\n--- server output ---\n"
                      << LogTail();
        exit_code_ = -1;
      }
      return exit_code_;
    }
    if (r < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      exit_code_ = -1;
      return exit_code_;
    }
    if (!block || absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

bool ServerHarness::WaitServing(absl::Time deadline, std::string* error) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  std::string last = "no answer yet";
  while (true) {
    if (std::optional<int> code = Reap(false, deadline)) {
      *error = absl::StrCat("it exited with code ", *code, " before serving");
      pid_ = -1;
      return false;
    }
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    // Waiting for the connection inside a call keeps the channel polled, so
    // it reconnects as soon as the server listens (an idle sync channel only
    // makes progress when gRPC's backup poller runs, every 5 s).
    context.set_wait_for_ready(true);
    HealthCheckRequest request;
    HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok() && response.status() == HealthCheckResponse::SERVING) {
      return true;
    }
    last = status.ok()
               ? HealthCheckResponse::ServingStatus_Name(response.status())
               : absl::StrCat("status ", status.error_code(), ": ",
                              status.error_message());
    if (absl::Now() >= deadline) {
      *error = absl::StrCat("Health/Check did not answer SERVING within ",
                            absl::FormatDuration(options_.start_timeout),
                            " (last: ", last, ")");
      return false;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

int ServerHarness::Stop() {
  if (exit_code_.has_value()) return *exit_code_;
  if (pid_ <= 0) return -1;
  serving_ = false;
  // Close our idle connection first. gRPC's server shutdown waits for every
  // connection to go away, and an idle C++ client only answers the server's
  // GOAWAY ping when its backup poller runs, which would make each stop take
  // seconds. (Stubs still alive keep the channel open; that only costs time.)
  channel_.reset();
  if (kill(pid_, SIGTERM) != 0) {
    ADD_FAILURE() << "kill(SIGTERM): " << std::strerror(errno);
  }
  std::optional<int> code = Reap(true, absl::Now() + kStopTimeout);
  if (!code.has_value()) {
    ADD_FAILURE() << "tokenauth-server did not exit within "
                  << absl::FormatDuration(kStopTimeout)
                  << " of SIGTERM; killing it\n--- server output ---\n"
                  << LogTail() << ThreadStacks(pid_);
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_code_ = -1;
    return -1;
  }
  if (*code != 0) {
    ADD_FAILURE() << "tokenauth-server exited with code " << *code
                  << " after SIGTERM (want 0)\n--- server output ---\n"
                  << LogTail();
  }
  return *code;
}

void ServerHarness::Kill() {
  if (exit_code_.has_value() || pid_ <= 0) return;
  serving_ = false;
  channel_.reset();
  if (kill(pid_, SIGKILL) != 0) {
    ADD_FAILURE() << "kill(SIGKILL): " << std::strerror(errno);
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    ADD_FAILURE() << "tokenauth-server " << DescribeWaitStatus(status)
                  << " instead of being killed by SIGKILL";
  }
  exit_code_ = -1;
}

std::shared_ptr<grpc::Channel> ServerHarness::channel() const {
  if (channel_ != nullptr) return channel_;
  // Stopped: a fresh channel, so that calls fail cleanly (UNAVAILABLE).
  return NewChannel(address_, options_.channel_credentials);
}

std::unique_ptr<v1::TokenService::Stub> ServerHarness::TokenStub() const {
  return v1::TokenService::NewStub(channel());
}
std::unique_ptr<v1::AuthService::Stub> ServerHarness::AuthStub() const {
  return v1::AuthService::NewStub(channel());
}
std::unique_ptr<v1::UserService::Stub> ServerHarness::UserStub() const {
  return v1::UserService::NewStub(channel());
}
std::unique_ptr<grpc::health::v1::Health::Stub> ServerHarness::HealthStub()
    const {
  return grpc::health::v1::Health::NewStub(channel());
}

std::string ServerHarness::Stdout() const {
  return stdout_path_.empty() ? "" : ReadFile(stdout_path_);
}
std::string ServerHarness::Stderr() const {
  return stderr_path_.empty() ? "" : ReadFile(stderr_path_);
}
std::string ServerHarness::Log() const { return Stdout() + Stderr(); }

std::string ServerHarness::LogTail(int lines) const {
  const std::string log = Log();
  std::vector<absl::string_view> all =
      absl::StrSplit(log, '\n', absl::SkipEmpty());
  const size_t from = all.size() > static_cast<size_t>(lines)
                          ? all.size() - static_cast<size_t>(lines)
                          : 0;
  return absl::StrJoin(all.begin() + from, all.end(), "\n");
}

int ServerHarness::MetricsPort(absl::Duration wait) const {
  const std::string kLine = "metrics on ";
  const std::string kPort = "(port ";
  const absl::Time give_up = absl::Now() + wait;
  while (true) {
    const std::string log = Stderr();
    if (size_t at = log.find(kLine); at != std::string::npos) {
      at = log.find(kPort, at);
      int port = 0;
      if (at != std::string::npos) {
        at += kPort.size();
        const size_t end = log.find_first_not_of("0123456789", at);
        if (absl::SimpleAtoi(log.substr(at, end - at), &port) && port > 0) {
          return port;
        }
      }
    }
    if (absl::Now() >= give_up) break;
    absl::SleepFor(absl::Milliseconds(10));  // Polled: the line is coming.
  }
  ADD_FAILURE() << "no \"metrics on ... (port N\" line in the server log:\n"
                << LogTail();
  return 0;
}

std::unique_ptr<grpc::ClientContext> ServerHarness::Context(
    const Caller& caller) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  if (!caller.authorization.empty()) {
    context->AddMetadata("authorization", caller.authorization);
  }
  return context;
}

grpc::Status ServerHarness::CreateUser(const Caller& caller,
                                       absl::string_view username,
                                       absl::string_view password, bool admin,
                                       v1::User* user) const {
  v1::CreateUserRequest request;
  request.set_username(std::string(username));
  request.set_password(std::string(password));
  request.set_admin(admin);
  v1::CreateUserResponse response;
  grpc::Status status =
      UserStub()->CreateUser(Context(caller).get(), request, &response);
  if (user != nullptr) *user = response.user();
  return status;
}

v1::User ServerHarness::MustCreateUser(absl::string_view username,
                                       absl::string_view password,
                                       bool admin) const {
  v1::User user;
  grpc::Status status = CreateUser(Admin(), username, password, admin, &user);
  if (!status.ok()) {
    ADD_FAILURE() << "CreateUser(" << username << "): " << status.error_code()
                  << " " << status.error_message();
  }
  return user;
}

grpc::Status ServerHarness::CreateToken(
    const Caller& caller, const v1::CreateTokenRequest& request,
    v1::CreateTokenResponse* response) const {
  v1::CreateTokenResponse ignored;
  return TokenStub()->CreateToken(Context(caller).get(), request,
                                  response != nullptr ? response : &ignored);
}

v1::CreateTokenResponse ServerHarness::MustCreateToken(
    const Caller& caller, absl::string_view name,
    v1::TokenAccess access) const {
  v1::CreateTokenRequest request;
  request.set_name(std::string(name));
  request.mutable_permissions()->set_access(access);
  v1::CreateTokenResponse response;
  grpc::Status status = CreateToken(caller, request, &response);
  if (!status.ok()) {
    ADD_FAILURE() << "CreateToken(" << name << "): " << status.error_code()
                  << " " << status.error_message();
    return v1::CreateTokenResponse();
  }
  return response;
}

grpc::Status ServerHarness::GetToken(const Caller& caller, absl::string_view id,
                                     v1::Token* token) const {
  v1::GetTokenRequest request;
  request.set_id(std::string(id));
  v1::GetTokenResponse response;
  grpc::Status status =
      TokenStub()->GetToken(Context(caller).get(), request, &response);
  if (token != nullptr) *token = response.token();
  return status;
}

grpc::Status ServerHarness::ListTokens(const Caller& caller,
                                       const v1::ListTokensRequest& request,
                                       v1::ListTokensResponse* response) const {
  v1::ListTokensResponse ignored;
  return TokenStub()->ListTokens(Context(caller).get(), request,
                                 response != nullptr ? response : &ignored);
}

grpc::Status ServerHarness::UpdateToken(const Caller& caller,
                                        const v1::UpdateTokenRequest& request,
                                        v1::Token* token) const {
  v1::UpdateTokenResponse response;
  grpc::Status status =
      TokenStub()->UpdateToken(Context(caller).get(), request, &response);
  if (token != nullptr) *token = response.token();
  return status;
}

grpc::Status ServerHarness::RevokeToken(const Caller& caller,
                                        absl::string_view id,
                                        v1::Token* token) const {
  v1::RevokeTokenRequest request;
  request.set_id(std::string(id));
  v1::RevokeTokenResponse response;
  grpc::Status status =
      TokenStub()->RevokeToken(Context(caller).get(), request, &response);
  if (token != nullptr) *token = response.token();
  return status;
}

grpc::Status ServerHarness::AuthenticateToken(
    absl::string_view token, v1::Operation operation,
    v1::AuthenticateResponse* response) const {
  v1::AuthenticateRequest request;
  request.set_token(std::string(token));
  request.set_operation(operation);
  v1::AuthenticateResponse ignored;
  return AuthStub()->Authenticate(Context(Caller::None()).get(), request,
                                  response != nullptr ? response : &ignored);
}

grpc::Status ServerHarness::AuthenticateBasic(
    absl::string_view username, absl::string_view password,
    v1::Operation operation, v1::AuthenticateResponse* response) const {
  v1::AuthenticateRequest request;
  request.mutable_basic()->set_username(std::string(username));
  request.mutable_basic()->set_password(std::string(password));
  request.set_operation(operation);
  v1::AuthenticateResponse ignored;
  return AuthStub()->Authenticate(Context(Caller::None()).get(), request,
                                  response != nullptr ? response : &ignored);
}

grpc::Status ServerHarness::RawUnaryCall(const Caller& caller,
                                         const std::string& method,
                                         const std::string& body,
                                         std::string* response_bytes) const {
  grpc::GenericStub stub(channel());
  std::unique_ptr<grpc::ClientContext> context = ServerHarness::Context(caller);
  grpc::CompletionQueue cq;
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(context.get(), method, request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (response_bytes != nullptr) {
    std::vector<grpc::Slice> slices;
    response_bytes->clear();
    if (status.ok() && response.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        response_bytes->append(reinterpret_cast<const char*>(s.begin()),
                               s.size());
      }
    }
  }
  return status;
}

}  // namespace tokenauth::e2e
