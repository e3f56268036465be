// TLS and mTLS end to end: throwaway certificates made with the `openssl` CLI
// at test time (a CA, a server certificate for 127.0.0.1 and localhost, a
// client certificate, and a second CA with its own client certificate), the
// real server started with TOKENAUTH_TLS_*, and the C++ client library, raw
// gRPC channels and the `tokenauth` CLI calling it. Also: the start-up errors
// for bad TLS settings, and the warning for plaintext on a non-loopback
// address.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"
#include "tokenauth/client/channel.h"
#include "tokenauth/client/validator.h"

#ifndef TOKENAUTH_SERVER_BINARY
#error "TOKENAUTH_SERVER_BINARY must name the tokenauth-server binary"
#endif
#ifndef TOKENAUTH_CLI_BINARY
#error "TOKENAUTH_CLI_BINARY must name the tokenauth CLI binary"
#endif

namespace tokenauth::e2e {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal (e.g. the 30 s alarm).
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const ProcessResult& r) {
  return os << "exit " << r.exit_code << "\n--- stdout ---\n"
            << r.out << "--- stderr ---\n"
            << r.err;
}

// Runs argv with exactly `env` (plus PATH), output to files in `dir`; the
// child dies after 30 s at most.
ProcessResult RunProcess(const std::string& dir, std::vector<std::string> argv,
                         const std::map<std::string, std::string>& env) {
  ProcessResult result;
  const std::string out_path = dir + "/process.stdout";
  const std::string err_path = dir + "/process.stderr";
  std::vector<std::string> env_strings = {"PATH=/usr/bin:/bin"};
  for (const auto& [k, v] : env) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int in = open("/dev/null", O_RDONLY);
  if (out < 0 || err < 0 || in < 0) {
    ADD_FAILURE() << "open: " << std::strerror(errno);
    return result;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    alarm(30);  // Survives exec: a hung child dies.
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(err);
  close(in);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

class TlsTest : public ::testing::Test {
 protected:
  // The certificates, made once for the whole suite.
  static void SetUpTestSuite() {
    std::string dir = absl::StrCat(::testing::TempDir(), "tls_e2e_XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr) << std::strerror(errno);
    dir_ = new std::string(dir);
    // EC P-256 keys: quick to make. Valid for one day.
    const std::string script = absl::StrCat(R"(set -e
cd ')",
                                            dir, R"('
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {  # ca NAME CN
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 1 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
}
leaf() {  # leaf NAME CA CN EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3"
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
    -out "$1.pem" -days 1 -extfile "$1.ext"
}
ca ca "tokenauth test CA"
ca other-ca "some other CA"
leaf server ca localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
leaf client ca backend-a "extendedKeyUsage=clientAuth"
leaf stranger other-ca backend-b "extendedKeyUsage=clientAuth"
echo not a certificate > garbage.pem
)");
    std::ofstream(dir + "/make-certs.sh") << script;
    const std::string command = absl::StrCat(
        "bash '", dir, "/make-certs.sh' > '", dir, "/openssl.log' 2>&1");
    ASSERT_EQ(std::system(command.c_str()), 0)
        << "openssl failed:\n"
        << ReadFile(dir + "/openssl.log");
  }

  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(*dir_, ignored);
    delete dir_;
    dir_ = nullptr;
  }

  static std::string Path(const std::string& name) {
    return absl::StrCat(*dir_, "/", name);
  }

  // Server settings for TLS, with client certificates required if `mutual`.
  static std::map<std::string, std::string> TlsEnv(bool mutual) {
    std::map<std::string, std::string> env = {
        {"TOKENAUTH_TLS_CERT_FILE", Path("server.pem")},
        {"TOKENAUTH_TLS_KEY_FILE", Path("server.key")}};
    if (mutual) env["TOKENAUTH_TLS_CLIENT_CA_FILE"] = Path("ca.pem");
    return env;
  }

  // A channel through the client library; `client` names a key pair
  // ("client", "stranger") or is empty for none.
  static std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                                const std::string& ca,
                                                const std::string& client) {
    client::ChannelOptions options;
    options.ca_file = Path(ca + ".pem");
    if (!client.empty()) {
      options.cert_file = Path(client + ".pem");
      options.key_file = Path(client + ".key");
    }
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        client::MakeChannel(address, options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  static std::shared_ptr<grpc::ChannelCredentials> Credentials(
      const std::string& ca, const std::string& client) {
    client::ChannelOptions options;
    options.ca_file = Path(ca + ".pem");
    if (!client.empty()) {
      options.cert_file = Path(client + ".pem");
      options.key_file = Path(client + ".key");
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        client::MakeChannelCredentials(options);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return credentials.ok() ? *credentials : nullptr;
  }

  // Health/Check over `channel`, failing fast (no wait for ready).
  static grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    HealthCheckResponse response;
    grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(
        &context, HealthCheckRequest(), &response);
    if (status.ok() && response.status() != HealthCheckResponse::SERVING) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "not SERVING");
    }
    return status;
  }

  // tokenauth-server with only `settings` (and an unreachable database, so
  // that it cannot get far without failing on the TLS settings first).
  static ProcessResult RunServer(std::map<std::string, std::string> settings) {
    settings["TOKENAUTH_LISTEN"] = "127.0.0.1:0";
    settings["TOKENAUTH_MYSQL_HOST"] = "127.0.0.1";
    settings["TOKENAUTH_MYSQL_PORT"] = "1";
    settings["TOKENAUTH_STARTUP_DB_WAIT"] = "1s";
    return RunProcess(*dir_, {TOKENAUTH_SERVER_BINARY}, settings);
  }

  static ProcessResult RunCli(const std::vector<std::string>& args,
                              std::map<std::string, std::string> env) {
    std::vector<std::string> argv = {TOKENAUTH_CLI_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    env["HOME"] = *dir_;
    env["XDG_CONFIG_HOME"] = Path("cli-config");
    return RunProcess(*dir_, argv, env);
  }

  static std::string* dir_;
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, TlsServesHealthAndAuthenticatedCallsAndRefusesPlaintext) {
  ServerHarness::Options options;
  options.env = TlsEnv(/*mutual=*/false);
  options.channel_credentials = Credentials("ca", "");
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(absl::StrContains(server.Log(), ", TLS)")) << server.LogTail();

  // Health and an authenticated RPC (Basic auth over TLS), then a token
  // checked through the client library's Validator over its own channel.
  EXPECT_TRUE(Check(server.channel()).ok());
  server.MustCreateUser("alice", "alice-password");
  const v1::CreateTokenResponse token =
      server.MustCreateToken(Caller::Basic("alice", "alice-password"), "ci");
  ASSERT_FALSE(token.value().empty());
  client::Validator validator(Channel(server.address(), "ca", ""));
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token.value(), v1::OPERATION_WRITE);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->principal().username(), "alice");

  // A client without TLS, or one trusting another CA, gets nowhere.
  const grpc::Status plaintext = Check(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE)
      << plaintext.error_message();
  const grpc::Status wrong_ca =
      Check(Channel(server.address(), "other-ca", ""));
  EXPECT_EQ(wrong_ca.error_code(), grpc::StatusCode::UNAVAILABLE)
      << wrong_ca.error_message();
  // The name in the certificate is checked: "localhost" and 127.0.0.1 are in
  // it, "tokenauth.example" is not.
  client::ChannelOptions wrong_name;
  wrong_name.ca_file = Path("ca.pem");
  wrong_name.server_name = "tokenauth.example";
  const grpc::Status mismatch =
      Check(*client::MakeChannel(server.address(), wrong_name));
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::UNAVAILABLE);
  client::ChannelOptions by_name = wrong_name;
  by_name.server_name = "localhost";
  EXPECT_TRUE(Check(*client::MakeChannel(server.address(), by_name)).ok());

  EXPECT_FALSE(absl::StrContains(server.Log(), "INSECURE"));
  EXPECT_EQ(server.Stop(), 0);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificateFromTheClientCa) {
  ServerHarness::Options options;
  options.env = TlsEnv(/*mutual=*/true);
  options.channel_credentials = Credentials("ca", "client");
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(
      absl::StrContains(server.Log(), "TLS, client certificates required"))
      << server.LogTail();

  // With the client certificate: Health and authenticated calls work.
  EXPECT_TRUE(Check(Channel(server.address(), "ca", "client")).ok());
  server.MustCreateUser("alice", "alice-password");
  const v1::CreateTokenResponse token =
      server.MustCreateToken(Caller::Basic("alice", "alice-password"), "ci");
  EXPECT_TRUE(server.AuthenticateToken(token.value(), v1::OPERATION_READ).ok());

  // Without a certificate, or with one from another CA: UNAVAILABLE.
  const grpc::Status no_cert = Check(Channel(server.address(), "ca", ""));
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE)
      << no_cert.error_message();
  const grpc::Status stranger =
      Check(Channel(server.address(), "ca", "stranger"));
  EXPECT_EQ(stranger.error_code(), grpc::StatusCode::UNAVAILABLE)
      << stranger.error_message();
  const grpc::Status plaintext = Check(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.Stop(), 0);
}

TEST_F(TlsTest, CliWorksOverMutualTls) {
  ServerHarness::Options options;
  options.env = TlsEnv(/*mutual=*/true);
  options.channel_credentials = Credentials("ca", "client");
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  server.MustCreateUser("alice", "alice-password");
  const v1::CreateTokenResponse token = server.MustCreateToken(
      Caller::Basic("alice", "alice-password"), "ci-token");
  const std::map<std::string, std::string> env = {
      {"TOKENAUTH_ADDR", server.address()}, {"TOKENAUTH_TOKEN", token.value()}};

  // Flags.
  ProcessResult r =
      RunCli({"--ca-file", Path("ca.pem"), "--cert-file", Path("client.pem"),
              "--key-file", Path("client.key"), "whoami"},
             env);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "alice")) << r;

  // The same from the environment.
  std::map<std::string, std::string> tls_env = env;
  tls_env["TOKENAUTH_CA_FILE"] = Path("ca.pem");
  tls_env["TOKENAUTH_CERT_FILE"] = Path("client.pem");
  tls_env["TOKENAUTH_KEY_FILE"] = Path("client.key");
  r = RunCli({"token", "list"}, tls_env);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "ci-token")) << r;

  // No client certificate: unavailable (5), with a hint.
  r = RunCli({"--ca-file", Path("ca.pem"), "whoami"}, env);
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "--cert-file")) << r;
  // Plaintext against TLS: unavailable, with the hint to use TLS.
  r = RunCli({"whoami"}, env);
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "add --tls or --ca-file")) << r;

  // Bad TLS settings are usage errors naming the flag, before any call.
  r = RunCli({"--ca-file", Path("missing.pem"), "whoami"}, env);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(
      absl::StrContains(r.err, "--ca-file (TOKENAUTH_CA_FILE): cannot read"))
      << r;
  r = RunCli({"--ca-file", Path("ca.pem"), "--cert-file", Path("client.pem"),
              "whoami"},
             env);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "--key-file")) << r;
  r = RunCli({"--ca-file", Path("garbage.pem"), "whoami"}, env);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "no PEM block")) << r;

  // The token never shows up in what the CLI printed.
  EXPECT_FALSE(absl::StrContains(r.out + r.err, token.value()));
  EXPECT_EQ(server.Stop(), 0);
}

TEST_F(TlsTest, BadTlsSettingsStopTheServerNamingTheSetting) {
  struct Case {
    std::string what;
    std::map<std::string, std::string> settings;
    std::string want;  // In stderr.
  };
  const std::vector<Case> cases = {
      {"certificate without key",
       {{"TOKENAUTH_TLS_CERT_FILE", Path("server.pem")}},
       "TOKENAUTH_TLS_KEY_FILE: must be set together with "
       "TOKENAUTH_TLS_CERT_FILE"},
      {"key without certificate",
       {{"TOKENAUTH_TLS_KEY_FILE", Path("server.key")}},
       "TOKENAUTH_TLS_CERT_FILE: must be set together with "
       "TOKENAUTH_TLS_KEY_FILE"},
      {"client CA without certificate",
       {{"TOKENAUTH_TLS_CLIENT_CA_FILE", Path("ca.pem")}},
       "TOKENAUTH_TLS_CLIENT_CA_FILE: client certificates need TLS"},
      {"unreadable certificate",
       {{"TOKENAUTH_TLS_CERT_FILE", Path("missing.pem")},
        {"TOKENAUTH_TLS_KEY_FILE", Path("server.key")}},
       "TOKENAUTH_TLS_CERT_FILE: cannot read " + Path("missing.pem")},
      {"unreadable key",
       {{"TOKENAUTH_TLS_CERT_FILE", Path("server.pem")},
        {"TOKENAUTH_TLS_KEY_FILE", Path("missing.key")}},
       "TOKENAUTH_TLS_KEY_FILE: cannot read"},
      {"unreadable client CA",
       {{"TOKENAUTH_TLS_CERT_FILE", Path("server.pem")},
        {"TOKENAUTH_TLS_KEY_FILE", Path("server.key")},
        {"TOKENAUTH_TLS_CLIENT_CA_FILE", Path("missing-ca.pem")}},
       "TOKENAUTH_TLS_CLIENT_CA_FILE: cannot read"},
      {"certificate that is not PEM",
       {{"TOKENAUTH_TLS_CERT_FILE", Path("garbage.pem")},
        {"TOKENAUTH_TLS_KEY_FILE", Path("server.key")}},
       "TOKENAUTH_TLS_CERT_FILE: " + Path("garbage.pem") +
           " holds no PEM certificate"},
      {"key that is not a key",
       {{"TOKENAUTH_TLS_CERT_FILE", Path("server.pem")},
        {"TOKENAUTH_TLS_KEY_FILE", Path("server.pem")}},
       "TOKENAUTH_TLS_KEY_FILE: " + Path("server.pem") +
           " holds no unencrypted PEM private key"},
      {"key of another certificate",
       {{"TOKENAUTH_TLS_CERT_FILE", Path("server.pem")},
        {"TOKENAUTH_TLS_KEY_FILE", Path("client.key")}},
       "TOKENAUTH_TLS_KEY_FILE: the key in " + Path("client.key") +
           " does not belong to the certificate"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = RunServer(c.settings);
    EXPECT_EQ(r.exit_code, 1) << c.what << "\n" << r;
    EXPECT_TRUE(absl::StrContains(r.err, c.want))
        << c.what << ": want \"" << c.want << "\"\n"
        << r;
    // It stopped on the settings, before trying the database.
    EXPECT_FALSE(absl::StrContains(r.err, "database")) << c.what << "\n" << r;
  }
}

TEST_F(TlsTest, PlaintextOnANonLoopbackAddressLogsAWarning) {
  {
    ServerHarness::Options options;
    options.listen_host = "0.0.0.0";  // Still reached via 127.0.0.1.
    ServerHarness server(options);
    ASSERT_TRUE(server.ok());
    EXPECT_TRUE(absl::StrContains(
        server.Stderr(), "WARN INSECURE: serving WITHOUT TLS on 0.0.0.0:"))
        << server.LogTail();
    EXPECT_EQ(server.Stop(), 0);
  }
  {
    ServerHarness server;  // 127.0.0.1, plaintext: no warning.
    ASSERT_TRUE(server.ok());
    EXPECT_TRUE(absl::StrContains(server.Log(), "plaintext)"))
        << server.LogTail();
    EXPECT_FALSE(absl::StrContains(server.Log(), "INSECURE"))
        << server.LogTail();
    EXPECT_EQ(server.Stop(), 0);
  }
  {
    ServerHarness::Options options;  // 0.0.0.0 with TLS: no warning.
    options.listen_host = "0.0.0.0";
    options.env = TlsEnv(/*mutual=*/false);
    options.channel_credentials = Credentials("ca", "");
    ServerHarness server(options);
    ASSERT_TRUE(server.ok());
    EXPECT_FALSE(absl::StrContains(server.Log(), "INSECURE"))
        << server.LogTail();
    EXPECT_EQ(server.Stop(), 0);
  }
}

}  // namespace
}  // namespace tokenauth::e2e
