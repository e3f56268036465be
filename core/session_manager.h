// SessionManager: login sessions. Login checks a password through the
// Authenticator (so the lockout applies) and starts a session whose ID and
// CSRF token are returned once and stored only as hashes; Logout ends the
// calling session; users list and end their own sessions, admins anyone's.
//
// Does not own its dependencies; they must outlive it. Thread-safe.
#ifndef TOKENAUTH_CORE_SESSION_MANAGER_H_
#define TOKENAUTH_CORE_SESSION_MANAGER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/authenticator.h"
#include "core/clock.h"
#include "core/random.h"
#include "core/store.h"
#include "core/types.h"

namespace tokenauth {

class SessionManager {
 public:
  static constexpr size_t kMaxUserAgentBytes = 256;
  static constexpr size_t kMaxPeerBytes = 128;
  static constexpr int kMaxListed = 1000;

  // `audit` may be null.
  SessionManager(Store* store, Clock* clock, Random* random,
                 const Authenticator* authenticator,
                 const AuditLog* audit = nullptr);

  struct Started {
    SessionRecord session;
    std::string session_id;  // Secret; shown to the caller once.
    std::string csrf_token;  // Secret; shown to the caller once.
  };
  // `peer` is the caller's address (truncated to 128 bytes); `user_agent` is
  // optional, at most 256 bytes of UTF-8.
  absl::StatusOr<Started> Login(absl::string_view username,
                                absl::string_view password,
                                absl::string_view peer,
                                absl::string_view user_agent);

  // Ends the caller's own session; FAILED_PRECONDITION if the caller did not
  // authenticate with one.
  absl::Status Logout(const AuthResult& caller);

  // user_id 0: the caller.
  absl::StatusOr<std::vector<SessionRecord>> List(const AuthResult& caller,
                                                  int64_t user_id);
  absl::StatusOr<SessionRecord> Revoke(const AuthResult& caller,
                                       absl::string_view handle);
  absl::StatusOr<int> RevokeAll(const AuthResult& caller, int64_t user_id);

  // When the session stops working if unused from now on.
  absl::Time IdleExpireTime(const SessionRecord& session) const;

 private:
  absl::StatusOr<int64_t> TargetUser(const AuthResult& caller, int64_t user_id,
                                     absl::string_view what) const;

  Store* const store_;
  Clock* const clock_;
  Random* const random_;
  const Authenticator* const authenticator_;
  const AuditLog* const audit_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_SESSION_MANAGER_H_
