#include "tokenauth/client/server_credentials.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpcpp/security/auth_context.h>

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tokenauth::client {
namespace {

constexpr absl::Duration kIdleThreadTimeout = absl::Minutes(1);

// Runs tasks on up to `max_threads` detached threads, started when a task
// finds no idle one. Threads hold a reference, so the executor lives until
// it is stopped and its last thread has left. Thread-safe.
class Executor : public std::enable_shared_from_this<Executor> {
 public:
  explicit Executor(size_t max_threads)
      : max_threads_(max_threads == 0 ? 1 : max_threads) {}

  void Add(std::function<void()> task) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(task));
    if (idle_ == 0 && threads_ < max_threads_) {
      ++threads_;
      std::thread([self = shared_from_this()] { self->Run(); }).detach();
    }
  }

  // Lets the threads finish the queued tasks and exit.
  void Stop() {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }

 private:
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }

  void Run() {
    absl::MutexLock lock(&mu_);
    while (true) {
      ++idle_;
      const bool woken = mu_.AwaitWithTimeout(
          absl::Condition(this, &Executor::HasWork), kIdleThreadTimeout);
      --idle_;
      if (!woken || queue_.empty()) {  // Idle too long, or stopping.
        --threads_;
        return;
      }
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      mu_.Unlock();
      task();
      task = nullptr;  // Whatever it holds goes outside the lock.
      mu_.Lock();
    }
  }

  const size_t max_threads_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  size_t threads_ ABSL_GUARDED_BY(mu_) = 0;
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

class PropertyIterator : public grpc::AuthPropertyIterator {
 public:
  PropertyIterator() = default;
  PropertyIterator(const grpc_auth_property* property,
                   const grpc_auth_property_iterator* iter)
      : grpc::AuthPropertyIterator(property, iter) {}
};

// grpc::AuthContext over the C core's grpc_auth_context, which outlives the
// call being processed. (gRPC's own adapter is not a public header.)
class CoreAuthContext final : public grpc::AuthContext {
 public:
  explicit CoreAuthContext(grpc_auth_context* ctx) : ctx_(ctx) {}

  bool IsPeerAuthenticated() const override {
    return grpc_auth_context_peer_is_authenticated(ctx_) != 0;
  }
  std::vector<grpc::string_ref> GetPeerIdentity() const override {
    grpc_auth_property_iterator it = grpc_auth_context_peer_identity(ctx_);
    return Values(&it);
  }
  std::string GetPeerIdentityPropertyName() const override {
    const char* name = grpc_auth_context_peer_identity_property_name(ctx_);
    return name == nullptr ? std::string() : std::string(name);
  }
  std::vector<grpc::string_ref> FindPropertyValues(
      const std::string& name) const override {
    grpc_auth_property_iterator it =
        grpc_auth_context_find_properties_by_name(ctx_, name.c_str());
    return Values(&it);
  }
  grpc::AuthPropertyIterator begin() const override {
    grpc_auth_property_iterator it = grpc_auth_context_property_iterator(ctx_);
    const grpc_auth_property* property = grpc_auth_property_iterator_next(&it);
    return PropertyIterator(property, &it);
  }
  grpc::AuthPropertyIterator end() const override { return PropertyIterator(); }
  void AddProperty(const std::string& key,
                   const grpc::string_ref& value) override {
    grpc_auth_context_add_property(ctx_, key.c_str(), value.data(),
                                   value.size());
  }
  bool SetPeerIdentityPropertyName(const std::string& name) override {
    return grpc_auth_context_set_peer_identity_property_name(ctx_,
                                                             name.c_str()) != 0;
  }

 private:
  static std::vector<grpc::string_ref> Values(grpc_auth_property_iterator* it) {
    std::vector<grpc::string_ref> values;
    while (const grpc_auth_property* p = grpc_auth_property_iterator_next(it)) {
      values.emplace_back(p->value, p->value_length);
    }
    return values;
  }

  grpc_auth_context* const ctx_;
};

grpc::string_ref Ref(const grpc_slice& slice) {
  return grpc::string_ref(
      reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
      GRPC_SLICE_LENGTH(slice));
}

grpc_slice StaticSlice(const std::string& s) {
  return grpc_slice_from_static_buffer(s.data(), s.size());
}

// What the C core holds as the processor's state; freed by Destroy.
struct ProcessorState {
  std::shared_ptr<grpc::AuthMetadataProcessor> processor;
  std::shared_ptr<Executor> executor;
};

// Runs the processor and reports to gRPC; `md` stays valid until `done`.
void InvokeProcessor(grpc::AuthMetadataProcessor& processor,
                     grpc_auth_context* ctx, const grpc_metadata* md,
                     size_t num_md, grpc_process_auth_metadata_done_cb done,
                     void* user_data) {
  grpc::AuthMetadataProcessor::InputMetadata input;
  for (size_t i = 0; i < num_md; ++i) {
    input.emplace(Ref(md[i].key), Ref(md[i].value));
  }
  CoreAuthContext context(ctx);
  grpc::AuthMetadataProcessor::OutputMetadata consumed;
  grpc::AuthMetadataProcessor::OutputMetadata response;  // gRPC ignores it.
  const grpc::Status status =
      processor.Process(input, &context, &consumed, &response);
  std::vector<grpc_metadata> consumed_md;
  for (const auto& [key, value] : consumed) {
    grpc_metadata entry = {};
    entry.key = StaticSlice(key);
    entry.value = StaticSlice(value);
    consumed_md.push_back(entry);
  }
  done(user_data, consumed_md.data(), consumed_md.size(), nullptr, 0,
       static_cast<grpc_status_code>(status.error_code()),
       status.ok() ? nullptr : status.error_message().c_str());
}

void Process(void* state, grpc_auth_context* ctx, const grpc_metadata* md,
             size_t num_md, grpc_process_auth_metadata_done_cb done,
             void* user_data) {
  auto* s = static_cast<ProcessorState*>(state);
  if (!s->processor->IsBlocking()) {
    InvokeProcessor(*s->processor, ctx, md, num_md, done, user_data);
    return;
  }
  s->executor->Add(
      [processor = s->processor, ctx, md, num_md, done, user_data] {
        InvokeProcessor(*processor, ctx, md, num_md, done, user_data);
      });
}

void Destroy(void* state) {
  auto* s = static_cast<ProcessorState*>(state);
  s->executor->Stop();
  delete s;
}

class Credentials final : public grpc::ServerCredentials {
 public:
  explicit Credentials(size_t max_threads)
      : creds_(grpc_insecure_server_credentials_create()),
        max_threads_(max_threads) {}
  ~Credentials() override { grpc_server_credentials_release(creds_); }

  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>& processor) override {
    if (processor == nullptr) return;
    auto* state =
        new ProcessorState{processor, std::make_shared<Executor>(max_threads_)};
    grpc_server_credentials_set_auth_metadata_processor(
        creds_, grpc_auth_metadata_processor{Process, Destroy, state});
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), creds_);
  }

  grpc_server_credentials* const creds_;
  const size_t max_threads_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> InsecureServerCredentials(
    size_t max_processor_threads) {
  return std::make_shared<Credentials>(max_processor_threads);
}

}  // namespace tokenauth::client
