#include "tokenauth/client/call_credentials.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tokenauth::client {

void SetBearer(grpc::ClientContext& context, absl::string_view token) {
  context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

std::string BasicAuthorizationValue(absl::string_view username,
                                    absl::string_view password) {
  return absl::StrCat(
      "Basic ", absl::Base64Escape(absl::StrCat(username, ":", password)));
}

void SetBasic(grpc::ClientContext& context, absl::string_view username,
              absl::string_view password) {
  context.AddMetadata("authorization",
                      BasicAuthorizationValue(username, password));
}

void SetSession(grpc::ClientContext& context, absl::string_view session_id,
                absl::string_view csrf_token) {
  context.AddMetadata("x-session-id", std::string(session_id));
  if (!csrf_token.empty()) {
    context.AddMetadata("x-csrf-token", std::string(csrf_token));
  }
}

}  // namespace tokenauth::client
