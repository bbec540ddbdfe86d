#include "components/background_sync/testing/engine_on_leveldb.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "components/background_sync/sync_registration_store.h"
#include "gtest/gtest.h"

namespace bgsync {

std::string SweepScratchDirectory() {
  std::error_code error;
  if (std::filesystem::is_directory("/dev/shm", error) && access("/dev/shm", W_OK) == 0)
    return "/dev/shm";
  return ::testing::TempDir();
}

EngineOnLevelDb::EngineOnLevelDb() {
  for (int64_t sw = 1; sw <= kServiceWorkers; ++sw)
    registry_.Add(sw, OriginOf(sw));
}

EngineOnLevelDb::~EngineOnLevelDb() {
  Stop();
}

Origin EngineOnLevelDb::OriginOf(int64_t sw) {
  static const char* const kOrigins[] = {"https://a.example", "https://b.example", "https://c.example"};
  return *Origin::Parse(kOrigins[(sw - 1) % kServiceWorkers]);
}

absl::Status EngineOnLevelDb::Start(const std::string& path,
                                    leveldb::Env* env,
                                    LevelDbStorageBackend::OpenResult* opened) {
  Stop();
  // As the browser does: the engine's load is the verification of every record; a read error of that load sends
  // the store through the verified open, which repairs or keeps aside what is damaged, and the engine loads again.
  absl::Status started = StartOnce(path, env, /*verify_records_at_open=*/false, opened);
  if (started.ok() || !LevelDbStorageBackend::MayBeDamage(started))
    return started;
  return StartOnce(path, env, /*verify_records_at_open=*/true, opened);
}

absl::Status EngineOnLevelDb::StartOnce(const std::string& path,
                                        leveldb::Env* env,
                                        bool verify_records_at_open,
                                        LevelDbStorageBackend::OpenResult* opened) {
  LevelDbStorageBackend::Options options;
  options.env = env;
  options.verify_records_at_open = verify_records_at_open;
  absl::StatusOr<LevelDbStorageBackend::OpenResult> open = LevelDbStorageBackend::OpenWithRecovery(path, options);
  if (!open.ok())
    return open.status();
  std::unique_ptr<StorageBackend> backend = std::move(open->backend);
  // As the browser does after a repair.
  if (open->outcome == LevelDbStorageBackend::OpenOutcome::kRepaired) {
    absl::StatusOr<bool> restored = SyncRegistrationStore::RestoreSchemaVersionAfterRepair(*backend);
    if (!restored.ok())
      return restored.status();
  }
  if (opened)
    *opened = *std::move(open);
  BackgroundSyncEngine::Dependencies deps;
  deps.clock = &clock_;
  deps.network = &network_;
  deps.permissions = &permissions_;
  deps.registry = &registry_;
  deps.dispatcher = &dispatcher_;
  deps.storage = std::move(backend);
  BackgroundSyncParameters parameters;
  parameters.durable_writes = true;
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
      BackgroundSyncEngine::Create(std::move(deps), parameters);
  if (!engine.ok())
    return engine.status();
  engine_ = *std::move(engine);
  return absl::OkStatus();
}

void EngineOnLevelDb::Stop() {
  engine_.reset();
}

absl::Status EngineOnLevelDb::Register(int64_t sw, SyncType type, const std::string& tag) {
  if (!engine_)
    return absl::FailedPreconditionError("no engine");
  BackgroundSyncEngine::RegisterRequest request;
  request.origin = OriginOf(sw);
  request.sw_registration_id = sw;
  request.type = type;
  request.tag = tag;
  if (type == SyncType::kPeriodic)
    request.min_interval = absl::Hours(1);
  absl::Notification answered;
  absl::Status result;
  engine_->Register(std::move(request), [&](absl::Status status) {
    result = std::move(status);
    answered.Notify();
  });
  if (!answered.WaitForNotificationWithTimeout(absl::Seconds(60)))
    return absl::DeadlineExceededError(absl::StrCat("Register of ", tag, " was not answered within 60 s"));
  return result;
}

LoadAudit EngineOnLevelDb::Audit(const std::map<std::string, RegisteredTag>& registered,
                                 const std::set<std::string>& acknowledged) {
  LoadAudit audit;
  std::set<std::string> present;
  for (const SyncRegistration& r : engine_ ? engine_->GetAllRegistrations() : std::vector<SyncRegistration>()) {
    auto it = registered.find(r.key.tag);
    if (it == registered.end()) {
      ++audit.unknown;
      audit.problems.push_back(absl::StrCat("unknown registration \"", r.key.tag, "\""));
      continue;
    }
    if (it->second.sw != r.key.sw_registration_id || it->second.type != r.key.type ||
        r.origin != OriginOf(r.key.sw_registration_id)) {
      ++audit.misattributed;
      audit.problems.push_back(absl::StrCat("\"", r.key.tag, "\" registered on service worker ", it->second.sw,
                                            " came back on ", r.key.sw_registration_id, " of ", r.origin.Serialize()));
      continue;
    }
    present.insert(r.key.tag);
    if (acknowledged.count(r.key.tag)) {
      ++audit.acknowledged_present;
    } else {
      ++audit.unacknowledged_present;
    }
  }
  for (const std::string& tag : acknowledged) {
    if (!present.count(tag)) {
      ++audit.acknowledged_lost;
      audit.problems.push_back(absl::StrCat("acknowledged \"", tag, "\" is lost"));
    }
  }
  return audit;
}

}  // namespace bgsync
