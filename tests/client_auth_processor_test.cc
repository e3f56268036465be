// AuthProcessor and PrincipalFromContext (client/auth_processor.h) in a real
// gRPC backend, over client::InsecureServerCredentials and gRPC's own local
// credentials, against an in-process fake tokenauth.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/client_fake_tokenauth.h"
#include "tokenauth/client/auth_processor.h"
#include "tokenauth/client/call_credentials.h"
#include "tokenauth/client/server_credentials.h"
#include "tokenauth/v1/user_service.grpc.pb.h"

namespace tokenauth::client {
namespace {

using testing::FakeTokenauth;

constexpr char kGetUser[] = "/tokenauth.v1.UserService/GetUser";
constexpr char kEnableUser[] = "/tokenauth.v1.UserService/EnableUser";
constexpr char kDisableUser[] = "/tokenauth.v1.UserService/DisableUser";

// A backend that answers with the principal of each call (UserService is
// only a convenient, already generated service).
class Backend final : public v1::UserService::Service {
 public:
  grpc::Status GetUser(grpc::ServerContext* context, const v1::GetUserRequest*,
                       v1::GetUserResponse* response) override {
    return Answer(*context, response->mutable_user());
  }
  grpc::Status CreateUser(grpc::ServerContext* context,
                          const v1::CreateUserRequest*,
                          v1::CreateUserResponse* response) override {
    return Answer(*context, response->mutable_user());
  }
  grpc::Status DisableUser(grpc::ServerContext* context,
                           const v1::DisableUserRequest*,
                           v1::DisableUserResponse* response) override {
    return Answer(*context, response->mutable_user());
  }
  // Public in these tests: says whether it saw a credential or a principal.
  grpc::Status EnableUser(grpc::ServerContext* context,
                          const v1::EnableUserRequest*,
                          v1::EnableUserResponse* response) override {
    ++handled;
    const bool header = context->client_metadata().count("authorization") > 0;
    response->mutable_user()->set_username(absl::StrCat(
        header ? "header" : "no-header", "/",
        PrincipalFromContext(*context) ? "principal" : "anonymous"));
    return grpc::Status::OK;
  }

  std::atomic<int> handled{0};

 private:
  grpc::Status Answer(const grpc::ServerContext& context, v1::User* user) {
    ++handled;
    std::optional<Principal> principal = PrincipalFromContext(context);
    if (!principal.has_value()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "backend: no principal");
    }
    user->set_id(principal->user_id);
    user->set_username(principal->username);
    user->set_admin(principal->admin);
    user->set_disabled(principal->credential_kind ==
                       v1::CREDENTIAL_KIND_SESSION);  // Just to see it.
    return grpc::Status::OK;
  }
};

AuthProcessorOptions TestRules() {
  AuthProcessorOptions options;
  options.methods[kGetUser] = {Access::kRead, {}};
  options.methods[kEnableUser] = {Access::kPublic, {}};
  options.methods[kDisableUser] = {Access::kRead, {"users:admin"}};
  return options;  // CreateUser: the default, a write.
}

class AuthProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    validator_ = std::make_shared<Validator>(fake_.NewChannel());
    Start(InsecureServerCredentials(), grpc::InsecureChannelCredentials());
  }
  void TearDown() override { Stop(); }

  void Start(std::shared_ptr<grpc::ServerCredentials> server_creds,
             std::shared_ptr<grpc::ChannelCredentials> channel_creds) {
    Stop();
    server_creds->SetAuthMetadataProcessor(
        std::make_shared<AuthProcessor>(validator_, TestRules()));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", server_creds, &port);
    builder.RegisterService(&backend_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::UserService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), channel_creds));
  }
  void Stop() {
    stub_.reset();
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
    }
  }

  // Calls GetUser (a read) or CreateUser (a write) with `setup` applied to
  // the context; *user gets the backend's answer.
  grpc::Status Call(bool write,
                    const std::function<void(grpc::ClientContext&)>& setup,
                    v1::User* user = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    setup(context);
    v1::User ignored;
    if (user == nullptr) user = &ignored;
    if (write) {
      v1::CreateUserResponse response;
      grpc::Status s =
          stub_->CreateUser(&context, v1::CreateUserRequest(), &response);
      *user = response.user();
      return s;
    }
    v1::GetUserResponse response;
    grpc::Status s = stub_->GetUser(&context, v1::GetUserRequest(), &response);
    *user = response.user();
    return s;
  }
  static std::function<void(grpc::ClientContext&)> Bearer(std::string token) {
    return [token](grpc::ClientContext& c) { SetBearer(c, token); };
  }

  FakeTokenauth fake_;
  std::shared_ptr<Validator> validator_;
  Backend backend_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

TEST_F(AuthProcessorTest, AGoodTokenReachesTheHandlerWithItsPrincipal) {
  const std::string token = fake_.AddToken(7, "alice", false, /*admin=*/true);
  for (bool write : {false, true}) {
    v1::User user;
    grpc::Status status = Call(write, Bearer(token), &user);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(user.username(), "alice");
    EXPECT_EQ(user.id(), 7);
    EXPECT_TRUE(user.admin());
    EXPECT_EQ(fake_.last_request().operation(),
              write ? v1::OPERATION_WRITE : v1::OPERATION_READ);
  }
}

TEST_F(AuthProcessorTest, NoCredentialIsUnauthenticated) {
  grpc::Status status = Call(false, [](grpc::ClientContext&) {});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("missing"), std::string::npos);
  EXPECT_EQ(backend_.handled, 0);
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(AuthProcessorTest, UnknownTokenIsUnauthenticated) {
  FakeTokenauth other;
  const std::string stranger = other.AddToken(1, "mallory");
  EXPECT_EQ(Call(false, Bearer(stranger)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(backend_.handled, 0);
}

TEST_F(AuthProcessorTest, MalformedCredentialsNeverReachTokenauth) {
  const std::string token = fake_.AddToken(7, "alice");
  std::string forged = token;
  forged[8] = forged[8] == 'a' ? 'b' : 'a';
  const std::vector<std::function<void(grpc::ClientContext&)>> cases = {
      Bearer(forged),
      [](grpc::ClientContext& c) { c.AddMetadata("authorization", "Token x"); },
      [](grpc::ClientContext& c) {
        c.AddMetadata("authorization", "Basic !!notbase64");
      },
      [&](grpc::ClientContext& c) {
        SetBearer(c, token);
        SetBearer(c, token);
      },
      [&](grpc::ClientContext& c) {
        SetBearer(c, token);
        c.AddMetadata("x-session-id", "abc");
      },
      [](grpc::ClientContext& c) { c.AddMetadata("x-csrf-token", "abc"); },
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    grpc::Status status = Call(false, cases[i]);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << "case " << i << ": " << status.error_message();
    EXPECT_EQ(status.error_message().find(token.substr(4)), std::string::npos);
  }
  EXPECT_EQ(fake_.calls(), 0);
  EXPECT_EQ(backend_.handled, 0);
}

TEST_F(AuthProcessorTest, AReadOnlyTokenMayOnlyRead) {
  const std::string token = fake_.AddToken(8, "bob", /*read_only=*/true);
  EXPECT_TRUE(Call(false, Bearer(token)).ok());
  grpc::Status write = Call(true, Bearer(token));
  EXPECT_EQ(write.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(write.error_message(), "fake: read-only token");
  EXPECT_EQ(backend_.handled, 1);
}

TEST_F(AuthProcessorTest, BasicAndSessionCredentialsWork) {
  fake_.AddBasic(9, "carol", "pa:ss");
  v1::User user;
  ASSERT_TRUE(Call(
                  true,
                  [](grpc::ClientContext& c) { SetBasic(c, "carol", "pa:ss"); },
                  &user)
                  .ok());
  EXPECT_EQ(user.username(), "carol");
  EXPECT_EQ(fake_.last_request().basic().password(), "pa:ss");

  fake_.AddSession(10, "dave", "sid-1", "csrf-1");
  auto session = [](const char* csrf) {
    return [csrf](grpc::ClientContext& c) { SetSession(c, "sid-1", csrf); };
  };
  ASSERT_TRUE(Call(false, session(""), &user).ok());
  EXPECT_EQ(user.username(), "dave");
  EXPECT_TRUE(user.disabled());  // Marks CREDENTIAL_KIND_SESSION here.
  EXPECT_EQ(Call(true, session("")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call(true, session("wrong")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Call(true, session("csrf-1")).ok());
}

TEST_F(AuthProcessorTest, PublicMethodsAreAnonymous) {
  const std::string token = fake_.AddToken(7, "alice");
  ASSERT_TRUE(Call(false, Bearer(token)).ok());  // Alice is known now.
  const int calls = fake_.calls();
  for (bool with_token : {false, true}) {
    grpc::ClientContext context;
    if (with_token) SetBearer(context, token);
    v1::EnableUserResponse response;
    grpc::Status status =
        stub_->EnableUser(&context, v1::EnableUserRequest(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.user().username(), "no-header/anonymous");
  }
  EXPECT_EQ(fake_.calls(), calls);
}

TEST_F(AuthProcessorTest, MethodScopesAreRequired) {
  const std::string token = fake_.AddToken(7, "alice");
  grpc::ClientContext context;
  SetBearer(context, token);
  v1::DisableUserResponse response;
  ASSERT_TRUE(
      stub_->DisableUser(&context, v1::DisableUserRequest(), &response).ok());
  EXPECT_EQ(fake_.last_request().operation(), v1::OPERATION_READ);
  ASSERT_EQ(fake_.last_request().required_scopes_size(), 1);
  EXPECT_EQ(fake_.last_request().required_scopes(0), "users:admin");
}

TEST_F(AuthProcessorTest, TokenauthDownIsUnavailable) {
  const std::string token = fake_.AddToken(7, "alice");
  fake_.FailNext(100, grpc::Status(grpc::StatusCode::UNAVAILABLE, "db down"));
  grpc::Status status = Call(false, Bearer(token));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(backend_.handled, 0);
}

TEST_F(AuthProcessorTest, TokenauthBugsAreNotBlamedOnTheCaller) {
  const std::string token = fake_.AddToken(7, "alice");
  fake_.FailNext(1, grpc::Status(grpc::StatusCode::INTERNAL, "oops"));
  EXPECT_EQ(Call(false, Bearer(token)).error_code(),
            grpc::StatusCode::INTERNAL);
  fake_.FailNext(1, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "name"));
  EXPECT_EQ(Call(false, Bearer(token)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// The property AuthContext properties would not have: callers multiplexed
// on one connection each see their own principal.
TEST_F(AuthProcessorTest, EachCallSeesItsOwnPrincipalOnASharedConnection) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    tokens.push_back(fake_.AddToken(100 + i, absl::StrCat("user", i)));
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const int who = (t + i) % 4;
        v1::User user;
        grpc::Status status = Call(i % 2 == 0, Bearer(tokens[who]), &user);
        if (!status.ok() || user.id() != 100 + who ||
            user.username() != absl::StrCat("user", who)) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(backend_.handled, 80);
}

TEST_F(AuthProcessorTest, WorksOnGrpcsOwnSecureCredentials) {
  Start(grpc::experimental::LocalServerCredentials(LOCAL_TCP),
        grpc::experimental::LocalCredentials(LOCAL_TCP));
  const std::string token = fake_.AddToken(7, "alice");
  v1::User user;
  ASSERT_TRUE(Call(true, Bearer(token), &user).ok());
  EXPECT_EQ(user.username(), "alice");
  EXPECT_EQ(Call(false, [](grpc::ClientContext&) {}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(PrincipalFromContextTest, NothingForACredentialNoProcessorChecked) {
  class Plain final : public v1::UserService::Service {
   public:
    grpc::Status GetUser(grpc::ServerContext* context,
                         const v1::GetUserRequest*,
                         v1::GetUserResponse*) override {
      saw = PrincipalFromContext(*context).has_value();
      return grpc::Status::OK;
    }
    bool saw = true;
  } plain;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&plain);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::UserService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  SetBearer(context, "tka_neverseen");
  v1::GetUserResponse response;
  ASSERT_TRUE(stub->GetUser(&context, v1::GetUserRequest(), &response).ok());
  EXPECT_FALSE(plain.saw);
  server->Shutdown(std::chrono::system_clock::now());
}

// Pins the gRPC behaviour that rules out AuthContext properties for a
// per-call principal: the context a processor gets is the connection's.
// If this ever fails, gRPC changed and auth_processor.h can be revisited.
TEST(GrpcAuthContextTest, IsSharedByAllCallsOfAConnection) {
  class Tagger final : public grpc::AuthMetadataProcessor {
   public:
    grpc::Status Process(const InputMetadata& md, grpc::AuthContext* context,
                         OutputMetadata*, OutputMetadata*) override {
      auto it = md.find("x-who");
      if (it != md.end()) context->AddProperty("who", it->second);
      return grpc::Status::OK;
    }
  };
  class Echo final : public v1::UserService::Service {
   public:
    grpc::Status GetUser(grpc::ServerContext* context,
                         const v1::GetUserRequest*,
                         v1::GetUserResponse* response) override {
      for (const grpc::string_ref& v :
           context->auth_context()->FindPropertyValues("who")) {
        response->mutable_user()->mutable_username()->append(
            std::string(v.data(), v.size()) + ";");
      }
      return grpc::Status::OK;
    }
  } echo;
  auto creds = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
  creds->SetAuthMetadataProcessor(std::make_shared<Tagger>());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", creds, &port);
  builder.RegisterService(&echo);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::UserService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                          grpc::experimental::LocalCredentials(LOCAL_TCP)));
  std::string seen;
  for (const char* who : {"alice", "bob"}) {
    grpc::ClientContext context;
    context.AddMetadata("x-who", who);
    v1::GetUserResponse response;
    ASSERT_TRUE(stub->GetUser(&context, v1::GetUserRequest(), &response).ok());
    seen = response.user().username();
  }
  EXPECT_EQ(seen, "alice;bob;") << "bob's call saw alice's property too";
  server->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace tokenauth::client
