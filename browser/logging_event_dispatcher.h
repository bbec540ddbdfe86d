// A SyncEventDispatcher decorator that records every dispatch and outcome in the EventLog.
#ifndef BROWSER_LOGGING_EVENT_DISPATCHER_H_
#define BROWSER_LOGGING_EVENT_DISPATCHER_H_

#include "absl/strings/str_cat.h"
#include "browser/event_log.h"
#include "components/background_sync/sync_event_dispatcher.h"

namespace bgsync {

// Thread-safety: as the wrapped dispatcher. Pointers are not owned and must outlive this.
class LoggingEventDispatcher : public SyncEventDispatcher {
 public:
  LoggingEventDispatcher(SyncEventDispatcher* inner, EventLog* log) : inner_(inner), log_(log) {}

  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override {
    log_->Append({0, absl::Time(), event.origin.Serialize(), event.sw_registration_id, "Dispatched sync event",
                  event.tag, absl::StrCat("lastChance=", event.last_chance ? "true" : "false")});
    inner_->DispatchSyncEvent(event, [this, event, done = std::move(done)](SyncEventOutcome outcome) mutable {
      log_->Append({0, absl::Time(), event.origin.Serialize(), event.sw_registration_id,
                    outcome == SyncEventOutcome::kCompleted ? "sync event completed" : "sync event failed", event.tag,
                    absl::StrCat("outcome=", SyncEventOutcomeName(outcome))});
      done(outcome);
    });
  }

 private:
  SyncEventDispatcher* const inner_;
  EventLog* const log_;
};

}  // namespace bgsync

#endif  // BROWSER_LOGGING_EVENT_DISPATCHER_H_
