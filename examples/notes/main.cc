// notes-server: the example backend, authenticated by tokenauth.
//
//   notes-server --listen 127.0.0.1:50061 --tokenauth 127.0.0.1:50051
//
// Try it with a token (docs/CLIENT.md shows how to make one):
//   grpcurl -plaintext -import-path examples -proto notes/notes.proto
//     -H "authorization: Bearer $TOKEN" -d '{"text":"hi"}'
//     127.0.0.1:50061 notes.v1.NotesService/CreateNote
// (one command line).
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "notes/notes_server.h"
#include "tokenauth/client/validator.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50061", "address to serve on");
ABSL_FLAG(std::string, tokenauth, "127.0.0.1:50051",
          "address of the tokenauth server");
ABSL_FLAG(int, cache_seconds, 0,
          "reuse a positive answer from tokenauth for this long (0: never)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The notes example backend; every call is authenticated by tokenauth.");
  absl::ParseCommandLine(argc, argv);

  tokenauth::client::ValidatorOptions options;
  options.cache_ttl = absl::Seconds(absl::GetFlag(FLAGS_cache_seconds));
  auto validator = std::make_shared<tokenauth::client::Validator>(
      grpc::CreateChannel(absl::GetFlag(FLAGS_tokenauth),
                          grpc::InsecureChannelCredentials()),
      options);

  notes::NotesService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server = notes::StartNotesServer(
      &service, absl::GetFlag(FLAGS_listen), validator, &port);
  if (server == nullptr || port == 0) {
    std::cerr << "notes-server: cannot listen on "
              << absl::GetFlag(FLAGS_listen) << "\n";
    return 1;
  }
  std::cout << "notes-server: serving on port " << port
            << ", authenticating with tokenauth at "
            << absl::GetFlag(FLAGS_tokenauth) << std::endl;
  server->Wait();
  return 0;
}
