#include "components/background_sync/testing/fake_clock.h"

namespace bgsync {

absl::Time FakeClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

TimerId FakeClock::PostAt(absl::Time when, absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  TimerId id = next_id_++;
  timers_.emplace(std::make_pair(when, id), std::move(task));
  return id;
}

void FakeClock::Cancel(TimerId id) {
  absl::MutexLock lock(&mu_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->first.second == id) {
      timers_.erase(it);
      return;
    }
  }
}

void FakeClock::Advance(absl::Duration delta) {
  absl::MutexLock lock(&mu_);
  const absl::Time target = now_ + delta;
  while (!timers_.empty() && timers_.begin()->first.first <= target) {
    auto node = timers_.extract(timers_.begin());
    if (node.key().first > now_)
      now_ = node.key().first;
    mu_.Unlock();
    node.mapped()();
    mu_.Lock();
  }
  now_ = target;
}

void FakeClock::SetNow(absl::Time now) {
  absl::MutexLock lock(&mu_);
  now_ = now;
}

absl::Time FakeClock::NextTimerTime() {
  absl::MutexLock lock(&mu_);
  return timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
}

size_t FakeClock::PendingTimers() {
  absl::MutexLock lock(&mu_);
  return timers_.size();
}

}  // namespace bgsync
