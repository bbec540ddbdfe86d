#include "tools/benchmarks/register/bench_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/time/time.h"

namespace bgsync {
namespace regbench {

std::string BinaryDirectory() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "." : self.parent_path().string();
}

absl::StatusOr<std::unique_ptr<StartedProcess>> StartedProcess::Launch(ProcessLauncher* launcher,
                                                                       std::vector<std::string> argv,
                                                                       int channel_fd) {
  const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  LaunchOptions options;
  options.argv = std::move(argv);
  options.stdout_fd = null_fd;
  options.channel_fd = channel_fd;
  auto exited = std::make_shared<absl::Notification>();
  absl::StatusOr<pid_t> pid = launcher->Launch(options, [exited](pid_t, int) { exited->Notify(); });
  if (null_fd >= 0)
    close(null_fd);
  if (!pid.ok())
    return pid.status();
  return std::unique_ptr<StartedProcess>(new StartedProcess(launcher, *pid, std::move(exited)));
}

StartedProcess::~StartedProcess() {
  Stop();
}

void StartedProcess::Stop() {
  if (exited_->HasBeenNotified())
    return;
  kill(pid_, SIGTERM);
  if (!exited_->WaitForNotificationWithTimeout(absl::Seconds(10))) {
    launcher_->Kill(pid_);
    exited_->WaitForNotification();
  }
}

}  // namespace regbench
}  // namespace bgsync
