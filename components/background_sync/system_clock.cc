#include "components/background_sync/system_clock.h"

namespace bgsync {

SystemClock::SystemClock() : thread_([this] { Run(); }) {}

SystemClock::~SystemClock() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Time SystemClock::Now() {
  return absl::Now();
}

TimerId SystemClock::PostAt(absl::Time when, absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  TimerId id = next_id_++;
  timers_.emplace(std::make_pair(when, id), std::move(task));
  deadlines_.emplace(id, when);
  return id;
}

void SystemClock::Cancel(TimerId id) {
  absl::MutexLock lock(&mu_);
  auto it = deadlines_.find(id);
  if (it == deadlines_.end())
    return;
  timers_.erase(std::make_pair(it->second, id));
  deadlines_.erase(it);
}

void SystemClock::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time now = absl::Now();
    if (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      deadlines_.erase(node.key().second);
      mu_.Unlock();
      node.mapped()();
      mu_.Lock();
      continue;
    }
    // Wake at the next deadline, on a new timer, or at least once a second to notice wall-clock steps.
    absl::Time wake = now + absl::Seconds(1);
    if (!timers_.empty() && timers_.begin()->first.first < wake)
      wake = timers_.begin()->first.first;
    // Only a timer due before `wake` changes the plan: waking for every PostAt and Cancel would cost a context switch
    // per timer operation (several per sync event).
    auto earlier = [this, wake]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || (!timers_.empty() && timers_.begin()->first.first < wake);
    };
    mu_.AwaitWithDeadline(absl::Condition(&earlier), wake);
  }
}

}  // namespace bgsync
