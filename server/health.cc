#include "server/health.h"

#include "server/log.h"
#include "server/status_convert.h"

namespace tokenauth {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthServiceImpl::HealthServiceImpl(std::set<std::string> services)
    : services_(std::move(services)) {}

void HealthServiceImpl::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  serving_ = serving;
}

void HealthServiceImpl::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

HealthCheckResponse::ServingStatus HealthServiceImpl::Current() const {
  absl::MutexLock lock(&mu_);
  return serving_ && !shutdown_ ? HealthCheckResponse::SERVING
                                : HealthCheckResponse::NOT_SERVING;
}

grpc::ServerUnaryReactor* HealthServiceImpl::Check(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!request->service().empty() && !services_.count(request->service())) {
    reactor->Finish(
        ToGrpcStatus(absl::NotFoundError("service: unknown to this server"),
                     "/grpc.health.v1.Health/Check"));
    return reactor;
  }
  response->set_status(Current());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::Status HealthServiceImpl::Watch(
    grpc::ServerContext* context, const HealthCheckRequest* request,
    grpc::ServerWriter<HealthCheckResponse>* writer) {
  const bool known =
      request->service().empty() || services_.count(request->service()) > 0;
  HealthCheckResponse response;
  bool first = true;
  while (!context->IsCancelled()) {
    auto status = known ? Current() : HealthCheckResponse::SERVICE_UNKNOWN;
    if (first || status != response.status()) {
      response.set_status(status);
      if (!writer->Write(response)) break;
      first = false;
    }
    absl::MutexLock lock(&mu_);
    if (shutdown_) break;
    // Wake on shutdown, otherwise poll for changes.
    mu_.AwaitWithTimeout(absl::Condition(&shutdown_), absl::Milliseconds(200));
    if (shutdown_) break;
  }
  return grpc::Status::OK;
}

DatabaseMonitor::DatabaseMonitor(Store* store, HealthServiceImpl* health,
                                 absl::Duration interval)
    : store_(store), health_(health), interval_(interval) {
  CheckNow();
  thread_ = std::thread([this] { Run(); });
}

DatabaseMonitor::~DatabaseMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

bool DatabaseMonitor::CheckNow() {
  absl::Status status = store_->Ping();
  health_->SetServing(status.ok());
  absl::MutexLock lock(&mu_);
  if (!reported_ || status.ok() != last_ok_) {
    if (status.ok()) {
      LogInfo("database: reachable; health SERVING");
    } else {
      LogWarning("database: unreachable (", status.message(),
                 "); health NOT_SERVING");
    }
  }
  reported_ = true;
  last_ok_ = status.ok();
  return status.ok();
}

bool DatabaseMonitor::database_up() const {
  absl::MutexLock lock(&mu_);
  return last_ok_;
}

void DatabaseMonitor::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_);
      if (stop_) return;
    }
    CheckNow();
  }
}

}  // namespace tokenauth
