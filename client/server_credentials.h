// InsecureServerCredentials: plaintext server credentials that, unlike
// grpc::InsecureServerCredentials() in gRPC 1.51 (which aborts the process
// when given one), accept an AuthMetadataProcessor:
//
//   auto creds = tokenauth::client::InsecureServerCredentials();
//   creds->SetAuthMetadataProcessor(processor);
//   builder.AddListeningPort("0.0.0.0:8080", creds);
//
// Use them where the transport is secured elsewhere (a service mesh, a
// loopback port); with TLS, set the processor on grpc::SslServerCredentials
// instead. A blocking processor (IsBlocking()) runs on a pool of up to
// `max_processor_threads` threads owned by the credentials, started on demand
// and stopped after a minute idle; a non-blocking one runs inline on gRPC's
// thread.
//
// Ownership: shared_ptr, as gRPC expects; the credentials share the
// processor. Thread-safety: as any grpc::ServerCredentials, configure (set
// the processor) before the server starts; afterwards gRPC calls the
// processor from any thread.
#ifndef TOKENAUTH_CLIENT_SERVER_CREDENTIALS_H_
#define TOKENAUTH_CLIENT_SERVER_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <cstddef>
#include <memory>

namespace tokenauth::client {

std::shared_ptr<grpc::ServerCredentials> InsecureServerCredentials(
    size_t max_processor_threads = 32);

}  // namespace tokenauth::client

#endif  // TOKENAUTH_CLIENT_SERVER_CREDENTIALS_H_
