#include "components/background_sync/storage_backend.h"

#include "absl/synchronization/notification.h"

namespace bgsync {

absl::Status CommitAndWait(StorageBackend& backend, StorageBatch batch, Durability durability) {
  absl::Notification done;
  absl::Status result;
  backend.Commit(std::move(batch), durability, [&](absl::Status status) {
    result = std::move(status);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace bgsync
