// The notes example backend (examples/notes/) in front of the real
// tokenauth-server: the backend runs in this process, authenticated by
// tokenauth::client::AuthProcessor; tokenauth runs as ServerHarness's child.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "notes/notes_server.h"
#include "tests/secret_recorder.h"
#include "tests/server_harness.h"
#include "tokenauth/client/call_credentials.h"
#include "tokenauth/client/validator.h"

namespace tokenauth::e2e {
namespace {

class NotesExampleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerHarness();
    if (!server_->ok()) return;
    server_->MustCreateUser("alice", "alice-password");
    const Caller alice = Caller::Basic("alice", "alice-password");
    rw_token_ =
        new std::string(server_->MustCreateToken(alice, "notes-rw").value());
    ro_token_ = new std::string(
        server_->MustCreateToken(alice, "notes-ro", v1::TOKEN_ACCESS_READ_ONLY)
            .value());
    v1::CreateTokenResponse revoked =
        server_->MustCreateToken(alice, "notes-revoked");
    EXPECT_TRUE(server_->RevokeToken(alice, revoked.token().id()).ok());
    revoked_token_ = new std::string(revoked.value());

    // Recorded like the harness's own channel (tests/secret_recorder.h).
    auto validator = std::make_shared<client::Validator>(
        NewRecordingChannel(server_->address()));
    service_ = new notes::NotesService();
    int port = 0;
    backend_ =
        notes::StartNotesServer(service_, "127.0.0.1:0", validator, &port)
            .release();
    ASSERT_NE(backend_, nullptr);
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  static void TearDownTestSuite() {
    delete channel_;
    if (backend_ != nullptr) {
      backend_->Shutdown(std::chrono::system_clock::now());
      delete backend_;
    }
    delete service_;
    delete rw_token_;
    delete ro_token_;
    delete revoked_token_;
    delete server_;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()); }

  static std::unique_ptr<notes::v1::NotesService::Stub> Stub() {
    return notes::v1::NotesService::NewStub(*channel_);
  }
  static std::unique_ptr<grpc::ClientContext> Context(
      const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    if (!token.empty()) client::SetBearer(*context, token);
    return context;
  }
  static grpc::Status Create(const std::string& token, const std::string& text,
                             notes::v1::Note* note = nullptr) {
    notes::v1::CreateNoteRequest request;
    request.set_text(text);
    notes::v1::CreateNoteResponse response;
    grpc::Status status =
        Stub()->CreateNote(Context(token).get(), request, &response);
    if (note != nullptr) *note = response.note();
    return status;
  }
  static grpc::Status List(const std::string& token,
                           notes::v1::ListNotesResponse* response) {
    return Stub()->ListNotes(Context(token).get(),
                             notes::v1::ListNotesRequest(), response);
  }

  static ServerHarness* server_;
  static std::string* rw_token_;
  static std::string* ro_token_;
  static std::string* revoked_token_;
  static notes::NotesService* service_;
  static grpc::Server* backend_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

ServerHarness* NotesExampleTest::server_ = nullptr;
std::string* NotesExampleTest::rw_token_ = nullptr;
std::string* NotesExampleTest::ro_token_ = nullptr;
std::string* NotesExampleTest::revoked_token_ = nullptr;
notes::NotesService* NotesExampleTest::service_ = nullptr;
grpc::Server* NotesExampleTest::backend_ = nullptr;
std::shared_ptr<grpc::Channel>* NotesExampleTest::channel_ = nullptr;

TEST_F(NotesExampleTest, AGoodTokenWritesAndReadsAsItsUser) {
  notes::v1::Note note;
  grpc::Status status = Create(*rw_token_, "buy milk", &note);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(note.author_username(), "alice");
  EXPECT_GT(note.author_user_id(), 0);

  notes::v1::ListNotesResponse list;
  ASSERT_TRUE(List(*rw_token_, &list).ok());
  EXPECT_EQ(list.viewer(), "alice");
  ASSERT_GE(list.notes_size(), 1);
  EXPECT_EQ(list.notes(list.notes_size() - 1).text(), "buy milk");
}

TEST_F(NotesExampleTest, ARevokedTokenIsUnauthenticated) {
  grpc::Status status = Create(*revoked_token_, "nope");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
  notes::v1::ListNotesResponse list;
  EXPECT_EQ(List(*revoked_token_, &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(NotesExampleTest, NoCredentialIsUnauthenticated) {
  EXPECT_EQ(Create("", "nope").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  notes::v1::ListNotesResponse list;
  EXPECT_EQ(List("", &list).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(NotesExampleTest, AReadOnlyTokenMayReadButNotWrite) {
  grpc::Status write = Create(*ro_token_, "nope");
  EXPECT_EQ(write.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << write.error_message();
  notes::v1::ListNotesResponse list;
  grpc::Status read = List(*ro_token_, &list);
  ASSERT_TRUE(read.ok()) << read.error_message();
  EXPECT_EQ(list.viewer(), "alice");
}

TEST_F(NotesExampleTest, ASessionNeedsItsCsrfTokenToWrite) {
  v1::LoginRequest login;
  login.set_username("alice");
  login.set_password("alice-password");
  v1::LoginResponse session;
  ASSERT_TRUE(
      server_->AuthStub()
          ->Login(ServerHarness::Context(Caller::None()).get(), login, &session)
          .ok());
  notes::v1::CreateNoteRequest request;
  request.set_text("from the browser");
  notes::v1::CreateNoteResponse response;
  auto without = Context("");
  client::SetSession(*without, session.session_id(), "");
  EXPECT_EQ(Stub()->CreateNote(without.get(), request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto with = Context("");
  client::SetSession(*with, session.session_id(), session.csrf_token());
  ASSERT_TRUE(Stub()->CreateNote(with.get(), request, &response).ok());
  EXPECT_EQ(response.note().author_username(), "alice");
}

TEST_F(NotesExampleTest, HealthNeedsNoCredential) {
  auto health = grpc::health::v1::Health::NewStub(*channel_);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(
      Context("").get(), grpc::health::v1::HealthCheckRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace tokenauth::e2e
