// EventThreads: every task on a thread of its own, never queued behind another; finished threads reused; idle
// ones gone after the timeout. No sleeps decide anything: waits are on notifications or on polled state with a
// generous deadline.
#include "renderer/event_threads.h"

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(30);

template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + kGenerous;
  while (!condition()) {
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(EventThreadsTest, RunsEveryTaskOffTheCallersThread) {
  std::shared_ptr<EventThreads> threads = EventThreads::Create();
  absl::Mutex mu;
  int ran = 0;
  bool on_caller = false;
  const std::thread::id caller = std::this_thread::get_id();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(threads->Run([&] {
      absl::MutexLock lock(&mu);
      ++ran;
      on_caller = on_caller || std::this_thread::get_id() == caller;
    }));
  }
  absl::MutexLock lock(&mu);
  auto all_ran = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return ran == 20; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_ran), kGenerous));
  EXPECT_FALSE(on_caller);
}

TEST(EventThreadsTest, ATaskNeverWaitsForABlockedOne) {
  std::shared_ptr<EventThreads> threads = EventThreads::Create();
  absl::Notification release, first_started, second_ran;
  ASSERT_TRUE(threads->Run([&] {
    first_started.Notify();
    release.WaitForNotification();
  }));
  ASSERT_TRUE(first_started.WaitForNotificationWithTimeout(kGenerous));
  ASSERT_TRUE(threads->Run([&] { second_ran.Notify(); }));
  EXPECT_TRUE(second_ran.WaitForNotificationWithTimeout(kGenerous));
  release.Notify();
  // The second thread is idle now; a third task blocked behind nothing either.
  absl::Notification third_ran;
  ASSERT_TRUE(threads->Run([&] { third_ran.Notify(); }));
  EXPECT_TRUE(third_ran.WaitForNotificationWithTimeout(kGenerous));
}

TEST(EventThreadsTest, AFinishedThreadTakesTheNextTask) {
  std::shared_ptr<EventThreads> threads = EventThreads::Create();
  std::thread::id first, second;
  absl::Notification first_done, second_done;
  ASSERT_TRUE(threads->Run([&] {
    first = std::this_thread::get_id();
    first_done.Notify();
  }));
  ASSERT_TRUE(first_done.WaitForNotificationWithTimeout(kGenerous));
  ASSERT_TRUE(Eventually([&] { return threads->idle_threads() == 1; }));
  ASSERT_TRUE(threads->Run([&] {
    second = std::this_thread::get_id();
    second_done.Notify();
  }));
  ASSERT_TRUE(second_done.WaitForNotificationWithTimeout(kGenerous));
  EXPECT_EQ(first, second);
}

TEST(EventThreadsTest, WhatATaskCapturedGoesWhenItReturns) {
  std::shared_ptr<EventThreads> threads = EventThreads::Create();
  auto captured = std::make_shared<int>(7);
  std::weak_ptr<int> watch = captured;
  ASSERT_TRUE(threads->Run([captured = std::move(captured)] {}));
  // Destroyed by its thread right after the task, not when the thread takes another task or exits.
  EXPECT_TRUE(Eventually([&] { return watch.expired(); }));
  EXPECT_TRUE(Eventually([&] { return threads->idle_threads() == 1; }));
}

TEST(EventThreadsTest, IdleThreadsExitAfterTheTimeout) {
  std::shared_ptr<EventThreads> threads = EventThreads::Create(absl::Milliseconds(20));
  std::weak_ptr<EventThreads> pool = threads;
  absl::Notification ran;
  ASSERT_TRUE(threads->Run([&] { ran.Notify(); }));
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kGenerous));
  // The thread holds the pool while it lives: once the caller lets go, the pool goes with the thread's exit.
  threads.reset();
  EXPECT_TRUE(Eventually([&] { return pool.expired(); }));
}

}  // namespace
}  // namespace bgsync
