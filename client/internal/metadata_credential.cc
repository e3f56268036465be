#include "client/internal/metadata_credential.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/metadata_credentials.h"

namespace tokenauth::client::internal {
namespace {

absl::string_view View(const grpc::string_ref& s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace

bool HasCredentialHeaders(const Metadata& metadata) {
  for (const auto& [key, value] : metadata) {
    absl::string_view k = View(key);
    if (absl::EqualsIgnoreCase(k, "authorization") ||
        absl::EqualsIgnoreCase(k, "x-session-id") ||
        absl::EqualsIgnoreCase(k, "x-csrf-token")) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<v1::AuthenticateRequest> CredentialFromMetadata(
    const Metadata& metadata) {
  // The server's own parser (core/metadata_credentials.h), so a backend
  // reads its callers' credentials by exactly the rules tokenauth does.
  std::vector<std::pair<absl::string_view, absl::string_view>> pairs;
  pairs.reserve(metadata.size());
  for (const auto& [key, value] : metadata) {
    pairs.emplace_back(View(key), View(value));
  }
  absl::StatusOr<Credential> credential =
      tokenauth::CredentialFromMetadata(pairs);
  if (!credential.ok()) return credential.status();
  v1::AuthenticateRequest request;
  if (const auto* token = std::get_if<TokenCredential>(&*credential)) {
    request.set_token(token->value);
  } else if (const auto* basic = std::get_if<BasicCredential>(&*credential)) {
    request.mutable_basic()->set_username(basic->username);
    request.mutable_basic()->set_password(basic->password);
  } else {
    const auto& session = std::get<SessionCredential>(*credential);
    request.mutable_session()->set_session_id(session.session_id);
    if (!session.csrf_token.empty()) {
      request.mutable_session()->set_csrf_token(session.csrf_token);
    }
  }
  return request;
}

}  // namespace tokenauth::client::internal
