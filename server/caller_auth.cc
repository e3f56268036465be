#include "server/caller_auth.h"

#include <cstdlib>

#include "core/status_macros.h"
#include "server/log.h"
#include "core/metadata_credentials.h"
#include "server/method_table.h"

namespace tokenauth {

Operation OperationOf(absl::string_view method) {
  for (const MethodEntry& entry : kMethodTable) {
    if (entry.method == method) return entry.operation;
  }
  LogError("method missing from kMethodTable: ", method);
  std::abort();
}

absl::StatusOr<AuthResult> CallerAuth::Resolve(
    const grpc::ServerContext& context, absl::string_view method) const {
  const Operation operation = OperationOf(method);
  std::vector<std::pair<absl::string_view, absl::string_view>> metadata;
  for (const auto& [key, value] : context.client_metadata()) {
    metadata.emplace_back(absl::string_view(key.data(), key.size()),
                          absl::string_view(value.data(), value.size()));
  }
  ASSIGN_OR_RETURN(Credential credential, CredentialFromMetadata(metadata));
  return authenticator_->Authenticate(credential, operation, {},
                                      context.peer());
}

}  // namespace tokenauth
