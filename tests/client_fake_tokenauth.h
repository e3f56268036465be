// Test doubles for the client library's tests (client_*_test.cc):
//
// FakeTokenauth: an in-process tokenauth AuthService on a loopback port that
// answers Authenticate from a table the test fills (token, Basic or session
// credential -> principal and permissions), can be told to answer with a
// fixed error (e.g. UNAVAILABLE) for the next n calls, and counts and records
// what it was asked. Tokens are real, well-formed values (core TokenFormat),
// because the client refuses malformed ones before any RPC.
//
// FakeClientClock: a client::Clock that moves only when told to or when
// slept on, and records every sleep.
//
// Thread-safety: both are thread-safe (the fake serves on gRPC's threads).
// Header-only; the fake owns its server and stops it when destroyed.
#ifndef TOKENAUTH_TESTS_CLIENT_FAKE_TOKENAUTH_H_
#define TOKENAUTH_TESTS_CLIENT_FAKE_TOKENAUTH_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/random.h"
#include "core/token_format.h"
#include "gtest/gtest.h"
#include "tokenauth/client/clock.h"
#include "tokenauth/v1/auth_service.grpc.pb.h"

namespace tokenauth::client::testing {

class FakeClientClock : public Clock {
 public:
  FakeClientClock() : now_(absl::FromUnixSeconds(1700000000)) {}

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepFor(absl::Duration d) override {
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(d);
    now_ += d;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  std::vector<absl::Duration> sleeps() {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

class FakeTokenauth final : public v1::AuthService::Service {
 public:
  struct Identity {
    v1::Principal principal;
    v1::CredentialKind kind = v1::CREDENTIAL_KIND_ACCESS_TOKEN;
    bool read_only = false;
    // Sessions: the CSRF token writes need.
    std::string csrf_token;
    // Tokens: set on the response's token.expire_time when not infinite.
    absl::Time expire_time = absl::InfiniteFuture();
  };

  FakeTokenauth() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) ADD_FAILURE() << "fake: no server";
  }
  ~FakeTokenauth() override { Shutdown(); }

  void Shutdown() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
    }
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::shared_ptr<grpc::Channel> NewChannel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }

  // A new well-formed token for `username` (user id `user_id`).
  std::string AddToken(int64_t user_id, const std::string& username,
                       bool read_only = false, bool admin = false,
                       absl::Time expire_time = absl::InfiniteFuture()) {
    SodiumRandom random;
    std::string value = TokenFormat("tka").Generate(random).value;
    Identity identity;
    identity.principal.set_user_id(user_id);
    identity.principal.set_username(username);
    identity.principal.set_admin(admin);
    identity.read_only = read_only;
    identity.expire_time = expire_time;
    absl::MutexLock lock(&mu_);
    identities_[absl::StrCat("token:", value)] = identity;
    return value;
  }
  void AddBasic(int64_t user_id, const std::string& username,
                const std::string& password) {
    Identity identity;
    identity.principal.set_user_id(user_id);
    identity.principal.set_username(username);
    identity.kind = v1::CREDENTIAL_KIND_BASIC;
    absl::MutexLock lock(&mu_);
    identities_[absl::StrCat("basic:", username, ":", password)] = identity;
  }
  void AddSession(int64_t user_id, const std::string& username,
                  const std::string& session_id,
                  const std::string& csrf_token) {
    Identity identity;
    identity.principal.set_user_id(user_id);
    identity.principal.set_username(username);
    identity.kind = v1::CREDENTIAL_KIND_SESSION;
    identity.csrf_token = csrf_token;
    absl::MutexLock lock(&mu_);
    identities_[absl::StrCat("session:", session_id)] = identity;
  }

  // The next `n` calls fail with `status` (before any lookup).
  void FailNext(int n, grpc::Status status) {
    absl::MutexLock lock(&mu_);
    fail_count_ = n;
    fail_status_ = std::move(status);
  }
  // Every call waits this long before answering.
  void SetDelay(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    delay_ = d;
  }

  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  v1::AuthenticateRequest last_request() {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }
  // Time left until the last call's deadline, as the server saw it.
  absl::Duration last_deadline_left() {
    absl::MutexLock lock(&mu_);
    return last_deadline_left_;
  }

  grpc::Status Authenticate(grpc::ServerContext* context,
                            const v1::AuthenticateRequest* request,
                            v1::AuthenticateResponse* response) override {
    absl::Duration delay;
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
      last_request_ = *request;
      last_deadline_left_ = absl::FromChrono(context->deadline()) - absl::Now();
      delay = delay_;
      if (fail_count_ > 0) {
        --fail_count_;
        return fail_status_;
      }
    }
    absl::SleepFor(delay);
    std::string key;
    switch (request->credential_case()) {
      case v1::AuthenticateRequest::kToken:
        key = absl::StrCat("token:", request->token());
        break;
      case v1::AuthenticateRequest::kBasic:
        key = absl::StrCat("basic:", request->basic().username(), ":",
                           request->basic().password());
        break;
      case v1::AuthenticateRequest::kSession:
        key = absl::StrCat("session:", request->session().session_id());
        break;
      default:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "credential");
    }
    Identity identity;
    {
      absl::MutexLock lock(&mu_);
      auto it = identities_.find(key);
      if (it == identities_.end()) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "fake: unknown");
      }
      identity = it->second;
    }
    if (request->operation() == v1::OPERATION_WRITE) {
      if (identity.read_only) {
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            "fake: read-only token");
      }
      if (identity.kind == v1::CREDENTIAL_KIND_SESSION &&
          request->session().csrf_token() != identity.csrf_token) {
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            "fake: CSRF token missing or wrong");
      }
    }
    *response->mutable_principal() = identity.principal;
    response->set_credential_kind(identity.kind);
    if (identity.kind == v1::CREDENTIAL_KIND_ACCESS_TOKEN &&
        identity.expire_time != absl::InfiniteFuture()) {
      response->mutable_token()->mutable_expire_time()->set_seconds(
          absl::ToUnixSeconds(identity.expire_time));
    }
    return grpc::Status::OK;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex mu_;
  std::map<std::string, Identity> identities_ ABSL_GUARDED_BY(mu_);
  int fail_count_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status fail_status_ ABSL_GUARDED_BY(mu_);
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  v1::AuthenticateRequest last_request_ ABSL_GUARDED_BY(mu_);
  absl::Duration last_deadline_left_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tokenauth::client::testing

#endif  // TOKENAUTH_TESTS_CLIENT_FAKE_TOKENAUTH_H_
