#include "core/user_manager.h"

#include "absl/strings/str_cat.h"
#include "core/errors.h"
#include "core/status_macros.h"
#include "core/token_manager.h"
#include "core/validation.h"

namespace tokenauth {
namespace {

absl::Status RequireAdmin(const AuthResult& caller, absl::string_view what) {
  if (!caller.principal.admin) {
    return WithReason(absl::PermissionDeniedError(
                          absl::StrCat("caller: only admins may ", what)),
                      reasons::kAdminRequired);
  }
  return absl::OkStatus();
}

absl::Status ValidateUserId(int64_t user_id) {
  if (user_id <= 0) {
    return absl::InvalidArgumentError("user_id: required (a positive id)");
  }
  return absl::OkStatus();
}

absl::Status UserNotFound(int64_t user_id) {
  return WithReason(
      absl::NotFoundError(absl::StrCat("user ", user_id, ": not found")),
      reasons::kUserNotFound, {{"user_id", absl::StrCat(user_id)}});
}

absl::StatusOr<User> NotFoundAsNamed(absl::StatusOr<User> user,
                                     int64_t user_id) {
  if (absl::IsNotFound(user.status())) return UserNotFound(user_id);
  return user;
}

}  // namespace

UserManager::UserManager(Store* store, Clock* clock,
                         const PasswordHasher* hasher,
                         const Authenticator* authenticator,
                         const AuditLog* audit)
    : store_(store),
      clock_(clock),
      hasher_(hasher),
      authenticator_(authenticator),
      audit_(audit) {}

absl::StatusOr<User> UserManager::Create(const AuthResult& caller,
                                         absl::string_view username,
                                         absl::string_view password,
                                         bool admin) {
  RETURN_IF_ERROR(RequireAdmin(caller, "create users"));
  RETURN_IF_ERROR(ValidateUsername("username", username));
  RETURN_IF_ERROR(ValidatePassword("password", password));
  ASSIGN_OR_RETURN(std::string hash, hasher_->Hash(password));
  absl::StatusOr<User> user = store_->CreateUser(
      NewUser{std::string(username), std::move(hash), admin}, clock_->Now());
  if (absl::IsAlreadyExists(user.status())) {
    return WithReason(absl::AlreadyExistsError(absl::StrCat(
                          "username: \"", username, "\" is taken")),
                      reasons::kUsernameTaken,
                      {{"field", "username"}, {"username", username}});
  }
  if (user.ok() && audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kUserCreate, user->id,
                   user->username, admin ? "admin=true" : "admin=false");
  }
  return user;
}

absl::StatusOr<User> UserManager::Get(const AuthResult& caller, int64_t user_id,
                                      absl::string_view username) {
  if (user_id != 0 && !username.empty()) {
    return absl::InvalidArgumentError("user_id, username: give one, not both");
  }
  if (user_id < 0) {
    return absl::InvalidArgumentError("user_id: must not be negative");
  }
  absl::StatusOr<User> user;
  if (!username.empty()) {
    RETURN_IF_ERROR(ValidateUsername("username", username));
    user = store_->GetUserByName(username);
    if (absl::IsNotFound(user.status())) {
      return WithReason(absl::NotFoundError(
                            absl::StrCat("user \"", username, "\": not found")),
                        reasons::kUserNotFound, {{"username", username}});
    }
  } else {
    const int64_t id = user_id == 0 ? caller.principal.user_id : user_id;
    user = NotFoundAsNamed(store_->GetUserById(id), id);
  }
  RETURN_IF_ERROR(user.status());
  if (user->id != caller.principal.user_id) {
    RETURN_IF_ERROR(RequireAdmin(caller, "read other users"));
  }
  return user;
}

absl::StatusOr<User> UserManager::SetDisabled(const AuthResult& caller,
                                              int64_t user_id, bool disabled) {
  RETURN_IF_ERROR(
      RequireAdmin(caller, disabled ? "disable users" : "enable users"));
  RETURN_IF_ERROR(ValidateUserId(user_id));
  if (disabled && user_id == caller.principal.user_id) {
    return WithReason(absl::FailedPreconditionError(
                          "user_id: an admin cannot disable their own account"),
                      reasons::kCannotDisableSelf);
  }
  const absl::Time now = clock_->Now();
  absl::Status s = store_->SetUserDisabled(user_id, disabled, now);
  authenticator_->ForgetUser(user_id);
  if (absl::IsNotFound(s)) return UserNotFound(user_id);
  RETURN_IF_ERROR(s);
  // Sessions end for good; tokens stay and work again once re-enabled.
  if (disabled) {
    absl::Status ended = store_->EndUserSessions(user_id, now).status();
    authenticator_->ForgetUser(user_id);
    RETURN_IF_ERROR(ended);
  }
  absl::StatusOr<User> user =
      NotFoundAsNamed(store_->GetUserById(user_id), user_id);
  if (user.ok() && audit_ != nullptr) {
    audit_->Record(caller, caller.peer,
                   disabled ? audit::kUserDisable : audit::kUserEnable, user_id,
                   user->username);
  }
  return user;
}

absl::Status UserManager::SetPassword(const AuthResult& caller, int64_t user_id,
                                      absl::string_view current_password,
                                      absl::string_view new_password) {
  RETURN_IF_ERROR(RequireNonTokenCaller(caller, "change passwords"));
  if (user_id < 0) {
    return absl::InvalidArgumentError("user_id: must not be negative");
  }
  const int64_t id = user_id == 0 ? caller.principal.user_id : user_id;
  RETURN_IF_ERROR(ValidatePassword("new_password", new_password));
  if (id == caller.principal.user_id) {
    if (current_password.empty()) {
      return absl::InvalidArgumentError(
          "current_password: required to change your own password");
    }
    // Through the Authenticator, so that guesses count towards the lockout.
    absl::Status current =
        authenticator_
            ->Authenticate(BasicCredential{caller.principal.username,
                                           std::string(current_password)},
                           Operation::kWrite, {}, caller.peer, CacheUse::kSkip)
            .status();
    if (absl::IsUnauthenticated(current)) {
      // Keep the reason (WRONG_CREDENTIALS, ACCOUNT_LOCKED...) and say which
      // field it concerns.
      ErrorReason reason = ErrorReasonOf(current).value_or(
          ErrorReason{DefaultReason(current.code()), {}});
      reason.metadata["field"] = "current_password";
      return WithReason(absl::PermissionDeniedError(absl::StrCat(
                            "current_password: ", current.message())),
                        reason);
    }
    RETURN_IF_ERROR(current);
  } else {
    RETURN_IF_ERROR(RequireAdmin(caller, "set other users' passwords"));
  }
  ASSIGN_OR_RETURN(std::string hash, hasher_->Hash(new_password));
  const absl::Time now = clock_->Now();
  absl::Status s = store_->SetPasswordHash(id, hash, now);
  authenticator_->ForgetUser(id);
  if (absl::IsNotFound(s)) return UserNotFound(id);
  RETURN_IF_ERROR(s);
  // A new password ends every session of the user, the caller's included,
  // and lifts a lockout.
  absl::Status ended = store_->EndUserSessions(id, now).status();
  authenticator_->ForgetUser(id);
  RETURN_IF_ERROR(ended);
  RETURN_IF_ERROR(store_->ClearPasswordFailures(id));
  if (audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kUserPasswordChange, id,
                   absl::StrCat(id));
  }
  return absl::OkStatus();
}

absl::StatusOr<UserManager::Bootstrap> UserManager::BootstrapAdmin(
    absl::string_view username, absl::string_view password, Random& random) {
  RETURN_IF_ERROR(ValidateUsername("TOKENAUTH_BOOTSTRAP_ADMIN", username));
  Bootstrap out;
  // Cheap check first, so a restart does not pay for a hash.
  absl::StatusOr<User> existing = store_->GetUserByName(username);
  if (existing.ok()) {
    out.user = *std::move(existing);
    return out;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  std::string chosen(password);
  if (chosen.empty()) {
    out.generated_password = RandomBase62(random, 24);
    chosen = out.generated_password;
  }
  RETURN_IF_ERROR(ValidatePassword("TOKENAUTH_BOOTSTRAP_PASSWORD", chosen));
  ASSIGN_OR_RETURN(std::string hash, hasher_->Hash(chosen));
  ASSIGN_OR_RETURN(auto created,
                   store_->CreateUserIfAbsent(
                       NewUser{std::string(username), std::move(hash), true},
                       clock_->Now()));
  out.user = std::move(created.first);
  out.created = created.second;
  if (!out.created) out.generated_password.clear();  // Another server won.
  return out;
}

}  // namespace tokenauth
