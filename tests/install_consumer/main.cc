// Uses the installed client library the way a backend would, without a
// server: only local checks, so it can run anywhere. Exits 0 and prints "ok"
// when everything behaves; anything else is a broken install.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>

#include "tokenauth/client/auth_processor.h"
#include "tokenauth/client/call_credentials.h"
#include "tokenauth/client/server_credentials.h"
#include "tokenauth/client/token_check.h"
#include "tokenauth/client/validator.h"
#include "tokenauth/v1/token_service.grpc.pb.h"

namespace {

int failures = 0;

void Expect(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "consumer: FAILED: " << what << "\n";
    ++failures;
  }
}

}  // namespace

int main() {
  namespace tac = tokenauth::client;
  // Nothing listens there; nothing below may call it.
  auto validator = std::make_shared<tac::Validator>(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));

  absl::StatusOr<tokenauth::v1::AuthenticateResponse> who =
      validator->AuthenticateToken("tka_not-a-token",
                                   tokenauth::v1::OPERATION_READ);
  Expect(who.status().code() == absl::StatusCode::kUnauthenticated,
         "a malformed token is UNAUTHENTICATED");
  Expect(validator->stats().rpcs == 0, "without an RPC");
  Expect(tac::CheckTokenFormat("tka_Consumer0001NotARealSecretJustForm35luFG")
             .ok(),
         "a well-formed token passes the format check");
  Expect(!tac::CheckTokenFormat("tka_Consumer0001NotARealSecretJustForm35luFH")
              .ok(),
         "a wrong checksum fails it");

  tac::AuthProcessorOptions options;
  options.methods["/example.v1.Things/ListThings"] = tac::Access::kRead;
  auto creds = tac::InsecureServerCredentials();
  creds->SetAuthMetadataProcessor(
      std::make_shared<tac::AuthProcessor>(validator, options));

  tokenauth::v1::CreateTokenRequest request;
  request.set_name("from another project");
  Expect(request.name() == "from another project", "generated messages work");
  grpc::ClientContext context;
  tac::SetBearer(context, "tka_x");

  if (failures > 0) return 1;
  std::cout << "ok\n";
  return 0;
}
