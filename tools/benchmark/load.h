// Load: drives unary gRPC calls at a fixed concurrency (closed loop) or at a
// fixed rate (open loop) through the async API, and measures them.
//
// Each driver thread owns a CompletionQueue and a share of the outstanding
// calls; calls are spread over the given channels. A phase runs for
// `warmup + duration`; only calls that complete (closed loop) or are
// scheduled (open loop) inside the measured window are timed, but every
// error of the phase, warm-up included, is counted. Latency in the open loop
// runs from the scheduled start, so a late start counts against it.
//
// Ownership: the caller owns the channels and the Starter's captures.
// Thread-safety: RunClosedLoop/RunOpenLoop block until done and may be called
// from one thread at a time; the Starter is called from every driver thread.
#ifndef TOKENAUTH_TOOLS_BENCHMARK_LOAD_H_
#define TOKENAUTH_TOOLS_BENCHMARK_LOAD_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tokenauth::bench {

// Whatever an in-flight call needs kept alive (reader, response).
class Pending {
 public:
  virtual ~Pending() = default;
};

template <typename Response>
class PendingOf : public Pending {
 public:
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
  Response response;
};

// Starts call number `seq` on `channel` (an index into the channels): calls
// Finish(..., status, tag) on the reader and returns what must stay alive.
using Starter = std::function<std::unique_ptr<Pending>(
    uint64_t seq, int channel, grpc::ClientContext* context,
    grpc::CompletionQueue* cq, grpc::Status* status, void* tag)>;

// Starts a unary call made with a stub's PrepareAsyncXxx method.
template <typename Response, typename Prepare>
std::unique_ptr<Pending> StartUnary(Prepare prepare, grpc::Status* status,
                                    void* tag) {
  auto pending = std::make_unique<PendingOf<Response>>();
  pending->reader = prepare();
  pending->reader->StartCall();
  pending->reader->Finish(&pending->response, status, tag);
  return pending;
}

struct LoadOptions {
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  int threads = 2;
  // Closed loop: calls in flight at all times. Open loop: the cap on calls
  // in flight; a start due while at the cap is skipped and counted.
  int concurrency = 32;
  absl::Duration call_timeout = absl::Seconds(10);
  // Open loop only: calls started per second, all threads together.
  double rate = 0;
  // Closed loop only: stop starting calls after this many; 0 = no limit.
  // The measured window then ends with the last completion.
  int64_t max_calls = 0;
};

struct LoadResult {
  int64_t calls = 0;    // Measured calls (in the window).
  int64_t errors = 0;   // Non-OK calls in the whole phase.
  int64_t skipped = 0;  // Open loop: starts skipped at the concurrency cap.
  double seconds = 0;   // Length of the measured window.
  double rate = 0;      // calls / seconds.
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  // The first error seen: its code and message (servers never put a secret
  // in a message).
  std::string first_error;
};

LoadResult RunClosedLoop(const LoadOptions& options, int channels,
                         const Starter& start);
LoadResult RunOpenLoop(const LoadOptions& options, int channels,
                       const Starter& start);

}  // namespace tokenauth::bench

#endif  // TOKENAUTH_TOOLS_BENCHMARK_LOAD_H_
