#include "components/background_sync/operation_queues.h"

#include <utility>

namespace bgsync {

void OperationQueues::Post(int64_t key, Operation operation) {
  {
    absl::MutexLock lock(&mu_);
    queues_[key].operations.push_back(std::move(operation));
  }
  Pump(key);
}

// Runs the key's operations until one of them finishes asynchronously. The `pumping` flag marks the one frame
// that is running the key's operations: a synchronous finish (inside operation()) and a Post from elsewhere
// leave the work to that frame instead of starting another. `running` and `pumping` are read and written under
// mu_ on both sides, so an asynchronous finish on another thread always finds someone to continue.
void OperationQueues::Pump(int64_t key) {
  Operation next;
  {
    absl::MutexLock lock(&mu_);
    auto it = queues_.find(key);
    if (it == queues_.end() || it->second.pumping || it->second.running)
      return;
    if (!TakeNext(it->second, next)) {
      queues_.erase(it);
      return;
    }
  }
  while (true) {
    next([this, key] { OnFinished(key); });
    absl::MutexLock lock(&mu_);
    auto it = queues_.find(key);
    if (it->second.running) {
      it->second.pumping = false;
      return;
    }
    if (!TakeNext(it->second, next)) {
      queues_.erase(it);
      return;
    }
  }
}

bool OperationQueues::TakeNext(Queue& queue, Operation& next) {
  if (queue.operations.empty())
    return false;
  queue.pumping = true;
  queue.running = true;
  next = std::move(queue.operations.front());
  queue.operations.pop_front();
  return true;
}

void OperationQueues::OnFinished(int64_t key) {
  {
    absl::MutexLock lock(&mu_);
    Queue& queue = queues_[key];
    queue.running = false;
    if (queue.pumping)
      return;  // the pumping frame continues with the next operation
  }
  Pump(key);
}

void OperationQueues::WaitUntilIdle() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queues_.empty(); };
  mu_.Await(absl::Condition(&idle));
}

}  // namespace bgsync
