// The Authenticator with an AuthCache, against the real MariaDB: what a hit
// saves, what it must still check, and when a change is seen — at once on
// this process, within REVOCATION_PROPAGATION_BOUND through another one.
#include <cstdint>
#include <functional>
#include <vector>

#include "core/authenticator.h"
#include "core/errors.h"
#include "tests/core_fixture.h"

namespace tokenauth {
namespace {

constexpr absl::Duration kBound = absl::Seconds(1);

class AuthenticatorCacheTest : public CoreFixture {
 protected:
  void SetUp() override {
    AuthCacheOptions options;
    options.max_age = kBound;
    options.refresh_threads = 0;  // Deterministic; see RefreshAheadTest.
    EnableCache(options);
  }

  // Another replica: its own cache and rules on the same database. It tells
  // this one nothing.
  struct OtherReplica {
    explicit OtherReplica(AuthenticatorCacheTest& t)
        : cache(t.cache_->options()),
          tokens(&t.store_, &t.clock_, &t.random_, &t.format_, t.policy_.tokens,
                 &t.audit_, &cache) {}
    AuthCache cache;
    TokenManager tokens;
  };

  absl::StatusOr<AuthResult> Token(const std::string& value,
                                   Operation op = Operation::kRead,
                                   CacheUse use = CacheUse::kAllow) {
    return authenticator_->Authenticate(TokenCredential{value}, op, {}, "",
                                        use);
  }
  absl::StatusOr<AuthResult> Basic(const std::string& user,
                                   const std::string& password) {
    return authenticator_->Authenticate(BasicCredential{user, password},
                                        Operation::kRead, {});
  }
  absl::StatusOr<AuthResult> Session(const std::string& id,
                                     const std::string& csrf,
                                     Operation op = Operation::kRead) {
    return authenticator_->Authenticate(SessionCredential{id, csrf}, op, {});
  }
};

TEST_F(AuthenticatorCacheTest, ARepeatedTokenCostsNoStoreCall) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());
  const int before = store_.calls();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Token(t.value).ok());
  EXPECT_EQ(store_.calls(), before);
  EXPECT_EQ(cache_->Stats().hits, 10u);
  // Asking for a fresh answer reads the store.
  ASSERT_TRUE(Token(t.value, Operation::kRead, CacheUse::kSkip).ok());
  EXPECT_GT(store_.calls(), before);
}

TEST_F(AuthenticatorCacheTest, AnAnswerIsReadAgainAfterTheBound) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());
  clock_.Advance(kBound - absl::Milliseconds(1));
  int before = store_.calls();
  ASSERT_TRUE(Token(t.value).ok());
  EXPECT_EQ(store_.calls(), before);
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(Token(t.value).ok());
  EXPECT_GT(store_.calls(), before);
}

TEST_F(AuthenticatorCacheTest, AHitStillChecksTheOperation) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice, Access::kReadOnly);
  ASSERT_TRUE(Token(t.value).ok());
  EXPECT_EQ(Token(t.value, Operation::kWrite).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(AuthenticatorCacheTest, RevocationHereIsSeenAtOnce) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  TokenManager::Created other = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());
  ASSERT_TRUE(Token(other.value).ok());
  ASSERT_TRUE(tokens_->Revoke(alice, t.token.public_id).ok());
  EXPECT_EQ(Token(t.value).status().code(), absl::StatusCode::kUnauthenticated);
  // The user's other token is read again, and still works.
  EXPECT_TRUE(Token(other.value).ok());
}

TEST_F(AuthenticatorCacheTest, EditingATokenIsSeenAtOnce) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value, Operation::kWrite).ok());
  TokenUpdate change;
  change.permissions = Permissions{Access::kReadOnly, {}};
  ASSERT_TRUE(tokens_->Update(alice, t.token.public_id, change).ok());
  EXPECT_EQ(Token(t.value, Operation::kWrite).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(AuthenticatorCacheTest, RevocationThroughAnotherReplicaWithinTheBound) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());
  // Another replica: its own cache and rules, the same database.
  OtherReplica other(*this);
  ASSERT_TRUE(other.tokens.Revoke(alice, t.token.public_id).ok());
  // This replica may still answer from its cache, but only within the bound.
  clock_.Advance(kBound - absl::Milliseconds(1));
  EXPECT_TRUE(Token(t.value).ok());
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Token(t.value).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorCacheTest, RepeatedBasicSkipsTheStoreAndTheHash) {
  MakeUser("alice");
  ASSERT_TRUE(Basic("alice", "password-alice").ok());
  const int before = store_.calls();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(Basic("alice", "password-alice").ok());
  // No user read, no lockout reservation, so no password hash either.
  EXPECT_EQ(store_.calls(), before);
  // A wrong password is never answered from the cache.
  EXPECT_EQ(Basic("alice", "password-alicf").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_GT(store_.calls(), before);
}

TEST_F(AuthenticatorCacheTest, ALockoutReachesACachedCorrectPassword) {
  MakeUser("alice");
  ASSERT_TRUE(Basic("alice", "password-alice").ok());  // Cached.
  // Someone guesses until the account is locked (the 11th is refused as
  // locked, which drops alice's cached answers).
  for (int i = 0; i < policy_.lockout.max_failures + 1; ++i) {
    EXPECT_EQ(Basic("alice", "wrong-password").status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  absl::StatusOr<AuthResult> right = Basic("alice", "password-alice");
  EXPECT_EQ(right.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ReasonOf(right.status()), reasons::kAccountLocked);
}

TEST_F(AuthenticatorCacheTest, AFreshRefusalDropsTheCachedAnswer) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());
  OtherReplica other(*this);
  ASSERT_TRUE(other.tokens.Revoke(alice, t.token.public_id).ok());
  EXPECT_TRUE(Token(t.value).ok());  // Cached, within the bound.
  EXPECT_EQ(Token(t.value, Operation::kRead, CacheUse::kSkip).status().code(),
            absl::StatusCode::kUnauthenticated);
  // The fresh refusal replaced the cached answer at once.
  EXPECT_EQ(Token(t.value).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorCacheTest, PasswordChangeAndDisableAreSeenAtOnce) {
  AuthResult alice = MakeUser("alice");
  AuthResult bob = MakeUser("bob");
  ASSERT_TRUE(Basic("alice", "password-alice").ok());
  ASSERT_TRUE(Basic("bob", "password-bob").ok());
  ASSERT_TRUE(
      users_
          ->SetPassword(alice, 0, "password-alice", "a-new-password-for-alice")
          .ok());
  EXPECT_EQ(Basic("alice", "password-alice").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Basic("alice", "a-new-password-for-alice").ok());

  TokenManager::Created t = MakeToken(bob);
  ASSERT_TRUE(Token(t.value).ok());
  ASSERT_TRUE(users_->SetDisabled(Admin(), bob.principal.user_id, true).ok());
  EXPECT_EQ(Basic("bob", "password-bob").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Token(t.value).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorCacheTest, SessionHitStillChecksCsrfAndLogoutIsAtOnce) {
  MakeUser("alice");
  absl::StatusOr<SessionManager::Started> s =
      sessions_->Login("alice", "password-alice", "peer", "");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(Session(s->session_id, "").ok());
  EXPECT_EQ(Session(s->session_id, "").status().code(), absl::StatusCode::kOk);
  EXPECT_EQ(Session(s->session_id, "", Operation::kWrite).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Session(s->session_id, std::string(32, 'x'), Operation::kWrite)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<AuthResult> caller =
      Session(s->session_id, s->csrf_token, Operation::kWrite);
  ASSERT_TRUE(caller.ok()) << caller.status();
  ASSERT_TRUE(sessions_->Logout(*caller).ok());
  EXPECT_EQ(Session(s->session_id, "").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorCacheTest, AMalformedTokenNeverReachesTheCache) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  std::string changed = t.value;
  changed[20] = changed[20] == 'Q' ? 'R' : 'Q';
  const AuthCacheStats before = cache_->Stats();
  EXPECT_EQ(Token(changed).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(cache_->Stats().misses, before.misses);
}

// Refresh ahead: a hit in the last quarter of an entry's life re-reads it on
// a background thread, so a credential in steady use never waits.
class RefreshAheadTest : public AuthenticatorCacheTest {
 protected:
  void SetUp() override {
    AuthCacheOptions options;
    options.max_age = kBound;
    options.refresh_threads = 1;
    EnableCache(options);
  }

  // Waits (bounded, on the real clock) until `done` holds.
  static bool Eventually(const std::function<bool()>& done) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() > give_up) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }
};

TEST_F(RefreshAheadTest, ASteadilyUsedTokenIsRefreshedBeforeItExpires) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());  // Read at t0.
  EXPECT_EQ(cache_->Stats().insertions, 1u);
  // Early in the entry's life: a plain hit.
  clock_.Advance(kBound / 2);
  ASSERT_TRUE(Token(t.value).ok());
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(cache_->Stats().insertions, 1u);
  // In its last quarter: still a hit, and one background re-read.
  clock_.Advance(kBound * 3 / 10);
  ASSERT_TRUE(Token(t.value).ok());
  ASSERT_TRUE(Token(t.value).ok());
  ASSERT_TRUE(Eventually([&] { return cache_->Stats().insertions == 2; }));
  // Past the first read's bound, the refreshed entry answers: no store call.
  clock_.Advance(kBound * 3 / 10);
  const int before = store_.calls();
  ASSERT_TRUE(Token(t.value).ok());
  EXPECT_EQ(store_.calls(), before);
  EXPECT_EQ(cache_->Stats().misses, 1u);
}

TEST_F(RefreshAheadTest, ARefreshThatFindsTheTokenRevokedDropsIt) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());
  // Revoked through another replica: this one is not told.
  OtherReplica other(*this);
  ASSERT_TRUE(other.tokens.Revoke(alice, t.token.public_id).ok());
  clock_.Advance(kBound * 8 / 10);
  ASSERT_TRUE(Token(t.value).ok());  // From the cache; starts a refresh.
  ASSERT_TRUE(Eventually([&] { return cache_->Stats().entries == 0; }));
  EXPECT_EQ(Token(t.value).status().code(), absl::StatusCode::kUnauthenticated);
}

// Many entries due at once are re-read together: a few store calls, not one
// per token; and each answer is its own token's (one revoked among them is
// the only one dropped).
TEST_F(RefreshAheadTest, EntriesDueTogetherAreReadInOneBatch) {
  AuthResult alice = MakeUser("alice");
  constexpr int kTokens = 40;
  std::vector<TokenManager::Created> tokens;
  for (int i = 0; i < kTokens; ++i) {
    tokens.push_back(MakeToken(alice));
    ASSERT_TRUE(Token(tokens.back().value).ok());
  }
  OtherReplica other(*this);
  ASSERT_TRUE(other.tokens.Revoke(alice, tokens[7].token.public_id).ok());
  clock_.Advance(kBound * 8 / 10);
  const int before = store_.calls();
  for (const TokenManager::Created& t : tokens) {
    ASSERT_TRUE(Token(t.value).ok());  // From the cache; due for a refresh.
  }
  ASSERT_TRUE(Eventually([&] {
    return cache_->Stats().insertions == 2u * kTokens - 1 &&
           cache_->Stats().entries == kTokens - 1u;
  }));
  // One read per batch of up to 64 (two if the hits straddled the gathering
  // window), and perhaps a last-use flush.
  EXPECT_LE(store_.calls() - before, 4);
  EXPECT_EQ(Token(tokens[7].value).status().code(),
            absl::StatusCode::kUnauthenticated);
  clock_.Advance(kBound * 4 / 10);  // Past the first reads' bound.
  const uint64_t hits = cache_->Stats().hits;
  for (int i = 0; i < kTokens; ++i) {
    if (i == 7) continue;
    ASSERT_TRUE(Token(tokens[i].value).ok()) << i;
  }
  EXPECT_EQ(cache_->Stats().hits - hits, kTokens - 1u);
}

TEST_F(RefreshAheadTest, ARefreshOfARotatedOutValueIsNotReuse) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  ASSERT_TRUE(Token(t.value).ok());
  // A use from the cache that raced with a rotation on another replica must
  // not count as reuse: the successor keeps working.
  OtherReplica other(*this);
  absl::StatusOr<TokenManager::Rotated> rotated =
      other.tokens.Rotate(alice, t.token.public_id, {}, "");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  clock_.Advance(kBound * 8 / 10);
  ASSERT_TRUE(Token(t.value).ok());
  ASSERT_TRUE(Eventually([&] { return cache_->Stats().entries == 0; }));
  EXPECT_TRUE(Token(rotated->value).ok());
}

}  // namespace
}  // namespace tokenauth
