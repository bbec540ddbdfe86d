// A ServiceWorkerRegistryView for tests: registrations and open windows as the test declares them.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_SERVICE_WORKER_REGISTRY_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_SERVICE_WORKER_REGISTRY_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/permission_controller.h"
#include "components/background_sync/service_worker_registry_view.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread.
class FakeServiceWorkerRegistry : public ServiceWorkerRegistryView {
 public:
  // Adds (or replaces) a registration. By default it has an active worker and its origin has an open window.
  void Add(int64_t id, const Origin& origin, bool active = true, bool window = true) {
    absl::MutexLock lock(&mu_);
    registrations_[id] = {id, origin, active};
    if (window)
      ++windows_[origin];
  }
  void Remove(int64_t id) {
    absl::MutexLock lock(&mu_);
    registrations_.erase(id);
  }
  void SetActive(int64_t id, bool active) {
    absl::MutexLock lock(&mu_);
    registrations_[id].has_active_worker = active;
  }
  void SetWindowOpen(const Origin& origin, bool open) {
    absl::MutexLock lock(&mu_);
    windows_[origin] = open ? 1 : 0;
  }

  std::optional<ServiceWorkerRegistrationInfo> Find(int64_t id) override {
    absl::MutexLock lock(&mu_);
    auto it = registrations_.find(id);
    if (it == registrations_.end())
      return std::nullopt;
    return it->second;
  }
  bool HasTopLevelWindowClient(const Origin& origin) override {
    absl::MutexLock lock(&mu_);
    auto it = windows_.find(origin);
    return it != windows_.end() && it->second > 0;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, ServiceWorkerRegistrationInfo> registrations_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Origin, int> windows_ ABSL_GUARDED_BY(mu_);
};

// A PermissionController whose answer the test sets per origin (default: granted).
class FakePermissionController : public PermissionController {
 public:
  void Set(const Origin& origin, SyncType type, PermissionStatus status) {
    absl::MutexLock lock(&mu_);
    overrides_[{origin, type}] = status;
  }
  PermissionStatus GetPermission(const Origin& origin, SyncType type) override {
    absl::MutexLock lock(&mu_);
    auto it = overrides_.find(std::make_pair(origin, type));
    return it == overrides_.end() ? PermissionStatus::kGranted : it->second;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<Origin, SyncType>, PermissionStatus> overrides_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_SERVICE_WORKER_REGISTRY_H_
