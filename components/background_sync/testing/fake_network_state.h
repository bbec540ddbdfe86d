// A NetworkStateProvider for tests: online or offline as the test sets it, globally or per service worker.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_NETWORK_STATE_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_NETWORK_STATE_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/network_state_provider.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread. Setting the state does not notify the engine; the
// test calls BackgroundSyncEngine::OnNetworkChanged() as the browser's monitor would.
class FakeNetworkState : public NetworkStateProvider {
 public:
  explicit FakeNetworkState(bool online = true) : online_(online) {}

  bool IsOnline(int64_t sw_registration_id) override {
    absl::MutexLock lock(&mu_);
    ++queries_;
    return online_ && !offline_service_workers_.contains(sw_registration_id);
  }
  // A service worker set offline with SetServiceWorkerOffline counts as emulated offline (as DevTools does).
  OfflineReason GetOfflineReason(int64_t sw_registration_id) override {
    absl::MutexLock lock(&mu_);
    if (offline_service_workers_.contains(sw_registration_id))
      return OfflineReason::kEmulatedOffline;
    return online_ ? OfflineReason::kOnline : OfflineReason::kSystemOffline;
  }
  void SetOnline(bool online) {
    absl::MutexLock lock(&mu_);
    online_ = online;
  }
  void SetServiceWorkerOffline(int64_t sw_registration_id, bool offline) {
    absl::MutexLock lock(&mu_);
    if (offline) {
      offline_service_workers_.insert(sw_registration_id);
    } else {
      offline_service_workers_.erase(sw_registration_id);
    }
  }
  int queries() {
    absl::MutexLock lock(&mu_);
    return queries_;
  }

 private:
  absl::Mutex mu_;
  bool online_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int64_t> offline_service_workers_ ABSL_GUARDED_BY(mu_);
  int queries_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_NETWORK_STATE_H_
