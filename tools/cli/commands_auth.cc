// login, logout, whoami, session list|revoke.
#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli.h"
#include "format.h"
#include "terminal.h"
#include "tokenauth/client/call_credentials.h"
#include "tokenauth/client/validator.h"
#include "tokenauth/v1/auth_service.grpc.pb.h"
#include "tokenauth/v1/session_service.grpc.pb.h"

#ifndef TOKENAUTH_VERSION
#define TOKENAUTH_VERSION "unknown"
#endif

namespace tokenauth::cli {
namespace {

client::Validator NewValidator(const Invocation& inv) {
  client::ValidatorOptions options;
  options.timeout = inv.timeout;
  return client::Validator(inv.Channel(), options);
}

int SaveLogin(const Invocation& inv, const Profile& profile,
              const std::string& what) {
  const std::string path = inv.ProfilePathOrEmpty();
  absl::Status saved =
      path.empty() ? ProfilePath().status() : SaveProfile(path, profile);
  if (!saved.ok()) {
    std::cerr << "tokenauth: login: " << what
              << " worked, but the login cannot be saved: " << saved.message()
              << "\n";
    return kExitError;
  }
  return kExitOk;
}

int LoginWithToken(Invocation& inv) {
  if (!inv.args.empty()) {
    return UsageError(inv, "--token takes no username (it is in the token)");
  }
  absl::StatusOr<std::string> token = ReadSecret("Token: ");
  if (!token.ok())
    return UsageError(inv, std::string(token.status().message()));
  const std::string value(absl::StripAsciiWhitespace(*token));
  client::Validator validator = NewValidator(inv);
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(value, v1::OPERATION_READ);
  if (!who.ok()) return Fail(inv, who.status());

  Profile profile;
  profile.addr = inv.Addr();
  profile.username = who->principal().username();
  profile.token = value;
  if (int rc = SaveLogin(inv, profile, "the token"); rc != kExitOk) return rc;
  if (inv.output == Output::kJson) {
    PrintJson(*who);
  } else {
    std::cout << "Logged in to " << profile.addr << " as " << profile.username
              << " with token \"" << who->token().name() << "\" ("
              << who->token().id() << ", "
              << AccessName(who->token().permissions().access()) << ").\n";
  }
  return kExitOk;
}

int Login(Invocation& inv) {
  if (inv.Has("token")) return LoginWithToken(inv);
  std::string username;
  if (!inv.args.empty()) {
    username = inv.args[0];
  } else if (StdinIsTerminal() && !inv.Has("password-stdin")) {
    absl::StatusOr<std::string> line = ReadLine("Username: ");
    if (!line.ok()) return UsageError(inv, "missing USERNAME");
    username = std::string(absl::StripAsciiWhitespace(*line));
  }
  if (username.empty()) return UsageError(inv, "missing USERNAME");
  absl::StatusOr<std::string> password =
      ReadSecret(absl::StrCat("Password for ", username, ": "));
  if (!password.ok()) {
    return UsageError(inv, std::string(password.status().message()));
  }

  v1::LoginRequest request;
  request.set_username(username);
  request.set_password(*password);
  request.set_user_agent("tokenauth-cli/" TOKENAUTH_VERSION);
  v1::LoginResponse response;
  grpc::Status status =
      v1::AuthService::NewStub(inv.Channel())
          ->Login(inv.AnonymousContext().get(), request, &response);
  if (!status.ok()) return Fail(inv, status);

  Profile profile;
  profile.addr = inv.Addr();
  profile.username = username;
  profile.session_id = response.session_id();
  profile.csrf_token = response.csrf_token();
  profile.session_handle = response.session().handle();
  if (int rc = SaveLogin(inv, profile, "logging in"); rc != kExitOk) return rc;
  if (inv.output == Output::kJson) {
    PrintJson(response.session());  // Never the session ID or CSRF token.
  } else {
    std::cout << "Logged in to " << profile.addr << " as " << username
              << " (session " << profile.session_handle << ", ends "
              << FormatTimestamp(response.session().expire_time(), "-")
              << " at the latest).\n";
  }
  return kExitOk;
}

int Logout(Invocation& inv) {
  const std::string path = inv.ProfilePathOrEmpty();
  const Profile profile = inv.LoadedProfile();
  if (!profile.has_session() && !profile.has_token()) {
    std::cout << "Not logged in.\n";
    return kExitOk;
  }
  if (profile.has_session()) {
    std::unique_ptr<grpc::ClientContext> context = inv.AnonymousContext();
    client::SetSession(*context, profile.session_id, profile.csrf_token);
    v1::LogoutResponse response;
    grpc::Status status =
        v1::AuthService::NewStub(inv.Channel())
            ->Logout(context.get(), v1::LogoutRequest(), &response);
    // UNAUTHENTICATED: the session had already ended; forget it anyway.
    if (!status.ok() &&
        status.error_code() != grpc::StatusCode::UNAUTHENTICATED) {
      std::cerr << "tokenauth: logout: the session could not be ended, so "
                   "the saved login is kept; try again later\n";
      return Fail(inv, status);
    }
  }
  if (absl::Status s = RemoveProfile(path); !s.ok()) return Fail(inv, s);
  if (inv.output == Output::kText) {
    std::cout << "Logged out.";
    if (profile.has_token()) {
      std::cout << " The token itself still works; 'tokenauth token revoke' "
                   "ends it.";
    }
    std::cout << "\n";
  } else {
    std::cout << "{}\n";
  }
  return kExitOk;
}

int WhoAmI(Invocation& inv) {
  v1::AuthenticateRequest request;
  request.set_operation(v1::OPERATION_READ);
  if (const char* env = std::getenv("TOKENAUTH_TOKEN"); env && *env) {
    request.set_token(env);
  } else {
    const Profile& profile = inv.LoadedProfile();
    if (profile.has_session()) {
      request.mutable_session()->set_session_id(profile.session_id);
      request.mutable_session()->set_csrf_token(profile.csrf_token);
    } else if (profile.has_token()) {
      request.set_token(profile.token);
    } else {
      std::cerr << "tokenauth: whoami: not logged in: run 'tokenauth login' "
                   "or set TOKENAUTH_TOKEN\n";
      return kExitAuth;
    }
  }
  absl::StatusOr<v1::AuthenticateResponse> who =
      NewValidator(inv).Authenticate(request);
  if (!who.ok()) return Fail(inv, who.status());
  if (inv.output == Output::kJson) {
    PrintJson(*who);
    return kExitOk;
  }
  std::cout << who->principal().username() << " (user id "
            << who->principal().user_id()
            << (who->principal().admin() ? ", admin" : "") << ") at "
            << inv.Addr() << "\n";
  if (who->credential_kind() == v1::CREDENTIAL_KIND_ACCESS_TOKEN) {
    std::cout << "via access token \"" << who->token().name() << "\" ("
              << who->token().id() << ", "
              << AccessName(who->token().permissions().access()) << ", expires "
              << FormatTimestamp(who->token().expire_time(), "never") << ")\n";
  } else {
    std::cout << "via " << KindName(who->credential_kind()) << " "
              << who->session().handle() << " (idle expiry "
              << FormatTimestamp(who->session().idle_expire_time(), "-")
              << ")\n";
  }
  return kExitOk;
}

absl::Status ParseUserId(const Invocation& inv, int64_t* id) {
  *id = 0;
  if (!inv.Has("user-id")) return absl::OkStatus();
  if (!absl::SimpleAtoi(inv.Get("user-id"), id) || *id <= 0) {
    return absl::InvalidArgumentError("--user-id: a positive number");
  }
  return absl::OkStatus();
}

int SessionList(Invocation& inv) {
  v1::ListSessionsRequest request;
  int64_t user_id = 0;
  if (absl::Status s = ParseUserId(inv, &user_id); !s.ok()) {
    return UsageError(inv, std::string(s.message()));
  }
  request.set_user_id(user_id);
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::ListSessionsResponse response;
  grpc::Status status = v1::SessionService::NewStub(inv.Channel())
                            ->ListSessions(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
    return kExitOk;
  }
  if (response.sessions().empty()) {
    std::cout << "No sessions.\n";
    return kExitOk;
  }
  const std::string current = inv.LoadedProfile().session_handle;
  std::cout << SessionTableHeader();
  for (const v1::Session& s : response.sessions()) {
    std::cout << SessionTableRow(s, !current.empty() && s.handle() == current);
  }
  return kExitOk;
}

int SessionRevoke(Invocation& inv) {
  const bool all = inv.Has("all");
  if (all == !inv.args.empty()) {
    return UsageError(inv, "give either a HANDLE or --all");
  }
  if (!all && inv.Has("user-id")) {
    return UsageError(inv, "--user-id goes with --all");
  }
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  auto stub = v1::SessionService::NewStub(inv.Channel());
  if (all) {
    v1::RevokeAllSessionsRequest request;
    int64_t user_id = 0;
    if (absl::Status s = ParseUserId(inv, &user_id); !s.ok()) {
      return UsageError(inv, std::string(s.message()));
    }
    request.set_user_id(user_id);
    v1::RevokeAllSessionsResponse response;
    grpc::Status status =
        stub->RevokeAllSessions(context.get(), request, &response);
    if (!status.ok()) return Fail(inv, status);
    if (inv.output == Output::kJson) {
      PrintJson(response);
    } else {
      std::cout << "Ended " << response.revoked_count() << " session(s).\n";
    }
    return kExitOk;
  }
  v1::RevokeSessionRequest request;
  request.set_handle(inv.args[0]);
  v1::RevokeSessionResponse response;
  grpc::Status status = stub->RevokeSession(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
  } else {
    std::cout << "Ended session " << response.session().handle() << ".\n";
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> AuthCommands() {
  return {
      {"",
       "login",
       "[USERNAME]",
       0,
       1,
       "Log in and save the session (or a token, with --token).",
       "Asks for the password without echo on a terminal, or reads it as\n"
       "one line from stdin (`printf '%s\\n' \"$PW\" | tokenauth login "
       "alice`).\n"
       "Calls AuthService.Login and saves the session ID and CSRF token to\n"
       "the profile ($XDG_CONFIG_HOME/tokenauth/profile, mode 0600), with\n"
       "the server address. With --token, reads a Personal Access Token the\n"
       "same way, checks it, and saves it instead. Nothing secret is "
       "printed.\n",
       {{"token", Flag::kBool, "",
         "log in with a Personal Access Token (read from stdin or a "
         "prompt)"},
        {"password-stdin", Flag::kBool, "",
         "read the password from stdin even on a terminal"}},
       Login},
      {"",
       "logout",
       "",
       0,
       0,
       "End the saved session and forget it.",
       "Ends the saved session on the server (AuthService.Logout) and\n"
       "removes the profile. A saved token is only forgotten, not revoked.\n",
       {},
       Logout},
      {"",
       "whoami",
       "",
       0,
       0,
       "Show who the saved login (or TOKENAUTH_TOKEN) is.",
       "Checks the credential with AuthService.Authenticate (a read) and\n"
       "shows the user and the credential.\n",
       {},
       WhoAmI},
      {"session",
       "list",
       "",
       0,
       0,
       "List your live sessions (* = this login).",
       "",
       {{"user-id", Flag::kValue, "N", "another user's sessions (admin)"}},
       SessionList},
      {"session",
       "revoke",
       "HANDLE",
       0,
       1,
       "End one session, or all of them with --all.",
       "HANDLE is the public handle 'session list' shows. --all ends every\n"
       "session of yours (\"log out everywhere\"), this one included.\n",
       {{"all", Flag::kBool, "", "end all sessions"},
        {"user-id", Flag::kValue, "N", "with --all: another user's (admin)"}},
       SessionRevoke},
  };
}

}  // namespace tokenauth::cli
