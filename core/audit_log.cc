#include "core/audit_log.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"
#include "core/page_token.h"
#include "core/status_macros.h"

namespace tokenauth {

std::string CredentialKindName(CredentialKind kind) {
  switch (kind) {
    case CredentialKind::kBasic:
      return "basic";
    case CredentialKind::kSession:
      return "session";
    case CredentialKind::kAccessToken:
      return "access_token";
  }
  return "";
}

AuditLog::AuditLog(Store* store, Clock* clock, ErrorCallback on_error)
    : store_(store), clock_(clock), on_error_(std::move(on_error)) {}

void AuditLog::Record(AuditEvent event) const {
  event.time = clock_->Now();
  absl::Status s = store_->AppendAuditEvent(event);
  if (!s.ok() && on_error_) on_error_(s, event);
}

void AuditLog::Record(const AuthResult& caller, absl::string_view peer,
                      absl::string_view type, int64_t subject_user_id,
                      absl::string_view object_id,
                      absl::string_view details) const {
  AuditEvent event;
  event.type = std::string(type);
  event.actor_user_id = caller.principal.user_id;
  event.subject_user_id = subject_user_id;
  event.object_id = std::string(object_id);
  event.credential_kind = CredentialKindName(caller.kind);
  event.peer = std::string(peer);
  event.details = std::string(details);
  Record(std::move(event));
}

absl::StatusOr<AuditLog::Page> AuditLog::List(const AuthResult& caller,
                                              const ListParams& params) const {
  if (params.user_id < 0) {
    return absl::InvalidArgumentError("user_id: must not be negative");
  }
  if (params.page_size < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (params.type.size() > 64) {
    return absl::InvalidArgumentError("type: at most 64 characters");
  }
  for (char c : params.type) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_') {
      return absl::InvalidArgumentError(
          "type: an event type such as \"token.create\" ([a-z._])");
    }
  }
  int64_t user_id = params.user_id;
  if (!caller.principal.admin) {
    if (user_id != 0 && user_id != caller.principal.user_id) {
      return WithReason(
          absl::PermissionDeniedError(
              "user_id: only admins may read other users' audit events"),
          reasons::kAdminRequired);
    }
    user_id = caller.principal.user_id;
  }
  const int page_size =
      params.page_size == 0 ? 50 : std::min(params.page_size, 1000);
  AuditQuery query;
  if (user_id != 0) query.user_id = user_id;
  if (!params.type.empty()) query.type = params.type;
  query.limit = page_size + 1;
  // Bind the cursor to the listing: the viewer, the user filter, the type.
  const std::string filter = absl::StrCat("audit:", caller.principal.user_id,
                                          ":", user_id, ":", params.type);
  if (!params.page_token.empty()) {
    ASSIGN_OR_RETURN(PageCursor cursor,
                     DecodePageToken(params.page_token, filter));
    query.before_id = cursor.before_row;
  }
  ASSIGN_OR_RETURN(std::vector<AuditEvent> events,
                   store_->ListAuditEvents(query));
  Page page;
  if (static_cast<int>(events.size()) > page_size) {
    events.resize(page_size);
    page.next_page_token = EncodePageToken(events.back().id, filter);
  }
  page.events = std::move(events);
  return page;
}

}  // namespace tokenauth
