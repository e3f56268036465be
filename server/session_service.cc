#include "core/status_macros.h"
#include "server/convert.h"
#include "server/services.h"
#include "server/status_convert.h"

namespace tokenauth {
namespace {
constexpr char kList[] = "/tokenauth.v1.SessionService/ListSessions";
constexpr char kRevoke[] = "/tokenauth.v1.SessionService/RevokeSession";
constexpr char kRevokeAll[] = "/tokenauth.v1.SessionService/RevokeAllSessions";
}  // namespace

grpc::Status SessionServiceImpl::ListSessions(
    grpc::ServerContext* context, const v1::ListSessionsRequest* request,
    v1::ListSessionsResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kList));
    ASSIGN_OR_RETURN(std::vector<SessionRecord> sessions,
                     sessions_->List(caller, request->user_id()));
    for (const SessionRecord& s : sessions) {
      ToProto(s, sessions_->IdleExpireTime(s), response->add_sessions());
    }
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kList);
}

grpc::Status SessionServiceImpl::RevokeSession(
    grpc::ServerContext* context, const v1::RevokeSessionRequest* request,
    v1::RevokeSessionResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kRevoke));
    ASSIGN_OR_RETURN(SessionRecord s,
                     sessions_->Revoke(caller, request->handle()));
    ToProto(s, sessions_->IdleExpireTime(s), response->mutable_session());
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kRevoke);
}

grpc::Status SessionServiceImpl::RevokeAllSessions(
    grpc::ServerContext* context, const v1::RevokeAllSessionsRequest* request,
    v1::RevokeAllSessionsResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller,
                     callers_->Resolve(*context, kRevokeAll));
    ASSIGN_OR_RETURN(int count,
                     sessions_->RevokeAll(caller, request->user_id()));
    response->set_revoked_count(count);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kRevokeAll);
}

}  // namespace tokenauth
