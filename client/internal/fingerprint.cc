#include "client/internal/fingerprint.h"

#include <sodium.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tokenauth::client::internal {
namespace {

struct Key {
  unsigned char bytes[crypto_generichash_KEYBYTES];
};

const Key& ProcessKey() {
  static const Key* const key = [] {
    if (sodium_init() < 0) std::abort();  // No CSPRNG: nothing is safe.
    auto* k = new Key;
    randombytes_buf(k->bytes, sizeof(k->bytes));
    return k;
  }();
  return *key;
}

// Appends a field so that no two sequences of fields encode the same way.
void Field(std::string* out, absl::string_view value) {
  absl::StrAppend(out, value.size(), ":", value, ";");
}

}  // namespace

std::string Fingerprint(const v1::AuthenticateRequest& request,
                        bool with_request) {
  std::string encoded;
  switch (request.credential_case()) {
    case v1::AuthenticateRequest::kToken:
      Field(&encoded, "token");
      Field(&encoded, request.token());
      break;
    case v1::AuthenticateRequest::kBasic:
      Field(&encoded, "basic");
      Field(&encoded, request.basic().username());
      Field(&encoded, request.basic().password());
      break;
    case v1::AuthenticateRequest::kSession:
      Field(&encoded, "session");
      Field(&encoded, request.session().session_id());
      Field(&encoded, request.session().csrf_token());
      break;
    case v1::AuthenticateRequest::CREDENTIAL_NOT_SET:
      Field(&encoded, "none");
      break;
  }
  if (with_request) {
    Field(&encoded, absl::StrCat(static_cast<int>(request.operation())));
    for (const std::string& scope : request.required_scopes()) {
      Field(&encoded, scope);
    }
  }
  unsigned char digest[32];
  const Key& key = ProcessKey();
  crypto_generichash(digest, sizeof(digest),
                     reinterpret_cast<const unsigned char*>(encoded.data()),
                     encoded.size(), key.bytes, sizeof(key.bytes));
  sodium_memzero(encoded.data(), encoded.size());
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

}  // namespace tokenauth::client::internal
