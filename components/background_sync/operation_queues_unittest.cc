// OperationQueues: one key's operations run one at a time in posting order, whether they finish synchronously or
// later on another thread; long synchronous chains do not recurse; keys are independent; WaitUntilIdle waits for
// the last asynchronous finish.
#include "components/background_sync/operation_queues.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

using Finish = OperationQueues::Finish;

constexpr absl::Duration kDeadline = absl::Seconds(30);

// Runs tasks on its own thread, in order. The destructor runs what is queued, then joins.
class Worker {
 public:
  Worker() : thread_([this] { Run(); }) {}
  ~Worker() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  void Post(absl::AnyInvocable<void()> task) {
    absl::MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
  }

 private:
  void Run() {
    while (true) {
      absl::AnyInvocable<void()> task;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !tasks_.empty(); };
        mu_.Await(absl::Condition(&ready));
        if (tasks_.empty())
          return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<absl::AnyInvocable<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Records the order operations start in and catches two running at once.
class Recorder {
 public:
  void Start(int id) {
    absl::MutexLock lock(&mu_);
    if (running_ > 0)
      ++overlaps_;
    ++running_;
    order_.push_back(id);
  }
  void End() {
    absl::MutexLock lock(&mu_);
    --running_;
    ++finished_;
  }
  bool WaitForFinished(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kDeadline);
  }
  std::vector<int> order() {
    absl::MutexLock lock(&mu_);
    return order_;
  }
  int overlaps() {
    absl::MutexLock lock(&mu_);
    return overlaps_;
  }
  int finished() {
    absl::MutexLock lock(&mu_);
    return finished_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int> order_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int overlaps_ ABSL_GUARDED_BY(mu_) = 0;
  int finished_ ABSL_GUARDED_BY(mu_) = 0;
};

uintptr_t StackPosition() {
  return reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
}

TEST(OperationQueuesTest, OneKeyRunsInPostingOrderWithAsynchronousFinishes) {
  Recorder recorder;
  OperationQueues queues;
  Worker worker;  // declared last: its thread is joined before what its tasks touch is destroyed
  constexpr int kOps = 300;
  for (int i = 0; i < kOps; ++i) {
    queues.Post(7, [&recorder, &worker, i](Finish finish) {
      recorder.Start(i);
      auto end = [&recorder, finish = std::move(finish)]() mutable {
        recorder.End();
        finish();
      };
      if (i % 3 == 0) {
        end();  // synchronously
      } else {
        worker.Post(std::move(end));  // later, on another thread
      }
    });
  }
  queues.WaitUntilIdle();
  EXPECT_EQ(recorder.finished(), kOps);
  EXPECT_EQ(recorder.overlaps(), 0);
  std::vector<int> expected(kOps);
  for (int i = 0; i < kOps; ++i)
    expected[i] = i;
  EXPECT_EQ(recorder.order(), expected);
}

TEST(OperationQueuesTest, PostsFromManyThreadsKeepEachPostersOrder) {
  Recorder recorder;
  OperationQueues queues;
  Worker worker;
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 200;
  absl::Notification start;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      start.WaitForNotification();
      for (int i = 0; i < kOpsPerThread; ++i) {
        const int id = t * kOpsPerThread + i;
        queues.Post(1, [&recorder, &worker, id](Finish finish) {
          recorder.Start(id);
          auto end = [&recorder, finish = std::move(finish)]() mutable {
            recorder.End();
            finish();
          };
          if (id % 2) {
            end();
          } else {
            worker.Post(std::move(end));
          }
        });
      }
    });
  }
  start.Notify();
  for (std::thread& poster : posters)
    poster.join();
  ASSERT_TRUE(recorder.WaitForFinished(kThreads * kOpsPerThread));
  queues.WaitUntilIdle();
  EXPECT_EQ(recorder.overlaps(), 0);
  std::vector<int> order = recorder.order();
  ASSERT_EQ(order.size(), static_cast<size_t>(kThreads * kOpsPerThread));
  std::vector<int> last(kThreads, -1);
  for (int id : order) {
    const int t = id / kOpsPerThread;
    EXPECT_GT(id, last[t]) << "thread " << t << "'s operations ran out of order";
    last[t] = id;
  }
}

TEST(OperationQueuesTest, LongQueueOfSynchronousOperationsRunsWithoutRecursion) {
  OperationQueues queues;
  constexpr int kOps = 10000;
  Finish first_finish;
  queues.Post(1, [&](Finish finish) { first_finish = std::move(finish); });

  std::vector<uintptr_t> positions;
  positions.reserve(kOps);
  for (int i = 0; i < kOps; ++i) {
    queues.Post(1, [&positions](Finish finish) {
      positions.push_back(StackPosition());
      finish();
    });
  }
  EXPECT_TRUE(positions.empty()) << "queued behind the first operation";

  // Finishing the first runs all 10,000 on this thread: in a loop, not one frame deeper each.
  first_finish();
  ASSERT_EQ(positions.size(), static_cast<size_t>(kOps));
  const auto [low, high] = std::minmax_element(positions.begin(), positions.end());
  EXPECT_LT(*high - *low, 16u * 1024) << "the stack grew by " << (*high - *low) << " bytes over " << kOps
                                      << " operations";
  queues.WaitUntilIdle();
}

TEST(OperationQueuesTest, ChainOfOperationsPostingTheirSuccessorRunsWithoutRecursion) {
  OperationQueues queues;
  constexpr int kOps = 10000;
  std::vector<uintptr_t> positions;
  positions.reserve(kOps);
  // Each operation posts the next one under the same key, then finishes synchronously.
  int remaining = kOps;
  std::function<void(Finish)> op = [&](Finish finish) {
    positions.push_back(StackPosition());
    if (--remaining > 0)
      queues.Post(5, op);
    finish();
  };
  queues.Post(5, op);
  ASSERT_EQ(positions.size(), static_cast<size_t>(kOps));
  const auto [low, high] = std::minmax_element(positions.begin(), positions.end());
  EXPECT_LT(*high - *low, 16u * 1024) << "the stack grew by " << (*high - *low) << " bytes over " << kOps
                                      << " operations";
  queues.WaitUntilIdle();
}

TEST(OperationQueuesTest, OperationPostedFromInsideAnotherRunsAfterItFinishes) {
  OperationQueues queues;
  std::vector<std::string> log;
  queues.Post(1, [&](Finish finish) {
    log.push_back("outer start");
    queues.Post(1, [&](Finish inner_finish) {
      log.push_back("inner");
      inner_finish();
    });
    log.push_back("outer end");
    finish();
  });
  EXPECT_EQ(log, (std::vector<std::string>{"outer start", "outer end", "inner"}));
  queues.WaitUntilIdle();
}

TEST(OperationQueuesTest, DifferentKeysDoNotWaitForEachOther) {
  Recorder async_recorder;
  OperationQueues queues;
  Worker worker;
  Finish finish_a;
  bool a_second_ran = false;
  queues.Post(1, [&](Finish finish) { finish_a = std::move(finish); });  // never finishes until the end
  queues.Post(1, [&](Finish finish) {
    a_second_ran = true;
    finish();
  });

  int b_ran = 0;
  for (int i = 0; i < 100; ++i) {
    queues.Post(2, [&](Finish finish) {
      ++b_ran;
      finish();
    });
  }
  EXPECT_EQ(b_ran, 100) << "key 2 ran synchronously while key 1 is busy";

  // A key whose operations finish on another thread makes progress too.
  constexpr int kAsync = 50;
  for (int i = 0; i < kAsync; ++i) {
    queues.Post(3, [&async_recorder, &worker, i](Finish finish) {
      async_recorder.Start(i);
      worker.Post([&async_recorder, finish = std::move(finish)]() mutable {
        async_recorder.End();
        finish();
      });
    });
  }
  ASSERT_TRUE(async_recorder.WaitForFinished(kAsync));
  EXPECT_EQ(async_recorder.overlaps(), 0);

  // Negative and extreme keys are just keys.
  int extremes = 0;
  for (int64_t key : {int64_t{-1}, int64_t{0}, INT64_MIN, INT64_MAX}) {
    queues.Post(key, [&](Finish finish) {
      ++extremes;
      finish();
    });
  }
  EXPECT_EQ(extremes, 4);

  EXPECT_FALSE(a_second_ran);
  finish_a();
  EXPECT_TRUE(a_second_ran);
  queues.WaitUntilIdle();
}

TEST(OperationQueuesTest, WaitUntilIdleReturnsAfterTheLastAsynchronousFinish) {
  Recorder recorder;
  OperationQueues queues;
  constexpr int kOps = 100;
  std::atomic<int> finished{0};
  std::function<void(int)> post;
  Worker worker;
  // Each operation finishes on the worker thread and, before finishing, posts the next one: the queue is never
  // momentarily empty until the last one has finished.
  post = [&](int i) {
    queues.Post(9, [&, i](Finish finish) {
      recorder.Start(i);
      worker.Post([&, i, finish = std::move(finish)]() mutable {
        if (i + 1 < kOps)
          post(i + 1);
        recorder.End();
        ++finished;
        finish();
      });
    });
  };
  post(0);
  queues.WaitUntilIdle();
  EXPECT_EQ(finished.load(), kOps);
  EXPECT_EQ(recorder.overlaps(), 0);
  EXPECT_EQ(recorder.order().size(), static_cast<size_t>(kOps));
}

TEST(OperationQueuesTest, WaitUntilIdleWaitsForAnOperationFinishedFromAnotherThread) {
  OperationQueues queues;
  Finish held;
  queues.Post(4, [&](Finish finish) { held = std::move(finish); });
  std::atomic<bool> finished{false};
  absl::Notification waiting_started;
  std::thread finisher([&] {
    waiting_started.WaitForNotification();
    finished = true;
    held();
  });
  waiting_started.Notify();
  queues.WaitUntilIdle();
  EXPECT_TRUE(finished.load());
  finisher.join();

  // Idle queues: returns at once.
  queues.WaitUntilIdle();
}

}  // namespace
}  // namespace bgsync
