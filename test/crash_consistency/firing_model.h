// The expected life of every registration while the browser is killed with events in flight, checked kill by kill
// against what the worker processes received and what each kill left on disk (P1 and P3 of reliability.md).
//
// An epoch runs from one browser start to the next kill. Two kinds of service worker take part:
//  - kHang: its events never settle and the event time limit is far longer than any epoch, so a registration is
//    dispatched at most once per epoch and nothing in an epoch changes its attempts. Only the start-up rule does:
//    an event found interrupted fires again without counting, and the third interruption in a row counts as three
//    failed attempts (decision 4, the poison-pill bound).
//  - kReject: its events are held, then rejected once the harness lets them go (maybe never in an epoch). Each
//    delivery in an epoch is one counted failure, except that the last one may instead be interrupted by the kill.
// Both rest on two facts of the engine: within an epoch every failure it counts follows a delivery the worker
// logged (no timeouts, no worker crashes in this setup), and an attempt is marked firing on disk before it is
// dispatched. Anything else — a registration gone that was not out of attempts, attempts that moved without a
// delivery, a wrong lastChance, a delivery after removal — is a violation.
//
// Thread-compatible.
#ifndef TEST_CRASH_CONSISTENCY_FIRING_MODEL_H_
#define TEST_CRASH_CONSISTENCY_FIRING_MODEL_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "components/background_sync/sync_registration.h"

namespace bgsync {

enum class WorkerKind { kHang, kReject };

// One "sync" event as a worker logged it on arrival.
struct Delivery {
  std::string tag;
  bool last_chance = false;
};

// What the browser's start-up reports ("Loaded registrations loaded=… interrupted=…") for a store a kill left:
// firing records are interrupted; those whose interruption is the last of the bound and exhausts their attempts
// are removed, every other record is loaded.
struct LoadCounts {
  int64_t loaded = 0;
  int64_t interrupted = 0;
  int64_t exhausted = 0;
};
LoadCounts ExpectedLoadCounts(const std::vector<SyncRegistration>& stored, int max_consecutive_interruptions);

class FiringModel {
 public:
  struct Parameters {
    int max_attempts = 3;                   // the browser's --max-attempts
    int max_consecutive_interruptions = 3;  // the engine's poison-pill bound
  };
  // `workers`: the modelled service-worker registrations and how their worker settles events. Registrations of
  // other service workers are ignored.
  FiringModel(Parameters parameters, absl::flat_hash_map<int64_t, WorkerKind> workers);

  // Ends an epoch: `stored` is every registration the stop left on disk, `deliveries` what each modelled worker
  // logged during the epoch (in the worker's order; a tag only ever goes to one worker). Then applies the
  // start-up rule, giving the state the next epoch starts from.
  void EndEpoch(const std::vector<SyncRegistration>& stored,
                const absl::flat_hash_map<WorkerKind, std::vector<Delivery>>& deliveries);

  // Checks, at the end, that every acknowledged tag of the modelled service workers was alive at some point: on
  // disk at a kill, or delivered. A tag that never was is lost.
  void CheckAcknowledged(const std::vector<std::string>& tags);

  // Registrations whose interrupted event has not fired again yet.
  std::vector<std::string> OwedRefires() const;
  // Credits the re-fire of owed registrations among `delivered` (tags delivered since the last EndEpoch), for a last
  // epoch that no kill ends.
  void CreditRefires(const std::set<std::string>& delivered);

  const std::vector<std::string>& violations() const { return violations_; }
  const std::set<std::string>& lost() const { return lost_; }
  int64_t interruptions() const { return interruptions_; }  // interrupted events that must fire again
  int64_t refired() const { return refired_; }              // of those, fired again since
  int64_t poison_pill_removals() const { return poison_pill_removals_; }
  int64_t exhausted_by_failures() const { return exhausted_by_failures_; }
  int max_stored_attempts() const { return max_stored_attempts_; }
  int max_dispatches() const { return max_dispatches_; }  // deliveries of one registration
  int64_t epochs() const { return epochs_; }

 private:
  enum class Phase { kNotYet, kLive, kGone };
  struct TagState {
    WorkerKind kind = WorkerKind::kHang;
    Phase phase = Phase::kNotYet;
    // While live: as loaded at the start of the current epoch.
    int attempts = 0;
    int interruptions = 0;
    bool owed_refire = false;
    bool seen = false;  // stored at a kill or delivered, at least once
    int dispatches = 0;
  };

  void Violation(const std::string& tag, const std::string& what);
  // Checks one tag's epoch; false when the tag is gone (lost or legitimately removed) afterwards.
  bool CheckEpoch(const std::string& tag,
                  TagState& state,
                  const SyncRegistration* stored,
                  const std::vector<bool>& last_chances);
  void ApplyStartUpRule(TagState& state, const SyncRegistration& stored);

  const Parameters parameters_;
  const absl::flat_hash_map<int64_t, WorkerKind> workers_;
  std::map<std::string, TagState> tags_;
  std::vector<std::string> violations_;
  std::set<std::string> lost_;
  int64_t interruptions_ = 0;
  int64_t refired_ = 0;
  int64_t poison_pill_removals_ = 0;
  int64_t exhausted_by_failures_ = 0;
  int max_stored_attempts_ = 0;
  int max_dispatches_ = 0;
  int64_t epochs_ = 0;
};

}  // namespace bgsync

#endif  // TEST_CRASH_CONSISTENCY_FIRING_MODEL_H_
