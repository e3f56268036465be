// The standard grpc.health.v1.Health service, served from the generated
// proto (so that server reflection can describe it), and a monitor that
// makes it follow the database: SERVING while the store answers a ping,
// NOT_SERVING while it does not. Thread-safe.
#ifndef TOKENAUTH_SERVER_HEALTH_H_
#define TOKENAUTH_SERVER_HEALTH_H_

#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/store.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace tokenauth {

class HealthServiceImpl final
    : public grpc::health::v1::Health::WithCallbackMethod_Check<
          grpc::health::v1::Health::Service> {
 public:
  // `services`: the names Check accepts besides "" (the whole server).
  explicit HealthServiceImpl(std::set<std::string> services);

  void SetServing(bool serving);
  // NOT_SERVING from now on; open Watch streams end.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request,
      grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>*
                         writer) override;

 private:
  grpc::health::v1::HealthCheckResponse::ServingStatus Current() const;

  const std::set<std::string> services_;
  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

// Pings the store every `interval` on its own thread and reports to health.
// Does not own either. Stops (and joins) in the destructor.
class DatabaseMonitor {
 public:
  DatabaseMonitor(Store* store, HealthServiceImpl* health,
                  absl::Duration interval);
  ~DatabaseMonitor();

  // One ping, reported to health; returns whether the database answered.
  bool CheckNow();
  // Whether the last ping answered (false before the first one ends).
  bool database_up() const;

 private:
  void Run();

  Store* const store_;
  HealthServiceImpl* const health_;
  const absl::Duration interval_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool last_ok_ ABSL_GUARDED_BY(mu_) = false;
  bool reported_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_HEALTH_H_
