#include "core/metadata_credentials.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace tokenauth {
namespace {

constexpr absl::string_view kHowTo =
    "send \"authorization: Bearer <token>\", \"authorization: Basic "
    "<base64(username:password)>\", or \"x-session-id: <session ID>\" "
    "(with \"x-csrf-token: <CSRF token>\" for writes)";

// A credential header the server cannot read.
absl::Status Malformed(absl::Status status, absl::string_view header) {
  return WithReason(std::move(status), reasons::kCredentialMalformed,
                    {{"header", header}});
}

absl::Status Unauthenticated(absl::string_view what) {
  return Malformed(
      absl::UnauthenticatedError(absl::StrCat("authorization: ", what)),
      "authorization");
}

}  // namespace

absl::StatusOr<Credential> ParseAuthorizationHeader(absl::string_view value) {
  if (value.size() > kMaxCredentialHeaderBytes) {
    return Unauthenticated("header larger than 8 KiB");
  }
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
    return TokenCredential{std::string(rest)};
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
    return BasicCredential{decoded.substr(0, colon), decoded.substr(colon + 1)};
  }
  return Unauthenticated(
      absl::StrCat("unsupported scheme (only Bearer and Basic); ", kHowTo));
}

absl::StatusOr<Credential> CredentialFromMetadata(
    const std::vector<std::pair<absl::string_view, absl::string_view>>&
        metadata) {
  const absl::string_view* authorization = nullptr;
  const absl::string_view* session_id = nullptr;
  const absl::string_view* csrf_token = nullptr;
  for (const auto& [key, value] : metadata) {
    const absl::string_view** slot = nullptr;
    if (absl::EqualsIgnoreCase(key, "authorization")) {
      slot = &authorization;
    } else if (absl::EqualsIgnoreCase(key, "x-session-id")) {
      slot = &session_id;
    } else if (absl::EqualsIgnoreCase(key, "x-csrf-token")) {
      slot = &csrf_token;
    } else {
      continue;
    }
    if (*slot != nullptr) {
      return Malformed(absl::UnauthenticatedError(absl::StrCat(
                           key, ": sent more than once; send one credential")),
                       absl::AsciiStrToLower(key));
    }
    if (value.size() > kMaxCredentialHeaderBytes) {
      return Malformed(absl::UnauthenticatedError(
                           absl::StrCat(key, ": header larger than 8 KiB")),
                       absl::AsciiStrToLower(key));
    }
    *slot = &value;
  }
  if (authorization != nullptr &&
      (session_id != nullptr || csrf_token != nullptr)) {
    return Malformed(
        absl::UnauthenticatedError(
            "authorization, x-session-id: two credentials at once; send "
            "either an authorization header or a session, not both"),
        "authorization,x-session-id");
  }
  if (authorization != nullptr) return ParseAuthorizationHeader(*authorization);
  if (session_id != nullptr) {
    return SessionCredential{
        std::string(absl::StripAsciiWhitespace(*session_id)),
        csrf_token == nullptr
            ? std::string()
            : std::string(absl::StripAsciiWhitespace(*csrf_token))};
  }
  if (csrf_token != nullptr) {
    return Malformed(absl::UnauthenticatedError(
                         "x-csrf-token: sent without x-session-id; a CSRF "
                         "token only goes with its session"),
                     "x-csrf-token");
  }
  return WithReason(absl::UnauthenticatedError(
                        absl::StrCat("authorization: missing; ", kHowTo)),
                    reasons::kCredentialMissing);
}

}  // namespace tokenauth
