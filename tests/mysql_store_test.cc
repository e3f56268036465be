// Tests of storage/ against a real MariaDB (see tests/test_db.h): the
// MysqlStore contract (users, tokens, failed-login lockout, sessions), its
// concurrency guarantees, migrations, the connection pool and the error
// mapping.
#include "storage/mysql_store.h"

#include <cppconn/exception.h>

#include <atomic>
#include <chrono>
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
    absl::StatusOr<TokenRecord> stored =
        store_->InsertToken(token, max_usable, Usable());
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? *stored : TokenRecord{};
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
  ExpectSameToken(stored, token);

  absl::StatusOr<TokenRecord> read = store_->GetToken("pid0001");
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameToken(*read, token);

  EXPECT_CODE(store_->GetToken("nope").status(), kNotFound);
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
                        Usable())
          .status(),
      kNotFound);

  Insert(MakeToken(user.id, "pid0001", clock_.Now()));
  TokenRecord duplicate = MakeToken(user.id, "pid0001", clock_.Now());
  duplicate.value_hash = std::string(64, 'b');
  absl::Status status = store_->InsertToken(duplicate, 0, Usable()).status();
  EXPECT_CODE(status, kAlreadyExists);
  EXPECT_THAT(status.message(), Not(HasSubstr("pid0001")));
  EXPECT_THAT(status.message(), Not(HasSubstr("bbbb")));

  TokenRecord spaced = MakeToken(user.id, "pid0002", clock_.Now());
  spaced.permissions.scopes = {"tasks read"};
  EXPECT_CODE(store_->InsertToken(spaced, 0, Usable()).status(),
              kInvalidArgument);

  TokenRecord long_name = MakeToken(user.id, "pid0003", clock_.Now());
  long_name.name = std::string(300, 'n');
  EXPECT_CODE(store_->InsertToken(long_name, 0, Usable()).status(),
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

  // usable_only hides revoked tokens.
  ASSERT_TRUE(store_->RevokeToken("pid0004", clock_.Now()).ok());
  query.before_row.reset();
  query.limit = 10;
  query.usable_only = Usable();
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
      results[i] = store_->InsertToken(token, kLimit, Usable()).status();
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
      store_->InsertToken(MakeToken(user.id, "third", now), 2, Usable())
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
  EXPECT_CODE(
      (*store)
          ->InsertToken(MakeToken(1, "pid", absl::UnixEpoch()), 10, UsableAt{})
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

  kill_store_connections();
  // Writes do not retry (they may have been applied), but the next one works.
  absl::Status first =
      store_->CreateUser({"olivia", "$h", false}, clock_.Now()).status();
  EXPECT_CODE(first, kUnavailable);
  EXPECT_TRUE(store_->CreateUser({"olivia", "$h", false}, clock_.Now()).ok());
}

// --- Connection pool ---

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

// Turns a fully migrated database back into one at version 1.
void RevertToVersionOne(const MysqlOptions& options) {
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
  EXPECT_THAT(RecordCounts(db_.options()), ElementsAre("1x1", "2x1"));
}

TEST_F(MysqlStoreTest, MigrationTwoUpgradesAVersionOneDatabase) {
  RevertToVersionOne(db_.options());
  const User user = CreateUser("existing");
  ASSERT_FALSE(MissingFromMigrationTwo(db_.options()).empty());

  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationTwo(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()), ElementsAre("1x1", "2x1"));
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
  EXPECT_THAT(RecordCounts(db_.options()), ElementsAre("1x1", "2x1"));

  // Crashed after the ALTER only.
  ASSERT_OK(ExecuteForTest(db_.options(), "DROP TABLE sessions"));
  ASSERT_OK(ExecuteForTest(db_.options(),
                           "DELETE FROM schema_migrations WHERE version = 2"));
  ASSERT_OK(store_->Migrate());
  EXPECT_EQ(MissingFromMigrationTwo(db_.options()), "");
  EXPECT_THAT(RecordCounts(db_.options()), ElementsAre("1x1", "2x1"));
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
  EXPECT_THAT(RecordCounts(db.options()), ElementsAre("1x1", "2x1"));
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

}  // namespace
}  // namespace tokenauth
