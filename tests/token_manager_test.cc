// TokenManager rules against the real MariaDB (tests/test_db.h).
#include "core/token_manager.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "core/page_token.h"
#include "tests/core_fixture.h"

namespace tokenauth {
namespace {

using ::testing::HasSubstr;

class TokenManagerTest : public CoreFixture {};

TEST_F(TokenManagerTest, StoredRowHoldsOnlyTheHash) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  absl::StatusOr<TokenRecord> stored = mysql_->GetToken(t.token.public_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->value_hash, TokenFormat::Hash(t.value));
  const std::string secret = t.value.substr(4 + 12, 22);
  for (const std::string& field :
       {stored->value_hash, stored->hint, stored->name, stored->public_id}) {
    EXPECT_EQ(field.find(secret), std::string::npos);
  }
}

TEST_F(TokenManagerTest, TokenCallerCannotManageTokens) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  AuthResult by_token = alice;
  by_token.kind = CredentialKind::kAccessToken;
  TokenManager::CreateParams p;
  p.name = "x";
  EXPECT_EQ(tokens_->Create(by_token, p).status().code(),
            absl::StatusCode::kPermissionDenied);
  TokenUpdate rename;
  rename.name = "y";
  EXPECT_EQ(
      tokens_->Update(by_token, t.token.public_id, rename).status().code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(tokens_->Revoke(by_token, t.token.public_id).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(tokens_->Get(by_token, t.token.public_id).ok());
  EXPECT_TRUE(tokens_->List(by_token, {}).ok());
  EXPECT_EQ(
      users_->SetPassword(by_token, 0, "password-alice", "new-password").code(),
      absl::StatusCode::kPermissionDenied);
}

TEST_F(TokenManagerTest, OwnersOnlyAdminsReadAndRevoke) {
  AuthResult alice = MakeUser("alice");
  AuthResult bob = MakeUser("bob");
  AuthResult admin = MakeUser("boss", true);
  TokenManager::Created t = MakeToken(alice);
  const std::string id = t.token.public_id;
  TokenUpdate rename;
  rename.name = "mine now";
  EXPECT_EQ(tokens_->Get(bob, id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tokens_->Update(bob, id, rename).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tokens_->Revoke(bob, id).status().code(),
            absl::StatusCode::kNotFound);
  TokenManager::ListParams others;
  others.user_id = alice.principal.user_id;
  EXPECT_EQ(tokens_->List(bob, others).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Admins read and list anyone's, but do not edit them.
  EXPECT_TRUE(tokens_->Get(admin, id).ok());
  absl::StatusOr<TokenManager::Page> page = tokens_->List(admin, others);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->tokens.size(), 1u);
  EXPECT_EQ(tokens_->Update(admin, id, rename).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(tokens_->Revoke(admin, id).ok());
}

TEST_F(TokenManagerTest, RevocationIsIrreversible) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  const std::string id = t.token.public_id;
  absl::StatusOr<TokenRecord> revoked = tokens_->Revoke(alice, id);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked->revoke_time.has_value());
  EXPECT_EQ(tokens_->StateOf(*revoked), TokenState::kRevoked);
  TokenUpdate update;
  update.expire_time = std::optional<absl::Time>();
  update.name = "revive";
  EXPECT_EQ(tokens_->Get(alice, id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tokens_->Update(alice, id, update).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tokens_->Revoke(alice, id).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<TokenRecord> stored = mysql_->GetToken(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->revoke_time.has_value());
}

TEST_F(TokenManagerTest, ExpirationMustBeInTheFuture) {
  AuthResult alice = MakeUser("alice");
  TokenManager::CreateParams p;
  p.name = "x";
  p.expiration.expire_time = clock_.Now() - absl::Seconds(1);
  absl::Status s = tokens_->Create(alice, p).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("expire_time"));
  p.expiration.expire_time = clock_.Now();
  EXPECT_EQ(tokens_->Create(alice, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  p.expiration.expire_time.reset();
  p.expiration.ttl = absl::ZeroDuration();
  EXPECT_EQ(tokens_->Create(alice, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  p.expiration.ttl = absl::Hours(1);
  p.expiration.expire_time = clock_.Now() + absl::Hours(2);
  EXPECT_EQ(tokens_->Create(alice, p).status().code(),
            absl::StatusCode::kInvalidArgument);  // Both given.

  TokenManager::Created t = MakeToken(alice);
  TokenUpdate past;
  past.expire_time = std::optional<absl::Time>(clock_.Now() - absl::Hours(1));
  EXPECT_EQ(tokens_->Update(alice, t.token.public_id, past).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenManagerTest, InvalidInputChangesNothing) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  for (const std::string& name :
       {std::string(), std::string(256, 'n'), std::string("bad\xff")}) {
    TokenManager::CreateParams p;
    p.name = name;
    EXPECT_EQ(tokens_->Create(alice, p).status().code(),
              absl::StatusCode::kInvalidArgument);
    TokenUpdate u;
    u.name = name;
    EXPECT_EQ(tokens_->Update(alice, t.token.public_id, u).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<TokenManager::Page> page = tokens_->List(alice, {});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->tokens.size(), 1u);
  EXPECT_EQ(page->tokens[0].name, "t");
}

TEST_F(TokenManagerTest, UpdateChangesNamedFieldsOnly) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice, Access::kReadOnly, absl::Hours(5));
  TokenUpdate u;
  u.name = "renamed";
  absl::StatusOr<TokenRecord> r = tokens_->Update(alice, t.token.public_id, u);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "renamed");
  EXPECT_EQ(r->permissions.access, Access::kReadOnly);
  EXPECT_EQ(r->expire_time, t.token.expire_time);
  TokenUpdate clear;
  clear.expire_time = std::optional<absl::Time>();
  clear.permissions = Permissions{Access::kReadWrite, {"api"}};
  r = tokens_->Update(alice, t.token.public_id, clear);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->expire_time.has_value());
  EXPECT_EQ(r->permissions, (Permissions{Access::kReadWrite, {"api"}}));
  EXPECT_EQ(r->name, "renamed");
  EXPECT_EQ(
      tokens_->Update(alice, t.token.public_id, TokenUpdate()).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenManagerTest, PagingVisitsEachTokenOnceAndStaysInItsListing) {
  TokenPolicy unlimited;
  unlimited.max_tokens_per_user = 0;
  Rebuild(unlimited);
  AuthResult alice = MakeUser("alice");
  AuthResult bob = MakeUser("bob");
  std::set<std::string> created;
  for (int i = 0; i < 120; ++i)
    created.insert(MakeToken(alice).token.public_id);
  MakeToken(bob);

  std::set<std::string> seen;
  std::vector<size_t> sizes;
  TokenManager::ListParams params;
  params.page_size = 50;
  std::string first_page_token;
  do {
    absl::StatusOr<TokenManager::Page> page = tokens_->List(alice, params);
    ASSERT_TRUE(page.ok()) << page.status();
    sizes.push_back(page->tokens.size());
    for (const TokenRecord& t : page->tokens) {
      EXPECT_TRUE(seen.insert(t.public_id).second) << "seen twice";
      EXPECT_EQ(t.user_id, alice.principal.user_id);
    }
    if (first_page_token.empty()) first_page_token = page->next_page_token;
    params.page_token = page->next_page_token;
  } while (!params.page_token.empty());
  EXPECT_EQ(sizes, (std::vector<size_t>{50, 50, 20}));
  EXPECT_EQ(seen, created);

  // Alice's page token in Bob's listing, or one crafted for Alice's id.
  TokenManager::ListParams replay;
  replay.page_token = first_page_token;
  EXPECT_EQ(tokens_->List(bob, replay).status().code(),
            absl::StatusCode::kInvalidArgument);
  replay.page_token = EncodePageToken(
      1 << 30, absl::StrCat("tokens:", alice.principal.user_id, ":",
                            alice.principal.user_id, ":0:-:"));
  EXPECT_EQ(tokens_->List(bob, replay).status().code(),
            absl::StatusCode::kInvalidArgument);
  replay.user_id = alice.principal.user_id;
  EXPECT_EQ(tokens_->List(bob, replay).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(TokenManagerTest, ListingHidesUnusableUnlessAsked) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created live = MakeToken(alice);
  TokenManager::Created revoked = MakeToken(alice);
  TokenManager::Created expiring =
      MakeToken(alice, Access::kReadWrite, absl::Hours(1));
  ASSERT_TRUE(tokens_->Revoke(alice, revoked.token.public_id).ok());
  clock_.Advance(absl::Hours(2));
  absl::StatusOr<TokenManager::Page> page = tokens_->List(alice, {});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->tokens.size(), 1u);
  EXPECT_EQ(page->tokens[0].public_id, live.token.public_id);
  TokenManager::ListParams all;
  all.show_unusable = true;
  page = tokens_->List(alice, all);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->tokens.size(), 3u);
}

TEST_F(TokenManagerTest, LimitCountsUsableTokensOnly) {
  TokenPolicy three;
  three.max_tokens_per_user = 3;
  Rebuild(three);
  AuthResult alice = MakeUser("alice");
  std::vector<TokenManager::Created> made;
  for (int i = 0; i < 3; ++i) made.push_back(MakeToken(alice));
  TokenManager::CreateParams p;
  p.name = "fourth";
  absl::Status s = tokens_->Create(alice, p).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("3"));
  ASSERT_TRUE(tokens_->Revoke(alice, made[0].token.public_id).ok());
  EXPECT_TRUE(tokens_->Create(alice, p).ok());
}

}  // namespace
}  // namespace tokenauth
