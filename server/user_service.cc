#include "core/status_macros.h"
#include "server/convert.h"
#include "server/services.h"
#include "server/status_convert.h"

namespace tokenauth {
namespace {
constexpr char kCreate[] = "/tokenauth.v1.UserService/CreateUser";
constexpr char kGet[] = "/tokenauth.v1.UserService/GetUser";
constexpr char kDisable[] = "/tokenauth.v1.UserService/DisableUser";
constexpr char kEnable[] = "/tokenauth.v1.UserService/EnableUser";
constexpr char kSetPassword[] = "/tokenauth.v1.UserService/SetPassword";
}  // namespace

grpc::Status UserServiceImpl::CreateUser(grpc::ServerContext* context,
                                         const v1::CreateUserRequest* request,
                                         v1::CreateUserResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kCreate));
    ASSIGN_OR_RETURN(User user,
                     users_->Create(caller, request->username(),
                                    request->password(), request->admin()));
    ToProto(user, response->mutable_user());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kCreate);
}

grpc::Status UserServiceImpl::GetUser(grpc::ServerContext* context,
                                      const v1::GetUserRequest* request,
                                      v1::GetUserResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kGet));
    ASSIGN_OR_RETURN(User user, users_->Get(caller, request->user_id(),
                                            request->username()));
    ToProto(user, response->mutable_user());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kGet);
}

grpc::Status UserServiceImpl::DisableUser(grpc::ServerContext* context,
                                          const v1::DisableUserRequest* request,
                                          v1::DisableUserResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kDisable));
    ASSIGN_OR_RETURN(User user,
                     users_->SetDisabled(caller, request->user_id(), true));
    ToProto(user, response->mutable_user());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kDisable);
}

grpc::Status UserServiceImpl::EnableUser(grpc::ServerContext* context,
                                         const v1::EnableUserRequest* request,
                                         v1::EnableUserResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kEnable));
    ASSIGN_OR_RETURN(User user,
                     users_->SetDisabled(caller, request->user_id(), false));
    ToProto(user, response->mutable_user());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kEnable);
}

grpc::Status UserServiceImpl::SetPassword(
    grpc::ServerContext* context, const v1::SetPasswordRequest* request,
    v1::SetPasswordResponse* /*response*/) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller,
                     callers_->Resolve(*context, kSetPassword));
    return users_->SetPassword(caller, request->user_id(),
                               request->current_password(),
                               request->new_password());
  };
  return ToGrpcStatus(run(), kSetPassword);
}

}  // namespace tokenauth
