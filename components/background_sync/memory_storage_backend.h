// A StorageBackend in memory: for tests and fuzzers. Commits apply at once, on the caller's thread.
#ifndef COMPONENTS_BACKGROUND_SYNC_MEMORY_STORAGE_BACKEND_H_
#define COMPONENTS_BACKGROUND_SYNC_MEMORY_STORAGE_BACKEND_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/storage_backend.h"

namespace bgsync {

// The data lives in a MemoryStorage shared between backends, so a test can "restart" by building a new engine
// on a new backend over the same storage. Thread-safety: safe to call from any thread.
class MemoryStorageBackend : public StorageBackend {
 public:
  struct Storage {
    absl::Mutex mu;
    std::map<std::string, std::string> data ABSL_GUARDED_BY(mu);
  };

  MemoryStorageBackend() : storage_(std::make_shared<Storage>()) {}
  explicit MemoryStorageBackend(std::shared_ptr<Storage> storage) : storage_(std::move(storage)) {}

  const std::shared_ptr<Storage>& storage() const { return storage_; }

  absl::StatusOr<KeyValues> ReadPrefix(const std::string& prefix) override;
  void Commit(StorageBatch batch, Durability durability, CommitCallback done) override;

 private:
  const std::shared_ptr<Storage> storage_;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_MEMORY_STORAGE_BACKEND_H_
