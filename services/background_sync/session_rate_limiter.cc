#include "services/background_sync/session_rate_limiter.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/support/server_callback.h"

namespace bgsync {

bool SessionRateLimiter::TryAcquire(const Session& session) {
  if (limit_.calls_per_second <= 0)
    return true;
  const absl::Time now = clock_->Now();
  bool first_refusal = false;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = buckets_.try_emplace(session.id);
    Bucket& bucket = it->second;
    if (inserted) {
      bucket.tokens = limit_.burst;
    } else {
      // A wall clock that steps backwards refills nothing rather than draining the bucket.
      const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.refilled));
      bucket.tokens = std::min(limit_.burst, bucket.tokens + elapsed * limit_.calls_per_second);
    }
    bucket.refilled = now;
    // The tolerance absorbs the rounding of many small refills (ten 0.1-token refills make one token).
    if (bucket.tokens >= 1 - 1e-9) {
      bucket.tokens -= 1;
      return true;
    }
    first_refusal = !bucket.refused_before;
    bucket.refused_before = true;
  }
  refused_.fetch_add(1);
  if (first_refusal && log_) {
    log_(absl::StrCat("rate limited ", ClientTypeName(session.type), " session ", session.id, " (",
                      session.origin.Serialize(), ", pid ", session.pid, "): ", RefusalMessage()));
  }
  return false;
}

SessionRateLimiter::~SessionRateLimiter() {
  StopDelaying();
}

void SessionRateLimiter::StopDelaying() {
  std::thread tarpit;
  {
    absl::MutexLock lock(&tarpit_mu_);
    stopping_ = true;
    tarpit.swap(tarpit_);
  }
  if (tarpit.joinable())
    tarpit.join();  // it answers every held refusal before it ends
}

absl::Time SessionRateLimiter::RefusalDue(const Session& session, absl::Time now) {
  absl::Time due = now + limit_.refusal_delay;
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(session.id);
  if (it == buckets_.end() || limit_.calls_per_second <= 0)
    return due;
  due = std::max(due, it->second.next_refusal);
  it->second.next_refusal = due + absl::Seconds(1 / limit_.calls_per_second);
  return due;
}

void SessionRateLimiter::Refuse(const Session& session, grpc::ServerUnaryReactor* reactor) {
  if (limit_.refusal_delay > absl::ZeroDuration()) {
    absl::MutexLock lock(&tarpit_mu_);
    if (!stopping_) {
      // Booked and held under tarpit_mu_: a Forget of the session either finds this refusal held (and answers it at
      // once) or has already dropped the bucket (no booking: the delay alone).
      const absl::Time due = RefusalDue(session, absl::Now());
      held_.push_back({due, next_order_++, session.id, reactor});
      std::push_heap(held_.begin(), held_.end(), AnsweredLater);
      if (!tarpit_.joinable())
        tarpit_ = std::thread([this] { RunTarpit(); });
      return;
    }
  }
  reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, RefusalMessage()));
}

void SessionRateLimiter::RunTarpit() {
  const grpc::Status refused(grpc::StatusCode::RESOURCE_EXHAUSTED, RefusalMessage());
  while (true) {
    std::vector<grpc::ServerUnaryReactor*> due;
    bool stop = false;
    {
      absl::MutexLock lock(&tarpit_mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tarpit_mu_) { return stopping_ || !held_.empty(); };
      tarpit_mu_.Await(absl::Condition(&has_work));
      // Sleeps until the first refusal is due, or until one that is due sooner arrives (or Forget made one due).
      const absl::Time first = held_.empty() ? absl::InfinitePast() : held_.front().due;
      auto sooner = [this, first]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(tarpit_mu_) { return stopping_ || held_.front().due < first; };
      if (!stopping_)
        tarpit_mu_.AwaitWithDeadline(absl::Condition(&sooner), first);
      const absl::Time now = absl::Now();
      while (!held_.empty() && (stopping_ || held_.front().due <= now)) {
        std::pop_heap(held_.begin(), held_.end(), AnsweredLater);
        due.push_back(held_.back().reactor);
        held_.pop_back();
      }
      stop = stopping_;
    }
    // Outside the lock: gRPC may run reactions inline.
    for (grpc::ServerUnaryReactor* reactor : due)
      reactor->Finish(refused);
    if (stop)
      return;  // once stopping, Refuse answers at once
  }
}

size_t SessionRateLimiter::held_refusals() {
  absl::MutexLock lock(&tarpit_mu_);
  return held_.size();
}

void SessionRateLimiter::Forget(uint64_t session_id) {
  absl::MutexLock lock(&tarpit_mu_);  // before mu_, as in Refuse
  {
    absl::MutexLock buckets_lock(&mu_);
    buckets_.erase(session_id);
  }
  bool changed = false;
  for (Held& held : held_) {
    if (held.session_id == session_id) {
      held.due = absl::InfinitePast();
      changed = true;
    }
  }
  if (changed)
    std::make_heap(held_.begin(), held_.end(), AnsweredLater);  // the tarpit wakes: its first is due sooner
}

std::string SessionRateLimiter::RefusalMessage() const {
  return absl::StrCat("rate limit: more than ", limit_.calls_per_second, " calls/s (burst ", limit_.burst,
                      ") on this session");
}

size_t SessionRateLimiter::tracked_sessions() {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace bgsync
