// TokenReader against the real MariaDB: a lone call reads alone, callers who
// find every read busy are read together in one store call with each answer
// their own, and a waiter gives up at its call's deadline.
#include "core/token_reader.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/call_deadline.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/counting_store.h"
#include "tests/test_db.h"

namespace tokenauth {
namespace {

using ::testing::ElementsAre;

// The real store, with the next token reads held at a gate until it opens,
// and the number of ids each read asked for.
class GatedStore : public CountingStore {
 public:
  using CountingStore::CountingStore;

  // The next `n` reads wait for Open().
  void HoldNext(int n) {
    absl::MutexLock lock(&mu_);
    hold_ = n;
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // Waits (bounded, real clock) until `n` reads have reached the gate.
  bool AwaitArrivals(int n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (arrivals_ >= n) return true;
      }
      if (absl::Now() > give_up) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  std::vector<size_t> read_sizes() {
    absl::MutexLock lock(&mu_);
    return read_sizes_;
  }

  absl::StatusOr<std::pair<TokenRecord, User>> GetTokenAndOwner(
      absl::string_view id) override {
    Gate(1);
    return CountingStore::GetTokenAndOwner(id);
  }
  absl::StatusOr<std::vector<std::pair<TokenRecord, User>>> GetTokensAndOwners(
      absl::Span<const std::string> ids) override {
    Gate(ids.size());
    return CountingStore::GetTokensAndOwners(ids);
  }

 private:
  void Gate(size_t ids) {
    absl::MutexLock lock(&mu_);
    ++arrivals_;
    read_sizes_.push_back(ids);
    if (hold_ == 0) return;
    --hold_;
    mu_.Await(absl::Condition(&open_));
  }

  absl::Mutex mu_;
  int hold_ ABSL_GUARDED_BY(mu_) = 0;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int arrivals_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<size_t> read_sizes_ ABSL_GUARDED_BY(mu_);
};

class TokenReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    mysql_ = OpenMigratedStore(db_.options());
    ASSERT_NE(mysql_, nullptr);
    store_ = std::make_unique<GatedStore>(mysql_.get());
    const absl::Time now = absl::FromUnixSeconds(1700000000);
    for (const char* name : {"ann", "ben"}) {
      absl::StatusOr<User> user =
          mysql_->CreateUser({name, "$argon2id$hash", false}, now);
      ASSERT_TRUE(user.ok()) << user.status();
      users_.push_back(*user);
    }
    for (int i = 0; i < 8; ++i) {
      TokenRecord token;
      token.public_id = absl::StrCat("tok", i);
      token.user_id = users_[i % 2].id;
      token.name = token.public_id;
      token.value_hash = std::string(64, 'a');
      token.hint = "tka_...";
      token.permissions.access = Access::kReadOnly;
      token.create_time = now;
      token.update_time = now;
      ASSERT_TRUE(
          mysql_->InsertToken(token, 0, UsableAt{now, now}, nullptr).ok());
    }
  }

  // Waits (bounded, real clock) until `reader` has `n` callers waiting.
  static bool AwaitWaiting(const TokenReader& reader, size_t n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (reader.waiting() != n) {
      if (absl::Now() > give_up) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

  ScopedTestDatabase db_;
  std::unique_ptr<MysqlStore> mysql_;
  std::unique_ptr<GatedStore> store_;
  std::vector<User> users_;
};

TEST_F(TokenReaderTest, ALoneCallReadsAlone) {
  TokenReader reader(store_.get(), 2, absl::Seconds(30));
  absl::StatusOr<std::pair<TokenRecord, User>> found = reader.Read("tok3");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->first.public_id, "tok3");
  EXPECT_EQ(found->second.username, "ben");
  EXPECT_EQ(reader.Read("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store_->read_sizes(), ElementsAre(1, 1));
  EXPECT_EQ(reader.waiting(), 0u);
}

TEST_F(TokenReaderTest, CallersWhoFindEveryReadBusyAreReadTogether) {
  TokenReader reader(store_.get(), 1, absl::Seconds(30));
  store_->HoldNext(1);
  std::thread first([&] { EXPECT_TRUE(reader.Read("tok0").ok()); });
  ASSERT_TRUE(store_->AwaitArrivals(1));  // The only read is busy.

  // Present, absent, repeated: each caller gets its own answer.
  const std::vector<std::string> ids = {"tok1", "tok2", "nope",     "tok1",
                                        "tok7", "tok0", "t\xC3\xA9"};
  std::vector<absl::StatusOr<std::pair<TokenRecord, User>>> results(
      ids.size(), absl::UnknownError("not run"));
  std::vector<std::thread> callers;
  for (size_t i = 0; i < ids.size(); ++i) {
    callers.emplace_back([&, i] { results[i] = reader.Read(ids[i]); });
  }
  ASSERT_TRUE(AwaitWaiting(reader, ids.size()));
  store_->Open();
  first.join();
  for (std::thread& t : callers) t.join();

  EXPECT_THAT(store_->read_sizes(), ElementsAre(1, ids.size()));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].rfind("tok", 0) != 0) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kNotFound) << i;
      continue;
    }
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->first.public_id, ids[i]);
    const int n = ids[i].back() - '0';
    EXPECT_EQ(results[i]->second.id, users_[n % 2].id) << i;
  }
  EXPECT_EQ(reader.waiting(), 0u);
}

TEST_F(TokenReaderTest, AWaiterGivesUpAtItsCallDeadline) {
  TokenReader reader(store_.get(), 1, absl::Seconds(30));
  store_->HoldNext(1);
  std::thread first([&] { EXPECT_TRUE(reader.Read("tok0").ok()); });
  ASSERT_TRUE(store_->AwaitArrivals(1));
  {
    ScopedCallDeadline deadline(absl::Now() + absl::Milliseconds(100));
    const absl::Time start = absl::Now();
    absl::Status status = reader.Read("tok1").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_THAT(status.message(), ::testing::HasSubstr("deadline"));
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  }
  EXPECT_EQ(reader.waiting(), 0u);  // It left the queue.
  store_->Open();
  first.join();
  EXPECT_TRUE(reader.Read("tok1").ok());
  EXPECT_THAT(store_->read_sizes(), ElementsAre(1, 1));
}

// The only read is stuck (held at the gate, as a dead connection waits out
// its I/O timeout): a caller who has waited the stall time reads anyway.
TEST_F(TokenReaderTest, AStalledReadDoesNotHoldUpTheOthers) {
  TokenReader reader(store_.get(), 1, absl::Milliseconds(20));
  store_->HoldNext(1);
  std::thread first([&] { EXPECT_TRUE(reader.Read("tok0").ok()); });
  ASSERT_TRUE(store_->AwaitArrivals(1));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::pair<TokenRecord, User>> found = reader.Read("tok1");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(19));
  EXPECT_TRUE(found.ok()) << found.status();
  if (found.ok()) {
    EXPECT_EQ(found->first.public_id, "tok1");
  }
  EXPECT_THAT(store_->read_sizes(), ElementsAre(1, 1));  // tok0 still held.
  store_->Open();
  first.join();
}

}  // namespace
}  // namespace tokenauth
