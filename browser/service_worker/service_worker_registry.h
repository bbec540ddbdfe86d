// The browser's persisted service-worker registry: which service-worker registrations exist, for which origin and
// scope, how to launch their worker process, and whether their worker is active. The Background Sync engine sees
// it through ServiceWorkerRegistryView.
//
// Key layout (all keys ASCII), in the registry's own database (the browser opens `<profile>/ServiceWorkers`):
//   "w:meta:schema_version"   -> decimal schema version ("1")
//   "w:meta:next_id"          -> decimal id the next Install assigns (>= 1; never decreases)
//   "w:reg:<id>"              -> ServiceWorkerRecord (proto/service_worker_record.proto)
// where <id> is the registration id as 16 lower-case hex digits, so records load in id order. Install writes its
// record and the advanced counter in one batch, so an id is never handed out twice, even after the registration
// that had it is unregistered and the browser restarts.
#ifndef BROWSER_SERVICE_WORKER_SERVICE_WORKER_REGISTRY_H_
#define BROWSER_SERVICE_WORKER_SERVICE_WORKER_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/service_worker_registry_view.h"
#include "components/background_sync/storage_backend.h"
#include "public/origin.h"

namespace bgsync {

inline constexpr int kServiceWorkerSchemaVersion = 1;

// Persistent format (ServiceWorkerRecord.State mirrors it).
enum class ServiceWorkerState {
  kInstalling,  // installed, not yet activated: Background Sync rejects register() with InvalidStateError
  kActive,      // has an active worker that can receive events
};

struct ServiceWorkerRegistration {
  int64_t id = 0;                           // > 0, assigned by the registry, never reused
  Origin origin;                            // potentially trustworthy
  std::string scope;                        // absolute URL starting with origin.Serialize() + "/"
  std::vector<std::string> worker_command;  // argv of the worker process; non-empty, argv[0] non-empty
  ServiceWorkerState state = ServiceWorkerState::kInstalling;

  friend bool operator==(const ServiceWorkerRegistration& a, const ServiceWorkerRegistration& b) {
    return a.id == b.id && a.origin == b.origin && a.scope == b.scope && a.worker_command == b.worker_command &&
           a.state == b.state;
  }
  friend bool operator!=(const ServiceWorkerRegistration& a, const ServiceWorkerRegistration& b) { return !(a == b); }
};

// Every mutation is one durable batch (Durability::kDurable) and changes memory only after that batch committed,
// so what the registry reports is what a restart would load. A failed write fails the one operation and changes
// nothing.
//
// Thread-safety: every method may be called from any thread. Mutations are serialized with each other and wait
// for the disk; reads (Find, Get, List, HasTopLevelWindowClient) never wait for the disk. Callbacks (the window
// query and unregister observers) run without any of the registry's locks held, so they may call back into it.
class ServiceWorkerRegistry : public ServiceWorkerRegistryView {
 public:
  // Answers HasTopLevelWindowClient. Called on the caller's thread; must be thread-safe.
  using WindowClientQuery = std::function<bool(const Origin& origin)>;
  // Told the id of each registration after its removal is on disk, exactly once per removal, on the thread that
  // called Unregister.
  using UnregisterObserver = std::function<void(int64_t id)>;

  // A record that could not be decoded or does not hold a valid registration. It stays on disk untouched (nothing
  // is silently deleted) and is left out of the registry; its id, if the key names one, is never assigned again.
  struct QuarantinedRecord {
    std::string key;
    std::string reason;
  };

  // Loads and validates every record in `backend`, which is not owned and must outlive the registry. On an empty
  // store, durably writes the schema version and the id counter first; if a record's id is not below the stored
  // counter, durably advances the counter past it. `has_window` answers HasTopLevelWindowClient; nullptr: always
  // false.
  // Errors: the backend's read or write error; kFailedPrecondition for a schema version this build cannot read,
  // or records without a schema version; kDataLoss if the id counter is missing or malformed (the registry will
  // not guess, which could reuse an id). The data is left as it is on every error.
  static absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> Open(StorageBackend* backend,
                                                                     WindowClientQuery has_window = nullptr);

  ServiceWorkerRegistry(const ServiceWorkerRegistry&) = delete;
  ServiceWorkerRegistry& operator=(const ServiceWorkerRegistry&) = delete;
  ~ServiceWorkerRegistry() override;

  // Registers a new service worker in state kInstalling and returns its id.
  // Errors: kInvalidArgument if `origin` is not potentially trustworthy, `scope` does not start with
  // origin.Serialize() + "/" or contains a fragment, whitespace or control characters, or `worker_command` is
  // empty, has an empty argv[0] or an argument with a NUL byte; kAlreadyExists if a registration has this scope;
  // kResourceExhausted if ids ran out; the backend's write error.
  absl::StatusOr<int64_t> Install(const Origin& origin,
                                  const std::string& scope,
                                  std::vector<std::string> worker_command);

  // Moves the registration from kInstalling to kActive; OK without a write if it is already active.
  // Errors: kNotFound for an unknown id; the backend's write error.
  absl::Status Activate(int64_t id);

  // Removes the registration from disk, then from memory, then tells every unregister observer (the browser
  // forwards it to BackgroundSyncEngine::OnServiceWorkerUnregistered). Observers are not told if it fails.
  // Errors: kNotFound for an unknown id (also when a concurrent Unregister of the same id won); the backend's
  // write error.
  absl::Status Unregister(int64_t id);

  // The full registration. Errors: kNotFound for an unknown id.
  absl::StatusOr<ServiceWorkerRegistration> Get(int64_t id) const;

  // Every registration, sorted by id.
  std::vector<ServiceWorkerRegistration> List() const;

  // The records Open skipped, in key order. Constant after Open.
  const std::vector<QuarantinedRecord>& quarantined() const { return quarantined_; }

  // `observer` is called for every later successful Unregister. Observers cannot be removed: they must outlive the
  // registry or tolerate calls until it is destroyed.
  void AddUnregisterObserver(UnregisterObserver observer);

  // ServiceWorkerRegistryView:
  std::optional<ServiceWorkerRegistrationInfo> Find(int64_t sw_registration_id) override;
  bool HasTopLevelWindowClient(const Origin& origin) override;

 private:
  ServiceWorkerRegistry(StorageBackend* backend,
                        WindowClientQuery has_window,
                        int64_t next_id,
                        std::map<int64_t, ServiceWorkerRegistration> registrations,
                        absl::flat_hash_map<std::string, int64_t> id_by_scope,
                        std::vector<QuarantinedRecord> quarantined);

  // Constant after construction.
  StorageBackend* const backend_;
  const WindowClientQuery has_window_;
  const std::vector<QuarantinedRecord> quarantined_;

  // Held across a mutation's write, so mutations see each other's results; taken before mu_, never after it.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  // State equal to what is on disk; changed only with write_mu_ held too, after the write succeeded.
  mutable absl::Mutex mu_;
  int64_t next_id_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, ServiceWorkerRegistration> registrations_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> id_by_scope_ ABSL_GUARDED_BY(mu_);
  std::vector<UnregisterObserver> observers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_SERVICE_WORKER_SERVICE_WORKER_REGISTRY_H_
