// CallDeadlineCallbacks: gRPC server callbacks that hand each synchronous
// handler's deadline to the layers below (core/call_deadline.h). gRPC runs
// PreSynchronousRequest, the handler and PostSynchronousRequest one after the
// other on the same thread, so the thread-local deadline is the handler's for
// exactly as long as it runs.
//
// Install once per process, before any grpc::Server is built:
//   grpc::Server::SetGlobalCallbacks(new CallDeadlineCallbacks);  // gRPC owns
// Header-only; stateless, so thread-safe.
#ifndef TOKENAUTH_SERVER_CALL_DEADLINE_CALLBACKS_H_
#define TOKENAUTH_SERVER_CALL_DEADLINE_CALLBACKS_H_

#include <grpcpp/server.h>
#include <grpcpp/server_context.h>

#include <chrono>

#include "absl/time/time.h"
#include "core/call_deadline.h"

namespace tokenauth {

// The deadline of the call `context` serves; absl::InfiniteFuture() if none.
// For a callback handler, which does not get the callbacks below: it sets a
// ScopedCallDeadline with this on the thread that does the call's work.
inline absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  // gRPC reports "no deadline" as the largest time_point.
  return deadline == std::chrono::system_clock::time_point::max()
             ? absl::InfiniteFuture()
             : absl::FromChrono(deadline);
}

class CallDeadlineCallbacks final : public grpc::Server::GlobalCallbacks {
 public:
  void PreSynchronousRequest(grpc::ServerContext* context) override {
    SetCurrentCallDeadline(DeadlineOf(*context));
  }
  void PostSynchronousRequest(grpc::ServerContext* /*context*/) override {
    SetCurrentCallDeadline(absl::InfiniteFuture());
  }
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_CALL_DEADLINE_CALLBACKS_H_
