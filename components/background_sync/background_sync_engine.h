// The Background Sync engine: registrations, their state machine, retries and firing, over a durable store.
// One engine serves one browser profile. It knows nothing of processes or IPC: the browser's services bind the
// caller's identity (origin, client) and pass it in; the embedder supplies the seams below.
//
// Threading: every public method may be called from any thread. Operations on one service-worker registration
// (Register, GetRegistrations, OnServiceWorkerUnregistered, starting and settling its events) run one at a time,
// in call order; operations on different service-worker registrations run independently, so one blocked in
// storage never delays another. Callbacks run on the thread that completed the work (the caller's, the store's
// writer thread, the clock's timer thread or the dispatcher's), never with an engine lock held, and must not
// destroy the engine.
#ifndef COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SYNC_ENGINE_H_
#define COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SYNC_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/background_service_event.h"
#include "components/background_sync/background_sync_parameters.h"
#include "components/background_sync/clock.h"
#include "components/background_sync/engagement_provider.h"
#include "components/background_sync/lifetime_guard.h"
#include "components/background_sync/network_state_provider.h"
#include "components/background_sync/operation_queues.h"
#include "components/background_sync/permission_controller.h"
#include "components/background_sync/registration_index.h"
#include "components/background_sync/service_worker_registry_view.h"
#include "components/background_sync/storage_backend.h"
#include "components/background_sync/sync_event_dispatcher.h"
#include "components/background_sync/sync_metrics.h"
#include "components/background_sync/sync_registration.h"
#include "components/background_sync/sync_registration_store.h"
#include "public/origin.h"

namespace bgsync {

// Identifies a connected client (a page's SyncManager). Chosen by the embedder, unique while connected; 0 is
// "no client", whose registrations need no acknowledgement.
using ClientId = uint64_t;

class BackgroundSyncEngine {
 public:
  // The seams. The engine does not own the raw pointers; each must outlive the engine.
  struct Dependencies {
    Clock* clock = nullptr;
    NetworkStateProvider* network = nullptr;
    PermissionController* permissions = nullptr;
    ServiceWorkerRegistryView* registry = nullptr;
    SyncEventDispatcher* dispatcher = nullptr;
    std::unique_ptr<StorageBackend> storage;  // owned; destroyed after the engine has stopped using it
    // Optional. Without an engagement provider every origin counts as highly engaged; without an observer
    // events go nowhere.
    EngagementProvider* engagement = nullptr;
    BackgroundSyncObserver* observer = nullptr;
  };

  // Why a registration is not firing now (`bgsyncctl why`). kReady: nothing holds it back (it fires as soon as
  // its queue reaches it).
  enum class BlockedReason {
    kReady,
    kFiring,                  // its event is in flight
    kNotResolved,             // the registering page has not acknowledged its Register yet
    kOffline,                 // the system is offline
    kEmulatedOffline,         // its service worker (or the browser) is emulated offline
    kWaitingForBackoff,       // a failed attempt's retry delay runs until `until`
    kWaitingForInterval,      // periodic: its next event is due at `until`
    kOriginMinimumInterval,   // periodic: another event of its origin fired too recently; allowed from `until`
    kGlobalMinimumInterval,   // periodic: the last periodic batch was too recent; allowed from `until`
    kSuspendedForEngagement,  // periodic: the origin has no engagement
    kPermissionDenied,        // its permission is not granted
    kShutDown,
  };
  static absl::string_view BlockedReasonName(BlockedReason reason);  // "ready", "firing", "not-resolved", ...

  struct RegistrationStatus {
    SyncRegistration registration;
    BlockedReason reason = BlockedReason::kReady;
    absl::Time until = absl::InfinitePast();  // for the reasons that end at a known time
    std::string explanation;                  // one sentence for people, e.g. "offline: waiting for the network"
  };

  struct RegisterRequest {
    Origin origin;  // of the caller, bound by the caller's connection; never taken from a message
    int64_t sw_registration_id = 0;
    SyncType type = SyncType::kOneShot;
    std::string tag;
    absl::Duration min_interval = absl::ZeroDuration();  // periodic only, >= 0
    ClientId client = 0;  // who must acknowledge (DidResolveRegistration) before the registration fires
  };

  // What start-up found. Quarantined records stay on disk untouched: a Register of a quarantined record's key fails
  // with STORAGE rather than overwrite it.
  struct LoadReport {
    int loaded = 0;
    int interrupted = 0;           // found firing: the browser stopped during their event
    int dropped_unregistered = 0;  // their service-worker registration no longer exists: deleted
    std::vector<SyncRegistrationStore::QuarantinedRecord> quarantined;
  };

  // Loads and validates every stored registration (the stored origin must match the registry's), writes back
  // what start-up changes (interrupted attempts, registrations of vanished service workers) in one durable batch,
  // then schedules or fires what is ready. Errors: the store's (kInternal, kDataLoss, kFailedPrecondition for
  // an unknown schema); nothing is deleted on error.
  static absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> Create(Dependencies dependencies,
                                                                      BackgroundSyncParameters parameters);

  // Shuts down (see Shutdown) and releases the store.
  ~BackgroundSyncEngine();

  BackgroundSyncEngine(const BackgroundSyncEngine&) = delete;
  BackgroundSyncEngine& operator=(const BackgroundSyncEngine&) = delete;

  // SyncManager.register / PeriodicSyncManager.register. Calls `done` with OK once the registration is stored
  // (durably, unless parameters.durable_writes is false), or with a SyncError: SHUT_DOWN; TAG_TOO_LONG;
  // SERVICE_WORKER_NOT_FOUND (unknown id, or another origin's: indistinguishable); NO_ACTIVE_WORKER;
  // PERMISSION_DENIED; NO_TOP_LEVEL_WINDOW; QUOTA_EXCEEDED; STORAGE (nothing changed). A tag that is not
  // well-formed UTF-8 or a negative min_interval fails with kInvalidArgument (no honest client sends it).
  // The registration does not fire until `client` acknowledges or disconnects.
  void Register(RegisterRequest request, absl::AnyInvocable<void(absl::Status)> done);

  // `client` has seen its Register of `key` succeed: the registration may fire, unless a later Register by
  // another client now waits for that client's acknowledgement. Returns SERVICE_WORKER_NOT_FOUND for an unknown
  // or foreign service worker, OK otherwise (an acknowledgement for a key that is gone or not waiting on this
  // client changes nothing).
  absl::Status DidResolveRegistration(const Origin& origin, ClientId client, const RegistrationKey& key);

  // The client is gone: its unacknowledged registrations become fireable.
  void OnClientDisconnected(ClientId client);

  // PeriodicSyncManager.unregister: removes the periodic registration `tag` if present (also while its event is in
  // flight; that event's outcome is then ignored). OK when there was none. Errors: SHUT_DOWN,
  // SERVICE_WORKER_NOT_FOUND (unknown or foreign id), STORAGE (nothing changed), kInvalidArgument for a tag that
  // is not well-formed UTF-8.
  void Unregister(const Origin& origin,
                  int64_t sw_registration_id,
                  std::string tag,
                  absl::AnyInvocable<void(absl::Status)> done);

  // SyncManager.getTags: the tags of every registration of `type`, whatever its state, sorted. Errors:
  // SHUT_DOWN, SERVICE_WORKER_NOT_FOUND.
  void GetRegistrations(const Origin& origin,
                        int64_t sw_registration_id,
                        SyncType type,
                        absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>)> done);

  // The service-worker registration was unregistered (or its origin's data cleared): deletes its sync
  // registrations in one batch. Outcomes of its in-flight events are ignored. `done` gets the store's status.
  void OnServiceWorkerUnregistered(int64_t sw_registration_id, absl::AnyInvocable<void(absl::Status)> done);

  // The embedder revoked `origin`'s "background-sync" or "periodic-background-sync" permission: every periodic
  // registration of the origin is deleted, from memory and storage, one batch per service-worker registration
  // (spec: permission revoked → periodic registrations removed). One-shot registrations stay: they are checked at
  // register time only, as in Chromium. `done` gets OK or the first storage error.
  void OnPermissionRevoked(const Origin& origin, absl::AnyInvocable<void(absl::Status)> done);

  // The origin's engagement level may have changed: its periodic registrations are rescheduled from their
  // anchors with the new penalty (a suspended origin's registrations become due again once engaged).
  void OnEngagementChanged(const Origin& origin);

  // Connectivity may have changed: fires every ready registration whose service worker is now online.
  void OnNetworkChanged();

  // Stops accepting work: later operations fail with SHUT_DOWN; queued ones are answered SHUT_DOWN; operations
  // already writing finish (and answer OK if the write succeeded). Returns when no operation is running.
  // Events in flight are abandoned: they count as interrupted at the next start. Idempotent.
  void Shutdown();

  // Every registration as the engine holds it, sorted by key (for tools and tests).
  std::vector<SyncRegistration> GetAllRegistrations();

  // The registration and why it is (not) firing now; nullopt if there is no such registration.
  std::optional<RegistrationStatus> Explain(const RegistrationKey& key);
  // Explain() for every registration, sorted by key.
  std::vector<RegistrationStatus> ExplainAll();

  const LoadReport& load_report() const { return load_report_; }

  // UMA-named counters (sync_metrics.h).
  SyncMetrics& metrics() { return metrics_; }

  // Counters for tools and tests.
  struct Counters {
    int64_t events_dispatched = 0;
    int64_t late_outcomes_ignored = 0;  // outcomes after a timeout, or for a vanished registration
    int64_t store_failures = 0;
  };
  Counters GetCounters();

 private:
  // A planned change to stored registrations: key -> new value, or nullopt to delete.
  using Changes = std::map<RegistrationKey, std::optional<SyncRegistration>>;

  struct InFlightEvent {
    RegistrationKey key;
    TimerId timeout_timer = 0;
    absl::Time dispatched;
  };

  BackgroundSyncEngine(Dependencies dependencies, BackgroundSyncParameters parameters);
  absl::Status Load();
  // Load: `r` was found firing (the browser stopped during its event). Updates it and adds its fixup to `fixups`;
  // returns false when it is to be deleted instead (its attempts are used up).
  bool RecoverInterrupted(SyncRegistration& r, absl::Time now, StorageBatch& fixups) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Create, after Load: sets the wake-up timer as UpdateWakeUp would, from what the load noted.
  void SetWakeUpAfterLoad();

  // Writes `changes` in one batch; on success applies them to memory. Then calls `then` (unlocked).
  void CommitChanges(Changes changes, Durability durability, absl::AnyInvocable<void(absl::Status)> then);
  void ApplyChanges(const Changes& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Durability WriteDurability() const;
  absl::Status CheckNotShutDown() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CheckServiceWorker(const Origin& origin, int64_t sw_registration_id);
  void RunRegister(RegisterRequest request,
                   absl::AnyInvocable<void(absl::Status)> done,
                   OperationQueues::Finish finish);

  // Observers, metrics.
  void Emit(const RegistrationKey& key,
            const Origin& origin,
            std::string event_name,
            std::vector<std::pair<std::string, std::string>> metadata = {});
  void EmitNextEventDelay(const SyncRegistration& r);

  // Periodic scheduling (periodic_schedule.h). The origin's engagement penalty, asked of the embedder and cached
  // for use under the lock.
  int RefreshPenalty(const Origin& origin) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration OriginGap(const Origin& origin) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets r.next_attempt_time from r.anchor_time, r.min_interval and the origin's other periodic registrations.
  void SchedulePeriodic(SyncRegistration& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The earliest time a due periodic registration may start, given the batch and origin minimums.
  absl::Time PeriodicEarliestStart(const SyncRegistration& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Admits the periodic registrations that are due now into a batch (see FireAllReady).
  void AdmitPeriodic(const absl::flat_hash_set<int64_t>& online_service_workers,
                     const absl::flat_hash_set<Origin>& allowed_origins) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Changes to the origin's periodic registrations: called with the engine's lock held for each of them, adds
  // what should change (a new value, or nullopt to delete) to `changes`.
  using PeriodicPlan = std::function<void(const SyncRegistration& registration, Changes& changes)>;
  // Runs `plan` over the origin's periodic registrations on each of their service workers' queues and commits
  // the changes, one batch per service worker; `done` gets OK or the first storage error once every commit ended.
  void ChangePeriodicRegistrationsOf(const Origin& origin,
                                     PeriodicPlan plan,
                                     absl::AnyInvocable<void(absl::Status)> done);
  std::set<int64_t> PeriodicServiceWorkersOf(const Origin& origin) ABSL_LOCKS_EXCLUDED(mu_);

  // Firing.
  bool IsReady(const SyncRegistration& r, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FireReadyRegistrations(int64_t sw_registration_id);  // of one service worker
  void FireAllReady();
  // Fires `keys` (all of one service-worker registration) that are still ready, in one storage batch.
  void RunFire(std::vector<RegistrationKey> keys, OperationQueues::Finish finish);
  void OnEventOutcome(uint64_t attempt_id, SyncEventOutcome outcome);
  // An event's outcome, waiting for its service worker's next settle.
  struct PendingSettle {
    RegistrationKey key;
    SyncEventOutcome outcome;
  };
  // Stores the outcomes of `settles` (all of one service-worker registration) in one storage batch, then reports
  // them.
  void RunSettle(std::vector<PendingSettle> settles, OperationQueues::Finish finish);
  // Observer events and metrics for a settled attempt; `next` is what remains of the registration.
  void ReportOutcome(const RegistrationKey& key,
                     const Origin& origin,
                     SyncEventOutcome outcome,
                     const std::optional<SyncRegistration>& next,
                     bool reregistered,
                     int attempts_taken);

  // Timers.
  void UpdateWakeUp();
  // UpdateWakeUp after `settled` (the registration as its event's outcome left it; nullopt: removed) settled.
  void LowerWakeUpFor(const std::optional<SyncRegistration>& settled);
  void OnWakeUp();
  // Runs fn() on the clock's thread at `when`, if the engine is still alive then.
  TimerId PostGuarded(absl::Time when, absl::AnyInvocable<void()> fn);

  const BackgroundSyncParameters parameters_;
  Clock* const clock_;
  NetworkStateProvider* const network_;
  PermissionController* const permissions_;
  ServiceWorkerRegistryView* const registry_;
  SyncEventDispatcher* const dispatcher_;
  DefaultEngagementProvider default_engagement_;
  EngagementProvider* const engagement_;
  BackgroundSyncObserver* const observer_;
  SyncMetrics metrics_;
  std::unique_ptr<StorageBackend> storage_;  // destroyed explicitly after the guard is invalidated
  SyncRegistrationStore store_;
  const std::shared_ptr<LifetimeGuard> guard_ = std::make_shared<LifetimeGuard>();
  OperationQueues queues_;
  LoadReport load_report_;  // constant after Create
  // Written by Load, read by SetWakeUpAfterLoad (both in Create, before the engine is shared): when the load
  // started, and the earliest next attempt after that of a pending or waiting registration (InfiniteFuture: none).
  absl::Time load_start_;
  absl::Time load_earliest_due_ = absl::InfiniteFuture();

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  RegistrationIndex registrations_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Origin, size_t> registrations_per_origin_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, size_t> registrations_per_sw_ ABSL_GUARDED_BY(mu_);
  // New registrations being written, per origin: counted against the origin's quota until the write ends.
  absl::flat_hash_map<Origin, size_t> creating_per_origin_ ABSL_GUARDED_BY(mu_);
  // Registrations waiting for their client's DidResolveRegistration; the only source of `resolved`.
  absl::flat_hash_map<RegistrationKey, ClientId> awaiting_ack_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<RegistrationKey> fire_queued_ ABSL_GUARDED_BY(mu_);  // a RunFire is queued for these
  // Outcomes not settled yet, by service worker; a settle operation is queued for every non-empty list.
  absl::flat_hash_map<int64_t, std::vector<PendingSettle>> settles_pending_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, InFlightEvent> in_flight_ ABSL_GUARDED_BY(mu_);  // by attempt id
  uint64_t next_attempt_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Periodic scheduling state. Registrations admitted into the current batch fire when their queue reaches them
  // (and stay admitted while connectivity is lost before dispatch).
  absl::flat_hash_map<Origin, std::set<RegistrationKey>> periodic_by_origin_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<RegistrationKey> periodic_admitted_ ABSL_GUARDED_BY(mu_);
  absl::Time next_periodic_batch_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::flat_hash_map<Origin, absl::Time> next_origin_periodic_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Origin, int> origin_penalty_ ABSL_GUARDED_BY(mu_);
  TimerId wake_up_timer_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time wake_up_time_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  Counters counters_ ABSL_GUARDED_BY(mu_);
  // Keys whose stored record was quarantined at load, with the reason: kept on disk as found, so a Register of
  // the same key fails with STORAGE instead of overwriting it. Written only by Load.
  absl::flat_hash_map<RegistrationKey, std::string> quarantined_keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SYNC_ENGINE_H_
