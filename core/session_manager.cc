#include "core/session_manager.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"
#include "core/status_macros.h"
#include "core/token_format.h"
#include "core/validation.h"

namespace tokenauth {
namespace {

constexpr int kHandleLength = 12;

absl::Status ValidateHandle(absl::string_view handle) {
  bool ok = handle.size() == kHandleLength;
  for (char c : handle) {
    ok = ok && absl::ascii_isalnum(static_cast<unsigned char>(c));
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "handle: must be ", kHandleLength,
        " characters from [0-9A-Za-z] (Session.handle, not the session ID)"));
  }
  return absl::OkStatus();
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string TruncateUtf8(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

}  // namespace

SessionManager::SessionManager(Store* store, Clock* clock, Random* random,
                               const Authenticator* authenticator,
                               const AuditLog* audit)
    : store_(store),
      clock_(clock),
      random_(random),
      authenticator_(authenticator),
      audit_(audit) {}

absl::Time SessionManager::IdleExpireTime(const SessionRecord& session) const {
  return std::min(
      session.last_seen_time + authenticator_->policy().sessions.idle_timeout,
      session.expire_time);
}

absl::StatusOr<SessionManager::Started> SessionManager::Login(
    absl::string_view username, absl::string_view password,
    absl::string_view peer, absl::string_view user_agent) {
  // Input checks first: a malformed request must not count as a failure.
  if (user_agent.size() > kMaxUserAgentBytes) {
    return absl::InvalidArgumentError("user_agent: at most 256 bytes");
  }
  if (!IsValidUtf8(user_agent) || HasControlCharacters(user_agent)) {
    return absl::InvalidArgumentError(
        "user_agent: must be valid UTF-8 without control characters");
  }
  if (username.empty()) {
    return absl::InvalidArgumentError("username: required");
  }
  ASSIGN_OR_RETURN(
      AuthResult who,
      authenticator_->Authenticate(
          BasicCredential{std::string(username), std::string(password)},
          Operation::kWrite, {}, peer, CacheUse::kSkip));

  const absl::Time now = clock_->Now();
  Started started;
  started.session_id = RandomBase62(*random_, kSessionSecretLength);
  started.csrf_token = RandomBase62(*random_, kSessionSecretLength);
  SessionRecord record;
  record.handle = RandomBase62(*random_, kHandleLength);
  record.user_id = who.principal.user_id;
  record.secret_hash = TokenFormat::Hash(started.session_id);
  record.csrf_hash = TokenFormat::Hash(started.csrf_token);
  record.create_time = now;
  record.last_seen_time = now;
  record.expire_time = now + authenticator_->policy().sessions.max_age;
  record.peer = TruncateUtf8(peer, kMaxPeerBytes);
  record.user_agent = std::string(user_agent);
  ASSIGN_OR_RETURN(started.session, store_->InsertSession(record));
  if (audit_ != nullptr) {
    audit_->Record(who, record.peer, audit::kSessionLogin, record.user_id,
                   started.session.handle);
  }
  return started;
}

absl::Status SessionManager::Logout(const AuthResult& caller) {
  if (!caller.session.has_value()) {
    return WithReason(
        absl::FailedPreconditionError(
            "caller: Logout ends the calling session; authenticate with "
            "x-session-id (and x-csrf-token)"),
        reasons::kSessionRequired);
  }
  absl::StatusOr<SessionRecord> ended =
      store_->EndSession(caller.session->handle, clock_->Now());
  authenticator_->ForgetUser(caller.principal.user_id);
  if (absl::IsNotFound(ended.status())) return absl::OkStatus();  // Raced.
  RETURN_IF_ERROR(ended.status());
  if (audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kSessionLogout,
                   caller.principal.user_id, caller.session->handle);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SessionManager::TargetUser(
    const AuthResult& caller, int64_t user_id, absl::string_view what) const {
  if (user_id < 0) {
    return absl::InvalidArgumentError("user_id: must not be negative");
  }
  const int64_t target = user_id == 0 ? caller.principal.user_id : user_id;
  if (target != caller.principal.user_id && !caller.principal.admin) {
    return WithReason(absl::PermissionDeniedError(
                          absl::StrCat("user_id: only admins may ", what)),
                      reasons::kAdminRequired);
  }
  return target;
}

absl::StatusOr<std::vector<SessionRecord>> SessionManager::List(
    const AuthResult& caller, int64_t user_id) {
  ASSIGN_OR_RETURN(int64_t target,
                   TargetUser(caller, user_id, "list other users' sessions"));
  return store_->ListLiveSessions(
      target,
      SessionLiveAtTime(authenticator_->policy().sessions, clock_->Now()),
      kMaxListed);
}

absl::StatusOr<SessionRecord> SessionManager::Revoke(const AuthResult& caller,
                                                     absl::string_view handle) {
  RETURN_IF_ERROR(ValidateHandle(handle));
  const absl::Status not_found = WithReason(
      absl::NotFoundError(absl::StrCat("session ", handle, ": not found")),
      reasons::kSessionNotFound, {{"session_handle", handle}});
  absl::StatusOr<SessionRecord> session = store_->GetSession(handle);
  if (absl::IsNotFound(session.status())) return not_found;
  RETURN_IF_ERROR(session.status());
  if (session->user_id != caller.principal.user_id && !caller.principal.admin) {
    return not_found;  // Do not reveal other users' sessions.
  }
  absl::StatusOr<SessionRecord> ended =
      store_->EndSession(handle, clock_->Now());
  authenticator_->ForgetUser(session->user_id);
  if (absl::IsNotFound(ended.status())) return not_found;
  if (ended.ok() && audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kSessionRevoke, ended->user_id,
                   handle);
  }
  return ended;
}

absl::StatusOr<int> SessionManager::RevokeAll(const AuthResult& caller,
                                              int64_t user_id) {
  ASSIGN_OR_RETURN(int64_t target,
                   TargetUser(caller, user_id, "end other users' sessions"));
  absl::StatusOr<int> ended = store_->EndUserSessions(target, clock_->Now());
  authenticator_->ForgetUser(target);
  if (ended.ok() && audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kSessionRevoke, target, "*",
                   absl::StrCat("count=", *ended));
  }
  return ended;
}

}  // namespace tokenauth
