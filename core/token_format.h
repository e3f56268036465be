// TokenFormat: makes and checks Personal Access Token values.
//
//   <prefix>_<id><secret><checksum>
//
// prefix   fixed, configurable ([a-z0-9]{1,16}), so secret scanners find leaks
// id       12 base62 characters (~71 bits), non-secret, used for lookup/display
// secret   22 base62 characters (~131 bits from the CSPRNG)
// checksum CRC32 of everything before it, as 6 base62 characters
//
// A value whose prefix, length, alphabet or checksum is wrong is refused by
// Parse without touching storage. Only the SHA-256 of a value is stored.
// Immutable after construction; thread-safe.
#ifndef TOKENAUTH_CORE_TOKEN_FORMAT_H_
#define TOKENAUTH_CORE_TOKEN_FORMAT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/random.h"

namespace tokenauth {

class TokenFormat {
 public:
  static constexpr int kIdLength = 12;
  static constexpr int kSecretLength = 22;
  static constexpr int kChecksumLength = 6;
  static constexpr int kHintTailLength = 4;

  // INVALID_ARGUMENT unless prefix matches [a-z0-9]{1,16}.
  static absl::Status ValidatePrefix(absl::string_view prefix);

  explicit TokenFormat(std::string prefix);

  struct NewToken {
    std::string value;  // Secret: return to the caller once, never log.
    std::string public_id;
    std::string hint;
  };
  NewToken Generate(Random& random) const;

  // Returns the public id of a well-formed value, or UNAUTHENTICATED with a
  // message that never contains the value.
  absl::StatusOr<std::string> Parse(absl::string_view value) const;

  // Lower-case hex SHA-256 of a value.
  static std::string Hash(absl::string_view value);
  // Constant-time comparison of two hashes as returned by Hash().
  static bool HashesEqual(absl::string_view a, absl::string_view b);

  const std::string& prefix() const { return prefix_; }

 private:
  std::string Hint(absl::string_view value, absl::string_view id) const;

  std::string prefix_;
};

// The CRC32 (zlib polynomial) of `data` as `width` base62 digits.
std::string Base62Checksum(absl::string_view data, int width);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_TOKEN_FORMAT_H_
