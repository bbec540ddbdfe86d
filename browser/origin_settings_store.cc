#include "browser/origin_settings_store.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace bgsync {

absl::StatusOr<std::unique_ptr<OriginSettingsStore>> OriginSettingsStore::Open(
    std::unique_ptr<StorageBackend> storage,
    std::string prefix,
    absl::FunctionRef<bool(const std::string& key, const std::string& value)> valid) {
  std::unique_ptr<OriginSettingsStore> store(new OriginSettingsStore(std::move(storage), std::move(prefix)));
  if (!store->storage_)
    return store;
  absl::StatusOr<StorageBackend::KeyValues> stored = store->storage_->ReadPrefix(store->prefix_);
  if (!stored.ok())
    return stored.status();
  absl::MutexLock lock(&store->mu_);
  for (const auto& [full_key, value] : *stored) {
    std::string key = full_key.substr(store->prefix_.size());
    if (valid(key, value))
      store->values_[std::move(key)] = value;
  }
  return store;
}

absl::StatusOr<std::optional<std::string>> OriginSettingsStore::Set(const std::string& key,
                                                                    std::optional<std::string> value) {
  absl::MutexLock write_lock(&write_mu_);
  if (storage_) {
    StorageBatch batch;
    if (value) {
      batch.Put(absl::StrCat(prefix_, key), *value);
    } else {
      batch.Delete(absl::StrCat(prefix_, key));
    }
    if (absl::Status status = CommitAndWait(*storage_, std::move(batch), Durability::kDurable); !status.ok())
      return status;
  }
  absl::MutexLock lock(&mu_);
  std::optional<std::string> before;
  if (auto it = values_.find(key); it != values_.end())
    before = std::move(it->second);
  if (value) {
    values_[key] = *std::move(value);
  } else {
    values_.erase(key);
  }
  return before;
}

std::optional<std::string> OriginSettingsStore::Get(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = values_.find(key);
  if (it == values_.end())
    return std::nullopt;
  return it->second;
}

}  // namespace bgsync
