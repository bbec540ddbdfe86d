#include "browser/process/process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace bgsync {
namespace {

absl::Status Errno(const std::string& what, int error) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(error)));
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

ProcessLauncher::~ProcessLauncher() {
  std::vector<std::thread> reapers;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [pid, running] : running_) {
      if (running)
        kill(pid, SIGKILL);
    }
    reapers.swap(reapers_);
  }
  for (std::thread& reaper : reapers)
    reaper.join();
}

absl::StatusOr<pid_t> ProcessLauncher::Launch(const LaunchOptions& options, ExitCallback on_exit) {
  if (options.argv.empty() || options.argv[0].empty())
    return absl::InvalidArgumentError("empty argv");
  // A socketpair rather than a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE in the browser if the child dies
  // before reading.
  int pipe_fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipe_fds) != 0)
    return Errno("socketpair", errno);

  // Each descriptor the child gets is first copied above every target number (close-on-exec, closed again
  // below): a dup2 onto 0..kChannelFd can then never clobber a source a later dup2 still needs (the caller's
  // channel may well be descriptor 3), and dup2 always clears close-on-exec on the target.
  const std::pair<int, int> wanted[] = {{options.stdin_fd, 0},
                                        {options.stdout_fd, 1},
                                        {options.stderr_fd, 2},
                                        {pipe_fds[0], kBootstrapFd},
                                        {options.channel_fd, kChannelFd}};
  std::vector<int> copies;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int copy_error = 0;
  for (const auto& [source, target] : wanted) {
    if (source < 0)
      continue;
    int copy = fcntl(source, F_DUPFD_CLOEXEC, kChannelFd + 1);
    if (copy < 0) {
      copy_error = errno;
      break;
    }
    copies.push_back(copy);
    posix_spawn_file_actions_adddup2(&actions, copy, target);
  }
  auto close_copies = [&copies] {
    for (int copy : copies)
      close(copy);
    copies.clear();
  };
  if (copy_error != 0) {
    posix_spawn_file_actions_destroy(&actions);
    close_copies();
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return Errno("fcntl F_DUPFD_CLOEXEC", copy_error);
  }

  // A child must not inherit the browser's signal mask or handlers.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    if (strncmp(*e, "BGSYNC_BOOTSTRAP_FD=", 20) != 0)
      env_strings.emplace_back(*e);
  }
  env_strings.push_back(absl::StrCat("BGSYNC_BOOTSTRAP_FD=", kBootstrapFd));
  for (const std::string& extra : options.extra_env)
    env_strings.push_back(extra);
  std::vector<char*> envp;
  for (std::string& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (std::string& s : argv_strings)
    argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = 0;
  int error = posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close_copies();
  close(pipe_fds[0]);
  if (error != 0) {
    close(pipe_fds[1]);
    return Errno(absl::StrCat("posix_spawn ", options.argv[0]), error);
  }
  // A child that exits before reading simply never gets its session.
  WriteAll(pipe_fds[1], options.bootstrap);
  shutdown(pipe_fds[1], SHUT_WR);
  close(pipe_fds[1]);

  absl::MutexLock lock(&mu_);
  running_[pid] = true;
  reapers_.emplace_back([this, pid, on_exit = std::move(on_exit)] {
    // Wait without reaping, forget the pid under the lock, then reap: Kill() can never signal a recycled pid.
    siginfo_t info;
    while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    int status = 0;
    {
      absl::MutexLock lock(&mu_);
      running_.erase(pid);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (on_exit)
      on_exit(pid, status);
  });
  return pid;
}

void ProcessLauncher::Kill(pid_t pid) {
  absl::MutexLock lock(&mu_);
  // Only while the reaper has not collected it: after waitpid the pid may belong to someone else.
  if (running_.contains(pid))
    kill(pid, SIGKILL);
}

std::vector<pid_t> ProcessLauncher::Running() {
  absl::MutexLock lock(&mu_);
  std::vector<pid_t> pids;
  for (const auto& [pid, running] : running_)
    pids.push_back(pid);
  return pids;
}

}  // namespace bgsync
