// The processes bgsync_bench_register starts (baseline servers, browsers): launched with ProcessLauncher,
// stopped by their owner, and SIGKILLed by the launcher's destructor if still running (also when a benchmark
// fails half-way).
//
// Thread-safety: a StartedProcess belongs to one thread; the launcher may be shared.
#ifndef TOOLS_BENCHMARKS_REGISTER_BENCH_PROCESSES_H_
#define TOOLS_BENCHMARKS_REGISTER_BENCH_PROCESSES_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "browser/process/process_launcher.h"

namespace bgsync {
namespace regbench {

// The directory of the running benchmark binary, where the browser and the baseline server are built too.
std::string BinaryDirectory();

// A running child. Stops it (Stop) when destroyed.
class StartedProcess {
 public:
  // Launches `argv` with stdout on /dev/null and stderr inherited. `launcher` is not owned and must outlive this.
  // Errors: the launcher's.
  static absl::StatusOr<std::unique_ptr<StartedProcess>> Launch(ProcessLauncher* launcher,
                                                                std::vector<std::string> argv,
                                                                int channel_fd = -1);
  ~StartedProcess();

  pid_t pid() const { return pid_; }
  bool exited() const { return exited_->HasBeenNotified(); }
  // SIGTERM, up to 10 s for it to exit, then SIGKILL and waits. Idempotent.
  void Stop();

 private:
  StartedProcess(ProcessLauncher* launcher, pid_t pid, std::shared_ptr<absl::Notification> exited)
      : launcher_(launcher), pid_(pid), exited_(std::move(exited)) {}

  ProcessLauncher* const launcher_;
  const pid_t pid_;
  const std::shared_ptr<absl::Notification> exited_;
};

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_BENCH_PROCESSES_H_
