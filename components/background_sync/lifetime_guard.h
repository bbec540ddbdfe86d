// Lets callbacks that may arrive from other threads at any time (timers, storage completions, event outcomes)
// reach an object only while it is alive, and lets the object's destructor wait until none is inside.
#ifndef COMPONENTS_BACKGROUND_SYNC_LIFETIME_GUARD_H_
#define COMPONENTS_BACKGROUND_SYNC_LIFETIME_GUARD_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread.
class LifetimeGuard {
 public:
  // Returns true, and counts the caller as inside, if the guarded object is alive. Pair with Exit().
  bool TryEnter() {
    absl::MutexLock lock(&mu_);
    if (!alive_)
      return false;
    ++inside_;
    return true;
  }
  void Exit() {
    absl::MutexLock lock(&mu_);
    --inside_;
  }
  // Marks the object dead and waits until no caller is inside. Must not be called from inside.
  void Invalidate() {
    absl::MutexLock lock(&mu_);
    alive_ = false;
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return inside_ == 0; };
    mu_.Await(absl::Condition(&idle));
  }

 private:
  absl::Mutex mu_;
  bool alive_ ABSL_GUARDED_BY(mu_) = true;
  int inside_ ABSL_GUARDED_BY(mu_) = 0;
};

// Runs fn() if the guarded object is still alive; returns whether it ran.
template <typename Fn>
bool RunIfAlive(const std::shared_ptr<LifetimeGuard>& guard, Fn&& fn) {
  if (!guard->TryEnter())
    return false;
  fn();
  guard->Exit();
  return true;
}

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_LIFETIME_GUARD_H_
