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

void SessionRateLimiter::Refuse(grpc::ServerUnaryReactor* reactor) {
  if (limit_.refusal_delay > absl::ZeroDuration()) {
    absl::MutexLock lock(&tarpit_mu_);
    if (!stopping_) {
      held_.emplace_back(absl::Now() + limit_.refusal_delay, reactor);
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
      if (!stopping_)
        tarpit_mu_.AwaitWithDeadline(absl::Condition(&stopping_), held_.front().first);
      const absl::Time now = absl::Now();
      while (!held_.empty() && (stopping_ || held_.front().first <= now)) {
        due.push_back(held_.front().second);
        held_.pop_front();
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
  absl::MutexLock lock(&mu_);
  buckets_.erase(session_id);
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
