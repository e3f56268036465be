// RPC metrics: per method, a request counter by final status code
// (tokenauth_rpc_requests_total{method,code}) and a latency histogram
// (tokenauth_rpc_duration_seconds{method}), recorded by a gRPC server
// interceptor.
//
// The series are created up front for every method of the services named at
// construction (from the generated descriptors), plus method="other" for any
// path that is not one of them, so the label values are bounded whatever
// clients send. Per call the interceptor does one lookup in an immutable hash
// map, reads a monotonic clock twice and adds to three atomics: no lock. The
// one allocation per call is the interceptor object itself, which gRPC's
// interceptor API makes and deletes (plus, for a failed call, gRPC's copy of
// the status message when the status is read).
//
// `method` is the gRPC path ("/tokenauth.v1.AuthService/Authenticate");
// `code` the canonical name ("OK", "UNAUTHENTICATED"). A counter appears once
// its code has been seen; code="OK" is always shown. The status recorded is
// the one sent, after every interceptor registered before this one (so put
// this factory last); a call that ends without sending a status (the client
// went away first) counts as CANCELLED.
//
// Ownership: RpcMetrics borrows the registry, which must outlive it; the
// factory borrows RpcMetrics, which must outlive the grpc::Server.
// Thread-safety: thread-safe after construction.
#ifndef TOKENAUTH_SERVER_RPC_METRICS_H_
#define TOKENAUTH_SERVER_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "server/metrics.h"

namespace tokenauth {

class RpcMetrics {
 public:
  static constexpr int kCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED

  struct Method {
    std::array<metrics::Counter*, kCodes> requests{};  // By status code.
    metrics::Histogram* duration = nullptr;
  };

  // `services`: full service names ("tokenauth.v1.AuthService"); each must be
  // in the generated descriptor pool (a programming error aborts).
  RpcMetrics(metrics::Registry* registry,
             const std::vector<std::string>& services);
  RpcMetrics(const RpcMetrics&) = delete;
  RpcMetrics& operator=(const RpcMetrics&) = delete;

  // The series of `path` ("/pkg.Service/Method"), or of method="other".
  const Method* Find(absl::string_view path) const;

  // Records one finished call.
  static void Record(const Method* method, int code, absl::Duration elapsed);

 private:
  Method* AddMethod(metrics::Registry* registry, const std::string& label);

  std::vector<std::unique_ptr<Method>> methods_;
  absl::flat_hash_map<std::string, const Method*> by_path_;
  const Method* other_ = nullptr;
};

class RpcMetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(const RpcMetrics* metrics)
      : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const RpcMetrics* const metrics_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_RPC_METRICS_H_
