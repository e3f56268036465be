// BlockingPool: tasks run off the caller's thread, the queue bound refuses
// work instead of growing, and destruction finishes what was queued.
#include "server/blocking_pool.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace tokenauth {
namespace {

TEST(BlockingPoolTest, RunsTasksOnItsOwnThreads) {
  BlockingPool pool(/*threads=*/2, /*max_queued=*/10);
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  absl::Notification done;
  ASSERT_TRUE(pool.Run([&] {
    ran_on = std::this_thread::get_id();
    done.Notify();
  }));
  done.WaitForNotification();
  EXPECT_NE(ran_on, caller);
}

TEST(BlockingPoolTest, RefusesTasksBeyondTheQueueBound) {
  BlockingPool pool(/*threads=*/1, /*max_queued=*/2);
  absl::Notification started, release;
  ASSERT_TRUE(pool.Run([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // The one thread is busy from here on.
  std::atomic<int> ran{0};
  EXPECT_TRUE(pool.Run([&] { ++ran; }));
  EXPECT_TRUE(pool.Run([&] { ++ran; }));
  EXPECT_FALSE(pool.Run([&] { ran += 100; }));  // Dropped, never run.
  release.Notify();
  // A refused task does not take a place: the queue drains and accepts again.
  absl::Notification drained;
  while (!pool.Run([&] { drained.Notify(); })) std::this_thread::yield();
  drained.WaitForNotification();
  EXPECT_EQ(ran.load(), 2);
}

// With no room to wait, a task runs only when a thread is free for it, and
// a thread is free again once its task is done.
TEST(BlockingPoolTest, WithoutWaitingRoomRunsOnlyOnFreeThreads) {
  BlockingPool pool(/*threads=*/2, /*max_queued=*/0);
  absl::Notification release;
  std::atomic<int> started{0};
  auto hold = [&] {
    ++started;
    release.WaitForNotification();
  };
  // Taken at once, even before the threads first wait for work.
  ASSERT_TRUE(pool.Run(hold));
  ASSERT_TRUE(pool.Run(hold));
  EXPECT_FALSE(pool.Run([] {}));  // Both threads taken.
  while (started.load() < 2) std::this_thread::yield();
  EXPECT_FALSE(pool.Run([] {}));
  release.Notify();
  absl::Notification ran;
  while (!pool.Run([&] { ran.Notify(); })) std::this_thread::yield();
  ran.WaitForNotification();
}

TEST(BlockingPoolTest, DestructionRunsWhatIsQueued) {
  std::atomic<int> ran{0};
  {
    BlockingPool pool(/*threads=*/1, /*max_queued=*/100);
    absl::Notification release;
    ASSERT_TRUE(pool.Run([&] { release.WaitForNotification(); }));
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Run([&] { ++ran; }));
    release.Notify();
  }  // Each task ends an RPC: none may be dropped at shutdown.
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace tokenauth
