// The one place absl::Status becomes grpc::Status. Codes map one to one,
// except that UNKNOWN and INTERNAL are logged and answered with a generic
// INTERNAL message, so an unexpected error never leaks details.
//
// Every error also carries a serialized google.rpc.Status (same code and
// message) as its binary error details, which gRPC sends in the
// grpc-status-details-bin trailer. Its details hold exactly one
// google.rpc.ErrorInfo (domain "tokenauth"; the reason and metadata attached
// with core/errors.h, or DefaultReason(code)) and, for INVALID_ARGUMENT, one
// google.rpc.BadRequest whose field violations come from the message
// "<field>: <rule>" (see FieldViolationsOf). Thread-safe.
#ifndef TOKENAUTH_SERVER_STATUS_CONVERT_H_
#define TOKENAUTH_SERVER_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

struct FieldViolation {
  std::string field;  // Empty: the request as a whole.
  std::string description;
};

grpc::Status ToGrpcStatus(const absl::Status& status,
                          absl::string_view method = "");

// An error status with its details: an ErrorInfo of `reason` (domain
// kErrorDomain) and `metadata`, and a BadRequest if `violations` is not
// empty. For the few places that build a grpc::Status without an
// absl::Status (the parse-error interceptor); `code` must not be OK.
grpc::Status MakeGrpcStatus(grpc::StatusCode code, absl::string_view message,
                            absl::string_view reason,
                            const std::map<std::string, std::string>& metadata,
                            const std::vector<FieldViolation>& violations);

// Splits an INVALID_ARGUMENT message "<field>: <rule>" into one violation per
// field. The field part is a path of lower_snake_case (or, for settings,
// UPPER_SNAKE_CASE) names joined by '.', each optionally indexed ("[0]"), or
// several such paths separated by ", " (the rule then concerns them
// together). A message that does not start so gives a single violation with
// an empty field and the whole message as its description.
std::vector<FieldViolation> FieldViolationsOf(absl::string_view message);

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_STATUS_CONVERT_H_
