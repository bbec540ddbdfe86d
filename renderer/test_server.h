// Test support: a real gRPC server on a unix socket in a fresh temporary directory, standing in for the browser.
#ifndef RENDERER_TEST_SERVER_H_
#define RENDERER_TEST_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "renderer/session_bootstrap.h"

namespace grpc {
class Service;
class ServerContextBase;
}  // namespace grpc

namespace bgsync {

// A well-formed session token for tests.
inline constexpr char kTestSessionToken[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// How long a test waits for something that should happen promptly: generous, since a slow machine must not fail
// a test; a test that passes never waits this long.
inline constexpr absl::Duration kTestTimeout = absl::Seconds(30);

class TestServer {
 public:
  // Serves `services` (not owned; they must outlive the server) with the integer channel `arguments` (e.g.
  // keepalive settings). Fails the test (fatally) if it cannot start.
  explicit TestServer(const std::vector<grpc::Service*>& services,
                      const std::vector<std::pair<std::string, int>>& arguments = {});
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  // Shuts the server down (cancelling calls in flight) and removes the socket and its directory.
  ~TestServer();

  bool started() const { return server_ != nullptr; }

  // A window session on this server, with kTestSessionToken.
  SessionBootstrap Bootstrap() const;

  // A bootstrap whose socket no one listens on.
  SessionBootstrap UnreachableBootstrap() const;

  // As the browser does for a process it launches: a socketpair whose one end this server serves. Returns the
  // other end (close-on-exec), which the caller owns: hand it to a child (then close it) or to
  // ConnectToBrowser through ChannelBootstrap. -1, and a test failure, on error.
  int ServeChannel();

  // A window session with kTestSessionToken on the channel `channel_fd`, without a socket.
  SessionBootstrap ChannelBootstrap(int channel_fd) const;

 private:
  std::string directory_;
  std::string socket_path_;
  std::unique_ptr<grpc::Server> server_;
};

// The values of the session metadata on a server-side call: normally exactly one.
std::vector<std::string> SessionTokensOf(const grpc::ServerContextBase& context);

}  // namespace bgsync

#endif  // RENDERER_TEST_SERVER_H_
