// Authenticator rules against the real MariaDB (tests/test_db.h).
#include "core/authenticator.h"

#include "tests/core_fixture.h"

namespace tokenauth {
namespace {

using ::testing::HasSubstr;

class AuthenticatorTest : public CoreFixture {
 protected:
  absl::StatusOr<AuthResult> Check(const std::string& value,
                                   Operation op = Operation::kRead,
                                   std::vector<std::string> scopes = {}) {
    return authenticator_->Authenticate(TokenCredential{value}, op, scopes);
  }
};

TEST_F(AuthenticatorTest, ValidTokenResolvesToItsOwner) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice, Access::kReadOnly);
  absl::StatusOr<AuthResult> r = Check(t.value);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->principal.user_id, alice.principal.user_id);
  EXPECT_EQ(r->principal.username, "alice");
  EXPECT_EQ(r->kind, CredentialKind::kAccessToken);
  ASSERT_TRUE(r->token.has_value());
  EXPECT_EQ(r->token->public_id, t.token.public_id);
}

TEST_F(AuthenticatorTest, OneChangedCharacterIsRefusedWithoutAQuery) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  std::string changed = t.value;
  changed[20] = changed[20] == 'Q' ? 'R' : 'Q';
  const int before = store_.calls();
  absl::StatusOr<AuthResult> r = Check(changed);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("checksum"));
  EXPECT_EQ(store_.calls(), before) << "a malformed token reached the store";
  // The control: the untouched value does query the store.
  ASSERT_TRUE(Check(t.value).ok());
  EXPECT_GT(store_.calls(), before);
}

TEST_F(AuthenticatorTest, WellFormedButUnknownTokenIsRefused) {
  SodiumRandom random;
  const std::string value = format_.Generate(random).value;
  EXPECT_EQ(Check(value).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, SameIdWithOtherSecretIsRefused) {
  // Same public id and a valid checksum, but another secret: the hash
  // comparison, not the lookup, must refuse it.
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  std::string forged = t.value.substr(0, 4 + 12) + std::string(22, 'A');
  forged += Base62Checksum(forged, 6);
  ASSERT_TRUE(format_.Parse(forged).ok());
  EXPECT_EQ(Check(forged).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, ReadOnlyTokenCannotWrite) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created ro = MakeToken(alice, Access::kReadOnly);
  TokenManager::Created rw = MakeToken(alice, Access::kReadWrite);
  EXPECT_TRUE(Check(ro.value, Operation::kRead).ok());
  absl::StatusOr<AuthResult> w = Check(ro.value, Operation::kWrite);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(w.status().message()), HasSubstr("read-only"));
  EXPECT_TRUE(Check(rw.value, Operation::kWrite).ok());
}

TEST_F(AuthenticatorTest, ExpiredTokenIsRefused) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t =
      MakeToken(alice, Access::kReadWrite, absl::Hours(1));
  EXPECT_TRUE(Check(t.value).ok());
  clock_.Advance(absl::Hours(1));
  absl::StatusOr<AuthResult> r = Check(t.value);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("expired"));
}

TEST_F(AuthenticatorTest, RevokedTokenIsRefused) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(tokens_->Revoke(alice, t.token.public_id).ok());
  absl::StatusOr<AuthResult> r = Check(t.value);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("revoked"));
}

TEST_F(AuthenticatorTest, StaleTokenIsRefusedAndRevivesWithALongerPeriod) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  clock_.Advance(absl::Hours(24 * 366));
  EXPECT_EQ(Check(t.value).status().code(), absl::StatusCode::kUnauthenticated);
  TokenPolicy longer;
  longer.stale_period = absl::Hours(24 * 400);
  Rebuild(longer);
  EXPECT_TRUE(Check(t.value).ok());
}

TEST_F(AuthenticatorTest, ScopesMustBeCarried) {
  AuthResult alice = MakeUser("alice");
  TokenManager::CreateParams p;
  p.name = "scoped";
  p.permissions = {Access::kReadWrite, {"repo:read"}};
  absl::StatusOr<TokenManager::Created> scoped = tokens_->Create(alice, p);
  ASSERT_TRUE(scoped.ok()) << scoped.status();
  EXPECT_TRUE(Check(scoped->value, Operation::kRead, {"repo:read"}).ok());
  absl::StatusOr<AuthResult> r =
      Check(scoped->value, Operation::kRead, {"repo:write"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("repo:write"));
  // A token without scopes is not restricted by scope.
  TokenManager::Created plain = MakeToken(alice);
  EXPECT_TRUE(Check(plain.value, Operation::kRead, {"anything"}).ok());
}

TEST_F(AuthenticatorTest, DisabledUserTokenAndPasswordAreRefusedUntilEnabled) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  AuthResult admin = MakeUser("boss", /*admin=*/true);
  ASSERT_TRUE(users_->SetDisabled(admin, alice.principal.user_id, true).ok());
  EXPECT_EQ(Check(t.value).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authenticator_
                ->Authenticate(BasicCredential{"alice", "password-alice"},
                               Operation::kRead, {})
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(users_->SetDisabled(admin, alice.principal.user_id, false).ok());
  EXPECT_TRUE(Check(t.value).ok());
}

TEST_F(AuthenticatorTest, BasicCredential) {
  MakeUser("alice");
  absl::StatusOr<AuthResult> ok = authenticator_->Authenticate(
      BasicCredential{"alice", "password-alice"}, Operation::kWrite, {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->kind, CredentialKind::kBasic);
  EXPECT_EQ(ok->principal.username, "alice");
  for (const BasicCredential& bad :
       {BasicCredential{"alice", "wrong"}, BasicCredential{"nobody", "x"},
        BasicCredential{"", ""}, BasicCredential{"bad name", "x"}}) {
    absl::StatusOr<AuthResult> r =
        authenticator_->Authenticate(bad, Operation::kRead, {});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    // Same message for unknown users and wrong passwords: no enumeration.
    EXPECT_EQ(r.status().message(), "basic: wrong username or password");
  }
}

}  // namespace
}  // namespace tokenauth
