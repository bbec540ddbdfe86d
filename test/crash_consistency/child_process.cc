#include "test/crash_consistency/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace bgsync {
namespace {

absl::Status Errno(const std::string& what, int error) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(error)));
}

}  // namespace

absl::Status BecomeSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return Errno("prctl(PR_SET_CHILD_SUBREAPER)", errno);
  return absl::OkStatus();
}

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return Errno("pipe2", errno);
  return Pipe{fds[0], fds[1]};
}

absl::StatusOr<ChildProcess> ChildProcess::Spawn(const ChildOptions& options) {
  if (options.argv.empty())
    return absl::InvalidArgumentError("ChildProcess::Spawn: empty argv");
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    return Errno("open /dev/null", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the copy: the child gets exactly these three.
  posix_spawn_file_actions_adddup2(&actions, options.stdin_fd >= 0 ? options.stdin_fd : null_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, options.stdout_fd >= 0 ? options.stdout_fd : null_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, options.stderr_fd >= 0 ? options.stderr_fd : null_fd, 2);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setpgroup(&attributes, 0);  // a group of its own, led by the child
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (std::string& s : argv_strings)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(null_fd);
  if (error != 0)
    return Errno(absl::StrCat("posix_spawn ", options.argv[0]), error);
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)), reaped_(std::exchange(other.reaped_, false)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillGroup();
    pid_ = std::exchange(other.pid_, 0);
    reaped_ = std::exchange(other.reaped_, false);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  KillGroup();
}

void ChildProcess::Signal(int signal) {
  if (running())
    kill(pid_, signal);
}

int ChildProcess::Wait() {
  if (!running())
    return -1;
  int status = 0;
  pid_t result;
  do {
    result = waitpid(pid_, &status, 0);
  } while (result < 0 && errno == EINTR);
  reaped_ = true;
  return result == pid_ ? status : -1;
}

bool ChildProcess::WaitForGroup(absl::Duration timeout) {
  if (pid_ <= 0)
    return true;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t result = waitpid(-pid_, &status, WNOHANG);
    if (result == pid_)
      reaped_ = true;
    if (result > 0)
      continue;
    if (result < 0 && errno == EINTR)
      continue;
    // ECHILD: no child of ours is left in the group. A member that is not our child (one whose parent still runs,
    // or all of them when this process is not a subreaper) can only be polled for.
    if (result < 0 && kill(-pid_, 0) != 0)
      return true;
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
}

void ChildProcess::KillGroup() {
  if (pid_ <= 0)
    return;
  kill(-pid_, SIGKILL);
  if (!reaped_)
    Wait();
  WaitForGroup(absl::Seconds(10));
  pid_ = 0;
  reaped_ = false;
}

}  // namespace bgsync
