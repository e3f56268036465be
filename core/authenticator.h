// Authenticator: resolves a credential (a Personal Access Token, or a
// username and password) to a principal and checks it allows an operation.
// It is the one path every caller goes through: AuthService.Authenticate for
// backends, and the metadata of every management RPC.
//
// A malformed token is refused before any Store call. Does not own its
// dependencies; they must outlive it. Thread-safe.
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
using Credential = std::variant<TokenCredential, BasicCredential>;

class Authenticator {
 public:
  Authenticator(Store* store, Clock* clock, const TokenFormat* format,
                const PasswordHasher* hasher, TokenPolicy policy);

  // Resolves `credential` and checks it permits `operation` with every scope
  // in `required_scopes`. UNAUTHENTICATED: the credential does not resolve.
  // PERMISSION_DENIED: it resolves but does not permit this. UNAVAILABLE: the
  // store is down. Messages never contain the credential.
  absl::StatusOr<AuthResult> Authenticate(
      const Credential& credential, Operation operation,
      absl::Span<const std::string> required_scopes) const;

 private:
  absl::StatusOr<AuthResult> Resolve(const TokenCredential& credential) const;
  absl::StatusOr<AuthResult> Resolve(const BasicCredential& credential) const;

  Store* const store_;
  Clock* const clock_;
  const TokenFormat* const format_;
  const PasswordHasher* const hasher_;
  const TokenPolicy policy_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_AUTHENTICATOR_H_
