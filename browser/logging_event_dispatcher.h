// What feeds Background Sync's entries into the browser's EventLog: the engine's DevTools events (LoggingObserver)
// and DevTools-style direct dispatches, which bypass the engine (LoggingEventDispatcher).
#ifndef BROWSER_LOGGING_EVENT_DISPATCHER_H_
#define BROWSER_LOGGING_EVENT_DISPATCHER_H_

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "browser/event_log.h"
#include "components/background_sync/background_service_event.h"
#include "components/background_sync/sync_event_dispatcher.h"

namespace bgsync {

// Appends every engine event to the EventLog (event name, origin, sw, tag; the metadata as "Key=value, ...") and
// forwards it to `next`, if any.
//
// Thread-safety: callable from any thread, as BackgroundSyncObserver requires. Pointers are not owned and must
// outlive this.
class LoggingObserver : public BackgroundSyncObserver {
 public:
  LoggingObserver(EventLog* log, BackgroundSyncObserver* next) : log_(log), next_(next) {}

  void OnBackgroundServiceEvent(const BackgroundServiceEvent& event) override {
    std::string detail;
    for (const auto& [key, value] : event.metadata)
      absl::StrAppend(&detail, detail.empty() ? "" : ", ", key, "=", value);
    log_->Append({0, event.time, event.origin.Serialize(), event.sw_registration_id, event.event_name,
                  event.instance_id, std::move(detail)});
    if (next_)
      next_->OnBackgroundServiceEvent(event);
  }

 private:
  EventLog* const log_;
  BackgroundSyncObserver* const next_;
};

// A SyncEventDispatcher decorator for events dispatched directly, outside the engine (DevTools'
// dispatchSyncEvent and dispatchPeriodicSyncEvent): logs "DevTools dispatched sync event" (or "... periodicsync
// event") and the outcome ("DevTools sync event completed" / "... failed"). The engine's own dispatches are
// logged by LoggingObserver instead.
//
// Thread-safety: as the wrapped dispatcher. Pointers are not owned and must outlive this.
class LoggingEventDispatcher : public SyncEventDispatcher {
 public:
  LoggingEventDispatcher(SyncEventDispatcher* inner, EventLog* log) : inner_(inner), log_(log) {}

  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override {
    const std::string word = event.type == SyncType::kPeriodic ? "periodicsync" : "sync";
    log_->Append(
        {0, absl::Time(), event.origin.Serialize(), event.sw_registration_id,
         absl::StrCat("DevTools dispatched ", word, " event"), event.tag,
         event.type == SyncType::kPeriodic ? "" : absl::StrCat("Last Chance=", event.last_chance ? "Yes" : "No")});
    inner_->DispatchSyncEvent(event, [this, event, word, done = std::move(done)](SyncEventOutcome outcome) mutable {
      log_->Append(
          {0, absl::Time(), event.origin.Serialize(), event.sw_registration_id,
           absl::StrCat("DevTools ", word, " event ", outcome == SyncEventOutcome::kCompleted ? "completed" : "failed"),
           event.tag, absl::StrCat("outcome=", SyncEventOutcomeName(outcome))});
      done(outcome);
    });
  }

 private:
  SyncEventDispatcher* const inner_;
  EventLog* const log_;
};

}  // namespace bgsync

#endif  // BROWSER_LOGGING_EVENT_DISPATCHER_H_
