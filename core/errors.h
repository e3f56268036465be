// Machine-readable reasons on errors. A status the caller could act on
// carries, besides its code and message, a reason in UPPER_SNAKE_CASE and a
// few non-secret facts (metadata), stored as an absl::Status payload under
// kErrorReasonTypeUrl. The RPC layer sends them as a google.rpc.ErrorInfo with
// domain kErrorDomain (server/status_convert.h); a status without a reason
// gets DefaultReason(code) there. docs/API.md, "Error details", lists every
// reason; add a row there when you add one here.
//
//   return WithReason(absl::ResourceExhaustedError("tokens: ..."),
//                     reasons::kTokenLimitReached,
//                     {{"limit", absl::StrCat(limit)}});
//
// Metadata keys match [a-z0-9_]+ and name their unit when they have one
// ("lockout_period_seconds"); values are plain text and never a secret.
// Reasons survive copies and RETURN_IF_ERROR; a status built anew from another
// one's message loses it unless copied (WithReason(s, ErrorReasonOf(t))).
//
// Free functions over values; no state; thread-safe.
#ifndef TOKENAUTH_CORE_ERRORS_H_
#define TOKENAUTH_CORE_ERRORS_H_

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

// ErrorInfo.domain of every reason below.
inline constexpr char kErrorDomain[] = "tokenauth";
// The absl::Status payload holding a reason; only core/errors.cc reads it.
inline constexpr char kErrorReasonTypeUrl[] = "tokenauth/error-info";

namespace reasons {
// UNAUTHENTICATED: the presented credential.
inline constexpr char kTokenMalformed[] = "TOKEN_MALFORMED";
inline constexpr char kTokenUnknown[] = "TOKEN_UNKNOWN";
inline constexpr char kTokenRevoked[] = "TOKEN_REVOKED";
inline constexpr char kTokenExpired[] = "TOKEN_EXPIRED";
inline constexpr char kTokenStale[] = "TOKEN_STALE";
inline constexpr char kTokenReused[] = "TOKEN_REUSED";  // Also NOT_FOUND.
inline constexpr char kSessionMalformed[] = "SESSION_MALFORMED";
inline constexpr char kSessionUnknown[] = "SESSION_UNKNOWN";
inline constexpr char kSessionEnded[] = "SESSION_ENDED";
inline constexpr char kSessionExpired[] = "SESSION_EXPIRED";
inline constexpr char kWrongCredentials[] = "WRONG_CREDENTIALS";
inline constexpr char kAccountLocked[] = "ACCOUNT_LOCKED";
inline constexpr char kAccountDisabled[] = "ACCOUNT_DISABLED";
inline constexpr char kCredentialMissing[] = "CREDENTIAL_MISSING";
inline constexpr char kCredentialMalformed[] = "CREDENTIAL_MALFORMED";
// PERMISSION_DENIED: valid credential, not allowed.
inline constexpr char kTokenReadOnly[] = "TOKEN_READ_ONLY";
inline constexpr char kScopeMissing[] = "SCOPE_MISSING";
inline constexpr char kCsrfMissing[] = "CSRF_MISSING";
inline constexpr char kCsrfMismatch[] = "CSRF_MISMATCH";
inline constexpr char kTokenCallerNotAllowed[] = "TOKEN_CALLER_NOT_ALLOWED";
inline constexpr char kAdminRequired[] = "ADMIN_REQUIRED";
// NOT_FOUND, ALREADY_EXISTS, RESOURCE_EXHAUSTED, FAILED_PRECONDITION.
inline constexpr char kTokenNotFound[] = "TOKEN_NOT_FOUND";
inline constexpr char kUserNotFound[] = "USER_NOT_FOUND";
inline constexpr char kSessionNotFound[] = "SESSION_NOT_FOUND";
inline constexpr char kUsernameTaken[] = "USERNAME_TAKEN";
inline constexpr char kRequestIdReused[] = "REQUEST_ID_REUSED";
inline constexpr char kTokenLimitReached[] = "TOKEN_LIMIT_REACHED";
inline constexpr char kTokenUnusable[] = "TOKEN_UNUSABLE";
inline constexpr char kSessionRequired[] = "SESSION_REQUIRED";
inline constexpr char kCannotDisableSelf[] = "CANNOT_DISABLE_SELF";
// INVALID_ARGUMENT, more specific than the default.
inline constexpr char kExpirationRequired[] = "EXPIRATION_REQUIRED";
inline constexpr char kLifetimeTooLong[] = "LIFETIME_TOO_LONG";
inline constexpr char kRequestMalformed[] = "REQUEST_MALFORMED";
// UNAVAILABLE: the default for that code (the Store's), and the server
// refusing work it has no room to queue.
inline constexpr char kDatabaseUnavailable[] = "DATABASE_UNAVAILABLE";
inline constexpr char kServerBusy[] = "SERVER_BUSY";
}  // namespace reasons

struct ErrorReason {
  std::string reason;
  std::map<std::string, std::string> metadata;
};

// `status` with `reason` and `metadata` attached, replacing any reason it
// had. An OK status is returned unchanged.
absl::Status WithReason(
    absl::Status status, absl::string_view reason,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>>
        metadata = {});
absl::Status WithReason(absl::Status status, const ErrorReason& reason);

// The reason attached to `status`, if any.
std::optional<ErrorReason> ErrorReasonOf(const absl::Status& status);
// Its name only; empty if none is attached.
std::string ReasonOf(const absl::Status& status);

// The reason for a status that carries none: the code's name
// ("INVALID_ARGUMENT", "NOT_FOUND", ...), except DATABASE_UNAVAILABLE for
// UNAVAILABLE, which only the Store returns (core/store.h).
std::string DefaultReason(absl::StatusCode code);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_ERRORS_H_
