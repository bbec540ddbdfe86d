// The engine's view of connectivity (spec.md decision 8 defines "online"; the browser's netlink monitor and
// DevTools-style emulation implement it).
#ifndef COMPONENTS_BACKGROUND_SYNC_NETWORK_STATE_PROVIDER_H_
#define COMPONENTS_BACKGROUND_SYNC_NETWORK_STATE_PROVIDER_H_

#include <cstdint>

namespace bgsync {

// Thread-safety: implementations must be callable from any thread.
class NetworkStateProvider {
 public:
  virtual ~NetworkStateProvider() = default;

  // True if sync events for `sw_registration_id` may be dispatched now. The engine asks when it decides to fire
  // and again just before it dispatches; when the answer may have turned true, the embedder calls
  // BackgroundSyncEngine::OnNetworkChanged().
  virtual bool IsOnline(int64_t sw_registration_id) = 0;

  // Why IsOnline(sw_registration_id) is false, for tools: the system is offline, or the service worker (or the
  // whole browser) is emulated offline. kOnline when it is true.
  enum class OfflineReason { kOnline, kSystemOffline, kEmulatedOffline };
  virtual OfflineReason GetOfflineReason(int64_t sw_registration_id) {
    return IsOnline(sw_registration_id) ? OfflineReason::kOnline : OfflineReason::kSystemOffline;
  }
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_NETWORK_STATE_PROVIDER_H_
