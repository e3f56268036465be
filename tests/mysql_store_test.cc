// Tests of storage/ against a real MariaDB (see tests/test_db.h): the
// MysqlStore contract (users, tokens, idempotency keys, rotation, last use,
// the janitor, the audit log, failed-login lockout, sessions), its
// concurrency guarantees, migrations, the connection pool and the error
// mapping.
#include "storage/mysql_store.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/connection_pool.h"
#include "storage/migrations.h"
#include "storage/mysql_errors.h"
#include "tests/test_db.h"

namespace tokenauth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

#define ASSERT_OK(expr)                   \
  do {                                    \
    const absl::Status _status = (expr);  \
    ASSERT_TRUE(_status.ok()) << _status; \
  } while (0)

#define EXPECT_CODE(expr, expected_code)                                   \
  do {                                                                     \
    const absl::Status _status = (expr);                                   \
    EXPECT_EQ(_status.code(), absl::StatusCode::expected_code) << _status; \
  } while (0)

// A well-formed record; only the hash of a token value is ever stored.
TokenRecord MakeToken(int64_t user_id, const std::string& public_id,
                      absl::Time now) {
  TokenRecord token;
  token.public_id = public_id;
  token.user_id = user_id;
  token.name = absl::StrCat("token ", public_id);
  token.value_hash = std::string(64, 'a');
  token.hint = absl::StrCat("tka_", public_id, "...wxyz");
  token.permissions.access = Access::kReadWrite;
  token.create_time = now;
  token.update_time = now;
  return token;
}

void ExpectSameToken(const TokenRecord& actual, const TokenRecord& expected) {
  EXPECT_EQ(actual.row_id, expected.row_id);
  EXPECT_EQ(actual.public_id, expected.public_id);
  EXPECT_EQ(actual.user_id, expected.user_id);
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.value_hash, expected.value_hash);
  EXPECT_EQ(actual.hint, expected.hint);
  EXPECT_EQ(actual.permissions, expected.permissions);
  EXPECT_EQ(actual.create_time, expected.create_time);
  EXPECT_EQ(actual.update_time, expected.update_time);
  EXPECT_EQ(actual.expire_time, expected.expire_time);
  EXPECT_EQ(actual.last_used_time, expected.last_used_time);
  EXPECT_EQ(actual.revoke_time, expected.revoke_time);
  EXPECT_EQ(actual.family_id, expected.family_id);
  EXPECT_EQ(actual.rotated_to, expected.rotated_to);
  EXPECT_EQ(actual.last_used_peers, expected.last_used_peers);
}

std::vector<int64_t> RowIds(const std::vector<TokenRecord>& tokens) {
  std::vector<int64_t> ids;
  for (const TokenRecord& token : tokens) ids.push_back(token.row_id);
  return ids;
}

class MysqlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    store_ = OpenMigratedStore(db_.options());
    ASSERT_NE(store_, nullptr);
  }

  User CreateUser(const std::string& username) {
    absl::StatusOr<User> user =
        store_->CreateUser({username, "$argon2id$hash", false}, clock_.Now());
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? *user : User{};
  }

  TokenRecord Insert(const TokenRecord& token, int max_usable = 0) {
    absl::StatusOr<InsertTokenResult> stored =
        store_->InsertToken(token, max_usable, Usable(), nullptr);
    EXPECT_TRUE(stored.ok()) << stored.status();
    if (!stored.ok()) return TokenRecord{};
    EXPECT_FALSE(stored->replayed);
    return stored->token;
  }

  UsableAt Usable() {
    return {clock_.Now(), clock_.Now() - absl::Hours(24 * 365)};
  }

  FakeClock clock_;
  ScopedTestDatabase db_;  // Outlives store_.
  std::unique_ptr<MysqlStore> store_;
};

// --- Migrations ---

TEST_F(MysqlStoreTest, MigrateIsIdempotent) {
  ASSERT_OK(store_->Migrate());
  ASSERT_OK(store_->Migrate());
  absl::StatusOr<TestRows> rows = QueryForTest(
      db_.options(), "SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), AllMigrations().size());
  for (size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ((*rows)[i][0], std::to_string(AllMigrations()[i].version));
  }
}

TEST(MysqlMigrationsTest, ConcurrentMigrationsApplyEachVersionOnce) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  constexpr int kServers = 4;
  std::vector<absl::Status> results(kServers);
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::unique_ptr<MysqlStore>> store =
          MysqlStore::Open(db.options());
      if (!store.ok()) {
        results[i] = store.status();
        return;
      }
      start.WaitForNotification();
      results[i] = (*store)->Migrate();
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;

  absl::StatusOr<TestRows> rows = QueryForTest(
      db.options(),
      "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), AllMigrations().size());
  for (const auto& row : *rows) EXPECT_EQ(row[1], "1") << "version " << *row[0];
}

// --- Users ---

TEST_F(MysqlStoreTest, CreateAndGetUser) {
  absl::StatusOr<User> created =
      store_->CreateUser({"alice", "$argon2id$alice", true}, clock_.Now());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id, 0);
  EXPECT_EQ(created->username, "alice");
  EXPECT_TRUE(created->admin);
  EXPECT_FALSE(created->disabled);
  EXPECT_EQ(created->create_time, clock_.Now());

  for (absl::StatusOr<User> read :
       {store_->GetUserById(created->id), store_->GetUserByName("alice")}) {
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->id, created->id);
    EXPECT_EQ(read->username, "alice");
    EXPECT_EQ(read->password_hash, "$argon2id$alice");
    EXPECT_TRUE(read->admin);
    EXPECT_FALSE(read->disabled);
    EXPECT_EQ(read->create_time, created->create_time);
    EXPECT_EQ(read->update_time, created->update_time);
  }
}

TEST_F(MysqlStoreTest, DuplicateUsernameIsAlreadyExistsWithoutEcho) {
  CreateUser("alice");
  absl::StatusOr<User> again =
      store_->CreateUser({"alice", "$argon2id$other", false}, clock_.Now());
  EXPECT_CODE(again.status(), kAlreadyExists);
  EXPECT_THAT(again.status().message(), Not(HasSubstr("alice")));
  EXPECT_THAT(again.status().message(), Not(HasSubstr("argon2id")));
}

TEST_F(MysqlStoreTest, UsernamesAreCaseSensitiveAndKeepFourByteCharacters) {
  const User lower = CreateUser("bob");
  const User upper = CreateUser("Bob");
  EXPECT_NE(lower.id, upper.id);
  const std::string emoji = "carol\xF0\x9F\x98\x80";  // U+1F600.
  const User carol = CreateUser(emoji);
  absl::StatusOr<User> read = store_->GetUserByName(emoji);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->id, carol.id);
  EXPECT_EQ(read->username, emoji);
}

TEST_F(MysqlStoreTest, MissingUserIsNotFound) {
  EXPECT_CODE(store_->GetUserById(12345).status(), kNotFound);
  EXPECT_CODE(store_->GetUserByName("nobody").status(), kNotFound);
  EXPECT_CODE(store_->SetUserDisabled(12345, true, clock_.Now()), kNotFound);
  EXPECT_CODE(store_->SetPasswordHash(12345, "$h", clock_.Now()), kNotFound);
}

TEST_F(MysqlStoreTest, SetUserDisabledAndPasswordHash) {
  const User user = CreateUser("dave");
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK(store_->SetUserDisabled(user.id, true, clock_.Now()));
  // Same values at the same time change nothing, and still find the row.
  ASSERT_OK(store_->SetUserDisabled(user.id, true, clock_.Now()));
  ASSERT_OK(store_->SetPasswordHash(user.id, "$argon2id$new", clock_.Now()));
  ASSERT_OK(store_->SetPasswordHash(user.id, "$argon2id$new", clock_.Now()));

  absl::StatusOr<User> read = store_->GetUserById(user.id);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->disabled);
  EXPECT_EQ(read->password_hash, "$argon2id$new");
  EXPECT_EQ(read->update_time, clock_.Now());
  EXPECT_EQ(read->create_time, user.create_time);
}

TEST_F(MysqlStoreTest, CreateUserIfAbsentRaceCreatesExactlyOne) {
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<std::pair<User, bool>>> results(
      kThreads, absl::UnknownError("not run"));
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.WaitForNotification();
      results[i] = store_->CreateUserIfAbsent(
          {"admin", "$argon2id$admin", true}, clock_.Now());
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  int created = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->first.id, results[0]->first.id);
    EXPECT_EQ(result->first.username, "admin");
    if (result->second) ++created;
  }
  EXPECT_EQ(created, 1);
}

// --- Tokens ---

TEST_F(MysqlStoreTest, InsertAndGetTokenRoundTrip) {
  const User user = CreateUser("erin");
  TokenRecord token = MakeToken(user.id, "pid0001", clock_.Now());
  token.name = "CI \xF0\x9F\x9A\x80 deploys";  // A 4-byte character.
  token.permissions = {Access::kReadOnly, {"tasks:read", "projects:read"}};
  token.expire_time = clock_.Now() + absl::Hours(24 * 30);
  token.last_used_time = clock_.Now() + absl::Minutes(5);

  const TokenRecord stored = Insert(token);
  EXPECT_GT(stored.row_id, 0);
  token.row_id = stored.row_id;
  token.family_id = "pid0001";  // An empty family id starts a family.
  ExpectSameToken(stored, token);

  absl::StatusOr<TokenRecord> read = store_->GetToken("pid0001");
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameToken(*read, token);

  EXPECT_CODE(store_->GetToken("nope").status(), kNotFound);

  // The same token and its owner in one read.
  absl::StatusOr<std::pair<TokenRecord, User>> both =
      store_->GetTokenAndOwner("pid0001");
  ASSERT_TRUE(both.ok()) << both.status();
  ExpectSameToken(both->first, token);
  EXPECT_EQ(both->second.id, user.id);
  EXPECT_EQ(both->second.username, "erin");
  EXPECT_EQ(both->second.password_hash, user.password_hash);
  EXPECT_EQ(both->second.disabled, false);
  EXPECT_EQ(both->second.create_time, user.create_time);
  EXPECT_CODE(store_->GetTokenAndOwner("nope").status(), kNotFound);
  EXPECT_CODE(store_
                  ->GetTokenAndOwner("p\xC3\xA9"
                                     "d")
                  .status(),
              kNotFound);
}

TEST_F(MysqlStoreTest, TimesAreKeptToTheMicrosecond) {
  const User user = CreateUser("frank");
  const absl::Time odd = clock_.Now() + absl::Nanoseconds(123456789);
  TokenRecord token = MakeToken(user.id, "pid0001", odd);
  const TokenRecord stored = Insert(token);
  EXPECT_EQ(stored.create_time, clock_.Now() + absl::Microseconds(123456));
  absl::StatusOr<TokenRecord> read = store_->GetToken("pid0001");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->create_time, stored.create_time);
}

TEST_F(MysqlStoreTest, InsertTokenErrors) {
  const User user = CreateUser("grace");
  EXPECT_CODE(
      store_
          ->InsertToken(MakeToken(user.id + 100, "pid0001", clock_.Now()), 10,
                        Usable(), nullptr)
          .status(),
      kNotFound);

  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  TokenRecord duplicate = MakeToken(user.id, "pid0001", clock_.Now());
  duplicate.value_hash = std::string(64, 'b');
  absl::Status status =
      store_->InsertToken(duplicate, 0, Usable(), nullptr).status();
  EXPECT_CODE(status, kAlreadyExists);
  EXPECT_THAT(status.message(), Not(HasSubstr("pid0001")));
  EXPECT_THAT(status.message(), Not(HasSubstr("bbbb")));

  TokenRecord spaced = MakeToken(user.id, "pid0002", clock_.Now());
  spaced.permissions.scopes = {"tasks read"};
  EXPECT_CODE(store_->InsertToken(spaced, 0, Usable(), nullptr).status(),
              kInvalidArgument);

  TokenRecord long_name = MakeToken(user.id, "pid0003", clock_.Now());
  long_name.name = std::string(300, 'n');
  EXPECT_CODE(store_->InsertToken(long_name, 0, Usable(), nullptr).status(),
              kInvalidArgument);
}

TEST_F(MysqlStoreTest, ListTokensNewestFirstWithPaging) {
  const User user = CreateUser("heidi");
  const User other = CreateUser("ivan");
  std::vector<int64_t> ids;
  for (int i = 1; i <= 5; ++i) {
    ids.push_back(
        Insert(MakeToken(user.id, absl::StrCat("pid000", i), clock_.Now()))
            .row_id);
  }
  Insert(MakeToken(other.id, "pid0099", clock_.Now()));

  TokenListQuery query;
  query.user_id = user.id;
  query.limit = 2;
  absl::StatusOr<std::vector<TokenRecord>> page = store_->ListTokens(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(RowIds(*page), ElementsAre(ids[4], ids[3]));

  query.before_row = page->back().row_id;
  page = store_->ListTokens(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(RowIds(*page), ElementsAre(ids[2], ids[1]));

  query.before_row = page->back().row_id;
  page = store_->ListTokens(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(RowIds(*page), ElementsAre(ids[0]));

  // The active state hides revoked tokens.
  ASSERT_TRUE(store_->RevokeToken("pid0004", clock_.Now()).ok());
  query.before_row.reset();
  query.limit = 10;
  query.state = TokenState::kActive;
  query.at = Usable();
  page = store_->ListTokens(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(RowIds(*page), ElementsAre(ids[4], ids[2], ids[1], ids[0]));

  query.limit = 0;
  EXPECT_CODE(store_->ListTokens(query).status(), kInvalidArgument);
}

TEST_F(MysqlStoreTest, UpdateTokenFields) {
  const User user = CreateUser("judy");
  TokenRecord token = MakeToken(user.id, "pid0001", clock_.Now());
  token = Insert(token);

  clock_.Advance(absl::Minutes(1));
  const absl::Time expire = clock_.Now() + absl::Hours(48);
  TokenUpdate update;
  update.name = "renamed";
  update.expire_time = expire;
  update.permissions = Permissions{Access::kReadOnly, {"tasks:read"}};
  absl::StatusOr<TokenRecord> updated =
      store_->UpdateToken("pid0001", update, clock_.Now());
  ASSERT_TRUE(updated.ok()) << updated.status();
  token.name = "renamed";
  token.expire_time = expire;
  token.permissions = Permissions{Access::kReadOnly, {"tasks:read"}};
  token.update_time = clock_.Now();
  ExpectSameToken(*updated, token);

  // Clearing the expiration; other fields stay.
  clock_.Advance(absl::Minutes(1));
  TokenUpdate clear;
  clear.expire_time = std::optional<absl::Time>();
  updated = store_->UpdateToken("pid0001", clear, clock_.Now());
  ASSERT_TRUE(updated.ok()) << updated.status();
  token.expire_time.reset();
  token.update_time = clock_.Now();
  ExpectSameToken(*updated, token);

  // Nothing changes at all (same values, same time): still found.
  updated = store_->UpdateToken("pid0001", clear, clock_.Now());
  ASSERT_TRUE(updated.ok()) << updated.status();
  ExpectSameToken(*updated, token);

  absl::StatusOr<TokenRecord> read = store_->GetToken("pid0001");
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameToken(*read, token);

  EXPECT_CODE(store_->UpdateToken("nope", update, clock_.Now()).status(),
              kNotFound);
}

TEST_F(MysqlStoreTest, RevokeIsOnceAndFinal) {
  const User user = CreateUser("ken");
  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  clock_.Advance(absl::Minutes(1));

  absl::StatusOr<TokenRecord> revoked =
      store_->RevokeToken("pid0001", clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->revoke_time, clock_.Now());
  EXPECT_EQ(revoked->update_time, clock_.Now());

  clock_.Advance(absl::Minutes(1));
  EXPECT_CODE(store_->RevokeToken("pid0001", clock_.Now()).status(), kNotFound);
  TokenUpdate update;
  update.name = "too late";
  EXPECT_CODE(store_->UpdateToken("pid0001", update, clock_.Now()).status(),
              kNotFound);
  EXPECT_CODE(store_->RevokeToken("nope", clock_.Now()).status(), kNotFound);

  absl::StatusOr<TokenRecord> read = store_->GetToken("pid0001");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->revoke_time, revoked->revoke_time);
  EXPECT_EQ(read->name, "token pid0001");
}

TEST_F(MysqlStoreTest, LimitHoldsUnderConcurrentInserts) {
  const User user = CreateUser("leo");
  constexpr int kThreads = 40;
  constexpr int kLimit = 10;
  std::vector<absl::Status> results(kThreads);
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const TokenRecord token =
          MakeToken(user.id, absl::StrCat("pid", i), clock_.Now());
      start.WaitForNotification();
      results[i] =
          store_->InsertToken(token, kLimit, Usable(), nullptr).status();
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  int ok = 0;
  int exhausted = 0;
  for (const absl::Status& status : results) {
    if (status.ok()) {
      ++ok;
    } else if (absl::IsResourceExhausted(status)) {
      ++exhausted;
      EXPECT_THAT(status.message(), HasSubstr("10"));
    } else {
      ADD_FAILURE() << "unexpected: " << status;
    }
  }
  EXPECT_EQ(ok, kLimit);
  EXPECT_EQ(exhausted, kThreads - kLimit);

  TokenListQuery query;
  query.user_id = user.id;
  query.limit = 100;
  absl::StatusOr<std::vector<TokenRecord>> all = store_->ListTokens(query);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), static_cast<size_t>(kLimit));
}

TEST_F(MysqlStoreTest, UnusableTokensDoNotCountTowardsTheLimit) {
  const User user = CreateUser("mallory");
  const absl::Time now = clock_.Now();

  TokenRecord expired = MakeToken(user.id, "expired", now - absl::Hours(48));
  expired.expire_time = now - absl::Hours(1);
  TokenRecord revoked = MakeToken(user.id, "revoked", now - absl::Hours(48));
  revoked.revoke_time = now - absl::Hours(1);
  TokenRecord stale = MakeToken(user.id, "stale", now - absl::Hours(24 * 400));
  TokenRecord stale_used =
      MakeToken(user.id, "staleused", now - absl::Hours(24 * 800));
  stale_used.last_used_time = now - absl::Hours(24 * 366);
  for (const TokenRecord& token : {expired, revoked, stale, stale_used}) {
    Insert(token, /*max_usable=*/2);
  }

  // Created long ago but used recently: usable, counts.
  TokenRecord used = MakeToken(user.id, "used", now - absl::Hours(24 * 800));
  used.last_used_time = now - absl::Hours(1);
  Insert(used, 2);
  Insert(MakeToken(user.id, "fresh", now), 2);

  absl::Status third =
      store_
          ->InsertToken(MakeToken(user.id, "third", now), 2, Usable(), nullptr)
          .status();
  EXPECT_CODE(third, kResourceExhausted);
  EXPECT_THAT(third.message(), HasSubstr("2"));

  // max_usable == 0: no limit.
  Insert(MakeToken(user.id, "unlimited", now), 0);
}

TEST_F(MysqlStoreTest, StoredRowHoldsNoPlaintext) {
  const User user = CreateUser("nina");
  // What core would store for a value "tka_pid0001SECRETPART...": its hash.
  const std::string secret_part = "SECRETPARTofTheTokenValue";
  const std::string hash =
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  TokenRecord token = MakeToken(user.id, "pid0001", clock_.Now());
  token.value_hash = hash;
  Insert(token);

  absl::StatusOr<TestRows> rows =
      QueryForTest(db_.options(), "SELECT * FROM access_tokens");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  for (const auto& cell : (*rows)[0]) {
    if (cell.has_value()) {
      EXPECT_THAT(*cell, Not(HasSubstr(secret_part)));
    }
  }
  rows = QueryForTest(db_.options(), "SELECT value_hash FROM access_tokens");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0][0], hash);
}

// --- Availability ---

TEST(MysqlStoreUnreachableTest, UnreachableDatabaseIsUnavailableQuickly) {
  MysqlOptions options;
  options.host = "127.0.0.1";
  options.port = 1;  // Nothing listens there.
  options.user = "nobody";
  options.database = "tokenauth_none";
  absl::StatusOr<std::unique_ptr<MysqlStore>> store = MysqlStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();  // Open does not connect.

  const auto start = std::chrono::steady_clock::now();
  EXPECT_CODE((*store)->Ping(), kUnavailable);
  EXPECT_CODE((*store)->Migrate(), kUnavailable);
  EXPECT_CODE(
      (*store)->CreateUser({"x", "$h", false}, absl::UnixEpoch()).status(),
      kUnavailable);
  EXPECT_CODE((*store)->GetToken("pid").status(), kUnavailable);
  EXPECT_CODE((*store)
                  ->InsertToken(MakeToken(1, "pid", absl::UnixEpoch()), 10,
                                UsableAt{}, nullptr)
                  .status(),
              kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(MysqlStoreTest, RecoversAfterItsConnectionsAreKilled) {
  // Like a server restart: every connection the store holds dies while idle.
  auto kill_store_connections = [&] {
    MysqlOptions admin = db_.options();
    admin.database.clear();
    absl::StatusOr<TestRows> ids = QueryForTest(
        admin, absl::StrCat("SELECT ID FROM information_schema.PROCESSLIST "
                            "WHERE DB = '",
                            db_.name(), "'"));
    ASSERT_TRUE(ids.ok()) << ids.status();
    ASSERT_FALSE(ids->empty());
    for (const auto& row : *ids) {
      ASSERT_OK(
          ExecuteForTest(admin, absl::StrCat("KILL CONNECTION ", *row[0])));
    }
  };

  ASSERT_OK(store_->Ping());
  kill_store_connections();
  // Reads retry once on a fresh connection.
  ASSERT_OK(store_->Ping());

  // Statements kept prepared die with their connection; the retry prepares
  // them again on the fresh one.
  const User user = CreateUser("nora");
  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  ASSERT_TRUE(store_->GetTokenAndOwner("pid0001").ok());
  ASSERT_TRUE(store_->GetTokensAndOwners({"pid0001"}).ok());
  kill_store_connections();
  EXPECT_TRUE(store_->GetTokenAndOwner("pid0001").ok());
  kill_store_connections();
  absl::StatusOr<std::vector<std::pair<TokenRecord, User>>> found =
      store_->GetTokensAndOwners({"pid0001"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->size(), 1u);

  kill_store_connections();
  // Writes do not retry (they may have been applied), but the next one works.
  absl::Status first =
      store_->CreateUser({"olivia", "$h", false}, clock_.Now()).status();
  EXPECT_CODE(first, kUnavailable);
  EXPECT_TRUE(store_->CreateUser({"olivia", "$h", false}, clock_.Now()).ok());
}

// --- Connection pool ---

// Lease::Prepared keeps a statement per connection: the same one on the
// next lease of that connection, a new one on a new connection.
TEST(ConnectionPoolTest, PreparedStatementsLiveWithTheirConnection) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  MysqlOptions options = db.options();
  options.pool_size = 1;
  ConnectionPool pool(options);
  const std::string sql = "SELECT ? + 1";
  auto run = [&](ConnectionPool::Lease& lease, int n) {
    sql::PreparedStatement& statement = lease.Prepared(sql);
    statement.setInt(1, n);
    std::unique_ptr<sql::ResultSet> rows(statement.executeQuery());
    EXPECT_TRUE(rows->next());
    return rows->getInt(1);
  };
  const sql::PreparedStatement* first = nullptr;
  {
    absl::StatusOr<ConnectionPool::Lease> lease =
        pool.Acquire(absl::Seconds(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_EQ(run(*lease, 41), 42);
    first = &lease->Prepared(sql);
    EXPECT_EQ(&lease->Prepared("SELECT ? + 2"),
              &lease->Prepared("SELECT ? + 2"));
    EXPECT_NE(&lease->Prepared("SELECT ? + 2"), first);
  }
  {
    absl::StatusOr<ConnectionPool::Lease> lease =
        pool.Acquire(absl::Seconds(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE(lease->reused());
    EXPECT_EQ(&lease->Prepared(sql), first);
    EXPECT_EQ(run(*lease, 1), 2);
    lease->Discard();  // Closes the connection and its statements.
  }
  EXPECT_EQ(pool.open_connections(), 0);
  absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire(absl::Seconds(5));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_FALSE(lease->reused());
  EXPECT_EQ(run(*lease, 5), 6);
}

TEST(ConnectionPoolTest, BoundedLazyAndDiscarding) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  MysqlOptions options = db.options();
  options.pool_size = 1;
  ConnectionPool pool(options);
  EXPECT_EQ(pool.open_connections(), 0);

  {
    absl::StatusOr<ConnectionPool::Lease> lease =
        pool.Acquire(absl::Seconds(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_FALSE(lease->reused());
    EXPECT_EQ(pool.open_connections(), 1);
    EXPECT_CODE(pool.Acquire(absl::Milliseconds(50)).status(), kUnavailable);
  }
  EXPECT_EQ(pool.idle_connections(), 1);

  {
    absl::StatusOr<ConnectionPool::Lease> lease =
        pool.Acquire(absl::Seconds(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE(lease->reused());
    lease->Discard();
  }
  EXPECT_EQ(pool.open_connections(), 0);
  EXPECT_EQ(pool.idle_connections(), 0);
}

TEST(ConnectionPoolTest, WaiterGetsTheReleasedConnection) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  MysqlOptions options = db.options();
  options.pool_size = 1;
  ConnectionPool pool(options);

  absl::StatusOr<ConnectionPool::Lease> held = pool.Acquire(absl::Seconds(5));
  ASSERT_TRUE(held.ok()) << held.status();
  absl::Status waiter_status = absl::UnknownError("not run");
  absl::Notification waiting;
  std::thread waiter([&] {
    waiting.Notify();
    waiter_status = pool.Acquire(absl::Seconds(30)).status();
  });
  waiting.WaitForNotification();
  held = absl::UnknownError("released");  // Gives the connection back.
  waiter.join();
  EXPECT_TRUE(waiter_status.ok()) << waiter_status;
  EXPECT_EQ(pool.open_connections(), 1);
}

TEST(ConnectionPoolTest, SessionSettings) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  absl::StatusOr<TestRows> rows = QueryForTest(
      db.options(),
      "SELECT @@SESSION.tx_isolation, @@SESSION.innodb_lock_wait_timeout, "
      "@@SESSION.character_set_client, @@SESSION.character_set_results, "
      "@@SESSION.autocommit, @@SESSION.sql_mode");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  const auto& row = (*rows)[0];
  EXPECT_EQ(row[0], "READ-COMMITTED");
  EXPECT_EQ(row[1], "5");
  EXPECT_EQ(row[2], "utf8mb4");
  EXPECT_EQ(row[3], "utf8mb4");
  EXPECT_EQ(row[4], "1");
  EXPECT_THAT(row[5].value_or(""), HasSubstr("STRICT_ALL_TABLES"));
}

// --- Error mapping (no database) ---

TEST(MysqlErrorsTest, MapsCodesAndNeverEchoesTheServerMessage) {
  const std::string secret = "Duplicate entry 's3cr3t' for key 'public_id'";
  absl::Status status =
      SqlErrorToStatus(sql::SQLException(secret, "23000", 1062), "Op");
  EXPECT_CODE(status, kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr("Op"));
  EXPECT_THAT(status.message(), Not(HasSubstr("s3cr3t")));

  EXPECT_CODE(SqlErrorToStatus(sql::SQLException("x", "HY000", 2013), "Op"),
              kUnavailable);
  EXPECT_CODE(SqlErrorToStatus(sql::SQLException("x", "HY000", 2006), "Op"),
              kUnavailable);
  EXPECT_CODE(SqlErrorToStatus(sql::SQLException("x", "08S01", 0), "Op"),
              kUnavailable);
  EXPECT_CODE(SqlErrorToStatus(sql::SQLException("x", "40001", 1213), "Op"),
              kAborted);
  EXPECT_CODE(SqlErrorToStatus(sql::SQLException("x", "HY000", 1205), "Op"),
              kAborted);
  EXPECT_CODE(SqlErrorToStatus(sql::SQLException("x", "22001", 1406), "Op"),
              kInvalidArgument);

  status = SqlErrorToStatus(
      sql::SQLException("near 's3cr3t' at line 1", "42000", 1064), "Op");
  EXPECT_CODE(status, kInternal);
  EXPECT_THAT(status.message(), HasSubstr("1064"));
  EXPECT_THAT(status.message(), Not(HasSubstr("s3cr3t")));
}

// --- Migration 2: lockout columns and sessions ---

// Whether the schema holds what migration 2 adds; empty if it does.
std::string MissingFromMigrationTwo(const MysqlOptions& options) {
  absl::StatusOr<TestRows> rows = QueryForTest(
      options,
      "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
      "DATABASE() AND ((TABLE_NAME = 'users' AND COLUMN_NAME IN "
      "('failed_login_count', 'failed_login_window_start_us')) OR "
      "(TABLE_NAME = 'sessions' AND COLUMN_NAME = 'secret_hash'))");
  if (!rows.ok()) return rows.status().ToString();
  if ((*rows)[0][0] != "3") {
    return absl::StrCat("found ", (*rows)[0][0].value_or("NULL"), " of 3");
  }
  return "";
}

// Per version, how many times it is recorded.
std::vector<std::string> RecordCounts(const MysqlOptions& options) {
  absl::StatusOr<TestRows> rows =
      QueryForTest(options,
                   "SELECT CONCAT(version, 'x', COUNT(*)) FROM "
                   "schema_migrations GROUP BY version ORDER BY version");
  EXPECT_TRUE(rows.ok()) << rows.status();
  std::vector<std::string> counts;
  if (rows.ok()) {
    for (const auto& row : *rows) counts.push_back(row[0].value_or("NULL"));
  }
  return counts;
}

// Turns a fully migrated database back into one at version 3.
void RevertToVersionThree(const MysqlOptions& options) {
  ASSERT_OK(ExecuteForTest(options,
                           "ALTER TABLE users DROP COLUMN token_write_count"));
  ASSERT_OK(ExecuteForTest(options,
                           "DELETE FROM schema_migrations WHERE version = 4"));
}

// Turns a fully migrated database back into one at version 2.
void RevertToVersionTwo(const MysqlOptions& options) {
  RevertToVersionThree(options);
  ASSERT_OK(ExecuteForTest(options, "DROP TABLE idempotency_keys"));
  ASSERT_OK(ExecuteForTest(options, "DROP TABLE audit_events"));
  ASSERT_OK(ExecuteForTest(
      options,
      "ALTER TABLE access_tokens DROP INDEX access_tokens_family, "
      "DROP INDEX access_tokens_revoke_time, "
      "DROP INDEX access_tokens_expire_time, DROP COLUMN family_id, "
      "DROP COLUMN rotated_to, DROP COLUMN last_used_peers"));
  ASSERT_OK(ExecuteForTest(options,
                           "DELETE FROM schema_migrations WHERE version = 3"));
}

// Turns a fully migrated database back into one at version 1.
void RevertToVersionOne(const MysqlOptions& options) {
  RevertToVersionTwo(options);
  ASSERT_OK(ExecuteForTest(options, "DROP TABLE sessions"));
  ASSERT_OK(ExecuteForTest(options,
                           "ALTER TABLE users DROP COLUMN failed_login_count, "
                           "DROP COLUMN failed_login_window_start_us"));
  ASSERT_OK(ExecuteForTest(options,
                           "DELETE FROM schema_migrations WHERE version = 2"));
}

TEST_F(MysqlStoreTest, MigrationTwoIsAppliedOnceAndIdempotent) {
  EXPECT_EQ(MissingFromMigrationTwo(db_.options()), "");
  ASSERT_OK(store_->Migrate());
  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationTwo(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
}

TEST_F(MysqlStoreTest, MigrationTwoUpgradesAVersionOneDatabase) {
  RevertToVersionOne(db_.options());
  const User user = CreateUser("existing");
  ASSERT_FALSE(MissingFromMigrationTwo(db_.options()).empty());

  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationTwo(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
  absl::StatusOr<TestRows> rows = QueryForTest(
      db_.options(), absl::StrCat("SELECT failed_login_count, "
                                  "failed_login_window_start_us FROM users "
                                  "WHERE id = ",
                                  user.id));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], "0");
  EXPECT_EQ((*rows)[0][1], std::nullopt);
}

TEST_F(MysqlStoreTest, MigrationTwoIsRedoneAfterACrashBeforeItsRecord) {
  // Crashed after the ALTER and the CREATE TABLE, before the record.
  ASSERT_OK(ExecuteForTest(db_.options(),
                           "DELETE FROM schema_migrations WHERE version = 2"));
  ASSERT_OK(store_->Migrate());
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));

  // Crashed after the ALTER only.
  ASSERT_OK(ExecuteForTest(db_.options(), "DROP TABLE sessions"));
  ASSERT_OK(ExecuteForTest(db_.options(),
                           "DELETE FROM schema_migrations WHERE version = 2"));
  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationTwo(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
}

TEST_F(MysqlStoreTest, RecordedMigrationIsNeverRerun) {
  // Were version 2 run again, it would recreate the table.
  ASSERT_OK(ExecuteForTest(db_.options(), "DROP TABLE sessions"));
  ASSERT_OK(store_->Migrate());
  absl::StatusOr<TestRows> rows = QueryForTest(
      db_.options(),
      "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
      "DATABASE() AND TABLE_NAME = 'sessions'");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0][0], "0");
}

TEST(MysqlMigrationsTest, ConcurrentUpgradesFromVersionOneApplyItOnce) {
  ScopedTestDatabase db;
  ASSERT_TRUE(db.ok());
  {
    std::unique_ptr<MysqlStore> store = OpenMigratedStore(db.options());
    ASSERT_NE(store, nullptr);
  }
  RevertToVersionOne(db.options());

  constexpr int kServers = 4;
  std::vector<absl::Status> results(kServers);
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::unique_ptr<MysqlStore>> store =
          MysqlStore::Open(db.options());
      if (!store.ok()) {
        results[i] = store.status();
        return;
      }
      start.WaitForNotification();
      results[i] = (*store)->Migrate();
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(MissingFromMigrationTwo(db.options()), "");
  EXPECT_THAT(RecordCounts(db.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
}

// --- Failed-login lockout ---

class MysqlLockoutTest : public MysqlStoreTest {
 protected:
  // The stored failed_login_count and failed_login_window_start_us.
  std::pair<std::optional<std::string>, std::optional<std::string>> Stored(
      int64_t user_id) {
    absl::StatusOr<TestRows> rows = QueryForTest(
        db_.options(),
        absl::StrCat("SELECT failed_login_count, failed_login_window_start_us "
                     "FROM users WHERE id = ",
                     user_id));
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok() || rows->size() != 1) return {};
    return {(*rows)[0][0], (*rows)[0][1]};
  }

  static std::optional<std::string> Micros(absl::Time t) {
    return std::to_string(absl::ToUnixMicros(t));
  }

  bool Reserve(int64_t user_id, absl::Time now) {
    absl::StatusOr<bool> allowed =
        store_->ReservePasswordCheck(user_id, rule_, now);
    EXPECT_TRUE(allowed.ok()) << allowed.status();
    return allowed.ok() && *allowed;
  }

  const LockoutRule rule_{10, absl::Minutes(15)};
};

TEST_F(MysqlLockoutTest, ParallelChecksGetExactlyMaxFailures) {
  const User user = CreateUser("target");
  // Enough connections that the calls really meet in the database.
  MysqlOptions options = db_.options();
  options.pool_size = 16;
  absl::StatusOr<std::unique_ptr<MysqlStore>> store = MysqlStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();

  constexpr int kThreads = 64;
  const absl::Time now = clock_.Now();
  std::vector<absl::StatusOr<bool>> results(kThreads,
                                            absl::UnknownError("not run"));
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.WaitForNotification();
      results[i] = (*store)->ReservePasswordCheck(user.id, rule_, now);
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  int allowed = 0;
  for (const absl::StatusOr<bool>& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    if (*result) ++allowed;
  }
  EXPECT_EQ(allowed, rule_.max_failures);
  EXPECT_EQ(Stored(user.id),
            std::make_pair(std::optional<std::string>("10"), Micros(now)));
}

TEST_F(MysqlLockoutTest, WindowCountsFromTheFirstFailureAndThenRestarts) {
  const User user = CreateUser("target");
  EXPECT_EQ(Stored(user.id), std::make_pair(std::optional<std::string>("0"),
                                            std::optional<std::string>()));
  const absl::Time first = clock_.Now();
  for (int i = 1; i <= rule_.max_failures; ++i) {
    // Later failures neither move the window nor reset the count.
    EXPECT_TRUE(Reserve(user.id, first + absl::Minutes(i - 1)));
    EXPECT_EQ(Stored(user.id),
              std::make_pair(std::optional<std::string>(std::to_string(i)),
                             Micros(first)));
  }
  // Locked until the window ends; a refused check counts nothing.
  EXPECT_FALSE(Reserve(user.id, first + absl::Minutes(11)));
  EXPECT_FALSE(Reserve(user.id, first + rule_.period - absl::Microseconds(1)));
  EXPECT_EQ(Stored(user.id).first, "10");

  // At first + period the window restarts. The count is assigned before the
  // window start, so it restarts at 1 (the other order would give 11).
  const absl::Time later = first + rule_.period;
  EXPECT_TRUE(Reserve(user.id, later));
  EXPECT_EQ(Stored(user.id),
            std::make_pair(std::optional<std::string>("1"), Micros(later)));
}

TEST_F(MysqlLockoutTest, OldFailuresRestartTheCountBelowTheLimit) {
  const User user = CreateUser("target");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Reserve(user.id, clock_.Now()));
  const absl::Time later = clock_.Now() + absl::Hours(1);
  EXPECT_TRUE(Reserve(user.id, later));
  EXPECT_EQ(Stored(user.id),
            std::make_pair(std::optional<std::string>("1"), Micros(later)));
}

TEST_F(MysqlLockoutTest, ClearPasswordFailuresUnlocks) {
  const User user = CreateUser("target");
  for (int i = 0; i < rule_.max_failures; ++i) {
    EXPECT_TRUE(Reserve(user.id, clock_.Now()));
  }
  EXPECT_FALSE(Reserve(user.id, clock_.Now()));

  ASSERT_OK(store_->ClearPasswordFailures(user.id));
  EXPECT_EQ(Stored(user.id), std::make_pair(std::optional<std::string>("0"),
                                            std::optional<std::string>()));
  ASSERT_OK(store_->ClearPasswordFailures(user.id));  // Nothing to clear.
  EXPECT_TRUE(Reserve(user.id, clock_.Now()));
  EXPECT_EQ(Stored(user.id).first, "1");
}

TEST_F(MysqlLockoutTest, UsersAreCountedApart) {
  const User locked = CreateUser("locked");
  const User other = CreateUser("other");
  for (int i = 0; i < rule_.max_failures; ++i) {
    EXPECT_TRUE(Reserve(locked.id, clock_.Now()));
  }
  EXPECT_FALSE(Reserve(locked.id, clock_.Now()));
  EXPECT_TRUE(Reserve(other.id, clock_.Now()));
}

TEST_F(MysqlLockoutTest, Errors) {
  const User user = CreateUser("target");
  EXPECT_CODE(
      store_->ReservePasswordCheck(user.id + 100, rule_, clock_.Now()).status(),
      kNotFound);
  EXPECT_CODE(store_->ClearPasswordFailures(user.id + 100), kNotFound);
  EXPECT_CODE(store_
                  ->ReservePasswordCheck(
                      user.id, LockoutRule{0, absl::Minutes(1)}, clock_.Now())
                  .status(),
              kInvalidArgument);
  EXPECT_CODE(
      store_
          ->ReservePasswordCheck(user.id, LockoutRule{1, absl::ZeroDuration()},
                                 clock_.Now())
          .status(),
      kInvalidArgument);
  EXPECT_EQ(Stored(user.id).first, "0");
}

// --- Sessions ---

// A well-formed record; only hashes of the session ID and CSRF token.
SessionRecord MakeSession(int64_t user_id, const std::string& handle,
                          absl::Time now) {
  SessionRecord session;
  session.handle = handle;
  session.user_id = user_id;
  session.secret_hash = std::string(64 - handle.size(), 's') + handle;
  session.csrf_hash = std::string(64 - handle.size(), 'c') + handle;
  session.create_time = now;
  session.last_seen_time = now;
  session.expire_time = now + absl::Hours(24);
  session.peer = "ipv4:10.0.0.1:5555";
  session.user_agent = "test-agent/1.0";
  return session;
}

void ExpectSameSession(const SessionRecord& actual,
                       const SessionRecord& expected) {
  EXPECT_EQ(actual.row_id, expected.row_id);
  EXPECT_EQ(actual.handle, expected.handle);
  EXPECT_EQ(actual.user_id, expected.user_id);
  EXPECT_EQ(actual.secret_hash, expected.secret_hash);
  EXPECT_EQ(actual.csrf_hash, expected.csrf_hash);
  EXPECT_EQ(actual.create_time, expected.create_time);
  EXPECT_EQ(actual.last_seen_time, expected.last_seen_time);
  EXPECT_EQ(actual.expire_time, expected.expire_time);
  EXPECT_EQ(actual.end_time, expected.end_time);
  EXPECT_EQ(actual.peer, expected.peer);
  EXPECT_EQ(actual.user_agent, expected.user_agent);
}

std::vector<std::string> Handles(const std::vector<SessionRecord>& sessions) {
  std::vector<std::string> handles;
  for (const SessionRecord& session : sessions) {
    handles.push_back(session.handle);
  }
  return handles;
}

class MysqlSessionTest : public MysqlStoreTest {
 protected:
  SessionRecord InsertSession(const SessionRecord& session) {
    absl::StatusOr<SessionRecord> stored = store_->InsertSession(session);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? *stored : SessionRecord{};
  }
};

TEST_F(MysqlSessionTest, InsertAndGetRoundTrip) {
  const User user = CreateUser("alice");
  SessionRecord session = MakeSession(user.id, "sess0001", clock_.Now());
  session.create_time += absl::Nanoseconds(123456789);  // Truncated to us.
  session.peer = "ipv6:[2001:db8::1]:443";
  session.user_agent = "Browser \xF0\x9F\x8C\x90 1.0";  // A 4-byte character.

  const SessionRecord stored = InsertSession(session);
  EXPECT_GT(stored.row_id, 0);
  session.row_id = stored.row_id;
  session.create_time = clock_.Now() + absl::Microseconds(123456);
  ExpectSameSession(stored, session);

  absl::StatusOr<SessionRecord> by_hash =
      store_->GetSessionBySecretHash(session.secret_hash);
  ASSERT_TRUE(by_hash.ok()) << by_hash.status();
  ExpectSameSession(*by_hash, session);
  absl::StatusOr<SessionRecord> by_handle = store_->GetSession("sess0001");
  ASSERT_TRUE(by_handle.ok()) << by_handle.status();
  ExpectSameSession(*by_handle, session);

  EXPECT_CODE(store_->GetSession("nope").status(), kNotFound);
  EXPECT_CODE(store_->GetSession("SESS0001").status(), kNotFound);
  EXPECT_CODE(store_->GetSessionBySecretHash(std::string(64, 'f')).status(),
              kNotFound);
}

TEST_F(MysqlSessionTest, InsertErrors) {
  const User user = CreateUser("bob");
  EXPECT_CODE(
      store_
          ->InsertSession(MakeSession(user.id + 100, "sess0001", clock_.Now()))
          .status(),
      kNotFound);

  const SessionRecord first =
      InsertSession(MakeSession(user.id, "sess0001", clock_.Now()));
  SessionRecord same_handle = MakeSession(user.id, "sess0001", clock_.Now());
  same_handle.secret_hash = std::string(64, 'b');
  absl::Status status = store_->InsertSession(same_handle).status();
  EXPECT_CODE(status, kAlreadyExists);
  EXPECT_THAT(status.message(), Not(HasSubstr("sess0001")));

  SessionRecord same_hash = MakeSession(user.id, "sess0002", clock_.Now());
  same_hash.secret_hash = first.secret_hash;
  status = store_->InsertSession(same_hash).status();
  EXPECT_CODE(status, kAlreadyExists);
  EXPECT_THAT(status.message(), Not(HasSubstr(first.secret_hash)));

  SessionRecord long_agent = MakeSession(user.id, "sess0003", clock_.Now());
  long_agent.user_agent = std::string(257, 'a');
  EXPECT_CODE(store_->InsertSession(long_agent).status(), kInvalidArgument);
}

TEST_F(MysqlSessionTest, NonAsciiKeysAreNotFound) {
  const User user = CreateUser("bob");
  const std::string handle = "sess\xC3\xA9";  // U+00E9.
  EXPECT_CODE(store_->GetSession(handle).status(), kNotFound);
  EXPECT_CODE(store_->GetSession("\xFF\xFE").status(), kNotFound);
  EXPECT_CODE(store_->GetSessionBySecretHash(handle).status(), kNotFound);
  EXPECT_CODE(store_->TouchSession(handle, clock_.Now()), kNotFound);
  EXPECT_CODE(store_->EndSession(handle, clock_.Now()).status(), kNotFound);
  EXPECT_CODE(store_->InsertSession(MakeSession(user.id, handle, clock_.Now()))
                  .status(),
              kInvalidArgument);
}

TEST_F(MysqlSessionTest, TouchMovesLastSeenForwardOnly) {
  const User user = CreateUser("carol");
  const SessionRecord session =
      InsertSession(MakeSession(user.id, "sess0001", clock_.Now()));
  const absl::Time later = clock_.Now() + absl::Minutes(5);
  ASSERT_OK(store_->TouchSession("sess0001", later));
  ASSERT_OK(store_->TouchSession("sess0001", later));  // Same time: found.
  ASSERT_OK(store_->TouchSession("sess0001", clock_.Now()));  // Backward.

  absl::StatusOr<SessionRecord> read = store_->GetSession("sess0001");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->last_seen_time, later);
  EXPECT_EQ(read->create_time, session.create_time);

  EXPECT_CODE(store_->TouchSession("nope", later), kNotFound);
}

TEST_F(MysqlSessionTest, EndSessionOnce) {
  const User user = CreateUser("dave");
  SessionRecord session =
      InsertSession(MakeSession(user.id, "sess0001", clock_.Now()));
  clock_.Advance(absl::Minutes(1));

  absl::StatusOr<SessionRecord> ended =
      store_->EndSession("sess0001", clock_.Now());
  ASSERT_TRUE(ended.ok()) << ended.status();
  session.end_time = clock_.Now();
  ExpectSameSession(*ended, session);

  clock_.Advance(absl::Minutes(1));
  EXPECT_CODE(store_->EndSession("sess0001", clock_.Now()).status(), kNotFound);
  EXPECT_CODE(store_->EndSession("nope", clock_.Now()).status(), kNotFound);
  absl::StatusOr<SessionRecord> read = store_->GetSession("sess0001");
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameSession(*read, session);
}

TEST_F(MysqlSessionTest, EndUserSessionsEndsOnlyThatUsersOpenOnes) {
  const User user = CreateUser("erin");
  const User other = CreateUser("frank");
  const absl::Time now = clock_.Now();
  InsertSession(MakeSession(user.id, "live1", now));
  InsertSession(MakeSession(user.id, "live2", now));
  SessionRecord ended = MakeSession(user.id, "ended", now);
  ended.end_time = now - absl::Minutes(1);
  InsertSession(ended);
  InsertSession(MakeSession(other.id, "others", now));

  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<int> count = store_->EndUserSessions(user.id, clock_.Now());
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 2);

  for (const char* handle : {"live1", "live2"}) {
    absl::StatusOr<SessionRecord> read = store_->GetSession(handle);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->end_time, clock_.Now()) << handle;
  }
  absl::StatusOr<SessionRecord> read = store_->GetSession("ended");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->end_time, now - absl::Minutes(1));
  read = store_->GetSession("others");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->end_time, std::nullopt);

  count = store_->EndUserSessions(user.id, clock_.Now());
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
  count = store_->EndUserSessions(user.id + 100, clock_.Now());
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
}

TEST_F(MysqlSessionTest, ListLiveSessionsNewestFirst) {
  const User user = CreateUser("grace");
  const User other = CreateUser("heidi");
  const absl::Time now = clock_.Now();
  const SessionLiveAt live{now, now - absl::Minutes(30)};

  InsertSession(MakeSession(user.id, "oldest", now - absl::Hours(2)));
  SessionRecord ended = MakeSession(user.id, "ended", now);
  ended.end_time = now;
  InsertSession(ended);
  SessionRecord expired = MakeSession(user.id, "expired", now);
  expired.expire_time = now;  // Expires at `now`: no longer live.
  InsertSession(expired);
  SessionRecord idle = MakeSession(user.id, "idle", now - absl::Hours(1));
  idle.last_seen_time = live.idle_before - absl::Microseconds(1);
  InsertSession(idle);
  SessionRecord edge = MakeSession(user.id, "edge", now - absl::Hours(1));
  edge.last_seen_time = live.idle_before;  // Seen exactly then: live.
  InsertSession(edge);
  InsertSession(MakeSession(user.id, "newest", now));
  InsertSession(MakeSession(other.id, "others", now));
  // "oldest" was last seen 2h ago; touching it keeps it live.
  ASSERT_OK(store_->TouchSession("oldest", now - absl::Minutes(1)));

  absl::StatusOr<std::vector<SessionRecord>> sessions =
      store_->ListLiveSessions(user.id, live, 10);
  ASSERT_TRUE(sessions.ok()) << sessions.status();
  EXPECT_THAT(Handles(*sessions), ElementsAre("newest", "edge", "oldest"));

  sessions = store_->ListLiveSessions(user.id, live, 2);
  ASSERT_TRUE(sessions.ok()) << sessions.status();
  EXPECT_THAT(Handles(*sessions), ElementsAre("newest", "edge"));

  EXPECT_CODE(store_->ListLiveSessions(user.id, live, 0).status(),
              kInvalidArgument);
}

// --- Rotation, idempotency keys, last use, janitor, audit ---

std::vector<std::string> PublicIds(const std::vector<TokenRecord>& tokens) {
  std::vector<std::string> ids;
  for (const TokenRecord& token : tokens) ids.push_back(token.public_id);
  return ids;
}

class MysqlTokenLifecycleTest : public MysqlStoreTest {
 protected:
  IdempotencyKey Key(const std::string& request_id, char fingerprint = 'a',
                     const std::string& method = "CreateToken") {
    return IdempotencyKey{method, request_id, std::string(64, fingerprint),
                          clock_.Now() - absl::Hours(24)};
  }

  // Another store on the same database with room for `pool_size`
  // connections, so that parallel calls really meet in the database.
  std::unique_ptr<MysqlStore> OpenStore(int pool_size) {
    MysqlOptions options = db_.options();
    options.pool_size = pool_size;
    absl::StatusOr<std::unique_ptr<MysqlStore>> store =
        MysqlStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // The single value `sql` selects, as text ("NULL" for NULL).
  std::string QueryValue(const std::string& sql) {
    absl::StatusOr<TestRows> rows = QueryForTest(db_.options(), sql);
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok() || rows->size() != 1 || (*rows)[0].size() != 1) {
      ADD_FAILURE() << "not a single value: " << sql;
      return "";
    }
    return (*rows)[0][0].value_or("NULL");
  }

  TokenRecord Get(const std::string& public_id) {
    absl::StatusOr<TokenRecord> token = store_->GetToken(public_id);
    EXPECT_TRUE(token.ok()) << public_id << ": " << token.status();
    return token.ok() ? *token : TokenRecord{};
  }

  std::vector<TokenRecord> List(const TokenListQuery& query) {
    absl::StatusOr<std::vector<TokenRecord>> tokens = store_->ListTokens(query);
    EXPECT_TRUE(tokens.ok()) << tokens.status();
    return tokens.ok() ? *tokens : std::vector<TokenRecord>{};
  }

  std::vector<AuditEvent> Audit(const AuditQuery& query) {
    absl::StatusOr<std::vector<AuditEvent>> events =
        store_->ListAuditEvents(query);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<AuditEvent>{};
  }
};

TEST_F(MysqlTokenLifecycleTest, FamilyRotatedToAndPeersRoundTrip) {
  const User user = CreateUser("alice");
  TokenRecord token = MakeToken(user.id, "pid0002", clock_.Now());
  token.family_id = "pid0001";
  token.rotated_to = "pid0003";
  token.last_used_peers = {"ipv4:10.0.0.1:5555", "ipv6:[2001:db8::1]:443",
                           "unix:/run/\xF0\x9F\x98\x80.sock"};
  const TokenRecord stored = Insert(token);
  token.row_id = stored.row_id;
  ExpectSameToken(stored, token);
  ExpectSameToken(Get("pid0002"), token);

  for (const char* bad_peer : {"a\nb", ""}) {
    TokenRecord bad = MakeToken(user.id, "pid0004", clock_.Now());
    bad.last_used_peers = {bad_peer};
    EXPECT_CODE(store_->InsertToken(bad, 0, Usable(), nullptr).status(),
                kInvalidArgument);
  }
  EXPECT_CODE(store_->GetToken("pid0004").status(), kNotFound);
}

TEST_F(MysqlTokenLifecycleTest, NonAsciiPublicIdsNameNoToken) {
  const User user = CreateUser("bob");
  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  const std::string id = "pid\xC3\xA9";  // U+00E9.
  EXPECT_CODE(store_->GetToken(id).status(), kNotFound);
  EXPECT_CODE(store_->GetToken("\xFF").status(), kNotFound);
  EXPECT_CODE(store_->UpdateToken(id, TokenUpdate{}, clock_.Now()).status(),
              kNotFound);
  EXPECT_CODE(store_->RevokeToken(id, clock_.Now()).status(), kNotFound);
  EXPECT_CODE(store_
                  ->RotateToken(id, MakeToken(user.id, "pid0002", clock_.Now()),
                                clock_.Now(), nullptr)
                  .status(),
              kNotFound);
  absl::StatusOr<int> revoked = store_->RevokeTokenFamily(id, clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 0);
  ASSERT_OK(store_->RecordTokenUses({{id, clock_.Now(), "peer"}}, 5));
  // A non-ASCII successor id is a bad value, not a missing token.
  EXPECT_CODE(store_
                  ->RotateToken("pid0001", MakeToken(user.id, id, clock_.Now()),
                                clock_.Now(), nullptr)
                  .status(),
              kInvalidArgument);
  EXPECT_EQ(Get("pid0001").revoke_time, std::nullopt);
}

// --- Idempotency keys ---

TEST_F(MysqlTokenLifecycleTest, InsertWithKeyReplaysTheFirstResult) {
  const User user = CreateUser("carol");
  const User other = CreateUser("dave");
  const IdempotencyKey key = Key("req-1");
  absl::StatusOr<InsertTokenResult> first = store_->InsertToken(
      MakeToken(user.id, "pid0001", clock_.Now()), 0, Usable(), &key);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->token.family_id, "pid0001");

  // Same key and parameters a minute later: the first token comes back and
  // nothing is inserted, even though the limit (1) is now reached.
  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<InsertTokenResult> again = store_->InsertToken(
      MakeToken(user.id, "pid0002", clock_.Now()), 1, Usable(), &key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  ExpectSameToken(again->token, first->token);
  EXPECT_CODE(store_->GetToken("pid0002").status(), kNotFound);

  // Same request id, other parameters: refused, and nothing is echoed.
  const IdempotencyKey changed = Key("req-1", 'b');
  absl::Status status =
      store_
          ->InsertToken(MakeToken(user.id, "pid0003", clock_.Now()), 0,
                        Usable(), &changed)
          .status();
  EXPECT_CODE(status, kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr("request_id"));
  EXPECT_THAT(status.message(), Not(HasSubstr("req-1")));
  EXPECT_THAT(status.message(), Not(HasSubstr("aaaa")));
  EXPECT_THAT(status.message(), Not(HasSubstr("bbbb")));
  EXPECT_CODE(store_->GetToken("pid0003").status(), kNotFound);

  // Keys are per user.
  absl::StatusOr<InsertTokenResult> others = store_->InsertToken(
      MakeToken(other.id, "pid0004", clock_.Now()), 0, Usable(), &key);
  ASSERT_TRUE(others.ok()) << others.status();
  EXPECT_FALSE(others->replayed);
  EXPECT_EQ(others->token.public_id, "pid0004");

  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"), "2");
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM idempotency_keys"), "2");
}

TEST_F(MysqlTokenLifecycleTest, ForgottenKeyActsAgain) {
  const User user = CreateUser("erin");
  const absl::Time first_time = clock_.Now();
  IdempotencyKey key = Key("req-1");
  ASSERT_TRUE(store_
                  ->InsertToken(MakeToken(user.id, "pid0001", first_time), 0,
                                Usable(), &key)
                  .ok());

  // Recorded exactly at forget_before: still remembered.
  clock_.Advance(absl::Hours(2));
  key.forget_before = first_time;
  absl::StatusOr<InsertTokenResult> result = store_->InsertToken(
      MakeToken(user.id, "pid0002", clock_.Now()), 0, Usable(), &key);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->replayed);
  EXPECT_EQ(result->token.public_id, "pid0001");

  // Recorded before it: forgotten, the request acts again and the key now
  // names the new token. (Other parameters are fine for a forgotten key.)
  key.forget_before = first_time + absl::Microseconds(1);
  key.fingerprint = std::string(64, 'c');
  result = store_->InsertToken(MakeToken(user.id, "pid0003", clock_.Now()), 0,
                               Usable(), &key);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->replayed);
  EXPECT_EQ(result->token.public_id, "pid0003");
  result = store_->InsertToken(MakeToken(user.id, "pid0004", clock_.Now()), 0,
                               Usable(), &key);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->replayed);
  EXPECT_EQ(result->token.public_id, "pid0003");
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM idempotency_keys"), "1");
}

TEST_F(MysqlTokenLifecycleTest, ReplayOfADeletedTokenIsFailedPrecondition) {
  const User user = CreateUser("frank");
  const IdempotencyKey key = Key("req-1");
  ASSERT_TRUE(store_
                  ->InsertToken(MakeToken(user.id, "pid0001", clock_.Now()), 0,
                                Usable(), &key)
                  .ok());
  ASSERT_OK(ExecuteForTest(db_.options(),
                           "DELETE FROM access_tokens WHERE public_id = "
                           "'pid0001'"));
  absl::Status status =
      store_
          ->InsertToken(MakeToken(user.id, "pid0002", clock_.Now()), 0,
                        Usable(), &key)
          .status();
  EXPECT_CODE(status, kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("request_id"));
  EXPECT_CODE(store_->GetToken("pid0002").status(), kNotFound);
}

TEST_F(MysqlTokenLifecycleTest, MalformedKeysAreInvalidArgument) {
  const User user = CreateUser("grace");
  std::vector<IdempotencyKey> bad(6, Key("req-1"));
  bad[0].request_id = "";
  bad[1].request_id = std::string(65, 'r');
  bad[2].request_id = "req\xC3\xA9";
  bad[3].method = "";
  bad[4].fingerprint = std::string(65, 'f');
  bad[5].fingerprint = "";
  for (const IdempotencyKey& key : bad) {
    EXPECT_CODE(store_
                    ->InsertToken(MakeToken(user.id, "pid0001", clock_.Now()),
                                  0, Usable(), &key)
                    .status(),
                kInvalidArgument);
  }
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"), "0");
  // 64 characters fit.
  const IdempotencyKey longest = Key(std::string(64, 'r'));
  EXPECT_TRUE(store_
                  ->InsertToken(MakeToken(user.id, "pid0001", clock_.Now()), 0,
                                Usable(), &longest)
                  .ok());
}

TEST_F(MysqlTokenLifecycleTest, SameKeyRaceMakesOneToken) {
  const User user = CreateUser("heidi");
  std::unique_ptr<MysqlStore> store = OpenStore(32);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 64;
  const IdempotencyKey key = Key("same-request");
  std::vector<absl::StatusOr<InsertTokenResult>> results(
      kThreads, absl::UnknownError("not run"));
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const TokenRecord token =
          MakeToken(user.id, absl::StrCat("pid", i), clock_.Now());
      start.WaitForNotification();
      results[i] = store->InsertToken(token, 50, Usable(), &key);
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  int made = 0;
  int replayed = 0;
  std::string winner;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    if (result->replayed) {
      ++replayed;
    } else {
      ++made;
      winner = result->token.public_id;
    }
  }
  EXPECT_EQ(made, 1);
  EXPECT_EQ(replayed, kThreads - 1);
  for (const auto& result : results) EXPECT_EQ(result->token.public_id, winner);
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"), "1");
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM idempotency_keys"), "1");
}

TEST_F(MysqlTokenLifecycleTest, LimitRaceWithExistingTokensAllowsOnlyTheRest) {
  const User user = CreateUser("ivan");
  constexpr int kExisting = 40;
  constexpr int kLimit = 50;
  constexpr int kThreads = 64;
  for (int i = 0; i < kExisting; ++i) {
    Insert(MakeToken(user.id, absl::StrCat("old", i), clock_.Now()));
  }
  std::unique_ptr<MysqlStore> store = OpenStore(32);
  ASSERT_NE(store, nullptr);
  std::vector<absl::Status> results(kThreads);
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const TokenRecord token =
          MakeToken(user.id, absl::StrCat("new", i), clock_.Now());
      start.WaitForNotification();
      results[i] =
          store->InsertToken(token, kLimit, Usable(), nullptr).status();
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  int ok = 0;
  int exhausted = 0;
  for (const absl::Status& status : results) {
    if (status.ok()) {
      ++ok;
    } else if (absl::IsResourceExhausted(status)) {
      ++exhausted;
    } else {
      ADD_FAILURE() << "unexpected: " << status;
    }
  }
  EXPECT_EQ(ok, kLimit - kExisting);
  EXPECT_EQ(exhausted, kThreads - (kLimit - kExisting));
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"),
            std::to_string(kLimit));
}

// --- Rotation ---

TEST_F(MysqlTokenLifecycleTest, RotateRevokesTheOldTokenAndKeepsTheFamily) {
  const User user = CreateUser("judy");
  const TokenRecord first = Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  clock_.Advance(absl::Minutes(1));

  absl::StatusOr<RotateTokenResult> rotated = store_->RotateToken(
      "pid0001", MakeToken(user.id, "pid0002", clock_.Now()), clock_.Now(),
      nullptr);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_FALSE(rotated->replayed);
  TokenRecord old = first;
  old.revoke_time = clock_.Now();
  old.update_time = clock_.Now();
  old.rotated_to = "pid0002";
  ExpectSameToken(rotated->old_token, old);
  ExpectSameToken(Get("pid0001"), old);
  EXPECT_GT(rotated->successor.row_id, first.row_id);
  EXPECT_EQ(rotated->successor.family_id, "pid0001");
  EXPECT_EQ(rotated->successor.rotated_to, std::nullopt);
  EXPECT_EQ(rotated->successor.revoke_time, std::nullopt);
  ExpectSameToken(Get("pid0002"), rotated->successor);

  // Rotating the successor keeps the family.
  clock_.Advance(absl::Minutes(1));
  rotated = store_->RotateToken("pid0002",
                                MakeToken(user.id, "pid0003", clock_.Now()),
                                clock_.Now(), nullptr);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->old_token.family_id, "pid0001");
  EXPECT_EQ(rotated->successor.family_id, "pid0001");

  // The first token again: already rotated out, and nothing is inserted.
  absl::Status reuse =
      store_
          ->RotateToken("pid0001", MakeToken(user.id, "pid0009", clock_.Now()),
                        clock_.Now(), nullptr)
          .status();
  EXPECT_CODE(reuse, kFailedPrecondition);
  EXPECT_CODE(store_->GetToken("pid0009").status(), kNotFound);

  // Revoking the family revokes its one live member, once.
  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<int> revoked =
      store_->RevokeTokenFamily("pid0001", clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 1);
  EXPECT_EQ(Get("pid0003").revoke_time, clock_.Now());
  EXPECT_EQ(Get("pid0003").update_time, clock_.Now());
  EXPECT_EQ(Get("pid0001").revoke_time, old.revoke_time);
  revoked = store_->RevokeTokenFamily("pid0001", clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 0);
  revoked = store_->RevokeTokenFamily("nofamily", clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 0);
}

TEST_F(MysqlTokenLifecycleTest, RevokeTokenFamilyLeavesOtherFamiliesAlone) {
  const User user = CreateUser("ken");
  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  Insert(MakeToken(user.id, "pid0002", clock_.Now()));
  TokenRecord member = MakeToken(user.id, "pid0003", clock_.Now());
  member.family_id = "pid0001";
  Insert(member);
  absl::StatusOr<int> revoked =
      store_->RevokeTokenFamily("pid0001", clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 2);
  EXPECT_EQ(Get("pid0002").revoke_time, std::nullopt);
}

TEST_F(MysqlTokenLifecycleTest, RotateRefusals) {
  const User user = CreateUser("leo");
  const User other = CreateUser("mallory");
  Insert(MakeToken(user.id, "mine1", clock_.Now()));
  Insert(MakeToken(user.id, "mine2", clock_.Now()));
  Insert(MakeToken(other.id, "theirs", clock_.Now()));
  auto rotate = [&](const std::string& old_id, int64_t user_id,
                    const std::string& new_id) {
    return store_
        ->RotateToken(old_id, MakeToken(user_id, new_id, clock_.Now()),
                      clock_.Now(), nullptr)
        .status();
  };

  // Another user's token: NOT_FOUND, untouched.
  EXPECT_CODE(rotate("theirs", user.id, "new1"), kNotFound);
  EXPECT_EQ(Get("theirs").revoke_time, std::nullopt);
  EXPECT_CODE(store_->GetToken("new1").status(), kNotFound);
  // Absent, or the successor's owner does not exist.
  EXPECT_CODE(rotate("nope", user.id, "new2"), kNotFound);
  EXPECT_CODE(rotate("mine1", user.id + 100, "new3"), kNotFound);
  // Revoked without rotation.
  ASSERT_TRUE(store_->RevokeToken("mine1", clock_.Now()).ok());
  EXPECT_CODE(rotate("mine1", user.id, "new4"), kNotFound);
  // The successor's id is taken: nothing changes.
  EXPECT_CODE(rotate("mine2", user.id, "theirs"), kAlreadyExists);
  EXPECT_EQ(Get("mine2").revoke_time, std::nullopt);
  EXPECT_EQ(Get("mine2").rotated_to, std::nullopt);
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"), "3");
}

TEST_F(MysqlTokenLifecycleTest, RotateWithKeyReplays) {
  const User user = CreateUser("nina");
  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  Insert(MakeToken(user.id, "pid0005", clock_.Now()));
  const IdempotencyKey key = Key("rot-1", 'a', "RotateToken");
  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<RotateTokenResult> first = store_->RotateToken(
      "pid0001", MakeToken(user.id, "pid0002", clock_.Now()), clock_.Now(),
      &key);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);

  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<RotateTokenResult> again = store_->RotateToken(
      "pid0001", MakeToken(user.id, "pid0003", clock_.Now()), clock_.Now(),
      &key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  ExpectSameToken(again->old_token, first->old_token);
  ExpectSameToken(again->successor, first->successor);
  EXPECT_CODE(store_->GetToken("pid0003").status(), kNotFound);

  // Other parameters, or the same fingerprint for another token.
  const IdempotencyKey changed = Key("rot-1", 'b', "RotateToken");
  EXPECT_CODE(
      store_
          ->RotateToken("pid0001", MakeToken(user.id, "pid0003", clock_.Now()),
                        clock_.Now(), &changed)
          .status(),
      kAlreadyExists);
  EXPECT_CODE(
      store_
          ->RotateToken("pid0005", MakeToken(user.id, "pid0003", clock_.Now()),
                        clock_.Now(), &key)
          .status(),
      kAlreadyExists);
  EXPECT_EQ(Get("pid0005").revoke_time, std::nullopt);

  // A replay whose successor is gone: NOT_FOUND, never FAILED_PRECONDITION
  // (which would read as reuse of an already rotated token).
  const IdempotencyKey lost = Key("rot-2", 'a', "RotateToken");
  ASSERT_TRUE(store_
                  ->RotateToken("pid0005",
                                MakeToken(user.id, "pid0006", clock_.Now()),
                                clock_.Now(), &lost)
                  .ok());
  ASSERT_OK(ExecuteForTest(
      db_.options(), "DELETE FROM access_tokens WHERE public_id = 'pid0006'"));
  absl::Status status =
      store_
          ->RotateToken("pid0005", MakeToken(user.id, "pid0007", clock_.Now()),
                        clock_.Now(), &lost)
          .status();
  EXPECT_CODE(status, kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("request_id"));

  // The same request id for CreateToken is another key.
  const IdempotencyKey create = Key("rot-1", 'a', "CreateToken");
  absl::StatusOr<InsertTokenResult> created = store_->InsertToken(
      MakeToken(user.id, "pid0004", clock_.Now()), 0, Usable(), &create);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->replayed);
}

TEST_F(MysqlTokenLifecycleTest, ParallelRotationsOfOneTokenLetOneWin) {
  const User user = CreateUser("olivia");
  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  std::unique_ptr<MysqlStore> store = OpenStore(16);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 16;
  std::vector<absl::Status> results(kThreads);
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const TokenRecord successor =
          MakeToken(user.id, absl::StrCat("next", i), clock_.Now());
      start.WaitForNotification();
      results[i] =
          store->RotateToken("pid0001", successor, clock_.Now(), nullptr)
              .status();
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();
  int ok = 0;
  for (const absl::Status& status : results) {
    if (status.ok()) {
      ++ok;
    } else {
      EXPECT_CODE(status, kFailedPrecondition);
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"), "2");
}

// --- Last use ---

TEST_F(MysqlTokenLifecycleTest, RecordTokenUsesKeepsDistinctPeersNewestFirst) {
  const User user = CreateUser("peggy");
  const TokenRecord token = Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  const absl::Time t = clock_.Now() + absl::Minutes(1);
  std::vector<TokenUse> uses;
  for (int i = 1; i <= 7; ++i) {
    uses.push_back({"pid0001", t + absl::Minutes(i), absl::StrCat("p", i)});
  }
  uses.push_back({"pid0001", t + absl::Minutes(8), "p3"});
  ASSERT_OK(store_->RecordTokenUses(uses, 5));
  TokenRecord read = Get("pid0001");
  EXPECT_EQ(read.last_used_time, t + absl::Minutes(8));
  EXPECT_THAT(read.last_used_peers, ElementsAre("p3", "p7", "p6", "p5", "p4"));
  EXPECT_EQ(read.update_time, token.update_time);

  // In separate calls too; an older use never moves last_used back.
  ASSERT_OK(store_->RecordTokenUses({{"pid0001", t, "p5"}}, 5));
  read = Get("pid0001");
  EXPECT_EQ(read.last_used_time, t + absl::Minutes(8));
  EXPECT_THAT(read.last_used_peers, ElementsAre("p5", "p3", "p7", "p6", "p4"));

  // No peer: only the time moves.
  ASSERT_OK(store_->RecordTokenUses({{"pid0001", t + absl::Hours(1), ""}}, 5));
  read = Get("pid0001");
  EXPECT_EQ(read.last_used_time, t + absl::Hours(1));
  EXPECT_THAT(read.last_used_peers, ElementsAre("p5", "p3", "p7", "p6", "p4"));

  // A smaller cap drops the oldest.
  ASSERT_OK(
      store_->RecordTokenUses({{"pid0001", t + absl::Hours(1), "p4"}}, 2));
  EXPECT_THAT(Get("pid0001").last_used_peers, ElementsAre("p4", "p5"));

  EXPECT_CODE(store_->RecordTokenUses(uses, -1), kInvalidArgument);
  ASSERT_OK(store_->RecordTokenUses({}, 5));
}

TEST_F(MysqlTokenLifecycleTest, RecordTokenUsesSkipsRevokedExpiredAndAbsent) {
  const User user = CreateUser("quentin");
  const absl::Time now = clock_.Now();
  TokenRecord revoked = MakeToken(user.id, "revoked", now);
  revoked.revoke_time = now + absl::Minutes(1);  // Revoked: any time counts.
  Insert(revoked);
  TokenRecord expiring = MakeToken(user.id, "expiring", now);
  expiring.expire_time = now + absl::Hours(1);
  Insert(expiring);

  ASSERT_OK(store_->RecordTokenUses(
      {{"revoked", now, "p1"},
       {"expiring", now + absl::Hours(1), "p2"},  // At expiration: expired.
       {"expiring", now + absl::Hours(2), "p3"},
       {"absent", now, "p4"}},
      5));
  for (const char* id : {"revoked", "expiring"}) {
    const TokenRecord read = Get(id);
    EXPECT_EQ(read.last_used_time, std::nullopt) << id;
    EXPECT_TRUE(read.last_used_peers.empty()) << id;
  }

  // A use before the expiration counts, in the same batch as late ones.
  ASSERT_OK(store_->RecordTokenUses(
      {{"expiring", now + absl::Hours(3), "late"},
       {"expiring", now + absl::Hours(1) - absl::Microseconds(1), "p5"}},
      5));
  const TokenRecord read = Get("expiring");
  EXPECT_EQ(read.last_used_time, now + absl::Hours(1) - absl::Microseconds(1));
  EXPECT_THAT(read.last_used_peers, ElementsAre("p5"));
  EXPECT_EQ(read.update_time, now);
}

// More tokens than one transaction takes (64), given out of order, with
// absent ones among them: every present token gets its own use.
TEST_F(MysqlTokenLifecycleTest, RecordTokenUsesCoversEveryBatch) {
  const User user = CreateUser("batched");
  const absl::Time now = clock_.Now();
  constexpr int kTokens = 150;
  std::vector<TokenUse> uses;
  for (int i = kTokens - 1; i >= 0; --i) {
    const std::string id = absl::StrCat("b", 1000 + i);
    if (i % 10 != 3) Insert(MakeToken(user.id, id, now));  // Else absent.
    uses.push_back({id, now + absl::Seconds(i), absl::StrCat("peer", i)});
  }
  ASSERT_OK(store_->RecordTokenUses(uses, 5));
  for (int i = 0; i < kTokens; ++i) {
    if (i % 10 == 3) continue;
    const TokenRecord read = Get(absl::StrCat("b", 1000 + i));
    EXPECT_EQ(read.last_used_time, now + absl::Seconds(i)) << i;
    EXPECT_THAT(read.last_used_peers, ElementsAre(absl::StrCat("peer", i)))
        << i;
  }
}

// The cache's batched re-read: more ids than one query takes (64), over two
// owners, with absent, repeated and non-ASCII ids among them; each present
// token comes back once, with its own owner, and its current state.
TEST_F(MysqlTokenLifecycleTest, GetTokensAndOwnersReadsEveryBatch) {
  const User ann = CreateUser("ann");
  const User ben = CreateUser("ben");
  const absl::Time now = clock_.Now();
  constexpr int kTokens = 150;
  std::vector<std::string> ids;
  for (int i = 0; i < kTokens; ++i) {
    const std::string id = absl::StrCat("g", 1000 + i);
    if (i % 10 != 3) {  // Else absent.
      Insert(MakeToken(i % 2 == 0 ? ann.id : ben.id, id, now));
    }
    ids.push_back(id);
  }
  ids.push_back("g1000");  // Asked twice.
  ids.push_back("g\xC3\xA9");
  ASSERT_OK(store_->SetUserDisabled(ben.id, true, now));

  absl::StatusOr<std::vector<std::pair<TokenRecord, User>>> found =
      store_->GetTokensAndOwners(ids);
  ASSERT_TRUE(found.ok()) << found.status();
  std::map<std::string, User> owners;
  for (const auto& [token, owner] : *found) {
    EXPECT_TRUE(owners.emplace(token.public_id, owner).second)
        << token.public_id << " twice";
    EXPECT_EQ(token.user_id, owner.id) << token.public_id;
  }
  EXPECT_EQ(owners.size(), 135u);
  for (int i = 0; i < kTokens; ++i) {
    const auto it = owners.find(absl::StrCat("g", 1000 + i));
    if (i % 10 == 3) {
      EXPECT_EQ(it, owners.end()) << i;
      continue;
    }
    ASSERT_NE(it, owners.end()) << i;
    EXPECT_EQ(it->second.username, i % 2 == 0 ? "ann" : "ben") << i;
    EXPECT_EQ(it->second.disabled, i % 2 != 0) << i;
  }

  // Batches of every size of IN list (4, 16 and 64 places), and none.
  found = store_->GetTokensAndOwners({"g1001", "nope"});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].first.public_id, "g1001");
  for (int n : {4, 5, 16, 17, 64}) {
    std::vector<std::string> some(ids.begin(), ids.begin() + n);
    found = store_->GetTokensAndOwners(some);
    ASSERT_TRUE(found.ok()) << found.status();
    const int absent = (n + 6) / 10;  // g1003, g1013, ...
    EXPECT_EQ(found->size(), static_cast<size_t>(n - absent)) << n;
  }
  found = store_->GetTokensAndOwners({});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(found->empty());
}

TEST_F(MysqlTokenLifecycleTest, RecordTokenUsesFitsPeersToTheColumn) {
  const User user = CreateUser("rupert");
  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  const absl::Time t = clock_.Now();
  const std::string x127(127, 'x');
  ASSERT_OK(store_->RecordTokenUses(
      {{"pid0001", t, "line\nbreak"},
       {"pid0001", t, x127 + "\xC3\xA9yyy"},  // The 2-byte character would end
                                              // at byte 129: cut before it.
       {"pid0001", t, "bad\xFFutf8"}},
      5));
  EXPECT_THAT(Get("pid0001").last_used_peers,
              ElementsAre("bad?utf8", x127, "line break"));

  // Eight peers of 128 bytes do not fit 1024 bytes joined: seven are kept.
  std::vector<TokenUse> uses;
  for (char c = 'a'; c < 'a' + 8; ++c) {
    uses.push_back({"pid0001", t, std::string(128, c)});
  }
  ASSERT_OK(store_->RecordTokenUses(uses, 8));
  const TokenRecord read = Get("pid0001");
  ASSERT_EQ(read.last_used_peers.size(), 7u);
  EXPECT_EQ(read.last_used_peers.front(), std::string(128, 'h'));
  EXPECT_EQ(read.last_used_peers.back(), std::string(128, 'b'));

  // max_peers 0 keeps none, and still records the time.
  ASSERT_OK(store_->RecordTokenUses({{"pid0001", t + absl::Hours(1), "p"}}, 0));
  EXPECT_TRUE(Get("pid0001").last_used_peers.empty());
  EXPECT_EQ(Get("pid0001").last_used_time, t + absl::Hours(1));
}

// --- Janitor ---

class MysqlJanitorTest : public MysqlTokenLifecycleTest {
 protected:
  JanitorCutoffs Cutoffs() {
    const absl::Time now = clock_.Now();
    const absl::Duration ttl = absl::Hours(24 * 90);
    return {now - ttl, now - ttl, now - absl::Hours(24 * 365) - ttl};
  }
};

TEST_F(MysqlJanitorTest, DeletesExactlyTheUnusableTokens) {
  const User user = CreateUser("sybil");
  const User other = CreateUser("trent");
  const absl::Time now = clock_.Now();
  const absl::Duration day = absl::Hours(24);
  // public id -> the reason it is deleted, or "" if it stays.
  std::vector<std::pair<TokenRecord, std::string>> cases;
  auto add = [&](int64_t owner, const std::string& id, absl::Time created,
                 const std::string& reason) -> TokenRecord& {
    cases.push_back({MakeToken(owner, id, created), reason});
    return cases.back().first;
  };
  add(user.id, "revokedold", now - 100 * day, "reason=revoked").revoke_time =
      now - 91 * day;
  add(user.id, "revokednew", now - 100 * day, "").revoke_time = now - 89 * day;
  add(user.id, "expiredold", now - 100 * day, "reason=expired").expire_time =
      now - 91 * day;
  add(user.id, "expirednew", now - 100 * day, "").expire_time = now - 89 * day;
  add(user.id, "unusedold", now - 456 * day, "reason=unused");
  add(user.id, "unusednew", now - 454 * day, "");
  add(user.id, "usedlately", now - 800 * day, "").last_used_time = now - day;
  add(user.id, "usedlongago", now - 800 * day, "reason=unused").last_used_time =
      now - 460 * day;
  add(user.id, "active", now, "");
  TokenRecord& both = add(other.id, "both", now - 100 * day, "reason=revoked");
  both.revoke_time = now - 91 * day;
  both.expire_time = now - 91 * day;
  add(other.id, "othersold", now - 500 * day, "reason=unused");

  std::vector<std::string> doomed;
  std::vector<std::string> kept;
  for (const auto& [token, reason] : cases) {
    Insert(token);
    (reason.empty() ? kept : doomed).push_back(token.public_id);
  }
  // Keys pointing at a doomed token and at a kept one.
  IdempotencyKey key = Key("req-doomed");
  key.forget_before = absl::InfinitePast();
  ASSERT_TRUE(
      store_
          ->InsertToken(MakeToken(user.id, "keydoomed", now - 500 * day), 0,
                        Usable(), &key)
          .ok());
  doomed.push_back("keydoomed");
  key.request_id = "req-kept";
  ASSERT_TRUE(
      store_->InsertToken(MakeToken(user.id, "keykept", now), 0, Usable(), &key)
          .ok());
  kept.push_back("keykept");

  // Batches go by row id.
  absl::StatusOr<std::vector<TokenRecord>> batch =
      store_->DeleteUnusableTokens(Cutoffs(), 3, now);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_THAT(PublicIds(*batch),
              ElementsAre("revokedold", "expiredold", "unusedold"));
  std::vector<std::string> deleted = PublicIds(*batch);
  EXPECT_EQ(batch->front().revoke_time, now - 91 * day);  // As stored.
  batch = store_->DeleteUnusableTokens(Cutoffs(), 100, now);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (const TokenRecord& token : *batch) deleted.push_back(token.public_id);
  batch = store_->DeleteUnusableTokens(Cutoffs(), 100, now);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(batch->empty());

  EXPECT_THAT(deleted, ::testing::UnorderedElementsAreArray(doomed));
  for (const std::string& id : kept) EXPECT_TRUE(store_->GetToken(id).ok());
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"),
            std::to_string(kept.size()));
  EXPECT_EQ(QueryValue("SELECT GROUP_CONCAT(token_public_id) FROM "
                       "idempotency_keys"),
            "keykept");

  // One audit event per deleted token.
  AuditQuery query;
  query.limit = 100;
  const std::vector<AuditEvent> events = Audit(query);
  ASSERT_EQ(events.size(), doomed.size());
  for (const AuditEvent& event : events) {
    EXPECT_EQ(event.type, "token.janitor_delete");
    EXPECT_EQ(event.time, now);
    EXPECT_EQ(event.actor_user_id, 0);
    EXPECT_EQ(event.credential_kind, "");
    EXPECT_EQ(event.peer, "");
    std::string reason = "reason=unused";  // keydoomed.
    int64_t owner = user.id;
    for (const auto& [token, token_reason] : cases) {
      if (token.public_id == event.object_id) {
        reason = token_reason;
        owner = token.user_id;
      }
    }
    EXPECT_EQ(event.details, reason) << event.object_id;
    EXPECT_EQ(event.subject_user_id, owner) << event.object_id;
  }

  EXPECT_CODE(store_->DeleteUnusableTokens(Cutoffs(), 0, now).status(),
              kInvalidArgument);
  EXPECT_CODE(store_->DeleteUnusableTokens(Cutoffs(), 10001, now).status(),
              kInvalidArgument);
}

TEST_F(MysqlJanitorTest, ConcurrentJanitorsDeleteEachRowOnce) {
  const User user = CreateUser("uma");
  const User other = CreateUser("victor");
  const absl::Time now = clock_.Now();
  constexpr int kDoomed = 160;
  constexpr int kKept = 40;
  // Interleaved, so that every batch meets rows to skip.
  for (int i = 0; i < kDoomed + kKept; ++i) {
    TokenRecord token =
        MakeToken(i % 2 == 0 ? user.id : other.id, absl::StrCat("pid", i), now);
    if (i % 5 != 0) token.revoke_time = now - absl::Hours(24 * 100);
    Insert(token);
  }
  std::unique_ptr<MysqlStore> store = OpenStore(8);
  ASSERT_NE(store, nullptr);

  constexpr int kJanitors = 4;
  std::vector<std::vector<std::string>> deleted(kJanitors);
  std::vector<absl::Status> errors(kJanitors);
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int i = 0; i < kJanitors; ++i) {
    threads.emplace_back([&, i] {
      start.WaitForNotification();
      for (;;) {
        absl::StatusOr<std::vector<TokenRecord>> batch =
            store->DeleteUnusableTokens(Cutoffs(), 7, now);
        if (!batch.ok()) {
          errors[i] = batch.status();
          return;
        }
        if (batch->empty()) return;
        for (const TokenRecord& token : *batch) {
          deleted[i].push_back(token.public_id);
        }
      }
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  std::vector<std::string> all;
  for (int i = 0; i < kJanitors; ++i) {
    EXPECT_TRUE(errors[i].ok()) << errors[i];
    all.insert(all.end(), deleted[i].begin(), deleted[i].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kDoomed));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"),
            std::to_string(kKept));
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens WHERE "
                       "revoke_time_us IS NOT NULL"),
            "0");
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM audit_events"),
            std::to_string(kDoomed));
  EXPECT_EQ(QueryValue("SELECT COUNT(DISTINCT object_id) FROM audit_events"),
            std::to_string(kDoomed));
}

TEST_F(MysqlJanitorTest, SkipsRowsLockedElsewhereWithoutWaiting) {
  const User user = CreateUser("xena");
  const absl::Time now = clock_.Now();
  for (int i = 0; i < 3; ++i) {
    TokenRecord token = MakeToken(user.id, absl::StrCat("pid", i), now);
    token.revoke_time = now - absl::Hours(24 * 100);
    Insert(token);
  }
  // Another transaction (say, another janitor) holds pid1.
  absl::StatusOr<std::unique_ptr<sql::Connection>> holder =
      OpenMysqlConnection(db_.options());
  ASSERT_TRUE(holder.ok()) << holder.status();
  (*holder)->setAutoCommit(false);
  {
    std::unique_ptr<sql::PreparedStatement> lock((*holder)->prepareStatement(
        "SELECT id FROM access_tokens WHERE public_id = 'pid1' FOR UPDATE"));
    std::unique_ptr<sql::ResultSet> rows(lock->executeQuery());
    ASSERT_TRUE(rows->next());
  }

  // A lock wait would take innodb_lock_wait_timeout (5s) and then fail.
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<TokenRecord>> batch =
      store_->DeleteUnusableTokens(Cutoffs(), 10, now);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_THAT(PublicIds(*batch), ElementsAre("pid0", "pid2"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  (*holder)->rollback();
  batch = store_->DeleteUnusableTokens(Cutoffs(), 10, now);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_THAT(PublicIds(*batch), ElementsAre("pid1"));
}

TEST_F(MysqlJanitorTest, DeleteIdempotencyKeysOldestFirst) {
  const User user = CreateUser("walter");
  const absl::Time now = clock_.Now();
  for (int i = 0; i < 4; ++i) {
    IdempotencyKey key = Key(absl::StrCat("req-", i));
    key.forget_before = absl::InfinitePast();
    ASSERT_TRUE(store_
                    ->InsertToken(MakeToken(user.id, absl::StrCat("pid", i),
                                            now - absl::Hours(3 - i)),
                                  0, Usable(), &key)
                    .ok());
  }
  // Keys at now-3h, -2h, -1h, now; before now-90m: the first two.
  const absl::Time before = now - absl::Minutes(90);
  absl::StatusOr<int> count = store_->DeleteIdempotencyKeys(before, 1);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 1);
  EXPECT_EQ(QueryValue("SELECT MIN(request_id) FROM idempotency_keys"),
            "req-1");
  count = store_->DeleteIdempotencyKeys(before, 10);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 1);
  count = store_->DeleteIdempotencyKeys(before, 10);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM idempotency_keys"), "2");
  EXPECT_EQ(QueryValue("SELECT COUNT(*) FROM access_tokens"), "4");
  EXPECT_CODE(store_->DeleteIdempotencyKeys(before, 0).status(),
              kInvalidArgument);
}

// --- ListTokens filters ---

TEST_F(MysqlTokenLifecycleTest, StateFilterAgreesWithStateOf) {
  const User user = CreateUser("xavier");
  const User other = CreateUser("yvonne");
  const TokenPolicy policy;  // Stale after a year.
  const absl::Time now = clock_.Now();
  const UsableAt at = UsableAtTime(policy, now);
  const absl::Duration day = absl::Hours(24);
  const absl::Duration us = absl::Microseconds(1);

  std::vector<TokenRecord> tokens;
  auto add = [&](const std::string& id, absl::Time created) -> TokenRecord& {
    tokens.push_back(MakeToken(user.id, id, created));
    return tokens.back();
  };
  add("active", now);
  add("staleedge", at.stale_before);  // Exactly at the cutoff: active.
  add("stale", at.stale_before - us);
  add("staleused", now - 800 * day).last_used_time = at.stale_before - us;
  add("usedlately", now - 800 * day).last_used_time = now - day;
  add("expirednow", now).expire_time = now;  // At now: expired.
  add("expiresnext", now).expire_time = now + us;
  add("expiredstale", now - 400 * day).expire_time = now - day;
  add("revoked", now).revoke_time = now - day;
  TokenRecord& revoked_expired = add("revokedexpired", now - 10 * day);
  revoked_expired.revoke_time = now - day;
  revoked_expired.expire_time = now - day;
  add("revokedstale", now - 400 * day).revoke_time = now - day;
  for (const TokenRecord& token : tokens) Insert(token);
  TokenRecord others = MakeToken(other.id, "others", now);
  others.revoke_time = now;
  Insert(others);

  for (TokenState state : {TokenState::kActive, TokenState::kExpired,
                           TokenState::kRevoked, TokenState::kStale}) {
    std::vector<std::string> expected;
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
      if (StateOf(*it, policy, now) == state) expected.push_back(it->public_id);
    }
    ASSERT_GE(expected.size(), 2u) << static_cast<int>(state);
    TokenListQuery query;
    query.user_id = user.id;
    query.limit = 100;
    query.state = state;
    query.at = at;
    EXPECT_THAT(PublicIds(List(query)), ::testing::ElementsAreArray(expected))
        << "state " << static_cast<int>(state);
  }
  TokenListQuery all;
  all.user_id = user.id;
  all.limit = 100;
  EXPECT_EQ(List(all).size(), tokens.size());
}

TEST_F(MysqlTokenLifecycleTest, NameContainsIsALiteralSubstring) {
  const User user = CreateUser("zoe");
  const std::vector<std::string> names = {
      "50% off",     "50_ off",
      "500 off",     "a\\b",
      "Deploy prod", "deploy staging",
      "caf\xC3\xA9", "rocket \xF0\x9F\x9A\x80"};
  for (size_t i = 0; i < names.size(); ++i) {
    TokenRecord token =
        MakeToken(user.id, absl::StrCat("pid", i), clock_.Now());
    token.name = names[i];
    Insert(token);
  }
  auto names_matching = [&](const std::string& part) {
    TokenListQuery query;
    query.user_id = user.id;
    query.limit = 100;
    query.name_contains = part;
    std::vector<std::string> found;
    for (const TokenRecord& token : List(query)) found.push_back(token.name);
    return found;
  };
  EXPECT_THAT(names_matching("%"), ElementsAre("50% off"));
  EXPECT_THAT(names_matching("_"), ElementsAre("50_ off"));
  EXPECT_THAT(names_matching("50%"), ElementsAre("50% off"));
  EXPECT_THAT(names_matching("0_"), ElementsAre("50_ off"));
  EXPECT_THAT(names_matching("\\"), ElementsAre("a\\b"));
  EXPECT_THAT(names_matching("deploy"), ElementsAre("deploy staging"));
  EXPECT_THAT(names_matching("Deploy"), ElementsAre("Deploy prod"));
  EXPECT_THAT(names_matching("\xC3\xA9"), ElementsAre("caf\xC3\xA9"));
  EXPECT_THAT(names_matching("CAF\xC3\x89"), ElementsAre());
  EXPECT_THAT(names_matching("\xF0\x9F\x9A\x80"),
              ElementsAre("rocket \xF0\x9F\x9A\x80"));
  EXPECT_THAT(names_matching("off"),
              ElementsAre("500 off", "50_ off", "50% off"));
  EXPECT_THAT(names_matching("zzz"), ElementsAre());
  EXPECT_EQ(names_matching("").size(), names.size());

  // With paging and a state.
  ASSERT_TRUE(store_->RevokeToken("pid1", clock_.Now()).ok());
  TokenListQuery query;
  query.user_id = user.id;
  query.limit = 1;
  query.name_contains = "off";
  query.state = TokenState::kActive;
  query.at = Usable();
  std::vector<TokenRecord> page = List(query);
  EXPECT_THAT(PublicIds(page), ElementsAre("pid2"));
  query.before_row = page.back().row_id;
  EXPECT_THAT(PublicIds(List(query)), ElementsAre("pid0"));

  query.name_contains = "\xFF";
  EXPECT_CODE(store_->ListTokens(query).status(), kInvalidArgument);
}

TEST_F(MysqlTokenLifecycleTest, ExpireBeforeIsInclusive) {
  const User user = CreateUser("amy");
  const absl::Time now = clock_.Now();
  auto add = [&](const std::string& id, std::optional<absl::Time> expire) {
    TokenRecord token = MakeToken(user.id, id, now);
    token.expire_time = expire;
    Insert(token);
  };
  add("past", now - absl::Hours(1));
  add("in1h", now + absl::Hours(1));
  add("in2h", now + absl::Hours(2));
  add("in3h", now + absl::Hours(3));
  add("never", std::nullopt);

  TokenListQuery query;
  query.user_id = user.id;
  query.limit = 100;
  query.expire_before = now + absl::Hours(2);
  EXPECT_THAT(PublicIds(List(query)), ElementsAre("in2h", "in1h", "past"));
  query.state = TokenState::kActive;
  query.at = Usable();
  EXPECT_THAT(PublicIds(List(query)), ElementsAre("in2h", "in1h"));
}

// --- Audit log ---

TEST_F(MysqlTokenLifecycleTest, AuditEventsRoundTripAndFilters) {
  const absl::Time now = clock_.Now();
  const std::vector<AuditEvent> appended = {
      {0, now, "token.create", 1, 1, "pid1", "session", "ipv4:10.0.0.1:1",
       "fields=name"},
      {0, now + absl::Nanoseconds(1500), "login.failure", 0, 0,
       "alice\xF0\x9F\x98\x80", "basic", "ipv6:[::1]:2", ""},
      {0, now, "token.revoke", 2, 1, "pid1", "basic", "", ""},
      {0, now, "token.create", 2, 2, "pid2", "access_token", "", ""},
      {0, now, "token.revoke", 3, 3, "pid3", "", "", ""},
  };
  for (const AuditEvent& event : appended) {
    ASSERT_OK(store_->AppendAuditEvent(event));
  }

  AuditQuery query;
  query.limit = 10;
  const std::vector<AuditEvent> all = Audit(query);
  ASSERT_EQ(all.size(), appended.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const AuditEvent& read = all[i];
    const AuditEvent& expected = appended[appended.size() - 1 - i];
    if (i > 0) {
      EXPECT_LT(read.id, all[i - 1].id);
    }
    EXPECT_EQ(read.time, absl::FromUnixMicros(absl::ToUnixMicros(
                             expected.time)));  // Truncated to the us.
    EXPECT_EQ(read.type, expected.type);
    EXPECT_EQ(read.actor_user_id, expected.actor_user_id);
    EXPECT_EQ(read.subject_user_id, expected.subject_user_id);
    EXPECT_EQ(read.object_id, expected.object_id);
    EXPECT_EQ(read.credential_kind, expected.credential_kind);
    EXPECT_EQ(read.peer, expected.peer);
    EXPECT_EQ(read.details, expected.details);
  }
  auto ids = [](const std::vector<AuditEvent>& events) {
    std::vector<int64_t> out;
    for (const AuditEvent& event : events) out.push_back(event.id);
    return out;
  };
  // all[] is newest first: appended[4] is all[0].
  query.user_id = 1;  // Actor or subject.
  EXPECT_THAT(ids(Audit(query)), ElementsAre(all[2].id, all[4].id));
  query.user_id = 2;
  EXPECT_THAT(ids(Audit(query)), ElementsAre(all[1].id, all[2].id));
  query.user_id.reset();
  query.type = "token.create";
  EXPECT_THAT(ids(Audit(query)), ElementsAre(all[1].id, all[4].id));
  query.user_id = 2;
  EXPECT_THAT(ids(Audit(query)), ElementsAre(all[1].id));
  query.user_id.reset();
  query.type = "TOKEN.CREATE";  // Exact.
  EXPECT_TRUE(Audit(query).empty());
  query.type = "t\xC3\xB6ken";
  EXPECT_TRUE(Audit(query).empty());
  query.type.reset();
  query.before_id = all[1].id;
  query.limit = 2;
  EXPECT_THAT(ids(Audit(query)), ElementsAre(all[2].id, all[3].id));
  query.limit = 0;
  EXPECT_CODE(store_->ListAuditEvents(query).status(), kInvalidArgument);
}

TEST_F(MysqlTokenLifecycleTest, AuditEventsAreFittedToTheirColumns) {
  AuditEvent event;
  event.time = clock_.Now();
  event.type = "token.update";
  event.object_id = std::string(127, 'o') + "\xC3\xA9";  // Ends at byte 129.
  event.peer = std::string(200, 'p');
  event.details = std::string(1022, 'd') + "\xF0\x9F\x98\x80";  // 1026 bytes.
  ASSERT_OK(store_->AppendAuditEvent(event));
  event.object_id = "ab\xFF\xC3z";
  event.peer = "ok";
  event.details = "line\nbreak";
  ASSERT_OK(store_->AppendAuditEvent(event));

  AuditQuery query;
  const std::vector<AuditEvent> events = Audit(query);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].object_id, std::string(127, 'o'));
  EXPECT_EQ(events[1].peer, std::string(128, 'p'));
  EXPECT_EQ(events[1].details, std::string(1022, 'd'));
  EXPECT_EQ(events[0].object_id, "ab??z");
  EXPECT_EQ(events[0].details, "line\nbreak");

  // Types and credential kinds are fixed names: a bad one is a bug.
  event.type = "t\xC3\xB6ken";
  EXPECT_CODE(store_->AppendAuditEvent(event), kInvalidArgument);
  event.type = std::string(65, 't');
  EXPECT_CODE(store_->AppendAuditEvent(event), kInvalidArgument);
  event.type = "token.update";
  event.credential_kind = std::string(17, 'k');
  EXPECT_CODE(store_->AppendAuditEvent(event), kInvalidArgument);
  EXPECT_EQ(Audit(query).size(), 2u);
}

// --- Migration 3: rotation, peers, idempotency keys, audit log ---

// Whether the schema holds what migration 3 adds; empty if it does.
std::string MissingFromMigrationThree(const MysqlOptions& options) {
  absl::StatusOr<TestRows> rows = QueryForTest(
      options,
      "SELECT (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
      "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'access_tokens' AND "
      "COLUMN_NAME IN ('family_id', 'rotated_to', 'last_used_peers')) + "
      "(SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS "
      "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'access_tokens' AND "
      "INDEX_NAME IN ('access_tokens_family', 'access_tokens_revoke_time', "
      "'access_tokens_expire_time')) + "
      "(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
      "DATABASE() AND TABLE_NAME IN ('idempotency_keys', 'audit_events'))");
  if (!rows.ok()) return rows.status().ToString();
  if ((*rows)[0][0] != "8") {
    return absl::StrCat("found ", (*rows)[0][0].value_or("NULL"), " of 8");
  }
  return "";
}

TEST_F(MysqlStoreTest, MigrationThreeIsAppliedOnceAndIdempotent) {
  EXPECT_EQ(MissingFromMigrationThree(db_.options()), "");
  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationThree(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
}

TEST_F(MysqlStoreTest, MigrationThreeUpgradesAVersionTwoDatabase) {
  RevertToVersionTwo(db_.options());
  ASSERT_FALSE(MissingFromMigrationThree(db_.options()).empty());
  const User user = CreateUser("existing");
  // Tokens as the version 2 store wrote them.
  for (const char* id : {"oldpid1", "oldpid2"}) {
    ASSERT_OK(ExecuteForTest(
        db_.options(),
        absl::StrCat("INSERT INTO access_tokens (public_id, user_id, name, "
                     "value_hash, hint, access, scopes, create_time_us, "
                     "update_time_us) VALUES ('",
                     id, "', ", user.id,
                     ", 'old', REPEAT('a', 64), 'hint', 2, "
                     "'', ",
                     absl::ToUnixMicros(clock_.Now()), ", ",
                     absl::ToUnixMicros(clock_.Now()), ")")));
  }

  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationThree(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));

  // No family id stored: each is its own family.
  absl::StatusOr<TestRows> raw = QueryForTest(
      db_.options(), "SELECT family_id, last_used_peers FROM access_tokens");
  ASSERT_TRUE(raw.ok()) << raw.status();
  for (const auto& row : *raw) {
    EXPECT_EQ(row[0], std::nullopt);
    EXPECT_EQ(row[1], "");
  }
  absl::StatusOr<TokenRecord> old = store_->GetToken("oldpid1");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->family_id, "oldpid1");
  EXPECT_EQ(old->rotated_to, std::nullopt);
  EXPECT_TRUE(old->last_used_peers.empty());

  absl::StatusOr<RotateTokenResult> rotated =
      store_->RotateToken("oldpid1", MakeToken(user.id, "newpid", clock_.Now()),
                          clock_.Now(), nullptr);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->old_token.family_id, "oldpid1");
  EXPECT_EQ(rotated->successor.family_id, "oldpid1");
  absl::StatusOr<int> revoked =
      store_->RevokeTokenFamily("oldpid1", clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 1);  // newpid; oldpid1 is revoked already.
  revoked = store_->RevokeTokenFamily("oldpid2", clock_.Now());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 1);  // Its family id is still NULL.
}

TEST_F(MysqlStoreTest, MigrationThreeIsRedoneAfterACrashBeforeItsRecord) {
  // Crashed after every statement, before the record.
  ASSERT_OK(ExecuteForTest(db_.options(),
                           "DELETE FROM schema_migrations WHERE version = 3"));
  ASSERT_OK(store_->Migrate());
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));

  // Crashed after the ALTER only.
  ASSERT_OK(ExecuteForTest(db_.options(), "DROP TABLE idempotency_keys"));
  ASSERT_OK(ExecuteForTest(db_.options(), "DROP TABLE audit_events"));
  ASSERT_OK(ExecuteForTest(db_.options(),
                           "DELETE FROM schema_migrations WHERE version = 3"));
  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationThree(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
}

// --- Migration 4: the written owner lock ---

// The user's token_write_count, or an error text.
std::string TokenWriteCount(const MysqlOptions& options, int64_t user_id) {
  absl::StatusOr<TestRows> rows = QueryForTest(
      options,
      absl::StrCat("SELECT token_write_count FROM users WHERE id = ", user_id));
  if (!rows.ok()) return rows.status().ToString();
  if (rows->size() != 1) return "no such user";
  return (*rows)[0][0].value_or("NULL");
}

// Inserting and rotating write the owner's row (the lock a multi-primary
// cluster certifies); a refused insert writes nothing that lasts.
TEST_F(MysqlStoreTest, TokenInsertsWriteTheOwnerRow) {
  const User user = CreateUser("writer");
  const User other = CreateUser("bystander");
  EXPECT_EQ(TokenWriteCount(db_.options(), user.id), "0");
  ASSERT_TRUE(store_
                  ->InsertToken(MakeToken(user.id, "wpid1", clock_.Now()), 2,
                                Usable(), nullptr)
                  .ok());
  ASSERT_TRUE(store_
                  ->InsertToken(MakeToken(user.id, "wpid2", clock_.Now()), 2,
                                Usable(), nullptr)
                  .ok());
  EXPECT_EQ(TokenWriteCount(db_.options(), user.id), "2");
  // Over the limit: rolled back, the count with it.
  EXPECT_CODE(store_
                  ->InsertToken(MakeToken(user.id, "wpid3", clock_.Now()), 2,
                                Usable(), nullptr)
                  .status(),
              kResourceExhausted);
  EXPECT_EQ(TokenWriteCount(db_.options(), user.id), "2");
  ASSERT_TRUE(store_
                  ->RotateToken("wpid1",
                                MakeToken(user.id, "wpid4", clock_.Now()),
                                clock_.Now(), nullptr)
                  .ok());
  EXPECT_EQ(TokenWriteCount(db_.options(), user.id), "3");
  EXPECT_EQ(TokenWriteCount(db_.options(), other.id), "0");
}

TEST_F(MysqlStoreTest, MigrationFourUpgradesAVersionThreeDatabase) {
  RevertToVersionThree(db_.options());
  const User user = CreateUser("existing");
  EXPECT_NE(TokenWriteCount(db_.options(), user.id), "0");  // No column.
  ASSERT_OK(store_->Migrate());
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
  EXPECT_EQ(TokenWriteCount(db_.options(), user.id), "0");
  ASSERT_TRUE(store_
                  ->InsertToken(MakeToken(user.id, "m4pid", clock_.Now()), 0,
                                Usable(), nullptr)
                  .ok());
  EXPECT_EQ(TokenWriteCount(db_.options(), user.id), "1");
  // Redone after a crash before its record: the column is kept.
  ASSERT_OK(ExecuteForTest(db_.options(),
                           "DELETE FROM schema_migrations WHERE version = 4"));
  ASSERT_OK(store_->Migrate());
  EXPECT_THAT(RecordCounts(db_.options()),
              ElementsAre("1x1", "2x1", "3x1", "4x1"));
  EXPECT_EQ(TokenWriteCount(db_.options(), user.id), "1");
}

}  // namespace
}  // namespace tokenauth
