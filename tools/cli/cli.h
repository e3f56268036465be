// The `tokenauth` command-line client: command table, argument parsing,
// help, and the plumbing every command shares (the server address, the
// caller's credential, output as text or protobuf JSON, exit codes). The
// commands themselves live in commands_*.cc; main.cc calls Run().
//
// Exit codes (also in `tokenauth --help`):
//   0 ok, 1 any other error, 2 usage error, 3 authentication failed or not
//   allowed (UNAUTHENTICATED, PERMISSION_DENIED, or not logged in),
//   4 not found, 5 server unavailable (UNAVAILABLE, DEADLINE_EXCEEDED).
//
// Secrets (passwords, token values, session IDs, CSRF tokens) are read from
// stdin or a no-echo prompt, never from argv, and never printed, except a
// new token's value, once, by `token create` and `token rotate`.
//
// Not thread-safe: one invocation per process.
#ifndef TOKENAUTH_TOOLS_CLI_CLI_H_
#define TOKENAUTH_TOOLS_CLI_CLI_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "profile.h"
#include "tokenauth/client/channel.h"

namespace tokenauth::cli {

enum ExitCode {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitAuth = 3,
  kExitNotFound = 4,
  kExitUnavailable = 5,
};

inline constexpr char kDefaultAddr[] = "127.0.0.1:50051";

struct Invocation;
using Handler = int (*)(Invocation&);

struct Flag {
  enum Kind { kBool, kValue, kList };
  std::string name;  // Without "--".
  Kind kind = kBool;
  std::string value_name;  // For kValue/kList, e.g. "NAME".
  std::string help;
};

struct Command {
  std::string group;  // "token", or "" for a top-level command.
  std::string name;   // "create"
  std::string args;   // Positional arguments for the usage line: "ID".
  int min_args = 0;
  int max_args = 0;
  std::string summary;  // One line.
  std::string details;  // Paragraphs for --help.
  std::vector<Flag> flags;
  Handler run = nullptr;

  std::string FullName() const {
    return group.empty() ? name : group + " " + name;
  }
};

// Registered by each commands_*.cc.
std::vector<Command> AuthCommands();
std::vector<Command> TokenCommands();
std::vector<Command> UserCommands();

enum class Output { kText, kJson };

// One parsed command line, and what the commands share.
struct Invocation {
  const Command* command = nullptr;
  std::vector<std::string> args;
  std::map<std::string, std::vector<std::string>> flags;

  // Global settings, resolved.
  Output output = Output::kText;
  absl::Duration timeout = absl::Seconds(10);
  std::string addr_flag;  // --addr, if given.
  // TLS from --tls/--ca-file/--cert-file/--key-file/--server-name, else
  // TOKENAUTH_TLS/_CA_FILE/_CERT_FILE/_KEY_FILE/_SERVER_NAME; plaintext when
  // none is set. The files are read before the command runs.
  client::ChannelOptions channel_options;
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;

  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  std::string Get(const std::string& flag) const;
  std::vector<std::string> GetAll(const std::string& flag) const;

  // The profile file's path; an empty string if it cannot be found.
  std::string ProfilePathOrEmpty() const;
  // The saved login, or an empty Profile (warns about loose permissions).
  // Read once per invocation.
  const Profile& LoadedProfile() const;
  // --addr, else TOKENAUTH_ADDR, else the saved login's, else the default.
  std::string Addr() const;
  // A channel to Addr() with the TLS settings above.
  std::shared_ptr<grpc::Channel> Channel() const;
  // A context with the --timeout deadline and no credential.
  std::unique_ptr<grpc::ClientContext> AnonymousContext() const;
  // A context carrying TOKENAUTH_TOKEN, else the saved login. Null (after
  // printing why) when there is none; the command returns kExitAuth.
  std::unique_ptr<grpc::ClientContext> CallerContext() const;

 private:
  mutable std::optional<Profile> profile_;
};

// Prints "tokenauth: <command>: <CODE>: <message>" and returns the exit
// code for `status`.
int Fail(const Invocation& inv, const grpc::Status& status);
int Fail(const Invocation& inv, const absl::Status& status);
// Prints a usage error with a pointer to --help; returns kExitUsage.
int UsageError(const Invocation& inv, const std::string& message);
int ExitCodeFor(grpc::StatusCode code);

// Prints `message` as protobuf JSON (one object, pretty).
void PrintJson(const google::protobuf::Message& message);

// Parses "30d", "12h", "90m", "45s" (combinations allowed).
absl::Status ParseDurationArg(const std::string& text, absl::Duration* out);
// Parses RFC 3339, e.g. 2025-01-31T00:00:00Z.
absl::Status ParseTimeArg(const std::string& text, absl::Time* out);

int Run(int argc, char** argv);

}  // namespace tokenauth::cli

#endif  // TOKENAUTH_TOOLS_CLI_CLI_H_
