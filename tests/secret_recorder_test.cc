// Tests for the run recorder (tests/secret_recorder.h): which fields and
// metadata count as secrets, that calls through a recording channel write
// secrets.tsv (mode 0600) and errors.tsv, and that a response carrying the
// SHA-256 of a token is a test failure and a violations.tsv line. The calls go
// to an in-process fake on a loopback port.
#include "tests/secret_recorder.h"

#include <grpcpp/generic/generic_stub.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/token_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "tokenauth/v1/auth_service.grpc.pb.h"
#include "tokenauth/v1/token_service.grpc.pb.h"
#include "tokenauth/v1/user_service.pb.h"

namespace tokenauth::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Pair = std::pair<std::string, std::string>;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// A fresh value per call: the recorder writes each secret once per process.
std::string Fresh(absl::string_view what) {
  static int n = 0;
  return absl::StrCat(what, "-", getpid(), "-", ++n, "-0123456789");
}

TEST(SecretsInMessageTest, FindsEveryKindByFieldName) {
  v1::CreateUserRequest create_user;
  create_user.set_username("alice");
  create_user.set_password("alice-password");
  EXPECT_THAT(SecretsInMessage(create_user),
              UnorderedElementsAre(Pair("password", "alice-password")));

  v1::SetPasswordRequest set_password;
  set_password.set_current_password("old-password");
  set_password.set_new_password("new-password");
  EXPECT_THAT(SecretsInMessage(set_password),
              UnorderedElementsAre(Pair("password", "old-password"),
                                   Pair("password", "new-password")));

  v1::AuthenticateRequest by_token;
  by_token.set_token("tka_x");
  EXPECT_THAT(SecretsInMessage(by_token),
              UnorderedElementsAre(Pair("token", "tka_x")));
  v1::AuthenticateRequest by_session;
  by_session.mutable_session()->set_session_id("sid");
  by_session.mutable_session()->set_csrf_token("csrf");
  EXPECT_THAT(
      SecretsInMessage(by_session),
      UnorderedElementsAre(Pair("session", "sid"), Pair("csrf", "csrf")));
  v1::AuthenticateRequest by_basic;
  by_basic.mutable_basic()->set_username("bob");
  by_basic.mutable_basic()->set_password("bob-password");
  EXPECT_THAT(SecretsInMessage(by_basic),
              UnorderedElementsAre(Pair("password", "bob-password")));

  v1::LoginResponse login;
  login.set_session_id("sid2");
  login.set_csrf_token("csrf2");
  EXPECT_THAT(
      SecretsInMessage(login),
      UnorderedElementsAre(Pair("session", "sid2"), Pair("csrf", "csrf2")));

  v1::CreateTokenResponse created;
  created.set_value("tka_created");
  created.mutable_token()->set_hint("tka_abc...xyz");
  created.mutable_token()->set_name("ci");
  EXPECT_THAT(SecretsInMessage(created),
              UnorderedElementsAre(Pair("token", "tka_created")));
  v1::RotateTokenResponse rotated;
  rotated.set_value("tka_rotated");
  EXPECT_THAT(SecretsInMessage(rotated),
              UnorderedElementsAre(Pair("token", "tka_rotated")));

  v1::GetTokenResponse get;
  get.mutable_token()->set_hint("tka_abc...xyz");
  EXPECT_TRUE(SecretsInMessage(get).empty());
}

TEST(SecretsInMetadataTest, FindsCredentialHeaders) {
  const std::string basic = absl::Base64Escape("carol:carol-password");
  std::multimap<std::string, std::string> metadata = {
      {"authorization", absl::StrCat("Basic ", basic)},
      {"x-session-id", "sid"},
      {"x-csrf-token", "csrf"},
      {"x-request-id", "not-a-secret"},
  };
  EXPECT_THAT(SecretsInMetadata(metadata),
              UnorderedElementsAre(
                  Pair("basic", basic), Pair("password", "carol-password"),
                  Pair("session", "sid"), Pair("csrf", "csrf")));
  EXPECT_THAT(SecretsInMetadata({{"authorization", "bearer tka_y"}}),
              UnorderedElementsAre(Pair("token", "tka_y")));
}

// Answers CreateToken with the value it is told, GetToken with a hint it is
// told (the test plants a hash there), Login with a session, RevokeToken
// with an error.
class FakeService : public v1::TokenService::Service,
                    public v1::AuthService::Service {
 public:
  std::string value;
  std::string hint;
  grpc::Status CreateToken(grpc::ServerContext*, const v1::CreateTokenRequest*,
                           v1::CreateTokenResponse* response) override {
    response->set_value(value);
    return grpc::Status::OK;
  }
  grpc::Status GetToken(grpc::ServerContext*, const v1::GetTokenRequest*,
                        v1::GetTokenResponse* response) override {
    response->mutable_token()->set_hint(hint);
    return grpc::Status::OK;
  }
  grpc::Status RevokeToken(grpc::ServerContext*, const v1::RevokeTokenRequest*,
                           v1::RevokeTokenResponse*) override {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "id: no such token");
  }
  grpc::Status Login(grpc::ServerContext*, const v1::LoginRequest*,
                     v1::LoginResponse* response) override {
    response->set_session_id(value + "-session");
    response->set_csrf_token(value + "-csrf");
    return grpc::Status::OK;
  }
};

class RecordingChannelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Before the recorder's first use, which reads it once per process.
    dir_ = new std::string(
        absl::StrCat(::testing::TempDir(), "secret_recorder_test_", getpid()));
    setenv("TOKENAUTH_TEST_RUN_DIR", dir_->c_str(), 1);
  }
  void SetUp() override {
    ASSERT_EQ(TestRunDir(), *dir_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(static_cast<v1::TokenService::Service*>(&service_));
    builder.RegisterService(static_cast<v1::AuthService::Service*>(&service_));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = NewRecordingChannel(absl::StrCat("127.0.0.1:", port));
  }
  void TearDown() override { server_->Shutdown(); }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    return context;
  }

  static std::string* dir_;
  FakeService service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};
std::string* RecordingChannelTest::dir_ = nullptr;

TEST_F(RecordingChannelTest, RecordsSecretsAndErrors) {
  service_.value = Fresh("tka_value");
  const std::string bearer = Fresh("tka_bearer");
  const std::string password = Fresh("password");
  auto tokens = v1::TokenService::NewStub(channel_);
  auto auth = v1::AuthService::NewStub(channel_);

  auto context = Context();
  context->AddMetadata("authorization", absl::StrCat("Bearer ", bearer));
  v1::CreateTokenRequest create;
  create.set_name("ci");
  v1::CreateTokenResponse created;
  ASSERT_TRUE(tokens->CreateToken(context.get(), create, &created).ok());

  v1::LoginRequest login;
  login.set_username("alice");
  login.set_password(password);
  v1::LoginResponse session;
  ASSERT_TRUE(auth->Login(Context().get(), login, &session).ok());

  v1::RevokeTokenRequest revoke;
  revoke.set_id("AbCdEfGhIjKl");
  v1::RevokeTokenResponse revoked;
  EXPECT_EQ(tokens->RevokeToken(Context().get(), revoke, &revoked).error_code(),
            grpc::StatusCode::NOT_FOUND);

  const std::string secrets = ReadFile(*dir_ + "/secrets.tsv");
  EXPECT_THAT(secrets, HasSubstr(absl::StrCat("token\t", bearer, "\n")));
  EXPECT_THAT(secrets,
              HasSubstr(absl::StrCat("token\t", service_.value, "\n")));
  EXPECT_THAT(secrets, HasSubstr(absl::StrCat("password\t", password, "\n")));
  EXPECT_THAT(secrets, HasSubstr(absl::StrCat("session\t", service_.value,
                                              "-session\n")));
  EXPECT_THAT(secrets,
              HasSubstr(absl::StrCat("csrf\t", service_.value, "-csrf\n")));
  struct stat st;
  ASSERT_EQ(stat((*dir_ + "/secrets.tsv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_THAT(ReadFile(*dir_ + "/errors.tsv"),
              HasSubstr("\t/tokenauth.v1.TokenService/RevokeToken\t5\tid: no "
                        "such token\t"));
}

TEST_F(RecordingChannelTest, AResponseCarryingATokenHashFails) {
  auto tokens = v1::TokenService::NewStub(channel_);
  service_.value = Fresh("tka_hashed");
  v1::CreateTokenRequest create;
  create.set_name("ci");
  v1::CreateTokenResponse created;
  ASSERT_TRUE(tokens->CreateToken(Context().get(), create, &created).ok());
  const std::string hex = TokenFormat::Hash(service_.value);
  const std::string base64 = absl::Base64Escape(absl::HexStringToBytes(hex));

  for (const auto& [planted, form] :
       {Pair("clean-hint", ""), Pair(hex, "(hex)"),
        Pair(absl::StrCat("x", base64), "(base64)")}) {
    service_.hint = planted;
    ::testing::TestPartResultArray failures;
    {
      ::testing::ScopedFakeTestPartResultReporter reporter(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS,
          &failures);
      v1::GetTokenRequest get;
      get.set_id("AbCdEfGhIjKl");
      v1::GetTokenResponse got;
      EXPECT_TRUE(tokens->GetToken(Context().get(), get, &got).ok());
    }
    if (form.empty()) {
      EXPECT_EQ(failures.size(), 0);
      continue;
    }
    ASSERT_EQ(failures.size(), 1) << form;
    const std::string message = failures.GetTestPartResult(0).message();
    EXPECT_THAT(message, HasSubstr(absl::StrCat("GetToken: the response "
                                                "carries SHA-256 ",
                                                form, " of a token")));
    EXPECT_THAT(message, Not(HasSubstr(service_.value)));
    EXPECT_THAT(ReadFile(*dir_ + "/violations.tsv"),
                HasSubstr(absl::StrCat("GetToken\tresponse carries SHA-256 ",
                                       form, " of a token")));
  }
}

TEST_F(RecordingChannelTest, GenericStubCallsAreReadFromTheirBytes) {
  service_.value = Fresh("generic");
  v1::LoginRequest login;
  login.set_username("alice");
  login.set_password(Fresh("generic-password"));
  const std::string serialized = login.SerializeAsString();
  grpc::Slice slice(serialized);
  grpc::ByteBuffer request(&slice, 1);
  // The way server_e2e_test sends raw bytes; the response is a ByteBuffer,
  // not a message, and must be left alone.
  grpc::GenericStub stub(channel_);
  grpc::CompletionQueue cq;
  auto context = Context();
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(context.get(), "/tokenauth.v1.AuthService/Login",
                            request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string secrets = ReadFile(*dir_ + "/secrets.tsv");
  EXPECT_THAT(secrets, HasSubstr(absl::StrCat("password\t", login.password())));
  EXPECT_THAT(secrets, Not(HasSubstr(service_.value)));
}

}  // namespace
}  // namespace tokenauth::e2e
