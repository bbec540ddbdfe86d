#include "components/background_sync/sync_registration.h"

#include "components/background_sync/background_service_event.h"

namespace bgsync {

absl::string_view BackgroundServiceName(SyncType type) {
  return type == SyncType::kOneShot ? "backgroundSync" : "periodicBackgroundSync";
}

absl::string_view SyncTypeName(SyncType type) {
  switch (type) {
    case SyncType::kOneShot:
      return "one-shot";
    case SyncType::kPeriodic:
      return "periodic";
  }
  return "unknown";
}

absl::string_view SyncStateName(SyncState state) {
  switch (state) {
    case SyncState::kPending:
      return "pending";
    case SyncState::kWaiting:
      return "waiting";
    case SyncState::kFiring:
      return "firing";
    case SyncState::kReregisteredWhileFiring:
      return "reregistered-while-firing";
  }
  return "unknown";
}

absl::string_view SyncEventOutcomeName(SyncEventOutcome outcome) {
  switch (outcome) {
    case SyncEventOutcome::kCompleted:
      return "completed";
    case SyncEventOutcome::kRejected:
      return "rejected";
    case SyncEventOutcome::kAborted:
      return "aborted";
    case SyncEventOutcome::kTimedOut:
      return "timed out";
    case SyncEventOutcome::kWorkerCrashed:
      return "worker crashed";
    case SyncEventOutcome::kDispatchFailed:
      return "dispatch failed";
  }
  return "unknown";
}

bool operator==(const SyncRegistration& a, const SyncRegistration& b) {
  return a.key == b.key && a.origin == b.origin && a.state == b.state && a.num_attempts == b.num_attempts &&
         a.max_attempts == b.max_attempts && a.next_attempt_time == b.next_attempt_time &&
         a.min_interval == b.min_interval && a.anchor_time == b.anchor_time &&
         a.consecutive_interruptions == b.consecutive_interruptions && a.last_failure == b.last_failure &&
         a.resolved == b.resolved;
}

}  // namespace bgsync
