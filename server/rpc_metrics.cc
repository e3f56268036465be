#include "server/rpc_metrics.h"

#include <google/protobuf/descriptor.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tokenauth {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RpcMetricsInterceptor(const RpcMetrics::Method* method)
      : method_(method), start_(std::chrono::steady_clock::now()) {}

  ~RpcMetricsInterceptor() override {
    if (!recorded_) Finish(static_cast<int>(grpc::StatusCode::CANCELLED));
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!recorded_ && methods->QueryInterceptionHookPoint(
                          InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(static_cast<int>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  void Finish(int code) {
    recorded_ = true;
    RpcMetrics::Record(
        method_, code,
        absl::FromChrono(std::chrono::steady_clock::now() - start_));
  }

  const RpcMetrics::Method* const method_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

}  // namespace

RpcMetrics::RpcMetrics(metrics::Registry* registry,
                       const std::vector<std::string>& services) {
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(name);
    if (service == nullptr) {
      std::cerr << "metrics: no descriptor for service " << name << std::endl;
      std::abort();
    }
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string path =
          absl::StrCat("/", name, "/", service->method(i)->name());
      by_path_[path] = AddMethod(registry, path);
    }
  }
  other_ = AddMethod(registry, "other");
}

RpcMetrics::Method* RpcMetrics::AddMethod(metrics::Registry* registry,
                                          const std::string& label) {
  auto method = std::make_unique<Method>();
  for (int code = 0; code < kCodes; ++code) {
    method->requests[code] = registry->AddCounter(
        "tokenauth_rpc_requests_total",
        "RPCs finished, by method and status code.",
        {{"method", label},
         {"code",
          absl::StatusCodeToString(static_cast<absl::StatusCode>(code))}},
        /*hide_while_zero=*/code != 0);
  }
  method->duration = registry->AddHistogram(
      "tokenauth_rpc_duration_seconds",
      "Time from the start of an RPC to its status being sent.",
      {{"method", label}});
  methods_.push_back(std::move(method));
  return methods_.back().get();
}

const RpcMetrics::Method* RpcMetrics::Find(absl::string_view path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? other_ : it->second;
}

void RpcMetrics::Record(const Method* method, int code,
                        absl::Duration elapsed) {
  if (code < 0 || code >= kCodes)
    code = static_cast<int>(absl::StatusCode::kUnknown);
  method->requests[code]->Increment();
  method->duration->Observe(elapsed);
}

grpc::experimental::Interceptor*
RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcMetricsInterceptor(
      metrics_->Find(info->method() != nullptr ? info->method() : ""));
}

}  // namespace tokenauth
