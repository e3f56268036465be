// Internal to the client library (not installed). The process-wide record of
// who the callers that passed an AuthProcessor are: credential fingerprint
// (client/internal/fingerprint.h) -> Principal, for kPrincipalTtl, at most
// kMaxPrincipals entries. AuthProcessor::Process writes it,
// PrincipalFromContext reads it. Never holds a credential. Thread-safe.
#ifndef TOKENAUTH_CLIENT_INTERNAL_PRINCIPAL_REGISTRY_H_
#define TOKENAUTH_CLIENT_INTERNAL_PRINCIPAL_REGISTRY_H_

#include <cstddef>

#include "absl/time/time.h"
#include "client/internal/expiring_map.h"
#include "tokenauth/client/auth_processor.h"

namespace tokenauth::client::internal {

// Long enough for any call to get from the processor to its handler.
inline constexpr absl::Duration kPrincipalTtl = absl::Minutes(5);
inline constexpr size_t kMaxPrincipals = 65536;

ExpiringMap<Principal>& PrincipalRegistry();

}  // namespace tokenauth::client::internal

#endif  // TOKENAUTH_CLIENT_INTERNAL_PRINCIPAL_REGISTRY_H_
