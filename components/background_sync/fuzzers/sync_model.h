// The fuzzers' model of what a BackgroundSyncEngine must hold, and the invariants checked against it after every
// step: memory equals what a restart loads, no registration is attributed to another origin, limits hold, and
// every acknowledged registration is present or was legitimately completed or removed.
//
// The model does not recompute the engine's scheduling. It records what the world told the engine (who owns which
// service worker, which Registers were answered OK, which events were dispatched and how they ended, which
// removals were asked for) and allows a registration to disappear only for a reason the spec or bgsync's
// documented decisions give.
//
// Thread-safety: none; the fuzzers are single-threaded (the memory backend and the fake clock run everything on
// the caller's thread).
#ifndef COMPONENTS_BACKGROUND_SYNC_FUZZERS_SYNC_MODEL_H_
#define COMPONENTS_BACKGROUND_SYNC_FUZZERS_SYNC_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/background_sync_parameters.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/sync_event_dispatcher.h"
#include "components/background_sync/sync_registration.h"
#include "public/background_sync_error.h"
#include "public/origin.h"

namespace bgsync {
namespace fuzzing {

// What Register must answer, decided by everything checked before the quota.
struct RegisterExpectation {
  enum class Kind {
    kInvalidArgument,  // malformed UTF-8, negative interval, one-shot with an interval: no honest client sends it
    kSyncError,        // exactly `error`
    kAccepted,         // the quota and the store decide: OK, QUOTA_EXCEEDED or STORAGE
  };
  Kind kind = Kind::kAccepted;
  BackgroundSyncError error = BackgroundSyncError::BACKGROUND_SYNC_ERROR_UNSPECIFIED;
};

class SyncModel {
 public:
  explicit SyncModel(const BackgroundSyncParameters& parameters) : parameters_(parameters) {}

  const BackgroundSyncParameters& parameters() const { return parameters_; }

  // --- The world, as the fuzzer changes it.

  // A service-worker registration exists from now on (ids are never reused).
  void OnServiceWorkerAdded(int64_t id, const Origin& origin);
  // It was unregistered: its registrations may be deleted from now on.
  void OnServiceWorkerRemoved(int64_t id);
  // The live registration's origin, or nullopt for an unknown or unregistered id.
  std::optional<Origin> OwnerOf(int64_t id) const;
  // The origin of every id that ever existed (registrations keep it after their service worker is gone).
  std::optional<Origin> CreatorOf(int64_t id) const;
  // OnPermissionRevoked was called for the origin: its periodic registrations may be deleted from now on.
  void OnPeriodicPermissionRevoked(const Origin& origin);

  // --- Calls and their answers. `synchronous`: the answer arrived inside the call (no commit was held back).

  // The answer Register must give for this request, given the world now. `window_open`, `active`, `permission`
  // come from the fakes; `shut_down` is whether Shutdown() was called on the current engine.
  RegisterExpectation ExpectRegister(const Origin& origin,
                                     int64_t sw,
                                     SyncType type,
                                     const std::string& tag,
                                     absl::Duration min_interval,
                                     bool shut_down,
                                     bool active,
                                     bool permission_granted,
                                     bool window_open) const;
  void OnRegisterRequested(const Origin& origin, const RegistrationKey& key);
  // A registration put on the disk before any engine started, as if registered and acknowledged earlier.
  void OnSeeded(const SyncRegistration& registration);
  // Whether `origin` asked for `key` (with its own service worker) at some point.
  bool WasRequested(const RegistrationKey& key, const Origin& origin) const;
  // Checks the answer against the expectation (or `alternative`, if given: for an answer that came back later, the
  // expectation when it came) and records an OK one (the registration is acknowledged).
  void OnRegisterAnswered(const Origin& origin,
                          const RegistrationKey& key,
                          ClientId client,
                          const RegisterExpectation& expected,
                          const RegisterExpectation* alternative,
                          const absl::Status& status,
                          bool synchronous);
  // A Register told to OnRegisterRequested never reached the engine (e.g. the session was over its rate limit).
  void OnRegisterNotAnswered(const RegistrationKey& key);
  // `client` acknowledges `key` (told before the call, since the engine may fire inside it). Returns the client
  // the registration waited for, if this cleared it (0 otherwise), for UndoDidResolve.
  ClientId OnDidResolve(ClientId client, const RegistrationKey& key);
  // The acknowledgement never reached the engine.
  void UndoDidResolve(const RegistrationKey& key, ClientId cleared);
  void OnClientDisconnected(ClientId client);
  // Checks an Unregister answer (called from its callback, when nothing else of that service worker has run) and
  // records a successful removal. `owned_at_call`: whether `sw` was `origin`'s when the call was made (an answer
  // that comes later may have checked then or now).
  void OnUnregisterAnswered(const Origin& origin,
                            int64_t sw,
                            const std::string& tag,
                            bool shut_down,
                            bool owned_at_call,
                            const absl::Status& status,
                            BackgroundSyncEngine& engine);
  // Checks a GetRegistrations answer against the engine (called from its callback): exactly the tags of the
  // service worker's registrations of `type` if it is the origin's, else the same SERVICE_WORKER_NOT_FOUND for
  // unknown and foreign ids.
  void CheckGetRegistrations(const Origin& origin,
                             int64_t sw,
                             SyncType type,
                             bool shut_down,
                             const absl::StatusOr<std::vector<std::string>>& answer,
                             BackgroundSyncEngine& engine) const;
  // Checks a DidResolveRegistration answer: SERVICE_WORKER_NOT_FOUND for unknown and foreign ids, else OK.
  void CheckDidResolve(const Origin& origin, int64_t sw, const absl::Status& status) const;

  // --- Events. The fuzzers' dispatchers report each event and its outcome.

  // Checks that the event may fire (known, acknowledged, of the right origin, not already in flight) and returns
  // its dispatch number.
  uint64_t OnDispatched(const SyncEventRequest& request, absl::Time now);
  // The outcome of dispatch `dispatch` reached the engine (or would have, had the engine still been alive).
  void OnOutcome(uint64_t dispatch, SyncEventOutcome outcome);
  // Dispatch numbers of every event not answered yet (also those of engines gone since: late answers), in an
  // order that does not depend on hash-set iteration.
  std::vector<uint64_t> UnansweredDispatches() const;
  const RegistrationKey& DispatchedKey(uint64_t number) const;

  // --- Restarts.

  // The current engine is about to be destroyed (a crash: nothing more is written). Its events no longer count
  // from now on.
  void OnEngineStopping(BackgroundSyncEngine& engine);
  // `loaded` is what an engine holds right after loading the disk (before it fires anything): checks it against
  // what the stopped engine held. Does nothing before the first stop.
  void CheckRestart(BackgroundSyncEngine& loaded);
  // An engine stopped and the next one has not started yet.
  bool restarting() const { return stopped_; }
  // A new engine is serving.
  void OnEngineStarted(BackgroundSyncEngine& engine);

  // --- The invariants, after every step. `disk_version` changes whenever a commit may have changed the disk (or
  // the engine's memory, which changes only with a commit): when it has not, memory is not compared with the disk
  // again.
  void CheckEngine(BackgroundSyncEngine& engine,
                   const std::shared_ptr<MemoryStorageBackend::Storage>& disk,
                   uint64_t disk_version);

  // Registrations of origins other than `origin`, for "a call of `origin` changed nothing of anyone else's".
  static std::vector<SyncRegistration> OthersOf(BackgroundSyncEngine& engine, const Origin& origin);

 private:
  struct KeyState {
    Origin origin;              // of the first Register requested for it with the right owner
    bool acknowledged = false;  // a Register was answered OK and nothing has legitimately removed it since
    bool ever_acknowledged = false;
    uint64_t acknowledged_at = 0;
    bool removal_allowed = false;   // unregistered, its service worker unregistered, or periodic permission revoked
    bool event_may_end_it = false;  // one-shot: a last-chance event, or a completed one, since the acknowledgement
    // One-shot: the client whose DidResolveRegistration it waits for; 0: none; unknown after an answer that came
    // back asynchronously (the engine's state then depends on when the queued call ran).
    ClientId awaiting = 0;
    bool awaiting_unknown = false;
  };
  struct Dispatch {
    RegistrationKey key;
    uint64_t generation = 0;
    absl::Time deadline;
    uint64_t sequence = 0;
    bool answered = false;
  };

  void CheckMemoryEqualsDisk(const std::vector<SyncRegistration>& memory,
                             const std::shared_ptr<MemoryStorageBackend::Storage>& disk);
  void CheckRegistrations(const std::vector<SyncRegistration>& memory);
  void AddKey(const Origin& origin, const RegistrationKey& key);
  KeyState* Find(const RegistrationKey& key);
  void Forget(const RegistrationKey& key, KeyState& state);

  const BackgroundSyncParameters parameters_;
  std::map<int64_t, Origin> creators_;  // every service-worker registration ever
  std::set<int64_t> removed_;
  std::map<RegistrationKey, KeyState> keys_;
  std::map<RegistrationKey, int> unanswered_registers_;
  std::vector<Dispatch> dispatches_;        // by dispatch number - 1
  uint64_t generation_ = 1;                 // of the current engine
  uint64_t sequence_ = 0;                   // orders acknowledgements and dispatches
  std::vector<SyncRegistration> snapshot_;  // the stopped engine's registrations
  bool stopped_ = false;                    // an engine stopped and the next one has not started yet
  std::optional<uint64_t> checked_disk_version_;
};

}  // namespace fuzzing
}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_FUZZERS_SYNC_MODEL_H_
