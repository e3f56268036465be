// Input rules for names, usernames, passwords and scopes. Each check returns
// INVALID_ARGUMENT with a message "<field>: <rule>" that never contains the
// offending value when it could be a secret. Stateless; thread-safe.
#ifndef TOKENAUTH_CORE_VALIDATION_H_
#define TOKENAUTH_CORE_VALIDATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

inline constexpr size_t kMaxTokenNameBytes = 255;
inline constexpr size_t kMaxUsernameLength = 64;
inline constexpr size_t kMinPasswordBytes = 8;
inline constexpr size_t kMaxPasswordBytes = 1024;
inline constexpr size_t kMaxScopes = 32;
inline constexpr size_t kMaxScopeLength = 64;

// Well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool IsValidUtf8(absl::string_view s);

// True if `s` (valid UTF-8) holds C0 or C1 control characters, DEL, or
// bidirectional embedding/override/isolate characters.
bool HasControlCharacters(absl::string_view s);

// 1..255 bytes of valid UTF-8 without control characters.
absl::Status ValidateTokenName(absl::string_view field, absl::string_view name);
// 1..64 characters from [A-Za-z0-9._@-].
absl::Status ValidateUsername(absl::string_view field,
                              absl::string_view username);
// 8..1024 bytes.
absl::Status ValidatePassword(absl::string_view field,
                              absl::string_view password);
// Each scope matches [a-z0-9][a-z0-9:._-]{0,63}, no duplicates, at most 32;
// when `catalogue` is not empty, each scope must be in it.
absl::Status ValidateScopes(absl::string_view field,
                            const std::vector<std::string>& scopes,
                            const std::vector<std::string>& catalogue);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_VALIDATION_H_
