#include "test/crash_consistency/store_snapshot.h"

#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/storage_backend.h"

namespace bgsync {

absl::StatusOr<StoreSnapshot> SnapshotStore(const std::string& store_dir, const std::string& scratch_dir) {
  std::error_code error;
  std::filesystem::remove_all(scratch_dir, error);
  std::filesystem::create_directories(scratch_dir, error);
  if (error)
    return absl::InternalError(absl::StrCat("cannot create ", scratch_dir, ": ", error.message()));
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator(store_dir, error)) {
    if (!entry.is_regular_file())
      continue;
    std::filesystem::copy_file(entry.path(), std::filesystem::path(scratch_dir) / entry.path().filename(), error);
    if (error)
      return absl::InternalError(absl::StrCat("cannot copy ", entry.path().string(), ": ", error.message()));
  }
  if (error)
    return absl::InternalError(absl::StrCat("cannot list ", store_dir, ": ", error.message()));

  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(scratch_dir);
  if (!backend.ok())
    return backend.status();
  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = SyncRegistrationStore(backend->get()).Load();
  if (!loaded.ok())
    return loaded.status();
  return StoreSnapshot{std::move(loaded->registrations), std::move(loaded->quarantined)};
}

absl::Status DeleteRegistration(const std::string& store_dir, const RegistrationKey& key) {
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(store_dir);
  if (!backend.ok())
    return backend.status();
  StorageBatch batch;
  SyncRegistrationStore::AddDelete(key, batch);
  return CommitAndWait(**backend, std::move(batch), Durability::kDurable);
}

}  // namespace bgsync
