#include "browser/server_channel_factory.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/server.h"
#include "grpcpp/server_posix.h"

namespace bgsync {

ServerChannelFactory::ServerChannelFactory(SessionRegistry* sessions) : sessions_(sessions) {}

void ServerChannelFactory::Serve(grpc::Server* server) {
  absl::MutexLock lock(&mu_);
  server_ = server;
}

void ServerChannelFactory::Stop() {
  absl::MutexLock lock(&mu_);
  server_ = nullptr;
}

absl::StatusOr<ChildChannelFactory::Channel> ServerChannelFactory::CreateChannel() {
  {
    absl::MutexLock lock(&mu_);
    if (server_ == nullptr)
      return absl::FailedPreconditionError("the browser is not serving channels");
  }
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  const int flags = fcntl(fds[0], F_GETFL);
  if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
    const int error = errno;
    close(fds[0]), close(fds[1]);
    return absl::InternalError(absl::StrCat("fcntl O_NONBLOCK: ", strerror(error)));
  }
  Channel channel{fds[1], absl::StrCat("fd:", fds[0])};
  // The kernel hands out a descriptor number only once its previous holder is closed, and gRPC closes a channel's
  // descriptor only when the connection is gone: a session still bound to this name belongs to a dead channel
  // (its process exited or dropped the channel, and the exit has not been handled yet). It must not come back to
  // life on the new one. Revoked outside the lock: revoke observers may launch processes.
  sessions_->RevokeBoundTo(channel.peer);
  absl::MutexLock lock(&mu_);
  if (server_ == nullptr) {
    close(fds[0]), close(fds[1]);
    return absl::FailedPreconditionError("the browser is not serving channels");
  }
  grpc::AddInsecureChannelFromFd(server_, fds[0]);
  return channel;
}

}  // namespace bgsync
