#include "core/status_macros.h"
#include "server/convert.h"
#include "server/services.h"
#include "server/status_convert.h"

namespace tokenauth {
namespace {

constexpr char kCreate[] = "/tokenauth.v1.TokenService/CreateToken";
constexpr char kGet[] = "/tokenauth.v1.TokenService/GetToken";
constexpr char kList[] = "/tokenauth.v1.TokenService/ListTokens";
constexpr char kUpdate[] = "/tokenauth.v1.TokenService/UpdateToken";
constexpr char kRevoke[] = "/tokenauth.v1.TokenService/RevokeToken";
constexpr char kRotate[] = "/tokenauth.v1.TokenService/RotateToken";

template <typename Request>
absl::StatusOr<TokenManager::Expiration> ExpirationOf(const Request& request) {
  TokenManager::Expiration e;
  if (request.has_expire_time()) {
    ASSIGN_OR_RETURN(e.expire_time,
                     FromProto("expire_time", request.expire_time()));
  }
  if (request.has_ttl()) {
    ASSIGN_OR_RETURN(e.ttl, FromProto("ttl", request.ttl()));
  }
  return e;
}

absl::Status DoCreate(const CallerAuth& callers, TokenManager& tokens,
                      const grpc::ServerContext& context,
                      const v1::CreateTokenRequest& request,
                      v1::CreateTokenResponse& response) {
  ASSIGN_OR_RETURN(AuthResult caller, callers.Resolve(context, kCreate));
  TokenManager::CreateParams params;
  params.name = request.name();
  ASSIGN_OR_RETURN(params.expiration, ExpirationOf(request));
  ASSIGN_OR_RETURN(params.permissions,
                   FromProto("permissions", request.permissions()));
  params.request_id = request.request_id();
  ASSIGN_OR_RETURN(TokenManager::Created created,
                   tokens.Create(caller, params));
  ToProto(created.token, tokens.StateOf(created.token),
          response.mutable_token());
  response.set_value(std::move(created.value));
  response.set_replayed(created.replayed);
  return absl::OkStatus();
}

absl::Status DoUpdate(const CallerAuth& callers, TokenManager& tokens,
                      const grpc::ServerContext& context,
                      const v1::UpdateTokenRequest& request,
                      v1::UpdateTokenResponse& response) {
  ASSIGN_OR_RETURN(AuthResult caller, callers.Resolve(context, kUpdate));
  const v1::Token& token = request.token();
  if (request.update_mask().paths().empty()) {
    return absl::InvalidArgumentError(
        "update_mask: required; name the fields to change (name, "
        "expire_time, permissions)");
  }
  TokenUpdate update;
  for (const std::string& path : request.update_mask().paths()) {
    if (path == "name") {
      update.name = token.name();
    } else if (path == "expire_time") {
      if (token.has_expire_time()) {
        ASSIGN_OR_RETURN(absl::Time t,
                         FromProto("token.expire_time", token.expire_time()));
        update.expire_time = std::optional<absl::Time>(t);
      } else {
        update.expire_time = std::optional<absl::Time>();
      }
    } else if (path == "permissions") {
      ASSIGN_OR_RETURN(update.permissions,
                       FromProto("token.permissions", token.permissions()));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: unknown or read-only path \"", path,
                       "\"; allowed: name, expire_time, permissions"));
    }
  }
  ASSIGN_OR_RETURN(TokenRecord updated,
                   tokens.Update(caller, token.id(), update));
  ToProto(updated, tokens.StateOf(updated), response.mutable_token());
  return absl::OkStatus();
}

}  // namespace

grpc::Status TokenServiceImpl::CreateToken(
    grpc::ServerContext* context, const v1::CreateTokenRequest* request,
    v1::CreateTokenResponse* response) {
  return ToGrpcStatus(
      DoCreate(*callers_, *tokens_, *context, *request, *response), kCreate);
}

grpc::Status TokenServiceImpl::GetToken(grpc::ServerContext* context,
                                        const v1::GetTokenRequest* request,
                                        v1::GetTokenResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kGet));
    ASSIGN_OR_RETURN(TokenRecord token, tokens_->Get(caller, request->id()));
    ToProto(token, tokens_->StateOf(token), response->mutable_token());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kGet);
}

grpc::Status TokenServiceImpl::ListTokens(grpc::ServerContext* context,
                                          const v1::ListTokensRequest* request,
                                          v1::ListTokensResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kList));
    TokenManager::ListParams params;
    params.user_id = request->user_id();
    params.page_size = request->page_size();
    params.page_token = request->page_token();
    params.show_unusable = request->show_unusable();
    ASSIGN_OR_RETURN(params.state, FromProto("state", request->state()));
    params.name_contains = request->name_contains();
    if (request->has_expiring_within()) {
      ASSIGN_OR_RETURN(
          params.expiring_within,
          FromProto("expiring_within", request->expiring_within()));
    }
    ASSIGN_OR_RETURN(TokenManager::Page page, tokens_->List(caller, params));
    for (const TokenRecord& token : page.tokens) {
      ToProto(token, tokens_->StateOf(token), response->add_tokens());
    }
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kList);
}

grpc::Status TokenServiceImpl::UpdateToken(
    grpc::ServerContext* context, const v1::UpdateTokenRequest* request,
    v1::UpdateTokenResponse* response) {
  return ToGrpcStatus(
      DoUpdate(*callers_, *tokens_, *context, *request, *response), kUpdate);
}

grpc::Status TokenServiceImpl::RevokeToken(
    grpc::ServerContext* context, const v1::RevokeTokenRequest* request,
    v1::RevokeTokenResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kRevoke));
    ASSIGN_OR_RETURN(TokenRecord token, tokens_->Revoke(caller, request->id()));
    ToProto(token, tokens_->StateOf(token), response->mutable_token());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kRevoke);
}

grpc::Status TokenServiceImpl::RotateToken(
    grpc::ServerContext* context, const v1::RotateTokenRequest* request,
    v1::RotateTokenResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kRotate));
    ASSIGN_OR_RETURN(TokenManager::Expiration expiration,
                     ExpirationOf(*request));
    ASSIGN_OR_RETURN(TokenManager::Rotated rotated,
                     tokens_->Rotate(caller, request->id(), expiration,
                                     request->request_id()));
    ToProto(rotated.successor, tokens_->StateOf(rotated.successor),
            response->mutable_token());
    ToProto(rotated.old_token, tokens_->StateOf(rotated.old_token),
            response->mutable_rotated_token());
    response->set_value(std::move(rotated.value));
    response->set_replayed(rotated.replayed);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kRotate);
}

}  // namespace tokenauth
