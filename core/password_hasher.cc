#include "core/password_hasher.h"

#include <sodium.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace tokenauth {

PasswordHashCost PasswordHashCost::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE,
          crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
PasswordHashCost PasswordHashCost::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
PasswordHashCost PasswordHashCost::Minimum() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

absl::StatusOr<PasswordHashCost> PasswordHashCost::FromName(
    absl::string_view name) {
  if (name == "interactive") return Interactive();
  if (name == "moderate") return Moderate();
  if (name == "minimum") return Minimum();
  return absl::InvalidArgumentError(absl::StrCat(
      "password hash cost: must be interactive, moderate or minimum; got \"",
      name, "\""));
}

PasswordHasher::PasswordHasher(PasswordHashCost cost) : cost_(cost) {
  if (sodium_init() < 0) std::abort();
  auto dummy = Hash("tokenauth dummy password for timing");
  if (!dummy.ok()) std::abort();  // Cannot hash at all: nothing would work.
  dummy_hash_ = *std::move(dummy);
}

absl::StatusOr<std::string> PasswordHasher::Hash(
    absl::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            cost_.opslimit, cost_.memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError(
        "password hashing: out of memory for Argon2id");
  }
  return std::string(out);
}

bool PasswordHasher::Verify(absl::string_view hash,
                            absl::string_view password) const {
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  char buf[crypto_pwhash_STRBYTES] = {};
  hash.copy(buf, hash.size());
  return crypto_pwhash_str_verify(buf, password.data(), password.size()) == 0;
}

void PasswordHasher::VerifyDummy(absl::string_view password) const {
  (void)Verify(dummy_hash_, password);
}

}  // namespace tokenauth
