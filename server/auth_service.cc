#include "core/status_macros.h"
#include "core/validation.h"
#include "server/convert.h"
#include "server/services.h"
#include "server/status_convert.h"

namespace tokenauth {
namespace {

constexpr char kAuthenticate[] = "/tokenauth.v1.AuthService/Authenticate";
constexpr char kLogin[] = "/tokenauth.v1.AuthService/Login";
constexpr char kLogout[] = "/tokenauth.v1.AuthService/Logout";

absl::StatusOr<Credential> CredentialFromRequest(
    const v1::AuthenticateRequest& request) {
  switch (request.credential_case()) {
    case v1::AuthenticateRequest::kToken:
      return TokenCredential{request.token()};
    case v1::AuthenticateRequest::kBasic:
      return BasicCredential{request.basic().username(),
                             request.basic().password()};
    case v1::AuthenticateRequest::kSession:
      return SessionCredential{request.session().session_id(),
                               request.session().csrf_token()};
    default:
      return absl::InvalidArgumentError(
          "credential: required; set exactly one of token, basic, session");
  }
}

}  // namespace

grpc::Status AuthServiceImpl::Authenticate(
    grpc::ServerContext* context, const v1::AuthenticateRequest* request,
    v1::AuthenticateResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Credential credential, CredentialFromRequest(*request));
    ASSIGN_OR_RETURN(Operation operation,
                     FromProto("operation", request->operation()));
    std::vector<std::string> scopes(request->required_scopes().begin(),
                                    request->required_scopes().end());
    // The rule of a token's scopes (no catalogue: a scope nobody has is
    // simply missing).
    RETURN_IF_ERROR(ValidateScopes("required_scopes", scopes, {}));
    if (request->client_address().size() > 128) {
      return absl::InvalidArgumentError("client_address: at most 128 bytes");
    }
    const std::string peer = request->client_address().empty()
                                 ? context->peer()
                                 : request->client_address();
    ASSIGN_OR_RETURN(
        AuthResult result,
        authenticator_->Authenticate(
            credential, operation, scopes, peer,
            request->skip_cache() ? CacheUse::kSkip : CacheUse::kAllow));
    ToProto(result.principal, response->mutable_principal());
    response->set_credential_kind(ToProto(result.kind));
    if (result.token.has_value()) {
      v1::AuthenticatedToken* token = response->mutable_token();
      token->set_id(result.token->public_id);
      token->set_name(result.token->name);
      ToProto(result.token->permissions, token->mutable_permissions());
      if (result.token->expire_time) {
        ToProto(*result.token->expire_time, token->mutable_expire_time());
      }
    }
    if (result.session.has_value()) {
      ToProto(*result.session, sessions_->IdleExpireTime(*result.session),
              response->mutable_session());
    }
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kAuthenticate);
}

grpc::Status AuthServiceImpl::Login(grpc::ServerContext* context,
                                    const v1::LoginRequest* request,
                                    v1::LoginResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(SessionManager::Started started,
                     sessions_->Login(request->username(), request->password(),
                                      context->peer(), request->user_agent()));
    ToProto(started.session, sessions_->IdleExpireTime(started.session),
            response->mutable_session());
    response->set_session_id(std::move(started.session_id));
    response->set_csrf_token(std::move(started.csrf_token));
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kLogin);
}

grpc::Status AuthServiceImpl::Logout(grpc::ServerContext* context,
                                     const v1::LogoutRequest* /*request*/,
                                     v1::LogoutResponse* /*response*/) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kLogout));
    return sessions_->Logout(caller);
  };
  return ToGrpcStatus(run(), kLogout);
}

}  // namespace tokenauth
