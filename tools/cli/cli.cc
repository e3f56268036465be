#include "cli.h"

#include <cstdlib>
#include <iostream>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/duration.h"
#include "google/protobuf/util/json_util.h"
#include "tokenauth/client/call_credentials.h"

#ifndef TOKENAUTH_VERSION
#define TOKENAUTH_VERSION "unknown"
#endif

namespace tokenauth::cli {
namespace {

constexpr absl::string_view kExitCodesHelp =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  any other error\n"
    "  2  usage error (unknown command or flag, missing argument)\n"
    "  3  authentication failed or not allowed (UNAUTHENTICATED,\n"
    "     PERMISSION_DENIED), or not logged in\n"
    "  4  not found (NOT_FOUND)\n"
    "  5  server unavailable (UNAVAILABLE, DEADLINE_EXCEEDED)\n";

constexpr absl::string_view kEnvironmentHelp =
    "Environment:\n"
    "  TOKENAUTH_ADDR   server address (default 127.0.0.1:50051); --addr "
    "wins\n"
    "  TOKENAUTH_TOKEN  a Personal Access Token to use instead of the saved\n"
    "                   login\n"
    "  TOKENAUTH_TLS, TOKENAUTH_CA_FILE, TOKENAUTH_CERT_FILE,\n"
    "  TOKENAUTH_KEY_FILE, TOKENAUTH_SERVER_NAME\n"
    "                   the TLS flags above (TOKENAUTH_TLS=1 is --tls); a\n"
    "                   flag wins\n"
    "  XDG_CONFIG_HOME  the saved login is $XDG_CONFIG_HOME/tokenauth/profile\n"
    "                   (default ~/.config/tokenauth/profile; mode 0600)\n";

const std::vector<Flag>& GlobalFlags() {
  static const auto* const flags = new std::vector<Flag>{
      {"addr", Flag::kValue, "HOST:PORT",
       "the tokenauth server (default: TOKENAUTH_ADDR, the saved login's, "
       "127.0.0.1:50051)"},
      {"output", Flag::kValue, "text|json",
       "output format; json prints the response as protobuf JSON"},
      {"timeout", Flag::kValue, "DURATION",
       "deadline of each call, e.g. 10s (default 10s)"},
      {"tls", Flag::kBool, "",
       "connect with TLS, verifying the server with the system's CAs "
       "(implied by the four flags below; default: plaintext)"},
      {"ca-file", Flag::kValue, "FILE",
       "TLS: PEM CA certificate(s) the server's certificate must chain to"},
      {"cert-file", Flag::kValue, "FILE",
       "TLS: PEM client certificate, for a server that requires one (mTLS)"},
      {"key-file", Flag::kValue, "FILE", "TLS: PEM private key of --cert-file"},
      {"server-name", Flag::kValue, "NAME",
       "TLS: expect this name in the server's certificate instead of the "
       "host in the address"},
      {"help", Flag::kBool, "", "show help"},
  };
  return *flags;
}

const std::vector<Command>& Commands() {
  static const auto* const commands = [] {
    auto* all = new std::vector<Command>();
    for (auto list : {AuthCommands(), TokenCommands(), UserCommands()}) {
      for (Command& c : list) all->push_back(std::move(c));
    }
    return all;
  }();
  return *commands;
}

bool IsGroup(absl::string_view word) {
  for (const Command& c : Commands()) {
    if (c.group == word) return true;
  }
  return false;
}

const Command* Find(absl::string_view group, absl::string_view name) {
  for (const Command& c : Commands()) {
    if (c.group == group && c.name == name) return &c;
  }
  return nullptr;
}

std::string FlagUsage(const Flag& f) {
  std::string s = absl::StrCat("--", f.name);
  if (f.kind != Flag::kBool) absl::StrAppend(&s, " ", f.value_name);
  return s;
}

void PrintFlags(std::ostream& out, const std::vector<Flag>& flags) {
  for (const Flag& f : flags) {
    std::string usage = FlagUsage(f);
    if (f.kind == Flag::kList) absl::StrAppend(&usage, " (repeatable)");
    out << "  " << usage << "\n      " << f.help << "\n";
  }
}

void PrintTopHelp(std::ostream& out) {
  out << "tokenauth " << TOKENAUTH_VERSION
      << ": command-line client for the tokenauth credential service.\n\n"
         "Usage: tokenauth [global flags] <command> [flags] [args]\n\n"
         "Commands:\n";
  for (const Command& c : Commands()) {
    std::string name = c.FullName();
    out << "  " << name
        << std::string(name.size() < 17 ? 17 - name.size() : 1, ' ')
        << c.summary << "\n";
  }
  out << "\nGlobal flags (before or after the command):\n";
  PrintFlags(out, GlobalFlags());
  out << "  --version\n      print the version\n\n"
      << kEnvironmentHelp << "\n"
      << kExitCodesHelp
      << "\nRun 'tokenauth <command> --help' for a command's flags.\n";
}

void PrintGroupHelp(std::ostream& out, absl::string_view group) {
  out << "Usage: tokenauth " << group << " <command> [flags] [args]\n\n"
      << "Commands:\n";
  for (const Command& c : Commands()) {
    if (c.group != group) continue;
    out << "  " << c.name
        << std::string(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ')
        << c.summary << "\n";
  }
  out << "\nRun 'tokenauth " << group
      << " <command> --help' for a command's flags.\n";
}

void PrintCommandHelp(std::ostream& out, const Command& c) {
  out << "Usage: tokenauth " << c.FullName();
  if (!c.flags.empty()) out << " [flags]";
  if (!c.args.empty()) out << " " << c.args;
  out << "\n\n" << c.summary << "\n";
  if (!c.details.empty()) out << "\n" << c.details;
  if (!c.flags.empty()) {
    out << "\nFlags:\n";
    PrintFlags(out, c.flags);
  }
  out << "\nGlobal flags: --addr HOST:PORT, --output text|json, --timeout "
         "DURATION, --tls, --ca-file FILE, --cert-file FILE, --key-file FILE, "
         "--server-name NAME (see 'tokenauth --help').\n\n"
      << kExitCodesHelp;
}

const Flag* FindFlag(const Command* c, absl::string_view name) {
  for (const Flag& f : GlobalFlags()) {
    if (f.name == name) return &f;
  }
  if (c != nullptr) {
    for (const Flag& f : c->flags) {
      if (f.name == name) return &f;
    }
  }
  return nullptr;
}

std::string HelpHint(const Command* c) {
  return c == nullptr
             ? "run 'tokenauth --help'"
             : absl::StrCat("run 'tokenauth ", c->FullName(), " --help'");
}

// Parses flags and positional words from args[i...] into *inv. Returns an
// error message for a usage error.
std::optional<std::string> ParseRest(const std::vector<std::string>& args,
                                     size_t i, Invocation* inv,
                                     std::vector<std::string>* words) {
  bool only_positional = false;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      words->push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    if (a == "-h") {
      name = "help";
    } else if (a == "-o") {
      name = "output";
    } else if (absl::StartsWith(a, "--")) {
      name = a.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    } else {
      return absl::StrCat("unknown flag ", a);
    }
    const Flag* flag = FindFlag(inv->command, name);
    if (name == "version" && inv->command == nullptr) {
      inv->flags["version"].push_back("");
      continue;
    }
    if (flag == nullptr) return absl::StrCat("unknown flag --", name);
    if (flag->kind == Flag::kBool) {
      if (value.has_value()) return absl::StrCat("--", name, " takes no value");
      inv->flags[name].push_back("");
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        return absl::StrCat("--", name, " needs a value (", flag->value_name,
                            ")");
      }
      value = args[++i];
    }
    if (flag->kind == Flag::kValue && inv->Has(name)) {
      return absl::StrCat("--", name, " given twice");
    }
    inv->flags[name].push_back(*value);
  }
  return std::nullopt;
}

// The flag's value, else the environment variable's.
std::string FlagOrEnv(const Invocation& inv, const std::string& flag,
                      const char* env) {
  if (inv.Has(flag)) return inv.Get(flag);
  const char* value = std::getenv(env);
  return value != nullptr ? value : "";
}

// Fills inv->channel_options and reads the files; an error message names the
// flag and the variable.
std::optional<std::string> ResolveTls(Invocation* inv) {
  client::ChannelOptions& o = inv->channel_options;
  const char* tls_env = std::getenv("TOKENAUTH_TLS");
  const std::string tls = tls_env != nullptr ? tls_env : "";
  if (!tls.empty() && tls != "0" && tls != "1" && tls != "false" &&
      tls != "true") {
    return "TOKENAUTH_TLS must be 1, 0, true or false";
  }
  o.tls = inv->Has("tls") || tls == "1" || tls == "true";
  o.ca_file = FlagOrEnv(*inv, "ca-file", "TOKENAUTH_CA_FILE");
  o.cert_file = FlagOrEnv(*inv, "cert-file", "TOKENAUTH_CERT_FILE");
  o.key_file = FlagOrEnv(*inv, "key-file", "TOKENAUTH_KEY_FILE");
  o.server_name = FlagOrEnv(*inv, "server-name", "TOKENAUTH_SERVER_NAME");
  if (o.cert_file.empty() != o.key_file.empty()) {
    return "--cert-file (TOKENAUTH_CERT_FILE) and --key-file "
           "(TOKENAUTH_KEY_FILE) go together: a client certificate needs its "
           "private key";
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      client::MakeChannelCredentials(o);
  if (!credentials.ok()) {
    // The library names its option first ("ca_file: ..."); say the flag.
    absl::string_view message = credentials.status().message();
    for (const auto& [option, flag] :
         {std::pair<absl::string_view, absl::string_view>{
              "ca_file:", "--ca-file (TOKENAUTH_CA_FILE):"},
          {"cert_file:", "--cert-file (TOKENAUTH_CERT_FILE):"},
          {"key_file:", "--key-file (TOKENAUTH_KEY_FILE):"}}) {
      if (absl::ConsumePrefix(&message, option)) {
        return absl::StrCat(flag, message);
      }
    }
    return std::string(message);
  }
  inv->channel_credentials = *std::move(credentials);
  return std::nullopt;
}

}  // namespace

std::string Invocation::Get(const std::string& flag) const {
  auto it = flags.find(flag);
  return it == flags.end() || it->second.empty() ? "" : it->second.back();
}

std::vector<std::string> Invocation::GetAll(const std::string& flag) const {
  auto it = flags.find(flag);
  return it == flags.end() ? std::vector<std::string>() : it->second;
}

std::string Invocation::ProfilePathOrEmpty() const {
  absl::StatusOr<std::string> path = ProfilePath();
  return path.ok() ? *path : "";
}

const Profile& Invocation::LoadedProfile() const {
  if (profile_.has_value()) return *profile_;
  profile_.emplace();
  const std::string path = ProfilePathOrEmpty();
  if (path.empty()) return *profile_;
  bool loose = false;
  absl::StatusOr<Profile> profile = LoadProfile(path, &loose);
  if (!profile.ok()) {
    if (!absl::IsNotFound(profile.status())) {
      std::cerr << "tokenauth: warning: " << profile.status().message() << "\n";
    }
    return *profile_;
  }
  if (loose) {
    std::cerr << "tokenauth: warning: " << path
              << " is accessible to other users; run: chmod 600 " << path
              << "\n";
  }
  profile_ = *std::move(profile);
  return *profile_;
}

std::string Invocation::Addr() const {
  if (!addr_flag.empty()) return addr_flag;
  if (const char* env = std::getenv("TOKENAUTH_ADDR"); env && *env) return env;
  if (!LoadedProfile().addr.empty()) return LoadedProfile().addr;
  return kDefaultAddr;
}

std::shared_ptr<grpc::Channel> Invocation::Channel() const {
  grpc::ChannelArguments arguments;
  if (!channel_options.server_name.empty()) {
    arguments.SetSslTargetNameOverride(channel_options.server_name);
  }
  return grpc::CreateCustomChannel(Addr(),
                                   channel_credentials != nullptr
                                       ? channel_credentials
                                       : grpc::InsecureChannelCredentials(),
                                   arguments);
}

std::unique_ptr<grpc::ClientContext> Invocation::AnonymousContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(timeout));
  return context;
}

std::unique_ptr<grpc::ClientContext> Invocation::CallerContext() const {
  std::unique_ptr<grpc::ClientContext> context = AnonymousContext();
  if (const char* env = std::getenv("TOKENAUTH_TOKEN"); env && *env) {
    client::SetBearer(*context, env);
    return context;
  }
  const Profile& profile = LoadedProfile();
  if (profile.has_session()) {
    client::SetSession(*context, profile.session_id, profile.csrf_token);
  } else if (profile.has_token()) {
    client::SetBearer(*context, profile.token);
  } else {
    std::cerr << "tokenauth: " << command->FullName()
              << ": not logged in: run 'tokenauth login' or set "
                 "TOKENAUTH_TOKEN\n";
    return nullptr;
  }
  return context;
}

int ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitAuth;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    default:
      return kExitError;
  }
}

int Fail(const Invocation& inv, const absl::Status& status) {
  return Fail(inv, grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                                std::string(status.message())));
}

int Fail(const Invocation& inv, const grpc::Status& status) {
  std::cerr << "tokenauth: " << inv.command->FullName() << ": "
            << absl::StatusCodeToString(
                   static_cast<absl::StatusCode>(status.error_code()))
            << ": " << status.error_message() << "\n";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::cerr << "tokenauth: is the server running at " << inv.Addr()
                << "? (--addr, TOKENAUTH_ADDR)\n";
      std::cerr << "tokenauth: "
                << (inv.channel_options.UsesTls()
                        ? "with TLS: does the server's certificate chain to "
                          "--ca-file, and does the server want a client "
                          "certificate (--cert-file, --key-file)?\n"
                        : "without TLS: if the server serves TLS, add --tls "
                          "or --ca-file\n");
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      if (inv.command->name != "login") {
        std::cerr << "tokenauth: log in again with 'tokenauth login', or "
                     "check TOKENAUTH_TOKEN\n";
      }
      break;
    default:
      break;
  }
  return ExitCodeFor(status.error_code());
}

int UsageError(const Invocation& inv, const std::string& message) {
  std::cerr << "tokenauth: "
            << (inv.command != nullptr ? inv.command->FullName() + ": " : "")
            << message << "\n"
            << "tokenauth: " << HelpHint(inv.command) << "\n";
  return kExitUsage;
}

void PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    json = "{}";
  }
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  std::cout << json;
}

absl::Status ParseDurationArg(const std::string& text, absl::Duration* out) {
  absl::StatusOr<absl::Duration> d = ParseSettingDuration(text);
  if (!d.ok()) return d.status();
  *out = *d;
  return absl::OkStatus();
}

absl::Status ParseTimeArg(const std::string& text, absl::Time* out) {
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, out, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text,
        "\" is not an RFC 3339 time (2025-01-31T00:00:00Z): ", error));
  }
  return absl::OkStatus();
}

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Invocation inv;

  // The command: one word, or a group and a word. Global flags may come
  // first.
  std::vector<std::string> words;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.empty() && a[0] == '-') {
      // A global flag before the command; its value follows unless "=".
      std::vector<std::string> one = {a};
      std::string name = a == "-o" ? "output" : "";
      if (absl::StartsWith(a, "--")) name = a.substr(2, a.find('=') - 2);
      const Flag* f = FindFlag(nullptr, name);
      if (f != nullptr && f->kind != Flag::kBool &&
          a.find('=') == std::string::npos && i + 1 < args.size()) {
        one.push_back(args[++i]);
      }
      std::vector<std::string> ignored;
      if (auto error = ParseRest(one, 0, &inv, &ignored)) {
        return UsageError(inv, *error);
      }
      continue;
    }
    break;
  }
  if (inv.Has("version")) {
    std::cout << "tokenauth " << TOKENAUTH_VERSION << "\n";
    return kExitOk;
  }
  if (i >= args.size()) {
    if (inv.Has("help")) {
      PrintTopHelp(std::cout);
      return kExitOk;
    }
    PrintTopHelp(std::cerr);
    return kExitUsage;
  }
  std::string first = args[i++];
  if (first == "help") {  // `tokenauth help [group] [command]`
    if (i >= args.size()) {
      PrintTopHelp(std::cout);
      return kExitOk;
    }
    first = args[i++];
    inv.flags["help"].push_back("");
  }
  if (IsGroup(first)) {
    if (i >= args.size() || args[i][0] == '-') {
      const bool help =
          inv.Has("help") ||
          (i < args.size() && (args[i] == "--help" || args[i] == "-h"));
      PrintGroupHelp(help ? std::cout : std::cerr, first);
      return help ? kExitOk : kExitUsage;
    }
    inv.command = Find(first, args[i]);
    if (inv.command == nullptr) {
      return UsageError(inv,
                        absl::StrCat("unknown command '", first, " ", args[i],
                                     "'; run 'tokenauth ", first, " --help'"));
    }
    ++i;
  } else {
    inv.command = Find("", first);
    if (inv.command == nullptr) {
      return UsageError(inv, absl::StrCat("unknown command '", first, "'"));
    }
  }

  if (auto error = ParseRest(args, i, &inv, &inv.args)) {
    return UsageError(inv, *error);
  }
  if (inv.Has("help")) {
    PrintCommandHelp(std::cout, *inv.command);
    return kExitOk;
  }
  const int n = static_cast<int>(inv.args.size());
  if (n < inv.command->min_args || n > inv.command->max_args) {
    if (inv.command->max_args == 0) {
      return UsageError(
          inv, absl::StrCat("takes no arguments, got '", inv.args[0], "'"));
    }
    return UsageError(inv, n < inv.command->min_args
                               ? absl::StrCat("missing ", inv.command->args)
                               : absl::StrCat("too many arguments (expected ",
                                              inv.command->args, ")"));
  }
  if (inv.Has("output")) {
    const std::string o = inv.Get("output");
    if (o == "json") {
      inv.output = Output::kJson;
    } else if (o != "text") {
      return UsageError(inv, "--output must be text or json");
    }
  }
  if (inv.Has("timeout")) {
    if (absl::Status s = ParseDurationArg(inv.Get("timeout"), &inv.timeout);
        !s.ok() || inv.timeout <= absl::ZeroDuration()) {
      return UsageError(inv, "--timeout: a positive duration such as 10s");
    }
  }
  inv.addr_flag = inv.Get("addr");
  if (std::optional<std::string> error = ResolveTls(&inv)) {
    return UsageError(inv, *error);
  }
  return inv.command->run(inv);
}

}  // namespace tokenauth::cli
