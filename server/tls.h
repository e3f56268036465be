// TLS for tokenauth-server: reads the certificate, key and client CA files
// named by the TOKENAUTH_TLS_* settings, checks them, and builds the server
// credentials every service listens with (Health and reflection included: they
// share the one port). Also decides whether a listen address is loopback, for
// the warning about plaintext on a reachable address.
//
// Plain functions, no state; thread-safe. Errors name the setting and the
// file, never a file's content.
#ifndef TOKENAUTH_SERVER_TLS_H_
#define TOKENAUTH_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

struct TlsSettings {
  std::string cert_file;       // TOKENAUTH_TLS_CERT_FILE: PEM chain.
  std::string key_file;        // TOKENAUTH_TLS_KEY_FILE: PEM private key.
  std::string client_ca_file;  // TOKENAUTH_TLS_CLIENT_CA_FILE: PEM roots;
                               // when set, client certificates are required.

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
  bool mutual() const { return !client_ca_file.empty(); }
};

// Without TLS settings: grpc::InsecureServerCredentials(). With them: reads
// and checks the files (each parses as PEM, the key matches the certificate)
// and returns grpc::SslServerCredentials, requiring and verifying a client
// certificate when client_ca_file is set. INVALID_ARGUMENT naming the setting
// when only one of cert/key is set, a client CA is set without them, a file
// cannot be read, or its content is not what it should be.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsSettings& settings);

// True when `listen` ("host:port", "[v6]:port", "host") names a loopback
// host: 127.0.0.0/8, ::1 or localhost. "0.0.0.0", "[::]", other hosts and
// names are not loopback.
bool IsLoopbackListenAddress(absl::string_view listen);

// The one-line warning logged when serving plaintext on `listen`.
std::string PlaintextListenWarning(absl::string_view listen);

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_TLS_H_
