// Delivers sync events to service workers. The browser's worker process host implements it.
#ifndef COMPONENTS_BACKGROUND_SYNC_SYNC_EVENT_DISPATCHER_H_
#define COMPONENTS_BACKGROUND_SYNC_SYNC_EVENT_DISPATCHER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "components/background_sync/sync_registration.h"
#include "public/origin.h"

namespace bgsync {

struct SyncEventRequest {
  int64_t sw_registration_id = 0;
  Origin origin;
  SyncType type = SyncType::kOneShot;
  std::string tag;
  bool last_chance = false;  // one-shot only: no retry follows a failure of this attempt
  absl::Time deadline;       // the event must settle by then; later outcomes are ignored
};

// One event of a batch, with the callback that gets its outcome.
struct SyncEventDispatch {
  SyncEventRequest request;
  absl::AnyInvocable<void(SyncEventOutcome)> done;
};

// Thread-safety: implementations must be callable from any thread.
class SyncEventDispatcher {
 public:
  virtual ~SyncEventDispatcher() = default;

  // Starts delivering `event` and calls `done` exactly once with the outcome, from any thread, possibly before
  // this returns. Failing to start the worker is reported as kDispatchFailed. The engine enforces the deadline
  // itself; a dispatcher should still stop a worker that overruns it.
  virtual void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) = 0;

  // DispatchSyncEvent for each of `events` (all of one service-worker registration), in order. A dispatcher may
  // hand them to the worker together; this default dispatches them one by one.
  virtual void DispatchSyncEvents(std::vector<SyncEventDispatch> events) {
    for (SyncEventDispatch& event : events)
      DispatchSyncEvent(event.request, std::move(event.done));
  }
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_SYNC_EVENT_DISPATCHER_H_
