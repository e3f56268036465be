#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/call_deadline.h"
#include "core/errors.h"
#include "core/status_macros.h"
#include "core/validation.h"
#include "server/call_deadline_callbacks.h"
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

namespace {

// An Authenticate request, checked and translated.
struct AuthenticateCall {
  Credential credential;
  Operation operation;
  std::vector<std::string> scopes;
  std::string peer;
  CacheUse cache_use;
};

absl::StatusOr<AuthenticateCall> CallFromRequest(
    const grpc::CallbackServerContext& context,
    const v1::AuthenticateRequest& request) {
  AuthenticateCall call;
  ASSIGN_OR_RETURN(call.credential, CredentialFromRequest(request));
  ASSIGN_OR_RETURN(call.operation, FromProto("operation", request.operation()));
  call.scopes.assign(request.required_scopes().begin(),
                     request.required_scopes().end());
  // The rule of a token's scopes (no catalogue: a scope nobody has is
  // simply missing).
  RETURN_IF_ERROR(ValidateScopes("required_scopes", call.scopes, {}));
  if (request.client_address().size() > 128) {
    return absl::InvalidArgumentError("client_address: at most 128 bytes");
  }
  call.peer = request.client_address().empty() ? context.peer()
                                               : request.client_address();
  call.cache_use = request.skip_cache() ? CacheUse::kSkip : CacheUse::kAllow;
  return call;
}

}  // namespace

grpc::ServerUnaryReactor* AuthServiceImpl::Authenticate(
    grpc::CallbackServerContext* context,
    const v1::AuthenticateRequest* request,
    v1::AuthenticateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<AuthenticateCall> call = CallFromRequest(*context, *request);
  if (!call.ok()) {
    reactor->Finish(ToGrpcStatus(call.status(), kAuthenticate));
    return reactor;
  }
  if (call->cache_use == CacheUse::kAllow) {
    if (std::optional<absl::StatusOr<AuthResult>> answered =
            authenticator_->AuthenticateFromMemory(
                call->credential, call->operation, call->scopes, call->peer,
                &call->cache_use)) {
      reactor->Finish(Respond(*answered, response));
      return reactor;
    }
  }
  const absl::Time deadline = DeadlineOf(*context);
  const bool queued = blocking_->Run([this, reactor, response, deadline,
                                      call = *std::move(call)]() {
    ScopedCallDeadline scoped(deadline);
    reactor->Finish(Respond(
        authenticator_->Authenticate(call.credential, call.operation,
                                     call.scopes, call.peer, call.cache_use),
        response));
  });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(
        WithReason(absl::UnavailableError(
                       "server busy: every Authenticate worker thread is "
                       "taken and AUTH_MAX_WAITING calls wait for one; "
                       "retry with backoff"),
                   reasons::kServerBusy),
        kAuthenticate));
  }
  return reactor;
}

grpc::Status AuthServiceImpl::Respond(
    const absl::StatusOr<AuthResult>& result,
    v1::AuthenticateResponse* response) const {
  if (!result.ok()) return ToGrpcStatus(result.status(), kAuthenticate);
  ToProto(result->principal, response->mutable_principal());
  response->set_credential_kind(ToProto(result->kind));
  if (result->token.has_value()) {
    v1::AuthenticatedToken* token = response->mutable_token();
    token->set_id(result->token->public_id);
    token->set_name(result->token->name);
    ToProto(result->token->permissions, token->mutable_permissions());
    if (result->token->expire_time) {
      ToProto(*result->token->expire_time, token->mutable_expire_time());
    }
  }
  if (result->session.has_value()) {
    ToProto(*result->session, sessions_->IdleExpireTime(*result->session),
            response->mutable_session());
  }
  return grpc::Status::OK;
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
