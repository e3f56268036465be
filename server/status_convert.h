// The one place absl::Status becomes grpc::Status. Codes map one to one,
// except that UNKNOWN and INTERNAL are logged and answered with a generic
// INTERNAL message, so an unexpected error never leaks details. Thread-safe.
#ifndef TOKENAUTH_SERVER_STATUS_CONVERT_H_
#define TOKENAUTH_SERVER_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

grpc::Status ToGrpcStatus(const absl::Status& status,
                          absl::string_view method = "");

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_STATUS_CONVERT_H_
