// SystemClock: the real clock and its timer thread. No sleeps: the tests wait on notifications with generous
// deadlines, and hold the timer thread inside a "gate" task where an order must not depend on timing.
#include "components/background_sync/system_clock.h"

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(30);

// Thread-safe log of what ran, and when.
class RunLog {
 public:
  void Add(int id) {
    absl::MutexLock lock(&mu_);
    ids_.push_back(id);
    times_.push_back(absl::Now());
  }
  std::vector<int> ids() {
    absl::MutexLock lock(&mu_);
    return ids_;
  }
  std::vector<absl::Time> times() {
    absl::MutexLock lock(&mu_);
    return times_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int> ids_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> times_ ABSL_GUARDED_BY(mu_);
};

// Occupies the timer thread until opened, so that timers posted meanwhile are all due when it returns.
struct Gate {
  absl::Notification entered;
  absl::Notification open;
  void Close(SystemClock& clock) {
    clock.PostAt(absl::InfinitePast(), [this] {
      entered.Notify();
      open.WaitForNotification();
    });
    ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kDeadline));
  }
};

TEST(SystemClockTest, NowIsTheWallClock) {
  SystemClock clock;
  const absl::Time before = absl::Now();
  const absl::Time now = clock.Now();
  const absl::Time after = absl::Now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

TEST(SystemClockTest, TimersRunInDeadlineOrderAndNotEarly) {
  RunLog log;
  absl::Notification last;
  Gate gate;
  SystemClock clock;  // declared last: its thread stops before what the tasks touch is destroyed
  // Held while posting, so that a slow test thread cannot let the first-posted timer run before the others
  // exist.
  gate.Close(clock);
  const absl::Time now = clock.Now();
  const absl::Time d30 = now + absl::Milliseconds(30);
  const absl::Time d10 = now + absl::Milliseconds(10);
  const absl::Time d20 = now + absl::Milliseconds(20);
  clock.PostAt(d30, [&] {
    log.Add(30);
    last.Notify();
  });
  clock.PostAt(d10, [&] { log.Add(10); });
  clock.PostAt(d20, [&] { log.Add(20); });
  gate.open.Notify();
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_EQ(log.ids(), (std::vector<int>{10, 20, 30}));
  std::vector<absl::Time> times = log.times();
  ASSERT_EQ(times.size(), 3u);
  EXPECT_GE(times[0], d10);
  EXPECT_GE(times[1], d20);
  EXPECT_GE(times[2], d30);
}

TEST(SystemClockTest, DueTimersRunInDeadlineThenPostingOrder) {
  RunLog log;
  absl::Notification last;
  Gate gate;
  SystemClock clock;
  gate.Close(clock);
  // All due by the time the gate opens; posted out of deadline order, some with equal deadlines.
  const absl::Time base = clock.Now() - absl::Seconds(10);
  clock.PostAt(base + absl::Seconds(2), [&] { log.Add(4); });
  clock.PostAt(base + absl::Seconds(1), [&] { log.Add(1); });
  clock.PostAt(base + absl::Seconds(1), [&] { log.Add(2); });
  clock.PostAt(base + absl::Seconds(1), [&] { log.Add(3); });
  clock.PostAt(base + absl::Seconds(3), [&] {
    log.Add(5);
    last.Notify();
  });
  gate.open.Notify();
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_EQ(log.ids(), (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(SystemClockTest, CancelledTimerNeverRuns) {
  std::atomic<bool> cancelled_ran{false};
  absl::Notification later_ran;
  Gate gate;
  SystemClock clock;
  gate.Close(clock);
  // While the timer thread is held, post a timer that is due at once, cancel it, and post a later one.
  const TimerId cancelled = clock.PostAt(clock.Now() - absl::Seconds(1), [&] { cancelled_ran = true; });
  clock.Cancel(cancelled);
  clock.PostAt(clock.Now(), [&] { later_ran.Notify(); });
  gate.open.Notify();
  ASSERT_TRUE(later_ran.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_FALSE(cancelled_ran.load());
}

TEST(SystemClockTest, CancelOfUnknownOrFinishedTimersIsIgnored) {
  absl::Notification first_ran;
  absl::Notification second_ran;
  SystemClock clock;
  const TimerId first = clock.PostAt(clock.Now(), [&] { first_ran.Notify(); });
  ASSERT_TRUE(first_ran.WaitForNotificationWithTimeout(kDeadline));
  clock.Cancel(first);         // finished
  clock.Cancel(first + 1000);  // never existed
  clock.Cancel(0);
  clock.PostAt(clock.Now(), [&] { second_ran.Notify(); });
  EXPECT_TRUE(second_ran.WaitForNotificationWithTimeout(kDeadline));
}

TEST(SystemClockTest, TimerIdsAreNonZeroAndDistinct) {
  SystemClock clock;
  std::set<TimerId> ids;
  for (int i = 0; i < 100; ++i) {
    TimerId id = clock.PostAt(clock.Now() + absl::Hours(1), [] {});
    EXPECT_NE(id, 0u);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST(SystemClockTest, TimerPostedInThePastRunsPromptly) {
  std::atomic<bool> far_ran{false};
  absl::Notification ran;
  SystemClock clock;
  // The timer thread is asleep, waiting for a far deadline.
  clock.PostAt(clock.Now() + absl::Hours(1), [&] { far_ran = true; });
  const absl::Time posted = absl::Now();
  clock.PostAt(clock.Now() - absl::Hours(1), [&] { ran.Notify(); });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kDeadline));
  // The thread also wakes once a second on its own; a new timer must wake it at once, well before that tick.
  EXPECT_LT(absl::Now() - posted, absl::Milliseconds(900));
  EXPECT_FALSE(far_ran.load());
}

TEST(SystemClockTest, TimerTaskMayPostAndCancelTimers) {
  std::atomic<bool> cancelled_ran{false};
  absl::Notification second_ran;
  SystemClock clock;
  const TimerId victim = clock.PostAt(clock.Now() + absl::Milliseconds(50), [&] { cancelled_ran = true; });
  clock.PostAt(clock.Now(), [&] {
    // From inside a task: cancel a pending timer and post one that is due before it would have run.
    clock.Cancel(victim);
    clock.PostAt(clock.Now() + absl::Milliseconds(10),
                 [&] { clock.PostAt(clock.Now() + absl::Milliseconds(100), [&] { second_ran.Notify(); }); });
  });
  ASSERT_TRUE(second_ran.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_FALSE(cancelled_ran.load());
}

TEST(SystemClockTest, TimersMayBePostedFromManyThreads) {
  constexpr int kThreads = 4;
  constexpr int kTimersPerThread = 50;
  absl::Mutex mu;
  int ran = 0;
  SystemClock clock;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTimersPerThread; ++i) {
        clock.PostAt(clock.Now() + absl::Milliseconds((t * 7 + i) % 20), [&] {
          absl::MutexLock lock(&mu);
          ++ran;
        });
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  absl::MutexLock lock(&mu);
  auto all_ran = [&]() { return ran == kThreads * kTimersPerThread; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_ran), kDeadline)) << ran;
}

TEST(SystemClockTest, DestructionDropsTimersThatHaveNotRun) {
  std::atomic<bool> ran{false};
  {
    SystemClock clock;
    clock.PostAt(clock.Now() + absl::Hours(1), [&] { ran = true; });
  }
  EXPECT_FALSE(ran.load());
}

}  // namespace
}  // namespace bgsync
