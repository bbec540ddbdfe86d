// The browser-process library: everything Background Sync needs inside a multi-process browser, wired to the
// embedder's own parts through the interfaces below. bgsync_browser is one embedder; docs/embedding.md shows
// how another browser wires it in.
//
// What the embedder provides:
//   - Clock                      time and timers (SystemClock in production)
//   - NetworkStateProvider       connectivity and its emulation (ConnectivityController over netlink)
//   - PermissionController       "background-sync" permission and policy
//   - ServiceWorkerRegistryView  its service-worker registrations and open windows
//   - worker_spec                how to start a registration's worker process (origin + argv)
//   - ProcessLauncher            spawning and killing processes (each with a private channel the host serves:
//                                channels())
//   - StorageBackend             where registrations live (LevelDbStorageBackend in the profile)
//   - EngagementProvider         optional: site engagement, which spaces out periodic events (default: high)
//   - BackgroundSyncObserver     optional: DevTools' events (the BackgroundServiceRecorder); every event also
//                                goes to the host's EventLog
// What it must call: OnServiceWorkerUnregistered when a registration goes, OnNetworkChanged when connectivity
// may have changed, engine().OnEngagementChanged(origin) when an origin's engagement may have changed, and
// sessions().RevokeProcess(pid) when a renderer process exits.
#ifndef BROWSER_BACKGROUND_SYNC_HOST_H_
#define BROWSER_BACKGROUND_SYNC_HOST_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "browser/event_log.h"
#include "browser/logging_event_dispatcher.h"
#include "browser/process/process_launcher.h"
#include "browser/process/worker_process_host.h"
#include "browser/server_channel_factory.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "services/background_sync/bad_message_reporter.h"
#include "services/background_sync/one_shot_background_sync_service_impl.h"
#include "services/background_sync/periodic_background_sync_service_impl.h"
#include "services/background_sync/service_worker_host_impl.h"
#include "services/background_sync/session_rate_limiter.h"
#include "services/background_sync/session_registry.h"

namespace grpc {
class Server;
}

namespace bgsync {

class BackgroundSyncHost {
 public:
  struct Config {
    // The unix socket that tools (bgsyncctl, tests, the conformance suite) dial with sessions an admin opened.
    // Its directory must be private to the user (0700). Processes the browser launches never use it: each talks
    // over a private channel (channels()).
    std::string socket_path;
    BackgroundSyncParameters parameters;
    WorkerHostOptions worker_options;
    int max_worker_processes = 8;

    // Limits for untrusted peers (reliability.md P5; documented in public/README.md, "Limits"). Every gRPC default
    // that matters is overridden here.
    // The largest message received or sent; a larger one fails with RESOURCE_EXHAUSTED before any handler runs.
    int max_message_bytes = 64 * 1024;
    // HTTP/2 streams (calls) open at once per connection, advertised in SETTINGS: gRPC clients queue beyond it;
    // a peer that opens more anyway has its connection dropped by gRPC.
    int max_concurrent_streams = 64;
    // The largest metadata (header list) a call may carry; the session header needs ~80 bytes.
    int max_metadata_bytes = 8 * 1024;
    // Keepalive: the browser pings a connection after this long without traffic, also one without calls, and
    // closes it when the ping is not acknowledged within the timeout (a hung peer holding a connection).
    absl::Duration keepalive_time = absl::Seconds(60);
    absl::Duration keepalive_timeout = absl::Seconds(20);
    // A peer may ping at most this often without sending data; after max_ping_strikes more frequent pings the
    // connection is closed (GOAWAY ENHANCE_YOUR_CALM "too_many_pings").
    absl::Duration min_client_ping_interval = absl::Seconds(10);
    int max_ping_strikes = 2;
    // A connection with no call for this long is closed (GOAWAY); a client of the socket reconnects on its next
    // call. Off by default: gRPC applies it to every connection of the server, and the private channel of a
    // launched process (a window idle for minutes) cannot be re-dialled; such a process would lose the browser.
    // Idle connections on the socket cost little (keepalive still closes dead ones, the quota bounds buffers).
    absl::Duration max_connection_idle = absl::InfiniteDuration();
    // A connection must complete its handshake within this long.
    absl::Duration handshake_timeout = absl::Seconds(10);
    // grpc::ResourceQuota of the server: memory for its buffers (under pressure gRPC shrinks them, then cancels
    // streams with RESOURCE_EXHAUSTED) and threads for synchronous handlers.
    size_t max_grpc_memory_bytes = 64 * 1024 * 1024;
    int max_grpc_threads = 16;
    // Per-session rate limit of the renderer-facing services (Register, DidResolveRegistration, GetRegistrations,
    // Unregister): beyond it a call fails with RESOURCE_EXHAUSTED, after rate_limit.refusal_delay, and is counted.
    // calls_per_second 0: no limit.
    // The worker protocol is not limited (a worker only answers events the browser sent).
    RateLimit rate_limit;
  };
  // How the embedder found the registration store when it opened it (LevelDbStorageBackend::OpenWithRecovery).
  struct StorageOpening {
    LevelDbStorageBackend::OpenOutcome outcome = LevelDbStorageBackend::OpenOutcome::kServed;
    int damaged_stores_kept = 0;  // OpenResult::damaged_stores_kept
    std::string description;      // OpenResult::Describe() when not served; empty when served
  };
  struct Embedder {
    Clock* clock = nullptr;
    NetworkStateProvider* network = nullptr;
    PermissionController* permissions = nullptr;
    ServiceWorkerRegistryView* registry = nullptr;
    std::function<absl::StatusOr<WorkerSpec>(int64_t)> worker_spec;
    ProcessLauncher* launcher = nullptr;
    std::unique_ptr<StorageBackend> storage;     // owned
    EngagementProvider* engagement = nullptr;    // optional
    BackgroundSyncObserver* observer = nullptr;  // optional; called from the engine's threads
    StorageOpening storage_opening;              // optional: by default the store was served as it was
  };

  // What an operator needs to see the protections working (admin GetStatus, `bgsyncctl status`): counts since this
  // start, and what this start found in the store.
  struct StatusCounters {
    int64_t events_dispatched = 0;
    int64_t bad_messages = 0;           // bad_messages().count(): each revoked its session, killed a launched process
    int64_t stolen_token_refusals = 0;  // sessions().stolen_token_refusals()
    int64_t rate_limited_calls = 0;     // rate_limiter().refused()
    int64_t workers_killed_for_deadline = 0;  // workers().deadline_stops()
    StorageOpening storage;                   // as the embedder reported it
    int quarantined_at_load = 0;              // engine().load_report().quarantined.size()
    int interrupted_at_load = 0;              // engine().load_report().interrupted
  };

  // Loads the store, starts the engine and serves the renderer- and worker-facing services on
  // config.socket_path and on the channels of the processes it launches. Errors: the engine's (storage) or the
  // server's (socket) with a clear message.
  static absl::StatusOr<std::unique_ptr<BackgroundSyncHost>> Start(Config config, Embedder embedder);

  // Overrides every gRPC default that matters for untrusted peers with `config`'s limits (public/README.md,
  // "Limits") on a server being built. Start applies it to the renderer- and worker-facing server; it is public so
  // that a benchmark's baseline server can run with exactly the browser's transport settings. Thread-safe.
  static void ApplyServerLimits(const Config& config, grpc::ServerBuilder& builder);

  // Stops accepting calls, lets in-flight Registers finish (stored and answered), stops workers.
  ~BackgroundSyncHost();

  BackgroundSyncEngine& engine() { return *engine_; }
  SessionRegistry& sessions() { return sessions_; }
  ServiceWorkerHostImpl& workers() { return *worker_host_; }
  // For DevTools-style direct dispatches (registrations untouched): it reaches the workers as the engine's
  // events do, and logs the dispatch and its outcome. (The engine's own events are logged by its observer.)
  SyncEventDispatcher& dispatcher() { return *dispatcher_; }
  WorkerProcessHost& worker_processes() { return *worker_processes_; }
  // Private channels for the processes the embedder launches as renderers (RendererProcessHost takes it): each
  // is served by the host's server, and a session created with the channel's peer is accepted on it alone.
  // Valid for the host's lifetime; CreateChannel fails once the host is shutting down.
  ChildChannelFactory& channels() { return *channels_; }
  BadMessageReporter& bad_messages() { return bad_messages_; }
  // Calls refused by the per-session rate limit: rate_limiter().refused().
  SessionRateLimiter& rate_limiter() { return *rate_limiter_; }
  EventLog& log() { return log_; }
  // A snapshot of the counters; each is read atomically, not all together.
  StatusCounters status_counters();
  const std::string& socket_path() const { return config_.socket_path; }

  // Embedder notifications.
  void OnServiceWorkerUnregistered(int64_t sw_registration_id);
  void OnNetworkChanged() { engine_->OnNetworkChanged(); }

 private:
  BackgroundSyncHost(Config config, Embedder& embedder);

  const Config config_;
  const StorageOpening storage_opening_;
  EventLog log_;
  SessionRegistry sessions_;
  ProcessLauncher* const launcher_;
  BadMessageReporter bad_messages_;
  std::unique_ptr<ServerChannelFactory> channels_;  // serves on server_ once it has started
  std::unique_ptr<SessionRateLimiter> rate_limiter_;
  std::unique_ptr<WorkerProcessHost> worker_processes_;
  std::unique_ptr<ServiceWorkerHostImpl> worker_host_;
  std::unique_ptr<LoggingEventDispatcher> dispatcher_;
  std::unique_ptr<LoggingObserver> observer_;  // the engine's: the EventLog, then the embedder's observer
  std::unique_ptr<BackgroundSyncEngine> engine_;
  std::unique_ptr<OneShotBackgroundSyncServiceImpl> one_shot_;
  std::unique_ptr<PeriodicBackgroundSyncServiceImpl> periodic_;
  std::unique_ptr<grpc::Server> server_;

  // What the sessions' revoke observer (a session ended) notifies; cleared by the destructor before they go.
  struct RevokeTargets {
    BackgroundSyncEngine* engine = nullptr;
    SessionRateLimiter* limiter = nullptr;
  };
  absl::Mutex revoke_mu_;
  RevokeTargets revoke_targets_ ABSL_GUARDED_BY(revoke_mu_);  // both set, or both null
  int revoke_calls_ ABSL_GUARDED_BY(revoke_mu_) = 0;          // observers using them now
};

}  // namespace bgsync

#endif  // BROWSER_BACKGROUND_SYNC_HOST_H_
