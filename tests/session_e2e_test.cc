// Sessions, CSRF and the lockout through the real server binary, as an
// operator would check them with grpcurl.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"
#include "tokenauth/v1/session_service.grpc.pb.h"

namespace tokenauth::e2e {
namespace {

using ::grpc::StatusCode;
using ::testing::HasSubstr;

struct SessionHeaders {
  std::string session_id;
  std::string csrf_token;  // Empty: not sent.
};

std::unique_ptr<grpc::ClientContext> SessionContext(const SessionHeaders& s) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  context->AddMetadata("x-session-id", s.session_id);
  if (!s.csrf_token.empty()) context->AddMetadata("x-csrf-token", s.csrf_token);
  return context;
}

class SessionE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerHarness::Options options;
    options.env["LOGIN_LOCKOUT_PERIOD"] = "2s";
    server_ = new ServerHarness(options);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->LogTail(); }

  grpc::Status Login(const std::string& user, const std::string& password,
                     v1::LoginResponse* response) {
    v1::LoginRequest request;
    request.set_username(user);
    request.set_password(password);
    request.set_user_agent("session_e2e_test");
    return server_->AuthStub()->Login(
        ServerHarness::Context(Caller::None()).get(), request, response);
  }
  SessionHeaders MustLogin(const std::string& user,
                           const std::string& password) {
    v1::LoginResponse response;
    grpc::Status status = Login(user, password, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.session_id(), response.csrf_token()};
  }
  grpc::Status List(const SessionHeaders& s) {
    v1::ListTokensResponse response;
    return server_->TokenStub()->ListTokens(SessionContext(s).get(),
                                            v1::ListTokensRequest(), &response);
  }
  grpc::Status Create(const SessionHeaders& s) {
    v1::CreateTokenRequest request;
    request.set_name("from a session");
    request.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_WRITE);
    v1::CreateTokenResponse response;
    return server_->TokenStub()->CreateToken(SessionContext(s).get(), request,
                                             &response);
  }

  static ServerHarness* server_;
};

ServerHarness* SessionE2eTest::server_ = nullptr;

TEST_F(SessionE2eTest, ReadWithSessionWriteNeedsCsrfLogoutEndsIt) {
  server_->MustCreateUser("alice", "alice-password");
  v1::LoginResponse login;
  ASSERT_TRUE(Login("alice", "alice-password", &login).ok());
  EXPECT_EQ(login.session_id().size(), 32u);
  EXPECT_EQ(login.csrf_token().size(), 32u);
  EXPECT_EQ(login.session().handle().size(), 12u);
  EXPECT_EQ(login.session().user_agent(), "session_e2e_test");
  EXPECT_THAT(login.session().peer(), HasSubstr("127.0.0.1"));
  const SessionHeaders read_only{login.session_id(), ""};
  const SessionHeaders both{login.session_id(), login.csrf_token()};

  EXPECT_TRUE(List(read_only).ok());
  grpc::Status no_csrf = Create(read_only);
  EXPECT_EQ(no_csrf.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(no_csrf.error_message(), HasSubstr("CSRF"));
  grpc::Status wrong_csrf = Create({login.session_id(), std::string(32, 'x')});
  EXPECT_EQ(wrong_csrf.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(wrong_csrf.error_message(), HasSubstr("CSRF"));
  EXPECT_TRUE(Create(both).ok());

  v1::LogoutResponse out;
  ASSERT_TRUE(
      server_->AuthStub()
          ->Logout(SessionContext(both).get(), v1::LogoutRequest(), &out)
          .ok());
  EXPECT_EQ(List(read_only).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Create(both).error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(SessionE2eTest, AuthenticateAcceptsSessions) {
  server_->MustCreateUser("carol", "carol-password");
  SessionHeaders s = MustLogin("carol", "carol-password");
  v1::AuthenticateRequest request;
  request.mutable_session()->set_session_id(s.session_id);
  request.set_operation(v1::OPERATION_READ);
  v1::AuthenticateResponse response;
  ASSERT_TRUE(server_->AuthStub()
                  ->Authenticate(ServerHarness::Context(Caller::None()).get(),
                                 request, &response)
                  .ok());
  EXPECT_EQ(response.principal().username(), "carol");
  EXPECT_EQ(response.credential_kind(), v1::CREDENTIAL_KIND_SESSION);
  EXPECT_FALSE(response.session().handle().empty());
  request.set_operation(v1::OPERATION_WRITE);
  grpc::Status write = server_->AuthStub()->Authenticate(
      ServerHarness::Context(Caller::None()).get(), request, &response);
  EXPECT_EQ(write.error_code(), StatusCode::PERMISSION_DENIED);
  request.mutable_session()->set_csrf_token(s.csrf_token);
  EXPECT_TRUE(server_->AuthStub()
                  ->Authenticate(ServerHarness::Context(Caller::None()).get(),
                                 request, &response)
                  .ok());
}

TEST_F(SessionE2eTest, ElevenWrongPasswordsLockTheAccountForThePeriod) {
  server_->MustCreateUser("bob", "bob-password");
  for (int i = 0; i < 11; ++i) {
    EXPECT_EQ(
        server_->AuthenticateBasic("bob", "wrong-password", v1::OPERATION_READ)
            .error_code(),
        StatusCode::UNAUTHENTICATED);
  }
  grpc::Status locked =
      server_->AuthenticateBasic("bob", "bob-password", v1::OPERATION_READ);
  EXPECT_EQ(locked.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(locked.error_message(), HasSubstr("locked"));
  v1::LoginResponse login;
  EXPECT_EQ(Login("bob", "bob-password", &login).error_code(),
            StatusCode::UNAUTHENTICATED);
  v1::ListTokensResponse list;
  EXPECT_EQ(server_
                ->ListTokens(Caller::Basic("bob", "bob-password"),
                             v1::ListTokensRequest(), &list)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
  absl::SleepFor(absl::Seconds(2.2));  // LOGIN_LOCKOUT_PERIOD=2s.
  EXPECT_TRUE(
      server_->AuthenticateBasic("bob", "bob-password", v1::OPERATION_READ)
          .ok());
}

TEST_F(SessionE2eTest, SixtyFourParallelGuessesEvaluateAtMostTen) {
  server_->MustCreateUser("dave", "dave-password");
  std::atomic<int> wrong{0}, locked{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&] {
      grpc::Status s =
          server_->AuthenticateBasic("dave", "guess", v1::OPERATION_READ);
      if (s.error_message() == "basic: wrong username or password") {
        ++wrong;
      } else if (absl::StrContains(s.error_message(), "locked")) {
        ++locked;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 10);
  EXPECT_EQ(locked.load(), 54);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(SessionE2eTest, PasswordChangeEndsTheOtherSession) {
  server_->MustCreateUser("erin", "erin-password");
  SessionHeaders one = MustLogin("erin", "erin-password");
  SessionHeaders two = MustLogin("erin", "erin-password");
  ASSERT_TRUE(List(two).ok());
  v1::SetPasswordRequest request;
  request.set_current_password("erin-password");
  request.set_new_password("erin-password-2");
  v1::SetPasswordResponse response;
  ASSERT_TRUE(server_->UserStub()
                  ->SetPassword(SessionContext(one).get(), request, &response)
                  .ok());
  EXPECT_EQ(List(two).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(List(one).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(
      server_->AuthenticateBasic("erin", "erin-password-2", v1::OPERATION_READ)
          .ok());
}

TEST_F(SessionE2eTest, ListAndRevokeSessionsNeverShowTheSecrets) {
  server_->MustCreateUser("fay", "fay-password");
  SessionHeaders one = MustLogin("fay", "fay-password");
  SessionHeaders two = MustLogin("fay", "fay-password");
  auto sessions = v1::SessionService::NewStub(server_->channel());
  v1::ListSessionsResponse list;
  ASSERT_TRUE(sessions
                  ->ListSessions(SessionContext(one).get(),
                                 v1::ListSessionsRequest(), &list)
                  .ok());
  ASSERT_EQ(list.sessions_size(), 2);
  const std::string bytes = list.SerializeAsString();
  for (const SessionHeaders& s : {one, two}) {
    EXPECT_EQ(bytes.find(s.session_id), std::string::npos);
    EXPECT_EQ(bytes.find(s.csrf_token), std::string::npos);
  }
  v1::RevokeSessionRequest revoke;
  revoke.set_handle(list.sessions(0).handle());
  v1::RevokeSessionResponse revoked;
  // A write: the CSRF token is required.
  EXPECT_EQ(sessions
                ->RevokeSession(SessionContext({one.session_id, ""}).get(),
                                revoke, &revoked)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(
      sessions->RevokeSession(SessionContext(one).get(), revoke, &revoked)
          .ok());
  EXPECT_EQ(List(two).error_code(), StatusCode::UNAUTHENTICATED);  // Newest.
  v1::RevokeAllSessionsResponse all;
  ASSERT_TRUE(sessions
                  ->RevokeAllSessions(SessionContext(one).get(),
                                      v1::RevokeAllSessionsRequest(), &all)
                  .ok());
  EXPECT_EQ(all.revoked_count(), 1);
  EXPECT_EQ(List(one).error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(SessionE2eTest, MalformedSessionMetadataIsUnauthenticated) {
  server_->MustCreateUser("gus", "gus-password");
  SessionHeaders s = MustLogin("gus", "gus-password");
  auto call = [&](std::vector<std::pair<std::string, std::string>> md) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    for (auto& [k, v] : md) context.AddMetadata(k, v);
    v1::ListTokensResponse response;
    return server_->TokenStub()->ListTokens(&context, v1::ListTokensRequest(),
                                            &response);
  };
  grpc::Status orphan = call({{"x-csrf-token", s.csrf_token}});
  EXPECT_EQ(orphan.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(orphan.error_message(), HasSubstr("x-csrf-token"));
  grpc::Status both =
      call({{"x-session-id", s.session_id},
            {"authorization", "Basic Z3VzOmd1cy1wYXNzd29yZA=="}});
  EXPECT_EQ(both.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(both.error_message(), HasSubstr("two credentials"));
  grpc::Status malformed = call({{"x-session-id", "not-a-session"}});
  EXPECT_EQ(malformed.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(malformed.error_message().find("not-a-session"), std::string::npos);
  grpc::Status huge = call({{"x-session-id", std::string(9000, 'a')}});
  EXPECT_EQ(huge.error_code(), StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace tokenauth::e2e
