// The registration store as a kill left it, read with the engine's own store code.
#ifndef TEST_CRASH_CONSISTENCY_STORE_SNAPSHOT_H_
#define TEST_CRASH_CONSISTENCY_STORE_SNAPSHOT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "components/background_sync/sync_registration.h"
#include "components/background_sync/sync_registration_store.h"

namespace bgsync {

struct StoreSnapshot {
  std::vector<SyncRegistration> registrations;  // key order
  // Records that do not decode or do not match their key: a half-written record would show up here.
  std::vector<SyncRegistrationStore::QuarantinedRecord> quarantined;
};

// Copies the LevelDB directory `store_dir` (a profile's BackgroundSync store, which no process may have open)
// into `scratch_dir` (emptied first), opens the copy with paranoid checks and decodes every record. The original
// is left untouched, so the browser recovers it itself at its next start. Errors: copying, opening or reading.
absl::StatusOr<StoreSnapshot> SnapshotStore(const std::string& store_dir, const std::string& scratch_dir);

// Durably deletes one registration from `store_dir` (no process may have it open). Only for the harness's
// self-test, which simulates a lost write this way.
absl::Status DeleteRegistration(const std::string& store_dir, const RegistrationKey& key);

}  // namespace bgsync

#endif  // TEST_CRASH_CONSISTENCY_STORE_SNAPSHOT_H_
