#include "components/background_sync/fuzzers/sync_world.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "components/background_sync/fuzzers/fuzz_check.h"
#include "components/background_sync/fuzzers/fuzz_values.h"
#include "components/background_sync/sync_registration_store.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"
#include "public/background_sync_error.h"

namespace bgsync {
namespace fuzzing {
namespace {

bool IsOkOrStorageError(const absl::Status& status) {
  return status.ok() || GetSyncError(status) == BackgroundSyncError::BACKGROUND_SYNC_ERROR_STORAGE;
}

}  // namespace

BackgroundSyncParameters FuzzParameters() {
  BackgroundSyncParameters parameters;
  parameters.max_registrations_per_service_worker = 4;
  parameters.max_registrations_per_origin = 6;
  return parameters;
}

void ModelDispatcher::DispatchSyncEvent(const SyncEventRequest& event,
                                        absl::AnyInvocable<void(SyncEventOutcome)> done) {
  const uint64_t number = model_->OnDispatched(event, clock_->Now());
  inner_->DispatchSyncEvent(event, [model = model_, number, done = std::move(done)](SyncEventOutcome outcome) mutable {
    model->OnOutcome(number, outcome);
    done(outcome);
  });
}

void CheckingObserver::OnBackgroundServiceEvent(const BackgroundServiceEvent& event) {
  std::optional<Origin> creator = model_->CreatorOf(event.sw_registration_id);
  FUZZ_CHECK(creator && *creator == event.origin,
             absl::StrCat("DevTools event \"", event.event_name, "\" of service worker ", event.sw_registration_id,
                          " attributed to ", event.origin.Serialize()));
}

SyncWorld::SyncWorld(BackgroundSyncParameters parameters) : model(parameters) {
  for (const char* origin : {"https://a.example", "https://b.example", "http://localhost:8080", "https://d.example"})
    origins_.push_back(*Origin::Parse(origin));
  AddServiceWorker(origins_[0], /*active=*/true);
  AddServiceWorker(origins_[0], /*active=*/true);
  AddServiceWorker(origins_[1], /*active=*/true);
  AddServiceWorker(origins_[2], /*active=*/true);
  for (size_t i = 0; i < 3; ++i)
    registry.SetWindowOpen(origins_[i], true);
}

const Origin& SyncWorld::ConsumeOrigin(FuzzedDataProvider& data) const {
  return origins_[data.ConsumeIntegralInRange<size_t>(0, origins_.size() - 1)];
}

std::vector<int64_t> SyncWorld::LiveServiceWorkers() const {
  std::vector<int64_t> live;
  for (int64_t id : service_worker_ids_) {
    if (model.OwnerOf(id))
      live.push_back(id);
  }
  return live;
}

int64_t SyncWorld::AddServiceWorker(const Origin& origin, bool active) {
  const int64_t id = static_cast<int64_t>(service_worker_ids_.size()) + 1;
  service_worker_ids_.push_back(id);
  registry.Add(id, origin, active, /*window=*/false);
  model.OnServiceWorkerAdded(id, origin);
  return id;
}

void SyncWorld::UnregisterServiceWorker(int64_t id, BackgroundSyncEngine& engine) {
  registry.Remove(id);
  model.OnServiceWorkerRemoved(id);
  engine.OnServiceWorkerUnregistered(id, [id](absl::Status status) {
    FUZZ_CHECK(IsOkOrStorageError(status),
               absl::StrCat("OnServiceWorkerUnregistered(", id, ") answered ", status.ToString()));
  });
  if (on_service_worker_unregistered)
    on_service_worker_unregistered(id);
}

void SyncWorld::Seed(const SyncRegistration& registration) {
  FUZZ_CHECK(engines_created_ == 0, "seeding after an engine started");
  StorageBatch batch;
  batch.Put("m:schema_version", "1");
  SyncRegistrationStore::AddPut(registration, batch);
  MemoryStorageBackend backend(disk_);
  FUZZ_CHECK(CommitAndWait(backend, std::move(batch), Durability::kDurable).ok(), "seeding failed");
  model.OnSeeded(registration);
}

void SyncWorld::ApplyEnvironmentAction(FuzzedDataProvider& data, BackgroundSyncEngine& engine) {
  switch (data.ConsumeIntegralInRange<int>(0, 10)) {
    case 0: {
      const bool online = data.ConsumeBool();
      FUZZ_TRACE(online ? "online" : "offline");
      network.SetOnline(online);
      engine.OnNetworkChanged();
      break;
    }
    case 1: {
      // DevTools' per-service-worker offline emulation.
      const int64_t sw = ConsumeServiceWorkerId(data, service_worker_ids_);
      const bool offline = data.ConsumeBool();
      FUZZ_TRACE(absl::StrCat("service worker ", sw, offline ? " emulated offline" : " not emulated offline"));
      network.SetServiceWorkerOffline(sw, offline);
      engine.OnNetworkChanged();
      break;
    }
    case 2:
      if (service_worker_ids_.size() < 12) {
        const Origin& owner = ConsumeOrigin(data);
        const int64_t id = AddServiceWorker(owner, data.ConsumeIntegralInRange<int>(0, 3) != 0);
        FUZZ_TRACE(absl::StrCat("service worker ", id, " of ", owner.Serialize(), " added"));
      }
      break;
    case 3: {
      std::vector<int64_t> live = LiveServiceWorkers();
      if (!live.empty()) {
        const int64_t id = live[data.ConsumeIntegralInRange<size_t>(0, live.size() - 1)];
        FUZZ_TRACE(absl::StrCat("service worker ", id, " unregistered"));
        UnregisterServiceWorker(id, engine);
      }
      break;
    }
    case 4: {
      std::vector<int64_t> live = LiveServiceWorkers();
      if (!live.empty()) {
        const int64_t id = live[data.ConsumeIntegralInRange<size_t>(0, live.size() - 1)];
        const bool active = data.ConsumeBool();
        FUZZ_TRACE(absl::StrCat("service worker ", id, active ? " active" : " not active"));
        registry.SetActive(id, active);
      }
      break;
    }
    case 5: {
      const Origin& owner = ConsumeOrigin(data);
      const bool open = data.ConsumeBool();
      FUZZ_TRACE(absl::StrCat(owner.Serialize(), open ? " opens a window" : " closes its windows"));
      registry.SetWindowOpen(owner, open);
      break;
    }
    case 6: {
      const Origin& owner = ConsumeOrigin(data);
      const SyncType type = data.ConsumeBool() ? SyncType::kPeriodic : SyncType::kOneShot;
      const bool granted = data.ConsumeBool();
      FUZZ_TRACE(
          absl::StrCat(owner.Serialize(), " ", SyncTypeName(type), " permission ", granted ? "granted" : "revoked"));
      permissions.Set(owner, type, granted ? PermissionStatus::kGranted : PermissionStatus::kDenied);
      if (!granted) {
        // The embedder revokes: the origin's periodic registrations go (from memory and disk).
        model.OnPeriodicPermissionRevoked(owner);
        engine.OnPermissionRevoked(owner, [](absl::Status status) {
          FUZZ_CHECK(IsOkOrStorageError(status), "OnPermissionRevoked answered " + status.ToString());
        });
      }
      break;
    }
    case 7: {
      const Origin& owner = ConsumeOrigin(data);
      const EngagementLevel level = static_cast<EngagementLevel>(data.ConsumeIntegralInRange<int>(0, 4));
      FUZZ_TRACE(absl::StrCat(owner.Serialize(), " engagement ", EngagementLevelName(level)));
      engagement.Set(owner, level);
      engine.OnEngagementChanged(owner);
      break;
    }
    case 8: {
      const int failures = data.ConsumeIntegralInRange<int>(1, 3);
      FUZZ_TRACE(absl::StrCat("the next ", failures, " commits fail"));
      storage().FailNextCommits(failures);
      break;
    }
    default: {
      const absl::Duration step = ConsumeClockStep(data);
      FUZZ_TRACE(absl::StrCat("clock +", absl::FormatDuration(step), " to ", absl::FormatTime(clock.Now() + step)));
      clock.Advance(step);
      break;
    }
  }
}

void SyncWorld::ReleaseCommits() {
  if (storage_->HeldCount() > 0)
    ++releases_;
  storage_->Release();
}

void SyncWorld::Check(BackgroundSyncEngine& engine) {
  int commits;
  {
    absl::MutexLock lock(&storage_->mu);
    commits = storage_->commits;
  }
  // Commits (held ones count when they are made) and releases of held ones are the only ways to change the disk
  // or the engine's registrations.
  model.CheckEngine(engine, disk_, (engines_created_ << 48) + (releases_ << 32) + static_cast<uint64_t>(commits));
}

absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> SyncWorld::CreateEngine(SyncEventDispatcher* dispatcher,
                                                                              bool fail_reads,
                                                                              int fail_commits) {
  auto backend = std::make_unique<ControllableStorageBackend>(std::make_unique<MemoryStorageBackend>(disk_));
  storage_ = backend->controls();
  ++engines_created_;
  {
    absl::MutexLock lock(&storage_->mu);
    storage_->fail_reads = fail_reads;
    storage_->fail_next_commits = fail_commits;
  }
  BackgroundSyncEngine::Dependencies deps;
  deps.clock = &clock;
  deps.network = &network;
  deps.permissions = &permissions;
  deps.registry = &registry;
  deps.dispatcher = dispatcher;
  deps.engagement = &engagement;
  deps.observer = &observer;
  deps.storage = std::move(backend);
  return BackgroundSyncEngine::Create(std::move(deps), model.parameters());
}

std::unique_ptr<BackgroundSyncEngine> SyncWorld::StartEngine(SyncEventDispatcher* dispatcher,
                                                             bool fail_reads,
                                                             int fail_commits) {
  CheckLoad();
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine = CreateEngine(dispatcher, fail_reads, fail_commits);
  if (!engine.ok()) {
    FUZZ_CHECK(fail_reads || fail_commits > 0, "the engine does not start: " + engine.status().ToString());
    engine = CreateEngine(dispatcher, false, 0);
    FUZZ_CHECK(engine.ok(), "the engine does not start once the faults are gone: " + engine.status().ToString());
  }
  model.OnEngineStarted(**engine);
  return *std::move(engine);
}

void SyncWorld::CheckLoad() {
  // A real engine fires what is ready while it starts, so what it loaded is seen on a probe: an engine on a copy of
  // the disk that is offline (it fires nothing) and dispatches nowhere.
  if (!model.restarting())
    return;
  auto copy = std::make_shared<MemoryStorageBackend::Storage>();
  {
    absl::MutexLock from(&disk_->mu);
    absl::MutexLock to(&copy->mu);
    copy->data = disk_->data;
  }
  FakeNetworkState offline(false);
  FakeSyncEventDispatcher nowhere;
  BackgroundSyncEngine::Dependencies deps;
  deps.clock = &clock;
  deps.network = &offline;
  deps.permissions = &permissions;
  deps.registry = &registry;
  deps.dispatcher = &nowhere;
  deps.engagement = &engagement;
  deps.storage = std::make_unique<MemoryStorageBackend>(copy);
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> probe =
      BackgroundSyncEngine::Create(std::move(deps), model.parameters());
  FUZZ_CHECK(probe.ok(), "the engine does not load its own disk: " + probe.status().ToString());
  model.CheckRestart(**probe);
}

RegisterExpectation SyncWorld::ExpectRegister(const Origin& origin,
                                              int64_t sw,
                                              SyncType type,
                                              const std::string& tag,
                                              absl::Duration min_interval,
                                              bool shut_down) {
  std::optional<ServiceWorkerRegistrationInfo> info = registry.Find(sw);
  return model.ExpectRegister(origin, sw, type, tag, min_interval, shut_down, info && info->has_active_worker,
                              permissions.GetPermission(origin, type) == PermissionStatus::kGranted,
                              registry.HasTopLevelWindowClient(origin));
}

}  // namespace fuzzing
}  // namespace bgsync
