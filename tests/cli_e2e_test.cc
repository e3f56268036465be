// The `tokenauth` CLI (tools/cli/) as a user runs it: the real binary, as a
// child process with its own HOME/XDG_CONFIG_HOME, against the real server
// (ServerHarness). Checks the whole token lifecycle, the exit codes, that
// secrets stay off stdout/stderr, and the profile file's permissions.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
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

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/secret_recorder.h"
#include "tests/server_harness.h"

#ifndef TOKENAUTH_CLI_BINARY
#error "TOKENAUTH_CLI_BINARY must name the tokenauth CLI binary"
#endif

namespace tokenauth::e2e {
namespace {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const CliResult& r) {
  return os << "exit " << r.exit_code << "\n--- stdout ---\n"
            << r.out << "--- stderr ---\n"
            << r.err;
}

// A user of the CLI: their own config directory and environment.
class CliUser {
 public:
  CliUser(const std::string& name, const std::string& addr) {
    std::string dir =
        absl::StrCat(::testing::TempDir(), "cli_", name, "_XXXXXX");
    EXPECT_NE(mkdtemp(dir.data()), nullptr);
    home_ = dir;
    env_["HOME"] = home_;
    env_["XDG_CONFIG_HOME"] = home_ + "/config";
    env_["TOKENAUTH_ADDR"] = addr;
    env_["PATH"] = "/usr/bin:/bin";
  }
  ~CliUser() {
    std::error_code ignored;
    std::filesystem::remove_all(home_, ignored);
  }

  std::string profile_dir() const { return home_ + "/config/tokenauth"; }
  std::string profile_path() const { return profile_dir() + "/profile"; }
  void SetEnv(const std::string& name, const std::string& value) {
    env_[name] = value;
  }
  void UnsetEnv(const std::string& name) { env_.erase(name); }

  // Runs the CLI with `args`, `input` on stdin, and waits (at most 30 s).
  CliResult Run(const std::vector<std::string>& args,
                const std::string& input = "") const {
    std::vector<std::string> argv_s = {TOKENAUTH_CLI_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (const auto& [k, v] : env_) env_s.push_back(absl::StrCat(k, "=", v));
    std::vector<char*> envp;
    for (std::string& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    int in[2], out[2], err[2];
    CliResult result;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
        pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return result;
    }
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      alarm(30);  // Survives exec: a hung CLI dies.
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    signal(SIGPIPE, SIG_IGN);
    if (!input.empty() &&
        write(in[1], input.data(), input.size()) < 0) {  // Small: fits.
      ADD_FAILURE() << "write stdin: " << std::strerror(errno);
    }
    close(in[1]);
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    while (open_fds > 0) {
      if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buffer[4096];
        const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n > 0) {
          sinks[i]->append(buffer, static_cast<size_t>(n));
        } else {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
  }

 private:
  std::string home_;
  std::map<std::string, std::string> env_;
};

// The lines of `text` that look like a token value ("tka_" + 40 characters).
// The CLI's calls bypass the harness's recording channel, so the values it
// printed are recorded here for the after-suite secret scan.
std::vector<std::string> TokenValues(const std::string& text) {
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "tka_") && line.size() == 44) {
      values.emplace_back(line);
      RecordSecrets({{std::string(kSecretToken), values.back()}});
    }
  }
  return values;
}

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &message).ok())
      << json;
  return message;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    server_.MustCreateUser("alice", kAlicePassword);
  }

  // Logs `user` in as alice with her password on stdin.
  void LoginAlice(const CliUser& user) {
    CliResult r =
        user.Run({"login", "alice"}, std::string(kAlicePassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r;
  }

  static constexpr char kAlicePassword[] = "alice-password-1";
  ServerHarness server_;
};

TEST_F(CliTest, WholeTokenLifecycle) {
  // The admin creates alice's colleague with the CLI.
  CliUser admin("admin", server_.address());
  CliResult r = admin.Run({"login", "admin"}, server_.admin_password() + "\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  r = admin.Run({"user", "create", "bob"}, "bob-password-1\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(
      server_.AuthenticateBasic("bob", "bob-password-1", v1::OPERATION_READ)
          .ok());

  CliUser alice("alice", server_.address());
  r = alice.Run({"login", "alice"}, std::string(kAlicePassword) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "as alice")) << r;

  // The saved login: private file in a private directory, and no password.
  EXPECT_EQ(ModeOf(alice.profile_dir()), 0700u);
  EXPECT_EQ(ModeOf(alice.profile_path()), 0600u);
  const std::string profile = ReadFile(alice.profile_path());
  EXPECT_FALSE(absl::StrContains(profile, kAlicePassword));
  std::string session_id;
  for (absl::string_view line : absl::StrSplit(profile, '\n')) {
    if (absl::ConsumePrefix(&line, "session_id="))
      session_id = std::string(line);
  }
  ASSERT_FALSE(session_id.empty()) << profile;

  r = alice.Run({"whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StartsWith(r.out, "alice (user id ")) << r;
  r = alice.Run({"whoami", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(ParseJson<v1::AuthenticateResponse>(r.out).principal().username(),
            "alice");

  // Create: the value is printed exactly once, and works.
  r = alice.Run(
      {"token", "create", "--name", "ci", "--access", "write", "--ttl", "30d"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> values = TokenValues(r.out);
  ASSERT_EQ(values.size(), 1u) << r;
  const std::string value = values[0];
  EXPECT_EQ(r.out.find(value), r.out.rfind(value)) << "printed twice: " << r;
  EXPECT_TRUE(server_.AuthenticateToken(value, v1::OPERATION_WRITE).ok());

  // List as JSON: the token, never its value.
  r = alice.Run({"token", "list", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(absl::StrContains(r.out, value));
  v1::ListTokensResponse list = ParseJson<v1::ListTokensResponse>(r.out);
  ASSERT_EQ(list.tokens_size(), 1) << r;
  const std::string id = list.tokens(0).id();
  EXPECT_EQ(list.tokens(0).name(), "ci");
  EXPECT_EQ(list.tokens(0).permissions().access(), v1::TOKEN_ACCESS_READ_WRITE);
  EXPECT_TRUE(list.tokens(0).has_expire_time());

  r = alice.Run({"token", "update", id, "--name", "ci-renamed"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = alice.Run({"-o", "json", "token", "get", id});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(ParseJson<v1::GetTokenResponse>(r.out).token().name(),
            "ci-renamed");
  r = alice.Run({"token", "update", id, "--access", "read"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "read-only")) << r;

  // Rotate: a new value, once; the old one is dead.
  r = alice.Run({"token", "rotate", id});
  ASSERT_EQ(r.exit_code, 0) << r;
  values = TokenValues(r.out);
  ASSERT_EQ(values.size(), 1u) << r;
  const std::string rotated = values[0];
  EXPECT_NE(rotated, value);
  EXPECT_TRUE(server_.AuthenticateToken(rotated, v1::OPERATION_READ).ok());
  r = alice.Run({"token", "list", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  list = ParseJson<v1::ListTokensResponse>(r.out);
  ASSERT_EQ(list.tokens_size(), 1) << r;
  const std::string new_id = list.tokens(0).id();
  EXPECT_NE(new_id, id);
  EXPECT_EQ(list.tokens(0).name(), "ci-renamed");

  // The text listing too.
  r = alice.Run({"token", "list", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, new_id)) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "revoked")) << r;

  // Revoke: the token stops working and is gone (4).
  r = alice.Run({"token", "revoke", new_id});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(server_.AuthenticateToken(rotated, v1::OPERATION_READ).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  r = alice.Run({"token", "get", new_id});
  EXPECT_EQ(r.exit_code, 4) << r;
  r = alice.Run({"token", "get", "AAAAAAAAAAAA"});
  EXPECT_EQ(r.exit_code, 4) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "NOT_FOUND")) << r;
  // The value rotated out is dead too. (Checked last: presenting it is taken
  // as a leak and revokes the whole family.)
  EXPECT_EQ(server_.AuthenticateToken(value, v1::OPERATION_READ).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // Logout ends the session on the server and forgets it.
  r = alice.Run({"logout"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(ModeOf(alice.profile_path()), 0u);
  v1::AuthenticateRequest request;
  request.mutable_session()->set_session_id(session_id);
  request.set_operation(v1::OPERATION_READ);
  v1::AuthenticateResponse ignored;
  EXPECT_EQ(server_.AuthStub()
                ->Authenticate(ServerHarness::Context(Caller::None()).get(),
                               request, &ignored)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  r = alice.Run({"token", "list"});
  EXPECT_EQ(r.exit_code, 3) << r;
}

TEST_F(CliTest, SecretsNeverReachTheOutput) {
  CliUser alice("alice", server_.address());
  std::string all_output;
  CliResult r =
      alice.Run({"login", "alice"}, std::string(kAlicePassword) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  all_output += r.out + r.err;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"whoami"},
        {"whoami", "-o", "json"},
        {"session", "list"},
        {"session", "list", "--output", "json"},
        {"login", "alice", "--output", "json"}}) {
    r = alice.Run(args, std::string(kAlicePassword) + "\n");
    EXPECT_EQ(r.exit_code, 0) << r;
    all_output += r.out + r.err;
  }
  const std::string profile = ReadFile(alice.profile_path());
  for (absl::string_view line : absl::StrSplit(profile, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.first == "session_id" || kv.first == "csrf_token") {
      ASSERT_FALSE(kv.second.empty());
      EXPECT_FALSE(absl::StrContains(all_output, kv.second)) << kv.first;
    }
  }
  EXPECT_FALSE(absl::StrContains(all_output, kAlicePassword));
}

TEST_F(CliTest, WrongPasswordExits3AndSavesNothing) {
  CliUser alice("alice", server_.address());
  CliResult r = alice.Run({"login", "alice"}, "not-her-password\n");
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_FALSE(absl::StrContains(r.out + r.err, "not-her-password"));
  EXPECT_EQ(ModeOf(alice.profile_path()), 0u);
}

TEST_F(CliTest, TokensWorkFromTheEnvironmentAndFromLogin) {
  v1::CreateTokenResponse ro = server_.MustCreateToken(
      Caller::Basic("alice", kAlicePassword), "ro", v1::TOKEN_ACCESS_READ_ONLY);
  CliUser alice("alice", server_.address());

  alice.SetEnv("TOKENAUTH_TOKEN", ro.value());
  CliResult r = alice.Run({"token", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, ro.token().id())) << r;
  r = alice.Run({"whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "via access token \"ro\"")) << r;
  // A token may not create tokens (and this one is read-only anyway).
  r = alice.Run({"token", "create", "--name", "x"});
  EXPECT_EQ(r.exit_code, 3) << r;
  alice.UnsetEnv("TOKENAUTH_TOKEN");

  r = alice.Run({"login", "--token"}, ro.value() + "\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(absl::StrContains(r.out + r.err, ro.value()));
  EXPECT_EQ(ModeOf(alice.profile_path()), 0600u);
  r = alice.Run({"whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "alice")) << r;

  // A mistyped token is refused before any call: exit 3.
  std::string typo = ro.value();
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  r = alice.Run({"login", "--token"}, typo + "\n");
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "checksum")) << r;
}

TEST_F(CliTest, AdminDisablesAndEnablesUsers) {
  CliUser admin("admin", server_.address());
  ASSERT_EQ(
      admin.Run({"login", "admin"}, server_.admin_password() + "\n").exit_code,
      0);
  CliResult r = admin.Run({"user", "disable", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(
      server_.AuthenticateBasic("alice", kAlicePassword, v1::OPERATION_READ)
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  r = admin.Run({"user", "enable", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = admin.Run({"user", "passwd", "alice"}, "alice-password-2\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(
      server_.AuthenticateBasic("alice", "alice-password-2", v1::OPERATION_READ)
          .ok());
  r = admin.Run({"user", "disable", "nobody-here"});
  EXPECT_EQ(r.exit_code, 4) << r;

  // Alice is no admin: 3.
  CliUser alice("alice", server_.address());
  ASSERT_EQ(alice.Run({"login", "alice"}, "alice-password-2\n").exit_code, 0);
  r = alice.Run({"user", "create", "eve"}, "eve-password-1\n");
  EXPECT_EQ(r.exit_code, 3) << r;
}

TEST_F(CliTest, ServerDownExits5) {
  CliUser alice("alice", server_.address());
  LoginAlice(alice);
  ASSERT_EQ(server_.Stop(), 0);
  CliResult r = alice.Run({"token", "list", "--timeout", "5s"});
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "UNAVAILABLE")) << r;
  r = alice.Run({"whoami"});
  EXPECT_EQ(r.exit_code, 5) << r;
}

TEST(CliUsageTest, BadUsageExits2) {
  CliUser user("usage", "127.0.0.1:1");
  for (std::vector<std::string> args : {
           std::vector<std::string>{},
           {"bogus"},
           {"token"},
           {"token", "bogus"},
           {"token", "get"},
           {"token", "get", "a", "b"},
           {"token", "create"},
           {"token", "create", "--name"},
           {"token", "create", "--name", "x", "--access", "admin"},
           {"token", "create", "--name", "x", "--ttl", "soon"},
           {"token", "update", "ID"},
           {"token", "list", "--bogus"},
           {"whoami", "extra"},
           {"--output", "xml", "whoami"},
           {"session", "revoke"},
       }) {
    CliResult r = user.Run(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << ": " << r;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(CliUsageTest, EveryCommandHasHelp) {
  CliUser user("help", "127.0.0.1:1");
  CliResult top = user.Run({"--help"});
  ASSERT_EQ(top.exit_code, 0) << top;
  for (const char* code : {"0  ok", "2  usage", "3  authentication",
                           "4  not found", "5  server unavailable"}) {
    EXPECT_TRUE(absl::StrContains(top.out, code)) << code;
  }
  int commands = 0;
  for (absl::string_view line : absl::StrSplit(top.out, '\n')) {
    // Command lines: two spaces, then one or two lowercase words.
    if (!absl::StartsWith(line, "  ") || line.size() < 3 || line[2] == '-' ||
        line[2] == ' ' || !absl::ascii_islower(line[2])) {
      continue;
    }
    std::vector<std::string> words =
        absl::StrSplit(line.substr(2), ' ', absl::SkipEmpty());
    std::vector<std::string> args = {words[0]};
    if (words[0] == "token" || words[0] == "session" || words[0] == "user") {
      args.push_back(words[1]);
    }
    args.push_back("--help");
    CliResult r = user.Run(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << r;
    EXPECT_TRUE(absl::StartsWith(r.out, "Usage: tokenauth ")) << r;
    EXPECT_TRUE(absl::StrContains(r.out, "Exit codes:")) << r;
    ++commands;
  }
  EXPECT_EQ(commands, 15);
}

TEST(CliUsageTest, NotLoggedInExits3WithoutAServer) {
  CliUser user("nologin", "127.0.0.1:1");
  CliResult r = user.Run({"token", "list"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "not logged in")) << r;
}

}  // namespace
}  // namespace tokenauth::e2e
