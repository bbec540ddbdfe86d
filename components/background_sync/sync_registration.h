// The data model: one sync registration of a service-worker registration, one-shot or periodic.
//
// Value types; no synchronization of their own.
#ifndef COMPONENTS_BACKGROUND_SYNC_SYNC_REGISTRATION_H_
#define COMPONENTS_BACKGROUND_SYNC_SYNC_REGISTRATION_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "components/background_sync/compact_time.h"
#include "components/background_sync/shared_origin.h"
#include "public/origin.h"

namespace bgsync {

// Persistent format: stored as these numbers (see proto/sync_registration_record.proto). Never renumber.
enum class SyncType : uint8_t {
  kOneShot = 1,
  kPeriodic = 2,
};

// The spec's states. kWaiting is a one-shot backing off after a failed attempt; it becomes ready again once
// next_attempt_time has passed. kFiring and kReregisteredWhileFiring are stored too: finding one at start-up
// means the browser stopped while the event was in flight.
enum class SyncState : uint8_t {
  kPending = 1,
  kWaiting = 2,
  kFiring = 3,
  kReregisteredWhileFiring = 4,
};

// The outcome of one sync event attempt.
enum class SyncEventOutcome : uint8_t {
  kCompleted,       // every waitUntil promise fulfilled
  kRejected,        // a waitUntil promise rejected, or the handler threw
  kAborted,         // the worker stopped the event (e.g. it was being terminated)
  kTimedOut,        // no outcome by the deadline
  kWorkerCrashed,   // the worker process died with the event in flight
  kDispatchFailed,  // the worker could not be started or reached
};

absl::string_view SyncTypeName(SyncType type);     // "one-shot", "periodic"
absl::string_view SyncStateName(SyncState state);  // "pending", "waiting", "firing", "reregistered-while-firing"
absl::string_view SyncEventOutcomeName(SyncEventOutcome outcome);  // "completed", "rejected", ...

// Identifies a registration: unique per (service-worker registration, type, tag).
struct RegistrationKey {
  int64_t sw_registration_id = 0;
  SyncType type = SyncType::kOneShot;
  std::string tag;

  friend bool operator==(const RegistrationKey& a, const RegistrationKey& b) {
    return a.sw_registration_id == b.sw_registration_id && a.type == b.type && a.tag == b.tag;
  }
  friend bool operator<(const RegistrationKey& a, const RegistrationKey& b) {
    return std::tie(a.sw_registration_id, a.type, a.tag) < std::tie(b.sw_registration_id, b.type, b.tag);
  }
  template <typename H>
  friend H AbslHashValue(H h, const RegistrationKey& k) {
    return H::combine(std::move(h), k.sw_registration_id, k.type, k.tag);
  }
};

// Laid out compactly, for the browser may hold a million of these (96 bytes each, plus the tag's heap block when it
// is longer than 15 bytes): times in 8 bytes (compact_time.h), the origin shared with the service worker's other
// registrations, and what start-up and the wake-up timer read of every registration (type, state, next attempt)
// within the first 64 bytes.
struct SyncRegistration {
  RegistrationKey key;

  SyncState state = SyncState::kPending;

  // The outcome of the last failed attempt, for tools; kCompleted when there was none.
  SyncEventOutcome last_failure = SyncEventOutcome::kCompleted;

  // Not stored: whether the registering client has seen its Register succeed (DidResolveRegistration) or has
  // gone away. A registration loaded from disk is resolved.
  bool resolved = true;

  // Failed attempts so far (reset when a re-registration starts it afresh).
  int num_attempts = 0;

  // The earliest time the next attempt may start (absolute wall-clock, so it survives restarts).
  // InfinitePast means "as soon as possible".
  CompactTime next_attempt_time = absl::InfinitePast();

  SharedOrigin origin;  // the origin of the service-worker registration, stored and re-checked at load

  // Periodic only: the page's minInterval, and the anchor its schedule counts from (the registration time, then
  // the start of each fresh event). next_attempt_time is the scheduled time derived from both.
  CompactDuration min_interval = absl::ZeroDuration();
  CompactTime anchor_time = absl::InfinitePast();

  int max_attempts = 0;

  // Browser stops in a row while this registration's event was in flight (the poison-pill counter).
  int consecutive_interruptions = 0;

  friend bool operator==(const SyncRegistration& a, const SyncRegistration& b);
};

// True if a one-shot attempt now would be the last one: no retry follows its failure. Periodic events have no
// last chance (their registration outlives any failure).
inline bool IsLastChance(const SyncRegistration& r) {
  return r.key.type == SyncType::kOneShot && r.num_attempts >= r.max_attempts - 1;
}

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_SYNC_REGISTRATION_H_
