// AuthProcessor: a drop-in authenticator for other C++ gRPC servers. Set it
// on the server's credentials; every incoming call then needs a tokenauth
// credential in its metadata, checked through a Validator before the call
// reaches your handler:
//
//   authorization: Bearer <token> | Basic <base64(username:password)>
//   x-session-id: <session ID>   (+ x-csrf-token: <CSRF token> for writes)
//
//   auto validator = std::make_shared<tokenauth::client::Validator>(
//       grpc::CreateChannel("tokenauth:50051",
//                           grpc::InsecureChannelCredentials()));
//   tokenauth::client::AuthProcessorOptions auth;
//   auth.methods["/notes.v1.NotesService/ListNotes"] = Access::kRead;
//   auth.methods["/grpc.health.v1.Health/Check"] = Access::kPublic;
//   auto creds = tokenauth::client::InsecureServerCredentials();  // or TLS
//   creds->SetAuthMetadataProcessor(
//       std::make_shared<tokenauth::client::AuthProcessor>(validator, auth));
//   builder.AddListeningPort(address, creds);
//
//   // In a handler:
//   std::optional<Principal> who = PrincipalFromContext(*context);
//
// Which methods only read is something the processor cannot know: the
// backend says so per method (AuthProcessorOptions::methods); every method
// not listed is a write. A read-only token may call only the reads; a session
// needs its CSRF token for writes. Public methods take no credential: any
// credential headers are removed from such calls, so they are anonymous.
//
// A refused call ends with tokenauth's answer: UNAUTHENTICATED (no, malformed,
// unknown, expired or revoked credential), PERMISSION_DENIED (valid but not
// allowed: read-only token, missing scope or CSRF token), UNAVAILABLE or
// DEADLINE_EXCEEDED (tokenauth could not answer; the caller may retry).
//
// Why PrincipalFromContext and not AuthContext properties: the AuthContext
// that gRPC (1.51) hands to an AuthMetadataProcessor belongs to the
// connection, not the call, so a property added for one call is seen by
// every later call on that connection -- another user's, through a proxy
// (tests/client_auth_processor_test.cc pins this). Instead the processor
// records the principal under a keyed hash of the credential the call
// carries, for a few minutes, and PrincipalFromContext looks it up from the
// same headers, which stay visible to the handler.
//
// Ownership: the processor shares the Validator; the server credentials it
// is set on share the processor.
// Thread-safety: thread-safe. Process blocks on an RPC, so IsBlocking() is
// true and gRPC runs it off its I/O threads.
#ifndef TOKENAUTH_CLIENT_AUTH_PROCESSOR_H_
#define TOKENAUTH_CLIENT_AUTH_PROCESSOR_H_

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "tokenauth/client/validator.h"
#include "tokenauth/v1/resources.pb.h"

namespace tokenauth::client {

// What a method needs.
enum class Access {
  kPublic,  // No credential (health checks, reflection...).
  kRead,    // A credential valid for OPERATION_READ.
  kWrite,   // A credential valid for OPERATION_WRITE.
};

struct MethodRule {
  // Implicit on purpose: `options.methods[name] = Access::kRead;`.
  MethodRule(Access access = Access::kWrite,  // NOLINT(runtime/explicit)
             std::vector<std::string> required_scopes = {})
      : access(access), required_scopes(std::move(required_scopes)) {}

  Access access;
  // Scopes a token must carry for this method (tokens without scopes carry
  // all of them).
  std::vector<std::string> required_scopes;
};

struct AuthProcessorOptions {
  // Full method name ("/package.Service/Method") -> rule.
  absl::flat_hash_map<std::string, MethodRule> methods;
  // For every method not in `methods`.
  MethodRule default_rule;
};

// Who made a call that passed an AuthProcessor.
struct Principal {
  int64_t user_id = 0;
  std::string username;
  bool admin = false;
  v1::CredentialKind credential_kind = v1::CREDENTIAL_KIND_UNSPECIFIED;
};

class AuthProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit AuthProcessor(std::shared_ptr<const Validator> validator,
                         AuthProcessorOptions options = AuthProcessorOptions());

  bool IsBlocking() const override { return true; }

  // Called by gRPC for every call. `context` is not used (see above).
  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // The rule for a full method name.
  const MethodRule& RuleFor(absl::string_view method) const;

 private:
  const std::shared_ptr<const Validator> validator_;
  const AuthProcessorOptions options_;
};

// The principal of a call that an AuthProcessor let through, read from the
// credential headers the call carries. nullopt for a call without a
// credential (a public method), or one that no AuthProcessor in this process
// checked in the last few minutes (a port without one): treat it as
// unauthenticated.
std::optional<Principal> PrincipalFromContext(
    const grpc::ServerContextBase& context);

}  // namespace tokenauth::client

#endif  // TOKENAUTH_CLIENT_AUTH_PROCESSOR_H_
