// PasswordHasher: Argon2id password hashes via libsodium's crypto_pwhash_str.
// The cost is fixed at construction. Hashing is deliberately slow (tens of
// milliseconds at the interactive cost). Immutable; thread-safe.
#ifndef TOKENAUTH_CORE_PASSWORD_HASHER_H_
#define TOKENAUTH_CORE_PASSWORD_HASHER_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

struct PasswordHashCost {
  unsigned long long opslimit;
  size_t memlimit;

  // libsodium's INTERACTIVE limits (2 passes, 64 MiB): the default.
  static PasswordHashCost Interactive();
  // libsodium's MODERATE limits (3 passes, 256 MiB).
  static PasswordHashCost Moderate();
  // The smallest cost libsodium accepts. For tests only: never in production.
  static PasswordHashCost Minimum();
  // "interactive", "moderate" or "minimum".
  static absl::StatusOr<PasswordHashCost> FromName(absl::string_view name);
};

class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordHashCost cost);

  // RESOURCE_EXHAUSTED if libsodium cannot get the memory.
  absl::StatusOr<std::string> Hash(absl::string_view password) const;
  // True iff `password` matches `hash`. False for a malformed hash.
  bool Verify(absl::string_view hash, absl::string_view password) const;
  // Spends the time of one Verify, for callers that have no hash to check
  // (unknown user), so that timing does not tell whether a user exists.
  void VerifyDummy(absl::string_view password) const;

 private:
  PasswordHashCost cost_;
  std::string dummy_hash_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_PASSWORD_HASHER_H_
