// Starts and stops service-worker processes for the browser: the WorkerLauncher of ServiceWorkerHostImpl.
#ifndef BROWSER_PROCESS_WORKER_PROCESS_HOST_H_
#define BROWSER_PROCESS_WORKER_PROCESS_HOST_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "browser/process/child_channel_factory.h"
#include "browser/process/process_launcher.h"
#include "components/background_sync/lifetime_guard.h"
#include "services/background_sync/service_worker_host_impl.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {

// What the browser knows about a service worker it may have to start.
struct WorkerSpec {
  Origin origin;
  std::vector<std::string> command;  // argv of the worker process
};

// Thread-safety: every method may be called from any thread; process exits arrive on reaper threads.
class WorkerProcessHost : public WorkerLauncher {
 public:
  struct Options {
    int max_workers = 8;  // worker processes running at once; StartWorker fails beyond it
  };
  // `lookup` returns the spec of an active service-worker registration (errors: unknown / not active). Every
  // worker process gets a channel of `channels` and a session bound to it. The pointers are not owned and must
  // outlive this. Call SetHost before the first event.
  WorkerProcessHost(Options options,
                    ProcessLauncher* launcher,
                    SessionRegistry* sessions,
                    ChildChannelFactory* channels,
                    std::function<absl::StatusOr<WorkerSpec>(int64_t)> lookup);

  // Exits of its processes that arrive later are ignored (the processes themselves belong to the launcher).
  ~WorkerProcessHost() override;

  void SetHost(ServiceWorkerHostImpl* host);

  // WorkerLauncher.
  absl::Status StartWorker(int64_t sw_registration_id) override;
  void StopWorker(int64_t sw_registration_id) override;

  // Running worker processes: service-worker registration id -> pid.
  absl::flat_hash_map<int64_t, pid_t> Running();

 private:
  // Makes the worker's channel and session and spawns it; on failure nothing is left behind.
  absl::StatusOr<pid_t> Launch(int64_t sw_registration_id, const WorkerSpec& spec);
  void OnExit(int64_t sw_registration_id, pid_t pid, uint64_t session_id);

  const Options options_;
  ProcessLauncher* const launcher_;
  SessionRegistry* const sessions_;
  ChildChannelFactory* const channels_;
  const std::function<absl::StatusOr<WorkerSpec>(int64_t)> lookup_;
  // Exit callbacks run on the launcher's reaper threads, possibly after this is gone.
  const std::shared_ptr<LifetimeGuard> guard_ = std::make_shared<LifetimeGuard>();

  absl::Mutex mu_;
  ServiceWorkerHostImpl* host_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::flat_hash_map<int64_t, pid_t> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_PROCESS_WORKER_PROCESS_HOST_H_
