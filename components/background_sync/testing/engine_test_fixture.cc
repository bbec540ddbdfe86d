#include "components/background_sync/testing/engine_test_fixture.h"

#include "components/background_sync/sync_registration_store.h"

namespace bgsync {

EngineTest::EngineTest()
    : origin_(*Origin::Parse("https://mail.example")), other_origin_(*Origin::Parse("https://other.example")) {}

void EngineTest::SetUp() {
  registry_.Add(kSw, origin_);
  StartEngine();
}

void EngineTest::StartEngine() {
  auto backend = std::make_unique<ControllableStorageBackend>(std::make_unique<MemoryStorageBackend>(disk_));
  storage_ = backend->controls();
  BackgroundSyncEngine::Dependencies deps = MakeDependencies(std::move(backend));
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
      BackgroundSyncEngine::Create(std::move(deps), parameters_);
  ASSERT_TRUE(engine.ok()) << engine.status();
  engine_ = *std::move(engine);
}

BackgroundSyncEngine::Dependencies EngineTest::MakeDependencies(std::unique_ptr<StorageBackend> backend) {
  BackgroundSyncEngine::Dependencies deps;
  deps.clock = &clock_;
  deps.network = &network_;
  deps.permissions = &permissions_;
  deps.registry = &registry_;
  deps.dispatcher = &dispatcher_;
  deps.engagement = &engagement_;
  deps.observer = &observer_;
  deps.storage = std::move(backend);
  return deps;
}

void EngineTest::RestartEngine() {
  engine_.reset();
  StartEngine();
}

absl::Status EngineTest::Register(const std::string& tag,
                                  ClientId client,
                                  int64_t sw,
                                  SyncType type,
                                  std::optional<Origin> origin,
                                  absl::Duration min_interval) {
  Result<absl::Status> result;
  BackgroundSyncEngine::RegisterRequest request;
  request.origin = origin.value_or(origin_);
  request.sw_registration_id = sw;
  request.type = type;
  request.tag = tag;
  request.min_interval = min_interval;
  request.client = client;
  engine_->Register(std::move(request), result.callback());
  EXPECT_TRUE(result.ready()) << "Register did not answer synchronously";
  return result.value.value_or(absl::UnknownError("no answer"));
}

void EngineTest::RegisterAsync(const std::string& tag, Result<absl::Status>& result, int64_t sw, ClientId client) {
  BackgroundSyncEngine::RegisterRequest request;
  request.origin = origin_;
  request.sw_registration_id = sw;
  request.tag = tag;
  request.client = client;
  engine_->Register(std::move(request), result.callback());
}

absl::StatusOr<std::vector<std::string>> EngineTest::GetTags(int64_t sw, SyncType type, std::optional<Origin> origin) {
  Result<absl::StatusOr<std::vector<std::string>>> result;
  engine_->GetRegistrations(origin.value_or(origin_), sw, type, result.callback());
  EXPECT_TRUE(result.ready()) << "GetRegistrations did not answer synchronously";
  return result.value.value_or(absl::UnknownError("no answer"));
}

absl::Status EngineTest::UnregisterServiceWorker(int64_t sw) {
  registry_.Remove(sw);
  Result<absl::Status> result;
  engine_->OnServiceWorkerUnregistered(sw, result.callback());
  EXPECT_TRUE(result.ready());
  return result.value.value_or(absl::UnknownError("no answer"));
}

std::optional<SyncRegistration> EngineTest::Find(const std::string& tag, int64_t sw, SyncType type) {
  for (SyncRegistration& r : engine_->GetAllRegistrations()) {
    if (r.key.tag == tag && r.key.sw_registration_id == sw && r.key.type == type)
      return r;
  }
  return std::nullopt;
}

std::vector<SyncRegistration> EngineTest::DiskRegistrations() {
  MemoryStorageBackend backend(disk_);
  SyncRegistrationStore store(&backend);
  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store.Load();
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok())
    return {};
  EXPECT_TRUE(loaded->quarantined.empty());
  return loaded->registrations;
}

void EngineTest::ExpectMemoryEqualsDisk() {
  std::vector<SyncRegistration> memory = engine_->GetAllRegistrations();
  for (SyncRegistration& r : memory)
    r.resolved = true;
  std::vector<SyncRegistration> disk = DiskRegistrations();
  ASSERT_EQ(memory.size(), disk.size());
  for (size_t i = 0; i < memory.size(); ++i) {
    EXPECT_TRUE(memory[i] == disk[i]) << "registration " << i << " (" << memory[i].key.tag << ") differs: memory state "
                                      << SyncStateName(memory[i].state) << " attempts " << memory[i].num_attempts
                                      << ", disk state " << SyncStateName(disk[i].state) << " attempts "
                                      << disk[i].num_attempts;
  }
}

}  // namespace bgsync
