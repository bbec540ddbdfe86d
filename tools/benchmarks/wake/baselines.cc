#include "tools/benchmarks/wake/baselines.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tools/benchmarks/wake/bare_worker_server.h"
#include "tools/benchmarks/wake/cpu_time.h"
#include "tools/benchmarks/wake/wake_report.h"

namespace bgsync {
namespace bench {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);

// The children of one baseline: killed (if still running) and waited for when it goes out of scope.
class Children {
 public:
  explicit Children(ProcessLauncher& launcher) : launcher_(launcher) {}
  ~Children() {
    for (pid_t pid : pids_)
      launcher_.Kill(pid);
    absl::MutexLock lock(&state_->mu);
    auto all_gone = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) { return state_->exited == launched_; };
    state_->mu.AwaitWithTimeout(absl::Condition(&all_gone), kTimeout);
  }

  const std::vector<pid_t>& pids() const { return pids_; }

  absl::StatusOr<pid_t> Launch(const std::string& program, int channel_fd) {
    LaunchOptions options;
    options.argv = {program};
    options.channel_fd = channel_fd;
    absl::StatusOr<pid_t> pid = launcher_.Launch(options, [state = state_](pid_t, int) {
      absl::MutexLock lock(&state->mu);
      ++state->exited;
    });
    if (pid.ok()) {
      pids_.push_back(*pid);
      ++launched_;
    }
    return pid;
  }

 private:
  struct State {
    absl::Mutex mu;
    int exited ABSL_GUARDED_BY(mu) = 0;
  };
  ProcessLauncher& launcher_;
  const std::shared_ptr<State> state_ = std::make_shared<State>();
  std::vector<pid_t> pids_;
  int launched_ = 0;
};

double OwnCpuMillis() {
  return CpuMillis(getpid());
}

}  // namespace

absl::StatusOr<std::unique_ptr<SpawnTimer>> SpawnTimer::Start(ProcessLauncher& launcher) {
  absl::StatusOr<std::unique_ptr<BareWorkerServer>> server = BareWorkerServer::Start();
  if (!server.ok())
    return server.status();
  return std::unique_ptr<SpawnTimer>(new SpawnTimer(launcher, *std::move(server)));
}

SpawnTimer::SpawnTimer(ProcessLauncher& launcher, std::unique_ptr<BareWorkerServer> server)
    : launcher_(launcher), server_(std::move(server)) {}

SpawnTimer::~SpawnTimer() = default;

absl::StatusOr<double> SpawnTimer::SocketpairChildMillis(const std::string& program) {
  Children children(launcher_);
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  absl::Cleanup close_ours = [&fds] { close(fds[0]); };
  const int64_t start = MonotonicNanos();
  absl::StatusOr<pid_t> pid = children.Launch(program, fds[1]);
  close(fds[1]);
  if (!pid.ok())
    return pid.status();
  pollfd readable = {fds[0], POLLIN, 0};
  char byte;
  if (poll(&readable, 1, static_cast<int>(absl::ToInt64Milliseconds(kTimeout))) != 1 || read(fds[0], &byte, 1) != 1)
    return absl::DeadlineExceededError("the echo child did not answer");
  return static_cast<double>(MonotonicNanos() - start) / 1e6;
}

absl::StatusOr<double> SpawnTimer::GrpcWorkerMillis(const std::string& program) {
  Children children(launcher_);
  absl::StatusOr<int> channel = server_->NewChannel();
  if (!channel.ok())
    return channel.status();
  const int64_t start = MonotonicNanos();
  absl::StatusOr<pid_t> pid = children.Launch(program, *channel);
  close(*channel);
  if (!pid.ok())
    return pid.status();
  absl::StatusOr<std::vector<int64_t>> ready = server_->WaitForReady(++workers_ready_, kTimeout);
  if (!ready.ok())
    return ready.status();
  server_->EndStreams();  // the worker exits; Children waits for it
  return static_cast<double>(ready->back() - start) / 1e6;
}

absl::StatusOr<Drain> BareDrain(ProcessLauncher& launcher,
                                const std::string& trivial_worker,
                                int workers,
                                int per_worker) {
  absl::StatusOr<std::unique_ptr<BareWorkerServer>> server = BareWorkerServer::Start();
  if (!server.ok())
    return server.status();
  Children children(launcher);
  for (int i = 0; i < workers; ++i) {
    absl::StatusOr<int> channel = (*server)->NewChannel();
    if (!channel.ok())
      return channel.status();
    absl::StatusOr<pid_t> pid = children.Launch(trivial_worker, *channel);
    close(*channel);
    if (!pid.ok())
      return pid.status();
  }
  if (absl::StatusOr<std::vector<int64_t>> ready = (*server)->WaitForReady(workers, kTimeout); !ready.ok())
    return ready.status();
  const double server_before = OwnCpuMillis();
  const double workers_before = CpuMillis(children.pids());
  absl::StatusOr<absl::Duration> drained = (*server)->PushAndWait(per_worker, absl::Seconds(120));
  Drain drain;
  drain.server_cpu_millis = OwnCpuMillis() - server_before;
  drain.workers_cpu_millis = CpuMillis(children.pids()) - workers_before;
  (*server)->EndStreams();
  if (!drained.ok())
    return drained.status();
  drain.millis = absl::ToDoubleMilliseconds(*drained);
  return drain;
}

}  // namespace bench
}  // namespace bgsync
