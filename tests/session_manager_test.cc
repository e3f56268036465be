// Sessions, CSRF and the failed-login lockout, against the real MariaDB with
// a fake clock (no sleeping on the real one).
#include "core/session_manager.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "tests/core_fixture.h"

namespace tokenauth {
namespace {

using ::testing::HasSubstr;

class SessionTest : public CoreFixture {
 protected:
  SessionManager::Started Login(const std::string& user) {
    absl::StatusOr<SessionManager::Started> s = sessions_->Login(
        user, "password-" + user, "ipv4:127.0.0.1:5555", "test");
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }
  absl::StatusOr<AuthResult> Check(const SessionManager::Started& s,
                                   Operation op, bool with_csrf) {
    return authenticator_->Authenticate(
        SessionCredential{s.session_id, with_csrf ? s.csrf_token : ""}, op, {});
  }
  absl::StatusCode Basic(const std::string& user, const std::string& pw) {
    return authenticator_
        ->Authenticate(BasicCredential{user, pw}, Operation::kRead, {})
        .status()
        .code();
  }
};

TEST_F(SessionTest, LoginReturnsSecretsOnceAndStoresHashes) {
  AuthResult alice = MakeUser("alice");
  SessionManager::Started s = Login("alice");
  EXPECT_EQ(s.session_id.size(), 32u);
  EXPECT_EQ(s.csrf_token.size(), 32u);
  EXPECT_NE(s.session_id, s.csrf_token);
  EXPECT_EQ(s.session.user_id, alice.principal.user_id);
  absl::StatusOr<SessionRecord> stored = mysql_->GetSession(s.session.handle);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->secret_hash, TokenFormat::Hash(s.session_id));
  EXPECT_EQ(stored->csrf_hash, TokenFormat::Hash(s.csrf_token));
  EXPECT_EQ(stored->handle.find(s.session_id), std::string::npos);
  EXPECT_EQ(stored->expire_time, clock_.Now() + absl::Hours(24 * 14));
}

TEST_F(SessionTest, ReadsNeedTheSessionWritesNeedTheCsrfToken) {
  MakeUser("alice");
  SessionManager::Started s = Login("alice");
  absl::StatusOr<AuthResult> read = Check(s, Operation::kRead, false);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->kind, CredentialKind::kSession);
  EXPECT_EQ(read->principal.username, "alice");
  absl::StatusOr<AuthResult> write = Check(s, Operation::kWrite, false);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(write.status().message()), HasSubstr("CSRF"));
  absl::StatusOr<AuthResult> wrong = authenticator_->Authenticate(
      SessionCredential{s.session_id, std::string(32, 'A')}, Operation::kWrite,
      {});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("CSRF"));
  EXPECT_TRUE(Check(s, Operation::kWrite, true).ok());
}

TEST_F(SessionTest, UnknownOrMalformedSessionIsUnauthenticatedWithoutQuery) {
  MakeUser("alice");
  SessionManager::Started s = Login("alice");
  std::string other = s.session_id;
  other[0] = other[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(
      authenticator_
          ->Authenticate(SessionCredential{other, ""}, Operation::kRead, {})
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
  const int before = store_.calls();
  EXPECT_EQ(
      authenticator_
          ->Authenticate(SessionCredential{"short", ""}, Operation::kRead, {})
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store_.calls(), before);
}

TEST_F(SessionTest, EveryLoginGetsAFreshSessionId) {
  MakeUser("alice");
  std::set<std::string> ids, handles;
  for (int i = 0; i < 50; ++i) {
    SessionManager::Started s = Login("alice");
    ids.insert(s.session_id);
    handles.insert(s.session.handle);
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(handles.size(), 50u);
}

TEST_F(SessionTest, IdleTimeoutMovesWithUse) {
  MakeUser("alice");
  SessionManager::Started s = Login("alice");
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Hours(2) - absl::Minutes(1));
    ASSERT_TRUE(Check(s, Operation::kRead, false).ok()) << "round " << i;
  }
  clock_.Advance(absl::Hours(2));
  absl::StatusOr<AuthResult> r = Check(s, Operation::kRead, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("idle"));
}

TEST_F(SessionTest, AbsoluteLifetimeEndsEvenABusySession) {
  MakeUser("alice");
  SessionManager::Started s = Login("alice");
  const absl::Time end = clock_.Now() + absl::Hours(24 * 14);
  while (clock_.Now() + absl::Hours(1) < end) {
    clock_.Advance(absl::Hours(1));
    ASSERT_TRUE(Check(s, Operation::kRead, false).ok());
  }
  clock_.SetNow(end);
  absl::StatusOr<AuthResult> r = Check(s, Operation::kRead, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("maximum age"));
}

TEST_F(SessionTest, LastSeenIsWrittenAtMostOncePerMinute) {
  MakeUser("alice");
  SessionManager::Started s = Login("alice");
  const absl::Time login = clock_.Now();
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(Check(s, Operation::kRead, false).ok());
  EXPECT_EQ(mysql_->GetSession(s.session.handle)->last_seen_time, login);
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(Check(s, Operation::kRead, false).ok());
  EXPECT_EQ(mysql_->GetSession(s.session.handle)->last_seen_time,
            login + absl::Seconds(61));
}

TEST_F(SessionTest, LogoutEndsOnlyTheCallingSession) {
  MakeUser("alice");
  SessionManager::Started one = Login("alice");
  SessionManager::Started two = Login("alice");
  absl::StatusOr<AuthResult> caller = Check(one, Operation::kWrite, true);
  ASSERT_TRUE(caller.ok());
  ASSERT_TRUE(sessions_->Logout(*caller).ok());
  EXPECT_EQ(Check(one, Operation::kRead, false).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Check(two, Operation::kRead, false).ok());
  AuthResult basic = MakeUser("bob");
  EXPECT_EQ(sessions_->Logout(basic).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SessionTest, ListRevokeAndRevokeAllRespectOwnership) {
  AuthResult alice = MakeUser("alice");
  AuthResult bob = MakeUser("bob");
  AuthResult admin = MakeUser("boss", true);
  SessionManager::Started a1 = Login("alice");
  SessionManager::Started a2 = Login("alice");
  SessionManager::Started b1 = Login("bob");
  absl::StatusOr<std::vector<SessionRecord>> mine = sessions_->List(alice, 0);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].handle, a2.session.handle);  // Newest first.
  EXPECT_EQ(sessions_->List(bob, alice.principal.user_id).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(sessions_->Revoke(bob, a1.session.handle).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(sessions_->Revoke(admin, a1.session.handle).ok());
  EXPECT_EQ(sessions_->Revoke(alice, a1.session.handle).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<int> all = sessions_->RevokeAll(alice, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 1);
  EXPECT_EQ(Check(a2, Operation::kRead, false).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Check(b1, Operation::kRead, false).ok());
  EXPECT_EQ(sessions_->Revoke(alice, "not-a-handle").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SessionTest, PasswordChangeEndsEverySessionOfTheUser) {
  AuthResult alice = MakeUser("alice");
  SessionManager::Started one = Login("alice");
  SessionManager::Started two = Login("alice");
  absl::StatusOr<AuthResult> caller = Check(one, Operation::kWrite, true);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(
      users_->SetPassword(*caller, 0, "wrong-current", "new-password-1").code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Check(two, Operation::kRead, false).ok());
  ASSERT_TRUE(
      users_->SetPassword(*caller, 0, "password-alice", "new-password-1").ok());
  EXPECT_EQ(Check(one, Operation::kRead, false).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(two, Operation::kRead, false).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Basic("alice", "password-alice"),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Basic("alice", "new-password-1"), absl::StatusCode::kOk);
}

TEST_F(SessionTest, DisablingAUserEndsTheirSessions) {
  AuthResult alice = MakeUser("alice");
  AuthResult admin = MakeUser("boss", true);
  SessionManager::Started s = Login("alice");
  ASSERT_TRUE(users_->SetDisabled(admin, alice.principal.user_id, true).ok());
  EXPECT_EQ(Check(s, Operation::kRead, false).status().code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(users_->SetDisabled(admin, alice.principal.user_id, false).ok());
  EXPECT_EQ(Check(s, Operation::kRead, false).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(sessions_->Login("alice", "password-alice", "", "").ok());
}

class LockoutTest : public SessionTest {};

TEST_F(LockoutTest, TenFailuresLockEvenTheRightPasswordForThePeriod) {
  MakeUser("bob");
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Basic("bob", "wrong"), absl::StatusCode::kUnauthenticated);
  }
  absl::Status locked =
      authenticator_
          ->Authenticate(BasicCredential{"bob", "password-bob"},
                         Operation::kRead, {})
          .status();
  EXPECT_EQ(locked.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(locked.message()), HasSubstr("locked"));
  EXPECT_EQ(sessions_->Login("bob", "password-bob", "", "").status().code(),
            absl::StatusCode::kUnauthenticated);
  clock_.Advance(absl::Minutes(14));
  EXPECT_EQ(Basic("bob", "password-bob"), absl::StatusCode::kUnauthenticated);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Basic("bob", "password-bob"), absl::StatusCode::kOk);
}

TEST_F(LockoutTest, SuccessResetsTheCount) {
  MakeUser("bob");
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 9; ++i) {
      ASSERT_EQ(Basic("bob", "wrong"), absl::StatusCode::kUnauthenticated);
    }
    ASSERT_EQ(Basic("bob", "password-bob"), absl::StatusCode::kOk) << round;
  }
}

TEST_F(LockoutTest, LockoutIsPerAccount) {
  MakeUser("bob");
  MakeUser("carol");
  for (int i = 0; i < 10; ++i) Basic("bob", "wrong");
  EXPECT_EQ(Basic("carol", "password-carol"), absl::StatusCode::kOk);
}

TEST_F(LockoutTest, ParallelGuessesNeverEvaluateMoreThanTheThreshold) {
  MakeUser("bob");
  std::atomic<int> evaluated{0}, locked{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&] {
      absl::Status s = authenticator_
                           ->Authenticate(BasicCredential{"bob", "wrong-guess"},
                                          Operation::kRead, {})
                           .status();
      if (s.message() == "basic: wrong username or password") {
        ++evaluated;
      } else if (absl::StrContains(s.message(), "locked")) {
        ++locked;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(evaluated.load(), 10);
  EXPECT_EQ(locked.load(), 54);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(LockoutTest, ChangingThePasswordCountsGuessesOfTheCurrentOne) {
  AuthResult bob = MakeUser("bob");
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(users_
                  ->SetPassword(bob, 0, "guess-" + std::to_string(i),
                                "new-password-2")
                  .code(),
              absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(Basic("bob", "password-bob"), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace tokenauth
