#include "components/background_sync/memory_storage_backend.h"

#include "absl/strings/match.h"

namespace bgsync {

absl::StatusOr<StorageBackend::KeyValues> MemoryStorageBackend::ReadPrefix(const std::string& prefix) {
  absl::MutexLock lock(&storage_->mu);
  KeyValues result;
  for (auto it = storage_->data.lower_bound(prefix); it != storage_->data.end(); ++it) {
    if (!absl::StartsWith(it->first, prefix))
      break;
    result.emplace_back(it->first, it->second);
  }
  return result;
}

void MemoryStorageBackend::Commit(StorageBatch batch, Durability durability, CommitCallback done) {
  {
    absl::MutexLock lock(&storage_->mu);
    for (const StorageBatch::Op& op : batch.ops()) {
      if (op.value) {
        storage_->data[op.key] = *op.value;
      } else {
        storage_->data.erase(op.key);
      }
    }
  }
  done(absl::OkStatus());
}

}  // namespace bgsync
