// A BackgroundSyncObserver that keeps every event, for tests.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_RECORDING_OBSERVER_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_RECORDING_OBSERVER_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/background_service_event.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread.
class RecordingObserver : public BackgroundSyncObserver {
 public:
  void OnBackgroundServiceEvent(const BackgroundServiceEvent& event) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
  }
  std::vector<BackgroundServiceEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // The event names, in order.
  std::vector<std::string> names() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> result;
    for (const BackgroundServiceEvent& e : events_)
      result.push_back(e.event_name);
    return result;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    events_.clear();
  }

 private:
  absl::Mutex mu_;
  std::vector<BackgroundServiceEvent> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_RECORDING_OBSERVER_H_
