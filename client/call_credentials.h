// Helpers for presenting a credential to tokenauth's management RPCs
// (TokenService, UserService, SessionService, AuditService) as request
// metadata. Stateless; thread-safe.
//
//   grpc::ClientContext ctx;
//   tokenauth::client::SetBearer(ctx, token_value);
//   stub->ListTokens(&ctx, request, &response);
#ifndef TOKENAUTH_CLIENT_CALL_CREDENTIALS_H_
#define TOKENAUTH_CLIENT_CALL_CREDENTIALS_H_

#include <grpcpp/client_context.h>

#include <string>

#include "absl/strings/string_view.h"

namespace tokenauth::client {

// "authorization: Bearer <token>".
void SetBearer(grpc::ClientContext& context, absl::string_view token);
// "authorization: Basic <base64(username:password)>".
void SetBasic(grpc::ClientContext& context, absl::string_view username,
              absl::string_view password);
// "x-session-id: <session_id>" and, unless empty, "x-csrf-token:
// <csrf_token>" (needed for writes).
void SetSession(grpc::ClientContext& context, absl::string_view session_id,
                absl::string_view csrf_token);
// The header value SetBasic sends.
std::string BasicAuthorizationValue(absl::string_view username,
                                    absl::string_view password);

}  // namespace tokenauth::client

#endif  // TOKENAUTH_CLIENT_CALL_CREDENTIALS_H_
