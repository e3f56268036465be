#include "tokenauth/client/validator.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "client/internal/expiring_map.h"
#include "client/internal/fingerprint.h"

namespace tokenauth::client {
namespace {

absl::Status ToAbsl(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// The earliest time at which `response` may stop being true by itself.
absl::Time NaturalExpiry(const v1::AuthenticateResponse& response) {
  absl::Time expiry = absl::InfiniteFuture();
  if (response.has_token() && response.token().has_expire_time()) {
    expiry = std::min(expiry, FromProto(response.token().expire_time()));
  }
  if (response.has_session()) {
    if (response.session().has_idle_expire_time()) {
      expiry =
          std::min(expiry, FromProto(response.session().idle_expire_time()));
    }
    if (response.session().has_expire_time()) {
      expiry = std::min(expiry, FromProto(response.session().expire_time()));
    }
  }
  return expiry;
}

ValidatorOptions Sanitized(ValidatorOptions options) {
  options.max_attempts = std::max(options.max_attempts, 1);
  options.jitter = std::clamp(options.jitter, 0.0, 1.0);
  options.backoff_multiplier = std::max(options.backoff_multiplier, 1.0);
  if (options.cache_ttl < absl::ZeroDuration()) {
    options.cache_ttl = absl::ZeroDuration();
  }
  return options;
}

}  // namespace

Validator::Validator(std::shared_ptr<grpc::ChannelInterface> channel,
                     ValidatorOptions options)
    : options_(Sanitized(std::move(options))),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      stub_(v1::AuthService::NewStub(std::move(channel))),
      cache_(options_.cache_ttl > absl::ZeroDuration()
                 ? std::make_unique<
                       internal::ExpiringMap<v1::AuthenticateResponse>>(
                       options_.cache_max_entries)
                 : nullptr) {}

Validator::~Validator() = default;

absl::Status Validator::CheckTokenFormat(absl::string_view token) const {
  return client::CheckTokenFormat(token, options_.token_prefix);
}

absl::StatusOr<v1::AuthenticateResponse> Validator::AuthenticateToken(
    absl::string_view token, v1::Operation operation,
    absl::Span<const std::string> required_scopes) const {
  v1::AuthenticateRequest request;
  request.set_token(std::string(token));
  request.set_operation(operation);
  for (const std::string& scope : required_scopes) {
    request.add_required_scopes(scope);
  }
  return Authenticate(request);
}

absl::StatusOr<v1::AuthenticateResponse> Validator::Authenticate(
    const v1::AuthenticateRequest& request) const {
  return Authenticate(request, clock_->Now() + options_.timeout);
}

absl::StatusOr<v1::AuthenticateResponse> Validator::Authenticate(
    const v1::AuthenticateRequest& request, absl::Time deadline) const {
  calls_.fetch_add(1, std::memory_order_relaxed);
  if (request.credential_case() ==
      v1::AuthenticateRequest::CREDENTIAL_NOT_SET) {
    local_rejections_.fetch_add(1, std::memory_order_relaxed);
    return absl::InvalidArgumentError(
        "credential: exactly one of token, basic or session is required");
  }
  if (request.has_token()) {
    if (absl::Status format = CheckTokenFormat(request.token()); !format.ok()) {
      local_rejections_.fetch_add(1, std::memory_order_relaxed);
      return format;
    }
  }

  std::string cache_key;
  if (cache_ != nullptr) {
    cache_key = internal::Fingerprint(request, /*with_request=*/true);
    if (std::optional<v1::AuthenticateResponse> hit =
            cache_->Get(cache_key, clock_->Now())) {
      cache_hits_.fetch_add(1, std::memory_order_relaxed);
      return *std::move(hit);
    }
  }

  grpc::Status status;
  for (int attempt = 1;; ++attempt) {
    const absl::Duration remaining = deadline - clock_->Now();
    if (remaining <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          attempt == 1 ? "tokenauth: the deadline passed before the call"
                       : "tokenauth: the deadline passed while retrying");
    }
    grpc::ClientContext context;
    // gRPC deadlines are wall-clock; the budget comes from our clock. (An
    // "infinite" one is capped: gRPC's clock arithmetic would overflow.)
    context.set_deadline(
        std::chrono::system_clock::now() +
        absl::ToChronoMilliseconds(std::min(remaining, absl::Hours(24))) +
        std::chrono::milliseconds(1));
    v1::AuthenticateResponse response;
    rpcs_.fetch_add(1, std::memory_order_relaxed);
    status = stub_->Authenticate(&context, request, &response);
    if (status.ok()) {
      if (cache_ != nullptr) {
        const absl::Time expires = std::min(clock_->Now() + options_.cache_ttl,
                                            NaturalExpiry(response));
        cache_->Put(cache_key, response, expires);
      }
      return response;
    }
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        attempt >= options_.max_attempts) {
      break;
    }
    const absl::Duration wait = Backoff(attempt);
    if (clock_->Now() + wait >= deadline) break;
    clock_->SleepFor(wait);
    retries_.fetch_add(1, std::memory_order_relaxed);
  }
  return ToAbsl(status);
}

absl::Duration Validator::Backoff(int retry) const {
  const double base =
      absl::ToDoubleSeconds(options_.initial_backoff) *
      std::pow(options_.backoff_multiplier, static_cast<double>(retry - 1));
  const double capped =
      std::min(base, absl::ToDoubleSeconds(options_.max_backoff));
  double factor = 1.0;
  if (options_.jitter > 0) {
    absl::MutexLock lock(&random_mu_);
    factor =
        absl::Uniform<double>(absl::IntervalClosed, random_,
                              1.0 - options_.jitter, 1.0 + options_.jitter);
  }
  return absl::Seconds(capped * factor);
}

Validator::Stats Validator::stats() const {
  Stats s;
  s.calls = calls_.load(std::memory_order_relaxed);
  s.rpcs = rpcs_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  s.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  s.local_rejections = local_rejections_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace tokenauth::client
