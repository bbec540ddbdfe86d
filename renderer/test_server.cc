#include "renderer/test_server.h"

#include <fcntl.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>
#include <grpcpp/server_posix.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "renderer/browser_channel.h"

namespace bgsync {

TestServer::TestServer(const std::vector<grpc::Service*>& services,
                       const std::vector<std::pair<std::string, int>>& arguments) {
  // Under /tmp rather than $TMPDIR: a unix socket path must fit in 108 bytes.
  char directory[] = "/tmp/bgsync-renderer-test-XXXXXX";
  if (mkdtemp(directory) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  directory_ = directory;
  socket_path_ = directory_ + "/browser.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path_, grpc::InsecureServerCredentials());
  for (grpc::Service* service : services)
    builder.RegisterService(service);
  for (const auto& [name, value] : arguments)
    builder.AddChannelArgument(name, value);
  server_ = builder.BuildAndStart();
  EXPECT_NE(server_, nullptr) << "the test server did not start on " << socket_path_;
}

TestServer::~TestServer() {
  if (server_)
    server_->Shutdown();
  server_.reset();
  if (!socket_path_.empty())
    unlink(socket_path_.c_str());
  if (!directory_.empty())
    rmdir(directory_.c_str());
}

SessionBootstrap TestServer::Bootstrap() const {
  SessionBootstrap bootstrap;
  bootstrap.socket_path = socket_path_;
  bootstrap.token = kTestSessionToken;
  return bootstrap;
}

SessionBootstrap TestServer::UnreachableBootstrap() const {
  SessionBootstrap bootstrap = Bootstrap();
  bootstrap.socket_path = directory_ + "/nobody-listens.sock";
  return bootstrap;
}

int TestServer::ServeChannel() {
  int fds[2];
  if (server_ == nullptr || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    ADD_FAILURE() << "cannot make a channel";
    return -1;
  }
  // gRPC's end must not block, or the first call hangs.
  EXPECT_EQ(fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0);
  grpc::AddInsecureChannelFromFd(server_.get(), fds[0]);
  return fds[1];
}

SessionBootstrap TestServer::ChannelBootstrap(int channel_fd) const {
  SessionBootstrap bootstrap;
  bootstrap.channel_fd = channel_fd;
  bootstrap.token = kTestSessionToken;
  return bootstrap;
}

std::vector<std::string> SessionTokensOf(const grpc::ServerContextBase& context) {
  std::vector<std::string> tokens;
  auto range = context.client_metadata().equal_range(kSessionMetadataKey);
  for (auto it = range.first; it != range.second; ++it)
    tokens.emplace_back(it->second.data(), it->second.size());
  return tokens;
}

}  // namespace bgsync
