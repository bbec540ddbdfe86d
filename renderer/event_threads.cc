#include "renderer/event_threads.h"

#include <system_error>
#include <thread>
#include <utility>

namespace bgsync {

std::shared_ptr<EventThreads> EventThreads::Create(absl::Duration idle_timeout) {
  return std::shared_ptr<EventThreads>(new EventThreads(idle_timeout));
}

bool EventThreads::Run(absl::AnyInvocable<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    if (idle_ > static_cast<int>(handed_.size())) {
      handed_.push_back(std::move(task));
      return true;
    }
  }
  try {
    std::thread([self = shared_from_this(), task = std::move(task)]() mutable {
      self->Loop(std::move(task));
    }).detach();
  } catch (const std::system_error&) {
    return false;
  }
  return true;
}

int EventThreads::idle_threads() {
  absl::MutexLock lock(&mu_);
  return idle_ - static_cast<int>(handed_.size());
}

void EventThreads::Loop(absl::AnyInvocable<void()> first) {
  absl::AnyInvocable<void()> task = std::move(first);
  while (true) {
    task();
    task = nullptr;  // what it captured goes now, not when the next task comes
    absl::MutexLock lock(&mu_);
    ++idle_;
    auto handed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !handed_.empty(); };
    const bool woken = mu_.AwaitWithTimeout(absl::Condition(&handed), idle_timeout_);
    --idle_;
    if (!woken)
      return;  // nothing was handed to it: Run counts on the threads still idle
    task = std::move(handed_.front());
    handed_.pop_front();
  }
}

}  // namespace bgsync
