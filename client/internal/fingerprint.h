// Internal to the client library (not installed). A keyed hash of the
// credential in an AuthenticateRequest, used as the key of the Validator's
// cache and of the principal registry so that neither ever holds a
// credential. The key is random per process, so fingerprints mean nothing
// outside it. Thread-safe.
#ifndef TOKENAUTH_CLIENT_INTERNAL_FINGERPRINT_H_
#define TOKENAUTH_CLIENT_INTERNAL_FINGERPRINT_H_

#include <string>

#include "tokenauth/v1/auth_service.pb.h"

namespace tokenauth::client::internal {

// 32 bytes (BLAKE2b, keyed) over the credential and, if `with_request`, the
// operation and the required scopes in the order given. Two requests get the
// same fingerprint only if those fields are equal.
std::string Fingerprint(const v1::AuthenticateRequest& request,
                        bool with_request);

}  // namespace tokenauth::client::internal

#endif  // TOKENAUTH_CLIENT_INTERNAL_FINGERPRINT_H_
