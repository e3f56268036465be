// Authenticator: resolves a credential (a Personal Access Token, a username
// and password, or a session ID with its CSRF token) to a principal and
// checks that it allows an operation. It is the one path every caller goes
// through: AuthService.Authenticate and Login for backends, and the metadata
// of every management RPC.
//
// A malformed token or session ID is refused before any Store call. Password
// checks obey the failed-login lockout, counted atomically in the store.
// Does not own its dependencies; they must outlive it. Thread-safe.
#ifndef TOKENAUTH_CORE_AUTHENTICATOR_H_
#define TOKENAUTH_CORE_AUTHENTICATOR_H_

#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/clock.h"
#include "core/password_hasher.h"
#include "core/policy.h"
#include "core/store.h"
#include "core/token_format.h"
#include "core/types.h"

namespace tokenauth {

struct TokenCredential {
  std::string value;
};
struct BasicCredential {
  std::string username;
  std::string password;
};
struct SessionCredential {
  std::string session_id;
  std::string csrf_token;  // May be empty; required for writes.
};
using Credential =
    std::variant<TokenCredential, BasicCredential, SessionCredential>;

// Session IDs and CSRF tokens: this many characters from [0-9A-Za-z]
// (~190 bits from the CSPRNG).
inline constexpr int kSessionSecretLength = 32;

class Authenticator {
 public:
  Authenticator(Store* store, Clock* clock, const TokenFormat* format,
                const PasswordHasher* hasher, AuthPolicy policy);

  // Resolves `credential` and checks it permits `operation` with every scope
  // in `required_scopes`. UNAUTHENTICATED: the credential does not resolve
  // (or the account is locked). PERMISSION_DENIED: it resolves but does not
  // permit this (read-only token, missing scope, missing or wrong CSRF token
  // for a write). UNAVAILABLE: the store is down. Messages never contain the
  // credential.
  absl::StatusOr<AuthResult> Authenticate(
      const Credential& credential, Operation operation,
      absl::Span<const std::string> required_scopes) const;

  const AuthPolicy& policy() const { return policy_; }

 private:
  absl::StatusOr<AuthResult> Resolve(const TokenCredential& credential) const;
  absl::StatusOr<AuthResult> Resolve(const BasicCredential& credential) const;
  absl::StatusOr<AuthResult> Resolve(const SessionCredential& credential) const;

  Store* const store_;
  Clock* const clock_;
  const TokenFormat* const format_;
  const PasswordHasher* const hasher_;
  const AuthPolicy policy_;
};

// True if `s` has the length and alphabet of a session ID or CSRF token.
bool IsWellFormedSessionSecret(absl::string_view s);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_AUTHENTICATOR_H_
