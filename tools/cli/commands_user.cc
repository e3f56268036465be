// user create|disable|enable|passwd.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli.h"
#include "format.h"
#include "terminal.h"
#include "tokenauth/v1/user_service.grpc.pb.h"

namespace tokenauth::cli {
namespace {

// A new password: one line from stdin, or asked twice on a terminal.
absl::StatusOr<std::string> NewPassword(const std::string& prompt) {
  absl::StatusOr<std::string> password = ReadSecret(prompt);
  if (!password.ok() || !StdinIsTerminal()) return password;
  absl::StatusOr<std::string> again = ReadSecret("Again: ");
  if (!again.ok()) return again;
  if (*again != *password) {
    return absl::InvalidArgumentError("the passwords do not match");
  }
  return password;
}

// USER as a user id: a number is one; anything else is a username to look up.
int ResolveUser(Invocation& inv, const std::string& user, int64_t* id) {
  if (absl::SimpleAtoi(user, id) && *id > 0) return kExitOk;
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::GetUserRequest request;
  request.set_username(user);
  v1::GetUserResponse response;
  grpc::Status status = v1::UserService::NewStub(inv.Channel())
                            ->GetUser(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  *id = response.user().id();
  return kExitOk;
}

void PrintUser(const Invocation& inv, const google::protobuf::Message& response,
               const v1::User& user, const std::string& done) {
  if (inv.output == Output::kJson) {
    PrintJson(response);
  } else {
    std::cout << done << " user " << user.username() << " (id " << user.id()
              << ").\n";
  }
}

int UserCreate(Invocation& inv) {
  absl::StatusOr<std::string> password =
      NewPassword(absl::StrCat("Password for ", inv.args[0], ": "));
  if (!password.ok()) {
    return UsageError(inv, std::string(password.status().message()));
  }
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::CreateUserRequest request;
  request.set_username(inv.args[0]);
  request.set_password(*password);
  request.set_admin(inv.Has("admin"));
  v1::CreateUserResponse response;
  grpc::Status status = v1::UserService::NewStub(inv.Channel())
                            ->CreateUser(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  PrintUser(inv, response, response.user(),
            response.user().admin() ? "Created admin" : "Created");
  return kExitOk;
}

int UserDisable(Invocation& inv) {
  int64_t id = 0;
  if (int rc = ResolveUser(inv, inv.args[0], &id); rc != kExitOk) return rc;
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::DisableUserRequest request;
  request.set_user_id(id);
  v1::DisableUserResponse response;
  grpc::Status status = v1::UserService::NewStub(inv.Channel())
                            ->DisableUser(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  PrintUser(inv, response, response.user(), "Disabled");
  return kExitOk;
}

int UserEnable(Invocation& inv) {
  int64_t id = 0;
  if (int rc = ResolveUser(inv, inv.args[0], &id); rc != kExitOk) return rc;
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::EnableUserRequest request;
  request.set_user_id(id);
  v1::EnableUserResponse response;
  grpc::Status status = v1::UserService::NewStub(inv.Channel())
                            ->EnableUser(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  PrintUser(inv, response, response.user(), "Enabled");
  return kExitOk;
}

int UserPasswd(Invocation& inv) {
  const bool own = inv.args.empty();
  v1::SetPasswordRequest request;
  if (own) {
    absl::StatusOr<std::string> current = ReadSecret("Current password: ");
    if (!current.ok()) {
      return UsageError(inv, std::string(current.status().message()));
    }
    request.set_current_password(*current);
  } else {
    int64_t id = 0;
    if (int rc = ResolveUser(inv, inv.args[0], &id); rc != kExitOk) return rc;
    request.set_user_id(id);
  }
  absl::StatusOr<std::string> password = NewPassword("New password: ");
  if (!password.ok()) {
    return UsageError(inv, std::string(password.status().message()));
  }
  request.set_new_password(*password);
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::SetPasswordResponse response;
  grpc::Status status = v1::UserService::NewStub(inv.Channel())
                            ->SetPassword(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
  } else if (own) {
    std::cout << "Password changed. Every session of yours has ended; log in "
                 "again with 'tokenauth login'.\n";
  } else {
    std::cout << "Password of user " << request.user_id()
              << " set; their sessions have ended.\n";
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> UserCommands() {
  return {
      {"user",
       "create",
       "USERNAME",
       1,
       1,
       "Create a user (admin).",
       "Asks for the password twice without echo on a terminal, or reads it\n"
       "as one line from stdin.\n",
       {{"admin", Flag::kBool, "", "make the user an admin"}},
       UserCreate},
      {"user",
       "disable",
       "USER",
       1,
       1,
       "Disable a user and all their credentials (admin).",
       "USER is a user id or a username.\n",
       {},
       UserDisable},
      {"user",
       "enable",
       "USER",
       1,
       1,
       "Re-enable a disabled user (admin).",
       "USER is a user id or a username.\n",
       {},
       UserEnable},
      {"user",
       "passwd",
       "[USER]",
       0,
       1,
       "Change your password, or set USER's (admin).",
       "Your own: asks for the current password, then the new one (twice)\n"
       "on a terminal; from stdin, reads two lines: current, then new.\n"
       "Another user's (admin): reads only the new one. Needs a login: a\n"
       "token cannot change passwords. Ends all of that user's sessions.\n",
       {},
       UserPasswd},
  };
}

}  // namespace tokenauth::cli
