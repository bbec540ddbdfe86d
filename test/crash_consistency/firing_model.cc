#include "test/crash_consistency/firing_model.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bgsync {
namespace {

bool IsFiring(SyncState state) {
  return state == SyncState::kFiring || state == SyncState::kReregisteredWhileFiring;
}

}  // namespace

LoadCounts ExpectedLoadCounts(const std::vector<SyncRegistration>& stored, int max_consecutive_interruptions) {
  LoadCounts counts;
  for (const SyncRegistration& r : stored) {
    if (IsFiring(r.state)) {
      ++counts.interrupted;
      const int interruptions = r.consecutive_interruptions + 1;
      if (r.state == SyncState::kFiring && interruptions >= max_consecutive_interruptions &&
          r.num_attempts + interruptions >= r.max_attempts) {
        ++counts.exhausted;
        continue;
      }
    }
    ++counts.loaded;
  }
  return counts;
}

FiringModel::FiringModel(Parameters parameters, absl::flat_hash_map<int64_t, WorkerKind> workers)
    : parameters_(parameters), workers_(std::move(workers)) {}

void FiringModel::Violation(const std::string& tag, const std::string& what) {
  violations_.push_back(absl::StrCat("epoch ", epochs_, ": ", tag, ": ", what));
}

void FiringModel::EndEpoch(const std::vector<SyncRegistration>& stored,
                           const absl::flat_hash_map<WorkerKind, std::vector<Delivery>>& deliveries) {
  ++epochs_;
  std::map<std::string, const SyncRegistration*> stored_by_tag;
  for (const SyncRegistration& r : stored) {
    auto worker = workers_.find(r.key.sw_registration_id);
    if (worker == workers_.end())
      continue;
    stored_by_tag[r.key.tag] = &r;
    TagState& state = tags_[r.key.tag];
    if (state.phase == Phase::kNotYet && !state.seen)
      state.kind = worker->second;
    if (state.kind != worker->second)
      Violation(r.key.tag, "stored under the other kind of service worker");
  }
  std::map<std::string, std::vector<bool>> delivered;
  for (const auto& [kind, list] : deliveries) {
    for (const Delivery& d : list) {
      delivered[d.tag].push_back(d.last_chance);
      TagState& state = tags_[d.tag];
      if (state.phase == Phase::kNotYet && !state.seen && !stored_by_tag.count(d.tag))
        state.kind = kind;
      if (state.kind != kind)
        Violation(d.tag, "delivered to the other kind of worker");
    }
  }

  static const std::vector<bool> kNone;
  for (auto& [tag, state] : tags_) {
    auto s = stored_by_tag.find(tag);
    const SyncRegistration* stored_record = s == stored_by_tag.end() ? nullptr : s->second;
    auto d = delivered.find(tag);
    const std::vector<bool>& last_chances = d == delivered.end() ? kNone : d->second;
    if (!stored_record && last_chances.empty() && state.phase != Phase::kLive)
      continue;  // not registered yet, or gone and (rightly) silent
    if (CheckEpoch(tag, state, stored_record, last_chances) && stored_record)
      ApplyStartUpRule(state, *stored_record);
  }
}

bool FiringModel::CheckEpoch(const std::string& tag,
                             TagState& state,
                             const SyncRegistration* stored,
                             const std::vector<bool>& last_chances) {
  const int n = static_cast<int>(last_chances.size());
  const int max = parameters_.max_attempts;
  state.seen = true;
  state.dispatches += n;
  max_dispatches_ = std::max(max_dispatches_, state.dispatches);
  if (state.dispatches > max * parameters_.max_consecutive_interruptions && n > 0) {
    Violation(tag, absl::StrCat("dispatched ", state.dispatches, " times: above the bound of ", max, " attempts x ",
                                parameters_.max_consecutive_interruptions, " interruptions"));
  }
  if (state.phase == Phase::kGone) {
    Violation(tag, absl::StrCat(stored ? "stored" : "delivered", " again after it was removed"));
    return false;
  }
  const bool live = state.phase == Phase::kLive;
  const int attempts = live ? state.attempts : 0;
  const int interruptions = live ? state.interruptions : 0;
  const bool firing = stored && IsFiring(stored->state);

  if (state.owed_refire && (n > 0 || firing)) {
    ++refired_;
    state.owed_refire = false;
  }
  // The i-th delivery of the epoch is the attempt after `attempts + i` failures: lastChance exactly when no retry
  // would follow its failure.
  for (int i = 0; i < n; ++i) {
    const bool expected = attempts + i >= max - 1;
    if (last_chances[i] != expected) {
      Violation(tag, absl::StrCat("delivery ", i + 1, " of the epoch had lastChance=", last_chances[i] ? 1 : 0,
                                  " after ", attempts + i, " failed attempts (max ", max, ")"));
    }
  }

  if (!stored) {
    if (state.kind == WorkerKind::kReject && attempts + n == max && n > 0) {
      ++exhausted_by_failures_;  // its last chance was rejected
      state.phase = Phase::kGone;
      return false;
    }
    Violation(tag, absl::StrCat("LOST: ", live ? "loaded at the last start" : "delivered", " with ", attempts,
                                " failed attempts, ", n, " deliveries since, and no record after the kill"));
    lost_.insert(tag);
    state.phase = Phase::kGone;
    return false;
  }

  if (stored->key.type != SyncType::kOneShot)
    Violation(tag, "stored as a periodic registration");
  if (stored->state == SyncState::kReregisteredWhileFiring)
    Violation(tag, "reregistered-while-firing, but no client registers a tag twice");
  if (stored->max_attempts != max)
    Violation(tag, absl::StrCat("stored with max_attempts ", stored->max_attempts, ", not ", max));
  if (stored->num_attempts >= max) {
    Violation(tag, absl::StrCat("stored with ", stored->num_attempts, " failed attempts: it should be gone at ", max));
  }
  max_stored_attempts_ = std::max(max_stored_attempts_, stored->num_attempts);

  const int counted = stored->num_attempts - attempts;
  if (state.kind == WorkerKind::kHang) {
    if (n > 1)
      Violation(tag, absl::StrCat("delivered ", n, " times in one epoch although its event never settles"));
    if (counted != 0)
      Violation(tag, absl::StrCat("failed attempts went from ", attempts, " to ", stored->num_attempts,
                                  " although its event never settles"));
    if (n == 1 && !firing)
      Violation(tag, "delivered, but not marked firing on disk at the kill");
  } else {
    // Every delivery but an interrupted last one is a counted failure.
    const bool consistent = counted == n || (counted == n - 1 && firing);
    if (!consistent) {
      Violation(tag, absl::StrCat("failed attempts went from ", attempts, " to ", stored->num_attempts, " with ", n,
                                  " deliveries (", firing ? "" : "not ", "firing at the kill)"));
    }
  }
  const int expected_interruptions = counted > 0 ? 0 : interruptions;
  if (stored->consecutive_interruptions != expected_interruptions) {
    Violation(tag, absl::StrCat("stored with ", stored->consecutive_interruptions, " interruptions in a row, expected ",
                                expected_interruptions));
  }
  return true;
}

void FiringModel::ApplyStartUpRule(TagState& state, const SyncRegistration& stored) {
  state.phase = Phase::kLive;
  state.attempts = stored.num_attempts;
  state.interruptions = stored.consecutive_interruptions;
  if (stored.state != SyncState::kFiring)
    return;
  // Interrupted: fires again without counting, unless this interruption is the last the bound allows.
  const int interruptions = stored.consecutive_interruptions + 1;
  if (interruptions >= parameters_.max_consecutive_interruptions) {
    state.attempts = stored.num_attempts + interruptions;
    state.interruptions = 0;
    if (state.attempts >= stored.max_attempts) {
      ++poison_pill_removals_;
      state.phase = Phase::kGone;
      state.owed_refire = false;
      return;
    }
  } else {
    state.interruptions = interruptions;
  }
  ++interruptions_;
  state.owed_refire = true;
}

void FiringModel::CheckAcknowledged(const std::vector<std::string>& tags) {
  for (const std::string& tag : tags) {
    auto it = tags_.find(tag);
    if (it == tags_.end() || !it->second.seen) {
      violations_.push_back(absl::StrCat(tag, ": LOST: acknowledged, but never on disk at a kill nor delivered"));
      lost_.insert(tag);
    }
  }
}

void FiringModel::CreditRefires(const std::set<std::string>& delivered) {
  for (const std::string& tag : delivered) {
    auto it = tags_.find(tag);
    if (it != tags_.end() && it->second.owed_refire) {
      it->second.owed_refire = false;
      ++refired_;
    }
  }
}

std::vector<std::string> FiringModel::OwedRefires() const {
  std::vector<std::string> owed;
  for (const auto& [tag, state] : tags_) {
    if (state.owed_refire)
      owed.push_back(tag);
  }
  return owed;
}

}  // namespace bgsync
