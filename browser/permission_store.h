// bgsync_browser's PermissionController: the default policy (granted for potentially trustworthy origins) with
// per-origin overrides set through the admin endpoint.
#ifndef BROWSER_PERMISSION_STORE_H_
#define BROWSER_PERMISSION_STORE_H_

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/permission_controller.h"

namespace bgsync {

// Thread-safety: every method may be called from any thread.
class PermissionStore : public PermissionController {
 public:
  // nullopt restores the default policy for (origin, type).
  void Set(const Origin& origin, SyncType type, std::optional<PermissionStatus> status) {
    absl::MutexLock lock(&mu_);
    if (status) {
      overrides_[{origin, type}] = *status;
    } else {
      overrides_.erase(std::make_pair(origin, type));
    }
  }

  PermissionStatus GetPermission(const Origin& origin, SyncType type) override {
    {
      absl::MutexLock lock(&mu_);
      auto it = overrides_.find(std::make_pair(origin, type));
      if (it != overrides_.end())
        return it->second;
    }
    return default_policy_.GetPermission(origin, type);
  }

 private:
  DefaultPermissionController default_policy_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<Origin, SyncType>, PermissionStatus> overrides_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_PERMISSION_STORE_H_
