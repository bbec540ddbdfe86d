// A bgsync_browser process started by a benchmark: how long it took from its spawn until it served, its memory,
// and its admin endpoint. Stopped (SIGTERM, then SIGKILL) when destroyed.
//
// Thread-compatible: one thread drives a BrowserProcess.
#ifndef TOOLS_BENCHMARKS_SCALE_BROWSER_PROCESS_H_
#define TOOLS_BENCHMARKS_SCALE_BROWSER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"

namespace bgsync {
namespace bench {

class BrowserProcess {
 public:
  // Spawns `binary` on `profile`, offline and without netlink (nothing fires, nothing is launched), with `extra`
  // flags, and waits until it prints its ready line: by then its stores are loaded and both its endpoints serve.
  // `launcher` is not owned and must outlive the process. Errors: kInternal if it cannot be spawned, exits, or is
  // not ready within `timeout` (it is killed then).
  static absl::StatusOr<std::unique_ptr<BrowserProcess>> Start(ProcessLauncher* launcher,
                                                               const std::string& binary,
                                                               const std::string& profile,
                                                               const std::vector<std::string>& extra,
                                                               absl::Duration timeout);
  ~BrowserProcess();
  BrowserProcess(const BrowserProcess&) = delete;
  BrowserProcess& operator=(const BrowserProcess&) = delete;

  pid_t pid() const { return pid_; }
  // From just before posix_spawn until the ready line was read.
  absl::Duration time_to_ready() const { return time_to_ready_; }
  // The admin endpoint (admin.sock of the browser's runtime directory). Owned by this object.
  admin::BrowserAdmin::Stub& admin() { return *admin_; }

  // SIGTERM, and SIGKILL if it has not exited after `grace`. Returns once it has exited. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(60));

 private:
  BrowserProcess(ProcessLauncher* launcher, pid_t pid, std::shared_ptr<absl::Notification> exited);

  ProcessLauncher* const launcher_;
  const pid_t pid_;
  const std::shared_ptr<absl::Notification> exited_;
  absl::Duration time_to_ready_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_SCALE_BROWSER_PROCESS_H_
