// Encodes sync registrations into storage records and back, and owns the key layout and schema version.
//
// Key layout (all keys ASCII up to the tag, which is raw UTF-8):
//   "m:schema_version"               -> decimal schema version ("1")
//   "r:<id>:<type>:<tag>"            -> SyncRegistrationRecord (proto/sync_registration_record.proto)
// where <id> is the service-worker registration id as 16 lower-case hex digits (two's complement, so keys of
// one service-worker registration are contiguous) and <type> is "1" (one-shot) or "2" (periodic).
#ifndef COMPONENTS_BACKGROUND_SYNC_SYNC_REGISTRATION_STORE_H_
#define COMPONENTS_BACKGROUND_SYNC_SYNC_REGISTRATION_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "components/background_sync/storage_backend.h"
#include "components/background_sync/sync_registration.h"

namespace bgsync {

inline constexpr int kSchemaVersion = 1;

// Thread-safety: as thread-safe as the backend (the store keeps no state of its own).
class SyncRegistrationStore {
 public:
  // A record that could not be decoded. It stays on disk untouched (nothing is silently deleted) and is left
  // out of the engine.
  struct QuarantinedRecord {
    std::string key;
    std::string reason;
  };
  struct LoadResult {
    std::vector<SyncRegistration> registrations;  // key order; `resolved` is true for all
    std::vector<QuarantinedRecord> quarantined;
  };
  // The registrations of one service-worker registration, in key order.
  struct LoadedServiceWorker {
    int64_t sw_registration_id = 0;
    std::vector<SyncRegistration> registrations;
  };
  struct LoadByServiceWorkerResult {
    std::vector<LoadedServiceWorker> service_workers;  // in key order (ids as the key layout orders them)
    std::vector<QuarantinedRecord> quarantined;        // in key order
  };

  // `backend` is not owned and must outlive the store.
  explicit SyncRegistrationStore(StorageBackend* backend) : backend_(backend) {}

  // Reads every record and decodes it. On an empty store, durably writes the schema version first.
  // Errors: the backend's read or write error; kFailedPrecondition for a schema version this build cannot read
  // (the data is left as it is).
  absl::StatusOr<LoadResult> Load();

  // Called with a service worker's registrations on the thread that read them, right after decoding them (while
  // they are in the CPU's caches); it may change or remove them. A service worker whose records straddle two of
  // the parallel ranges is passed in two parts. Runs concurrently with itself.
  using GroupHook = std::function<void(LoadedServiceWorker& group)>;

  // Load, grouped by service-worker registration, for the engine's start-up: records are decoded as they are read
  // (never all held as bytes), the registrations of a service worker share one Origin, and the store is read in up to
  // `max_parallel_reads` key ranges at once (threads started here, one per range after the first, which runs on the
  // calling thread) when the backend can split it (StorageBackend::SplitRange). `on_read`, if set, sees each group
  // as it is read (see GroupHook); groups it empties are left out. Same result and errors as Load otherwise.
  absl::StatusOr<LoadByServiceWorkerResult> LoadByServiceWorker(int max_parallel_reads,
                                                                const GroupHook& on_read = nullptr);

  // After leveldb::RepairDB salvaged a damaged store (LevelDbStorageBackend::OpenWithRecovery answered kRepaired),
  // the block that held the schema version may be gone while records survived, and Load would refuse the store.
  // The version is written before any record and only version 1 exists, so for a store just repaired from files of
  // this store this durably rewrites version 1 when there are records and no version; Load then validates every
  // record as always. Returns whether it wrote. Anywhere else a missing version means a store this build did not
  // write, which Load refuses: do not call it there.
  static absl::StatusOr<bool> RestoreSchemaVersionAfterRepair(StorageBackend& backend);

  // Adds the write of `registration` (under its key) or the delete of `key` to `batch`.
  static void AddPut(const SyncRegistration& registration, StorageBatch& batch);
  static void AddDelete(const RegistrationKey& key, StorageBatch& batch);

  static std::string EncodeKey(const RegistrationKey& key);
  static std::string EncodeRecord(const SyncRegistration& registration);
  // Decodes a registration key. Errors: kDataLoss with the reason.
  static absl::StatusOr<RegistrationKey> DecodeKey(const std::string& key);
  // Decodes a record and checks it against its key and against what the engine can have written: a well-formed
  // UTF-8 tag within the length limit, known enum values, counters in range, no interval on a one-shot
  // registration. Errors: kDataLoss with the reason.
  static absl::StatusOr<SyncRegistration> DecodeRecord(const std::string& key, const std::string& value);

  // Commits `batch` to the backend (see StorageBackend::Commit).
  void Commit(StorageBatch batch, Durability durability, StorageBackend::CommitCallback done) {
    backend_->Commit(std::move(batch), durability, std::move(done));
  }

 private:
  StorageBackend* const backend_;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_SYNC_REGISTRATION_STORE_H_
