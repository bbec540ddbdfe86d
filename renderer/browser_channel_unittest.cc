#include "renderer/browser_channel.h"

#include <fcntl.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/fake_browser_services.h"
#include "renderer/session_bootstrap.h"
#include "renderer/test_server.h"

namespace bgsync {
namespace {

class BrowserChannelTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.started()); }

  // One GetRegistrations on `channel` with the session metadata; the connection the server saw it on.
  std::string PeerOfACall(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = mojom::OneShotBackgroundSyncService::NewStub(channel);
    std::unique_ptr<grpc::ClientContext> context = MakeSessionContext(kTestSessionToken);
    context->set_deadline(absl::ToChronoTime(absl::Now() + kTestTimeout));
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(7);
    mojom::GetRegistrationsReply reply;
    EXPECT_TRUE(stub->GetRegistrations(context.get(), request, &reply).ok());
    std::vector<ReceivedCall> calls = service_.calls();
    if (calls.empty())
      return "";
    EXPECT_EQ(calls.back().tokens, std::vector<std::string>{kTestSessionToken});
    return calls.back().peer;
  }

  FakeSyncService service_;
  TestServer server_{{&service_}};
};

TEST_F(BrowserChannelTest, AChannelDescriptorIsUsedAndTakenOver) {
  const int fd = server_.ServeChannel();
  ASSERT_GE(fd, 0);
  SessionBootstrap bootstrap = server_.ChannelBootstrap(fd);
  {
    std::shared_ptr<grpc::Channel> channel = ConnectToBrowser(bootstrap);
    EXPECT_TRUE(absl::StartsWith(PeerOfACall(channel), "fd:"));
    EXPECT_TRUE(absl::StartsWith(PeerOfACall(channel), "fd:")) << "a second call on the same connection";
  }
  // The channel owned the descriptor: gRPC closes it once the channel is gone.
  const absl::Time deadline = absl::Now() + kTestTimeout;
  while (fcntl(fd, F_GETFD) != -1 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
}

TEST_F(BrowserChannelTest, ChannelDescriptorWinsOverASocket) {
  const int fd = server_.ServeChannel();
  ASSERT_GE(fd, 0);
  SessionBootstrap bootstrap = server_.ChannelBootstrap(fd);
  bootstrap.socket_path = server_.UnreachableBootstrap().socket_path;
  EXPECT_TRUE(absl::StartsWith(PeerOfACall(ConnectToBrowser(bootstrap)), "fd:"));
}

TEST_F(BrowserChannelTest, WithoutAChannelTheSocketIsDialled) {
  EXPECT_EQ(PeerOfACall(ConnectToBrowser(server_.Bootstrap())), "unix:");
}

}  // namespace
}  // namespace bgsync
