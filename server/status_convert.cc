#include "server/status_convert.h"

#include "server/log.h"

namespace tokenauth {

grpc::Status ToGrpcStatus(const absl::Status& status,
                          absl::string_view method) {
  if (status.ok()) return grpc::Status::OK;
  if (status.code() == absl::StatusCode::kInternal ||
      status.code() == absl::StatusCode::kUnknown) {
    LogError(method, ": internal error: ", status.message());
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "internal error; the server log has the details");
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace tokenauth
