#include "core/authenticator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace tokenauth {
namespace {

Principal PrincipalOf(const User& user) {
  return Principal{user.id, user.username, user.admin};
}

// The user behind a credential must exist and be enabled.
absl::StatusOr<User> LoadActiveUser(Store& store, int64_t user_id) {
  absl::StatusOr<User> user = store.GetUserById(user_id);
  if (absl::IsNotFound(user.status())) {
    return absl::UnauthenticatedError("credential: its user no longer exists");
  }
  RETURN_IF_ERROR(user.status());
  if (user->disabled) {
    return absl::UnauthenticatedError("credential: the user is disabled");
  }
  return user;
}

}  // namespace

Authenticator::Authenticator(Store* store, Clock* clock,
                             const TokenFormat* format,
                             const PasswordHasher* hasher, TokenPolicy policy)
    : store_(store),
      clock_(clock),
      format_(format),
      hasher_(hasher),
      policy_(std::move(policy)) {}

absl::StatusOr<AuthResult> Authenticator::Authenticate(
    const Credential& credential, Operation operation,
    absl::Span<const std::string> required_scopes) const {
  ASSIGN_OR_RETURN(AuthResult result,
                   std::visit([this](const auto& c) { return Resolve(c); },
                              credential));
  if (!result.token.has_value()) return result;  // Basic: a user may do all.

  const Permissions& perms = result.token->permissions;
  if (operation == Operation::kWrite && perms.access == Access::kReadOnly) {
    return absl::PermissionDeniedError(
        "token: read-only; this operation needs a read-write token");
  }
  if (!perms.scopes.empty()) {
    std::vector<std::string> missing;
    for (const std::string& scope : required_scopes) {
      if (std::find(perms.scopes.begin(), perms.scopes.end(), scope) ==
          perms.scopes.end()) {
        missing.push_back(scope);
      }
    }
    if (!missing.empty()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "token: lacks required scopes: ", absl::StrJoin(missing, ", ")));
    }
  }
  return result;
}

absl::StatusOr<AuthResult> Authenticator::Resolve(
    const TokenCredential& credential) const {
  // Format and checksum first: a mistyped or forged value costs no query.
  ASSIGN_OR_RETURN(std::string public_id, format_->Parse(credential.value));
  absl::StatusOr<TokenRecord> token = store_->GetToken(public_id);
  if (absl::IsNotFound(token.status())) {
    return absl::UnauthenticatedError("token: unknown");
  }
  RETURN_IF_ERROR(token.status());
  if (!TokenFormat::HashesEqual(token->value_hash,
                                TokenFormat::Hash(credential.value))) {
    return absl::UnauthenticatedError("token: unknown");
  }
  switch (StateOf(*token, policy_, clock_->Now())) {
    case TokenState::kActive:
      break;
    case TokenState::kRevoked:
      return absl::UnauthenticatedError("token: revoked");
    case TokenState::kExpired:
      return absl::UnauthenticatedError("token: expired");
    case TokenState::kStale:
      return absl::UnauthenticatedError(absl::StrCat(
          "token: stale (unused for longer than ",
          absl::FormatDuration(policy_.stale_period), ")"));
  }
  ASSIGN_OR_RETURN(User user, LoadActiveUser(*store_, token->user_id));
  AuthResult result;
  result.principal = PrincipalOf(user);
  result.kind = CredentialKind::kAccessToken;
  result.token = *std::move(token);
  return result;
}

absl::StatusOr<AuthResult> Authenticator::Resolve(
    const BasicCredential& credential) const {
  const absl::Status wrong =
      absl::UnauthenticatedError("basic: wrong username or password");
  if (!ValidateUsername("username", credential.username).ok() ||
      credential.password.size() > kMaxPasswordBytes) {
    hasher_->VerifyDummy(credential.password);
    return wrong;
  }
  absl::StatusOr<User> user = store_->GetUserByName(credential.username);
  if (absl::IsNotFound(user.status())) {
    hasher_->VerifyDummy(credential.password);  // Same time as a known user.
    return wrong;
  }
  RETURN_IF_ERROR(user.status());
  if (!hasher_->Verify(user->password_hash, credential.password)) return wrong;
  if (user->disabled) {
    return absl::UnauthenticatedError("credential: the user is disabled");
  }
  AuthResult result;
  result.principal = PrincipalOf(*user);
  result.kind = CredentialKind::kBasic;
  return result;
}

}  // namespace tokenauth
