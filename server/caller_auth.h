// CallerAuth: authenticates the caller of a management RPC from its request
// metadata, through the same core Authenticator that AuthService uses, with
// the operation the method table declares. Does not own the Authenticator.
// Thread-safe.
#ifndef TOKENAUTH_SERVER_CALLER_AUTH_H_
#define TOKENAUTH_SERVER_CALLER_AUTH_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "core/authenticator.h"

namespace tokenauth {

class CallerAuth {
 public:
  explicit CallerAuth(const Authenticator* authenticator)
      : authenticator_(authenticator) {}

  // `method` must be in kMethodTable.
  absl::StatusOr<AuthResult> Resolve(const grpc::ServerContext& context,
                                     absl::string_view method) const;

 private:
  const Authenticator* const authenticator_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_CALLER_AUTH_H_
