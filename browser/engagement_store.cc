#include "browser/engagement_store.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bgsync {
namespace {

constexpr char kOriginPrefix[] = "e:origin:";

constexpr EngagementLevel kLevels[] = {EngagementLevel::kNone, EngagementLevel::kMinimal, EngagementLevel::kLow,
                                       EngagementLevel::kMedium, EngagementLevel::kHigh};

}  // namespace

std::optional<EngagementLevel> ParseEngagementLevel(absl::string_view name) {
  for (EngagementLevel level : kLevels) {
    if (EngagementLevelName(level) == name)
      return level;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<EngagementStore>> EngagementStore::Open(std::unique_ptr<StorageBackend> storage) {
  std::unique_ptr<EngagementStore> store(new EngagementStore(std::move(storage)));
  if (!store->storage_)
    return store;
  absl::StatusOr<StorageBackend::KeyValues> stored = store->storage_->ReadPrefix(kOriginPrefix);
  if (!stored.ok())
    return stored.status();
  absl::MutexLock lock(&store->mu_);
  for (const auto& [key, value] : *stored) {
    absl::StatusOr<Origin> origin = Origin::Parse(absl::string_view(key).substr(std::string(kOriginPrefix).size()));
    std::optional<EngagementLevel> level = ParseEngagementLevel(value);
    if (origin.ok() && level)
      store->levels_[*origin] = *level;
  }
  return store;
}

void EngagementStore::SetChangeObserver(ChangeObserver observer) {
  absl::MutexLock lock(&mu_);
  observer_ = std::move(observer);
}

absl::Status EngagementStore::Set(const Origin& origin, std::optional<EngagementLevel> level) {
  ChangeObserver observer;
  {
    absl::MutexLock write_lock(&write_mu_);
    const EngagementLevel before = GetEngagementLevel(origin);
    if (storage_) {
      StorageBatch batch;
      const std::string key = absl::StrCat(kOriginPrefix, origin.Serialize());
      if (level) {
        batch.Put(key, std::string(EngagementLevelName(*level)));
      } else {
        batch.Delete(key);
      }
      if (absl::Status status = CommitAndWait(*storage_, std::move(batch), Durability::kDurable); !status.ok())
        return status;
    }
    absl::MutexLock lock(&mu_);
    if (level) {
      levels_[origin] = *level;
    } else {
      levels_.erase(origin);
    }
    if (level.value_or(kDefaultLevel) == before)
      return absl::OkStatus();
    observer = observer_;
  }
  if (observer)
    observer(origin);
  return absl::OkStatus();
}

std::optional<EngagementLevel> EngagementStore::GetOverride(const Origin& origin) {
  absl::MutexLock lock(&mu_);
  auto it = levels_.find(origin);
  if (it == levels_.end())
    return std::nullopt;
  return it->second;
}

EngagementLevel EngagementStore::GetEngagementLevel(const Origin& origin) {
  return GetOverride(origin).value_or(kDefaultLevel);
}

}  // namespace bgsync
