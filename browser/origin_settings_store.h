// A small durable map of per-origin settings: setting key -> short text value, kept in memory and mirrored, one
// durable write per change, under one key prefix of a StorageBackend. The browser's permission and engagement
// stores are built on it.
#ifndef BROWSER_ORIGIN_SETTINGS_STORE_H_
#define BROWSER_ORIGIN_SETTINGS_STORE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/storage_backend.h"

namespace bgsync {

// Thread-safety: every method may be called from any thread. Set calls are serialized with each other and wait
// for the disk; Get never waits for the disk.
class OriginSettingsStore {
 public:
  // Loads every "<prefix><key>" record of `storage` (owned; nullptr: nothing is persisted) for which
  // `valid(key, value)` holds; the others are left on disk and ignored. Errors: the storage's read error.
  static absl::StatusOr<std::unique_ptr<OriginSettingsStore>> Open(
      std::unique_ptr<StorageBackend> storage,
      std::string prefix,
      absl::FunctionRef<bool(const std::string& key, const std::string& value)> valid);

  // Sets (or with nullopt removes) `key`'s value durably, then in memory; returns the value it had before.
  // Errors: the storage's write error (nothing changed).
  absl::StatusOr<std::optional<std::string>> Set(const std::string& key, std::optional<std::string> value);

  // The value of `key`, or nullopt.
  std::optional<std::string> Get(const std::string& key);

 private:
  OriginSettingsStore(std::unique_ptr<StorageBackend> storage, std::string prefix)
      : storage_(std::move(storage)), prefix_(std::move(prefix)) {}

  const std::unique_ptr<StorageBackend> storage_;
  const std::string prefix_;

  absl::Mutex write_mu_;  // serializes Set: disk order is memory order
  absl::Mutex mu_;        // taken after write_mu_, never across a write
  absl::flat_hash_map<std::string, std::string> values_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_ORIGIN_SETTINGS_STORE_H_
