// The notes example backend: NotesService (in memory) and the few lines that
// put tokenauth in front of it (StartNotesServer). Handlers read the caller
// with tokenauth::client::PrincipalFromContext; authentication and the
// read/write check happened before the handler was called.
//
// Ownership: StartNotesServer's server refers to `service` and shares
// `validator`; `service` must outlive the server.
// Thread-safety: NotesService is thread-safe.
#ifndef TOKENAUTH_EXAMPLES_NOTES_NOTES_SERVER_H_
#define TOKENAUTH_EXAMPLES_NOTES_NOTES_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "notes/notes.grpc.pb.h"
#include "tokenauth/client/validator.h"

namespace notes {

class NotesService final : public v1::NotesService::Service {
 public:
  grpc::Status ListNotes(grpc::ServerContext* context,
                         const v1::ListNotesRequest* request,
                         v1::ListNotesResponse* response) override;
  grpc::Status CreateNote(grpc::ServerContext* context,
                          const v1::CreateNoteRequest* request,
                          v1::CreateNoteResponse* response) override;

 private:
  absl::Mutex mu_;
  std::vector<v1::Note> notes_ ABSL_GUARDED_BY(mu_);
};

// Serves `service` (and the standard health service, which needs no
// credential) on `listen_address`, with every other call authenticated by
// tokenauth through `validator`. Null if the server could not start;
// *selected_port gets the port (useful with "127.0.0.1:0").
std::unique_ptr<grpc::Server> StartNotesServer(
    NotesService* service, const std::string& listen_address,
    std::shared_ptr<const tokenauth::client::Validator> validator,
    int* selected_port);

}  // namespace notes

#endif  // TOKENAUTH_EXAMPLES_NOTES_NOTES_SERVER_H_
