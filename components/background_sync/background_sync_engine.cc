#include "components/background_sync/background_sync_engine.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "components/background_sync/retry_policy.h"
#include "public/background_sync_error.h"
#include "public/sync_tag.h"

namespace bgsync {
namespace {

using E = BackgroundSyncError;

bool IsFiring(SyncState state) {
  return state == SyncState::kFiring || state == SyncState::kReregisteredWhileFiring;
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
      parameters.max_consecutive_interruptions < 1) {
    return absl::InvalidArgumentError("BackgroundSyncEngine::Create: parameters out of range");
  }
  std::unique_ptr<BackgroundSyncEngine> engine(
      new BackgroundSyncEngine(std::move(dependencies), std::move(parameters)));
  absl::Status status = engine->Load();
  if (!status.ok())
    return status;
  engine->UpdateWakeUp();
  engine->FireAllReady();
  return engine;
}

absl::Status BackgroundSyncEngine::Load() {
  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store_.Load();
  if (!loaded.ok())
    return loaded.status();
  load_report_.quarantined = std::move(loaded->quarantined);

  const absl::Time now = clock_->Now();
  StorageBatch fixups;
  absl::MutexLock lock(&mu_);
  for (SyncRegistration& r : loaded->registrations) {
    std::optional<ServiceWorkerRegistrationInfo> sw = registry_->Find(r.key.sw_registration_id);
    if (!sw) {
      // Its service worker was unregistered while we were not running (decision 5): delete it.
      SyncRegistrationStore::AddDelete(r.key, fixups);
      ++load_report_.dropped_unregistered;
      continue;
    }
    if (sw->origin != r.origin) {
      load_report_.quarantined.push_back({SyncRegistrationStore::EncodeKey(r.key),
                                          absl::StrCat("stored origin ", r.origin.Serialize(),
                                                       " is not its service worker's ", sw->origin.Serialize())});
      continue;
    }
    if (IsFiring(r.state)) {
      // The browser stopped during this registration's event: fire it again without counting the attempt,
      // unless it keeps happening (the poison-pill bound, decision 4).
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
        if (r.num_attempts >= r.max_attempts) {
          SyncRegistrationStore::AddDelete(r.key, fixups);
          continue;
        }
        r.state = SyncState::kWaiting;
        r.next_attempt_time = NextAttemptTime(parameters_, now, r.num_attempts);
      } else {
        r.state = SyncState::kPending;
      }
      SyncRegistrationStore::AddPut(r, fixups);
    }
    ++registrations_per_sw_[r.key.sw_registration_id];
    ++registrations_per_origin_[r.origin];
    ++load_report_.loaded;
    RegistrationKey key = r.key;
    registrations_.emplace(std::move(key), std::move(r));
  }
  if (!fixups.empty()) {
    absl::Status status = CommitAndWait(*storage_, std::move(fixups), Durability::kDurable);
    if (!status.ok())
      return status;
  }
  return absl::OkStatus();
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
  SyncRegistration updated;
  bool is_new = false;
  bool changed = true;
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
      updated.max_attempts = request.type == SyncType::kOneShot ? parameters_.max_sync_attempts : 1;
      updated.min_interval = request.min_interval;
    } else {
      updated = it->second;
      const SyncRegistration& existing = it->second;
      if (request.type == SyncType::kPeriodic && existing.min_interval != request.min_interval) {
        updated.min_interval = request.min_interval;
      } else if (existing.state == SyncState::kWaiting) {
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
    // Every successful Register waits for its own client's acknowledgement before the registration fires.
    if (auto ack = awaiting_ack_.find(key); ack != awaiting_ack_.end())
      previous_ack = ack->second;
    if (request.client != 0)
      awaiting_ack_[key] = request.client;
  }

  auto complete = [this, key, done = std::move(done), finish = std::move(finish)](absl::Status status) mutable {
    const bool ok = status.ok();
    done(std::move(status));
    finish();
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
          if (!status.ok() && client != 0) {
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

void BackgroundSyncEngine::OnPermissionRevoked(const Origin& origin, absl::AnyInvocable<void(absl::Status)> done) {
  std::set<int64_t> service_workers;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, r] : registrations_) {
      if (key.type == SyncType::kPeriodic && r.origin == origin)
        service_workers.insert(key.sw_registration_id);
    }
  }
  if (service_workers.empty())
    return done(absl::OkStatus());
  // One deletion per service-worker registration, each on that registration's queue; `done` after the last.
  struct Pending {
    absl::Mutex mu;
    size_t remaining ABSL_GUARDED_BY(mu);
    absl::Status first_error ABSL_GUARDED_BY(mu);
    absl::AnyInvocable<void(absl::Status)> done;
  };
  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&pending->mu);
    pending->remaining = service_workers.size();
  }
  pending->done = std::move(done);
  for (int64_t sw : service_workers) {
    queues_.Post(sw, [this, sw, origin, pending](OperationQueues::Finish finish) mutable {
      Changes changes;
      {
        absl::MutexLock lock(&mu_);
        for (auto it = registrations_.lower_bound({sw, SyncType::kPeriodic, ""});
             it != registrations_.end() && it->first.sw_registration_id == sw && it->first.type == SyncType::kPeriodic;
             ++it) {
          if (it->second.origin == origin)
            changes.emplace(it->first, std::nullopt);
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
  // Periodic registrations are stored from the start; their scheduler comes with the periodic issue.
  return !shut_down_ && !parameters_.disabled && r.key.type == SyncType::kOneShot &&
         (r.state == SyncState::kPending || r.state == SyncState::kWaiting) && now >= r.next_attempt_time &&
         !awaiting_ack_.contains(r.key);
}

void BackgroundSyncEngine::OnNetworkChanged() {
  FireAllReady();
}

void BackgroundSyncEngine::FireAllReady() {
  std::set<int64_t> service_workers;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, r] : registrations_)
      service_workers.insert(key.sw_registration_id);
  }
  for (int64_t sw : service_workers)
    FireReadyRegistrations(sw);
}

void BackgroundSyncEngine::FireReadyRegistrations(int64_t sw_registration_id) {
  // Ask the embedder before taking our lock: it may take locks of its own.
  if (!network_->IsOnline(sw_registration_id))
    return;
  std::vector<RegistrationKey> ready;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (auto it = registrations_.lower_bound({sw_registration_id, SyncType::kOneShot, ""});
         it != registrations_.end() && it->first.sw_registration_id == sw_registration_id; ++it) {
      if (IsReady(it->second, now) && fire_queued_.insert(it->first).second)
        ready.push_back(it->first);
    }
  }
  for (RegistrationKey& key : ready) {
    queues_.Post(sw_registration_id, [this, key = std::move(key)](OperationQueues::Finish finish) mutable {
      RunFire(std::move(key), std::move(finish));
    });
  }
}

void BackgroundSyncEngine::RunFire(RegistrationKey key, OperationQueues::Finish finish) {
  // Connectivity is re-checked at dispatch: if it is gone, the registration stays pending and no attempt is spent.
  const bool online = network_->IsOnline(key.sw_registration_id);
  SyncRegistration firing;
  {
    absl::MutexLock lock(&mu_);
    fire_queued_.erase(key);
    auto it = registrations_.find(key);
    if (!online || it == registrations_.end() || !IsReady(it->second, clock_->Now()))
      return finish();
    firing = it->second;
  }
  firing.state = SyncState::kFiring;
  // The firing state is written before dispatch so that a crash during the event is noticed at the next start.
  // kBuffered suffices: losing it to an OS crash only loses one count of the poison-pill bound.
  CommitChanges({{key, firing}}, Durability::kBuffered,
                [this, key, firing, finish = std::move(finish)](absl::Status status) mutable {
                  const absl::Time now = clock_->Now();
                  if (!status.ok()) {
                    finish();
                    PostGuarded(now + parameters_.min_sync_recovery_time,
                                [this, sw = key.sw_registration_id] { FireReadyRegistrations(sw); });
                    return;
                  }
                  SyncEventRequest request{key.sw_registration_id,
                                           firing.origin,
                                           key.type,
                                           key.tag,
                                           IsLastChance(firing),
                                           now + parameters_.max_sync_event_duration};
                  uint64_t attempt;
                  {
                    absl::MutexLock lock(&mu_);
                    attempt = next_attempt_id_++;
                    ++counters_.events_dispatched;
                    in_flight_[attempt] = {key, 0};
                  }
                  TimerId timeout = PostGuarded(
                      request.deadline, [this, attempt] { OnEventOutcome(attempt, SyncEventOutcome::kTimedOut); });
                  {
                    absl::MutexLock lock(&mu_);
                    if (auto it = in_flight_.find(attempt); it != in_flight_.end())
                      it->second.timeout_timer = timeout;
                  }
                  finish();
                  dispatcher_->DispatchSyncEvent(request, [this, guard = guard_, attempt](SyncEventOutcome outcome) {
                    RunIfAlive(guard, [&] { OnEventOutcome(attempt, outcome); });
                  });
                });
}

void BackgroundSyncEngine::OnEventOutcome(uint64_t attempt, SyncEventOutcome outcome) {
  RegistrationKey key;
  TimerId timeout = 0;
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
    in_flight_.erase(it);
  }
  // Harmless when the outcome came from that very timer: a running timer is no longer pending.
  clock_->Cancel(timeout);
  const int64_t sw = key.sw_registration_id;
  queues_.Post(sw, [this, key = std::move(key), outcome](OperationQueues::Finish finish) mutable {
    RunSettle(std::move(key), outcome, std::move(finish));
  });
}

void BackgroundSyncEngine::RunSettle(RegistrationKey key, SyncEventOutcome outcome, OperationQueues::Finish finish) {
  std::optional<SyncRegistration> next;
  {
    absl::MutexLock lock(&mu_);
    auto it = registrations_.find(key);
    if (it == registrations_.end() || !IsFiring(it->second.state)) {
      // Deleted meanwhile (its service worker was unregistered).
      ++counters_.late_outcomes_ignored;
      return finish();
    }
    const SyncRegistration& r = it->second;
    next = r;
    next->consecutive_interruptions = 0;
    if (outcome != SyncEventOutcome::kCompleted)
      next->last_failure = outcome;
    if (r.state == SyncState::kReregisteredWhileFiring) {
      // Registered again while firing: whatever the outcome, it starts afresh.
      next->state = SyncState::kPending;
      next->num_attempts = 0;
      next->next_attempt_time = absl::InfinitePast();
    } else if (outcome == SyncEventOutcome::kCompleted) {
      next.reset();
    } else if (++next->num_attempts >= next->max_attempts) {
      next.reset();  // that was its last chance
    } else {
      next->state = SyncState::kWaiting;
      next->next_attempt_time = NextAttemptTime(parameters_, clock_->Now(), next->num_attempts);
    }
  }
  CommitChanges(
      {{key, next}}, WriteDurability(), [this, key, outcome, finish = std::move(finish)](absl::Status status) mutable {
        finish();
        if (!status.ok()) {
          // Memory still says firing, as the disk does; try to record the outcome again later.
          PostGuarded(clock_->Now() + parameters_.min_sync_recovery_time, [this, key, outcome] {
            queues_.Post(key.sw_registration_id, [this, key, outcome](OperationQueues::Finish finish) mutable {
              RunSettle(key, outcome, std::move(finish));
            });
          });
          return;
        }
        UpdateWakeUp();
        FireReadyRegistrations(key.sw_registration_id);
      });
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
      if (r.state == SyncState::kWaiting || r.state == SyncState::kPending) {
        if (r.next_attempt_time > now && r.next_attempt_time < next)
          next = r.next_attempt_time;
      }
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
