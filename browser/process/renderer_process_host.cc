#include "browser/process/renderer_process_host.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace bgsync {

RendererProcessHost::RendererProcessHost(Options options,
                                         ProcessLauncher* launcher,
                                         SessionRegistry* sessions,
                                         ChildChannelFactory* channels,
                                         std::function<void(pid_t, const Origin&)> on_exit)
    : options_(std::move(options)),
      launcher_(launcher),
      sessions_(sessions),
      channels_(channels),
      on_exit_(std::move(on_exit)) {}

RendererProcessHost::~RendererProcessHost() {
  guard_->Invalidate();
  absl::MutexLock lock(&mu_);
  for (auto& [pid, renderer] : renderers_) {
    if (renderer.stdin_fd >= 0)
      close(renderer.stdin_fd);
    renderer.stdin_fd = -1;
  }
}

absl::StatusOr<RendererProcessHost::Opened> RendererProcessHost::Open(const Origin& origin,
                                                                      ClientType type,
                                                                      const std::vector<std::string>& script,
                                                                      const std::string& output_path,
                                                                      bool keep_open) {
  if (type == ClientType::kServiceWorker)
    return absl::InvalidArgumentError("a renderer is a window or an iframe");
  if (!origin.IsPotentiallyTrustworthy()) {
    return absl::InvalidArgumentError(absl::StrCat(origin.Serialize(), " is not a secure origin"));
  }
  int output =
      open(output_path.empty() ? "/dev/null" : output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (output < 0)
    return absl::InternalError(absl::StrCat("open ", output_path, ": ", strerror(errno)));
  int input[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, input) != 0) {
    close(output);
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  }
  absl::StatusOr<ChildChannelFactory::Channel> channel = channels_->CreateChannel();
  if (!channel.ok()) {
    close(output), close(input[0]), close(input[1]);
    return channel.status();
  }
  // Bound to the channel: the token is refused on any other connection.
  absl::StatusOr<SessionRegistry::Created> session = sessions_->Create(origin, type, 0, 0, channel->peer);
  if (!session.ok()) {
    close(output), close(input[0]), close(input[1]), close(channel->child_fd);
    return session.status();
  }

  LaunchOptions launch;
  launch.argv = {options_.renderer_binary};
  launch.bootstrap = absl::StrCat("channel_fd=", kChannelFd, "\ntoken=", session->token,
                                  "\norigin=", origin.Serialize(), "\nclient_type=", ClientTypeName(type), "\n");
  launch.stdin_fd = input[0];
  launch.stdout_fd = output;
  launch.stderr_fd = output;
  launch.channel_fd = channel->child_fd;
  absl::StatusOr<pid_t> pid;
  {
    // Hold the lock across the launch so that a quick exit finds the renderer registered.
    absl::MutexLock lock(&mu_);
    pid = launcher_->Launch(launch, [this, guard = guard_, session_id = session->session.id](pid_t pid, int) {
      RunIfAlive(guard, [&] { OnExit(pid, session_id); });
    });
    if (pid.ok())
      renderers_[*pid] = Renderer{origin, -1};
  }
  close(input[0]);
  close(output);
  // The child has its copy; without a child the browser sees the channel end.
  close(channel->child_fd);
  if (!pid.ok()) {
    close(input[1]);
    sessions_->Revoke(session->session.id);
    return pid.status();
  }
  if (!sessions_->SetPid(session->session.id, *pid).ok()) {
    // Its session ended while it was being spawned: it sent a bad message before its pid was known (or it already
    // exited). A process without a session must not live on.
    launcher_->Kill(*pid);
  }

  std::string text;
  for (const std::string& line : script)
    absl::StrAppend(&text, line, "\n");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = send(input[1], text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += static_cast<size_t>(n);
  }
  if (keep_open) {
    absl::MutexLock lock(&mu_);
    auto it = renderers_.find(*pid);
    if (it != renderers_.end()) {
      it->second.stdin_fd = input[1];
      input[1] = -1;
    }
  }
  if (input[1] >= 0)
    close(input[1]);
  return Opened{*pid, session->session.id};
}

bool RendererProcessHost::Close(pid_t pid) {
  {
    absl::MutexLock lock(&mu_);
    if (!renderers_.contains(pid))
      return false;
  }
  launcher_->Kill(pid);
  return true;
}

void RendererProcessHost::OnExit(pid_t pid, uint64_t session_id) {
  Origin origin;
  {
    absl::MutexLock lock(&mu_);
    auto it = renderers_.find(pid);
    if (it == renderers_.end())
      return;
    origin = it->second.origin;
    if (it->second.stdin_fd >= 0)
      close(it->second.stdin_fd);
    renderers_.erase(it);
  }
  // The window is gone: so is its session, and its unacknowledged registrations become fireable. By id: the exit
  // may come before Open recorded the pid in the session.
  sessions_->Revoke(session_id);
  sessions_->RevokeProcess(pid);
  if (on_exit_)
    on_exit_(pid, origin);
}

}  // namespace bgsync
