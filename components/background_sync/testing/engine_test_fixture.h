// The common fixture of the engine's tests: an engine over fakes and an in-memory "disk" that survives
// RestartEngine(), on a FakeClock. With the memory backend every operation completes before the call returns
// (unless the test holds commits back), so results are read synchronously.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_ENGINE_TEST_FIXTURE_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_ENGINE_TEST_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/controllable_storage_backend.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_engagement_provider.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"
#include "components/background_sync/testing/recording_observer.h"
#include "gtest/gtest.h"
#include "public/background_sync_error.h"

namespace bgsync {

// Holds the result of an asynchronous call.
template <typename T>
struct Result {
  std::optional<T> value;
  auto callback() {
    return [this](T v) { value = std::move(v); };
  }
  bool ready() const { return value.has_value(); }
};

class EngineTest : public ::testing::Test {
 protected:
  static constexpr int64_t kSw = 1;

  EngineTest();
  void SetUp() override;
  void TearDown() override { engine_.reset(); }

  // Parameters used by the next StartEngine(); tests may edit them before SetUp's start via RestartEngine().
  BackgroundSyncParameters& parameters() { return parameters_; }

  void StartEngine();
  // The fixture's fakes and `backend`, ready for BackgroundSyncEngine::Create.
  BackgroundSyncEngine::Dependencies MakeDependencies(std::unique_ptr<StorageBackend> backend);
  // Destroys the engine (as a browser exit would) and starts a new one on the same disk and clock.
  void RestartEngine();
  // Simulates kill -9: the engine is destroyed without any chance to write, then restarted. With the memory
  // backend every completed commit is already "on disk", so this is RestartEngine() with a comment.
  void CrashAndRestartEngine() { RestartEngine(); }

  BackgroundSyncEngine& engine() { return *engine_; }

  // Register and wait for the answer (the memory backend answers synchronously unless commits are held).
  absl::Status Register(const std::string& tag,
                        ClientId client = 0,
                        int64_t sw = kSw,
                        SyncType type = SyncType::kOneShot,
                        std::optional<Origin> origin = std::nullopt,
                        absl::Duration min_interval = absl::ZeroDuration());
  // Register without waiting: the result lands in `result`.
  void RegisterAsync(const std::string& tag, Result<absl::Status>& result, int64_t sw = kSw, ClientId client = 0);
  absl::StatusOr<std::vector<std::string>> GetTags(int64_t sw = kSw,
                                                   SyncType type = SyncType::kOneShot,
                                                   std::optional<Origin> origin = std::nullopt);
  absl::Status UnregisterServiceWorker(int64_t sw);

  // The registration with this tag as the engine holds it, if any.
  std::optional<SyncRegistration> Find(const std::string& tag, int64_t sw = kSw, SyncType type = SyncType::kOneShot);
  // What a fresh load of the disk would give (resolved is always true there).
  std::vector<SyncRegistration> DiskRegistrations();
  // Memory (with `resolved` ignored) equals disk.
  void ExpectMemoryEqualsDisk();

  BackgroundSyncError ErrorOf(const absl::Status& status) { return GetSyncError(status); }

  Origin origin_;
  Origin other_origin_;
  FakeClock clock_;
  FakeNetworkState network_{true};
  FakePermissionController permissions_;
  FakeServiceWorkerRegistry registry_;
  FakeSyncEventDispatcher dispatcher_;
  FakeEngagementProvider engagement_;
  RecordingObserver observer_;
  std::shared_ptr<MemoryStorageBackend::Storage> disk_ = std::make_shared<MemoryStorageBackend::Storage>();
  std::shared_ptr<ControllableStorageBackend::Controls> storage_;  // controls of the current engine's backend
  BackgroundSyncParameters parameters_;
  std::unique_ptr<BackgroundSyncEngine> engine_;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_ENGINE_TEST_FIXTURE_H_
