#include "components/background_sync/background_sync_engine.h"

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "components/background_sync/periodic_schedule.h"
#include "components/background_sync/retry_policy.h"
#include "public/background_sync_error.h"
#include "public/sync_tag.h"

namespace bgsync {
namespace {

using E = BackgroundSyncError;

bool IsFiring(SyncState state) {
  return state == SyncState::kFiring || state == SyncState::kReregisteredWhileFiring;
}

// "sync" or "periodicsync", as in Chromium's DevTools event names.
absl::string_view EventWord(SyncType type) {
  return type == SyncType::kOneShot ? "sync" : "periodicsync";
}

std::string RegistrationHistogram(SyncType type) {
  return type == SyncType::kOneShot ? "BackgroundSync.Registration.OneShot" : "BackgroundSync.Registration.Periodic";
}

std::string ToMillisString(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Construction, start-up and shutdown.

BackgroundSyncEngine::BackgroundSyncEngine(Dependencies dependencies, BackgroundSyncParameters parameters)
    : parameters_(std::move(parameters)),
      clock_(dependencies.clock),
      network_(dependencies.network),
      permissions_(dependencies.permissions),
      registry_(dependencies.registry),
      dispatcher_(dependencies.dispatcher),
      engagement_(dependencies.engagement ? dependencies.engagement : &default_engagement_),
      observer_(dependencies.observer),
      storage_(std::move(dependencies.storage)),
      store_(storage_.get()) {}

absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> BackgroundSyncEngine::Create(
    Dependencies dependencies,
    BackgroundSyncParameters parameters) {
  if (!dependencies.clock || !dependencies.network || !dependencies.permissions || !dependencies.registry ||
      !dependencies.dispatcher || !dependencies.storage) {
    return absl::InvalidArgumentError("BackgroundSyncEngine::Create: a dependency is missing");
  }
  if (parameters.max_sync_attempts < 1 || parameters.retry_delay_factor < 1 ||
      parameters.max_consecutive_interruptions < 1 || parameters.max_periodic_sync_attempts < 1 ||
      parameters.min_periodic_sync_events_interval <= absl::ZeroDuration() ||
      parameters.min_periodic_sync_batch_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("BackgroundSyncEngine::Create: parameters out of range");
  }
  std::unique_ptr<BackgroundSyncEngine> engine(
      new BackgroundSyncEngine(std::move(dependencies), std::move(parameters)));
  absl::Status status = engine->Load();
  if (!status.ok())
    return status;
  engine->SetWakeUpAfterLoad();
  engine->FireAllReady();
  return engine;
}

absl::Status BackgroundSyncEngine::Load() {
  // A million registrations load in about the time LevelDB takes to read them: the store decodes them as they are
  // read, in parallel key ranges, grouped by service worker, and each group is checked against the registry on the
  // thread that read it, while it is in that CPU's caches. What needs more than counting is noted for the pass
  // below: the service workers that are gone, registrations whose stored origin is not their service worker's, and
  // service workers with registrations found firing or periodic.
  struct ReadNotes {
    absl::Mutex mu;
    std::vector<RegistrationKey> unregistered ABSL_GUARDED_BY(mu);
    std::vector<std::pair<RegistrationKey, std::string>> foreign ABSL_GUARDED_BY(mu);  // with the reason
    absl::flat_hash_set<int64_t> to_revisit ABSL_GUARDED_BY(mu);
    // The earliest next attempt after `load_start` of a pending or waiting registration (see SetWakeUpAfterLoad).
    std::optional<CompactTime> earliest_due ABSL_GUARDED_BY(mu);
  } notes;
  const CompactTime load_start = clock_->Now();
  auto check_group = [this, &notes, load_start](SyncRegistrationStore::LoadedServiceWorker& group) {
    std::vector<SyncRegistration>& registrations = group.registrations;
    std::optional<ServiceWorkerRegistrationInfo> sw = registry_->Find(group.sw_registration_id);
    if (!sw) {
      // Its service worker was unregistered while we were not running (decision 5): they are deleted below.
      absl::MutexLock lock(&notes.mu);
      for (SyncRegistration& r : registrations)
        notes.unregistered.push_back(std::move(r.key));
      registrations.clear();
      return;
    }
    // The store shares one Origin between consecutive records that spell it alike: one comparison per group.
    std::optional<SharedOrigin> checked;
    bool revisit = false;
    std::optional<CompactTime> earliest_due;
    size_t kept = 0;
    for (size_t i = 0; i < registrations.size(); ++i) {
      SyncRegistration& r = registrations[i];
      if (!(checked && r.origin.SharesWith(*checked))) {
        if (sw->origin != r.origin) {
          std::string reason = absl::StrCat("stored origin ", r.origin.Serialize(), " is not its service worker's ",
                                            sw->origin.Serialize());
          absl::MutexLock lock(&notes.mu);
          notes.foreign.emplace_back(std::move(r.key), std::move(reason));
          continue;
        }
        checked = r.origin;
      }
      revisit = revisit || IsFiring(r.state) || r.key.type == SyncType::kPeriodic;
      // Registrations found firing get their times below, once recovered.
      if ((r.state == SyncState::kPending || r.state == SyncState::kWaiting) && r.next_attempt_time > load_start &&
          !(earliest_due && *earliest_due <= r.next_attempt_time)) {
        earliest_due = r.next_attempt_time;
      }
      if (kept != i)
        registrations[kept] = std::move(r);
      ++kept;
    }
    registrations.erase(registrations.begin() + static_cast<std::ptrdiff_t>(kept), registrations.end());
    if (revisit || earliest_due) {
      absl::MutexLock lock(&notes.mu);
      if (revisit)
        notes.to_revisit.insert(group.sw_registration_id);
      if (earliest_due && !(notes.earliest_due && *notes.earliest_due <= *earliest_due))
        notes.earliest_due = earliest_due;
    }
  };
  const int parallel_reads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  absl::StatusOr<SyncRegistrationStore::LoadByServiceWorkerResult> loaded =
      store_.LoadByServiceWorker(parallel_reads, check_group);
  if (!loaded.ok())
    return loaded.status();
  load_report_.quarantined = std::move(loaded->quarantined);

  const absl::Time now = clock_->Now();
  StorageBatch fixups;
  absl::MutexLock lock(&mu_);
  for (const SyncRegistrationStore::QuarantinedRecord& q : load_report_.quarantined) {
    // Only a canonically spelled key can ever be written by a Register.
    absl::StatusOr<RegistrationKey> key = SyncRegistrationStore::DecodeKey(q.key);
    if (key.ok() && SyncRegistrationStore::EncodeKey(*key) == q.key)
      quarantined_keys_.emplace(*std::move(key), q.reason);
  }
  absl::MutexLock notes_lock(&notes.mu);
  // Reported in key order, as one reader would have found them.
  std::sort(notes.unregistered.begin(), notes.unregistered.end());
  for (const RegistrationKey& key : notes.unregistered)
    SyncRegistrationStore::AddDelete(key, fixups);
  load_report_.dropped_unregistered += static_cast<int>(notes.unregistered.size());
  std::sort(notes.foreign.begin(), notes.foreign.end());
  for (auto& [key, reason] : notes.foreign) {
    load_report_.quarantined.push_back({SyncRegistrationStore::EncodeKey(key), reason});
    quarantined_keys_.emplace(std::move(key), std::move(reason));
  }
  registrations_per_sw_.reserve(loaded->service_workers.size());
  registrations_per_origin_.reserve(loaded->service_workers.size());
  for (SyncRegistrationStore::LoadedServiceWorker& group : loaded->service_workers) {
    std::vector<SyncRegistration>& registrations = group.registrations;
    if (notes.to_revisit.contains(group.sw_registration_id)) {
      size_t kept = 0;
      for (size_t i = 0; i < registrations.size(); ++i) {
        SyncRegistration& r = registrations[i];
        if (IsFiring(r.state)) {
          if (!RecoverInterrupted(r, now, fixups))
            continue;
          if ((r.state == SyncState::kPending || r.state == SyncState::kWaiting) && r.next_attempt_time > load_start &&
              !(notes.earliest_due && *notes.earliest_due <= r.next_attempt_time)) {
            notes.earliest_due = r.next_attempt_time;
          }
        }
        if (r.key.type == SyncType::kPeriodic)
          periodic_by_origin_[r.origin].insert(r.key);
        if (kept != i)
          registrations[kept] = std::move(r);
        ++kept;
      }
      registrations.erase(registrations.begin() + static_cast<std::ptrdiff_t>(kept), registrations.end());
    }
    if (registrations.empty())
      continue;
    registrations_per_sw_[group.sw_registration_id] += registrations.size();
    registrations_per_origin_[registrations.front().origin] += registrations.size();
    load_report_.loaded += static_cast<int>(registrations.size());
    registrations_.AddServiceWorker(group.sw_registration_id, std::move(registrations));
  }
  load_start_ = load_start.get();
  load_earliest_due_ = notes.earliest_due ? notes.earliest_due->get() : absl::InfiniteFuture();
  if (!fixups.empty()) {
    absl::Status status = CommitAndWait(*storage_, std::move(fixups), Durability::kDurable);
    if (!status.ok())
      return status;
  }
  return absl::OkStatus();
}

void BackgroundSyncEngine::SetWakeUpAfterLoad() {
  // Right after the load, UpdateWakeUp would find the earliest next attempt after now of a pending or waiting
  // registration: no origin is suspended yet (origin_penalty_ is empty) and no batch or origin minimum is set, so a
  // periodic registration is due at its next_attempt_time too. The load noted the earliest after its start, which
  // is the answer unless something came due while loading: then the full pass finds the next one. This spares a
  // pass over a million registrations at start-up.
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_ || !origin_penalty_.empty() || next_periodic_batch_ != absl::InfinitePast() ||
        !next_origin_periodic_.empty()) {
      // Not the state right after a load: not this shortcut.
    } else if (load_start_ <= clock_->Now() && load_earliest_due_ > clock_->Now()) {
      wake_up_time_ = load_earliest_due_;
      wake_up_timer_ = wake_up_time_ == absl::InfiniteFuture() ? 0 : PostGuarded(wake_up_time_, [this] { OnWakeUp(); });
      return;
    }
  }
  UpdateWakeUp();
}

bool BackgroundSyncEngine::RecoverInterrupted(SyncRegistration& r, absl::Time now, StorageBatch& fixups) {
  // The browser stopped during this registration's event: fire it again without counting the attempt, unless it
  // keeps happening (the poison-pill bound, decision 4).
  ++load_report_.interrupted;
  if (r.state == SyncState::kReregisteredWhileFiring) {
    r.state = SyncState::kPending;
    r.num_attempts = 0;
    r.next_attempt_time = absl::InfinitePast();
    r.consecutive_interruptions = 0;
  } else if (++r.consecutive_interruptions >= parameters_.max_consecutive_interruptions) {
    r.num_attempts += r.consecutive_interruptions;
    r.consecutive_interruptions = 0;
    r.last_failure = SyncEventOutcome::kAborted;
    if (r.num_attempts < r.max_attempts) {
      r.state = SyncState::kWaiting;
      r.next_attempt_time = NextAttemptTime(parameters_, now, r.num_attempts);
    } else if (r.key.type == SyncType::kOneShot) {
      SyncRegistrationStore::AddDelete(r.key, fixups);
      return false;
    } else {
      // Out of attempts, a periodic registration waits for its next interval: failures never remove it.
      // The anchor is the interrupted event's start; the origin's gap is as OriginGap() computes it.
      r.state = SyncState::kPending;
      r.num_attempts = 0;
      const int penalty = EngagementPenalty(engagement_->GetEngagementLevel(r.origin));
      const absl::Duration gap = parameters_.min_periodic_sync_events_interval * (penalty == 0 ? 3 : penalty);
      if (r.anchor_time == absl::InfinitePast())
        r.anchor_time = now;
      r.next_attempt_time = std::min(r.anchor_time + PeriodicDelay(r.min_interval, gap), LatestStorableTime());
    }
  } else {
    r.state = SyncState::kPending;
  }
  SyncRegistrationStore::AddPut(r, fixups);
  return true;
}

BackgroundSyncEngine::~BackgroundSyncEngine() {
  Shutdown();
  guard_->Invalidate();
  storage_.reset();
}

void BackgroundSyncEngine::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
  }
  queues_.WaitUntilIdle();
  std::vector<TimerId> timers;
  {
    absl::MutexLock lock(&mu_);
    if (wake_up_timer_)
      timers.push_back(wake_up_timer_);
    wake_up_timer_ = 0;
    wake_up_time_ = absl::InfiniteFuture();
    for (const auto& [attempt, event] : in_flight_)
      timers.push_back(event.timeout_timer);
    in_flight_.clear();
  }
  for (TimerId timer : timers)
    clock_->Cancel(timer);
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

Durability BackgroundSyncEngine::WriteDurability() const {
  return parameters_.durable_writes ? Durability::kDurable : Durability::kBuffered;
}

absl::Status BackgroundSyncEngine::CheckNotShutDown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || parameters_.disabled)
    return SyncError(E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  return absl::OkStatus();
}

absl::Status BackgroundSyncEngine::CheckServiceWorker(const Origin& origin, int64_t sw_registration_id) {
  std::optional<ServiceWorkerRegistrationInfo> sw = registry_->Find(sw_registration_id);
  // Unknown and foreign ids get the same answer, so a renderer cannot probe other origins (reliability.md P4).
  if (!sw || sw->origin != origin)
    return SyncError(E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  return absl::OkStatus();
}

void BackgroundSyncEngine::CommitChanges(Changes changes,
                                         Durability durability,
                                         absl::AnyInvocable<void(absl::Status)> then) {
  StorageBatch batch;
  for (const auto& [key, value] : changes) {
    if (value) {
      SyncRegistrationStore::AddPut(*value, batch);
    } else {
      SyncRegistrationStore::AddDelete(key, batch);
    }
  }
  store_.Commit(std::move(batch), durability,
                [this, changes = std::move(changes), then = std::move(then)](absl::Status status) mutable {
                  {
                    absl::MutexLock lock(&mu_);
                    if (status.ok()) {
                      ApplyChanges(changes);
                    } else {
                      ++counters_.store_failures;
                    }
                  }
                  then(std::move(status));
                });
}

void BackgroundSyncEngine::ApplyChanges(const Changes& changes) {
  for (const auto& [key, value] : changes) {
    auto it = registrations_.find(key);
    if (value) {
      if (it == registrations_.end()) {
        ++registrations_per_sw_[key.sw_registration_id];
        ++registrations_per_origin_[value->origin];
        if (key.type == SyncType::kPeriodic)
          periodic_by_origin_[value->origin].insert(key);
        registrations_.emplace(key, *value);
      } else {
        it->second = *value;
      }
    } else if (it != registrations_.end()) {
      if (--registrations_per_sw_[key.sw_registration_id] == 0)
        registrations_per_sw_.erase(key.sw_registration_id);
      if (--registrations_per_origin_[it->second.origin] == 0)
        registrations_per_origin_.erase(it->second.origin);
      awaiting_ack_.erase(key);
      if (key.type == SyncType::kPeriodic) {
        periodic_admitted_.erase(key);
        auto index = periodic_by_origin_.find(it->second.origin);
        if (index != periodic_by_origin_.end()) {
          index->second.erase(key);
          if (index->second.empty())
            periodic_by_origin_.erase(index);
        }
      }
      registrations_.erase(it);
    }
  }
}

TimerId BackgroundSyncEngine::PostGuarded(absl::Time when, absl::AnyInvocable<void()> fn) {
  return clock_->PostAt(when, [guard = guard_, fn = std::move(fn)]() mutable { RunIfAlive(guard, fn); });
}

// ---------------------------------------------------------------------------------------------------------------
// Register, acknowledge, getTags, unregister.

void BackgroundSyncEngine::Register(RegisterRequest request, absl::AnyInvocable<void(absl::Status)> done) {
  const int64_t sw = request.sw_registration_id;
  queues_.Post(sw,
               [this, request = std::move(request), done = std::move(done)](OperationQueues::Finish finish) mutable {
                 RunRegister(std::move(request), std::move(done), std::move(finish));
               });
}

void BackgroundSyncEngine::RunRegister(RegisterRequest request,
                                       absl::AnyInvocable<void(absl::Status)> done,
                                       OperationQueues::Finish finish) {
  auto fail = [&](absl::Status status) {
    metrics_.RecordEnum(RegistrationHistogram(request.type), SyncErrorName(GetSyncError(status)));
    done(std::move(status));
    finish();
  };
  // Input no honest client produces (the renderer converts the page's strings to UTF-8 and checks the interval).
  if (!IsWellFormedUtf8(request.tag))
    return fail(absl::InvalidArgumentError("tag is not well-formed UTF-8"));
  if (request.min_interval < absl::ZeroDuration())
    return fail(absl::InvalidArgumentError("negative min_interval"));
  if (request.type == SyncType::kOneShot && request.min_interval != absl::ZeroDuration()) {
    return fail(absl::InvalidArgumentError("one-shot registration with a min_interval"));
  }

  if (absl::Status status = CheckNotShutDown(); !status.ok())
    return fail(status);
  if (!IsTagLengthValid(request.tag))
    return fail(SyncError(E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG));
  std::optional<ServiceWorkerRegistrationInfo> sw = registry_->Find(request.sw_registration_id);
  if (!sw || sw->origin != request.origin)
    return fail(SyncError(E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND));
  if (!sw->has_active_worker)
    return fail(SyncError(E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER));
  if (permissions_->GetPermission(request.origin, request.type) != PermissionStatus::kGranted) {
    return fail(SyncError(E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED));
  }
  if (!registry_->HasTopLevelWindowClient(request.origin)) {
    return fail(SyncError(E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW));
  }

  RegistrationKey key{request.sw_registration_id, request.type, request.tag};
  std::optional<std::string> quarantine_reason;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = quarantined_keys_.find(key); it != quarantined_keys_.end())
      quarantine_reason = it->second;
  }
  if (quarantine_reason) {
    // The damaged record under this key is kept for inspection (reliability.md P7); writing would destroy it.
    return fail(SyncError(E::BACKGROUND_SYNC_ERROR_STORAGE,
                          absl::StrCat("a damaged registration is stored under this tag and kept for inspection (",
                                       *quarantine_reason, ")")));
  }
  const bool periodic = request.type == SyncType::kPeriodic;
  if (periodic)
    RefreshPenalty(request.origin);
  SyncRegistration updated;
  bool is_new = false;
  bool changed = true;
  bool rescheduled = false;
  std::optional<ClientId> previous_ack;
  {
    absl::MutexLock lock(&mu_);
    auto it = registrations_.find(key);
    if (it == registrations_.end()) {
      auto count = [](const auto& map, const auto& k) -> size_t {
        auto found = map.find(k);
        return found == map.end() ? 0 : found->second;
      };
      if (count(registrations_per_sw_, key.sw_registration_id) >= parameters_.max_registrations_per_service_worker ||
          count(registrations_per_origin_, request.origin) + count(creating_per_origin_, request.origin) >=
              parameters_.max_registrations_per_origin) {
        return fail(SyncError(E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED));
      }
      is_new = true;
      ++creating_per_origin_[request.origin];
      updated.key = key;
      updated.origin = request.origin;
      updated.max_attempts = periodic ? parameters_.max_periodic_sync_attempts : parameters_.max_sync_attempts;
      updated.min_interval = request.min_interval;
      if (periodic) {
        // Not fired on registration: the first event is one interval after now (spec).
        updated.anchor_time = clock_->Now();
        SchedulePeriodic(updated);
        rescheduled = true;
      }
    } else {
      updated = it->second;
      const SyncRegistration& existing = it->second;
      if (periodic && existing.min_interval != request.min_interval) {
        updated.min_interval = request.min_interval;
        // A firing registration is rescheduled when its event settles.
        if (!IsFiring(existing.state) && existing.num_attempts == 0) {
          SchedulePeriodic(updated);
          rescheduled = true;
        }
      } else if (!periodic && existing.state == SyncState::kWaiting) {
        // Re-registering cancels the backoff: pending again, with fresh attempts (decision 1).
        updated.state = SyncState::kPending;
        updated.num_attempts = 0;
        updated.next_attempt_time = absl::InfinitePast();
      } else if (existing.state == SyncState::kFiring) {
        updated.state = SyncState::kReregisteredWhileFiring;
      } else {
        changed = false;
      }
    }
    // Every successful one-shot Register waits for its own client's acknowledgement before the registration fires.
    // Periodic registrations never fire on registration, so there is nothing to race.
    if (!periodic) {
      if (auto ack = awaiting_ack_.find(key); ack != awaiting_ack_.end())
        previous_ack = ack->second;
      if (request.client != 0)
        awaiting_ack_[key] = request.client;
    }
  }

  auto complete = [this, key, is_new, rescheduled, origin = request.origin, min_interval = request.min_interval,
                   done = std::move(done), finish = std::move(finish)](absl::Status status) mutable {
    const bool ok = status.ok();
    metrics_.RecordEnum(RegistrationHistogram(key.type), ok ? "OK" : SyncErrorName(GetSyncError(status)));
    if (ok) {
      metrics_.RecordEnum(RegistrationHistogram(key.type) + ".IsDuplicate", is_new ? "false" : "true");
      if (key.type == SyncType::kOneShot) {
        metrics_.RecordEnum("BackgroundSync.Registration.OneShot.CouldFire",
                            network_->IsOnline(key.sw_registration_id) ? "true" : "false");
        Emit(key, origin, "Registered sync");
      } else {
        Emit(key, origin, "Registered periodicsync", {{"minInterval", ToMillisString(min_interval)}});
      }
    }
    done(std::move(status));
    finish();
    if (ok && rescheduled) {
      std::optional<SyncRegistration> r;
      {
        absl::MutexLock lock(&mu_);
        if (auto it = registrations_.find(key); it != registrations_.end())
          r = it->second;
      }
      if (r)
        EmitNextEventDelay(*r);
      UpdateWakeUp();
    }
    if (ok)
      FireReadyRegistrations(key.sw_registration_id);
  };
  if (!changed)
    return complete(absl::OkStatus());

  CommitChanges(
      {{key, updated}}, WriteDurability(),
      [this, key, is_new, previous_ack, origin = request.origin, client = request.client,
       complete = std::move(complete)](absl::Status status) mutable {
        if (is_new || !status.ok()) {
          absl::MutexLock lock(&mu_);
          if (is_new && --creating_per_origin_[origin] == 0)
            creating_per_origin_.erase(origin);
          if (!status.ok() && client != 0 && key.type == SyncType::kOneShot) {
            if (previous_ack) {
              awaiting_ack_[key] = *previous_ack;
            } else {
              awaiting_ack_.erase(key);
            }
          }
        }
        complete(status.ok() ? absl::OkStatus() : SyncError(E::BACKGROUND_SYNC_ERROR_STORAGE, status.message()));
      });
}

absl::Status BackgroundSyncEngine::DidResolveRegistration(const Origin& origin,
                                                          ClientId client,
                                                          const RegistrationKey& key) {
  if (absl::Status status = CheckServiceWorker(origin, key.sw_registration_id); !status.ok())
    return status;
  {
    absl::MutexLock lock(&mu_);
    auto it = awaiting_ack_.find(key);
    if (it == awaiting_ack_.end() || it->second != client)
      return absl::OkStatus();
    awaiting_ack_.erase(it);
  }
  FireReadyRegistrations(key.sw_registration_id);
  return absl::OkStatus();
}

void BackgroundSyncEngine::OnClientDisconnected(ClientId client) {
  std::set<int64_t> service_workers;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = awaiting_ack_.begin(); it != awaiting_ack_.end();) {
      if (it->second == client) {
        service_workers.insert(it->first.sw_registration_id);
        awaiting_ack_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (int64_t sw : service_workers)
    FireReadyRegistrations(sw);
}

void BackgroundSyncEngine::GetRegistrations(const Origin& origin,
                                            int64_t sw_registration_id,
                                            SyncType type,
                                            absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>)> done) {
  queues_.Post(sw_registration_id, [this, origin, sw_registration_id, type,
                                    done = std::move(done)](OperationQueues::Finish finish) mutable {
    absl::Status status = CheckNotShutDown();
    if (status.ok())
      status = CheckServiceWorker(origin, sw_registration_id);
    std::vector<std::string> tags;
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      for (auto it = registrations_.lower_bound({sw_registration_id, type, ""});
           it != registrations_.end() && it->first.sw_registration_id == sw_registration_id && it->first.type == type;
           ++it) {
        tags.push_back(it->first.tag);
      }
    }
    if (status.ok()) {
      done(std::move(tags));
    } else {
      done(status);
    }
    finish();
  });
}

void BackgroundSyncEngine::OnServiceWorkerUnregistered(int64_t sw_registration_id,
                                                       absl::AnyInvocable<void(absl::Status)> done) {
  queues_.Post(
      sw_registration_id, [this, sw_registration_id, done = std::move(done)](OperationQueues::Finish finish) mutable {
        Changes changes;
        {
          absl::MutexLock lock(&mu_);
          for (auto it = registrations_.lower_bound({sw_registration_id, SyncType::kOneShot, ""});
               it != registrations_.end() && it->first.sw_registration_id == sw_registration_id; ++it) {
            changes.emplace(it->first, std::nullopt);
          }
        }
        if (changes.empty()) {
          done(absl::OkStatus());
          return finish();
        }
        // Deleting is allowed after Shutdown() too: it only removes data.
        CommitChanges(std::move(changes), WriteDurability(),
                      [this, done = std::move(done), finish = std::move(finish)](absl::Status status) mutable {
                        done(status.ok() ? status : SyncError(E::BACKGROUND_SYNC_ERROR_STORAGE, status.message()));
                        finish();
                        UpdateWakeUp();
                      });
      });
}

void BackgroundSyncEngine::Unregister(const Origin& origin,
                                      int64_t sw_registration_id,
                                      std::string tag,
                                      absl::AnyInvocable<void(absl::Status)> done) {
  queues_.Post(sw_registration_id, [this, origin, sw_registration_id, tag = std::move(tag),
                                    done = std::move(done)](OperationQueues::Finish finish) mutable {
    // Owns `done` and `finish`: it may outlive this task (the commit below completes asynchronously).
    auto answer = [done = std::move(done), finish = std::move(finish)](absl::Status status) mutable {
      done(std::move(status));
      finish();
    };
    if (!IsWellFormedUtf8(tag))
      return answer(absl::InvalidArgumentError("tag is not well-formed UTF-8"));
    if (absl::Status status = CheckNotShutDown(); !status.ok())
      return answer(status);
    if (absl::Status status = CheckServiceWorker(origin, sw_registration_id); !status.ok())
      return answer(status);
    RegistrationKey key{sw_registration_id, SyncType::kPeriodic, std::move(tag)};
    bool registered;
    {
      absl::MutexLock lock(&mu_);
      registered = registrations_.count(key) != 0;
    }
    // Answered outside mu_: the callback may call back into the engine.
    if (!registered)
      return answer(absl::OkStatus());
    CommitChanges({{key, std::nullopt}}, WriteDurability(),
                  [this, key, origin, answer = std::move(answer)](absl::Status status) mutable {
                    if (status.ok())
                      Emit(key, origin, "Unregistered periodicsync");
                    answer(status.ok() ? status : SyncError(E::BACKGROUND_SYNC_ERROR_STORAGE, status.message()));
                    if (status.ok())
                      UpdateWakeUp();
                  });
  });
}

void BackgroundSyncEngine::ChangePeriodicRegistrationsOf(const Origin& origin,
                                                         PeriodicPlan plan,
                                                         absl::AnyInvocable<void(absl::Status)> done) {
  std::set<int64_t> service_workers = PeriodicServiceWorkersOf(origin);
  if (service_workers.empty())
    return done(absl::OkStatus());
  // One batch per service-worker registration, each on that registration's queue; `done` after the last.
  struct Pending {
    absl::Mutex mu;
    size_t remaining ABSL_GUARDED_BY(mu);
    absl::Status first_error ABSL_GUARDED_BY(mu);
    PeriodicPlan plan;
    absl::AnyInvocable<void(absl::Status)> done;
  };
  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&pending->mu);
    pending->remaining = service_workers.size();
  }
  pending->plan = std::move(plan);
  pending->done = std::move(done);
  for (int64_t sw : service_workers) {
    queues_.Post(sw, [this, sw, origin, pending](OperationQueues::Finish finish) mutable {
      // Queues run one operation per service worker at a time, but different service workers' operations run
      // concurrently: the plan is called under the pending state's lock (and ours).
      Changes changes;
      {
        absl::MutexLock plan_lock(&pending->mu);
        absl::MutexLock lock(&mu_);
        for (auto it = registrations_.lower_bound({sw, SyncType::kPeriodic, ""});
             it != registrations_.end() && it->first.sw_registration_id == sw && it->first.type == SyncType::kPeriodic;
             ++it) {
          if (it->second.origin == origin)
            pending->plan(it->second, changes);
        }
      }
      auto complete = [pending, finish = std::move(finish)](absl::Status status) mutable {
        finish();
        bool last;
        absl::Status result;
        {
          absl::MutexLock lock(&pending->mu);
          if (!status.ok() && pending->first_error.ok())
            pending->first_error = SyncError(E::BACKGROUND_SYNC_ERROR_STORAGE, status.message());
          last = --pending->remaining == 0;
          result = pending->first_error;
        }
        if (last)
          pending->done(result);
      };
      if (changes.empty())
        return complete(absl::OkStatus());
      CommitChanges(std::move(changes), WriteDurability(), std::move(complete));
    });
  }
}

std::set<int64_t> BackgroundSyncEngine::PeriodicServiceWorkersOf(const Origin& origin) {
  std::set<int64_t> service_workers;
  absl::MutexLock lock(&mu_);
  if (auto it = periodic_by_origin_.find(origin); it != periodic_by_origin_.end()) {
    for (const RegistrationKey& key : it->second)
      service_workers.insert(key.sw_registration_id);
  }
  return service_workers;
}

void BackgroundSyncEngine::OnPermissionRevoked(const Origin& origin, absl::AnyInvocable<void(absl::Status)> done) {
  ChangePeriodicRegistrationsOf(
      origin, [](const SyncRegistration& r, Changes& changes) { changes.emplace(r.key, std::nullopt); },
      [this, done = std::move(done)](absl::Status status) mutable {
        done(std::move(status));
        UpdateWakeUp();
      });
}

void BackgroundSyncEngine::OnEngagementChanged(const Origin& origin) {
  const int previous = [&] {
    absl::MutexLock lock(&mu_);
    auto it = origin_penalty_.find(origin);
    return it == origin_penalty_.end() ? -1 : it->second;
  }();
  if (RefreshPenalty(origin) == previous)
    return;
  ChangePeriodicRegistrationsOf(
      origin,
      [this](const SyncRegistration& r, Changes& changes) {
        mu_.AssertHeld();
        // Events in flight and retries keep their times; fresh events are rescheduled with the new gap.
        if (IsFiring(r.state) || r.num_attempts > 0)
          return;
        SyncRegistration next = r;
        SchedulePeriodic(next);
        if (next.next_attempt_time != r.next_attempt_time)
          changes.emplace(r.key, std::move(next));
      },
      [this](absl::Status) {
        UpdateWakeUp();
        FireAllReady();
      });
}

std::vector<SyncRegistration> BackgroundSyncEngine::GetAllRegistrations() {
  absl::MutexLock lock(&mu_);
  std::vector<SyncRegistration> result;
  result.reserve(registrations_.size());
  for (const auto& [key, r] : registrations_) {
    result.push_back(r);
    result.back().resolved = !awaiting_ack_.contains(key);
  }
  return result;
}

BackgroundSyncEngine::Counters BackgroundSyncEngine::GetCounters() {
  absl::MutexLock lock(&mu_);
  return counters_;
}

// ---------------------------------------------------------------------------------------------------------------
// Firing and settling events.

bool BackgroundSyncEngine::IsReady(const SyncRegistration& r, absl::Time now) {
  if (shut_down_ || parameters_.disabled || (r.state != SyncState::kPending && r.state != SyncState::kWaiting))
    return false;
  // Periodic registrations fire only once admitted into a batch (AdmitPeriodic), which checks their times.
  if (r.key.type == SyncType::kPeriodic)
    return periodic_admitted_.contains(r.key);
  return now >= r.next_attempt_time && !awaiting_ack_.contains(r.key);
}

void BackgroundSyncEngine::OnNetworkChanged() {
  FireAllReady();
}

void BackgroundSyncEngine::FireAllReady() {
  // What to ask the embedder about, collected under the lock and asked without it.
  absl::flat_hash_set<int64_t> service_workers;
  absl::flat_hash_set<Origin> periodic_origins;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    // Every service worker with registrations; of the periodic registrations (indexed by origin), the origins with
    // one due. Start-up calls this with a million registrations: they are not visited one by one.
    for (int64_t sw : registrations_.ServiceWorkerIds())
      service_workers.insert(sw);
    for (const auto& [origin, keys] : periodic_by_origin_) {
      for (const RegistrationKey& key : keys) {
        auto it = registrations_.find(key);
        if (it != registrations_.end() && now >= it->second.next_attempt_time) {
          periodic_origins.insert(origin);
          break;
        }
      }
    }
  }
  absl::flat_hash_set<int64_t> online;
  for (int64_t sw : service_workers) {
    if (network_->IsOnline(sw))
      online.insert(sw);
  }
  absl::flat_hash_set<Origin> allowed;
  for (const Origin& origin : periodic_origins) {
    if (RefreshPenalty(origin) > 0 &&
        permissions_->GetPermission(origin, SyncType::kPeriodic) == PermissionStatus::kGranted) {
      allowed.insert(origin);
    }
  }
  if (!allowed.empty()) {
    absl::MutexLock lock(&mu_);
    AdmitPeriodic(online, allowed);
  }
  for (int64_t sw : online)
    FireReadyRegistrations(sw);
}

void BackgroundSyncEngine::AdmitPeriodic(const absl::flat_hash_set<int64_t>& online_service_workers,
                                         const absl::flat_hash_set<Origin>& allowed_origins) {
  if (shut_down_ || parameters_.disabled)
    return;
  const absl::Time now = clock_->Now();
  // Fresh events open a batch only if the last batch is far enough back; each origin joins only if its own last
  // event is far enough back. Everything due at that moment fires together. Retries are never held back.
  const bool batch_allowed = now >= next_periodic_batch_;
  bool batch_opened = false;
  absl::flat_hash_set<Origin> joined;
  for (const Origin& origin : allowed_origins) {
    auto index = periodic_by_origin_.find(origin);
    if (index == periodic_by_origin_.end())
      continue;
    auto origin_next = next_origin_periodic_.find(origin);
    const bool origin_allowed = origin_next == next_origin_periodic_.end() || now >= origin_next->second;
    for (const RegistrationKey& key : index->second) {
      const SyncRegistration& r = registrations_.at(key);
      if ((r.state != SyncState::kPending && r.state != SyncState::kWaiting) || now < r.next_attempt_time ||
          !online_service_workers.contains(key.sw_registration_id) || periodic_admitted_.contains(key)) {
        continue;
      }
      if (r.num_attempts == 0) {
        if (!batch_allowed || !origin_allowed)
          continue;
        batch_opened = true;
        joined.insert(origin);
      }
      periodic_admitted_.insert(key);
    }
  }
  if (batch_opened)
    next_periodic_batch_ = now + parameters_.min_periodic_sync_batch_interval;
  for (const Origin& origin : joined)
    next_origin_periodic_[origin] = now + OriginGap(origin);
}

void BackgroundSyncEngine::FireReadyRegistrations(int64_t sw_registration_id) {
  // Ask the embedder before taking our lock: it may take locks of its own.
  if (!network_->IsOnline(sw_registration_id))
    return;
  std::vector<RegistrationKey> ready;
  int one_shot = 0;
  int periodic = 0;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (auto it = registrations_.lower_bound({sw_registration_id, SyncType::kOneShot, ""});
         it != registrations_.end() && it->first.sw_registration_id == sw_registration_id; ++it) {
      if (IsReady(it->second, now) && fire_queued_.insert(it->first).second) {
        ready.push_back(it->first);
        ++(it->first.type == SyncType::kOneShot ? one_shot : periodic);
      }
    }
  }
  if (one_shot > 0)
    metrics_.RecordValue("BackgroundSync.Event.OneShot.BatchSize", one_shot);
  if (periodic > 0)
    metrics_.RecordValue("BackgroundSync.Event.Periodic.BatchSize", periodic);
  if (ready.empty())
    return;
  // One operation for all of them: their firing states are written in one batch, and their events reach the
  // worker together (one storage round trip per service worker, not one per registration).
  queues_.Post(sw_registration_id, [this, ready = std::move(ready)](OperationQueues::Finish finish) mutable {
    RunFire(std::move(ready), std::move(finish));
  });
}

void BackgroundSyncEngine::RunFire(std::vector<RegistrationKey> keys, OperationQueues::Finish finish) {
  // Connectivity is re-checked at dispatch: if it is gone, the registrations stay pending and no attempt is spent
  // (a periodic one stays admitted to its batch).
  const bool online = network_->IsOnline(keys.front().sw_registration_id);
  Changes firing;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (const RegistrationKey& key : keys) {
      fire_queued_.erase(key);
      auto it = registrations_.find(key);
      if (!online || it == registrations_.end() || !IsReady(it->second, now))
        continue;
      SyncRegistration next = it->second;
      next.state = SyncState::kFiring;
      if (key.type == SyncType::kPeriodic && next.num_attempts == 0)
        next.anchor_time = now;  // the next interval counts from this event's start
      firing.emplace(key, std::move(next));
    }
  }
  if (firing.empty())
    return finish();
  // The firing state is written before dispatch so that a crash during the event is noticed at the next start.
  // kBuffered suffices: losing it to an OS crash only loses one count of the poison-pill bound.
  Changes written = firing;
  CommitChanges(std::move(written), Durability::kBuffered,
                [this, firing = std::move(firing), finish = std::move(finish)](absl::Status status) mutable {
                  const absl::Time now = clock_->Now();
                  if (!status.ok()) {
                    finish();
                    PostGuarded(now + parameters_.min_sync_recovery_time,
                                [this, sw = firing.begin()->first.sw_registration_id] { FireReadyRegistrations(sw); });
                    return;
                  }
                  struct Dispatch {
                    SyncEventRequest request;
                    uint64_t attempt;
                  };
                  std::vector<Dispatch> dispatches;
                  dispatches.reserve(firing.size());
                  for (const auto& [key, registration] : firing) {
                    dispatches.push_back(
                        {SyncEventRequest{key.sw_registration_id, registration->origin, key.type, key.tag,
                                          IsLastChance(*registration), now + parameters_.max_sync_event_duration},
                         0});
                  }
                  {
                    absl::MutexLock lock(&mu_);
                    for (Dispatch& d : dispatches) {
                      const RegistrationKey key{d.request.sw_registration_id, d.request.type, d.request.tag};
                      periodic_admitted_.erase(key);
                      d.attempt = next_attempt_id_++;
                      ++counters_.events_dispatched;
                      in_flight_[d.attempt] = {key, 0, now};
                    }
                  }
                  for (const Dispatch& d : dispatches) {
                    TimerId timeout = PostGuarded(d.request.deadline, [this, attempt = d.attempt] {
                      OnEventOutcome(attempt, SyncEventOutcome::kTimedOut);
                    });
                    absl::MutexLock lock(&mu_);
                    if (auto it = in_flight_.find(d.attempt); it != in_flight_.end())
                      it->second.timeout_timer = timeout;
                  }
                  finish();
                  // One hand-over to the dispatcher: the worker gets the whole batch at once.
                  std::vector<SyncEventDispatch> events;
                  events.reserve(dispatches.size());
                  for (Dispatch& d : dispatches) {
                    const RegistrationKey key{d.request.sw_registration_id, d.request.type, d.request.tag};
                    if (key.type == SyncType::kOneShot) {
                      Emit(key, d.request.origin, "Dispatched sync event",
                           {{"Last Chance", d.request.last_chance ? "Yes" : "No"}});
                    } else {
                      Emit(key, d.request.origin, "Dispatched periodicsync event");
                    }
                    events.push_back(
                        {std::move(d.request), [this, guard = guard_, attempt = d.attempt](SyncEventOutcome outcome) {
                           RunIfAlive(guard, [&] { OnEventOutcome(attempt, outcome); });
                         }});
                  }
                  dispatcher_->DispatchSyncEvents(std::move(events));
                });
}

void BackgroundSyncEngine::OnEventOutcome(uint64_t attempt, SyncEventOutcome outcome) {
  RegistrationKey key;
  TimerId timeout = 0;
  absl::Time dispatched;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(attempt);
    if (it == in_flight_.end()) {
      // After the timeout (or after Shutdown): the attempt has been settled already.
      ++counters_.late_outcomes_ignored;
      return;
    }
    key = std::move(it->second.key);
    timeout = it->second.timeout_timer;
    dispatched = it->second.dispatched;
    in_flight_.erase(it);
  }
  // Harmless when the outcome came from that very timer: a running timer is no longer pending.
  clock_->Cancel(timeout);
  metrics_.RecordValue("BackgroundSync.Event.Time", absl::ToInt64Milliseconds(clock_->Now() - dispatched));
  // Outcomes of one service worker that arrive while its settle is queued are settled with it, in one storage
  // batch: a backlog drains in a few durable writes per service worker, not one per event.
  const int64_t sw = key.sw_registration_id;
  bool post;
  {
    absl::MutexLock lock(&mu_);
    std::vector<PendingSettle>& pending = settles_pending_[sw];
    post = pending.empty();
    pending.push_back({std::move(key), outcome});
  }
  if (post) {
    queues_.Post(sw, [this, sw](OperationQueues::Finish finish) mutable {
      std::vector<PendingSettle> settles;
      {
        absl::MutexLock lock(&mu_);
        settles.swap(settles_pending_[sw]);
        settles_pending_.erase(sw);
      }
      RunSettle(std::move(settles), std::move(finish));
    });
  }
}

void BackgroundSyncEngine::RunSettle(std::vector<PendingSettle> settles, OperationQueues::Finish finish) {
  if (settles.empty())
    return finish();
  const int64_t sw = settles.front().key.sw_registration_id;
  // Periodic schedules use the origin's engagement, asked outside our lock.
  absl::flat_hash_set<Origin> periodic_origins;
  {
    absl::MutexLock lock(&mu_);
    for (const PendingSettle& settle : settles) {
      if (settle.key.type != SyncType::kPeriodic)
        continue;
      if (auto it = registrations_.find(settle.key); it != registrations_.end())
        periodic_origins.insert(it->second.origin);
    }
  }
  for (const Origin& origin : periodic_origins)
    RefreshPenalty(origin);
  struct Settled {
    RegistrationKey key;
    SyncEventOutcome outcome;
    Origin origin;
    std::optional<SyncRegistration> next;
    bool reregistered = false;
    int attempts_taken = 0;
  };
  std::vector<Settled> settled;
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    for (PendingSettle& settle : settles) {
      const RegistrationKey& key = settle.key;
      const SyncEventOutcome outcome = settle.outcome;
      const bool periodic = key.type == SyncType::kPeriodic;
      auto it = registrations_.find(key);
      if (it == registrations_.end() || !IsFiring(it->second.state)) {
        // Deleted meanwhile (its service worker was unregistered, or unregister()).
        ++counters_.late_outcomes_ignored;
        continue;
      }
      const SyncRegistration& r = it->second;
      std::optional<SyncRegistration> next = r;
      bool reregistered = false;
      next->consecutive_interruptions = 0;
      const int attempts_taken = r.num_attempts + 1;
      if (outcome != SyncEventOutcome::kCompleted)
        next->last_failure = outcome;
      // Whether the registration starts afresh: pending, attempts reset (a periodic one scheduled for its next
      // interval, a one-shot one firing again at once).
      bool afresh = false;
      if (r.state == SyncState::kReregisteredWhileFiring) {
        // Registered again while firing: whatever the outcome, it starts afresh.
        reregistered = true;
        afresh = true;
      } else if (outcome == SyncEventOutcome::kCompleted) {
        // Periodic registrations are never removed by an event (spec).
        afresh = periodic;
        if (!periodic)
          next.reset();
      } else if (++next->num_attempts >= next->max_attempts) {
        // Out of attempts: a periodic registration waits for its next interval; a one-shot one had its last chance.
        afresh = periodic;
        if (!periodic)
          next.reset();
      } else {
        next->state = SyncState::kWaiting;
        next->next_attempt_time = NextAttemptTime(parameters_, clock_->Now(), next->num_attempts);
      }
      if (afresh) {
        next->state = SyncState::kPending;
        next->num_attempts = 0;
        if (periodic) {
          SchedulePeriodic(*next);
        } else {
          next->next_attempt_time = absl::InfinitePast();
        }
      }
      changes.emplace(key, next);
      settled.push_back({key, outcome, r.origin, std::move(next), reregistered, attempts_taken});
    }
  }
  if (settled.empty())
    return finish();
  CommitChanges(std::move(changes), WriteDurability(),
                [this, sw, settled = std::move(settled), finish = std::move(finish)](absl::Status status) mutable {
                  finish();
                  if (!status.ok()) {
                    // Memory still says firing, as the disk does; try to record the outcomes again later.
                    std::vector<PendingSettle> retry;
                    for (const Settled& s : settled)
                      retry.push_back({s.key, s.outcome});
                    PostGuarded(clock_->Now() + parameters_.min_sync_recovery_time,
                                [this, sw, retry = std::move(retry)]() mutable {
                                  queues_.Post(
                                      sw, [this, retry = std::move(retry)](OperationQueues::Finish finish) mutable {
                                        RunSettle(std::move(retry), std::move(finish));
                                      });
                                });
                    return;
                  }
                  for (const Settled& s : settled) {
                    ReportOutcome(s.key, s.origin, s.outcome, s.next, s.reregistered, s.attempts_taken);
                    LowerWakeUpFor(s.next);
                  }
                  FireReadyRegistrations(sw);
                });
}

void BackgroundSyncEngine::ReportOutcome(const RegistrationKey& key,
                                         const Origin& origin,
                                         SyncEventOutcome outcome,
                                         const std::optional<SyncRegistration>& next,
                                         bool reregistered,
                                         int attempts_taken) {
  const bool succeeded = outcome == SyncEventOutcome::kCompleted;
  const bool periodic = key.type == SyncType::kPeriodic;
  const std::string word(EventWord(key.type));
  std::vector<std::pair<std::string, std::string>> metadata;
  if (!succeeded)
    metadata.emplace_back("Failure Reason", std::string(SyncEventOutcomeName(outcome)));
  if (next && next->state == SyncState::kWaiting) {
    metadata.emplace_back("Next Attempt Delay (ms)", ToMillisString(next->next_attempt_time - clock_->Now()));
  }
  Emit(key, origin, absl::StrCat(word, succeeded ? " event completed" : " event failed"), std::move(metadata));
  if (reregistered)
    Emit(key, origin, "Sync event reregistered");
  if (!periodic && !next)
    Emit(key, origin, "Sync completed", {{"Status", succeeded ? "succeeded" : "failed"}});
  if (periodic && next && next->state == SyncState::kPending)
    EmitNextEventDelay(*next);

  const bool foreground = registry_->HasTopLevelWindowClient(origin);
  metrics_.RecordEnum(
      periodic ? "BackgroundSync.Event.PeriodicResultPattern" : "BackgroundSync.Event.OneShotResultPattern",
      absl::StrCat(succeeded ? "succeeded" : "failed", foreground ? "-foreground" : "-background"));
  if (succeeded && !periodic)
    metrics_.RecordValue("BackgroundSync.Event.OneShot.NumAttemptsForSuccessfulEvent", attempts_taken);
}

// ---------------------------------------------------------------------------------------------------------------
// Periodic scheduling.

int BackgroundSyncEngine::RefreshPenalty(const Origin& origin) {
  const int penalty = EngagementPenalty(engagement_->GetEngagementLevel(origin));
  absl::MutexLock lock(&mu_);
  origin_penalty_[origin] = penalty;
  return penalty;
}

absl::Duration BackgroundSyncEngine::OriginGap(const Origin& origin) {
  auto it = origin_penalty_.find(origin);
  const int penalty = it == origin_penalty_.end() ? 1 : it->second;
  // A suspended origin (penalty 0) is scheduled as the least engaged; it does not fire until engaged again.
  return parameters_.min_periodic_sync_events_interval * (penalty == 0 ? 3 : penalty);
}

void BackgroundSyncEngine::SchedulePeriodic(SyncRegistration& r) {
  const absl::Duration gap = OriginGap(r.origin);
  if (r.anchor_time == absl::InfinitePast())
    r.anchor_time = clock_->Now();
  std::vector<absl::Time> others;
  if (auto index = periodic_by_origin_.find(r.origin); index != periodic_by_origin_.end()) {
    for (const RegistrationKey& key : index->second) {
      const SyncRegistration& other = registrations_.at(key);
      // Only other fresh events have a scheduled time to coalesce with; retries and events in flight do not.
      if (!(key == r.key) && !IsFiring(other.state) && other.num_attempts == 0)
        others.push_back(other.next_attempt_time);
    }
  }
  const absl::Time candidate = r.anchor_time + PeriodicDelay(r.min_interval, gap);
  r.next_attempt_time = std::min(CoalescePeriodicTime(candidate, gap, std::move(others)), LatestStorableTime());
}

absl::Time BackgroundSyncEngine::PeriodicEarliestStart(const SyncRegistration& r) {
  if (r.num_attempts > 0)
    return r.next_attempt_time;  // a retry
  absl::Time earliest = std::max(r.next_attempt_time.get(), next_periodic_batch_);
  if (auto it = next_origin_periodic_.find(r.origin); it != next_origin_periodic_.end())
    earliest = std::max(earliest, it->second);
  return earliest;
}

// ---------------------------------------------------------------------------------------------------------------
// Observers.

void BackgroundSyncEngine::Emit(const RegistrationKey& key,
                                const Origin& origin,
                                std::string event_name,
                                std::vector<std::pair<std::string, std::string>> metadata) {
  if (!observer_)
    return;
  observer_->OnBackgroundServiceEvent(
      {clock_->Now(), origin, key.sw_registration_id, key.type, std::move(event_name), key.tag, std::move(metadata)});
}

void BackgroundSyncEngine::EmitNextEventDelay(const SyncRegistration& r) {
  const absl::Duration delay = std::max(r.next_attempt_time - clock_->Now(), absl::ZeroDuration());
  Emit(r.key, r.origin, "Got next event delay", {{"Next Attempt Delay (ms)", ToMillisString(delay)}});
}

// ---------------------------------------------------------------------------------------------------------------
// Inspection.

absl::string_view BackgroundSyncEngine::BlockedReasonName(BlockedReason reason) {
  switch (reason) {
    case BlockedReason::kReady:
      return "ready";
    case BlockedReason::kFiring:
      return "firing";
    case BlockedReason::kNotResolved:
      return "not-resolved";
    case BlockedReason::kOffline:
      return "offline";
    case BlockedReason::kEmulatedOffline:
      return "emulated-offline";
    case BlockedReason::kWaitingForBackoff:
      return "waiting-for-backoff";
    case BlockedReason::kWaitingForInterval:
      return "waiting-for-interval";
    case BlockedReason::kOriginMinimumInterval:
      return "origin-minimum-interval";
    case BlockedReason::kGlobalMinimumInterval:
      return "global-minimum-interval";
    case BlockedReason::kSuspendedForEngagement:
      return "suspended-for-engagement";
    case BlockedReason::kPermissionDenied:
      return "permission-denied";
    case BlockedReason::kShutDown:
      return "shut-down";
  }
  return "unknown";
}

std::optional<BackgroundSyncEngine::RegistrationStatus> BackgroundSyncEngine::Explain(const RegistrationKey& key) {
  std::optional<SyncRegistration> r;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = registrations_.find(key); it != registrations_.end())
      r = it->second;
  }
  if (!r)
    return std::nullopt;
  // The embedder's answers, asked without our lock.
  const NetworkStateProvider::OfflineReason offline = network_->GetOfflineReason(key.sw_registration_id);
  const bool periodic = key.type == SyncType::kPeriodic;
  const PermissionStatus permission = permissions_->GetPermission(r->origin, key.type);
  const int penalty = periodic ? RefreshPenalty(r->origin) : 1;

  RegistrationStatus status;
  auto set = [&](BlockedReason reason, std::string explanation, absl::Time until = absl::InfinitePast()) {
    status.reason = reason;
    status.explanation = std::move(explanation);
    status.until = until;
  };
  absl::MutexLock lock(&mu_);
  auto it = registrations_.find(key);
  if (it == registrations_.end())
    return std::nullopt;
  status.registration = it->second;
  status.registration.resolved = !awaiting_ack_.contains(key);
  const SyncRegistration& reg = status.registration;
  const absl::Time now = clock_->Now();
  const auto at = [](absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()); };
  if (shut_down_ || parameters_.disabled) {
    set(BlockedReason::kShutDown, "the engine is shut down");
  } else if (IsFiring(reg.state)) {
    set(BlockedReason::kFiring, "its event is in flight");
  } else if (!reg.resolved) {
    set(BlockedReason::kNotResolved, "the registering page has not yet acknowledged the registration");
  } else if (permission != PermissionStatus::kGranted) {
    set(BlockedReason::kPermissionDenied, periodic ? "the origin lacks the periodic-background-sync permission"
                                                   : "the origin lacks the background-sync permission");
  } else if (periodic && penalty == 0) {
    set(BlockedReason::kSuspendedForEngagement, "the origin has no engagement; periodic sync is suspended");
  } else if (now < reg.next_attempt_time) {
    if (reg.num_attempts > 0) {
      set(BlockedReason::kWaitingForBackoff,
          absl::StrCat("retry ", reg.num_attempts + 1, " of ", reg.max_attempts, " waits until ",
                       at(reg.next_attempt_time)),
          reg.next_attempt_time);
    } else {
      set(BlockedReason::kWaitingForInterval, absl::StrCat("next event due at ", at(reg.next_attempt_time)),
          reg.next_attempt_time);
    }
  } else if (periodic && reg.num_attempts == 0 && !periodic_admitted_.contains(key) &&
             now < PeriodicEarliestStart(reg)) {
    auto origin_next = next_origin_periodic_.find(reg.origin);
    if (origin_next != next_origin_periodic_.end() && now < origin_next->second) {
      set(BlockedReason::kOriginMinimumInterval,
          absl::StrCat("another periodic event of the origin fired recently; allowed from ", at(origin_next->second)),
          origin_next->second);
    } else {
      set(BlockedReason::kGlobalMinimumInterval,
          absl::StrCat("the last periodic batch was recent; the next may start at ", at(next_periodic_batch_)),
          next_periodic_batch_);
    }
  } else if (offline == NetworkStateProvider::OfflineReason::kEmulatedOffline) {
    set(BlockedReason::kEmulatedOffline, "the browser or its service worker is emulated offline");
  } else if (offline == NetworkStateProvider::OfflineReason::kSystemOffline) {
    set(BlockedReason::kOffline, "offline: waiting for the network");
  } else {
    set(BlockedReason::kReady, "nothing holds it back; it fires as soon as its queue reaches it");
  }
  return status;
}

std::vector<BackgroundSyncEngine::RegistrationStatus> BackgroundSyncEngine::ExplainAll() {
  std::vector<RegistrationKey> keys;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, r] : registrations_)
      keys.push_back(key);
  }
  std::vector<RegistrationStatus> result;
  for (const RegistrationKey& key : keys) {
    if (std::optional<RegistrationStatus> status = Explain(key))
      result.push_back(*std::move(status));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The wake-up timer: one timer at the earliest time a waiting registration becomes ready.

void BackgroundSyncEngine::UpdateWakeUp() {
  TimerId cancel = 0;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_)
      return;
    const absl::Time now = clock_->Now();
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [key, r] : registrations_) {
      if (r.state != SyncState::kWaiting && r.state != SyncState::kPending)
        continue;
      absl::Time due = r.next_attempt_time;
      if (key.type == SyncType::kPeriodic) {
        auto penalty = origin_penalty_.find(r.origin);
        if (penalty != origin_penalty_.end() && penalty->second == 0)
          continue;  // suspended: OnEngagementChanged wakes it
        due = PeriodicEarliestStart(r);
      }
      if (due > now && due < next)
        next = due;
    }
    if (next == wake_up_time_)
      return;
    cancel = wake_up_timer_;
    wake_up_time_ = next;
    wake_up_timer_ = next == absl::InfiniteFuture() ? 0 : PostGuarded(next, [this] { OnWakeUp(); });
  }
  if (cancel)
    clock_->Cancel(cancel);
}

void BackgroundSyncEngine::LowerWakeUpFor(const std::optional<SyncRegistration>& settled) {
  // A firing registration never counts towards the wake-up, so settling one can only bring the wake-up forward
  // (a retry, a next interval), never require a later one; a scan of every registration per settled event would
  // make draining a backlog quadratic.
  if (!settled || (settled->state != SyncState::kWaiting && settled->state != SyncState::kPending))
    return;
  TimerId cancel = 0;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_)
      return;
    absl::Time due = settled->next_attempt_time;
    if (settled->key.type == SyncType::kPeriodic) {
      auto penalty = origin_penalty_.find(settled->origin);
      if (penalty != origin_penalty_.end() && penalty->second == 0)
        return;  // suspended: OnEngagementChanged wakes it
      due = PeriodicEarliestStart(*settled);
    }
    if (due <= clock_->Now() || due >= wake_up_time_)
      return;
    cancel = wake_up_timer_;
    wake_up_time_ = due;
    wake_up_timer_ = PostGuarded(due, [this] { OnWakeUp(); });
  }
  if (cancel)
    clock_->Cancel(cancel);
}

void BackgroundSyncEngine::OnWakeUp() {
  {
    absl::MutexLock lock(&mu_);
    wake_up_timer_ = 0;
    wake_up_time_ = absl::InfiniteFuture();
  }
  FireAllReady();
  UpdateWakeUp();
}

}  // namespace bgsync
