// A Clock for tests: time moves only when the test says, and due timers run on the test's thread, in deadline
// order. No test ever sleeps.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_CLOCK_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_CLOCK_H_

#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/clock.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread; timers run inside Advance()/RunDueTimers().
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000)) : now_(start) {}

  absl::Time Now() override;
  TimerId PostAt(absl::Time when, absl::AnyInvocable<void()> task) override;
  void Cancel(TimerId id) override;

  // Moves time forward by `delta`, running every timer that becomes due, each with Now() at its deadline.
  void Advance(absl::Duration delta);
  // Runs the timers that are due now (those posted for the past or present).
  void RunDueTimers() { Advance(absl::ZeroDuration()); }
  // Sets the time without running timers (a wall-clock step, or the start of a "restarted" browser).
  void SetNow(absl::Time now);

  // Deadline of the earliest pending timer, or InfiniteFuture.
  absl::Time NextTimerTime();
  size_t PendingTimers();

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  TimerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::pair<absl::Time, TimerId>, absl::AnyInvocable<void()>> timers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_CLOCK_H_
