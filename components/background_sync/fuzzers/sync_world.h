// The engine's surroundings in the fuzzers: a fake for every seam, an in-memory disk that outlives engines (so a
// crash-restart reloads it), the model, and the environment actions the engine and service fuzzers share.
//
// Thread-safety: none; a fuzz input runs on one thread.
#ifndef COMPONENTS_BACKGROUND_SYNC_FUZZERS_SYNC_WORLD_H_
#define COMPONENTS_BACKGROUND_SYNC_FUZZERS_SYNC_WORLD_H_

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/fuzzers/sync_model.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/controllable_storage_backend.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_engagement_provider.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"

namespace bgsync {
namespace fuzzing {

// Parameters with small quotas, so that inputs reach them.
BackgroundSyncParameters FuzzParameters();

// Tells the model about every event the engine dispatches and its outcome (checking that each event gets exactly
// one), and passes both on. `model` and `inner` must outlive every event.
class ModelDispatcher : public SyncEventDispatcher {
 public:
  ModelDispatcher(SyncModel* model, Clock* clock, SyncEventDispatcher* inner)
      : model_(model), clock_(clock), inner_(inner) {}
  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override;

 private:
  SyncModel* const model_;
  Clock* const clock_;
  SyncEventDispatcher* const inner_;
};

// Checks that every DevTools event is attributed to its service worker's origin.
class CheckingObserver : public BackgroundSyncObserver {
 public:
  explicit CheckingObserver(const SyncModel* model) : model_(model) {}
  void OnBackgroundServiceEvent(const BackgroundServiceEvent& event) override;

 private:
  const SyncModel* const model_;
};

class SyncWorld {
 public:
  static constexpr size_t kOrigins = 4;

  // Service workers 1 and 2 of origin 0, 3 of origin 1, 4 of origin 2; origins 0-2 have a window, origin 3 has
  // neither; online; every permission granted.
  explicit SyncWorld(BackgroundSyncParameters parameters = FuzzParameters());

  const Origin& origin(size_t index) const { return origins_.at(index); }
  const Origin& ConsumeOrigin(FuzzedDataProvider& data) const;
  // Every service-worker id there ever was (for ConsumeServiceWorkerId) and the live ones.
  const std::vector<int64_t>& service_worker_ids() const { return service_worker_ids_; }
  std::vector<int64_t> LiveServiceWorkers() const;

  int64_t AddServiceWorker(const Origin& origin, bool active);
  // Removes it from the registry and tells the engine, as the browser's service-worker registry does.
  void UnregisterServiceWorker(int64_t id, BackgroundSyncEngine& engine);
  // Called after UnregisterServiceWorker, e.g. to stop the service worker's process.
  std::function<void(int64_t)> on_service_worker_unregistered;

  // Puts a registration on the disk before the first engine starts (for fuzzers whose set-up is fixed).
  void Seed(const SyncRegistration& registration);

  // The actions both fuzzers share: connectivity (also per service worker), service workers added, unregistered
  // and (de)activated, windows, permissions (revoking one deletes the origin's periodic registrations),
  // engagement, the clock, and failing writes.
  void ApplyEnvironmentAction(FuzzedDataProvider& data, BackgroundSyncEngine& engine);

  // A new engine on the disk. Start-up faults: every read fails, or the first `fail_commits` commits do.
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> CreateEngine(SyncEventDispatcher* dispatcher,
                                                                     bool fail_reads,
                                                                     int fail_commits);
  // Starts an engine, retrying once without faults if the faults made the start fail; a start on the engine's
  // own data that fails without faults is an invariant failure. Tells the model.
  std::unique_ptr<BackgroundSyncEngine> StartEngine(SyncEventDispatcher* dispatcher, bool fail_reads, int fail_commits);
  // The storage controls of the most recently created engine. Release held commits with ReleaseCommits().
  ControllableStorageBackend::Controls& storage() { return *storage_; }
  void ReleaseCommits();

  RegisterExpectation ExpectRegister(const Origin& origin,
                                     int64_t sw,
                                     SyncType type,
                                     const std::string& tag,
                                     absl::Duration min_interval,
                                     bool shut_down);

  // The model's invariants over `engine` and the disk.
  void Check(BackgroundSyncEngine& engine);

  const std::shared_ptr<MemoryStorageBackend::Storage>& disk() const { return disk_; }

  FakeClock clock;
  FakeNetworkState network{true};
  FakePermissionController permissions;
  FakeServiceWorkerRegistry registry;
  FakeEngagementProvider engagement;
  SyncModel model;
  CheckingObserver observer{&model};

 private:
  // After a stop: checks what a restart loads against what the stopped engine held (SyncModel::CheckRestart).
  void CheckLoad();

  std::vector<Origin> origins_;
  std::vector<int64_t> service_worker_ids_;
  std::shared_ptr<MemoryStorageBackend::Storage> disk_ = std::make_shared<MemoryStorageBackend::Storage>();
  std::shared_ptr<ControllableStorageBackend::Controls> storage_;
  uint64_t engines_created_ = 0;
  uint64_t releases_ = 0;
};

}  // namespace fuzzing
}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_FUZZERS_SYNC_WORLD_H_
