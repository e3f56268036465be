// End-to-end tests of the real tokenauth-server binary, called through the
// generated stubs over a loopback port, against a fresh MariaDB database (see
// tests/server_harness.h). Most tests share one server per process (started
// in SetUpTestSuite); tests that need other settings start their own.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/call_credentials.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tokenauth::e2e {
namespace {

using grpc::StatusCode;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// --- Assertion helpers -------------------------------------------------------

std::string CodeName(StatusCode code) {
  static const std::map<int, std::string> kNames = {{0, "OK"},
                                                    {1, "CANCELLED"},
                                                    {2, "UNKNOWN"},
                                                    {3, "INVALID_ARGUMENT"},
                                                    {4, "DEADLINE_EXCEEDED"},
                                                    {5, "NOT_FOUND"},
                                                    {6, "ALREADY_EXISTS"},
                                                    {7, "PERMISSION_DENIED"},
                                                    {8, "RESOURCE_EXHAUSTED"},
                                                    {9, "FAILED_PRECONDITION"},
                                                    {10, "ABORTED"},
                                                    {11, "OUT_OF_RANGE"},
                                                    {12, "UNIMPLEMENTED"},
                                                    {13, "INTERNAL"},
                                                    {14, "UNAVAILABLE"},
                                                    {15, "DATA_LOSS"},
                                                    {16, "UNAUTHENTICATED"}};
  auto it = kNames.find(static_cast<int>(code));
  return it == kNames.end() ? absl::StrCat("code ", code) : it->second;
}

::testing::AssertionResult HasCode(const grpc::Status& status,
                                   StatusCode want) {
  if (status.error_code() == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "want " << CodeName(want) << ", got "
         << CodeName(status.error_code()) << ": \"" << status.error_message()
         << "\"";
}

::testing::AssertionResult IsOk(const grpc::Status& status) {
  return HasCode(status, StatusCode::OK);
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

v1::CreateTokenRequest TokenRequest(absl::string_view name,
                                    v1::TokenAccess access) {
  v1::CreateTokenRequest request;
  request.set_name(std::string(name));
  request.mutable_permissions()->set_access(access);
  return request;
}

v1::UpdateTokenRequest UpdateRequest(const std::string& id,
                                     absl::string_view path) {
  v1::UpdateTokenRequest request;
  request.mutable_token()->set_id(id);
  request.mutable_update_mask()->add_paths(std::string(path));
  return request;
}

v1::ListTokensRequest ListRequest(int64_t user_id = 0, int page_size = 0,
                                  std::string page_token = "") {
  v1::ListTokensRequest request;
  request.set_user_id(user_id);
  request.set_page_size(page_size);
  request.set_page_token(std::move(page_token));
  return request;
}

std::set<std::string> Ids(const v1::ListTokensResponse& response) {
  std::set<std::string> ids;
  for (const v1::Token& t : response.tokens()) ids.insert(t.id());
  return ids;
}

// The secret part of a token value: everything after the embedded id.
std::string SecretTail(const std::string& value, const std::string& id) {
  const size_t at = value.find(id);
  return at == std::string::npos ? value : value.substr(at + id.size());
}

// Field 1 (CreateTokenRequest.name) as raw bytes, whatever they are.
std::string EncodeNameField(absl::string_view name_bytes) {
  std::string out;
  out.push_back('\x0a');  // field 1, wire type 2 (length-delimited)
  size_t n = name_bytes.size();
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    if (n != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n != 0);
  out.append(name_bytes.data(), name_bytes.size());
  return out;
}

// --- The shared server -------------------------------------------------------

class E2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerHarness::Options options;
    // Paging creates 120 tokens for one user.
    options.env["MAX_ACCESS_TOKENS_PER_USER"] = "200";
    server_ = new ServerHarness(options);
    secrets_ = new std::vector<std::string>();
    if (server_->ok()) secrets_->push_back(server_->admin_password());
  }

  static void TearDownTestSuite() {
    if (server_ == nullptr) return;
    if (server_->ok()) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    // Nothing secret may reach the server's output.
    const std::string log = server_->Log();
    for (const std::string& secret : *secrets_) {
      EXPECT_FALSE(absl::StrContains(log, secret))
          << "the server printed a secret (" << secret.size()
          << " bytes, starting \"" << secret.substr(0, 4) << "\")";
    }
    delete server_;
    server_ = nullptr;
    delete secrets_;
    secrets_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(server_ != nullptr && server_->ok())
        << "the shared tokenauth-server did not start (see above)";
  }

  ServerHarness& server() { return *server_; }

  // A fresh username on the shared server.
  static std::string Unique(absl::string_view base) {
    static int counter = 0;
    return absl::StrCat(base, "-", ++counter);
  }

  static void Remember(const std::string& secret) {
    secrets_->push_back(secret);
  }

  struct TestUser {
    v1::User user;
    std::string password;
    Caller basic;
  };
  // A new non-admin user made by the admin.
  TestUser NewUser(absl::string_view base) {
    TestUser u;
    const std::string name = Unique(base);
    u.password = absl::StrCat("pw-", name, "-Zq8rT2vX");
    Remember(u.password);
    u.user = server().MustCreateUser(name, u.password);
    u.basic = Caller::Basic(name, u.password);
    return u;
  }
  // A token of `caller`'s; remembers its value as a secret.
  v1::CreateTokenResponse NewToken(
      const Caller& caller, absl::string_view name,
      v1::TokenAccess access = v1::TOKEN_ACCESS_READ_WRITE) {
    v1::CreateTokenResponse created =
        server().MustCreateToken(caller, name, access);
    if (!created.value().empty()) Remember(created.value());
    return created;
  }

  static ServerHarness* server_;
  static std::vector<std::string>* secrets_;
};

ServerHarness* E2eTest::server_ = nullptr;
std::vector<std::string>* E2eTest::secrets_ = nullptr;

// 1. Health.
TEST_F(E2eTest, HealthServesWholeServerAndEachServiceAndRejectsUnknown) {
  auto health = server().HealthStub();
  for (const std::string service :
       {"", "tokenauth.v1.TokenService", "tokenauth.v1.AuthService",
        "tokenauth.v1.UserService"}) {
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    ASSERT_TRUE(IsOk(health->Check(ServerHarness::Context(Caller::None()).get(),
                                   request, &response)))
        << "service \"" << service << "\"";
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING)
        << "service \"" << service << "\"";
  }
  HealthCheckRequest request;
  request.set_service("tokenauth.v1.NoSuchService");
  HealthCheckResponse response;
  EXPECT_TRUE(
      HasCode(health->Check(ServerHarness::Context(Caller::None()).get(),
                            request, &response),
              StatusCode::NOT_FOUND));
}

// 2. Reflection, as grpcurl uses it.
class Reflection {
 public:
  explicit Reflection(const ServerHarness& server)
      : stub_(grpc::reflection::v1alpha::ServerReflection::NewStub(
            server.channel())),
        context_(ServerHarness::Context(Caller::None())),
        stream_(stub_->ServerReflectionInfo(context_.get())) {}

  ~Reflection() {
    stream_->WritesDone();
    grpc::Status status = stream_->Finish();
    EXPECT_TRUE(IsOk(status)) << "ServerReflectionInfo stream";
  }

  bool Ask(const grpc::reflection::v1alpha::ServerReflectionRequest& request,
           grpc::reflection::v1alpha::ServerReflectionResponse* response) {
    return stream_->Write(request) && stream_->Read(response);
  }

  std::vector<std::string> ListServices() {
    grpc::reflection::v1alpha::ServerReflectionRequest request;
    request.set_list_services("");
    grpc::reflection::v1alpha::ServerReflectionResponse response;
    std::vector<std::string> names;
    if (!Ask(request, &response)) {
      ADD_FAILURE() << "list_services: the stream broke";
      return names;
    }
    EXPECT_TRUE(response.has_list_services_response())
        << response.DebugString();
    for (const auto& s : response.list_services_response().service()) {
      names.push_back(s.name());
    }
    return names;
  }

  // Loads the file defining `symbol` and everything it imports into pool(),
  // asking for missing imports by name, as grpcurl does.
  const google::protobuf::FileDescriptor* LoadSymbol(
      const std::string& symbol) {
    grpc::reflection::v1alpha::ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    std::vector<std::string> names;
    if (!Fetch(request, &names)) return nullptr;
    // The answer holds the defining file and the imports not sent before on
    // this stream, in no promised order.
    for (const std::string& name : names) {
      if (Build(name) == nullptr) return nullptr;
    }
    const google::protobuf::FileDescriptor* file =
        pool_.FindFileContainingSymbol(symbol);
    if (file == nullptr) {
      ADD_FAILURE() << "reflection: " << symbol << " is in none of the files "
                    << absl::StrJoin(names, ", ");
    }
    return file;
  }

  google::protobuf::DescriptorPool& pool() { return pool_; }

 private:
  // Sends `request` and records every FileDescriptorProto of the answer;
  // `names` gets their names.
  bool Fetch(const grpc::reflection::v1alpha::ServerReflectionRequest& request,
             std::vector<std::string>* names) {
    grpc::reflection::v1alpha::ServerReflectionResponse response;
    if (!Ask(request, &response)) {
      ADD_FAILURE() << "reflection: the stream broke";
      return false;
    }
    if (!response.has_file_descriptor_response()) {
      ADD_FAILURE() << "reflection: no file_descriptor_response for "
                    << request.ShortDebugString() << ": "
                    << response.ShortDebugString();
      return false;
    }
    for (const std::string& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        ADD_FAILURE() << "reflection: unparsable FileDescriptorProto";
        return false;
      }
      names->push_back(file.name());
      files_[file.name()] = file;
    }
    if (names->empty()) {
      ADD_FAILURE() << "reflection: empty file_descriptor_response";
      return false;
    }
    return true;
  }

  const google::protobuf::FileDescriptor* Build(const std::string& name) {
    if (const auto* built = pool_.FindFileByName(name)) return built;
    if (files_.count(name) == 0) {
      grpc::reflection::v1alpha::ServerReflectionRequest request;
      request.set_file_by_filename(name);
      std::vector<std::string> ignored;
      if (!Fetch(request, &ignored) || files_.count(name) == 0) {
        ADD_FAILURE() << "reflection: cannot get " << name;
        return nullptr;
      }
    }
    const google::protobuf::FileDescriptorProto file = files_[name];
    for (const std::string& dependency : file.dependency()) {
      if (Build(dependency) == nullptr) return nullptr;
    }
    const auto* built = pool_.BuildFile(file);
    if (built == nullptr) ADD_FAILURE() << "reflection: cannot build " << name;
    return built;
  }

  std::unique_ptr<grpc::reflection::v1alpha::ServerReflection::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<
      grpc::reflection::v1alpha::ServerReflectionRequest,
      grpc::reflection::v1alpha::ServerReflectionResponse>>
      stream_;
  std::map<std::string, google::protobuf::FileDescriptorProto> files_;
  google::protobuf::DescriptorPool pool_;
};

TEST_F(E2eTest, ReflectionListsEveryServiceAndDescribesThem) {
  Reflection reflection(server());
  std::vector<std::string> services = reflection.ListServices();
  for (const char* want :
       {"tokenauth.v1.TokenService", "tokenauth.v1.AuthService",
        "tokenauth.v1.UserService", "grpc.health.v1.Health"}) {
    EXPECT_NE(std::find(services.begin(), services.end(), want), services.end())
        << want
        << " missing from list_services: " << absl::StrJoin(services, ", ");
  }

  // What `grpcurl ... grpc.health.v1.Health/Check` needs.
  const google::protobuf::FileDescriptor* health =
      reflection.LoadSymbol("grpc.health.v1.Health");
  ASSERT_NE(health, nullptr);
  EXPECT_EQ(health->package(), "grpc.health.v1");
  const google::protobuf::MethodDescriptor* check =
      reflection.pool().FindMethodByName("grpc.health.v1.Health.Check");
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->input_type()->full_name(),
            "grpc.health.v1.HealthCheckRequest");
  EXPECT_EQ(check->output_type()->full_name(),
            "grpc.health.v1.HealthCheckResponse");

  // Our services, with their imports (resources, Timestamp, FieldMask...).
  for (const char* service :
       {"tokenauth.v1.TokenService", "tokenauth.v1.AuthService",
        "tokenauth.v1.UserService"}) {
    EXPECT_NE(reflection.LoadSymbol(service), nullptr) << service;
  }
  const google::protobuf::MethodDescriptor* update =
      reflection.pool().FindMethodByName(
          "tokenauth.v1.TokenService.UpdateToken");
  ASSERT_NE(update, nullptr);
  const google::protobuf::FieldDescriptor* mask =
      update->input_type()->FindFieldByName("update_mask");
  ASSERT_NE(mask, nullptr);
  EXPECT_EQ(mask->message_type()->full_name(), "google.protobuf.FieldMask");
  EXPECT_NE(reflection.pool().FindMethodByName(
                "tokenauth.v1.AuthService.Authenticate"),
            nullptr);
  EXPECT_NE(
      reflection.pool().FindMethodByName("tokenauth.v1.UserService.CreateUser"),
      nullptr);
}

// 3. The walkthrough from the issue.
TEST_F(E2eTest, Walkthrough) {
  // As admin: a user.
  const std::string alice_name = Unique("alice");
  const std::string alice_password = "alice-Walkthrough-pw1";
  Remember(alice_password);
  v1::User alice;
  ASSERT_TRUE(IsOk(server().CreateUser(server().Admin(), alice_name,
                                       alice_password, false, &alice)));
  EXPECT_GT(alice.id(), 0);
  EXPECT_EQ(alice.username(), alice_name);
  EXPECT_FALSE(alice.admin());
  EXPECT_FALSE(alice.disabled());
  const Caller as_alice = Caller::Basic(alice_name, alice_password);

  // As alice: a read-only token.
  v1::CreateTokenResponse created;
  ASSERT_TRUE(IsOk(server().CreateToken(
      as_alice, TokenRequest("ci read", v1::TOKEN_ACCESS_READ_ONLY),
      &created)));
  Remember(created.value());
  const v1::Token& token = created.token();
  EXPECT_TRUE(absl::StartsWith(created.value(), "tka_")) << "default prefix";
  EXPECT_FALSE(token.id().empty());
  EXPECT_EQ(token.name(), "ci read");
  EXPECT_EQ(token.user_id(), alice.id());
  EXPECT_EQ(token.permissions().access(), v1::TOKEN_ACCESS_READ_ONLY);
  EXPECT_EQ(token.state(), v1::TOKEN_STATE_ACTIVE);
  EXPECT_TRUE(token.has_create_time());
  EXPECT_FALSE(token.has_expire_time());
  EXPECT_FALSE(token.has_revoke_time());

  // It authenticates reads...
  v1::AuthenticateResponse auth;
  ASSERT_TRUE(IsOk(
      server().AuthenticateToken(created.value(), v1::OPERATION_READ, &auth)));
  EXPECT_EQ(auth.principal().user_id(), alice.id());
  EXPECT_EQ(auth.principal().username(), alice_name);
  EXPECT_FALSE(auth.principal().admin());
  EXPECT_EQ(auth.credential_kind(), v1::CREDENTIAL_KIND_ACCESS_TOKEN);
  EXPECT_EQ(auth.token().id(), token.id());
  EXPECT_EQ(auth.token().name(), "ci read");
  EXPECT_EQ(auth.token().permissions().access(), v1::TOKEN_ACCESS_READ_ONLY);
  EXPECT_FALSE(auth.token().has_expire_time());
  // ...but not writes.
  EXPECT_TRUE(
      HasCode(server().AuthenticateToken(created.value(), v1::OPERATION_WRITE),
              StatusCode::PERMISSION_DENIED));
  // An operation is required, and must be one this server knows.
  EXPECT_TRUE(HasCode(
      server().AuthenticateToken(created.value(), v1::OPERATION_UNSPECIFIED),
      StatusCode::INVALID_ARGUMENT));
  grpc::Status unknown_op = server().AuthenticateToken(
      created.value(), static_cast<v1::Operation>(99));
  EXPECT_TRUE(HasCode(unknown_op, StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(unknown_op.error_message(),
            "operation: unknown value 99 (OPERATION_READ or OPERATION_WRITE)");
  // Required scopes follow the rule of a token's scopes, and a malformed one
  // is named, not just missing.
  auto with_scopes = [&](const std::vector<std::string>& scopes) {
    v1::AuthenticateRequest request;
    request.set_token(created.value());
    request.set_operation(v1::OPERATION_READ);
    for (const std::string& scope : scopes) request.add_required_scopes(scope);
    v1::AuthenticateResponse ignored;
    return server().AuthStub()->Authenticate(
        ServerHarness::Context(Caller::None()).get(), request, &ignored);
  };
  EXPECT_TRUE(IsOk(with_scopes({"tasks:read", "projects:read"})));
  grpc::Status bad_scope = with_scopes({"tasks:read", "bad scope!"});
  EXPECT_TRUE(HasCode(bad_scope, StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(
      absl::StartsWith(bad_scope.error_message(), "required_scopes[1]: "))
      << bad_scope.error_message();
  EXPECT_TRUE(HasCode(with_scopes(std::vector<std::string>(33, "a")),
                      StatusCode::INVALID_ARGUMENT));

  // Rename it. Only the masked field changes.
  v1::UpdateTokenRequest rename = UpdateRequest(token.id(), "name");
  rename.mutable_token()->set_name("ci read (renamed)");
  rename.mutable_token()->mutable_permissions()->set_access(
      v1::TOKEN_ACCESS_READ_WRITE);
  v1::Token renamed;
  ASSERT_TRUE(IsOk(server().UpdateToken(as_alice, rename, &renamed)));
  EXPECT_EQ(renamed.id(), token.id());
  EXPECT_EQ(renamed.name(), "ci read (renamed)");
  EXPECT_EQ(renamed.permissions().access(), v1::TOKEN_ACCESS_READ_ONLY);
  v1::Token fetched;
  ASSERT_TRUE(IsOk(server().GetToken(as_alice, token.id(), &fetched)));
  EXPECT_EQ(fetched.name(), "ci read (renamed)");
  EXPECT_EQ(fetched.permissions().access(), v1::TOKEN_ACCESS_READ_ONLY);
  // An update without a mask is refused.
  v1::UpdateTokenRequest no_mask;
  no_mask.mutable_token()->set_id(token.id());
  no_mask.mutable_token()->set_name("x");
  EXPECT_TRUE(HasCode(server().UpdateToken(as_alice, no_mask),
                      StatusCode::INVALID_ARGUMENT));

  // Revoke it.
  v1::Token revoked;
  ASSERT_TRUE(IsOk(server().RevokeToken(as_alice, token.id(), &revoked)));
  EXPECT_EQ(revoked.id(), token.id());
  EXPECT_EQ(revoked.state(), v1::TOKEN_STATE_REVOKED);
  EXPECT_TRUE(revoked.has_revoke_time());

  grpc::Status after =
      server().AuthenticateToken(created.value(), v1::OPERATION_READ);
  EXPECT_TRUE(HasCode(after, StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(
      HasCode(server().GetToken(as_alice, token.id()), StatusCode::NOT_FOUND));
  v1::UpdateTokenRequest rename_again = UpdateRequest(token.id(), "name");
  rename_again.mutable_token()->set_name("again");
  EXPECT_TRUE(HasCode(server().UpdateToken(as_alice, rename_again),
                      StatusCode::NOT_FOUND));
  EXPECT_TRUE(HasCode(server().RevokeToken(as_alice, token.id()),
                      StatusCode::NOT_FOUND));

  // Listings hide it, unless asked for unusable tokens.
  v1::ListTokensResponse usable;
  ASSERT_TRUE(IsOk(server().ListTokens(as_alice, ListRequest(), &usable)));
  EXPECT_EQ(Ids(usable).count(token.id()), 0u);
  v1::ListTokensRequest all = ListRequest();
  all.set_show_unusable(true);
  v1::ListTokensResponse everything;
  ASSERT_TRUE(IsOk(server().ListTokens(as_alice, all, &everything)));
  ASSERT_EQ(everything.tokens_size(), 1);
  EXPECT_EQ(everything.tokens(0).id(), token.id());
  EXPECT_EQ(everything.tokens(0).state(), v1::TOKEN_STATE_REVOKED);
}

// 4. The value is shown once.
TEST_F(E2eTest, ValueIsNeverReturnedAfterCreate) {
  TestUser alice = NewUser("alice");
  v1::CreateTokenResponse created = NewToken(alice.basic, "deploy");
  ASSERT_FALSE(created.value().empty());
  const std::string& value = created.value();
  const std::string& id = created.token().id();
  const std::string secret = SecretTail(value, id);
  ASSERT_GE(secret.size(), 16u);

  // The hint is for display: not the value, nor its secret part.
  const std::string& hint = created.token().hint();
  EXPECT_FALSE(hint.empty());
  EXPECT_NE(hint, value);
  EXPECT_FALSE(absl::StrContains(hint, secret)) << hint;
  EXPECT_LT(hint.size(), value.size()) << hint;
  EXPECT_TRUE(absl::StrContains(hint, id)) << hint;
  EXPECT_FALSE(absl::StrContains(created.token().SerializeAsString(), secret))
      << "CreateTokenResponse.token must not carry the value";

  std::vector<std::pair<std::string, std::string>> responses;  // what, bytes
  v1::GetTokenRequest get;
  get.set_id(id);
  v1::GetTokenResponse got;
  ASSERT_TRUE(IsOk(server().TokenStub()->GetToken(
      ServerHarness::Context(alice.basic).get(), get, &got)));
  EXPECT_EQ(got.token().hint(), hint);
  responses.emplace_back("GetToken", got.SerializeAsString());

  v1::ListTokensResponse listed;
  ASSERT_TRUE(IsOk(server().ListTokens(alice.basic, ListRequest(), &listed)));
  ASSERT_EQ(listed.tokens_size(), 1);
  EXPECT_EQ(listed.tokens(0).hint(), hint);
  responses.emplace_back("ListTokens", listed.SerializeAsString());

  // Read by the token itself, and by the admin.
  ASSERT_TRUE(
      IsOk(server().ListTokens(Caller::Bearer(value), ListRequest(), &listed)));
  responses.emplace_back("ListTokens (by the token)",
                         listed.SerializeAsString());
  ASSERT_TRUE(IsOk(server().ListTokens(server().Admin(),
                                       ListRequest(alice.user.id()), &listed)));
  responses.emplace_back("ListTokens (admin)", listed.SerializeAsString());

  v1::UpdateTokenRequest rename = UpdateRequest(id, "name");
  rename.mutable_token()->set_name("deploy 2");
  v1::UpdateTokenResponse updated;
  ASSERT_TRUE(IsOk(server().TokenStub()->UpdateToken(
      ServerHarness::Context(alice.basic).get(), rename, &updated)));
  responses.emplace_back("UpdateToken", updated.SerializeAsString());

  v1::AuthenticateRequest auth_request;
  auth_request.set_token(value);
  auth_request.set_operation(v1::OPERATION_READ);
  v1::AuthenticateResponse auth;
  ASSERT_TRUE(IsOk(server().AuthStub()->Authenticate(
      ServerHarness::Context(Caller::None()).get(), auth_request, &auth)));
  responses.emplace_back("Authenticate", auth.SerializeAsString());

  v1::RevokeTokenRequest revoke;
  revoke.set_id(id);
  v1::RevokeTokenResponse revoked;
  ASSERT_TRUE(IsOk(server().TokenStub()->RevokeToken(
      ServerHarness::Context(alice.basic).get(), revoke, &revoked)));
  responses.emplace_back("RevokeToken", revoked.SerializeAsString());

  v1::ListTokensRequest all = ListRequest();
  all.set_show_unusable(true);
  ASSERT_TRUE(IsOk(server().ListTokens(alice.basic, all, &listed)));
  responses.emplace_back("ListTokens (show_unusable)",
                         listed.SerializeAsString());

  for (const auto& [what, bytes] : responses) {
    EXPECT_FALSE(absl::StrContains(bytes, value)) << what;
    EXPECT_FALSE(absl::StrContains(bytes, secret)) << what;
  }
}

// 5a. A mistyped value is refused by its checksum.
TEST_F(E2eTest, ValueWithOneCharacterChangedIsRefused) {
  TestUser alice = NewUser("alice");
  v1::CreateTokenResponse created = NewToken(alice.basic, "typo");
  const std::string& value = created.value();
  ASSERT_FALSE(value.empty());
  // Change one character in the middle of the secret part.
  std::string typo = value;
  const size_t at = typo.size() - 12;
  typo[at] = typo[at] == 'a' ? 'b' : 'a';
  ASSERT_NE(typo, value);

  grpc::Status status = server().AuthenticateToken(typo, v1::OPERATION_READ);
  EXPECT_TRUE(HasCode(status, StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(absl::StrContains(status.error_message(), "checksum"))
      << status.error_message();
  EXPECT_FALSE(absl::StrContains(status.error_message(), typo));
  EXPECT_TRUE(
      HasCode(server().ListTokens(Caller::Bearer(typo), ListRequest(), nullptr),
              StatusCode::UNAUTHENTICATED));
  // Other malformed values.
  for (const std::string& bad :
       {std::string(""), std::string("tka_"), value.substr(0, value.size() - 1),
        absl::StrCat(value, "x"), absl::StrCat("xyz", value.substr(3))}) {
    EXPECT_TRUE(HasCode(server().AuthenticateToken(bad, v1::OPERATION_READ),
                        StatusCode::UNAUTHENTICATED))
        << "\"" << bad << "\"";
  }
  // The original still works.
  EXPECT_TRUE(IsOk(server().AuthenticateToken(value, v1::OPERATION_READ)));
}

// 5b. Users see and touch only their own tokens; admins list and revoke all.
TEST_F(E2eTest, OtherUsersTokensAreInvisibleExceptToAdmins) {
  TestUser alice = NewUser("alice");
  TestUser bob = NewUser("bob");
  v1::CreateTokenResponse created = NewToken(alice.basic, "alice's");
  const std::string& id = created.token().id();
  ASSERT_FALSE(id.empty());

  EXPECT_TRUE(HasCode(server().GetToken(bob.basic, id), StatusCode::NOT_FOUND));
  v1::UpdateTokenRequest rename = UpdateRequest(id, "name");
  rename.mutable_token()->set_name("bob was here");
  EXPECT_TRUE(
      HasCode(server().UpdateToken(bob.basic, rename), StatusCode::NOT_FOUND));
  EXPECT_TRUE(
      HasCode(server().RevokeToken(bob.basic, id), StatusCode::NOT_FOUND));
  v1::ListTokensResponse listed;
  EXPECT_TRUE(HasCode(
      server().ListTokens(bob.basic, ListRequest(alice.user.id()), &listed),
      StatusCode::PERMISSION_DENIED));
  ASSERT_TRUE(IsOk(server().ListTokens(bob.basic, ListRequest(), &listed)));
  EXPECT_EQ(listed.tokens_size(), 0);
  // Nothing bob tried changed the token.
  v1::Token unchanged;
  ASSERT_TRUE(IsOk(server().GetToken(alice.basic, id, &unchanged)));
  EXPECT_EQ(unchanged.name(), "alice's");
  EXPECT_EQ(unchanged.state(), v1::TOKEN_STATE_ACTIVE);

  // The admin reads, lists and revokes it.
  v1::Token seen;
  ASSERT_TRUE(IsOk(server().GetToken(server().Admin(), id, &seen)));
  EXPECT_EQ(seen.user_id(), alice.user.id());
  ASSERT_TRUE(IsOk(server().ListTokens(server().Admin(),
                                       ListRequest(alice.user.id()), &listed)));
  EXPECT_EQ(Ids(listed), std::set<std::string>{id});
  v1::Token revoked;
  ASSERT_TRUE(IsOk(server().RevokeToken(server().Admin(), id, &revoked)));
  EXPECT_EQ(revoked.state(), v1::TOKEN_STATE_REVOKED);
  EXPECT_TRUE(
      HasCode(server().AuthenticateToken(created.value(), v1::OPERATION_READ),
              StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(
      HasCode(server().GetToken(alice.basic, id), StatusCode::NOT_FOUND));
}

// 6. Expiration.
TEST_F(E2eTest, ExpiredTokenStopsAuthenticating) {
  TestUser alice = NewUser("alice");
  v1::CreateTokenRequest request =
      TokenRequest("short-lived", v1::TOKEN_ACCESS_READ_WRITE);
  request.mutable_ttl()->set_seconds(1);
  v1::CreateTokenResponse created;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(IsOk(server().CreateToken(alice.basic, request, &created)));
  Remember(created.value());
  ASSERT_TRUE(created.token().has_expire_time());
  const absl::Time expire = FromTimestamp(created.token().expire_time());
  EXPECT_GE(expire, before + absl::Milliseconds(900));
  EXPECT_LE(expire, absl::Now() + absl::Seconds(1) + absl::Milliseconds(100));

  // Wait (on the real clock: this is the real server) until it has expired.
  absl::SleepFor(expire - absl::Now() + absl::Milliseconds(300));
  grpc::Status status =
      server().AuthenticateToken(created.value(), v1::OPERATION_READ);
  EXPECT_TRUE(HasCode(status, StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(absl::StrContains(status.error_message(), "expired"))
      << status.error_message();
  EXPECT_TRUE(HasCode(server().ListTokens(Caller::Bearer(created.value()),
                                          ListRequest(), nullptr),
                      StatusCode::UNAUTHENTICATED));
  v1::ListTokensRequest all = ListRequest();
  all.set_show_unusable(true);
  v1::ListTokensResponse listed;
  ASSERT_TRUE(IsOk(server().ListTokens(alice.basic, all, &listed)));
  ASSERT_EQ(listed.tokens_size(), 1);
  EXPECT_EQ(listed.tokens(0).state(), v1::TOKEN_STATE_EXPIRED);
}

TEST_F(E2eTest, ExpirationInThePastIsRefused) {
  TestUser alice = NewUser("alice");
  const absl::Time past = absl::Now() - absl::Hours(1);

  v1::CreateTokenRequest request =
      TokenRequest("from the past", v1::TOKEN_ACCESS_READ_ONLY);
  *request.mutable_expire_time() = ToTimestamp(past);
  grpc::Status status = server().CreateToken(alice.basic, request, nullptr);
  EXPECT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(absl::StrContains(status.error_message(), "expire_time"))
      << status.error_message();

  v1::CreateTokenRequest negative =
      TokenRequest("negative ttl", v1::TOKEN_ACCESS_READ_ONLY);
  negative.mutable_ttl()->set_seconds(-5);
  EXPECT_TRUE(HasCode(server().CreateToken(alice.basic, negative, nullptr),
                      StatusCode::INVALID_ARGUMENT));

  // Nothing was created.
  v1::ListTokensRequest all = ListRequest();
  all.set_show_unusable(true);
  v1::ListTokensResponse listed;
  ASSERT_TRUE(IsOk(server().ListTokens(alice.basic, all, &listed)));
  EXPECT_EQ(listed.tokens_size(), 0);

  v1::CreateTokenResponse created = NewToken(alice.basic, "to update");
  v1::UpdateTokenRequest update =
      UpdateRequest(created.token().id(), "expire_time");
  *update.mutable_token()->mutable_expire_time() = ToTimestamp(past);
  status = server().UpdateToken(alice.basic, update);
  EXPECT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(absl::StrContains(status.error_message(), "expire_time"))
      << status.error_message();

  // A future expiration is accepted, and removing it works too.
  const absl::Time future = absl::Now() + absl::Hours(2);
  *update.mutable_token()->mutable_expire_time() = ToTimestamp(future);
  v1::Token updated;
  ASSERT_TRUE(IsOk(server().UpdateToken(alice.basic, update, &updated)));
  ASSERT_TRUE(updated.has_expire_time());
  EXPECT_EQ(updated.expire_time().seconds(), absl::ToUnixSeconds(future));
  update.mutable_token()->clear_expire_time();
  ASSERT_TRUE(IsOk(server().UpdateToken(alice.basic, update, &updated)));
  EXPECT_FALSE(updated.has_expire_time());
}

// 7. Names.
TEST_F(E2eTest, BadNamesAreRefused) {
  TestUser alice = NewUser("alice");
  for (const std::string& bad :
       {std::string(""), std::string(256, 'n'), std::string("line\nbreak")}) {
    grpc::Status status = server().CreateToken(
        alice.basic, TokenRequest(bad, v1::TOKEN_ACCESS_READ_ONLY), nullptr);
    EXPECT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT))
        << bad.size() << "-byte name";
    EXPECT_TRUE(absl::StrContains(status.error_message(), "name"))
        << status.error_message();
  }
  // 255 bytes, and multi-byte UTF-8, are fine.
  NewToken(alice.basic, std::string(255, 'n'));
  v1::CreateTokenResponse utf8 =
      NewToken(alice.basic, "d\xC3\xA9ploiement \xE2\x9C\x93");
  EXPECT_EQ(utf8.token().name(), "d\xC3\xA9ploiement \xE2\x9C\x93");

  // Renaming follows the same rules.
  v1::UpdateTokenRequest rename = UpdateRequest(utf8.token().id(), "name");
  rename.mutable_token()->set_name("");
  EXPECT_TRUE(HasCode(server().UpdateToken(alice.basic, rename),
                      StatusCode::INVALID_ARGUMENT));
  rename.mutable_token()->set_name(std::string(256, 'n'));
  EXPECT_TRUE(HasCode(server().UpdateToken(alice.basic, rename),
                      StatusCode::INVALID_ARGUMENT));
}

TEST_F(E2eTest, InvalidUtf8NameIsInvalidArgument) {
  TestUser alice = NewUser("alice");
  v1::CreateTokenRequest rest;  // Everything but the name.
  rest.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_ONLY);
  const std::string method = "/tokenauth.v1.TokenService/CreateToken";

  // The raw path works with a valid name...
  std::string response_bytes;
  grpc::Status status = server().RawUnaryCall(
      alice.basic, method, EncodeNameField("raw ok") + rest.SerializeAsString(),
      &response_bytes);
  ASSERT_TRUE(IsOk(status)) << "control call with a valid name";
  v1::CreateTokenResponse created;
  ASSERT_TRUE(created.ParseFromString(response_bytes));
  EXPECT_EQ(created.token().name(), "raw ok");
  Remember(created.value());

  // ...and refuses bytes that are not UTF-8 as a bad argument, not as an
  // internal error.
  status = server().RawUnaryCall(
      alice.basic, method,
      EncodeNameField("\xff\xfe") + rest.SerializeAsString(), nullptr);
  EXPECT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT));
}

// Authenticate and Health/Check are callback methods, for which gRPC answers
// an unparsable request with a bare UNIMPLEMENTED: it must come back as the
// same INVALID_ARGUMENT naming the field as from the synchronous methods.
TEST_F(E2eTest, CallbackMethodsRefuseUnparsableRequestsNamingTheField) {
  struct Case {
    const char* method;
    const char* field;  // Field 1 of its request, a string.
  };
  for (const Case& c : {Case{"/tokenauth.v1.AuthService/Authenticate", "token"},
                        Case{"/grpc.health.v1.Health/Check", "service"}}) {
    SCOPED_TRACE(c.method);
    grpc::Status status = server().RawUnaryCall(
        Caller::None(), c.method, std::string("\x0a\x02\xff\xfe", 4), nullptr);
    ASSERT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT))
        << status.error_code() << " " << status.error_message();
    EXPECT_EQ(status.error_message().substr(0, std::strlen(c.field) + 1),
              std::string(c.field) + ":");
    EXPECT_NE(status.error_message().find("UTF-8"), std::string::npos);
  }
}

// 7b. Error details: every error carries a google.rpc.Status in the
// grpc-status-details-bin trailer, with one ErrorInfo and, for
// INVALID_ARGUMENT, a BadRequest; reflection describes their types.
TEST_F(E2eTest, ErrorsCarryReasonsInTheirDetails) {
  struct Details {
    google::rpc::ErrorInfo info;
    std::vector<google::rpc::BadRequest> bad_requests;
  };
  auto details_of = [](const grpc::Status& status) {
    Details d;
    google::rpc::Status decoded;
    EXPECT_TRUE(decoded.ParseFromString(status.error_details()))
        << "no google.rpc.Status in the trailer";
    EXPECT_EQ(decoded.code(), static_cast<int>(status.error_code()));
    EXPECT_EQ(decoded.message(), status.error_message());
    int infos = 0;
    for (const google::protobuf::Any& any : decoded.details()) {
      google::rpc::BadRequest bad_request;
      if (any.UnpackTo(&d.info)) {
        ++infos;
      } else if (any.UnpackTo(&bad_request)) {
        d.bad_requests.push_back(bad_request);
      } else {
        ADD_FAILURE() << "unexpected detail " << any.type_url();
      }
    }
    EXPECT_EQ(infos, 1) << "exactly one ErrorInfo";
    EXPECT_EQ(d.info.domain(), "tokenauth");
    return d;
  };
  auto metadata = [](const Details& d, const std::string& key) {
    auto it = d.info.metadata().find(key);
    return it == d.info.metadata().end() ? std::string("<none>") : it->second;
  };
  TestUser alice = NewUser("alice");

  // An empty name: INVALID_ARGUMENT naming the field in both details.
  grpc::Status status = server().CreateToken(
      alice.basic, TokenRequest("", v1::TOKEN_ACCESS_READ_ONLY), nullptr);
  ASSERT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT));
  Details empty_name = details_of(status);
  EXPECT_EQ(empty_name.info.reason(), "INVALID_ARGUMENT");
  EXPECT_EQ(metadata(empty_name, "field"), "name");
  ASSERT_EQ(empty_name.bad_requests.size(), 1u);
  ASSERT_EQ(empty_name.bad_requests[0].field_violations_size(), 1);
  EXPECT_EQ(empty_name.bad_requests[0].field_violations(0).field(), "name");
  EXPECT_FALSE(
      empty_name.bad_requests[0].field_violations(0).description().empty());

  // A request gRPC cannot parse (handled by the interceptor) too.
  v1::CreateTokenRequest rest;
  rest.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_ONLY);
  status = server().RawUnaryCall(
      alice.basic, "/tokenauth.v1.TokenService/CreateToken",
      EncodeNameField("\xff") + rest.SerializeAsString(), nullptr);
  ASSERT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT));
  Details not_utf8 = details_of(status);
  EXPECT_EQ(metadata(not_utf8, "field"), "name");
  ASSERT_EQ(not_utf8.bad_requests.size(), 1u);

  // One character changed: refused by the checksum.
  v1::CreateTokenResponse created = NewToken(alice.basic, "details");
  std::string typo = created.value();
  const size_t at = typo.size() - 12;
  typo[at] = typo[at] == 'a' ? 'b' : 'a';
  status = server().AuthenticateToken(typo, v1::OPERATION_READ);
  ASSERT_TRUE(HasCode(status, StatusCode::UNAUTHENTICATED));
  Details malformed = details_of(status);
  EXPECT_EQ(malformed.info.reason(), "TOKEN_MALFORMED");
  EXPECT_TRUE(malformed.bad_requests.empty());

  // Revoked.
  ASSERT_TRUE(IsOk(server().RevokeToken(alice.basic, created.token().id())));
  status = server().AuthenticateToken(created.value(), v1::OPERATION_READ);
  ASSERT_TRUE(HasCode(status, StatusCode::UNAUTHENTICATED));
  Details revoked = details_of(status);
  EXPECT_EQ(revoked.info.reason(), "TOKEN_REVOKED");
  EXPECT_EQ(metadata(revoked, "token_id"), created.token().id());

  // No secret in the details.
  for (const grpc::Status& s :
       {server().AuthenticateToken(typo, v1::OPERATION_READ),
        server().AuthenticateToken(created.value(), v1::OPERATION_READ)}) {
    EXPECT_FALSE(absl::StrContains(
        s.error_details(), SecretTail(created.value(), created.token().id())));
  }

  // What grpcurl and buf curl need to print the details.
  Reflection reflection(server());
  for (const char* symbol :
       {"google.rpc.Status", "google.rpc.ErrorInfo", "google.rpc.BadRequest"}) {
    EXPECT_NE(reflection.LoadSymbol(symbol), nullptr) << symbol;
  }
}

// 8. Paging.
TEST_F(E2eTest, ListingPagesThroughEveryTokenOnce) {
  TestUser alice = NewUser("alice");
  TestUser bob = NewUser("bob");
  std::set<std::string> created_ids;
  std::string newest;
  for (int i = 0; i < 120; ++i) {
    v1::CreateTokenResponse created =
        NewToken(alice.basic, absl::StrCat("page-", i));
    ASSERT_FALSE(created.token().id().empty()) << "token " << i;
    created_ids.insert(created.token().id());
    newest = created.token().id();
  }
  ASSERT_EQ(created_ids.size(), 120u);

  std::vector<int> sizes;
  std::vector<std::string> seen;
  std::string page_token;
  std::string first_page_token;
  for (int page = 0; page < 5; ++page) {
    v1::ListTokensResponse response;
    ASSERT_TRUE(IsOk(server().ListTokens(
        alice.basic, ListRequest(0, 50, page_token), &response)))
        << "page " << page;
    sizes.push_back(response.tokens_size());
    for (const v1::Token& t : response.tokens()) seen.push_back(t.id());
    page_token = response.next_page_token();
    if (page == 0) first_page_token = page_token;
    if (page_token.empty()) break;
  }
  EXPECT_EQ(sizes, (std::vector<int>{50, 50, 20}));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front(), newest) << "newest first";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), created_ids);
  EXPECT_EQ(seen.size(), created_ids.size()) << "an id came twice";
  ASSERT_FALSE(first_page_token.empty());

  // Someone else's cursor in one's own listing.
  grpc::Status status = server().ListTokens(
      bob.basic, ListRequest(0, 50, first_page_token), nullptr);
  EXPECT_TRUE(HasCode(status, StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(absl::StrContains(status.error_message(), "page_token"))
      << status.error_message();
  // A crafted cursor naming alice's listing.
  const std::string crafted = absl::WebSafeBase64Escape(
      absl::StrCat("v1:", alice.user.id(), ":999999:0"));
  EXPECT_TRUE(HasCode(
      server().ListTokens(bob.basic, ListRequest(0, 50, crafted), nullptr),
      StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(HasCode(
      server().ListTokens(bob.basic, ListRequest(alice.user.id(), 50, crafted),
                          nullptr),
      StatusCode::PERMISSION_DENIED));
  // Garbage.
  for (const std::string& garbage :
       {std::string("garbage!"), std::string("djE6MTox"),
        std::string(300, 'A')}) {
    EXPECT_TRUE(HasCode(
        server().ListTokens(alice.basic, ListRequest(0, 50, garbage), nullptr),
        StatusCode::INVALID_ARGUMENT))
        << garbage.substr(0, 20);
  }
  // The cursor is bound to show_unusable too.
  v1::ListTokensRequest other_listing = ListRequest(0, 50, first_page_token);
  other_listing.set_show_unusable(true);
  EXPECT_TRUE(HasCode(server().ListTokens(alice.basic, other_listing, nullptr),
                      StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(
      HasCode(server().ListTokens(alice.basic, ListRequest(0, -1), nullptr),
              StatusCode::INVALID_ARGUMENT));
  // A cursor cannot be replayed by another user, not even an admin looking
  // at the same tokens: page tokens are bound to the caller too.
  EXPECT_TRUE(HasCode(
      server().ListTokens(server().Admin(),
                          ListRequest(alice.user.id(), 50, first_page_token),
                          nullptr),
      StatusCode::INVALID_ARGUMENT));
  // The admin pages through alice's listing with cursors of their own.
  v1::ListTokensResponse admin_first;
  ASSERT_TRUE(IsOk(server().ListTokens(
      server().Admin(), ListRequest(alice.user.id(), 50), &admin_first)));
  v1::ListTokensResponse response;
  ASSERT_TRUE(IsOk(server().ListTokens(
      server().Admin(),
      ListRequest(alice.user.id(), 50, admin_first.next_page_token()),
      &response)));
  EXPECT_EQ(response.tokens_size(), 50);
}

// 9. The caller's credential in metadata.
TEST_F(E2eTest, TokenCallersMayReadButNotManage) {
  TestUser alice = NewUser("alice");
  v1::CreateTokenResponse rw =
      NewToken(alice.basic, "rw", v1::TOKEN_ACCESS_READ_WRITE);
  v1::CreateTokenResponse ro =
      NewToken(alice.basic, "ro", v1::TOKEN_ACCESS_READ_ONLY);
  const std::string& rw_id = rw.token().id();

  for (const auto& [what, caller] :
       {std::make_pair("read-write", Caller::Bearer(rw.value())),
        std::make_pair("read-only", Caller::Bearer(ro.value()))}) {
    SCOPED_TRACE(what);
    v1::ListTokensResponse listed;
    ASSERT_TRUE(IsOk(server().ListTokens(caller, ListRequest(), &listed)));
    EXPECT_EQ(listed.tokens_size(), 2);
    EXPECT_TRUE(IsOk(server().GetToken(caller, rw_id)));

    grpc::Status status = server().CreateToken(
        caller, TokenRequest("by token", v1::TOKEN_ACCESS_READ_ONLY), nullptr);
    EXPECT_TRUE(HasCode(status, StatusCode::PERMISSION_DENIED));
    v1::UpdateTokenRequest rename = UpdateRequest(rw_id, "name");
    rename.mutable_token()->set_name("by token");
    EXPECT_TRUE(HasCode(server().UpdateToken(caller, rename),
                        StatusCode::PERMISSION_DENIED));
    EXPECT_TRUE(HasCode(server().RevokeToken(caller, rw_id),
                        StatusCode::PERMISSION_DENIED));
    v1::SetPasswordRequest set_password;
    set_password.set_current_password(alice.password);
    set_password.set_new_password("changed-by-a-token-1");
    v1::SetPasswordResponse ignored;
    EXPECT_TRUE(HasCode(
        server().UserStub()->SetPassword(ServerHarness::Context(caller).get(),
                                         set_password, &ignored),
        StatusCode::PERMISSION_DENIED));
  }
  // Nothing changed: the tokens are intact and the password still works.
  v1::ListTokensResponse listed;
  ASSERT_TRUE(IsOk(server().ListTokens(alice.basic, ListRequest(), &listed)));
  EXPECT_EQ(listed.tokens_size(), 2);
  EXPECT_TRUE(IsOk(server().AuthenticateBasic(
      alice.user.username(), alice.password, v1::OPERATION_WRITE)));
}

TEST_F(E2eTest, MetadataCredentialParsing) {
  TestUser alice = NewUser("alice");
  v1::CreateTokenResponse token = NewToken(alice.basic, "meta");
  const std::string basic_b64 = absl::Base64Escape(
      absl::StrCat(alice.user.username(), ":", alice.password));
  auto list_with = [&](std::vector<std::string> headers) {
    v1::ListTokensRequest request;
    v1::ListTokensResponse response;
    auto context = ServerHarness::Context(Caller::None());
    for (const std::string& h : headers) {
      context->AddMetadata("authorization", h);
    }
    return server().TokenStub()->ListTokens(context.get(), request, &response);
  };

  // Missing.
  grpc::Status status = list_with({});
  EXPECT_TRUE(HasCode(status, StatusCode::UNAUTHENTICATED));
  // Malformed.
  const std::string no_colon = absl::Base64Escape(alice.user.username());
  for (const std::string& bad : std::vector<std::string>{
           "Basic !!!not base64!!!", absl::StrCat("Basic ", no_colon), "Basic",
           "Basic ", "Bearer", absl::StrCat("Digest ", basic_b64),
           token.value(), absl::StrCat("Bearer  ", token.value(), "x")}) {
    status = list_with({bad});
    EXPECT_TRUE(HasCode(status, StatusCode::UNAUTHENTICATED))
        << "authorization: " << bad;
    EXPECT_FALSE(absl::StrContains(status.error_message(), token.value()));
    EXPECT_FALSE(absl::StrContains(status.error_message(), basic_b64));
  }
  // Two credentials, even two good ones.
  EXPECT_TRUE(HasCode(list_with({absl::StrCat("Basic ", basic_b64),
                                 absl::StrCat("Bearer ", token.value())}),
                      StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(HasCode(list_with({absl::StrCat("Basic ", basic_b64),
                                 absl::StrCat("Basic ", basic_b64)}),
                      StatusCode::UNAUTHENTICATED));
  // Wrong password, unknown user.
  EXPECT_TRUE(HasCode(list_with({client::BasicAuthorizationValue(
                          alice.user.username(), "wrong-password-1")}),
                      StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(HasCode(list_with({client::BasicAuthorizationValue(
                          "nobody-at-all", alice.password)}),
                      StatusCode::UNAUTHENTICATED));

  // The scheme is case-insensitive.
  EXPECT_TRUE(IsOk(list_with({absl::StrCat("bearer ", token.value())})));
  EXPECT_TRUE(IsOk(list_with({absl::StrCat("BEARER ", token.value())})));
  EXPECT_TRUE(IsOk(list_with({absl::StrCat("BASIC ", basic_b64)})));
  EXPECT_TRUE(IsOk(list_with({absl::StrCat("basic ", basic_b64)})));

  // A password may contain ':' (only the first one separates).
  const std::string carol = Unique("carol");
  const std::string colon_password = "pass:word:with-colons";
  Remember(colon_password);
  server().MustCreateUser(carol, colon_password);
  EXPECT_TRUE(IsOk(
      list_with({client::BasicAuthorizationValue(carol, colon_password)})));
  EXPECT_TRUE(IsOk(
      server().AuthenticateBasic(carol, colon_password, v1::OPERATION_WRITE)));
  EXPECT_TRUE(
      HasCode(list_with({client::BasicAuthorizationValue(carol, "pass:word")}),
              StatusCode::UNAUTHENTICATED));
}

// 10. The per-user limit.
TEST(E2eLimitTest, MaxAccessTokensPerUser) {
  ServerHarness::Options options;
  options.env["MAX_ACCESS_TOKENS_PER_USER"] = "3";
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  server.MustCreateUser("alice", "alice-limit-pw1");
  const Caller alice = Caller::Basic("alice", "alice-limit-pw1");

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(
        server.MustCreateToken(alice, absl::StrCat("t", i)).token().id());
  }
  grpc::Status status = server.CreateToken(
      alice, TokenRequest("one too many", v1::TOKEN_ACCESS_READ_ONLY), nullptr);
  EXPECT_TRUE(HasCode(status, StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_TRUE(
      absl::StrContains(status.error_message(), "MAX_ACCESS_TOKENS_PER_USER"))
      << status.error_message();
  // The limit is per user.
  server.MustCreateUser("bob", "bob-limit-pw12");
  server.MustCreateToken(Caller::Basic("bob", "bob-limit-pw12"), "bob's");

  ASSERT_TRUE(IsOk(server.RevokeToken(alice, ids[0])));
  server.MustCreateToken(alice, "after revoke");
  EXPECT_TRUE(HasCode(
      server.CreateToken(
          alice, TokenRequest("again too many", v1::TOKEN_ACCESS_READ_ONLY),
          nullptr),
      StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(server.Stop(), 0);
}

// 11. Users.
TEST_F(E2eTest, OnlyAdminsCreateUsersAndUsernamesAreUnique) {
  TestUser alice = NewUser("alice");
  grpc::Status status = server().CreateUser(alice.basic, Unique("mallory"),
                                            "mallory-pw-1", false);
  EXPECT_TRUE(HasCode(status, StatusCode::PERMISSION_DENIED));
  status = server().CreateUser(server().Admin(), alice.user.username(),
                               "another-password-1", false);
  EXPECT_TRUE(HasCode(status, StatusCode::ALREADY_EXISTS));
  EXPECT_TRUE(HasCode(server().CreateUser(server().Admin(), "bad name!",
                                          "good-password-1", false),
                      StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(HasCode(
      server().CreateUser(server().Admin(), Unique("shortpw"), "short", false),
      StatusCode::INVALID_ARGUMENT));
  // An admin made by the admin can make users.
  const std::string root2 = Unique("root2");
  v1::User made;
  ASSERT_TRUE(IsOk(server().CreateUser(server().Admin(), root2,
                                       "root2-password-1", true, &made)));
  EXPECT_TRUE(made.admin());
  Remember("root2-password-1");
  EXPECT_TRUE(
      IsOk(server().CreateUser(Caller::Basic(root2, "root2-password-1"),
                               Unique("dave"), "dave-password-1", false)));
}

TEST_F(E2eTest, DisabledUserCannotAuthenticateUntilEnabled) {
  TestUser alice = NewUser("alice");
  TestUser bob = NewUser("bob");
  v1::CreateTokenResponse token = NewToken(alice.basic, "work");
  ASSERT_FALSE(token.value().empty());

  v1::DisableUserRequest disable;
  disable.set_user_id(alice.user.id());
  v1::DisableUserResponse disabled;
  EXPECT_TRUE(
      HasCode(server().UserStub()->DisableUser(
                  ServerHarness::Context(bob.basic).get(), disable, &disabled),
              StatusCode::PERMISSION_DENIED));
  ASSERT_TRUE(IsOk(server().UserStub()->DisableUser(
      ServerHarness::Context(server().Admin()).get(), disable, &disabled)));
  EXPECT_TRUE(disabled.user().disabled());

  EXPECT_TRUE(HasCode(server().ListTokens(alice.basic, ListRequest(), nullptr),
                      StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(HasCode(server().ListTokens(Caller::Bearer(token.value()),
                                          ListRequest(), nullptr),
                      StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(
      HasCode(server().AuthenticateToken(token.value(), v1::OPERATION_READ),
              StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(
      HasCode(server().AuthenticateBasic(alice.user.username(), alice.password,
                                         v1::OPERATION_READ),
              StatusCode::UNAUTHENTICATED));
  // bob is not affected.
  EXPECT_TRUE(IsOk(server().ListTokens(bob.basic, ListRequest(), nullptr)));

  v1::EnableUserRequest enable;
  enable.set_user_id(alice.user.id());
  v1::EnableUserResponse enabled;
  ASSERT_TRUE(IsOk(server().UserStub()->EnableUser(
      ServerHarness::Context(server().Admin()).get(), enable, &enabled)));
  EXPECT_FALSE(enabled.user().disabled());
  EXPECT_TRUE(
      IsOk(server().AuthenticateToken(token.value(), v1::OPERATION_READ)));
  EXPECT_TRUE(IsOk(server().ListTokens(alice.basic, ListRequest(), nullptr)));
}

TEST_F(E2eTest, SetOwnPasswordNeedsTheCurrentOne) {
  TestUser alice = NewUser("alice");
  const std::string& name = alice.user.username();
  const std::string new_password = "alice-new-password-2";
  Remember(new_password);
  auto set_password = [&](const Caller& caller, int64_t user_id,
                          const std::string& current) {
    v1::SetPasswordRequest request;
    request.set_user_id(user_id);
    request.set_current_password(current);
    request.set_new_password(new_password);
    v1::SetPasswordResponse response;
    return server().UserStub()->SetPassword(
        ServerHarness::Context(caller).get(), request, &response);
  };

  grpc::Status status = set_password(alice.basic, 0, "not-the-password");
  EXPECT_TRUE(HasCode(status, StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(IsOk(
      server().AuthenticateBasic(name, alice.password, v1::OPERATION_READ)));

  ASSERT_TRUE(IsOk(set_password(alice.basic, 0, alice.password)));
  EXPECT_TRUE(
      IsOk(server().AuthenticateBasic(name, new_password, v1::OPERATION_READ)));
  EXPECT_TRUE(HasCode(
      server().AuthenticateBasic(name, alice.password, v1::OPERATION_READ),
      StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(HasCode(server().ListTokens(alice.basic, ListRequest(), nullptr),
                      StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(IsOk(server().ListTokens(Caller::Basic(name, new_password),
                                       ListRequest(), nullptr)));

  // A user cannot set someone else's password; the admin can.
  TestUser bob = NewUser("bob");
  EXPECT_TRUE(HasCode(set_password(bob.basic, alice.user.id(), new_password),
                      StatusCode::PERMISSION_DENIED));
  ASSERT_TRUE(IsOk(set_password(server().Admin(), bob.user.id(), "")));
  EXPECT_TRUE(IsOk(server().AuthenticateBasic(bob.user.username(), new_password,
                                              v1::OPERATION_READ)));
}

// 12. SIGTERM.
TEST(E2eLifecycleTest, SigtermStopsTheServerWithExitCodeZero) {
  ServerHarness server;
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(IsOk(server.AuthenticateBasic("admin", server.admin_password(),
                                            v1::OPERATION_READ)));
  EXPECT_EQ(server.Stop(), 0);
  // It no longer answers.
  HealthCheckRequest request;
  HealthCheckResponse response;
  auto context = ServerHarness::Context(Caller::None());
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
  EXPECT_TRUE(
      HasCode(server.HealthStub()->Check(context.get(), request, &response),
              StatusCode::UNAVAILABLE));
  EXPECT_TRUE(absl::StrContains(server.Stderr(), "stopped")) << server.Stderr();
}

TEST(E2eLifecycleTest, SigtermEndsOpenHealthWatchesInsteadOfWaitingForThem) {
  ServerHarness::Options options;
  // If open Watch streams held the drain, the stop would take this long.
  options.env["TOKENAUTH_DRAIN_TIMEOUT"] = "30s";
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());

  // A client that watches until the server ends the stream. Everything of
  // the client lives on the reader thread and is gone when it ends, so that
  // no idle connection is left to hold up the server's exit.
  std::promise<HealthCheckResponse::ServingStatus> first;
  std::vector<HealthCheckResponse::ServingStatus> later;
  grpc::Status finished;
  std::thread reader([&] {
    std::unique_ptr<grpc::health::v1::Health::Stub> stub = server.HealthStub();
    grpc::ClientContext context;  // No deadline: the stream stays open.
    auto stream = stub->Watch(&context, HealthCheckRequest());
    HealthCheckResponse next;
    if (!stream->Read(&next)) {
      first.set_value(HealthCheckResponse::UNKNOWN);
      finished = stream->Finish();
      return;
    }
    first.set_value(next.status());
    while (stream->Read(&next)) later.push_back(next.status());
    finished = stream->Finish();
  });
  if (first.get_future().get() != HealthCheckResponse::SERVING) {
    reader.join();
    FAIL() << "Watch did not start with SERVING: "
           << CodeName(finished.error_code()) << " "
           << finished.error_message();
  }

  const absl::Time start = absl::Now();
  EXPECT_EQ(server.Stop(), 0);
  reader.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10))
      << "the stop waited for the Watch stream instead of ending it";
  for (HealthCheckResponse::ServingStatus status : later) {
    EXPECT_NE(status, HealthCheckResponse::SERVING)
        << "a Watch saw SERVING again while the server stopped";
  }
  EXPECT_TRUE(finished.ok() || finished.error_code() == StatusCode::UNAVAILABLE)
      << CodeName(finished.error_code()) << ": " << finished.error_message();
}

// 13. Bootstrap.
TEST(E2eBootstrapTest, SecondServerLeavesTheExistingAdminUnchanged) {
  ServerHarness first;
  ASSERT_TRUE(first.ok());
  const std::string password = first.admin_password();

  ServerHarness::Options options;
  options.database = &first.database();
  options.bootstrap_password = false;  // TOKENAUTH_BOOTSTRAP_ADMIN=admin only.
  ServerHarness second(options);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(absl::StrContains(second.Stdout(), "generated password"))
      << second.Stdout();

  v1::GetUserRequest request;
  v1::GetUserResponse response;
  ASSERT_TRUE(IsOk(second.UserStub()->GetUser(
      ServerHarness::Context(Caller::Basic("admin", password)).get(), request,
      &response)));
  EXPECT_EQ(response.user().username(), "admin");
  EXPECT_TRUE(response.user().admin());
  EXPECT_EQ(second.Stop(), 0);
  EXPECT_EQ(first.Stop(), 0);
  EXPECT_FALSE(absl::StrContains(first.Log(), password));
  EXPECT_FALSE(absl::StrContains(second.Log(), password));
}

TEST(E2eBootstrapTest, FreshDatabaseGetsAGeneratedPasswordPrintedOnce) {
  ServerHarness::Options options;
  options.bootstrap_password = false;
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  const std::string out = server.Stdout();
  const size_t at = out.find("generated password");
  ASSERT_NE(at, std::string::npos) << "stdout:\n" << out;
  EXPECT_EQ(out.find("generated password", at + 1), std::string::npos)
      << "printed more than once:\n"
      << out;
  // The password is the first non-empty line after the announcement.
  std::string password;
  std::vector<std::string> lines =
      absl::StrSplit(out.substr(out.find('\n', at) + 1), '\n');
  for (const std::string& line : lines) {
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (!trimmed.empty()) {
      password = std::string(trimmed);
      break;
    }
  }
  ASSERT_GE(password.size(), 12u) << "stdout:\n" << out;
  EXPECT_FALSE(absl::StrContains(server.Stderr(), password))
      << "the generated password reached the log";

  v1::GetUserRequest request;
  v1::GetUserResponse response;
  ASSERT_TRUE(IsOk(server.UserStub()->GetUser(
      ServerHarness::Context(Caller::Basic("admin", password)).get(), request,
      &response)))
      << "generated password \"" << password << "\" from:\n"
      << out;
  EXPECT_EQ(response.user().username(), "admin");
  EXPECT_TRUE(response.user().admin());
  EXPECT_EQ(server.Stop(), 0);

  // Restarted on the same database: no new password, the old one works.
  ServerHarness::Options again = options;
  again.database = &server.database();
  ServerHarness restarted(again);
  ASSERT_TRUE(restarted.ok());
  EXPECT_FALSE(absl::StrContains(restarted.Stdout(), "generated password"))
      << restarted.Stdout();
  EXPECT_TRUE(IsOk(
      restarted.AuthenticateBasic("admin", password, v1::OPERATION_WRITE)));
  EXPECT_EQ(restarted.Stop(), 0);
}

// One Authenticate worker thread and no room to wait (AUTH_WORKER_THREADS=1,
// AUTH_MAX_WAITING=0): of calls that all need the database at once, those
// that find the thread taken are refused at once as UNAVAILABLE with reason
// SERVER_BUSY, the others answered; the token is not in the refusal.
TEST(BusyServerTest, AuthenticateRefusesWhatCannotWaitAsServerBusy) {
  ServerHarness::Options options;
  options.env["AUTH_WORKER_THREADS"] = "1";
  options.env["AUTH_MAX_WAITING"] = "0";
  ServerHarness server(options);
  ASSERT_TRUE(server.ok());
  server.MustCreateUser("busy", "busy-password-Xq3");
  const Caller busy = Caller::Basic("busy", "busy-password-Xq3");
  const std::string token = server.MustCreateToken(busy, "busy").value();
  ASSERT_FALSE(token.empty());

  v1::AuthenticateRequest request;
  request.set_token(token);
  request.set_operation(v1::OPERATION_READ);
  request.set_skip_cache(true);  // Every call a database read, off-thread.
  constexpr int kCalls = 32;
  int ok = 0, busy_refusals = 0;
  // Calls released together overlap on one thread almost always; a few
  // rounds make "never refused" a real failure, not bad luck.
  for (int round = 0; round < 20 && (ok == 0 || busy_refusals == 0); ++round) {
    std::vector<grpc::Status> statuses(kCalls);
    absl::Notification go;
    std::vector<std::thread> callers;
    for (int i = 0; i < kCalls; ++i) {
      callers.emplace_back([&, i] {
        auto stub = server.AuthStub();
        v1::AuthenticateResponse response;
        go.WaitForNotification();
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(10));
        statuses[i] = stub->Authenticate(&context, request, &response);
      });
    }
    go.Notify();
    for (std::thread& t : callers) t.join();
    for (const grpc::Status& status : statuses) {
      if (status.ok()) {
        ++ok;
        continue;
      }
      ASSERT_EQ(status.error_code(), StatusCode::UNAVAILABLE)
          << status.error_message();
      EXPECT_TRUE(absl::StartsWith(status.error_message(), "server busy:"))
          << status.error_message();
      EXPECT_FALSE(absl::StrContains(status.error_message(), token));
      google::rpc::Status details;
      ASSERT_TRUE(details.ParseFromString(status.error_details()));
      google::rpc::ErrorInfo info;
      ASSERT_EQ(details.details_size(), 1);
      ASSERT_TRUE(details.details(0).UnpackTo(&info));
      EXPECT_EQ(info.reason(), "SERVER_BUSY");
      ++busy_refusals;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(busy_refusals, 0) << "no call was refused in 20 rounds";
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_FALSE(absl::StrContains(server.Log(), token));
}

}  // namespace
}  // namespace tokenauth::e2e
