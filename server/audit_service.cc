#include "core/status_macros.h"
#include "server/convert.h"
#include "server/services.h"
#include "server/status_convert.h"

namespace tokenauth {
namespace {
constexpr char kList[] = "/tokenauth.v1.AuditService/ListAuditEvents";
}  // namespace

grpc::Status AuditServiceImpl::ListAuditEvents(
    grpc::ServerContext* context, const v1::ListAuditEventsRequest* request,
    v1::ListAuditEventsResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AuthResult caller, callers_->Resolve(*context, kList));
    AuditLog::ListParams params;
    params.user_id = request->user_id();
    params.type = request->type();
    params.page_size = request->page_size();
    params.page_token = request->page_token();
    ASSIGN_OR_RETURN(AuditLog::Page page, audit_->List(caller, params));
    for (const AuditEvent& e : page.events) ToProto(e, response->add_events());
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  };
  return ToGrpcStatus(run(), kList);
}

}  // namespace tokenauth
