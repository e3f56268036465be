#include "tokenauth/client/auth_processor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/internal/fingerprint.h"
#include "client/internal/metadata_credential.h"
#include "client/internal/principal_registry.h"

namespace tokenauth::client {
namespace internal {

ExpiringMap<Principal>& PrincipalRegistry() {
  static auto* const registry = new ExpiringMap<Principal>(kMaxPrincipals);
  return *registry;
}

}  // namespace internal

namespace {

constexpr absl::string_view kCredentialHeaders[] = {
    "authorization", "x-session-id", "x-csrf-token"};

// tokenauth's answer as the answer to the caller. The codes that mean
// something to a caller pass through; INVALID_ARGUMENT can only be about the
// credential as presented; anything else is not the caller's doing.
grpc::Status ToCallerStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          std::string(status.message()));
    case absl::StatusCode::kInvalidArgument:
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          std::string(status.message()));
    default:
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("tokenauth answered ",
                                       absl::StatusCodeToString(status.code()),
                                       ": ", status.message()));
  }
}

}  // namespace

AuthProcessor::AuthProcessor(std::shared_ptr<const Validator> validator,
                             AuthProcessorOptions options)
    : validator_(std::move(validator)), options_(std::move(options)) {}

const MethodRule& AuthProcessor::RuleFor(absl::string_view method) const {
  auto it = options_.methods.find(method);
  return it != options_.methods.end() ? it->second : options_.default_rule;
}

grpc::Status AuthProcessor::Process(const InputMetadata& auth_metadata,
                                    grpc::AuthContext* /*context*/,
                                    OutputMetadata* consumed_auth_metadata,
                                    OutputMetadata* /*response_metadata*/) {
  absl::string_view method;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) {
    method = absl::string_view(it->second.data(), it->second.size());
  }
  const MethodRule& rule = RuleFor(method);

  if (rule.access == Access::kPublic) {
    // Anonymous: the handler must not take the call for an authenticated one.
    for (const auto& [key, value] : auth_metadata) {
      for (absl::string_view header : kCredentialHeaders) {
        if (absl::string_view(key.data(), key.size()) == header) {
          consumed_auth_metadata->emplace(
              std::string(header), std::string(value.data(), value.size()));
        }
      }
    }
    return grpc::Status::OK;
  }

  absl::StatusOr<v1::AuthenticateRequest> request =
      internal::CredentialFromMetadata(auth_metadata);
  if (!request.ok()) return ToCallerStatus(request.status());
  request->set_operation(rule.access == Access::kRead ? v1::OPERATION_READ
                                                      : v1::OPERATION_WRITE);
  for (const std::string& scope : rule.required_scopes) {
    request->add_required_scopes(scope);
  }

  absl::StatusOr<v1::AuthenticateResponse> response =
      validator_->Authenticate(*request);
  if (!response.ok()) return ToCallerStatus(response.status());

  Principal principal;
  principal.user_id = response->principal().user_id();
  principal.username = response->principal().username();
  principal.admin = response->principal().admin();
  principal.credential_kind = response->credential_kind();
  // Real time, whatever the Validator's clock: the registry only bridges
  // the moment between this processor and the call's handler.
  internal::PrincipalRegistry().Put(
      internal::Fingerprint(*request, /*with_request=*/false),
      std::move(principal), Clock::Real()->Now() + internal::kPrincipalTtl);
  return grpc::Status::OK;
}

std::optional<Principal> PrincipalFromContext(
    const grpc::ServerContextBase& context) {
  absl::StatusOr<v1::AuthenticateRequest> request =
      internal::CredentialFromMetadata(context.client_metadata());
  if (!request.ok()) return std::nullopt;
  return internal::PrincipalRegistry().Get(
      internal::Fingerprint(*request, /*with_request=*/false),
      Clock::Real()->Now());
}

}  // namespace tokenauth::client
