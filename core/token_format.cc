#include "core/token_format.h"

#include <sodium.h>
#include <zlib.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace tokenauth {
namespace {

constexpr char kBase62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool IsBase62(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string Base62Checksum(absl::string_view data, int width) {
  uint64_t crc = crc32(0L, reinterpret_cast<const Bytef*>(data.data()),
                       static_cast<uInt>(data.size()));
  std::string out(width, '0');
  for (int i = width - 1; i >= 0; --i) {
    out[i] = kBase62[crc % 62];
    crc /= 62;
  }
  return out;
}

absl::Status TokenFormat::ValidatePrefix(absl::string_view prefix) {
  bool ok = !prefix.empty() && prefix.size() <= 16;
  for (char c : prefix) {
    ok = ok && (absl::ascii_islower(static_cast<unsigned char>(c)) ||
                absl::ascii_isdigit(static_cast<unsigned char>(c)));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "token prefix: must be 1..16 characters from [a-z0-9]");
  }
  return absl::OkStatus();
}

TokenFormat::TokenFormat(std::string prefix) : prefix_(std::move(prefix)) {
  if (!ValidatePrefix(prefix_).ok()) std::abort();  // Checked by the caller.
}

TokenFormat::NewToken TokenFormat::Generate(Random& random) const {
  NewToken t;
  t.public_id = RandomBase62(random, kIdLength);
  std::string head = absl::StrCat(prefix_, "_", t.public_id,
                                  RandomBase62(random, kSecretLength));
  t.value = absl::StrCat(head, Base62Checksum(head, kChecksumLength));
  t.hint = Hint(t.value, t.public_id);
  return t;
}

absl::StatusOr<std::string> TokenFormat::Parse(absl::string_view value) const {
  const size_t body_length = kIdLength + kSecretLength + kChecksumLength;
  if (value.size() != prefix_.size() + 1 + body_length ||
      value.substr(0, prefix_.size()) != prefix_ ||
      value[prefix_.size()] != '_') {
    return WithReason(absl::UnauthenticatedError(absl::StrCat(
                          "token: not a tokenauth access token (expected \"",
                          prefix_, "_\" and ", body_length, " characters)")),
                      reasons::kTokenMalformed, {{"expected_prefix", prefix_}});
  }
  absl::string_view body = value.substr(prefix_.size() + 1);
  if (!IsBase62(body)) {
    return WithReason(absl::UnauthenticatedError(
                          "token: malformed (characters outside [0-9A-Za-z])"),
                      reasons::kTokenMalformed);
  }
  absl::string_view head = value.substr(0, value.size() - kChecksumLength);
  absl::string_view checksum = value.substr(value.size() - kChecksumLength);
  if (Base62Checksum(head, kChecksumLength) != checksum) {
    return WithReason(
        absl::UnauthenticatedError(
            "token: checksum mismatch (mistyped or not issued by tokenauth)"),
        reasons::kTokenMalformed);
  }
  return std::string(body.substr(0, kIdLength));
}

std::string TokenFormat::Hash(absl::string_view value) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest,
                     reinterpret_cast<const unsigned char*>(value.data()),
                     value.size());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

bool TokenFormat::HashesEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string TokenFormat::Hint(absl::string_view value,
                              absl::string_view id) const {
  return absl::StrCat(prefix_, "_", id, "...",
                      value.substr(value.size() - kHintTailLength));
}

}  // namespace tokenauth
