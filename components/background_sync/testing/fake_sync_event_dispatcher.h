// A SyncEventDispatcher for tests: records each dispatched event; the test settles it when it likes.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_SYNC_EVENT_DISPATCHER_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_SYNC_EVENT_DISPATCHER_H_

#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/sync_event_dispatcher.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread.
class FakeSyncEventDispatcher : public SyncEventDispatcher {
 public:
  struct Dispatched {
    SyncEventRequest request;
    absl::AnyInvocable<void(SyncEventOutcome)> done;  // null once settled
  };

  // When set, every event is settled at once (inside DispatchSyncEvent) with this outcome.
  void SetAutoReply(std::optional<SyncEventOutcome> outcome) {
    absl::MutexLock lock(&mu_);
    auto_reply_ = outcome;
  }

  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override {
    std::optional<SyncEventOutcome> reply;
    {
      absl::MutexLock lock(&mu_);
      reply = auto_reply_;
      events_.push_back({event, reply ? nullptr : std::move(done)});
    }
    if (reply)
      done(*reply);
  }

  // Every event dispatched so far, oldest first.
  std::vector<SyncEventRequest> requests() {
    absl::MutexLock lock(&mu_);
    std::vector<SyncEventRequest> result;
    for (const Dispatched& d : events_)
      result.push_back(d.request);
    return result;
  }
  size_t count() {
    absl::MutexLock lock(&mu_);
    return events_.size();
  }
  // Number of dispatched events not yet settled by the test.
  size_t unsettled() {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const Dispatched& d : events_)
      n += d.done != nullptr;
    return n;
  }

  // Settles event `index` (in dispatch order) with `outcome`; a second settle of one event is a test bug.
  void Settle(size_t index, SyncEventOutcome outcome) {
    absl::AnyInvocable<void(SyncEventOutcome)> done;
    {
      absl::MutexLock lock(&mu_);
      done = std::move(events_.at(index).done);
      events_[index].done = nullptr;
    }
    done(outcome);
  }
  // Settles the most recent event.
  void SettleLast(SyncEventOutcome outcome) { Settle(count() - 1, outcome); }

 private:
  absl::Mutex mu_;
  std::vector<Dispatched> events_ ABSL_GUARDED_BY(mu_);
  std::optional<SyncEventOutcome> auto_reply_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_SYNC_EVENT_DISPATCHER_H_
