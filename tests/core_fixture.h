// CoreFixture: the core rules wired to a real MySQL store in a fresh test
// database, a fake clock and the real CSPRNG. Used by the core rule tests.
#ifndef TOKENAUTH_TESTS_CORE_FIXTURE_H_
#define TOKENAUTH_TESTS_CORE_FIXTURE_H_

#include <memory>

#include "core/audit_log.h"
#include "core/auth_cache.h"
#include "core/authenticator.h"
#include "core/last_use.h"
#include "core/session_manager.h"
#include "core/token_manager.h"
#include "core/user_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/mysql_store.h"
#include "tests/counting_store.h"
#include "tests/fake_clock.h"
#include "tests/test_db.h"

namespace tokenauth {

class CoreFixture : public ::testing::Test {
 protected:
  CoreFixture()
      : db_(),
        mysql_(OpenMigratedStore(db_.options())),
        store_(mysql_.get()),
        format_("tka"),
        hasher_(PasswordHashCost::Minimum()) {}

  void SetUp() override { Rebuild(AuthPolicy()); }

  // Re-creates the rule objects with another policy.
  void Rebuild(const TokenPolicy& policy) {
    AuthPolicy all = policy_;
    all.tokens = policy;
    Rebuild(all);
  }
  void Rebuild(const AuthPolicy& policy) {
    policy_ = policy;
    last_use_ = std::make_unique<LastUseRecorder>(
        &store_, policy.tokens.last_use_interval,
        policy.tokens.max_last_used_peers);
    authenticator_ = std::make_unique<Authenticator>(
        &store_, &clock_, &format_, &hasher_, policy, last_use_.get(), &audit_,
        cache_.get());
    tokens_ =
        std::make_unique<TokenManager>(&store_, &clock_, &random_, &format_,
                                       policy.tokens, &audit_, cache_.get());
    users_ = std::make_unique<UserManager>(&store_, &clock_, &hasher_,
                                           authenticator_.get(), &audit_);
    sessions_ = std::make_unique<SessionManager>(&store_, &clock_, &random_,
                                                 authenticator_.get(), &audit_);
  }

  // Re-creates the rule objects with an AuthCache (none by default).
  void EnableCache(AuthCacheOptions options) {
    cache_ = std::make_unique<AuthCache>(options);
    Rebuild(policy_);
  }

  AuthResult Admin() {
    AuthResult caller;
    caller.principal = {0, "root", true};
    return caller;
  }

  // A user, and an AuthResult as if they had authenticated with Basic.
  AuthResult MakeUser(const std::string& name, bool admin = false) {
    absl::StatusOr<User> u =
        users_->Create(Admin(), name, "password-" + name, admin);
    EXPECT_TRUE(u.ok()) << u.status();
    AuthResult caller;
    caller.principal = {u->id, u->username, u->admin};
    caller.kind = CredentialKind::kBasic;
    return caller;
  }

  TokenManager::Created MakeToken(const AuthResult& owner,
                                  Access access = Access::kReadWrite,
                                  std::optional<absl::Duration> ttl = {}) {
    TokenManager::CreateParams p;
    p.name = "t";
    p.permissions.access = access;
    p.expiration.ttl = ttl;
    absl::StatusOr<TokenManager::Created> c = tokens_->Create(owner, p);
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }

  ScopedTestDatabase db_;
  std::unique_ptr<MysqlStore> mysql_;
  CountingStore store_;
  FakeClock clock_;
  SodiumRandom random_;
  TokenFormat format_;
  PasswordHasher hasher_;
  // Audit write failures fail the test.
  AuditLog audit_{&store_, &clock_,
                  [](const absl::Status& s, const AuditEvent& e) {
                    ADD_FAILURE() << "audit " << e.type << ": " << s;
                  }};
  std::unique_ptr<AuthCache> cache_;
  std::unique_ptr<LastUseRecorder> last_use_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<TokenManager> tokens_;
  std::unique_ptr<UserManager> users_;
  std::unique_ptr<SessionManager> sessions_;
  AuthPolicy policy_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_TESTS_CORE_FIXTURE_H_
