// bgsync_browser: a browser process embedding Background Sync (one embedder of BackgroundSyncHost).
//
// Usage: bgsync_browser [--profile DIR] [--offline] [--no-netlink] [--echo-log]
//                       [--retry-delay SECONDS] [--retry-factor N] [--max-attempts N] [--event-timeout SECONDS]
//                       [--worker-idle-timeout SECONDS] [--max-workers N] [--max-events-per-worker N]
//                       [--periodic-min-interval SECONDS] [--periodic-batch-interval SECONDS]
//                       [--periodic-max-attempts N] [--rate-limit CALLS_PER_SECOND] [--rate-burst N]
//                       [--worker-deadline-grace SECONDS] [--relaxed-durability]
// The profile (default $XDG_DATA_HOME/bgsync/Default, else ~/.local/share/bgsync/Default) holds the LevelDB
// stores: BackgroundSync (registrations), ServiceWorkers, BackgroundServices (DevTools recording), Permissions and
// SiteEngagement (both set through the admin endpoint). Each run makes a private runtime directory (0700) with
// browser.sock (tools' renderer sessions; the renderers and workers it launches each talk over a private channel)
// and admin.sock (bgsyncctl), and writes its path to <profile>/RuntimeDirectory; a runtime directory left behind
// by a browser that was killed is removed by the next browser on the profile.
// --relaxed-durability answers a Register once its write is in the operating system's hands (LevelDB without
// fsync: a browser crash loses nothing, an OS crash or power loss may lose the last registrations); by default it
// answers only once the write is on disk.
// SIGTERM/SIGINT: stop accepting, let in-flight Registers finish, exit 0.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "browser/admin/browser_admin_service.h"
#include "browser/background_sync_host.h"
#include "browser/connectivity/connectivity_controller.h"
#include "browser/connectivity/netlink_network_monitor.h"
#include "browser/devtools/background_service_recorder.h"
#include "browser/engagement_store.h"
#include "browser/permission_store.h"
#include "browser/process/renderer_process_host.h"
#include "browser/service_worker/service_worker_registry.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/sync_registration_store.h"
#include "components/background_sync/system_clock.h"
#include "grpcpp/grpcpp.h"

namespace bgsync {
namespace {

struct Flags {
  std::string profile;
  bool offline = false;
  bool netlink = true;
  bool echo_log = false;
  BackgroundSyncParameters parameters;
  absl::Duration worker_idle_timeout = absl::Seconds(30);
  int max_workers = 8;
  int max_events_per_worker = 16;
  RateLimit rate_limit;
  absl::Duration worker_deadline_grace = WorkerHostOptions().deadline_grace;
};

void Usage() {
  std::fprintf(stderr,
               "usage: bgsync_browser [--profile DIR] [--offline] [--no-netlink] [--echo-log]\n"
               "                      [--retry-delay SECONDS] [--retry-factor N] [--max-attempts N]\n"
               "                      [--event-timeout SECONDS] [--worker-idle-timeout SECONDS]\n"
               "                      [--max-workers N] [--max-events-per-worker N]\n"
               "                      [--periodic-min-interval SECONDS] [--periodic-batch-interval SECONDS]\n"
               "                      [--periodic-max-attempts N] [--rate-limit CALLS_PER_SECOND] [--rate-burst N]\n"
               "                      [--worker-deadline-grace SECONDS] [--relaxed-durability]\n");
}

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](double& out) { return i + 1 < argc && absl::SimpleAtod(argv[++i], &out) && out >= 0; };
    double number = 0;
    if (arg == "--profile" && i + 1 < argc) {
      flags.profile = argv[++i];
    } else if (arg == "--offline") {
      flags.offline = true;
    } else if (arg == "--no-netlink") {
      flags.netlink = false;
    } else if (arg == "--echo-log") {
      flags.echo_log = true;
    } else if (arg == "--retry-delay" && value(number)) {
      flags.parameters.initial_retry_delay = absl::Seconds(number);
    } else if (arg == "--retry-factor" && value(number) && number >= 1) {
      flags.parameters.retry_delay_factor = static_cast<int>(number);
    } else if (arg == "--max-attempts" && value(number) && number >= 1) {
      flags.parameters.max_sync_attempts = static_cast<int>(number);
    } else if (arg == "--event-timeout" && value(number) && number > 0) {
      flags.parameters.max_sync_event_duration = absl::Seconds(number);
    } else if (arg == "--worker-idle-timeout" && value(number) && number > 0) {
      flags.worker_idle_timeout = absl::Seconds(number);
    } else if (arg == "--max-workers" && value(number) && number >= 1) {
      flags.max_workers = static_cast<int>(number);
    } else if (arg == "--max-events-per-worker" && value(number) && number >= 1) {
      flags.max_events_per_worker = static_cast<int>(number);
    } else if (arg == "--periodic-min-interval" && value(number) && number > 0) {
      flags.parameters.min_periodic_sync_events_interval = absl::Seconds(number);
    } else if (arg == "--periodic-batch-interval" && value(number)) {
      flags.parameters.min_periodic_sync_batch_interval = absl::Seconds(number);
    } else if (arg == "--periodic-max-attempts" && value(number) && number >= 1) {
      flags.parameters.max_periodic_sync_attempts = static_cast<int>(number);
    } else if (arg == "--rate-limit" && value(number)) {
      flags.rate_limit.calls_per_second = number;  // 0: no per-session rate limit
    } else if (arg == "--rate-burst" && value(number) && number >= 1) {
      flags.rate_limit.burst = number;
    } else if (arg == "--worker-deadline-grace" && value(number)) {
      flags.worker_deadline_grace = absl::Seconds(number);
    } else if (arg == "--relaxed-durability") {
      flags.parameters.durable_writes = false;
    } else {
      return false;
    }
  }
  if (flags.profile.empty()) {
    const char* xdg = std::getenv("XDG_DATA_HOME");
    const char* home = std::getenv("HOME");
    if (xdg && *xdg) {
      flags.profile = absl::StrCat(xdg, "/bgsync/Default");
    } else if (home && *home) {
      flags.profile = absl::StrCat(home, "/.local/share/bgsync/Default");
    } else {
      return false;
    }
  }
  return true;
}

// A browser killed with SIGKILL leaves its runtime directory behind. The next browser on the profile — which holds
// the profile's store locks by then, so that directory's browser is gone — removes it. Only what looks like one of
// ours is touched: a directory "bgsync-XXXXXX" right under the temporary directory, owned by this user, holding
// nothing but our two sockets. Anything else (the file edited, the directory reused) is left alone.
void RemoveStaleRuntimeDirectory(const std::string& profile) {
  std::ifstream in(profile + "/RuntimeDirectory");
  std::string stale;
  if (!std::getline(in, stale) || stale.empty())
    return;
  const std::filesystem::path path(stale);
  if (path.parent_path() != std::filesystem::temp_directory_path() ||
      path.filename().string().rfind("bgsync-", 0) != 0 ||
      path.filename().string().size() != std::string("bgsync-XXXXXX").size()) {
    return;
  }
  struct stat info;
  if (lstat(stale.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != geteuid())
    return;
  std::error_code error;
  std::vector<std::filesystem::path> sockets;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    if ((name != "browser.sock" && name != "admin.sock") || !entry.is_socket(error))
      return;
    sockets.push_back(entry.path());
  }
  if (error)
    return;
  for (const std::filesystem::path& socket : sockets)
    std::filesystem::remove(socket, error);
  std::filesystem::remove(path, error);  // only if empty
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "bgsync_browser: %s\n", message.c_str());
  return 1;
}

// The directory this binary lives in: sibling binaries (the renderer host) are found there.
std::string OwnDirectory() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "." : self.parent_path().string();
}

int Run(const Flags& flags) {
  std::error_code error;
  std::filesystem::create_directories(flags.profile, error);
  if (error)
    return Fail(absl::StrCat("cannot create profile ", flags.profile, ": ", error.message()));

  // One browser per profile: LevelDB's lock on the store refuses a second one. A damaged store is repaired on a
  // copy or kept aside, never deleted (reliability.md P7). The engine's start-up load reads every record with its
  // checksum verified, so the store is not verified here too (that would read it twice); if the load cannot read
  // it, the store is opened again with every record verified, which repairs or keeps aside what is damaged, and
  // loaded again (see start_host below).
  const std::string sync_store_path = flags.profile + "/BackgroundSync";
  auto open_sync_store = [&sync_store_path](bool verify) -> absl::StatusOr<LevelDbStorageBackend::OpenResult> {
    LevelDbStorageBackend::Options options;
    options.verify_records_at_open = verify;
    absl::StatusOr<LevelDbStorageBackend::OpenResult> opened =
        LevelDbStorageBackend::OpenWithRecovery(sync_store_path, options);
    if (!opened.ok())
      return opened;
    if (opened->outcome != LevelDbStorageBackend::OpenOutcome::kServed)
      std::fprintf(stderr, "bgsync_browser: %s\n", opened->Describe().c_str());
    if (opened->outcome == LevelDbStorageBackend::OpenOutcome::kRepaired) {
      absl::StatusOr<bool> restored = SyncRegistrationStore::RestoreSchemaVersionAfterRepair(*opened->backend);
      if (!restored.ok()) {
        return absl::Status(restored.status().code(),
                            absl::StrCat("repairing ", sync_store_path, ": ", restored.status().message()));
      }
    }
    return opened;
  };
  absl::StatusOr<LevelDbStorageBackend::OpenResult> sync_store = open_sync_store(/*verify=*/false);
  if (!sync_store.ok()) {
    if (sync_store.status().code() == absl::StatusCode::kFailedPrecondition) {
      return Fail(absl::StrCat("the profile ", flags.profile, " is in use by another bgsync_browser"));
    }
    return Fail(std::string(sync_store.status().message()));
  }
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> sw_store =
      LevelDbStorageBackend::Open(flags.profile + "/ServiceWorkers");
  if (!sw_store.ok())
    return Fail(std::string(sw_store.status().message()));
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> recorder_store =
      LevelDbStorageBackend::Open(flags.profile + "/BackgroundServices");
  if (!recorder_store.ok())
    return Fail(std::string(recorder_store.status().message()));
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> engagement_store =
      LevelDbStorageBackend::Open(flags.profile + "/SiteEngagement");
  if (!engagement_store.ok())
    return Fail(std::string(engagement_store.status().message()));
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> permission_store =
      LevelDbStorageBackend::Open(flags.profile + "/Permissions");
  if (!permission_store.ok())
    return Fail(std::string(permission_store.status().message()));

  // The private runtime directory for the sockets (a previous browser's, left by a crash, removed first).
  RemoveStaleRuntimeDirectory(flags.profile);
  std::string runtime = (std::filesystem::temp_directory_path() / "bgsync-XXXXXX").string();
  if (!mkdtemp(runtime.data()))
    return Fail("mkdtemp failed");
  chmod(runtime.c_str(), 0700);
  { std::ofstream(flags.profile + "/RuntimeDirectory") << runtime << "\n"; }

  SystemClock clock;
  ProcessLauncher launcher;
  absl::StatusOr<std::unique_ptr<PermissionStore>> permissions = PermissionStore::Open(*std::move(permission_store));
  if (!permissions.ok())
    return Fail(absl::StrCat("permissions: ", permissions.status().message()));
  // Both outlive the host, whose engine uses them.
  absl::StatusOr<std::unique_ptr<BackgroundServiceRecorder>> recorder =
      BackgroundServiceRecorder::Open(&clock, *std::move(recorder_store));
  if (!recorder.ok())
    return Fail(absl::StrCat("DevTools recording: ", recorder.status().message()));
  absl::StatusOr<std::unique_ptr<EngagementStore>> engagement = EngagementStore::Open(*std::move(engagement_store));
  if (!engagement.ok())
    return Fail(absl::StrCat("site engagement: ", engagement.status().message()));
  BackgroundSyncHost* host_for_callbacks = nullptr;
  ConnectivityController connectivity([&host_for_callbacks] {
    if (host_for_callbacks)
      host_for_callbacks->OnNetworkChanged();
  });
  if (flags.offline)
    connectivity.SetOverride(ConnectivityController::Override::kForceOffline);

  SessionRegistry* sessions_for_windows = nullptr;
  absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> service_workers =
      ServiceWorkerRegistry::Open(sw_store->get(), [&sessions_for_windows](const Origin& origin) {
        return sessions_for_windows && sessions_for_windows->HasWindow(origin);
      });
  if (!service_workers.ok())
    return Fail(std::string(service_workers.status().message()));
  ServiceWorkerRegistry* registry = service_workers->get();

  BackgroundSyncHost::Config config;
  config.socket_path = runtime + "/browser.sock";
  config.parameters = flags.parameters;
  config.worker_options.idle_timeout = flags.worker_idle_timeout;
  config.worker_options.max_events_per_worker = flags.max_events_per_worker;
  config.max_worker_processes = flags.max_workers;
  config.rate_limit = flags.rate_limit;
  config.worker_options.deadline_grace = flags.worker_deadline_grace;
  // Starts the host (the engine loads the store) on an opened sync store, taking its backend.
  auto start_host = [&](LevelDbStorageBackend::OpenResult& opened) {
    BackgroundSyncHost::Embedder embedder;
    embedder.clock = &clock;
    embedder.network = &connectivity;
    embedder.permissions = permissions->get();
    embedder.registry = registry;
    embedder.launcher = &launcher;
    embedder.storage = std::move(opened.backend);
    embedder.storage_opening = {opened.outcome, opened.damaged_stores_kept,
                                opened.outcome == LevelDbStorageBackend::OpenOutcome::kServed ? "" : opened.Describe()};
    embedder.engagement = engagement->get();
    embedder.observer = recorder->get();
    embedder.worker_spec = [registry](int64_t id) -> absl::StatusOr<WorkerSpec> {
      absl::StatusOr<ServiceWorkerRegistration> r = registry->Get(id);
      if (!r.ok())
        return r.status();
      if (r->state != ServiceWorkerState::kActive)
        return absl::FailedPreconditionError("service worker not active");
      return WorkerSpec{r->origin, r->worker_command};
    };
    return BackgroundSyncHost::Start(config, std::move(embedder));
  };
  absl::StatusOr<std::unique_ptr<BackgroundSyncHost>> host = start_host(*sync_store);
  if (!host.ok() && LevelDbStorageBackend::MayBeDamage(host.status())) {
    std::fprintf(stderr, "bgsync_browser: loading %s failed (%s); opening it again with every record verified\n",
                 sync_store_path.c_str(), std::string(host.status().message()).c_str());
    sync_store = open_sync_store(/*verify=*/true);
    if (!sync_store.ok())
      return Fail(std::string(sync_store.status().message()));
    host = start_host(*sync_store);
  }
  if (!host.ok())
    return Fail(std::string(host.status().message()));
  (*host)->log().set_echo(flags.echo_log);
  if (sync_store->outcome != LevelDbStorageBackend::OpenOutcome::kServed)
    (*host)->log().Append({0, absl::Time(), "", 0, "Sync store recovered", "", sync_store->Describe()});
  sessions_for_windows = &(*host)->sessions();
  host_for_callbacks = host->get();
  (*engagement)->SetChangeObserver([h = host->get()](const Origin& origin) {
    h->log().Append({0, absl::Time(), origin.Serialize(), 0, "Engagement changed", "", ""});
    h->engine().OnEngagementChanged(origin);
  });
  registry->AddUnregisterObserver([h = host->get()](int64_t id) {
    h->log().Append({0, absl::Time(), "", id, "Service worker unregistered", "", ""});
    h->OnServiceWorkerUnregistered(id);
  });

  // The monitor's callback and the initial read are serialized, so a flip between Start() and the first
  // SetSystemOnline() can never be overwritten by the stale first reading.
  absl::Mutex network_mu;
  std::unique_ptr<NetlinkNetworkMonitor> monitor;
  if (flags.netlink) {
    absl::StatusOr<std::unique_ptr<NetlinkNetworkMonitor>> started =
        NetlinkNetworkMonitor::Start([&connectivity, &network_mu, h = host->get()](bool online) {
          absl::MutexLock lock(&network_mu);
          h->log().Append({0, absl::Time(), "", 0, online ? "Network online" : "Network offline", "", "netlink"});
          connectivity.SetSystemOnline(online);
        });
    if (!started.ok())
      return Fail(absl::StrCat("netlink: ", started.status().message()));
    monitor = *std::move(started);
    absl::MutexLock lock(&network_mu);
    connectivity.SetSystemOnline(monitor->IsOnline());
  } else {
    connectivity.SetSystemOnline(true);
  }

  RendererProcessHost renderers(
      {OwnDirectory() + "/bgsync_renderer_host"}, &launcher, &(*host)->sessions(), &(*host)->channels(),
      [h = host->get()](pid_t pid, const Origin& origin) {
        h->log().Append({0, absl::Time(), origin.Serialize(), 0, "Renderer exited", "", absl::StrCat("pid=", pid)});
      });
  BrowserAdminService::Parts admin_parts{
      host->get(),
      registry,
      &renderers,
      permissions->get(),
      &connectivity,
      [&monitor] { return monitor ? monitor->IsOnline() : true; },
      flags.profile,
      flags.offline ? admin::SetNetworkEmulationRequest::MODE_OFFLINE : admin::SetNetworkEmulationRequest::MODE_AUTO};
  admin_parts.recorder = recorder->get();
  admin_parts.engagement = engagement->get();
  BrowserAdminService admin(std::move(admin_parts));
  const std::string admin_path = runtime + "/admin.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + admin_path, grpc::InsecureServerCredentials());
  builder.RegisterService(&admin);
  // The admin service uses gRPC's synchronous API. A server with only synchronous methods polls with threads of its
  // own, and those also read the renderers' connections (gRPC watches every descriptor of the process in one epoll
  // set) and hand each call on to the callback server's threads: two more thread wake-ups per Register
  // (docs/performance.md). A server that also has a frequently polled completion queue is a "hybrid" one, whose
  // synchronous queues do not poll: the callback server's threads then poll for both. Nothing is ever queued here.
  std::unique_ptr<grpc::ServerCompletionQueue> admin_hybrid_queue = builder.AddCompletionQueue();
  std::unique_ptr<grpc::Server> admin_server = builder.BuildAndStart();
  if (!admin_server)
    return Fail("cannot serve the admin endpoint on " + admin_path);
  chmod(admin_path.c_str(), 0600);

  (*host)->log().Append({0, absl::Time(), "", 0, "Browser started", "",
                         absl::StrCat("pid=", getpid(), " profile=", flags.profile, " runtime=", runtime)});
  std::printf("bgsync_browser: ready (pid %d, profile %s, admin %s)\n", getpid(), flags.profile.c_str(),
              admin_path.c_str());
  std::fflush(stdout);

  // Wait for SIGTERM or SIGINT (blocked in every thread, taken here).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  (*host)->log().Append({0, absl::Time(), "", 0, "Browser stopping", "", absl::StrCat("signal=", signal_number)});

  // gRPC waits for the whole deadline while a client (bgsyncctl log --follow) keeps its connection open.
  admin_server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  admin_hybrid_queue->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (admin_hybrid_queue->Next(&tag, &ok)) {
  }
  monitor.reset();
  host_for_callbacks = nullptr;
  (*engagement)->SetChangeObserver(nullptr);
  host->reset();  // in-flight Registers finish, then the engine stops
  std::filesystem::remove_all(runtime, error);
  std::filesystem::remove(flags.profile + "/RuntimeDirectory", error);
  return 0;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  // Block the stop signals before any thread starts, so that only sigwait() takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
#ifdef NDEBUG
  // Debian builds Abseil in debug mode: every absl::Mutex acquisition also updates a process-wide lock graph for
  // deadlock detection (under a global lock, with stack traces). Optimized builds leave that to debug builds.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif

  bgsync::Flags flags;
  if (!bgsync::ParseFlags(argc, argv, flags)) {
    bgsync::Usage();
    return 2;
  }
  return bgsync::Run(flags);
}
