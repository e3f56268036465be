// Internal to the client library (not installed). Reads the credential a
// caller presented in gRPC request metadata, with the server's rules
// (core/metadata_credentials.h):
//   authorization: Bearer <token> | Basic <base64(username:password)>
//   x-session-id: <session ID>    (+ x-csrf-token: <CSRF token> for writes)
// The scheme is case-insensitive; the password may contain ':'. Exactly one
// credential: a header sent twice, authorization together with a session,
// a CSRF token without a session, or a header over 8 KiB is refused.
// Messages never contain the credential. Stateless; thread-safe.
#ifndef TOKENAUTH_CLIENT_INTERNAL_METADATA_CREDENTIAL_H_
#define TOKENAUTH_CLIENT_INTERNAL_METADATA_CREDENTIAL_H_

#include <grpcpp/support/string_ref.h>

#include <cstddef>
#include <map>

#include "absl/status/statusor.h"
#include "tokenauth/v1/auth_service.pb.h"

namespace tokenauth::client::internal {

using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

// True if any of authorization, x-session-id, x-csrf-token is present.
bool HasCredentialHeaders(const Metadata& metadata);

// A request with only its credential set (token, basic or session), or
// UNAUTHENTICATED saying what is wrong (also when there is none).
absl::StatusOr<v1::AuthenticateRequest> CredentialFromMetadata(
    const Metadata& metadata);

}  // namespace tokenauth::client::internal

#endif  // TOKENAUTH_CLIENT_INTERNAL_METADATA_CREDENTIAL_H_
