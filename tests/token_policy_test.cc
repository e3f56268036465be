// Issue-4 token rules against the real MariaDB with a fake clock: the exact
// limit, expiry policy, last use, rotation and reuse detection, idempotent
// create, listing filters, the janitor and the audit log.
#include <atomic>
#include <set>
#include <thread>

#include "core/janitor.h"
#include "tests/core_fixture.h"

namespace tokenauth {
namespace {

using ::testing::HasSubstr;

class TokenPolicyTest : public CoreFixture {
 protected:
  absl::StatusOr<AuthResult> Use(const std::string& value,
                                 const std::string& peer = "ipv4:10.0.0.1:1") {
    return authenticator_->Authenticate(TokenCredential{value},
                                        Operation::kRead, {}, peer);
  }
  std::vector<AuditEvent> Events(const std::string& type) {
    AuditQuery q;
    q.type = type;
    q.limit = 1000;
    absl::StatusOr<std::vector<AuditEvent>> events = mysql_->ListAuditEvents(q);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<AuditEvent>();
  }
};

TEST_F(TokenPolicyTest,
       SixtyFourParallelCreatesOverFortyTokensYieldExactlyTen) {
  AuthResult alice = MakeUser("alice");
  for (int i = 0; i < 40; ++i) MakeToken(alice);
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&] {
      TokenManager::CreateParams p;
      p.name = "racer";
      absl::Status s = tokens_->Create(alice, p).status();
      if (s.ok()) {
        ++ok;
      } else if (absl::IsResourceExhausted(s)) {
        ++exhausted;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(exhausted.load(), 54);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(TokenPolicyTest, DefaultAndMaximumLifetimeAndRequiredExpiration) {
  AuthPolicy policy;
  policy.tokens.default_lifetime = absl::Hours(24 * 30);
  policy.tokens.max_lifetime = absl::Hours(24 * 90);
  Rebuild(policy);
  AuthResult alice = MakeUser("alice");
  TokenManager::CreateParams p;
  p.name = "defaulted";
  absl::StatusOr<TokenManager::Created> c = tokens_->Create(alice, p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->token.expire_time, clock_.Now() + absl::Hours(24 * 30));
  p.expiration.ttl = absl::Hours(24 * 91);
  absl::Status over = tokens_->Create(alice, p).status();
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(over.message()),
              HasSubstr("ACCESS_TOKEN_MAX_LIFETIME"));
  EXPECT_THAT(std::string(over.message()), HasSubstr("90d"));
  // Edits obey the same policy.
  TokenUpdate forever;
  forever.expire_time =
      std::optional<absl::Time>(clock_.Now() + absl::Hours(24 * 100));
  EXPECT_EQ(tokens_->Update(alice, c->token.public_id, forever).status().code(),
            absl::StatusCode::kInvalidArgument);

  policy.tokens.default_lifetime.reset();
  policy.tokens.require_expiration = true;
  Rebuild(policy);
  TokenManager::CreateParams none;
  none.name = "no expiry";
  absl::Status required = tokens_->Create(alice, none).status();
  EXPECT_EQ(required.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(required.message()),
              HasSubstr("ACCESS_TOKEN_REQUIRE_EXPIRATION"));
  TokenUpdate clear;
  clear.expire_time = std::optional<absl::Time>();
  EXPECT_EQ(tokens_->Update(alice, c->token.public_id, clear).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenPolicyTest, LastUseIsRecordedOffThePathAtMostOncePerInterval) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  const int before = store_.calls();
  ASSERT_TRUE(Use(t.value, "ipv4:10.0.0.1:1").ok());
  // Authenticate wrote nothing itself: one read of the token and its owner.
  EXPECT_EQ(store_.calls() - before, 1);
  EXPECT_FALSE(mysql_->GetToken(t.token.public_id)->last_used_time.has_value());
  ASSERT_TRUE(last_use_->Flush().ok());
  absl::StatusOr<TokenRecord> stored = mysql_->GetToken(t.token.public_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->last_used_time, clock_.Now());
  EXPECT_EQ(stored->last_used_peers,
            std::vector<std::string>{"ipv4:10.0.0.1:1"});

  // Within the interval: nothing more is queued or written.
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Use(t.value, "ipv4:10.0.0.2:1").ok());
  EXPECT_EQ(last_use_->pending(), 0u);
  // After it: the new use and peer, most recent first.
  clock_.Advance(absl::Minutes(6));
  ASSERT_TRUE(Use(t.value, "ipv4:10.0.0.2:1").ok());
  ASSERT_TRUE(last_use_->Flush().ok());
  stored = mysql_->GetToken(t.token.public_id);
  EXPECT_EQ(stored->last_used_time, clock_.Now());
  EXPECT_EQ(stored->last_used_peers,
            (std::vector<std::string>{"ipv4:10.0.0.2:1", "ipv4:10.0.0.1:1"}));
}

TEST_F(TokenPolicyTest, LastUseMemoryIsBoundedByMaxPending) {
  // Room for two tokens: queued, or remembered as queued in the interval.
  LastUseRecorder recorder(&store_, absl::Minutes(10), 5, /*max_pending=*/2);
  AuthResult alice = MakeUser("alice");
  std::vector<TokenRecord> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(MakeToken(alice).token);
  recorder.Used(tokens[0], "", clock_.Now());
  recorder.Used(tokens[1], "", clock_.Now());
  recorder.Used(tokens[2], "", clock_.Now());  // The queue is full.
  EXPECT_EQ(recorder.pending(), 2u);
  EXPECT_EQ(recorder.dropped(), 1u);
  ASSERT_TRUE(recorder.Flush().ok());
  // Flushed, but both are remembered for the interval: still no room.
  recorder.Used(tokens[3], "", clock_.Now());
  EXPECT_EQ(recorder.pending(), 0u);
  EXPECT_EQ(recorder.dropped(), 2u);
  // Once the interval has passed, the next flush forgets them.
  clock_.Advance(absl::Minutes(11));
  recorder.Used(tokens[3], "", clock_.Now());
  EXPECT_EQ(recorder.dropped(), 3u);
  ASSERT_TRUE(recorder.Flush().ok());
  recorder.Used(tokens[3], "", clock_.Now());
  EXPECT_EQ(recorder.pending(), 1u);
  ASSERT_TRUE(recorder.Flush().ok());
  recorder.Used(tokens[2], "", clock_.Now());
  EXPECT_EQ(recorder.pending(), 1u);
  EXPECT_EQ(recorder.dropped(), 3u);
}

TEST_F(TokenPolicyTest, LastUseKeepsFiveDistinctPeersAndNeverTouchesUnusable) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  for (int i = 0; i < 7; ++i) {
    clock_.Advance(absl::Minutes(11));
    ASSERT_TRUE(Use(t.value, absl::StrCat("ipv4:10.0.0.", i, ":1")).ok());
    ASSERT_TRUE(last_use_->Flush().ok());
  }
  std::vector<std::string> peers =
      mysql_->GetToken(t.token.public_id)->last_used_peers;
  ASSERT_EQ(peers.size(), 5u);
  EXPECT_EQ(peers.front(), "ipv4:10.0.0.6:1");
  EXPECT_EQ(peers.back(), "ipv4:10.0.0.2:1");

  // A use queued, then the token revoked before the flush: not written.
  TokenManager::Created r = MakeToken(alice);
  clock_.Advance(absl::Minutes(11));
  ASSERT_TRUE(Use(r.value).ok());
  ASSERT_TRUE(tokens_->Revoke(alice, r.token.public_id).ok());
  ASSERT_TRUE(last_use_->Flush().ok());
  EXPECT_FALSE(mysql_->GetToken(r.token.public_id)->last_used_time.has_value());
}

TEST_F(TokenPolicyTest, RotationIssuesASuccessorAndRevokesTheOld) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t =
      MakeToken(alice, Access::kReadOnly, absl::Hours(48));
  clock_.Advance(absl::Hours(1));
  absl::StatusOr<TokenManager::Rotated> r =
      tokens_->Rotate(alice, t.token.public_id, {}, "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->value.empty());
  EXPECT_EQ(r->successor.name, t.token.name);
  EXPECT_EQ(r->successor.permissions, t.token.permissions);
  EXPECT_EQ(r->successor.family_id, t.token.public_id);
  EXPECT_EQ(r->successor.expire_time, clock_.Now() + absl::Hours(48));
  EXPECT_TRUE(r->old_token.revoke_time.has_value());
  EXPECT_EQ(r->old_token.rotated_to, r->successor.public_id);
  EXPECT_TRUE(Use(r->value).ok());
  EXPECT_EQ(Events(audit::kTokenRotate).size(), 1u);
}

TEST_F(TokenPolicyTest, PresentingARotatedOutValueRevokesTheFamily) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  absl::StatusOr<TokenManager::Rotated> r1 =
      tokens_->Rotate(alice, t.token.public_id, {}, "");
  ASSERT_TRUE(r1.ok());
  absl::StatusOr<TokenManager::Rotated> r2 =
      tokens_->Rotate(alice, r1->successor.public_id, {}, "");
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(Use(r2->value).ok());
  absl::StatusOr<AuthResult> reused = Use(t.value);
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(reused.status().message()), HasSubstr("reuse"));
  EXPECT_EQ(Use(r2->value).status().code(), absl::StatusCode::kUnauthenticated);
  std::vector<AuditEvent> events = Events(audit::kTokenReuseDetected);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].object_id, t.token.public_id);
  EXPECT_EQ(events[0].subject_user_id, alice.principal.user_id);
}

TEST_F(TokenPolicyTest, RotatingARotatedOutTokenRevokesTheFamily) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created t = MakeToken(alice);
  absl::StatusOr<TokenManager::Rotated> r =
      tokens_->Rotate(alice, t.token.public_id, {}, "");
  ASSERT_TRUE(r.ok());
  absl::Status again =
      tokens_->Rotate(alice, t.token.public_id, {}, "").status();
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(again.message()), HasSubstr("reuse"));
  EXPECT_EQ(Use(r->value).status().code(), absl::StatusCode::kUnauthenticated);
  AuthResult bob = MakeUser("bob");
  TokenManager::Created b = MakeToken(bob);
  EXPECT_EQ(tokens_->Rotate(alice, b.token.public_id, {}, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(Use(b.value).ok());
}

TEST_F(TokenPolicyTest, CreateWithARequestIdIsIdempotentForADay) {
  AuthResult alice = MakeUser("alice");
  TokenManager::CreateParams p;
  p.name = "ci";
  p.expiration.ttl = absl::Hours(1);
  p.request_id = "0b7f6c1e-5a3d-4b6e-9f00-2a1c3d4e5f60";
  absl::StatusOr<TokenManager::Created> first = tokens_->Create(alice, p);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<TokenManager::Created> retry = tokens_->Create(alice, p);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_TRUE(retry->value.empty());
  EXPECT_EQ(retry->token.public_id, first->token.public_id);
  EXPECT_EQ(tokens_->List(alice, {})->tokens.size(), 1u);
  TokenManager::CreateParams changed = p;
  changed.name = "other";
  EXPECT_EQ(tokens_->Create(alice, changed).status().code(),
            absl::StatusCode::kAlreadyExists);
  // Another user's identical request id is theirs alone.
  AuthResult bob = MakeUser("bob");
  absl::StatusOr<TokenManager::Created> bobs = tokens_->Create(bob, p);
  ASSERT_TRUE(bobs.ok());
  EXPECT_FALSE(bobs->replayed);
  // After 24 hours the id is forgotten.
  clock_.Advance(absl::Hours(24));
  absl::StatusOr<TokenManager::Created> later = tokens_->Create(alice, p);
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->replayed);
  EXPECT_NE(later->token.public_id, first->token.public_id);
  TokenManager::CreateParams bad = p;
  bad.request_id = "has space";
  EXPECT_EQ(tokens_->Create(alice, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenPolicyTest, ParallelRetriesOfOneRequestCreateOneToken) {
  AuthResult alice = MakeUser("alice");
  TokenManager::CreateParams p;
  p.name = "once";
  p.request_id = "retry-storm";
  std::atomic<int> fresh{0}, replays{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<TokenManager::Created> c = tokens_->Create(alice, p);
      if (!c.ok()) {
        ++other;
      } else if (c->replayed) {
        ++replays;
      } else {
        ++fresh;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(replays.load(), 31);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(TokenPolicyTest, ListingFilters) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created soon =
      MakeToken(alice, Access::kReadWrite, absl::Hours(24));
  TokenManager::Created later =
      MakeToken(alice, Access::kReadWrite, absl::Hours(24 * 60));
  TokenManager::Created never = MakeToken(alice);
  TokenManager::Created gone = MakeToken(alice);
  TokenUpdate rename;
  rename.name = "deploy 100%_done";
  ASSERT_TRUE(tokens_->Update(alice, never.token.public_id, rename).ok());
  ASSERT_TRUE(tokens_->Revoke(alice, gone.token.public_id).ok());

  auto ids = [&](TokenManager::ListParams params) {
    std::set<std::string> out;
    absl::StatusOr<TokenManager::Page> page = tokens_->List(alice, params);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const TokenRecord& t : page->tokens) out.insert(t.public_id);
    }
    return out;
  };
  TokenManager::ListParams expiring;
  expiring.expiring_within = absl::Hours(24 * 7);
  EXPECT_EQ(ids(expiring), std::set<std::string>{soon.token.public_id});
  TokenManager::ListParams revoked;
  revoked.state = TokenState::kRevoked;
  EXPECT_EQ(ids(revoked), std::set<std::string>{gone.token.public_id});
  TokenManager::ListParams named;
  named.name_contains = "100%_";
  EXPECT_EQ(ids(named), std::set<std::string>{never.token.public_id});
  named.name_contains = "%";
  EXPECT_EQ(ids(named), std::set<std::string>{never.token.public_id});
  clock_.Advance(absl::Hours(25));
  TokenManager::ListParams expired;
  expired.state = TokenState::kExpired;
  EXPECT_EQ(ids(expired), std::set<std::string>{soon.token.public_id});
  EXPECT_EQ(ids({}), (std::set<std::string>{later.token.public_id,
                                            never.token.public_id}));
  // Page tokens are bound to their filters.
  TokenManager::ListParams small;
  small.page_size = 1;
  absl::StatusOr<TokenManager::Page> first = tokens_->List(alice, small);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());
  TokenManager::ListParams switched = revoked;
  switched.page_token = first->next_page_token;
  EXPECT_EQ(tokens_->List(alice, switched).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenPolicyTest, JanitorDeletesOnlyLongUnusableTokens) {
  AuthResult alice = MakeUser("alice");
  TokenManager::Created live = MakeToken(alice);
  TokenManager::Created expiring =
      MakeToken(alice, Access::kReadWrite, absl::Hours(1));
  TokenManager::Created revoked = MakeToken(alice);
  ASSERT_TRUE(tokens_->Revoke(alice, revoked.token.public_id).ok());
  Janitor janitor(&store_, &clock_, policy_.tokens, /*batch_size=*/1);
  // Keep `live` in use so it never goes stale.
  auto keep_live = [&] {
    ASSERT_TRUE(Use(live.value).ok());
    ASSERT_TRUE(last_use_->Flush().ok());
  };
  clock_.Advance(absl::Hours(24 * 89));
  keep_live();
  absl::StatusOr<Janitor::Result> none = janitor.RunOnce();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->deleted_tokens, 0);
  clock_.Advance(absl::Hours(24 * 2));
  keep_live();
  absl::StatusOr<Janitor::Result> two = janitor.RunOnce();
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->deleted_tokens, 2);
  EXPECT_GE(two->batches, 2);
  EXPECT_TRUE(
      absl::IsNotFound(mysql_->GetToken(expiring.token.public_id).status()));
  EXPECT_TRUE(
      absl::IsNotFound(mysql_->GetToken(revoked.token.public_id).status()));
  EXPECT_TRUE(mysql_->GetToken(live.token.public_id).ok());
  EXPECT_EQ(Events(audit::kTokenJanitorDelete).size(), 2u);
  // A never-used token goes once stale for longer than the TTL.
  TokenManager::Created idle = MakeToken(alice);
  clock_.Advance(absl::Hours(24 * 300));
  keep_live();
  clock_.Advance(absl::Hours(24 * (365 + 89 - 300)));
  keep_live();
  EXPECT_EQ(janitor.RunOnce()->deleted_tokens, 0);
  clock_.Advance(absl::Hours(24 * 2));
  keep_live();
  EXPECT_EQ(janitor.RunOnce()->deleted_tokens, 1);
  EXPECT_TRUE(
      absl::IsNotFound(mysql_->GetToken(idle.token.public_id).status()));
}

TEST_F(TokenPolicyTest, AuditLogRecordsChangesAndFailuresWithoutSecrets) {
  AuthResult alice = MakeUser("alice");
  alice.peer = "ipv4:192.0.2.7:5000";
  AuthResult admin = MakeUser("boss", true);
  TokenManager::Created t = MakeToken(alice);
  TokenUpdate u;
  u.name = "renamed";
  u.permissions = Permissions{Access::kReadOnly, {}};
  ASSERT_TRUE(tokens_->Update(alice, t.token.public_id, u).ok());
  ASSERT_TRUE(tokens_->Revoke(alice, t.token.public_id).ok());
  (void)authenticator_->Authenticate(BasicCredential{"alice", "wrong-pass"},
                                     Operation::kRead, {},
                                     "ipv4:198.51.100.1:9");
  (void)Use(t.value);

  std::vector<AuditEvent> update = Events(audit::kTokenUpdate);
  ASSERT_EQ(update.size(), 1u);
  EXPECT_EQ(update[0].details, "fields=name,permissions");
  EXPECT_EQ(update[0].actor_user_id, alice.principal.user_id);
  EXPECT_EQ(update[0].peer, "ipv4:192.0.2.7:5000");
  EXPECT_EQ(update[0].credential_kind, "basic");
  std::vector<AuditEvent> failed = Events(audit::kAuthFailed);
  ASSERT_EQ(failed.size(), 2u);
  for (const AuditEvent& e : failed) {
    for (const std::string& field : {e.object_id, e.details, e.peer}) {
      EXPECT_EQ(field.find("wrong-pass"), std::string::npos);
      EXPECT_EQ(field.find(t.value.substr(16)), std::string::npos);
    }
  }

  // Alice sees her own events; Bob none of hers; the admin all.
  AuthResult bob = MakeUser("bob");
  absl::StatusOr<AuditLog::Page> mine = audit_.List(alice, {});
  ASSERT_TRUE(mine.ok());
  EXPECT_GE(mine->events.size(), 4u);
  absl::StatusOr<AuditLog::Page> bobs = audit_.List(bob, {});
  ASSERT_TRUE(bobs.ok());
  for (const AuditEvent& e : bobs->events) {
    EXPECT_TRUE(e.actor_user_id == bob.principal.user_id ||
                e.subject_user_id == bob.principal.user_id);
  }
  AuditLog::ListParams hers;
  hers.user_id = alice.principal.user_id;
  EXPECT_EQ(audit_.List(bob, hers).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(audit_.List(admin, hers).ok());
  AuditLog::ListParams paged;
  paged.page_size = 2;
  absl::StatusOr<AuditLog::Page> p1 = audit_.List(admin, paged);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->events.size(), 2u);
  paged.page_token = p1->next_page_token;
  absl::StatusOr<AuditLog::Page> p2 = audit_.List(admin, paged);
  ASSERT_TRUE(p2.ok());
  EXPECT_LT(p2->events[0].id, p1->events[1].id);
  EXPECT_EQ(audit_.List(bob, paged).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tokenauth
