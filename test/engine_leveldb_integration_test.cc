// The engine on its real parts: LevelDB on disk, the system clock's timer thread, and callers on many threads.
// Waits are on events with generous deadlines; nothing sleeps.
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/system_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(60);

// Counts dispatches and notifies when the n-th arrives; never settles an event (so they time out).
class SilentDispatcher : public SyncEventDispatcher {
 public:
  explicit SilentDispatcher(int notify_at) : notify_at_(notify_at) {}
  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override {
    {
      absl::MutexLock lock(&mu_);
      kept_.push_back(std::move(done));  // never answered: the engine's deadline must settle the attempt
    }
    if (++count_ == notify_at_)
      reached_.Notify();
  }
  absl::Notification& reached() { return reached_; }

 private:
  const int notify_at_;
  std::atomic<int> count_{0};
  absl::Mutex mu_;
  std::vector<absl::AnyInvocable<void(SyncEventOutcome)>> kept_ ABSL_GUARDED_BY(mu_);
  absl::Notification reached_;
};

class EngineLevelDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-it-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start(SyncEventDispatcher* dispatcher, BackgroundSyncParameters parameters = {}) {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> storage = LevelDbStorageBackend::Open(dir_ + "/sync");
    ASSERT_TRUE(storage.ok()) << storage.status();
    backend_ = storage->get();
    BackgroundSyncEngine::Dependencies deps{&clock_,    &network_,  &permissions_,
                                            &registry_, dispatcher, *std::move(storage)};
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
        BackgroundSyncEngine::Create(std::move(deps), parameters);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  std::string dir_;
  SystemClock clock_;
  FakeNetworkState network_{false};
  DefaultPermissionController permissions_;
  FakeServiceWorkerRegistry registry_;
  LevelDbStorageBackend* backend_ = nullptr;  // owned by engine_
  std::unique_ptr<BackgroundSyncEngine> engine_;
};

TEST_F(EngineLevelDbTest, ConcurrentRegistersShareFsyncsAndSurviveRestart) {
  const Origin origin = *Origin::Parse("https://mail.example");
  constexpr int kServiceWorkers = 8;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  for (int sw = 1; sw <= kServiceWorkers; ++sw)
    registry_.Add(sw, origin);
  SilentDispatcher dispatcher(/*notify_at=*/1);
  Start(&dispatcher);

  absl::BlockingCounter answered(kThreads * kPerThread);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        BackgroundSyncEngine::RegisterRequest request;
        request.origin = origin;
        request.sw_registration_id = 1 + (t + i) % kServiceWorkers;
        request.tag = absl::StrCat("t", t, "-", i);
        engine_->Register(std::move(request), [&](absl::Status status) {
          if (!status.ok())
            ++failures;
          answered.DecrementCount();
        });
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  answered.Wait();
  EXPECT_EQ(failures.load(), 0);
  // Registers that arrive while a write is syncing share the next one (group commit). The schema key was one
  // round at open.
  EXPECT_LT(backend_->write_rounds(), kThreads * kPerThread);

  engine_.reset();
  Start(&dispatcher);
  EXPECT_EQ(engine_->GetAllRegistrations().size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(engine_->load_report().loaded, kThreads * kPerThread);
  EXPECT_EQ(dispatcher.reached().HasBeenNotified(), false);  // offline throughout: nothing fired
}

TEST_F(EngineLevelDbTest, UnansweredEventTimesOutOnTheRealClockAndIsRetried) {
  const Origin origin = *Origin::Parse("https://mail.example");
  registry_.Add(1, origin);
  network_.SetOnline(true);
  SilentDispatcher dispatcher(/*notify_at=*/2);
  BackgroundSyncParameters parameters;
  parameters.max_sync_event_duration = absl::Milliseconds(100);
  parameters.initial_retry_delay = absl::Milliseconds(50);
  Start(&dispatcher, parameters);

  absl::Notification registered;
  engine_->Register({origin, 1, SyncType::kOneShot, "outbox", absl::ZeroDuration(), 0}, [&](absl::Status status) {
    EXPECT_TRUE(status.ok()) << status;
    registered.Notify();
  });
  ASSERT_TRUE(registered.WaitForNotificationWithTimeout(kGenerous));
  ASSERT_TRUE(dispatcher.reached().WaitForNotificationWithTimeout(kGenerous));
  std::vector<SyncRegistration> all = engine_->GetAllRegistrations();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].num_attempts, 1);
  EXPECT_EQ(all[0].last_failure, SyncEventOutcome::kTimedOut);
}

}  // namespace
}  // namespace bgsync
