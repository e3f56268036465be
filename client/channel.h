// MakeChannel: a channel to tokenauth, plaintext or TLS, optionally with a
// client certificate for a server that requires one (mTLS). Hand it to a
// Validator or to the generated stubs:
//
//   tokenauth::client::ChannelOptions options;
//   options.ca_file = "/etc/tokenauth/ca.pem";           // TLS, this CA.
//   options.cert_file = "/etc/myservice/client.pem";     // mTLS only.
//   options.key_file = "/etc/myservice/client.key";
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       tokenauth::client::MakeChannel("tokenauth.internal:50051", options);
//   if (!channel.ok()) return channel.status();  // INVALID_ARGUMENT
//   tokenauth::client::Validator validator(*channel);
//
// The files are read once, here; a certificate renewed on disk needs a new
// channel. Errors are INVALID_ARGUMENT naming the option and the file, never
// a file's content.
//
// Stateless functions; thread-safe. The returned channel is shared (as any
// grpc::Channel) and thread-safe.
#ifndef TOKENAUTH_CLIENT_CHANNEL_H_
#define TOKENAUTH_CLIENT_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokenauth::client {

struct ChannelOptions {
  // TLS. Off by default: plaintext, for a loopback address or a transport
  // secured elsewhere. On when `tls` is true or any field below is set.
  bool tls = false;
  // PEM CA certificate(s) the server's certificate must chain to. Empty:
  // gRPC's default roots (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, else its bundle).
  std::string ca_file;
  // PEM client certificate (chain) and its private key, for a server that
  // requires client certificates (TOKENAUTH_TLS_CLIENT_CA_FILE). Both or
  // neither.
  std::string cert_file;
  std::string key_file;
  // Check the server's certificate against this name instead of the host in
  // the target (e.g. a certificate for "tokenauth.internal" reached by IP).
  std::string server_name;

  // Extra channel arguments (keepalive, load balancing, ...).
  grpc::ChannelArguments arguments;

  bool UsesTls() const {
    return tls || !ca_file.empty() || !cert_file.empty() || !key_file.empty() ||
           !server_name.empty();
  }
};

// grpc::InsecureChannelCredentials() without TLS; grpc::SslCredentials with
// the files' contents otherwise. INVALID_ARGUMENT when only one of
// cert_file/key_file is set, or a file cannot be read or holds no PEM block.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const ChannelOptions& options);

// A channel to `target` ("host:port") with those credentials and arguments
// (server_name becomes GRPC_SSL_TARGET_NAME_OVERRIDE_ARG).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& target, const ChannelOptions& options = {});

}  // namespace tokenauth::client

#endif  // TOKENAUTH_CLIENT_CHANNEL_H_
