#include "tools/benchmarks/scale/scale_profile.h"

#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "browser/service_worker/service_worker_registry.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/sync_registration_store.h"
#include "leveldb/db.h"
#include "leveldb/options.h"

namespace bgsync {
namespace bench {
namespace {

// The registry writes every Install durably; generating ten thousand of them needs no fsync each (the stores are
// closed and compacted before any browser reads them).
class BufferedWrites : public StorageBackend {
 public:
  explicit BufferedWrites(StorageBackend* backend) : backend_(backend) {}
  absl::StatusOr<KeyValues> ReadPrefix(const std::string& prefix) override { return backend_->ReadPrefix(prefix); }
  void Commit(StorageBatch batch, Durability, CommitCallback done) override {
    backend_->Commit(std::move(batch), Durability::kBuffered, std::move(done));
  }

 private:
  StorageBackend* const backend_;
};

absl::Status Compact(const std::string& path) {
  leveldb::DB* raw = nullptr;
  leveldb::Options options;
  leveldb::Status status = leveldb::DB::Open(options, path, &raw);
  if (!status.ok())
    return absl::InternalError(absl::StrCat("compacting ", path, ": ", status.ToString()));
  std::unique_ptr<leveldb::DB> db(raw);
  db->CompactRange(nullptr, nullptr);
  return absl::OkStatus();
}

absl::Status WriteServiceWorkers(const std::string& path, const ScaleProfileSpec& spec) {
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path);
  if (!backend.ok())
    return backend.status();
  BufferedWrites buffered(backend->get());
  absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> registry = ServiceWorkerRegistry::Open(&buffered);
  if (!registry.ok())
    return registry.status();
  for (int i = 1; i <= spec.service_workers; ++i) {
    const std::string origin_text = ScaleOrigin(i);
    absl::StatusOr<Origin> origin = Origin::Parse(origin_text);
    if (!origin.ok())
      return origin.status();
    absl::StatusOr<int64_t> id = (*registry)->Install(*origin, origin_text + "/", {"/bin/true"});
    if (!id.ok())
      return id.status();
    if (*id != i)
      return absl::FailedPreconditionError(absl::StrCat("expected service worker id ", i, ", got ", *id));
    if (absl::Status status = (*registry)->Activate(*id); !status.ok())
      return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<ScaleProfileInfo> WriteRegistrations(const std::string& path, const ScaleProfileSpec& spec) {
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path);
  if (!backend.ok())
    return backend.status();
  // Load writes the schema version into the empty store, as the browser's first start does.
  SyncRegistrationStore store(backend->get());
  if (absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store.Load(); !loaded.ok())
    return loaded.status();

  const absl::Time retry_at = absl::Now() + absl::Hours(1);
  ScaleProfileInfo info;
  StorageBatch batch;
  for (int sw = 1; sw <= spec.service_workers; ++sw) {
    absl::StatusOr<Origin> origin = Origin::Parse(ScaleOrigin(sw));
    if (!origin.ok())
      return origin.status();
    for (int i = 0; i < spec.registrations_per_service_worker; ++i) {
      SyncRegistration r;
      r.key = {sw, SyncType::kOneShot, ScaleTag(i)};
      r.origin = *origin;
      r.max_attempts = 3;
      if (i % 10 == 9) {
        r.state = SyncState::kWaiting;
        r.num_attempts = 1;
        r.next_attempt_time = retry_at;
        r.last_failure = SyncEventOutcome::kRejected;
      }
      SyncRegistrationStore::AddPut(r, batch);
      ++info.registrations;
      info.tag_bytes += static_cast<int64_t>(r.key.tag.size());
    }
    if (batch.size() >= 10000 || sw == spec.service_workers) {
      if (absl::Status status = CommitAndWait(**backend, std::move(batch), Durability::kBuffered); !status.ok())
        return status;
      batch = StorageBatch();
    }
  }
  return info;
}

}  // namespace

std::string ScaleOrigin(int index) {
  return absl::StrFormat("https://site-%05d.example", index);
}

std::string ScaleTag(int index) {
  // "outbox-<index>-" then filler up to 16..24 bytes.
  std::string tag = absl::StrFormat("outbox-%04d-", index);
  const size_t length = 16 + static_cast<size_t>(index % 9);
  while (tag.size() < length)
    tag += static_cast<char>('a' + tag.size() % 26);
  return tag;
}

absl::StatusOr<ScaleProfileInfo> WriteScaleProfile(const std::string& profile, const ScaleProfileSpec& spec) {
  std::error_code error;
  if (std::filesystem::exists(profile + "/BackgroundSync", error))
    return absl::AlreadyExistsError(absl::StrCat(profile, " already holds a profile"));
  std::filesystem::create_directories(profile, error);
  if (error)
    return absl::InternalError(absl::StrCat("creating ", profile, ": ", error.message()));
  if (absl::Status status = WriteServiceWorkers(profile + "/ServiceWorkers", spec); !status.ok())
    return status;
  absl::StatusOr<ScaleProfileInfo> info = WriteRegistrations(profile + "/BackgroundSync", spec);
  if (!info.ok())
    return info.status();
  for (const char* store : {"/ServiceWorkers", "/BackgroundSync"}) {
    if (absl::Status status = Compact(profile + store); !status.ok())
      return status;
  }
  return info;
}

absl::Status CopyServiceWorkersOnly(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::create_directories(to, error);
  if (!error)
    std::filesystem::copy(from + "/ServiceWorkers", to + "/ServiceWorkers", std::filesystem::copy_options::recursive,
                          error);
  if (error)
    return absl::InternalError(absl::StrCat("copying ", from, "/ServiceWorkers to ", to, ": ", error.message()));
  return absl::OkStatus();
}

}  // namespace bench
}  // namespace bgsync
