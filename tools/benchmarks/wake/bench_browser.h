// A real bgsync_browser for bgsync_bench_wake: started on a profile in the benchmark's temporary directory, driven
// through its admin endpoint, and acting as a page through window sessions the admin endpoint opens (the
// renderer-facing service on browser.sock). Stopped with SIGTERM (SIGKILL if that takes too long) when destroyed.
//
// Thread-safety: every method may be called from any thread (gRPC stubs are thread-safe).
#ifndef TOOLS_BENCHMARKS_WAKE_BENCH_BROWSER_H_
#define TOOLS_BENCHMARKS_WAKE_BENCH_BROWSER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"
#include "public/mojom/background_sync.grpc.pb.h"

namespace bgsync {
namespace bench {

// The directory of the running benchmark binary, where bgsync_browser and the workers are built.
std::string BinaryDirectory();

class BenchBrowser {
 public:
  // A window session of one origin, on a connection of its own.
  struct Page {
    std::string token;
    std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> stub;
  };

  // Starts `BinaryDirectory()/bgsync_browser --profile <profile> --no-netlink --offline <flags...>` with `launcher`
  // (which must outlive this), its output appended to `log_path`, and waits (up to 30 s) until its admin endpoint
  // answers. Errors: the launch's, or kDeadlineExceeded (the browser is killed).
  static absl::StatusOr<std::unique_ptr<BenchBrowser>> Start(ProcessLauncher* launcher,
                                                             const std::string& profile,
                                                             const std::vector<std::string>& flags,
                                                             const std::string& log_path);
  // SIGTERM, then SIGKILL if it has not exited within 30 s.
  ~BenchBrowser();

  pid_t pid() const { return pid_; }

  // Installs and activates a service worker of `origin` (scope origin + "/") whose process runs `command`.
  // Returns its registration id.
  absl::StatusOr<int64_t> InstallServiceWorker(const std::string& origin, const std::vector<std::string>& command);
  absl::Status UnregisterServiceWorker(int64_t id);
  absl::StatusOr<admin::ServiceWorkerList> ListServiceWorkers();
  // DevTools' dispatchSyncEvent: fires `tag` at the worker (starting its process), registrations untouched.
  // Returns the outcome ("completed", ...).
  absl::StatusOr<std::string> DispatchSyncEvent(int64_t sw_registration_id, const std::string& tag);
  absl::Status SetNetwork(admin::SetNetworkEmulationRequest::Mode mode);
  // How many sync registrations the browser holds.
  absl::StatusOr<int> CountRegistrations();
  absl::StatusOr<admin::BrowserStatus> Status();
  // One-shot events the engine has settled (their outcome stored) since the browser started: the sample count of
  // the BackgroundSync.Event.OneShotResultPattern counter. Cheap, unlike listing the registrations.
  absl::StatusOr<int64_t> SettledOneShotEvents();

  absl::StatusOr<Page> OpenPage(const std::string& origin);
  // SyncManager.register(tag) from `page`, then DidResolveRegistration as a page does once it has the result.
  // Errors: the call's, or kInternal naming the BackgroundSyncError the browser answered.
  absl::Status Register(Page& page, int64_t sw_registration_id, const std::string& tag);

 private:
  BenchBrowser(ProcessLauncher* launcher, pid_t pid, std::shared_ptr<absl::Notification> exited);

  ProcessLauncher* const launcher_;
  const pid_t pid_;
  const std::shared_ptr<absl::Notification> exited_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_WAKE_BENCH_BROWSER_H_
