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
  absl::StatusOr<std::unique_ptr<OriginSettingsStore>> settings = OriginSettingsStore::Open(
      std::move(storage), kOriginPrefix, [](const std::string& key, const std::string& value) {
        return Origin::Parse(key).ok() && ParseEngagementLevel(value).has_value();
      });
  if (!settings.ok())
    return settings.status();
  return std::unique_ptr<EngagementStore>(new EngagementStore(*std::move(settings)));
}

void EngagementStore::SetChangeObserver(ChangeObserver observer) {
  absl::MutexLock lock(&mu_);
  observer_ = std::move(observer);
}

absl::Status EngagementStore::Set(const Origin& origin, std::optional<EngagementLevel> level) {
  std::optional<std::string> value;
  if (level)
    value = std::string(EngagementLevelName(*level));
  absl::StatusOr<std::optional<std::string>> before = settings_->Set(origin.Serialize(), std::move(value));
  if (!before.ok())
    return before.status();
  const EngagementLevel was = (*before ? ParseEngagementLevel(**before) : std::nullopt).value_or(kDefaultLevel);
  if (level.value_or(kDefaultLevel) == was)
    return absl::OkStatus();
  ChangeObserver observer;
  {
    absl::MutexLock lock(&mu_);
    observer = observer_;
  }
  if (observer)
    observer(origin);
  return absl::OkStatus();
}

std::optional<EngagementLevel> EngagementStore::GetOverride(const Origin& origin) {
  std::optional<std::string> value = settings_->Get(origin.Serialize());
  return value ? ParseEngagementLevel(*value) : std::nullopt;
}

EngagementLevel EngagementStore::GetEngagementLevel(const Origin& origin) {
  return GetOverride(origin).value_or(kDefaultLevel);
}

}  // namespace bgsync
