// The embedder's permission and policy decisions for Background Sync.
#ifndef COMPONENTS_BACKGROUND_SYNC_PERMISSION_CONTROLLER_H_
#define COMPONENTS_BACKGROUND_SYNC_PERMISSION_CONTROLLER_H_

#include "components/background_sync/sync_registration.h"
#include "public/origin.h"

namespace bgsync {

enum class PermissionStatus { kGranted, kDenied };

// Thread-safety: implementations must be callable from any thread.
class PermissionController {
 public:
  virtual ~PermissionController() = default;

  // The "background-sync" (kOneShot) or "periodic-background-sync" (kPeriodic) permission of `origin`.
  virtual PermissionStatus GetPermission(const Origin& origin, SyncType type) = 0;
};

// The default policy, Chromium's: "background-sync" is granted for potentially trustworthy origins (https, http
// on loopback) and denied otherwise; "periodic-background-sync" is denied until the embedder grants it (Chrome
// grants it to installed web apps).
class DefaultPermissionController : public PermissionController {
 public:
  PermissionStatus GetPermission(const Origin& origin, SyncType type) override {
    if (type == SyncType::kPeriodic)
      return PermissionStatus::kDenied;
    return origin.IsPotentiallyTrustworthy() ? PermissionStatus::kGranted : PermissionStatus::kDenied;
  }
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_PERMISSION_CONTROLLER_H_
