#include "browser/permission_store.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bgsync {
namespace {

constexpr char kPrefix[] = "p:";
constexpr char kGranted[] = "granted";
constexpr char kDenied[] = "denied";

std::string SettingKey(const Origin& origin, SyncType type) {
  return absl::StrCat(PermissionName(type), ":", origin.Serialize());
}

bool IsValidRecord(const std::string& key, const std::string& value) {
  if (value != kGranted && value != kDenied)
    return false;
  for (SyncType type : {SyncType::kOneShot, SyncType::kPeriodic}) {
    const std::string name = absl::StrCat(PermissionName(type), ":");
    if (key.compare(0, name.size(), name) == 0)
      return Origin::Parse(absl::string_view(key).substr(name.size())).ok();
  }
  return false;
}

}  // namespace

absl::string_view PermissionName(SyncType type) {
  return type == SyncType::kOneShot ? "background-sync" : "periodic-background-sync";
}

absl::StatusOr<std::unique_ptr<PermissionStore>> PermissionStore::Open(std::unique_ptr<StorageBackend> storage) {
  absl::StatusOr<std::unique_ptr<OriginSettingsStore>> settings =
      OriginSettingsStore::Open(std::move(storage), kPrefix, IsValidRecord);
  if (!settings.ok())
    return settings.status();
  return std::unique_ptr<PermissionStore>(new PermissionStore(*std::move(settings)));
}

absl::Status PermissionStore::Set(const Origin& origin, SyncType type, std::optional<PermissionStatus> status) {
  std::optional<std::string> value;
  if (status)
    value = *status == PermissionStatus::kGranted ? kGranted : kDenied;
  return settings_->Set(SettingKey(origin, type), std::move(value)).status();
}

std::optional<PermissionStatus> PermissionStore::GetOverride(const Origin& origin, SyncType type) {
  std::optional<std::string> value = settings_->Get(SettingKey(origin, type));
  if (!value)
    return std::nullopt;
  return *value == kGranted ? PermissionStatus::kGranted : PermissionStatus::kDenied;
}

PermissionStatus PermissionStore::GetPermission(const Origin& origin, SyncType type) {
  return GetOverride(origin, type).value_or(default_policy_.GetPermission(origin, type));
}

}  // namespace bgsync
