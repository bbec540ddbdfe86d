// The per-session rate limit of the renderer-facing services (reliability.md P5): a token bucket per session, so
// that one flooding renderer is refused cheaply instead of taking the browser's time from the others. Refusals are
// answered after a delay (a tarpit): a flooder's calls in flight, capped per connection by the stream limit, then
// bound how fast it can call at all.
#ifndef SERVICES_BACKGROUND_SYNC_SESSION_RATE_LIMITER_H_
#define SERVICES_BACKGROUND_SYNC_SESSION_RATE_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "components/background_sync/clock.h"
#include "grpcpp/support/status.h"
#include "services/background_sync/session_registry.h"

namespace grpc {
class ServerUnaryReactor;
}

namespace bgsync {

struct RateLimit {
  // Calls a session may make per second, sustained. 0 turns the limit off.
  double calls_per_second = 100;
  // Calls a session may make at once after being quiet (the bucket's size). >= 1 when the limit is on.
  double burst = 200;
  // How long a refused call waits for its RESOURCE_EXHAUSTED. Zero answers at once.
  absl::Duration refusal_delay = absl::Milliseconds(250);
};

// Thread-safety: every method may be called from any thread. `clock` is not owned and must outlive this.
class SessionRateLimiter {
 public:
  // `log` (may be empty) gets one line the first time each session is refused, not one per refused call.
  SessionRateLimiter(Clock* clock, RateLimit limit, std::function<void(const std::string&)> log = nullptr)
      : clock_(clock), limit_(limit), log_(std::move(log)) {}
  // StopDelaying().
  ~SessionRateLimiter();

  // Takes one call's token from the session's bucket (full for a session not seen before). Returns false when the
  // bucket is empty: the call must be refused (RESOURCE_EXHAUSTED with RefusalMessage()), and it is counted.
  bool TryAcquire(const Session& session);

  // Finishes a call TryAcquire refused with RESOURCE_EXHAUSTED and RefusalMessage(), limit().refusal_delay from
  // now (on the limiter's own thread, which is started on the first delayed refusal).
  void Refuse(grpc::ServerUnaryReactor* reactor);

  // Answers every refusal still held back, at once, and every later one at once too. Call before the gRPC server
  // that owns the refused calls shuts down.
  void StopDelaying();

  // The session ended: its bucket is dropped (so memory follows the live sessions).
  void Forget(uint64_t session_id);

  // The message of a refused call's RESOURCE_EXHAUSTED status.
  std::string RefusalMessage() const;

  const RateLimit& limit() const { return limit_; }
  // Calls refused so far, over all sessions.
  int64_t refused() const { return refused_.load(); }
  // Sessions with a bucket (for tests of the memory bound).
  size_t tracked_sessions();
  // Refused calls not answered yet.
  size_t held_refusals();

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
    bool refused_before = false;
  };

  Clock* const clock_;
  const RateLimit limit_;
  const std::function<void(const std::string&)> log_;
  std::atomic<int64_t> refused_{0};

  // Answers held refusals as they come due.
  void RunTarpit();

  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Bucket> buckets_ ABSL_GUARDED_BY(mu_);

  // Refusals wait in arrival order: with one delay for all, the queue is sorted by due time.
  absl::Mutex tarpit_mu_;
  std::deque<std::pair<absl::Time, grpc::ServerUnaryReactor*>> held_ ABSL_GUARDED_BY(tarpit_mu_);
  bool stopping_ ABSL_GUARDED_BY(tarpit_mu_) = false;
  std::thread tarpit_;  // started (under tarpit_mu_) by the first delayed refusal
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_SESSION_RATE_LIMITER_H_
