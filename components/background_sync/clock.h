// The engine's view of time: the wall clock and one-shot timers. Everything time-based in the engine goes through
// this seam, so tests drive it with FakeClock (testing/fake_clock.h) and never sleep.
#ifndef COMPONENTS_BACKGROUND_SYNC_CLOCK_H_
#define COMPONENTS_BACKGROUND_SYNC_CLOCK_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace bgsync {

using TimerId = uint64_t;  // 0 is never a valid id

// Thread-safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current wall-clock time.
  virtual absl::Time Now() = 0;

  // Runs `task` once, no earlier than `when` (a time in the past means "soon"), on a thread of the clock's
  // choosing and never inside this call. Returns an id for Cancel. The clock must outlive every timer it runs.
  virtual TimerId PostAt(absl::Time when, absl::AnyInvocable<void()> task) = 0;

  // Stops the timer `id` from running if it has not started. Does not wait for a task that is running now;
  // unknown or finished ids are ignored.
  virtual void Cancel(TimerId id) = 0;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_CLOCK_H_
