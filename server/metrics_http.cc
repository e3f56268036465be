#include "server/metrics_http.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace tokenauth {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr int kWorkerThreads = 2;

// SO_REUSEADDR only (httplib's default adds SO_REUSEPORT, which would let a
// second server share the port silently).
void SocketOptions(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    absl::string_view listen, const metrics::Registry* registry) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", listen, "\" is not host:port"));
  }
  std::string host(listen.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }

  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer);
  server->http_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *server->http_;
  http.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  http.set_socket_options(SocketOptions);
  http.Get("/metrics", [registry](const httplib::Request& /*request*/,
                                  httplib::Response& response) {
    response.set_content(registry->Render(), kContentType);
  });
  http.set_error_handler(
      [](const httplib::Request& /*request*/, httplib::Response& response) {
        if (response.status == 404) {
          response.set_content("not found; metrics are at GET /metrics\n",
                               "text/plain; charset=utf-8");
        }
      });

  errno = 0;
  const int bound = port == 0 ? http.bind_to_any_port(host)
                              : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    const int error = errno;
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen,
        error != 0 ? absl::StrCat(" (", std::strerror(error), ")") : ""));
  }
  server->port_ = bound;

  server->done_ = std::make_shared<absl::Notification>();
  server->thread_ = std::thread([&http, done = server->done_] {
    http.listen_after_bind();
    done->Notify();
  });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  if (!thread_.joinable()) return;
  // stop() does nothing until the accept loop has started; repeat it until
  // the loop has ended.
  do {
    http_->stop();
  } while (!done_->WaitForNotificationWithTimeout(absl::Milliseconds(20)));
  thread_.join();
}

}  // namespace tokenauth
