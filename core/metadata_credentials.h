// Reads the caller's credential from gRPC request metadata:
//   authorization: Bearer <token>
//   authorization: Basic <base64(username:password)>
//   x-session-id: <session ID>   (+ x-csrf-token: <CSRF token> for writes)
// The scheme is case-insensitive; the password may contain ':'. Exactly one
// credential: a header sent twice, or authorization with a session, or a
// header over 8 KiB is refused. Anything
// else is UNAUTHENTICATED with a message saying what is wrong and never
// containing the credential. Stateless; thread-safe.
#ifndef TOKENAUTH_CORE_METADATA_CREDENTIALS_H_
#define TOKENAUTH_CORE_METADATA_CREDENTIALS_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/authenticator.h"

namespace tokenauth {

inline constexpr size_t kMaxCredentialHeaderBytes = 8192;

// Parses the value of one `authorization` header.
absl::StatusOr<Credential> ParseAuthorizationHeader(absl::string_view value);

// Finds and parses the credential among all request metadata (key, value).
absl::StatusOr<Credential> CredentialFromMetadata(
    const std::vector<std::pair<absl::string_view, absl::string_view>>&
        metadata);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_METADATA_CREDENTIALS_H_
