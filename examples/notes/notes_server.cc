#include "notes/notes_server.h"

#include <grpcpp/health_check_service_interface.h>

#include <utility>

#include "tokenauth/client/auth_processor.h"
#include "tokenauth/client/server_credentials.h"

namespace notes {

namespace tac = tokenauth::client;

grpc::Status NotesService::ListNotes(grpc::ServerContext* context,
                                     const v1::ListNotesRequest*,
                                     v1::ListNotesResponse* response) {
  std::optional<tac::Principal> caller = tac::PrincipalFromContext(*context);
  if (!caller) return {grpc::StatusCode::UNAUTHENTICATED, "who are you?"};
  response->set_viewer(caller->username);
  absl::MutexLock lock(&mu_);
  for (const v1::Note& note : notes_) {
    if (note.author_user_id() == caller->user_id) *response->add_notes() = note;
  }
  return grpc::Status::OK;
}

grpc::Status NotesService::CreateNote(grpc::ServerContext* context,
                                      const v1::CreateNoteRequest* request,
                                      v1::CreateNoteResponse* response) {
  std::optional<tac::Principal> caller = tac::PrincipalFromContext(*context);
  if (!caller) return {grpc::StatusCode::UNAUTHENTICATED, "who are you?"};
  if (request->text().empty() || request->text().size() > 1000) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "text: 1..1000 bytes"};
  }
  absl::MutexLock lock(&mu_);
  v1::Note& note = notes_.emplace_back();
  note.set_id(static_cast<int64_t>(notes_.size()));
  note.set_text(request->text());
  note.set_author_user_id(caller->user_id);
  note.set_author_username(caller->username);
  *response->mutable_note() = note;
  return grpc::Status::OK;
}

std::unique_ptr<grpc::Server> StartNotesServer(
    NotesService* service, const std::string& listen_address,
    std::shared_ptr<const tac::Validator> validator, int* selected_port) {
  // Which methods only read; every other one is a write.
  tac::AuthProcessorOptions auth;
  auth.methods["/notes.v1.NotesService/ListNotes"] = tac::Access::kRead;
  auth.methods["/grpc.health.v1.Health/Check"] = tac::Access::kPublic;
  auth.methods["/grpc.health.v1.Health/Watch"] = tac::Access::kPublic;

  auto creds = tac::InsecureServerCredentials();
  creds->SetAuthMetadataProcessor(
      std::make_shared<tac::AuthProcessor>(std::move(validator), auth));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen_address, creds, selected_port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

}  // namespace notes
