// Child processes of the crash harness. Each runs in a process group of its own, and the harness is a child
// subreaper, so that after SIGKILL of a browser every process it launched (its service-worker processes, which
// inherit its group and are re-parented to the harness) can be waited for: only then is every log they write final.
#ifndef TEST_CRASH_CONSISTENCY_CHILD_PROCESS_H_
#define TEST_CRASH_CONSISTENCY_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bgsync {

// Makes this process the reaper of its orphaned descendants (prctl PR_SET_CHILD_SUBREAPER). Idempotent.
absl::Status BecomeSubreaper();

// A pipe whose two ends are close-on-exec (a child gets an end only through ChildOptions).
struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
};
absl::StatusOr<Pipe> MakePipe();

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0]: the program's path
  // Descriptors the child gets as stdin, stdout and stderr; -1: /dev/null.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// One child process, leader of its own process group. Not copyable; destroying it SIGKILLs the group and reaps
// what it can. Thread-compatible.
class ChildProcess {
 public:
  // Errors: kInternal with errno's text when posix_spawn fails.
  static absl::StatusOr<ChildProcess> Spawn(const ChildOptions& options);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !reaped_; }

  // Sends `signal` to the child alone.
  void Signal(int signal);
  // Waits for the child itself to exit and returns its wait status (-1 when already reaped or never started).
  int Wait();
  // Waits until every other process of the child's group has exited, reaping them (they are re-parented to this
  // process once the child is gone). False when some are still running after `timeout`; they are left running.
  bool WaitForGroup(absl::Duration timeout);
  // SIGKILLs the whole group, then reaps the child and the rest of the group.
  void KillGroup();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_ = 0;  // also the process group id
  bool reaped_ = false;
};

}  // namespace bgsync

#endif  // TEST_CRASH_CONSISTENCY_CHILD_PROCESS_H_
