// The threads a service worker's global scope runs its events on. Every task gets a thread of its own — a slow
// handler or waitUntil() never holds up another event — but a thread whose task has finished waits a while for the
// next one instead of exiting: under a burst of events, creating and destroying a thread per event costs more than
// the event itself.
//
// Thread-safety: Run may be called from any thread. Owned through a shared_ptr: every thread it starts holds one,
// so the pool lives until its last thread has exited.
#ifndef RENDERER_EVENT_THREADS_H_
#define RENDERER_EVENT_THREADS_H_

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace bgsync {

class EventThreads : public std::enable_shared_from_this<EventThreads> {
 public:
  // Threads idle for `idle_timeout` exit.
  static std::shared_ptr<EventThreads> Create(absl::Duration idle_timeout = absl::Seconds(10));
  EventThreads(const EventThreads&) = delete;
  EventThreads& operator=(const EventThreads&) = delete;

  // Runs `task` at once on an idle thread, or on a new one when none is idle; never queues it behind another task.
  // The task (and what it captured) is destroyed on that thread when it returns. Returns false, with `task`
  // destroyed unrun, if a thread was needed and could not be created.
  bool Run(absl::AnyInvocable<void()> task);

  // Threads that have finished a task and wait for another (for tests).
  int idle_threads();

 private:
  explicit EventThreads(absl::Duration idle_timeout) : idle_timeout_(idle_timeout) {}
  // A thread's life: `first`, then whatever Run hands it, until it has been idle for idle_timeout_.
  void Loop(absl::AnyInvocable<void()> first);

  const absl::Duration idle_timeout_;

  absl::Mutex mu_;
  // Handed to idle threads, not taken yet. Never longer than idle_: every task in it has a thread waiting for it.
  std::deque<absl::AnyInvocable<void()>> handed_ ABSL_GUARDED_BY(mu_);
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace bgsync

#endif  // RENDERER_EVENT_THREADS_H_
