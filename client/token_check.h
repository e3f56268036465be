// CheckTokenFormat: the local half of validating a Personal Access Token.
// A value whose prefix, length, alphabet or CRC32 checksum is wrong cannot be
// a token the server issued, so a backend can refuse it without an RPC. The
// rules are the server's own (core/token_format.h; the code is shared):
//
//   <prefix>_<12-char id><22-char secret><6-char base62 CRC32 checksum>
//
// A well-formed value is not necessarily valid (it may be unknown, revoked or
// expired): only AuthService.Authenticate can tell.
//
// Stateless; thread-safe.
#ifndef TOKENAUTH_CLIENT_TOKEN_CHECK_H_
#define TOKENAUTH_CLIENT_TOKEN_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokenauth::client {

// The server's default prefix (its TOKENAUTH_TOKEN_PREFIX setting).
inline constexpr char kDefaultTokenPrefix[] = "tka";

// OK if `token` is well formed for `prefix`. UNAUTHENTICATED (the code the
// server would answer) if not, with a message that never contains the value;
// INVALID_ARGUMENT if `prefix` itself is not 1..16 characters of [a-z0-9].
absl::Status CheckTokenFormat(absl::string_view token,
                              absl::string_view prefix = kDefaultTokenPrefix);

// The non-secret id of a well-formed token (what listings and GetToken call
// Token.id), or CheckTokenFormat's error.
absl::StatusOr<std::string> TokenIdOf(
    absl::string_view token, absl::string_view prefix = kDefaultTokenPrefix);

}  // namespace tokenauth::client

#endif  // TOKENAUTH_CLIENT_TOKEN_CHECK_H_
