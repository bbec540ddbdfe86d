#include "browser/process/worker_process_host.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace bgsync {

WorkerProcessHost::WorkerProcessHost(Options options,
                                     ProcessLauncher* launcher,
                                     SessionRegistry* sessions,
                                     ChildChannelFactory* channels,
                                     std::function<absl::StatusOr<WorkerSpec>(int64_t)> lookup)
    : options_(std::move(options)),
      launcher_(launcher),
      sessions_(sessions),
      channels_(channels),
      lookup_(std::move(lookup)) {}

WorkerProcessHost::~WorkerProcessHost() {
  guard_->Invalidate();
}

void WorkerProcessHost::SetHost(ServiceWorkerHostImpl* host) {
  absl::MutexLock lock(&mu_);
  host_ = host;
}

absl::Status WorkerProcessHost::StartWorker(int64_t id) {
  absl::StatusOr<WorkerSpec> spec = lookup_(id);
  if (!spec.ok())
    return spec.status();
  {
    absl::MutexLock lock(&mu_);
    if (running_.contains(id))
      return absl::OkStatus();
    if (static_cast<int>(running_.size()) >= options_.max_workers) {
      return absl::ResourceExhaustedError(absl::StrCat("already ", options_.max_workers, " worker processes"));
    }
    running_[id] = 0;  // starting: reserve the slot
  }
  absl::StatusOr<pid_t> pid = Launch(id, *spec);
  absl::MutexLock lock(&mu_);
  if (!pid.ok()) {
    running_.erase(id);
    return pid.status();
  }
  // The process may already have exited (OnExit erased the slot); only record a live one.
  if (auto it = running_.find(id); it != running_.end() && it->second == 0)
    it->second = *pid;
  return absl::OkStatus();
}

absl::StatusOr<pid_t> WorkerProcessHost::Launch(int64_t id, const WorkerSpec& spec) {
  absl::StatusOr<ChildChannelFactory::Channel> channel = channels_->CreateChannel();
  if (!channel.ok())
    return channel.status();
  // Bound to the channel: the token is refused on any other connection.
  absl::StatusOr<SessionRegistry::Created> session =
      sessions_->Create(spec.origin, ClientType::kServiceWorker, id, /*pid=*/0, channel->peer);
  if (!session.ok()) {
    close(channel->child_fd);
    return session.status();
  }
  LaunchOptions launch;
  launch.argv = spec.command;
  launch.bootstrap =
      absl::StrCat("channel_fd=", kChannelFd, "\ntoken=", session->token, "\norigin=", spec.origin.Serialize(),
                   "\nclient_type=service_worker\nservice_worker_registration_id=", id, "\n");
  launch.channel_fd = channel->child_fd;
  absl::StatusOr<pid_t> pid =
      launcher_->Launch(launch, [this, guard = guard_, id, session_id = session->session.id](pid_t pid, int) {
        RunIfAlive(guard, [&] { OnExit(id, pid, session_id); });
      });
  // The child has its copy; without a child the browser sees the channel end.
  close(channel->child_fd);
  if (!pid.ok()) {
    sessions_->Revoke(session->session.id);
    return pid.status();
  }
  if (!sessions_->SetPid(session->session.id, *pid).ok()) {
    // Its session ended while it was being spawned: it sent a bad message before its pid was known (or it already
    // exited). A process without a session must not live on; its exit is reported as any other.
    launcher_->Kill(*pid);
  }
  return pid;
}

void WorkerProcessHost::StopWorker(int64_t id) {
  pid_t pid = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(id);
    if (it == running_.end())
      return;
    pid = it->second;
  }
  if (pid > 0)
    launcher_->Kill(pid);
}

void WorkerProcessHost::OnExit(int64_t id, pid_t pid, uint64_t session_id) {
  ServiceWorkerHostImpl* host;
  {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(id);
    if (it != running_.end() && (it->second == pid || it->second == 0))
      running_.erase(it);
    host = host_;
  }
  // Its session dies with it, and so do its events in flight. By id: the exit may come before StartWorker
  // recorded the pid in the session.
  sessions_->Revoke(session_id);
  sessions_->RevokeProcess(pid);
  if (host)
    host->OnWorkerProcessGone(id);
}

absl::flat_hash_map<int64_t, pid_t> WorkerProcessHost::Running() {
  absl::MutexLock lock(&mu_);
  return running_;
}

}  // namespace bgsync
