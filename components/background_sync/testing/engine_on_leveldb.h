// The engine on a real LevelDB store, opened the way the browser opens it (LevelDbStorageBackend::OpenWithRecovery),
// with fakes for every other seam: service workers 1..3 of three origins, offline (nothing fires), a fake clock.
// For the disk-fault and corruption tests, which restart the engine on damaged or power-cut stores and audit what
// it loads.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_ENGINE_ON_LEVELDB_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_ENGINE_ON_LEVELDB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"

namespace leveldb {
class Env;
}

namespace bgsync {

// Where the sweeps put their stores: /dev/shm when it is there (memory: their power cuts and fsyncs are the
// fault-injecting Env's, and thousands of cases on a shared disk would spend their time waiting for it), else the
// test's temporary directory.
std::string SweepScratchDirectory();

// What a test asked to register under a tag (tags are unique per test).
struct RegisteredTag {
  int64_t sw = 0;
  SyncType type = SyncType::kOneShot;
};

// What a restarted engine holds compared with what was registered and acknowledged.
struct LoadAudit {
  int acknowledged_present = 0;
  int acknowledged_lost = 0;
  int unacknowledged_present = 0;     // registered, answered with an error, yet stored (a sync that failed late)
  int misattributed = 0;              // another service worker, type or origin than registered: must never happen
  int unknown = 0;                    // a tag never registered: must never happen
  std::vector<std::string> problems;  // one line per lost, misattributed or unknown registration
};

// Thread-safety: one test thread drives it; the engine calls back from the store's writer thread.
class EngineOnLevelDb {
 public:
  static constexpr int64_t kServiceWorkers = 3;

  EngineOnLevelDb();
  ~EngineOnLevelDb();

  // The origin of service worker 1..3: https://a.example, https://b.example, https://c.example.
  static Origin OriginOf(int64_t sw);

  // Opens the store at `path` with OpenWithRecovery (over `env`, or the real disk when null) and starts the
  // engine on it (durable writes), as the browser does: without verifying every record at open (the engine's load
  // reads them all), and again with verification if that load fails with a read error. `opened` receives the (last)
  // open result without its backend.
  absl::Status Start(const std::string& path,
                     leveldb::Env* env = nullptr,
                     LevelDbStorageBackend::OpenResult* opened = nullptr);
  // Destroys the engine and closes its store.
  void Stop();
  BackgroundSyncEngine* engine() { return engine_.get(); }

  // Registers `tag` on service worker `sw` and waits for the answer; periodic registrations ask for 1 h.
  absl::Status Register(int64_t sw, SyncType type, const std::string& tag);

  // Compares the engine's registrations with `registered` (what was asked) and `acknowledged` (answered OK).
  LoadAudit Audit(const std::map<std::string, RegisteredTag>& registered, const std::set<std::string>& acknowledged);

 private:
  absl::Status StartOnce(const std::string& path,
                         leveldb::Env* env,
                         bool verify_records_at_open,
                         LevelDbStorageBackend::OpenResult* opened);

  FakeClock clock_;
  FakeNetworkState network_{false};
  FakePermissionController permissions_;
  FakeServiceWorkerRegistry registry_;
  FakeSyncEventDispatcher dispatcher_;
  std::unique_ptr<BackgroundSyncEngine> engine_;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_ENGINE_ON_LEVELDB_H_
