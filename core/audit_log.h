// AuditLog: writes audit events and lets callers read them. Writes happen
// after the change they describe has committed; a failed write does not undo
// the change and is reported to the error callback (the server logs it).
// Readers see their own events (as actor or subject); admins see all.
//
// Event types are the constants below. Does not own the store or clock.
// Thread-safe.
#ifndef TOKENAUTH_CORE_AUDIT_LOG_H_
#define TOKENAUTH_CORE_AUDIT_LOG_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "core/store.h"
#include "core/types.h"

namespace tokenauth {

namespace audit {
inline constexpr char kTokenCreate[] = "token.create";
inline constexpr char kTokenUpdate[] = "token.update";
inline constexpr char kTokenRotate[] = "token.rotate";
inline constexpr char kTokenRevoke[] = "token.revoke";
inline constexpr char kTokenReuseDetected[] = "token.reuse_detected";
inline constexpr char kTokenJanitorDelete[] = "token.janitor_delete";
inline constexpr char kSessionLogin[] = "session.login";
inline constexpr char kSessionLogout[] = "session.logout";
inline constexpr char kSessionRevoke[] = "session.revoke";
inline constexpr char kAuthFailed[] = "auth.failed";
inline constexpr char kAuthLockout[] = "auth.lockout";
inline constexpr char kUserCreate[] = "user.create";
inline constexpr char kUserDisable[] = "user.disable";
inline constexpr char kUserEnable[] = "user.enable";
inline constexpr char kUserPasswordChange[] = "user.password_change";
}  // namespace audit

// "basic", "session", "access_token".
std::string CredentialKindName(CredentialKind kind);

class AuditLog {
 public:
  using ErrorCallback =
      std::function<void(const absl::Status&, const AuditEvent&)>;

  AuditLog(Store* store, Clock* clock, ErrorCallback on_error);

  // Fills in the time, writes the event.
  void Record(AuditEvent event) const;
  // An event by `caller` about `subject_user_id`'s `object_id`.
  void Record(const AuthResult& caller, absl::string_view peer,
              absl::string_view type, int64_t subject_user_id,
              absl::string_view object_id,
              absl::string_view details = "") const;

  struct ListParams {
    int64_t user_id = 0;  // 0: all (admins) or the caller (others).
    std::string type;
    int page_size = 0;
    std::string page_token;
  };
  struct Page {
    std::vector<AuditEvent> events;
    std::string next_page_token;
  };
  absl::StatusOr<Page> List(const AuthResult& caller,
                            const ListParams& params) const;

 private:
  Store* const store_;
  Clock* const clock_;
  const ErrorCallback on_error_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_AUDIT_LOG_H_
