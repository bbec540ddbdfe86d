#include "components/background_sync/fuzzers/sync_model.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "components/background_sync/fuzzers/fuzz_check.h"
#include "components/background_sync/fuzzers/fuzz_values.h"
#include "components/background_sync/sync_registration_store.h"
#include "public/sync_tag.h"

namespace bgsync {
namespace fuzzing {
namespace {

using E = BackgroundSyncError;

bool IsFiring(SyncState state) {
  return state == SyncState::kFiring || state == SyncState::kReregisteredWhileFiring;
}

std::string Describe(const RegistrationKey& key) {
  return absl::StrCat("(sw ", key.sw_registration_id, ", ", SyncTypeName(key.type), ", ", DescribeTag(key.tag), ")");
}

std::string Describe(const SyncRegistration& r) {
  return absl::StrCat(Describe(r.key), " of ", r.origin.Serialize(), ": ", SyncStateName(r.state), ", attempts ",
                      r.num_attempts, "/", r.max_attempts, ", interruptions ", r.consecutive_interruptions, ", next ",
                      absl::FormatTime(r.next_attempt_time), ", anchor ", absl::FormatTime(r.anchor_time),
                      ", interval ", absl::FormatDuration(r.min_interval), ", last failure ",
                      SyncEventOutcomeName(r.last_failure), r.resolved ? ", resolved" : ", not resolved");
}

std::string Describe(const absl::Status& status) {
  if (status.ok())
    return "OK";
  return absl::StrCat(status.ToString(), " [", SyncErrorName(GetSyncError(status)), "]");
}

bool IsSyncError(const absl::Status& status, BackgroundSyncError error) {
  return !status.ok() && GetSyncError(status) == error;
}

// The engine's answer to input no honest client sends: kInvalidArgument without a BackgroundSyncError (which
// GetSyncError reports as STORAGE), unlike TAG_TOO_LONG, whose code is kInvalidArgument too.
bool IsBadInputError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument &&
         GetSyncError(status) == BackgroundSyncError::BACKGROUND_SYNC_ERROR_STORAGE;
}

bool Satisfies(const RegisterExpectation& expected, const absl::Status& status) {
  switch (expected.kind) {
    case RegisterExpectation::Kind::kInvalidArgument:
      return IsBadInputError(status);
    case RegisterExpectation::Kind::kSyncError:
      return IsSyncError(status, expected.error);
    case RegisterExpectation::Kind::kAccepted:
      return status.ok() || IsSyncError(status, E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED) ||
             IsSyncError(status, E::BACKGROUND_SYNC_ERROR_STORAGE);
  }
  return false;
}

std::string Describe(const RegisterExpectation& expected) {
  switch (expected.kind) {
    case RegisterExpectation::Kind::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case RegisterExpectation::Kind::kSyncError:
      return std::string(SyncErrorName(expected.error));
    case RegisterExpectation::Kind::kAccepted:
      return "OK, QUOTA_EXCEEDED or STORAGE";
  }
  return "?";
}

const SyncRegistration* FindIn(const std::vector<SyncRegistration>& registrations, const RegistrationKey& key) {
  for (const SyncRegistration& r : registrations) {
    if (r.key == key)
      return &r;
  }
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// The world.

void SyncModel::OnServiceWorkerAdded(int64_t id, const Origin& origin) {
  FUZZ_CHECK(!creators_.count(id), absl::StrCat("service-worker id ", id, " reused"));
  creators_[id] = origin;
}

void SyncModel::OnServiceWorkerRemoved(int64_t id) {
  removed_.insert(id);
  for (auto& [key, state] : keys_) {
    if (key.sw_registration_id == id)
      state.removal_allowed = true;
  }
}

std::optional<Origin> SyncModel::OwnerOf(int64_t id) const {
  if (removed_.count(id))
    return std::nullopt;
  return CreatorOf(id);
}

std::optional<Origin> SyncModel::CreatorOf(int64_t id) const {
  auto it = creators_.find(id);
  if (it == creators_.end())
    return std::nullopt;
  return it->second;
}

void SyncModel::OnPeriodicPermissionRevoked(const Origin& origin) {
  for (auto& [key, state] : keys_) {
    if (key.type == SyncType::kPeriodic && state.origin == origin)
      state.removal_allowed = true;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Calls.

RegisterExpectation SyncModel::ExpectRegister(const Origin& origin,
                                              int64_t sw,
                                              SyncType type,
                                              const std::string& tag,
                                              absl::Duration min_interval,
                                              bool shut_down,
                                              bool active,
                                              bool permission_granted,
                                              bool window_open) const {
  using Kind = RegisterExpectation::Kind;
  if (!IsWellFormedUtf8ByTable(tag) || min_interval < absl::ZeroDuration() ||
      (type == SyncType::kOneShot && min_interval != absl::ZeroDuration())) {
    return {Kind::kInvalidArgument};
  }
  if (shut_down || parameters_.disabled)
    return {Kind::kSyncError, E::BACKGROUND_SYNC_ERROR_SHUT_DOWN};
  if (tag.size() > kMaxTagLengthBytes)
    return {Kind::kSyncError, E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG};
  std::optional<Origin> owner = OwnerOf(sw);
  if (!owner || *owner != origin)
    return {Kind::kSyncError, E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND};
  if (!active)
    return {Kind::kSyncError, E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER};
  if (!permission_granted)
    return {Kind::kSyncError, E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED};
  if (!window_open)
    return {Kind::kSyncError, E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW};
  return {Kind::kAccepted};
}

void SyncModel::OnRegisterRequested(const Origin& origin, const RegistrationKey& key) {
  ++unanswered_registers_[key];
  AddKey(origin, key);
}

void SyncModel::AddKey(const Origin& origin, const RegistrationKey& key) {
  // Only a request its service worker's origin makes can create the registration: anything else found in the
  // engine is a phantom (see CheckEngine).
  std::optional<Origin> owner = OwnerOf(key.sw_registration_id);
  if (!owner || *owner != origin)
    return;
  auto [it, inserted] = keys_.try_emplace(key);
  if (inserted)
    it->second.origin = origin;
}

void SyncModel::OnSeeded(const SyncRegistration& registration) {
  AddKey(registration.origin, registration.key);
  KeyState* state = Find(registration.key);
  FUZZ_CHECK(state != nullptr, "seeded a registration of another origin's service worker");
  state->acknowledged = true;
  state->ever_acknowledged = true;
  state->acknowledged_at = ++sequence_;
}

bool SyncModel::WasRequested(const RegistrationKey& key, const Origin& origin) const {
  auto it = keys_.find(key);
  return it != keys_.end() && it->second.origin == origin;
}

SyncModel::KeyState* SyncModel::Find(const RegistrationKey& key) {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

void SyncModel::Forget(const RegistrationKey& key, KeyState& state) {
  (void)key;
  state.acknowledged = false;
  state.removal_allowed = false;
  state.event_may_end_it = false;
  state.awaiting = 0;
  state.awaiting_unknown = false;
}

void SyncModel::OnRegisterAnswered(const Origin& origin,
                                   const RegistrationKey& key,
                                   ClientId client,
                                   const RegisterExpectation& expected,
                                   const RegisterExpectation* alternative,
                                   const absl::Status& status,
                                   bool synchronous) {
  const auto what = [&] {
    return std::string(
        absl::StrCat("Register ", Describe(key), " by ", origin.Serialize(), " answered ", Describe(status)));
  };
  FUZZ_TRACE(absl::StrCat(what(), " to client ", client, synchronous ? "" : " (asynchronously)"));
  if (auto it = unanswered_registers_.find(key); it != unanswered_registers_.end() && --it->second == 0)
    unanswered_registers_.erase(it);
  FUZZ_CHECK(Satisfies(expected, status) || (alternative && Satisfies(*alternative, status)),
             absl::StrCat(what(), ", expected ", Describe(expected),
                          alternative ? absl::StrCat(" or ", Describe(*alternative)) : ""));
  if (!status.ok())
    return;
  KeyState* state = Find(key);
  FUZZ_CHECK(state != nullptr && state->origin == origin, what() + " for a key the model never saw requested");
  state->acknowledged = true;
  state->ever_acknowledged = true;
  state->acknowledged_at = ++sequence_;
  state->event_may_end_it = false;
  // A removal asked for while a queued call waited still applies (it runs after it).
  if (synchronous)
    state->removal_allowed = false;
  if (key.type == SyncType::kOneShot) {
    if (!synchronous) {
      state->awaiting_unknown = true;
    } else if (client != 0) {
      state->awaiting = client;
      state->awaiting_unknown = false;
    }
  }
}

ClientId SyncModel::OnDidResolve(ClientId client, const RegistrationKey& key) {
  FUZZ_TRACE(absl::StrCat("client ", client, " acknowledges ", Describe(key)));
  KeyState* state = Find(key);
  // The engine ignores an acknowledgement for a service worker that is gone (its registration lingers only until
  // a failed delete is retried or the browser restarts).
  if (!state || state->awaiting != client || client == 0 || OwnerOf(key.sw_registration_id) != state->origin)
    return 0;
  state->awaiting = 0;
  return client;
}

void SyncModel::UndoDidResolve(const RegistrationKey& key, ClientId cleared) {
  if (KeyState* state = Find(key); state && cleared != 0)
    state->awaiting = cleared;
}

void SyncModel::OnRegisterNotAnswered(const RegistrationKey& key) {
  if (auto it = unanswered_registers_.find(key); it != unanswered_registers_.end() && --it->second == 0)
    unanswered_registers_.erase(it);
}

void SyncModel::OnClientDisconnected(ClientId client) {
  FUZZ_TRACE(absl::StrCat("client ", client, " disconnects"));
  for (auto& [key, state] : keys_) {
    if (state.awaiting == client)
      state.awaiting = 0;
  }
}

void SyncModel::OnUnregisterAnswered(const Origin& origin,
                                     int64_t sw,
                                     const std::string& tag,
                                     bool shut_down,
                                     bool owned_at_call,
                                     const absl::Status& status,
                                     BackgroundSyncEngine& engine) {
  const RegistrationKey key{sw, SyncType::kPeriodic, tag};
  const auto what = [&] {
    return std::string(
        absl::StrCat("Unregister ", Describe(key), " by ", origin.Serialize(), " answered ", Describe(status)));
  };
  FUZZ_TRACE(what());
  if (!IsWellFormedUtf8ByTable(tag)) {
    FUZZ_CHECK(IsBadInputError(status), what() + ", expected INVALID_ARGUMENT");
    return;
  }
  if (shut_down) {
    FUZZ_CHECK(IsSyncError(status, E::BACKGROUND_SYNC_ERROR_SHUT_DOWN), what() + ", expected SHUT_DOWN");
    return;
  }
  std::optional<Origin> owner = OwnerOf(sw);
  const bool owned_now = owner && *owner == origin;
  const bool not_found = IsSyncError(status, E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  if (!owned_now && !owned_at_call) {
    FUZZ_CHECK(not_found, what() + ", expected SERVICE_WORKER_NOT_FOUND");
    return;
  }
  if (not_found && owned_now != owned_at_call)
    return;  // checked when the service worker was gone
  FUZZ_CHECK(status.ok() || IsSyncError(status, E::BACKGROUND_SYNC_ERROR_STORAGE), what() + ", expected OK or STORAGE");
  if (!status.ok())
    return;
  FUZZ_CHECK(FindIn(engine.GetAllRegistrations(), key) == nullptr, what() + " but the registration is still there");
  if (KeyState* state = Find(key))
    Forget(key, *state);
}

void SyncModel::CheckGetRegistrations(const Origin& origin,
                                      int64_t sw,
                                      SyncType type,
                                      bool shut_down,
                                      const absl::StatusOr<std::vector<std::string>>& answer,
                                      BackgroundSyncEngine& engine) const {
  const auto what = [&] {
    return std::string(absl::StrCat("GetRegistrations(sw ", sw, ", ", SyncTypeName(type), ") by ", origin.Serialize(),
                                    " answered ",
                                    answer.ok() ? absl::StrCat(answer->size(), " tags") : Describe(answer.status())));
  };
  if (shut_down) {
    FUZZ_CHECK(!answer.ok() && IsSyncError(answer.status(), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN),
               what() + ", expected SHUT_DOWN");
    return;
  }
  std::optional<Origin> owner = OwnerOf(sw);
  if (!owner || *owner != origin) {
    // Unknown and foreign ids look the same (reliability.md P4).
    FUZZ_CHECK(!answer.ok() && IsSyncError(answer.status(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND),
               what() + ", expected SERVICE_WORKER_NOT_FOUND");
    return;
  }
  FUZZ_CHECK(answer.ok(), what() + ", expected the tags");
  std::vector<std::string> expected;
  for (const SyncRegistration& r : engine.GetAllRegistrations()) {
    if (r.key.sw_registration_id == sw && r.key.type == type) {
      FUZZ_CHECK(r.origin == origin, what() + ": " + Describe(r) + " belongs to another origin");
      expected.push_back(r.key.tag);
    }
  }
  FUZZ_CHECK(*answer == expected,
             absl::StrCat(what(), ", the engine holds ", expected.size(), " (",
                          absl::StrJoin(*answer, ",",
                                        [](std::string* out, const std::string& t) { out->append(DescribeTag(t)); }),
                          ")"));
}

void SyncModel::CheckDidResolve(const Origin& origin, int64_t sw, const absl::Status& status) const {
  const auto what = [&] {
    return std::string(
        absl::StrCat("DidResolveRegistration(sw ", sw, ") by ", origin.Serialize(), " answered ", Describe(status)));
  };
  std::optional<Origin> owner = OwnerOf(sw);
  if (!owner || *owner != origin) {
    FUZZ_CHECK(IsSyncError(status, E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND),
               what() + ", expected SERVICE_WORKER_NOT_FOUND");
  } else {
    FUZZ_CHECK(status.ok(), what() + ", expected OK");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Events.

uint64_t SyncModel::OnDispatched(const SyncEventRequest& request, absl::Time now) {
  const RegistrationKey key{request.sw_registration_id, request.type, request.tag};
  const auto what = [&] {
    return std::string(absl::StrCat("event dispatched for ", Describe(key), " of ", request.origin.Serialize()));
  };
  FUZZ_TRACE(absl::StrCat(what(), " as dispatch ", dispatches_.size() + 1, request.last_chance ? " (last chance)" : "",
                          ", deadline ", absl::FormatTime(request.deadline)));
  FUZZ_CHECK(IsWellFormedUtf8ByTable(request.tag) && request.tag.size() <= kMaxTagLengthBytes,
             what() + ": an invalid tag");
  std::optional<Origin> creator = CreatorOf(request.sw_registration_id);
  FUZZ_CHECK(creator && *creator == request.origin, what() + ": not its service worker's origin");
  FUZZ_CHECK(request.type == SyncType::kOneShot || !request.last_chance, what() + ": a periodic event with lastChance");
  KeyState* state = Find(key);
  FUZZ_CHECK(state != nullptr && state->origin == request.origin, what() + ": a registration nobody requested");
  // (It may have been removed since: an event whose firing state was written before an Unregister or the removal
  // of its service worker can be dispatched after them, when the commit that starts it lets the queue go on first.
  // The engine ignores its outcome.)
  FUZZ_CHECK(state->ever_acknowledged, what() + ": its Register was never answered OK");
  if (key.type == SyncType::kOneShot) {
    FUZZ_CHECK(state->awaiting_unknown || state->awaiting == 0,
               absl::StrCat(what(), ": client ", state->awaiting, " has not acknowledged it yet"));
  }
  for (const Dispatch& other : dispatches_) {
    FUZZ_CHECK(!(other.key == key && other.generation == generation_ && !other.answered && other.deadline > now),
               what() + " while an earlier event of it is still in flight");
  }
  Dispatch dispatch;
  dispatch.key = key;
  dispatch.generation = generation_;
  dispatch.deadline = request.deadline;
  dispatch.sequence = ++sequence_;
  dispatches_.push_back(dispatch);
  if (key.type == SyncType::kOneShot && request.last_chance)
    state->event_may_end_it = true;
  return dispatches_.size();
}

void SyncModel::OnOutcome(uint64_t number, SyncEventOutcome outcome) {
  FUZZ_CHECK(number >= 1 && number <= dispatches_.size(), absl::StrCat("outcome for unknown dispatch ", number));
  Dispatch& dispatch = dispatches_[number - 1];
  FUZZ_TRACE(absl::StrCat("dispatch ", number, " of ", Describe(dispatch.key), " ends: ", SyncEventOutcomeName(outcome),
                          dispatch.generation == generation_ ? "" : " (an engine gone since)"));
  FUZZ_CHECK(!dispatch.answered, absl::StrCat("second outcome (", SyncEventOutcomeName(outcome), ") for the event of ",
                                              Describe(dispatch.key)));
  dispatch.answered = true;
  if (dispatch.generation != generation_ || outcome != SyncEventOutcome::kCompleted ||
      dispatch.key.type != SyncType::kOneShot) {
    return;
  }
  KeyState* state = Find(dispatch.key);
  if (state && state->acknowledged && dispatch.sequence > state->acknowledged_at)
    state->event_may_end_it = true;
}

std::vector<uint64_t> SyncModel::UnansweredDispatches() const {
  std::vector<uint64_t> numbers;
  for (size_t i = 0; i < dispatches_.size(); ++i) {
    if (!dispatches_[i].answered)
      numbers.push_back(i + 1);
  }
  // Dispatch order across service workers follows hash-set order; key and deadline do not.
  std::sort(numbers.begin(), numbers.end(), [this](uint64_t a, uint64_t b) {
    const Dispatch& x = dispatches_[a - 1];
    const Dispatch& y = dispatches_[b - 1];
    return std::tie(x.key, x.deadline, a) < std::tie(y.key, y.deadline, b);
  });
  return numbers;
}

const RegistrationKey& SyncModel::DispatchedKey(uint64_t number) const {
  return dispatches_.at(number - 1).key;
}

// ---------------------------------------------------------------------------------------------------------------
// Restarts.

void SyncModel::OnEngineStopping(BackgroundSyncEngine& engine) {
  snapshot_ = engine.GetAllRegistrations();
  stopped_ = true;
  // The next engine starts afresh: events of this one no longer count, nothing waits for an acknowledgement.
  // (The next engine may fire while it starts, before OnEngineStarted.)
  ++generation_;
  for (auto& [key, state] : keys_) {
    state.awaiting = 0;
    state.awaiting_unknown = false;
    state.event_may_end_it = false;
  }
}

void SyncModel::OnEngineStarted(BackgroundSyncEngine& engine) {
  FUZZ_TRACE(absl::StrCat("engine ", generation_, " started"));
  const BackgroundSyncEngine::LoadReport& report = engine.load_report();
  FUZZ_CHECK(report.quarantined.empty(), absl::StrCat("the engine quarantined ", report.quarantined.size(),
                                                      " of its own records: ", report.quarantined.front().key, ": ",
                                                      report.quarantined.front().reason));
  snapshot_.clear();
  stopped_ = false;
}

void SyncModel::CheckRestart(BackgroundSyncEngine& engine) {
  if (!stopped_)
    return;
  const std::vector<SyncRegistration> loaded = engine.GetAllRegistrations();
  for (const SyncRegistration& before : snapshot_) {
    const SyncRegistration* after = FindIn(loaded, before.key);
    if (after == nullptr) {
      // Decision 5: registrations of a service worker unregistered meanwhile are deleted at start-up. Decision 4
      // (the poison-pill bound): a one-shot registration interrupted max_consecutive_interruptions times in a row
      // has spent that many attempts, and is deleted once they are all spent.
      const int interruptions = before.consecutive_interruptions + 1;
      const bool poison_pill = before.state == SyncState::kFiring && before.key.type == SyncType::kOneShot &&
                               interruptions >= parameters_.max_consecutive_interruptions &&
                               before.num_attempts + interruptions >= before.max_attempts;
      FUZZ_CHECK(!OwnerOf(before.key.sw_registration_id) || poison_pill, "a restart lost " + Describe(before));
      if (KeyState* state = Find(before.key))
        Forget(before.key, *state);
      continue;
    }
    if (IsFiring(before.state)) {
      FUZZ_CHECK(after->state == SyncState::kPending || after->state == SyncState::kWaiting,
                 "an interrupted registration was loaded as " + Describe(*after));
    } else {
      SyncRegistration expected = before;
      expected.resolved = true;
      FUZZ_CHECK(*after == expected, "a restart changed " + Describe(before) + " into " + Describe(*after));
    }
  }
  for (const SyncRegistration& r : loaded)
    FUZZ_CHECK(FindIn(snapshot_, r.key) != nullptr, "a restart brought back " + Describe(r));
}

// ---------------------------------------------------------------------------------------------------------------
// Invariants.

void SyncModel::CheckEngine(BackgroundSyncEngine& engine,
                            const std::shared_ptr<MemoryStorageBackend::Storage>& disk,
                            uint64_t disk_version) {
  const std::vector<SyncRegistration> memory = engine.GetAllRegistrations();
  if (checked_disk_version_ != disk_version) {
    CheckMemoryEqualsDisk(memory, disk);
    checked_disk_version_ = disk_version;
  }
  CheckRegistrations(memory);
}

void SyncModel::CheckMemoryEqualsDisk(const std::vector<SyncRegistration>& memory,
                                      const std::shared_ptr<MemoryStorageBackend::Storage>& disk) {
  // Memory equals what a restart loads.
  MemoryStorageBackend backend(disk);
  absl::StatusOr<SyncRegistrationStore::LoadResult> stored = SyncRegistrationStore(&backend).Load();
  FUZZ_CHECK(stored.ok(), "the store does not load: " + stored.status().ToString());
  FUZZ_CHECK(stored->quarantined.empty(),
             absl::StrCat("the engine wrote a record it cannot read: ", stored->quarantined.front().key, ": ",
                          stored->quarantined.front().reason));
  FUZZ_CHECK(memory.size() == stored->registrations.size(),
             absl::StrCat("memory holds ", memory.size(), " registrations, the disk ", stored->registrations.size()));
  for (size_t i = 0; i < memory.size(); ++i) {
    SyncRegistration in_memory = memory[i];
    in_memory.resolved = true;
    FUZZ_CHECK(in_memory == stored->registrations[i],
               "memory holds " + Describe(memory[i]) + ", the disk " + Describe(stored->registrations[i]));
  }
}

void SyncModel::CheckRegistrations(const std::vector<SyncRegistration>& memory) {
  // Each registration is valid, its origin's, and one the model knows to be acknowledged.
  std::map<int64_t, size_t> per_service_worker;
  std::map<Origin, size_t> per_origin;
  for (const SyncRegistration& r : memory) {
    const auto what = [&] { return std::string(Describe(r)); };
    FUZZ_CHECK(IsWellFormedUtf8ByTable(r.key.tag) && r.key.tag.size() <= kMaxTagLengthBytes, what() + ": invalid tag");
    std::optional<Origin> creator = CreatorOf(r.key.sw_registration_id);
    FUZZ_CHECK(creator && *creator == r.origin, what() + ": not its service worker's origin");
    KeyState* state = Find(r.key);
    FUZZ_CHECK(state != nullptr && state->origin == r.origin, what() + ": nobody of its origin registered it");
    FUZZ_CHECK(state->acknowledged, what() + ": present, but its Register was never answered OK");
    const int max_attempts =
        r.key.type == SyncType::kOneShot ? parameters_.max_sync_attempts : parameters_.max_periodic_sync_attempts;
    FUZZ_CHECK(r.max_attempts == max_attempts && r.num_attempts >= 0 && r.num_attempts < r.max_attempts,
               what() + ": attempts out of range");
    FUZZ_CHECK(
        r.consecutive_interruptions >= 0 && r.consecutive_interruptions < parameters_.max_consecutive_interruptions,
        what() + ": interruptions out of range");
    FUZZ_CHECK(r.min_interval >= absl::ZeroDuration() &&
                   (r.key.type == SyncType::kPeriodic || r.min_interval == absl::ZeroDuration()),
               what() + ": bad min_interval");
    if (r.key.type == SyncType::kPeriodic) {
      FUZZ_CHECK(r.resolved, what() + ": a periodic registration waits for an acknowledgement");
    } else if (!state->awaiting_unknown && unanswered_registers_.count(r.key) == 0) {
      // (A Register still waiting for its commit has already made the engine wait for its client.)
      FUZZ_CHECK(r.resolved == (state->awaiting == 0),
                 absl::StrCat(what(), ": the model says it waits for client ", state->awaiting));
    }
    ++per_service_worker[r.key.sw_registration_id];
    ++per_origin[r.origin];
  }
  for (const auto& [sw, count] : per_service_worker) {
    FUZZ_CHECK(count <= parameters_.max_registrations_per_service_worker,
               absl::StrCat("service worker ", sw, " has ", count, " registrations"));
  }
  for (const auto& [origin, count] : per_origin) {
    FUZZ_CHECK(count <= parameters_.max_registrations_per_origin,
               absl::StrCat(origin.Serialize(), " has ", count, " registrations"));
  }

  // Every acknowledged registration is still there, or something allowed it to go.
  for (auto& [key, state] : keys_) {
    if (!state.acknowledged || FindIn(memory, key) != nullptr)
      continue;
    FUZZ_CHECK(
        state.removal_allowed || state.event_may_end_it,
        absl::StrCat("the acknowledged registration ", Describe(key), " of ", state.origin.Serialize(), " is gone"));
    Forget(key, state);
  }
}

std::vector<SyncRegistration> SyncModel::OthersOf(BackgroundSyncEngine& engine, const Origin& origin) {
  std::vector<SyncRegistration> others;
  for (SyncRegistration& r : engine.GetAllRegistrations()) {
    if (r.origin != origin)
      others.push_back(std::move(r));
  }
  return others;
}

}  // namespace fuzzing
}  // namespace bgsync
