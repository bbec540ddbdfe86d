// The browser's NetworkStateProvider: the system's connectivity (as NetlinkNetworkMonitor reports it) combined
// with DevTools-style emulation, browser-wide and per service-worker registration (spec.md decision 8).
#ifndef BROWSER_CONNECTIVITY_CONNECTIVITY_CONTROLLER_H_
#define BROWSER_CONNECTIVITY_CONNECTIVITY_CONTROLLER_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/network_state_provider.h"

namespace bgsync {

// IsOnline(id) is true when the service-worker registration `id` is not emulated offline, and the browser-wide
// override is kForceOnline, or it is kAuto and the system is online.
//
// Thread-safety: every method may be called from any thread, including from `on_maybe_online`.
class ConnectivityController : public NetworkStateProvider {
 public:
  // Browser-wide emulation, as DevTools' network conditions.
  enum class Override {
    kAuto,          // follow the system
    kForceOffline,  // offline whatever the system says
    kForceOnline,   // online whatever the system says
  };

  // Starts with the system offline and no emulation. `on_maybe_online` must not be empty. It is called, with no
  // lock held and on the thread whose call caused it, each time some service worker's IsOnline() may have turned
  // from false to true — never when answers can only have turned false or stayed the same. Calls may overlap
  // when callers do. The browser passes BackgroundSyncEngine::OnNetworkChanged; the controller must outlive
  // whatever calls it.
  explicit ConnectivityController(std::function<void()> on_maybe_online);

  ConnectivityController(const ConnectivityController&) = delete;
  ConnectivityController& operator=(const ConnectivityController&) = delete;

  bool IsOnline(int64_t sw_registration_id) override;
  // kEmulatedOffline when the browser is forced offline or the service worker is emulated offline (DevTools),
  // kSystemOffline when the system is offline and nothing forces it online.
  OfflineReason GetOfflineReason(int64_t sw_registration_id) override;

  // The system's state, from NetlinkNetworkMonitor. Repeating the current state changes nothing.
  void SetSystemOnline(bool online);

  void SetOverride(Override override);

  // Emulates `sw_registration_id` offline until each call has been matched by StopEmulatingServiceWorkerOffline
  // (several DevTools sessions may emulate the same service worker).
  void EmulateServiceWorkerOffline(int64_t sw_registration_id);
  // Ends one EmulateServiceWorkerOffline for `sw_registration_id`. A call with none outstanding is ignored.
  void StopEmulatingServiceWorkerOffline(int64_t sw_registration_id);

 private:
  bool BrowserOnline() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<void()> on_maybe_online_;

  absl::Mutex mu_;
  bool system_online_ ABSL_GUARDED_BY(mu_) = false;
  Override override_ ABSL_GUARDED_BY(mu_) = Override::kAuto;
  // Service-worker registration id → outstanding EmulateServiceWorkerOffline calls (only ids with some).
  absl::flat_hash_map<int64_t, int> emulated_offline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_CONNECTIVITY_CONNECTIVITY_CONTROLLER_H_
