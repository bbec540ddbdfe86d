// Sessions bound to channels (docs/security.md): BackgroundSyncHost in this process with its real gRPC server,
// and renderer processes launched through RendererProcessHost with a channel of the host's. The renderer is the
// real bgsync_renderer_host behind a wrapper that lets its bootstrap escape (a compromised renderer, or another
// process reading it): its own calls work over its channel, its token is refused on the shared socket.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "browser/background_sync_host.h"
#include "browser/process/renderer_process_host.h"
#include "browser/server_channel_factory.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/system_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "test/browser_test_fixture.h"
#include "test/process_probe.h"

namespace bgsync {
namespace {

// What a unary call returned; equal results are indistinguishable to the caller.
struct Answer {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string reply;

  bool operator==(const Answer& other) const {
    return code == other.code && message == other.message && reply == other.reply;
  }
};

class ChannelBindingTest : public ::testing::Test {
 protected:
  static constexpr int64_t kSw = 1;

  void SetUp() override {
    // Under /tmp: the socket path must fit in a sockaddr_un.
    char pattern[] = "/tmp/bgsync-binding-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    registry_.Add(kSw, mail_);

    BackgroundSyncHost::Config config;
    config.socket_path = dir_ + "/browser.sock";
    BackgroundSyncHost::Embedder embedder;
    embedder.clock = &clock_;
    embedder.network = &network_;
    embedder.permissions = &permissions_;
    embedder.registry = &registry_;
    embedder.worker_spec = [](int64_t) -> absl::StatusOr<WorkerSpec> {
      return absl::NotFoundError("no worker processes in this test");
    };
    embedder.launcher = &launcher_;
    embedder.storage = std::make_unique<MemoryStorageBackend>();
    absl::StatusOr<std::unique_ptr<BackgroundSyncHost>> host = BackgroundSyncHost::Start(config, std::move(embedder));
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
    shared_socket_ = grpc::CreateChannel("unix:" + config.socket_path, grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    renderers_.reset();
    host_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A renderer host program that copies its bootstrap to `leaked_path()` and then runs bgsync_renderer_host on
  // the same bootstrap (and the same inherited channel).
  std::string WriteLeakyRenderer() {
    const std::string path = dir_ + "/leaky_renderer";
    std::ofstream(path) << "#!/bin/sh\n"
                        << "bootstrap=$(cat <&3)\n"
                        << "exec 3<&-\n"
                        << "printf '%s\\n' \"$bootstrap\" > " << leaked_path() << ".tmp && mv " << leaked_path()
                        << ".tmp " << leaked_path() << "\n"
                        << "exec " << BinaryDirectory() << "/bgsync_renderer_host 3<<EOF\n"
                        << "$bootstrap\n"
                        << "EOF\n";
    chmod(path.c_str(), 0700);
    return path;
  }
  std::string leaked_path() const { return dir_ + "/leaked"; }

  void StartRenderers(const std::string& binary) {
    renderers_ = std::make_unique<RendererProcessHost>(RendererProcessHost::Options{binary}, &launcher_,
                                                       &host_->sessions(), &host_->channels());
  }

  // GetRegistrations for kSw over the shared socket, with `token`.
  Answer GetTagsOnTheSocket(const std::string& token) {
    auto stub = mojom::OneShotBackgroundSyncService::NewStub(shared_socket_);
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(kSw);
    mojom::GetRegistrationsReply reply;
    grpc::Status status = stub->GetRegistrations(&context, request, &reply);
    return {status.error_code(), status.error_message(), reply.SerializeAsString()};
  }
  // Register (and, when it succeeds, DidResolveRegistration) of `tag` for kSw over the shared socket.
  Answer RegisterOnTheSocket(const std::string& token, const std::string& tag) {
    auto stub = mojom::OneShotBackgroundSyncService::NewStub(shared_socket_);
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(kSw);
    request.mutable_options()->set_tag(tag);
    mojom::RegisterReply reply;
    grpc::Status status = stub->Register(&context, request, &reply);
    return {status.error_code(), status.error_message(), reply.SerializeAsString()};
  }
  // The tags of kSw, as a tool's (unbound) session sees them over the socket.
  std::vector<std::string> Tags() {
    const std::string tool = host_->sessions().Create(mail_, ClientType::kWindow, 0, 0)->token;
    Answer answer = GetTagsOnTheSocket(tool);
    mojom::GetRegistrationsReply reply;
    EXPECT_EQ(answer.code, grpc::StatusCode::OK) << answer.message;
    EXPECT_TRUE(reply.ParseFromString(answer.reply));
    std::vector<std::string> tags;
    for (const mojom::SyncRegistrationOptions& registration : reply.registrations().registrations())
      tags.push_back(registration.tag());
    return tags;
  }

  const Origin mail_ = *Origin::Parse("https://mail.example");
  std::string dir_;
  SystemClock clock_;
  FakeNetworkState network_{false};  // offline: registrations stay pending
  FakePermissionController permissions_;
  FakeServiceWorkerRegistry registry_;
  ProcessLauncher launcher_;
  std::unique_ptr<BackgroundSyncHost> host_;
  std::unique_ptr<RendererProcessHost> renderers_;
  std::shared_ptr<grpc::Channel> shared_socket_;
};

TEST_F(ChannelBindingTest, ALaunchedRendererWorksOverItsChannelAndItsTokenIsRefusedOnTheSocket) {
  StartRenderers(WriteLeakyRenderer());
  const std::string output = dir_ + "/renderer.out";
  absl::StatusOr<RendererProcessHost::Opened> opened =
      renderers_->Open(mail_, ClientType::kWindow, {"register 1 mine", "tags 1"}, output, /*keep_open=*/true);
  ASSERT_TRUE(opened.ok()) << opened.status();

  // Its own calls, over its channel: registered, and listed.
  ASSERT_TRUE(Eventually([&] { return ReadFile(output) == "ok\ntags mine\n"; })) << ReadFile(output);
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(leaked_path()); }));
  const std::string bootstrap = ReadFile(leaked_path());
  EXPECT_TRUE(absl::StrContains(bootstrap, "channel_fd=4\n")) << bootstrap;
  EXPECT_FALSE(absl::StrContains(bootstrap, "socket=")) << "a launched process is not told the socket";
  std::string token;
  for (absl::string_view line : absl::StrSplit(bootstrap, '\n')) {
    if (absl::ConsumePrefix(&line, "token="))
      token = std::string(line);
  }
  ASSERT_EQ(token.size(), 64u) << bootstrap;

  // The session is bound to the channel ("fd:<N>", the browser's end).
  std::vector<Session> sessions = host_->sessions().List();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].id, opened->session_id);
  EXPECT_EQ(sessions[0].pid, opened->pid);
  EXPECT_TRUE(absl::StartsWith(sessions[0].bound_peer, "fd:")) << sessions[0].bound_peer;

  // The escaped token on the shared socket: refused exactly as an unknown token, counted, nothing changed.
  const std::string unknown(64, 'a');
  const Answer stolen_read = GetTagsOnTheSocket(token);
  EXPECT_EQ(stolen_read.code, grpc::StatusCode::UNAUTHENTICATED) << stolen_read.message;
  EXPECT_TRUE(stolen_read == GetTagsOnTheSocket(unknown)) << stolen_read.message;
  const Answer stolen_write = RegisterOnTheSocket(token, "stolen");
  EXPECT_EQ(stolen_write.code, grpc::StatusCode::UNAUTHENTICATED) << stolen_write.message;
  EXPECT_TRUE(stolen_write == RegisterOnTheSocket(unknown, "stolen")) << stolen_write.message;
  EXPECT_EQ(host_->sessions().stolen_token_refusals(), 2);
  EXPECT_EQ(host_->bad_messages().count(), 0);
  EXPECT_EQ(Tags(), std::vector<std::string>{"mine"});
  EXPECT_TRUE(host_->sessions().IsLive(opened->session_id)) << "a refusal elsewhere leaves the renderer's session";

  // The renderer's exit ends its session.
  ExitWatcher watcher(opened->pid);
  ASSERT_TRUE(renderers_->Close(opened->pid));
  ASSERT_TRUE(watcher.Wait(kGenerous));
  EXPECT_TRUE(Eventually([&] { return !host_->sessions().IsLive(opened->session_id); }));
  EXPECT_EQ(GetTagsOnTheSocket(token).code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(host_->sessions().stolen_token_refusals(), 2) << "an ended session's token is merely unknown";
}

// A channel's peer name is its descriptor number, which the kernel hands out again once gRPC has closed the old
// channel. A session still bound to the name (its process's exit not handled yet) must not come back to life on
// the new channel: making the new channel revokes it.
TEST_F(ChannelBindingTest, ANewChannelWithAnOldNameRevokesTheSessionsOfTheOldOne) {
  bool checked = false;
  for (int attempt = 0; attempt < 10 && !checked; ++attempt) {
    // The number the next socketpair will most likely get: the lowest free one.
    const int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(probe, 0);
    close(probe);
    const std::string old_name = absl::StrCat("fd:", probe);
    const uint64_t stale = host_->sessions().Create(mail_, ClientType::kWindow, 0, 0, old_name)->session.id;
    absl::StatusOr<ChildChannelFactory::Channel> channel = host_->channels().CreateChannel();
    ASSERT_TRUE(channel.ok()) << channel.status();
    close(channel->child_fd);
    if (channel->peer != old_name) {
      host_->sessions().Revoke(stale);  // another thread took the number: try again
      continue;
    }
    checked = true;
    EXPECT_FALSE(host_->sessions().IsLive(stale));
  }
  EXPECT_TRUE(checked) << "never got the probed descriptor number back";
}

TEST_F(ChannelBindingTest, TheBrowserEndIsNonBlockingAndServed) {
  absl::StatusOr<ChildChannelFactory::Channel> channel = host_->channels().CreateChannel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  int browser_fd = -1;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(channel->peer, "fd:"), &browser_fd)) << channel->peer;
  EXPECT_TRUE(fcntl(browser_fd, F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(channel->child_fd, F_GETFD) & FD_CLOEXEC);
  close(channel->child_fd);
}

TEST(ServerChannelFactoryTest, MakesNoChannelWhenNotServing) {
  SessionRegistry sessions;
  ServerChannelFactory factory(&sessions);
  EXPECT_EQ(factory.CreateChannel().status().code(), absl::StatusCode::kFailedPrecondition);
  mojom::OneShotBackgroundSyncService::CallbackService unimplemented;  // a server needs a service
  grpc::ServerBuilder builder;
  builder.RegisterService(&unimplemented);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  factory.Serve(server.get());
  absl::StatusOr<ChildChannelFactory::Channel> channel = factory.CreateChannel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  close(channel->child_fd);
  factory.Stop();
  EXPECT_EQ(factory.CreateChannel().status().code(), absl::StatusCode::kFailedPrecondition);
  server->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace bgsync
