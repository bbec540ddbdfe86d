// Per-service-worker-registration sequencing: operations posted under one key run one at a time, in posting
// order; operations under different keys never wait for each other (no global queue, unlike Chromium's
// BackgroundSyncOpScheduler).
#ifndef COMPONENTS_BACKGROUND_SYNC_OPERATION_QUEUES_H_
#define COMPONENTS_BACKGROUND_SYNC_OPERATION_QUEUES_H_

#include <cstdint>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread.
class OperationQueues {
 public:
  // Called when the operation has finished; the next one of its key may then start. Call exactly once.
  using Finish = absl::AnyInvocable<void()>;
  // An operation. It may finish synchronously or later from any thread.
  using Operation = absl::AnyInvocable<void(Finish)>;

  // Queues `operation` under `key`. If the key is idle, the operation runs now, on this thread, before Post
  // returns; otherwise it runs on the thread that finishes its predecessor. Never called with a lock held.
  void Post(int64_t key, Operation operation);

  // Blocks until no operation is queued or running under any key.
  void WaitUntilIdle();

 private:
  struct Queue {
    std::deque<Operation> operations;
    bool running = false;  // an operation has started and not finished
    bool pumping = false;  // some thread is inside Pump() for this key
  };

  void Pump(int64_t key);
  // Marks `queue` running and moves its first operation to `next`; false if it has none.
  static bool TakeNext(Queue& queue, Operation& next);
  void OnFinished(int64_t key);

  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, Queue> queues_ ABSL_GUARDED_BY(mu_);  // only non-idle keys
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_OPERATION_QUEUES_H_
