// UserManager: user accounts. Admins create, disable and enable users and
// reset anyone's password; a user reads themself and changes their own
// password with the current one, never when authenticated by a token.
//
// Does not own its dependencies; they must outlive it. Thread-safe.
#ifndef TOKENAUTH_CORE_USER_MANAGER_H_
#define TOKENAUTH_CORE_USER_MANAGER_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/authenticator.h"
#include "core/clock.h"
#include "core/password_hasher.h"
#include "core/random.h"
#include "core/store.h"
#include "core/types.h"

namespace tokenauth {

class UserManager {
 public:
  // `audit` may be null.
  UserManager(Store* store, Clock* clock, const PasswordHasher* hasher,
              const Authenticator* authenticator,
              const AuditLog* audit = nullptr);

  absl::StatusOr<User> Create(const AuthResult& caller,
                              absl::string_view username,
                              absl::string_view password, bool admin);
  // user_id or username, or neither for the caller; not both.
  absl::StatusOr<User> Get(const AuthResult& caller, int64_t user_id,
                           absl::string_view username);
  // Disabling also ends all of the user's sessions.
  absl::StatusOr<User> SetDisabled(const AuthResult& caller, int64_t user_id,
                                   bool disabled);
  // user_id 0: the caller. Ends all of that user's sessions.
  absl::Status SetPassword(const AuthResult& caller, int64_t user_id,
                           absl::string_view current_password,
                           absl::string_view new_password);

  struct Bootstrap {
    User user;
    bool created = false;
    std::string generated_password;  // Set when one was generated.
  };
  // Creates admin `username` unless a user of that name exists. With an
  // empty `password`, generates one. Safe when several servers start at once.
  absl::StatusOr<Bootstrap> BootstrapAdmin(absl::string_view username,
                                           absl::string_view password,
                                           Random& random);

 private:
  Store* const store_;
  Clock* const clock_;
  const PasswordHasher* const hasher_;
  const Authenticator* const authenticator_;
  const AuditLog* const audit_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_USER_MANAGER_H_
