// The per-session rate limit of the renderer-facing services (reliability.md P5): a token bucket per session, so
// that one flooding renderer is refused cheaply instead of taking the browser's time from the others. Refusals are
// answered after a delay (a tarpit), and a session's refusals come back no faster than its rate: however many
// calls a flooder keeps in flight, it gets at most about twice its rate of answers (admitted and refused), so the
// browser's work for it is bounded by the limit, not by the flooder's concurrency.
#ifndef SERVICES_BACKGROUND_SYNC_SESSION_RATE_LIMITER_H_
#define SERVICES_BACKGROUND_SYNC_SESSION_RATE_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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
  // How long a refused call waits for its RESOURCE_EXHAUSTED, at least; a session's refusals are also spaced
  // 1/calls_per_second apart (SessionRateLimiter::Refuse). Zero answers every refusal at once.
  absl::Duration refusal_delay = absl::Milliseconds(250);
};

// Thread-safety: every method may be called from any thread. `clock` is not owned and must outlive this; it
// drives the buckets. The tarpit runs on real time (absl::Now()).
class SessionRateLimiter {
 public:
  // `log` (may be empty) gets one line the first time each session is refused, not one per refused call.
  SessionRateLimiter(Clock* clock, RateLimit limit, std::function<void(const std::string&)> log = nullptr)
      : clock_(clock), limit_(limit), log_(std::move(log)) {}
  // StopDelaying().
  ~SessionRateLimiter();

  // Takes one call's token from the session's bucket (full for a session not seen before). Returns false when the
  // bucket is empty: the call must be refused (Refuse), and it is counted. Allocates only for a session's first
  // call (its bucket) and its first refusal (the log line).
  bool TryAcquire(const Session& session);

  // Finishes a call of `session` that TryAcquire refused, with RESOURCE_EXHAUSTED and RefusalMessage(): at once
  // when refusal_delay is zero; otherwise on the limiter's own thread (started by the first delayed refusal), at
  // RefusalDue(session, now).
  void Refuse(const Session& session, grpc::ServerUnaryReactor* reactor);

  // When a refusal of `session` made at `now` is to be answered, and books that moment: `now` + refusal_delay,
  // but no sooner than 1/calls_per_second after the session's previous refusal (so the oldest is answered first
  // and a session's refusals come back at most at its rate). A session without a bucket (never seen, or
  // forgotten) is not booked: `now` + refusal_delay.
  absl::Time RefusalDue(const Session& session, absl::Time now);

  // Answers every refusal still held back, at once, and every later one at once too. Call before the gRPC server
  // that owns the refused calls shuts down.
  void StopDelaying();

  // The session ended: its bucket is dropped (so memory follows the live sessions) and its held refusals are
  // answered at once.
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
    absl::Time next_refusal = absl::InfinitePast();  // the earliest its next refusal may be answered
  };
  struct Held {
    absl::Time due;
    uint64_t order = 0;  // arrival order, to answer refusals due at the same time oldest first
    uint64_t session_id = 0;
    grpc::ServerUnaryReactor* reactor = nullptr;
  };
  // Orders held_ as a min-heap on (due, order).
  static bool AnsweredLater(const Held& a, const Held& b) { return a.due != b.due ? a.due > b.due : a.order > b.order; }

  Clock* const clock_;
  const RateLimit limit_;
  const std::function<void(const std::string&)> log_;
  std::atomic<int64_t> refused_{0};

  // Answers held refusals as they come due.
  void RunTarpit();

  // Lock order: tarpit_mu_ before mu_ (Refuse and Forget hold both).
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Bucket> buckets_ ABSL_GUARDED_BY(mu_);

  absl::Mutex tarpit_mu_;
  std::vector<Held> held_ ABSL_GUARDED_BY(tarpit_mu_);  // a heap: AnsweredLater
  uint64_t next_order_ ABSL_GUARDED_BY(tarpit_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(tarpit_mu_) = false;
  std::thread tarpit_;  // started (under tarpit_mu_) by the first delayed refusal
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_SESSION_RATE_LIMITER_H_
