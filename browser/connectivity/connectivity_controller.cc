#include "browser/connectivity/connectivity_controller.h"

#include <utility>

namespace bgsync {

ConnectivityController::ConnectivityController(std::function<void()> on_maybe_online)
    : on_maybe_online_(std::move(on_maybe_online)) {}

bool ConnectivityController::IsOnline(int64_t sw_registration_id) {
  absl::MutexLock lock(&mu_);
  return BrowserOnline() && !emulated_offline_.contains(sw_registration_id);
}

NetworkStateProvider::OfflineReason ConnectivityController::GetOfflineReason(int64_t sw_registration_id) {
  absl::MutexLock lock(&mu_);
  if (override_ == Override::kForceOffline || (BrowserOnline() && emulated_offline_.contains(sw_registration_id)))
    return OfflineReason::kEmulatedOffline;
  if (!BrowserOnline())
    return emulated_offline_.contains(sw_registration_id) ? OfflineReason::kEmulatedOffline
                                                          : OfflineReason::kSystemOffline;
  return OfflineReason::kOnline;
}

void ConnectivityController::SetSystemOnline(bool online) {
  bool turned_online;
  {
    absl::MutexLock lock(&mu_);
    const bool was_online = BrowserOnline();
    system_online_ = online;
    turned_online = !was_online && BrowserOnline();
  }
  if (turned_online)
    on_maybe_online_();
}

void ConnectivityController::SetOverride(Override override) {
  bool turned_online;
  {
    absl::MutexLock lock(&mu_);
    const bool was_online = BrowserOnline();
    override_ = override;
    turned_online = !was_online && BrowserOnline();
  }
  if (turned_online)
    on_maybe_online_();
}

void ConnectivityController::EmulateServiceWorkerOffline(int64_t sw_registration_id) {
  absl::MutexLock lock(&mu_);
  ++emulated_offline_[sw_registration_id];
}

void ConnectivityController::StopEmulatingServiceWorkerOffline(int64_t sw_registration_id) {
  bool turned_online;
  {
    absl::MutexLock lock(&mu_);
    auto it = emulated_offline_.find(sw_registration_id);
    if (it == emulated_offline_.end())
      return;
    if (--it->second > 0)
      return;
    emulated_offline_.erase(it);
    turned_online = BrowserOnline();
  }
  if (turned_online)
    on_maybe_online_();
}

bool ConnectivityController::BrowserOnline() const {
  return override_ == Override::kForceOnline || (override_ == Override::kAuto && system_online_);
}

}  // namespace bgsync
