// bgsync_browser's PermissionController: Chromium's default policy ("background-sync" granted for potentially
// trustworthy origins, "periodic-background-sync" denied) with per-origin overrides set through the admin endpoint
// (or by an embedder, e.g. granting periodic sync to installed apps), kept across restarts.
//
// Key layout (all keys ASCII) in the store's own database (bgsync_browser opens `<profile>/Permissions`):
//   "p:background-sync:<serialized origin>"           -> "granted" | "denied"
//   "p:periodic-background-sync:<serialized origin>"  -> "granted" | "denied"
#ifndef BROWSER_PERMISSION_STORE_H_
#define BROWSER_PERMISSION_STORE_H_

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "browser/origin_settings_store.h"
#include "components/background_sync/permission_controller.h"
#include "components/background_sync/storage_backend.h"

namespace bgsync {

// "background-sync" (kOneShot) or "periodic-background-sync" (kPeriodic).
absl::string_view PermissionName(SyncType type);

// Thread-safety: every method may be called from any thread; Set waits for the disk, GetPermission never does.
class PermissionStore : public PermissionController {
 public:
  // Loads the stored overrides from `storage` (owned; nullptr: nothing is persisted). Unreadable records are left
  // on disk and ignored. Errors: the storage's read error.
  static absl::StatusOr<std::unique_ptr<PermissionStore>> Open(std::unique_ptr<StorageBackend> storage);

  // Sets the override of (origin, type), durably; nullopt restores the default policy. Revoking is the caller's
  // business (BackgroundSyncEngine::OnPermissionRevoked). Errors: the storage's write error (nothing changed).
  absl::Status Set(const Origin& origin, SyncType type, std::optional<PermissionStatus> status);

  // The override of (origin, type), if one is set.
  std::optional<PermissionStatus> GetOverride(const Origin& origin, SyncType type);

  // PermissionController: the override, else the default policy.
  PermissionStatus GetPermission(const Origin& origin, SyncType type) override;

 private:
  explicit PermissionStore(std::unique_ptr<OriginSettingsStore> settings) : settings_(std::move(settings)) {}

  DefaultPermissionController default_policy_;
  const std::unique_ptr<OriginSettingsStore> settings_;  // "<permission name>:<origin>" -> "granted" | "denied"
};

}  // namespace bgsync

#endif  // BROWSER_PERMISSION_STORE_H_
