// Launches child processes (posix_spawn) with a session handed over through an inherited descriptor, and
// optionally the child's end of its private channel to the browser on another, and reports their exit.
#ifndef BROWSER_PROCESS_PROCESS_LAUNCHER_H_
#define BROWSER_PROCESS_PROCESS_LAUNCHER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace bgsync {

// The descriptor number the bootstrap pipe has in the child; BGSYNC_BOOTSTRAP_FD names it (public/README.md).
inline constexpr int kBootstrapFd = 3;
// The descriptor number the child's channel to the browser has in the child, when it has one; its bootstrap
// says so with "channel_fd=4" (public/README.md, "Transport and sessions").
inline constexpr int kChannelFd = 4;

struct LaunchOptions {
  std::vector<std::string> argv;       // argv[0] is the program (searched in PATH if it has no '/')
  std::string bootstrap;               // written to the child's bootstrap descriptor, which then reaches EOF
  std::vector<std::string> extra_env;  // "KEY=VALUE" added to the browser's environment
  // Descriptors the child gets as stdin/stdout/stderr; -1 inherits the browser's.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // The child's end of its channel (a connected stream socket), which the child gets as kChannelFd; -1: none.
  // Still owned by the caller, who closes it after Launch returns (the child has its own copy by then).
  int channel_fd = -1;
};

// Thread-safety: every method may be called from any thread. Exit callbacks run on a reaper thread, one per
// child, outside the launcher's lock. Launch and Kill are virtual so that a test can interpose on them (e.g. act
// between a spawn and the moment its caller learns the pid); this class is the only production implementation.
class ProcessLauncher {
 public:
  using ExitCallback = std::function<void(pid_t pid, int wait_status)>;

  ProcessLauncher() = default;
  // SIGKILLs every child still running and waits for their reapers (their exit callbacks run).
  virtual ~ProcessLauncher();

  // Spawns the process. Its only inherited descriptors are 0-2, the bootstrap pipe at kBootstrapFd and, when
  // options.channel_fd is set, the channel at kChannelFd. No descriptor of the caller is closed or changed.
  // `on_exit` runs once when it exits. Errors: kInvalidArgument for an empty argv, kInternal with errno's text
  // when the pipe, a descriptor copy or posix_spawn fails (e.g. the program does not exist).
  virtual absl::StatusOr<pid_t> Launch(const LaunchOptions& options, ExitCallback on_exit);

  // Sends SIGKILL to a running child; children that have exited, and other pids, are ignored.
  virtual void Kill(pid_t pid);

  // Children that have not exited yet.
  std::vector<pid_t> Running();

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<pid_t, bool> running_ ABSL_GUARDED_BY(mu_);  // pid -> still running
  std::vector<std::thread> reapers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_PROCESS_PROCESS_LAUNCHER_H_
