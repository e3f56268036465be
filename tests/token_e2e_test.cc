// Issue-4 behaviour through the real server binary: last use with the peer
// address, rotation and reuse detection, idempotent create, the audit log
// and the on-demand janitor.
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"
#include "tokenauth/v1/audit_service.grpc.pb.h"

namespace tokenauth::e2e {
namespace {

using ::grpc::StatusCode;
using ::testing::HasSubstr;

class TokenE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerHarness(); }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->LogTail(); }

  static ServerHarness* server_;
};

ServerHarness* TokenE2eTest::server_ = nullptr;

TEST_F(TokenE2eTest, ListingShowsLastUseAndPeerSoonAfterAUse) {
  server_->MustCreateUser("alice", "alice-password");
  Caller alice = Caller::Basic("alice", "alice-password");
  v1::CreateTokenResponse used = server_->MustCreateToken(alice, "used");
  v1::CreateTokenResponse unused = server_->MustCreateToken(alice, "unused");
  v1::AuthenticateRequest request;
  request.set_token(used.value());
  request.set_operation(v1::OPERATION_READ);
  request.set_client_address("ipv4:203.0.113.9:443");
  v1::AuthenticateResponse response;
  ASSERT_TRUE(server_->AuthStub()
                  ->Authenticate(ServerHarness::Context(Caller::None()).get(),
                                 request, &response)
                  .ok());
  // Written in the background within about a second.
  v1::Token seen;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(server_->GetToken(alice, used.token().id(), &seen).ok());
    if (seen.has_last_used_time()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(seen.has_last_used_time());
  ASSERT_EQ(seen.last_used_peers_size(), 1);
  EXPECT_EQ(seen.last_used_peers(0), "ipv4:203.0.113.9:443");
  v1::ListTokensResponse list;
  ASSERT_TRUE(server_->ListTokens(alice, v1::ListTokensRequest(), &list).ok());
  for (const v1::Token& t : list.tokens()) {
    EXPECT_EQ(t.has_last_used_time(), t.id() == used.token().id()) << t.name();
  }
  (void)unused;
}

TEST_F(TokenE2eTest, RotatedOutValueRevokesTheSuccessorToo) {
  server_->MustCreateUser("bob", "bob-password");
  Caller bob = Caller::Basic("bob", "bob-password");
  v1::CreateTokenResponse old = server_->MustCreateToken(bob, "ci");
  v1::RotateTokenRequest rotate;
  rotate.set_id(old.token().id());
  v1::RotateTokenResponse rotated;
  ASSERT_TRUE(
      server_->TokenStub()
          ->RotateToken(ServerHarness::Context(bob).get(), rotate, &rotated)
          .ok());
  EXPECT_FALSE(rotated.value().empty());
  EXPECT_EQ(rotated.token().name(), "ci");
  EXPECT_EQ(rotated.token().family_id(), old.token().id());
  EXPECT_EQ(rotated.rotated_token().rotated_to_id(), rotated.token().id());
  EXPECT_EQ(rotated.rotated_token().state(), v1::TOKEN_STATE_REVOKED);
  ASSERT_TRUE(
      server_->AuthenticateToken(rotated.value(), v1::OPERATION_READ).ok());

  grpc::Status reuse =
      server_->AuthenticateToken(old.value(), v1::OPERATION_READ);
  EXPECT_EQ(reuse.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(reuse.error_message(), HasSubstr("reuse"));
  EXPECT_EQ(server_->AuthenticateToken(rotated.value(), v1::OPERATION_READ)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
  // A token caller cannot rotate.
  v1::CreateTokenResponse other = server_->MustCreateToken(bob, "other");
  rotate.set_id(other.token().id());
  EXPECT_EQ(server_->TokenStub()
                ->RotateToken(
                    ServerHarness::Context(Caller::Bearer(other.value())).get(),
                    rotate, &rotated)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
}

TEST_F(TokenE2eTest, CreateTwiceWithOneRequestIdMakesOneToken) {
  server_->MustCreateUser("carol", "carol-password");
  Caller carol = Caller::Basic("carol", "carol-password");
  v1::CreateTokenRequest request;
  request.set_name("deploy");
  request.mutable_permissions()->set_access(v1::TOKEN_ACCESS_READ_WRITE);
  request.set_request_id("6f1c2a9e-0d4b-4c1e-8a7f-3b2d1e0f9a8c");
  v1::CreateTokenResponse first, second;
  ASSERT_TRUE(server_->CreateToken(carol, request, &first).ok());
  ASSERT_TRUE(server_->CreateToken(carol, request, &second).ok());
  EXPECT_FALSE(first.replayed());
  EXPECT_TRUE(second.replayed());
  EXPECT_TRUE(second.value().empty());
  EXPECT_EQ(second.token().id(), first.token().id());
  v1::ListTokensResponse list;
  ASSERT_TRUE(server_->ListTokens(carol, v1::ListTokensRequest(), &list).ok());
  EXPECT_EQ(list.tokens_size(), 1);
  request.set_name("different");
  grpc::Status clash = server_->CreateToken(carol, request, &second);
  EXPECT_EQ(clash.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(clash.error_message(), HasSubstr("request_id"));
}

TEST_F(TokenE2eTest, AuditLogIsReadableAndScoped) {
  server_->MustCreateUser("dana", "dana-password");
  Caller dana = Caller::Basic("dana", "dana-password");
  v1::CreateTokenResponse t = server_->MustCreateToken(dana, "audited");
  ASSERT_TRUE(server_->RevokeToken(dana, t.token().id()).ok());
  EXPECT_EQ(
      server_->AuthenticateBasic("dana", "not-her-password", v1::OPERATION_READ)
          .error_code(),
      StatusCode::UNAUTHENTICATED);
  auto audit = v1::AuditService::NewStub(server_->channel());
  v1::ListAuditEventsResponse events;
  ASSERT_TRUE(audit
                  ->ListAuditEvents(ServerHarness::Context(dana).get(),
                                    v1::ListAuditEventsRequest(), &events)
                  .ok());
  std::vector<std::string> types;
  for (const v1::AuditEvent& e : events.events()) types.push_back(e.type());
  EXPECT_THAT(types, ::testing::IsSupersetOf(
                         {"token.create", "token.revoke", "auth.failed"}));
  const std::string bytes = events.SerializeAsString();
  EXPECT_EQ(bytes.find(t.value()), std::string::npos);
  EXPECT_EQ(bytes.find("not-her-password"), std::string::npos);
  v1::ListAuditEventsRequest others;
  others.set_user_id(1);  // The admin.
  EXPECT_EQ(
      audit
          ->ListAuditEvents(ServerHarness::Context(dana).get(), others, &events)
          .error_code(),
      StatusCode::PERMISSION_DENIED);
}

TEST_F(TokenE2eTest, JanitorRunsOnDemandAndLeavesUsableTokens) {
  server_->MustCreateUser("erin", "erin-password");
  Caller erin = Caller::Basic("erin", "erin-password");
  v1::CreateTokenResponse keep = server_->MustCreateToken(erin, "keep");
  v1::CreateTokenResponse drop = server_->MustCreateToken(erin, "drop");
  ASSERT_TRUE(server_->RevokeToken(erin, drop.token().id()).ok());
  absl::SleepFor(absl::Milliseconds(1100));
  // Run the real binary in janitor mode with a 1s TTL on the same database.
  const MysqlOptions& db = server_->database().options();
  const std::string command = absl::StrCat(
      "TOKENAUTH_MYSQL_HOST=", db.host, " TOKENAUTH_MYSQL_PORT=", db.port,
      " TOKENAUTH_MYSQL_USER=", db.user, " TOKENAUTH_MYSQL_PASSWORD='",
      db.password, "' TOKENAUTH_MYSQL_DATABASE=", db.database, " ",
      TOKENAUTH_SERVER_BINARY,
      " --tokenauth_janitor_once --access_token_unusable_token_ttl=1s 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) output += buf;
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_THAT(output, HasSubstr("janitor: deleted 1 tokens"));
  v1::ListTokensRequest all;
  all.set_show_unusable(true);
  v1::ListTokensResponse list;
  ASSERT_TRUE(server_->ListTokens(erin, all, &list).ok());
  ASSERT_EQ(list.tokens_size(), 1);
  EXPECT_EQ(list.tokens(0).id(), keep.token().id());
}

}  // namespace
}  // namespace tokenauth::e2e
