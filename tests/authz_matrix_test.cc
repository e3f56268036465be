// Who may do what: every RPC x every kind of caller x the expected code,
// against the real server. The table below is the authorization
// documentation (docs/API.md points here); change it only with the rules.
//
// Each cell gets a fresh owner with fresh tokens and a fresh session, so a
// cell that revokes, rotates or changes a password cannot affect another.
#include <grpcpp/grpcpp.h>

#include <array>
#include <functional>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"
#include "tokenauth/v1/audit_service.grpc.pb.h"
#include "tokenauth/v1/session_service.grpc.pb.h"

namespace tokenauth::e2e {
namespace {

using grpc::StatusCode;
constexpr StatusCode OK = StatusCode::OK;
constexpr StatusCode UNAUTH = StatusCode::UNAUTHENTICATED;
constexpr StatusCode DENIED = StatusCode::PERMISSION_DENIED;
constexpr StatusCode NOT_FOUND = StatusCode::NOT_FOUND;
constexpr StatusCode PRECOND = StatusCode::FAILED_PRECONDITION;

// The callers, in the order of the table's columns.
enum Who {
  kNone,                 // No credential at all.
  kOtherUser,            // Another (non-admin) user, by Basic.
  kOwnerBasic,           // The owner of the resources, by Basic.
  kOwnerSession,         // The owner, by session ID + CSRF token.
  kOwnerSessionNoCsrf,   // The owner, by session ID only.
  kOwnerReadOnlyToken,   // The owner, by a read-only PAT.
  kOwnerReadWriteToken,  // The owner, by a read-write PAT.
  kDisabledUser,         // A disabled user, by Basic.
  kAdmin,                // An admin (not the owner), by Basic.
  kWhoCount,
};
constexpr const char* kWhoNames[] = {
    "none",          "other user",     "owner/basic",    "owner/session+csrf",
    "owner/session", "owner/ro-token", "owner/rw-token", "disabled user",
    "admin"};

// What a cell works on: a fresh owner and their resources.
struct World {
  int64_t owner_id = 0;
  std::string owner_name, owner_password;
  std::string token_id;     // A read-write token of the owner, the target.
  std::string token_value;  // Its value (Authenticate uses it).
  std::string session_handle;
};

using Call = std::function<grpc::Status(ServerHarness&, grpc::ClientContext*,
                                        const World&)>;

struct Row {
  const char* rpc;
  Call call;
  std::array<StatusCode, kWhoCount> expected;
};

template <typename Service>
std::unique_ptr<typename Service::Stub> StubOf(ServerHarness& s) {
  return Service::NewStub(s.channel());
}

// clang-format off
const Row kTable[] = {
//  RPC (target)                   none    other      basic     sess+csrf  session   ro-token   rw-token   disabled admin
  {"TokenService/CreateToken", [](ServerHarness& s, grpc::ClientContext* c, const World&) {
      v1::CreateTokenRequest r; r.set_name("matrix");
      r.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_ONLY);
      v1::CreateTokenResponse out; return s.TokenStub()->CreateToken(c, r, &out); },
                                  {UNAUTH, OK,        OK,       OK,        DENIED,   DENIED,    DENIED,    UNAUTH,  OK}},
  {"TokenService/GetToken (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::GetTokenRequest r; r.set_id(w.token_id);
      v1::GetTokenResponse out; return s.TokenStub()->GetToken(c, r, &out); },
                                  {UNAUTH, NOT_FOUND, OK,       OK,        OK,       OK,        OK,        UNAUTH,  OK}},
  {"TokenService/ListTokens (own)", [](ServerHarness& s, grpc::ClientContext* c, const World&) {
      v1::ListTokensResponse out;
      return s.TokenStub()->ListTokens(c, v1::ListTokensRequest(), &out); },
                                  {UNAUTH, OK,        OK,       OK,        OK,       OK,        OK,        UNAUTH,  OK}},
  {"TokenService/ListTokens (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::ListTokensRequest r; r.set_user_id(w.owner_id);
      v1::ListTokensResponse out; return s.TokenStub()->ListTokens(c, r, &out); },
                                  {UNAUTH, DENIED,    OK,       OK,        OK,       OK,        OK,        UNAUTH,  OK}},
  {"TokenService/UpdateToken (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::UpdateTokenRequest r; r.mutable_token()->set_id(w.token_id);
      r.mutable_token()->set_name("renamed"); r.mutable_update_mask()->add_paths("name");
      v1::UpdateTokenResponse out; return s.TokenStub()->UpdateToken(c, r, &out); },
                                  {UNAUTH, NOT_FOUND, OK,       OK,        DENIED,   DENIED,    DENIED,    UNAUTH,  NOT_FOUND}},
  {"TokenService/RevokeToken (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::RevokeTokenRequest r; r.set_id(w.token_id);
      v1::RevokeTokenResponse out; return s.TokenStub()->RevokeToken(c, r, &out); },
                                  {UNAUTH, NOT_FOUND, OK,       OK,        DENIED,   DENIED,    DENIED,    UNAUTH,  OK}},
  {"TokenService/RotateToken (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::RotateTokenRequest r; r.set_id(w.token_id);
      v1::RotateTokenResponse out; return s.TokenStub()->RotateToken(c, r, &out); },
                                  {UNAUTH, NOT_FOUND, OK,       OK,        DENIED,   DENIED,    DENIED,    UNAUTH,  NOT_FOUND}},
  {"AuthService/Authenticate (owner's token)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::AuthenticateRequest r; r.set_token(w.token_value); r.set_operation(v1::OPERATION_WRITE);
      v1::AuthenticateResponse out; return s.AuthStub()->Authenticate(c, r, &out); },
                                  {OK,     OK,        OK,       OK,        OK,       OK,        OK,        OK,      OK}},
  {"AuthService/Login (owner)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::LoginRequest r; r.set_username(w.owner_name); r.set_password(w.owner_password);
      v1::LoginResponse out; return s.AuthStub()->Login(c, r, &out); },
                                  {OK,     OK,        OK,       OK,        OK,       OK,        OK,        OK,      OK}},
  {"AuthService/Logout", [](ServerHarness& s, grpc::ClientContext* c, const World&) {
      v1::LogoutResponse out; return s.AuthStub()->Logout(c, v1::LogoutRequest(), &out); },
                                  {UNAUTH, PRECOND,   PRECOND,  OK,        DENIED,   DENIED,    PRECOND,   UNAUTH,  PRECOND}},
  {"UserService/CreateUser", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::CreateUserRequest r; r.set_username(w.owner_name + "-new"); r.set_password("new-user-password");
      v1::CreateUserResponse out; return s.UserStub()->CreateUser(c, r, &out); },
                                  {UNAUTH, DENIED,    DENIED,   DENIED,    DENIED,   DENIED,    DENIED,    UNAUTH,  OK}},
  {"UserService/GetUser (owner)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::GetUserRequest r; r.set_user_id(w.owner_id);
      v1::GetUserResponse out; return s.UserStub()->GetUser(c, r, &out); },
                                  {UNAUTH, DENIED,    OK,       OK,        OK,       OK,        OK,        UNAUTH,  OK}},
  {"UserService/DisableUser (owner)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::DisableUserRequest r; r.set_user_id(w.owner_id);
      v1::DisableUserResponse out; return s.UserStub()->DisableUser(c, r, &out); },
                                  {UNAUTH, DENIED,    DENIED,   DENIED,    DENIED,   DENIED,    DENIED,    UNAUTH,  OK}},
  {"UserService/EnableUser (owner)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::EnableUserRequest r; r.set_user_id(w.owner_id);
      v1::EnableUserResponse out; return s.UserStub()->EnableUser(c, r, &out); },
                                  {UNAUTH, DENIED,    DENIED,   DENIED,    DENIED,   DENIED,    DENIED,    UNAUTH,  OK}},
  {"UserService/SetPassword (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::SetPasswordRequest r; r.set_user_id(w.owner_id);
      r.set_current_password(w.owner_password); r.set_new_password("changed-password");
      v1::SetPasswordResponse out; return s.UserStub()->SetPassword(c, r, &out); },
                                  {UNAUTH, DENIED,    OK,       OK,        DENIED,   DENIED,    DENIED,    UNAUTH,  OK}},
  {"SessionService/ListSessions (own)", [](ServerHarness& s, grpc::ClientContext* c, const World&) {
      v1::ListSessionsResponse out;
      return StubOf<v1::SessionService>(s)->ListSessions(c, v1::ListSessionsRequest(), &out); },
                                  {UNAUTH, OK,        OK,       OK,        OK,       OK,        OK,        UNAUTH,  OK}},
  {"SessionService/RevokeSession (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::RevokeSessionRequest r; r.set_handle(w.session_handle);
      v1::RevokeSessionResponse out;
      return StubOf<v1::SessionService>(s)->RevokeSession(c, r, &out); },
                                  {UNAUTH, NOT_FOUND, OK,       OK,        DENIED,   DENIED,    OK,        UNAUTH,  OK}},
  {"SessionService/RevokeAllSessions (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::RevokeAllSessionsRequest r; r.set_user_id(w.owner_id);
      v1::RevokeAllSessionsResponse out;
      return StubOf<v1::SessionService>(s)->RevokeAllSessions(c, r, &out); },
                                  {UNAUTH, DENIED,    OK,       OK,        DENIED,   DENIED,    OK,        UNAUTH,  OK}},
  {"AuditService/ListAuditEvents (owner's)", [](ServerHarness& s, grpc::ClientContext* c, const World& w) {
      v1::ListAuditEventsRequest r; r.set_user_id(w.owner_id);
      v1::ListAuditEventsResponse out;
      return StubOf<v1::AuditService>(s)->ListAuditEvents(c, r, &out); },
                                  {UNAUTH, DENIED,    OK,       OK,        OK,       OK,        OK,        UNAUTH,  OK}},
};
// clang-format on

class AuthzMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerHarness();
    if (!server_->ok()) return;
    server_->MustCreateUser("other", "other-password");
    v1::User disabled =
        server_->MustCreateUser("disabled", "disabled-password");
    v1::DisableUserRequest r;
    r.set_user_id(disabled.id());
    v1::DisableUserResponse out;
    EXPECT_TRUE(server_->UserStub()
                    ->DisableUser(
                        ServerHarness::Context(server_->Admin()).get(), r, &out)
                    .ok());
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);
    delete server_;
    server_ = nullptr;
  }

  // A fresh owner with a target token, two caller tokens and a session.
  struct Cell {
    World world;
    std::string ro_token, rw_token, session_id, csrf_token;
  };
  Cell MakeCell(int n) {
    Cell cell;
    World& w = cell.world;
    w.owner_name = absl::StrCat("owner", n);
    w.owner_password = absl::StrCat("owner-password-", n);
    w.owner_id = server_->MustCreateUser(w.owner_name, w.owner_password).id();
    Caller owner = Caller::Basic(w.owner_name, w.owner_password);
    v1::CreateTokenResponse target = server_->MustCreateToken(owner, "target");
    w.token_id = target.token().id();
    w.token_value = target.value();
    cell.ro_token =
        server_->MustCreateToken(owner, "ro", v1::TOKEN_ACCESS_READ_ONLY)
            .value();
    cell.rw_token =
        server_->MustCreateToken(owner, "rw", v1::TOKEN_ACCESS_READ_WRITE)
            .value();
    v1::LoginRequest login;
    login.set_username(w.owner_name);
    login.set_password(w.owner_password);
    v1::LoginResponse session;
    EXPECT_TRUE(server_->AuthStub()
                    ->Login(ServerHarness::Context(Caller::None()).get(), login,
                            &session)
                    .ok());
    cell.session_id = session.session_id();
    cell.csrf_token = session.csrf_token();
    w.session_handle = session.session().handle();
    return cell;
  }

  std::unique_ptr<grpc::ClientContext> ContextFor(Who who, const Cell& cell) {
    const World& w = cell.world;
    switch (who) {
      case kNone:
        return ServerHarness::Context(Caller::None());
      case kOtherUser:
        return ServerHarness::Context(Caller::Basic("other", "other-password"));
      case kOwnerBasic:
        return ServerHarness::Context(
            Caller::Basic(w.owner_name, w.owner_password));
      case kOwnerSession:
      case kOwnerSessionNoCsrf: {
        auto context = ServerHarness::Context(Caller::None());
        context->AddMetadata("x-session-id", cell.session_id);
        if (who == kOwnerSession) {
          context->AddMetadata("x-csrf-token", cell.csrf_token);
        }
        return context;
      }
      case kOwnerReadOnlyToken:
        return ServerHarness::Context(Caller::Bearer(cell.ro_token));
      case kOwnerReadWriteToken:
        return ServerHarness::Context(Caller::Bearer(cell.rw_token));
      case kDisabledUser:
        return ServerHarness::Context(
            Caller::Basic("disabled", "disabled-password"));
      case kAdmin:
      case kWhoCount:
        break;
    }
    return ServerHarness::Context(server_->Admin());
  }

  static ServerHarness* server_;
};

ServerHarness* AuthzMatrixTest::server_ = nullptr;

TEST_F(AuthzMatrixTest, EveryRpcForEveryCaller) {
  ASSERT_TRUE(server_->ok()) << server_->LogTail();
  int n = 0;
  for (const Row& row : kTable) {
    for (int who = 0; who < kWhoCount; ++who) {
      Cell cell = MakeCell(n++);
      grpc::Status status = row.call(
          *server_, ContextFor(static_cast<Who>(who), cell).get(), cell.world);
      EXPECT_EQ(status.error_code(), row.expected[who])
          << row.rpc << " as " << kWhoNames[who] << ": got "
          << status.error_code() << " \"" << status.error_message() << "\"";
    }
  }
  EXPECT_EQ(n, static_cast<int>(std::size(kTable)) * kWhoCount);
}

}  // namespace
}  // namespace tokenauth::e2e
