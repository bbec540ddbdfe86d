// The real Clock: absl::Now() and one timer thread.
#ifndef COMPONENTS_BACKGROUND_SYNC_SYSTEM_CLOCK_H_
#define COMPONENTS_BACKGROUND_SYNC_SYSTEM_CLOCK_H_

#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/clock.h"

namespace bgsync {

// Runs timers on its own thread, in deadline order. Timers are measured against the wall clock and re-checked
// whenever the thread wakes, so a clock step (or a suspend) makes overdue timers run at once.
// Thread-safety: every method may be called from any thread, including from a timer task.
class SystemClock : public Clock {
 public:
  SystemClock();
  // Joins the timer thread; timers that have not run are dropped.
  ~SystemClock() override;

  absl::Time Now() override;
  TimerId PostAt(absl::Time when, absl::AnyInvocable<void()> task) override;
  void Cancel(TimerId id) override;

 private:
  void Run();

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  TimerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // (deadline, id) -> task; the id keeps equal deadlines in posting order.
  std::map<std::pair<absl::Time, TimerId>, absl::AnyInvocable<void()>> timers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<TimerId, absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // constant after construction
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_SYSTEM_CLOCK_H_
