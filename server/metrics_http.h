// MetricsHttpServer: serves a metrics::Registry over plain HTTP/1.1 with
// cpp-httplib: GET (or HEAD) /metrics answers the Prometheus text exposition
// (Content-Type "text/plain; version=0.0.4; charset=utf-8"); every other path
// or method is 404. Two worker threads; one scrape renders the registry once.
//
// The socket is bound without SO_REUSEPORT, so a port another process
// listens on is an error rather than shared traffic.
//
// Ownership: borrows the registry, which must outlive the server. The
// destructor stops the server. Thread-safety: Start, Stop and the destructor
// from one thread; port() from any.
#ifndef TOKENAUTH_SERVER_METRICS_HTTP_H_
#define TOKENAUTH_SERVER_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "server/metrics.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace tokenauth {

class MetricsHttpServer {
 public:
  // Listens on `listen`, "host:port" or "[ipv6]:port"; port 0 picks a free
  // one (see port()). Returns once the port is bound (connections queue from
  // then on) and the serving thread started. INVALID_ARGUMENT
  // for an address that does not parse, UNAVAILABLE if it cannot be bound;
  // the message names the address.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      absl::string_view listen, const metrics::Registry* registry);

  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The bound port.
  int port() const { return port_; }

  // Stops accepting, finishes the scrapes in progress and joins the threads.
  // Idempotent.
  void Stop();

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<httplib::Server> http_;
  std::shared_ptr<absl::Notification> done_;  // The serving thread ended.
  std::thread thread_;
  int port_ = 0;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_METRICS_HTTP_H_
