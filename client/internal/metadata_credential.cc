#include "client/internal/metadata_credential.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tokenauth::client::internal {
namespace {

constexpr absl::string_view kHowTo =
    "send \"authorization: Bearer <token>\", \"authorization: Basic "
    "<base64(username:password)>\", or \"x-session-id: <session ID>\" "
    "(with \"x-csrf-token: <CSRF token>\" for writes)";

absl::string_view View(const grpc::string_ref& s) {
  return absl::string_view(s.data(), s.size());
}

absl::Status Unauthenticated(absl::string_view what) {
  return absl::UnauthenticatedError(absl::StrCat("authorization: ", what));
}

absl::Status ParseAuthorization(absl::string_view value,
                                v1::AuthenticateRequest* request) {
  value = absl::StripAsciiWhitespace(value);
  const size_t space = value.find(' ');
  if (space == absl::string_view::npos) {
    return Unauthenticated(absl::StrCat("no scheme; ", kHowTo));
  }
  absl::string_view scheme = value.substr(0, space);
  absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(value.substr(space));
  if (rest.empty()) return Unauthenticated("empty credential after the scheme");
  if (absl::EqualsIgnoreCase(scheme, "Bearer")) {
    request->set_token(std::string(rest));
    return absl::OkStatus();
  }
  if (absl::EqualsIgnoreCase(scheme, "Basic")) {
    std::string decoded;
    if (!absl::Base64Unescape(rest, &decoded)) {
      return Unauthenticated("Basic credential is not valid base64");
    }
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos) {
      return Unauthenticated(
          "Basic credential has no ':' between username and password");
    }
    request->mutable_basic()->set_username(decoded.substr(0, colon));
    request->mutable_basic()->set_password(decoded.substr(colon + 1));
    return absl::OkStatus();
  }
  return Unauthenticated(
      absl::StrCat("unsupported scheme (only Bearer and Basic); ", kHowTo));
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
  std::optional<absl::string_view> authorization;
  std::optional<absl::string_view> session_id;
  std::optional<absl::string_view> csrf_token;
  for (const auto& [key_ref, value_ref] : metadata) {
    absl::string_view key = View(key_ref);
    std::optional<absl::string_view>* slot = nullptr;
    if (absl::EqualsIgnoreCase(key, "authorization")) {
      slot = &authorization;
    } else if (absl::EqualsIgnoreCase(key, "x-session-id")) {
      slot = &session_id;
    } else if (absl::EqualsIgnoreCase(key, "x-csrf-token")) {
      slot = &csrf_token;
    } else {
      continue;
    }
    if (slot->has_value()) {
      return absl::UnauthenticatedError(
          absl::StrCat(key, ": sent more than once; send one credential"));
    }
    if (value_ref.size() > kMaxCredentialHeaderBytes) {
      return absl::UnauthenticatedError(
          absl::StrCat(key, ": header larger than 8 KiB"));
    }
    *slot = View(value_ref);
  }
  if (authorization.has_value() &&
      (session_id.has_value() || csrf_token.has_value())) {
    return absl::UnauthenticatedError(
        "authorization, x-session-id: two credentials at once; send either "
        "an authorization header or a session, not both");
  }
  v1::AuthenticateRequest request;
  if (authorization.has_value()) {
    if (absl::Status status = ParseAuthorization(*authorization, &request);
        !status.ok()) {
      return status;
    }
    return request;
  }
  if (session_id.has_value()) {
    request.mutable_session()->set_session_id(
        std::string(absl::StripAsciiWhitespace(*session_id)));
    if (csrf_token.has_value()) {
      request.mutable_session()->set_csrf_token(
          std::string(absl::StripAsciiWhitespace(*csrf_token)));
    }
    return request;
  }
  if (csrf_token.has_value()) {
    return absl::UnauthenticatedError(
        "x-csrf-token: sent without x-session-id; a CSRF token only goes "
        "with its session");
  }
  return absl::UnauthenticatedError(
      absl::StrCat("authorization: missing; ", kHowTo));
}

}  // namespace tokenauth::client::internal
