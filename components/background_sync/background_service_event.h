// What the engine reports to DevTools-style observers (Chrome DevTools' BackgroundService domain): one event per
// step of a registration's life, with Chromium's event names and metadata keys.
#ifndef COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SERVICE_EVENT_H_
#define COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SERVICE_EVENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "components/background_sync/sync_registration.h"
#include "public/origin.h"

namespace bgsync {

// The event names the engine emits. One-shot and periodic differ only in "sync" vs "periodicsync".
//   "Registered sync"                {}                       a Register stored a new or changed registration
//   "Registered periodicsync"        {minInterval}            the same for periodic (minInterval in ms)
//   "Got next event delay"           {Next Attempt Delay (ms)} periodic: when the next event is due, from now
//   "Dispatched sync event"          {Last Chance}            an attempt started ("Yes"/"No")
//   "Dispatched periodicsync event"  {}
//   "sync event completed"           {}                       the attempt's outcome ...
//   "sync event failed"              {Failure Reason, Next Attempt Delay (ms)} ... (the delay only if retried)
//   "periodicsync event completed" / "periodicsync event failed"
//   "Sync event reregistered"        {}                       registered again while its event was in flight
//   "Sync completed"                 {Status}                 a one-shot registration is gone: "succeeded"/"failed"
//   "Unregistered periodicsync"      {}                       PeriodicSyncManager.unregister removed it
struct BackgroundServiceEvent {
  absl::Time time;
  Origin origin;
  int64_t sw_registration_id = 0;
  SyncType service = SyncType::kOneShot;  // kOneShot: "backgroundSync"; kPeriodic: "periodicBackgroundSync"
  std::string event_name;
  std::string instance_id;  // the tag
  std::vector<std::pair<std::string, std::string>> metadata;
};

// DevTools' service names: "backgroundSync" and "periodicBackgroundSync".
absl::string_view BackgroundServiceName(SyncType type);

// Thread-safety: implementations must be callable from any thread; the engine calls them without holding its
// locks, in the order the steps happened for one registration.
class BackgroundSyncObserver {
 public:
  virtual ~BackgroundSyncObserver() = default;
  virtual void OnBackgroundServiceEvent(const BackgroundServiceEvent& event) = 0;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SERVICE_EVENT_H_
