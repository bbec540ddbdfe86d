// The services over real gRPC (a unix socket in a temp directory), with in-process clients playing renderer and
// worker, and the engine on fakes. Waits are on events with generous deadlines; nothing sleeps.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "public/background_sync_error.h"
#include "services/background_sync/one_shot_background_sync_service_impl.h"
#include "services/background_sync/service_worker_host_impl.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(30);
using E = BackgroundSyncError;

// A worker process stand-in: a Connect stream on a service-worker session, driven from its own thread.
class TestWorker {
 public:
  TestWorker(std::shared_ptr<grpc::Channel> channel, std::string token) {
    context_.AddMetadata(kSessionMetadataKey, token);
    stub_ = mojom::ServiceWorkerHost::NewStub(channel);
    stream_ = stub_->Connect(&context_);
    mojom::WorkerMessage ready;
    ready.mutable_ready();
    stream_->Write(ready);
    reader_ = std::thread([this] {
      mojom::BrowserMessage message;
      while (stream_->Read(&message)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(message.sync_event());
      }
      absl::MutexLock lock(&mu_);
      ended_ = true;
    });
  }
  ~TestWorker() {
    context_.TryCancel();
    reader_.join();
  }

  // Waits until `n` events have arrived; returns them.
  std::vector<mojom::SyncEvent> WaitForEvents(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n || ended_; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kGenerous);
    return events_;
  }
  bool WaitForEnd() {
    absl::MutexLock lock(&mu_);
    auto ended = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_; };
    return mu_.AwaitWithTimeout(absl::Condition(&ended), kGenerous);
  }
  void Reply(uint64_t event_id, mojom::SyncEventStatus status) {
    mojom::WorkerMessage message;
    message.mutable_sync_event_result()->set_event_id(event_id);
    message.mutable_sync_event_result()->set_status(status);
    stream_->Write(message);
  }
  void Crash() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<mojom::ServiceWorkerHost::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<mojom::WorkerMessage, mojom::BrowserMessage>> stream_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<mojom::SyncEvent> events_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class ServicesTest : public ::testing::Test, public WorkerLauncher {
 protected:
  static constexpr int64_t kSw = 1;
  static constexpr int64_t kOtherSw = 2;

  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-svc-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    registry_.Add(kSw, mail_);
    registry_.Add(kOtherSw, other_);

    host_ = std::make_unique<ServiceWorkerHostImpl>(&clock_, &sessions_, &bad_messages_, this, worker_options_);
    BackgroundSyncEngine::Dependencies deps{&clock_,    &network_,   &permissions_,
                                            &registry_, host_.get(), std::make_unique<MemoryStorageBackend>()};
    engine_ = *BackgroundSyncEngine::Create(std::move(deps), BackgroundSyncParameters());
    one_shot_ = std::make_unique<OneShotBackgroundSyncServiceImpl>(engine_.get(), &sessions_, &bad_messages_);
    sessions_.AddRevokeObserver([this](const Session& s) { engine_->OnClientDisconnected(s.id); });

    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_ + "/browser.sock", grpc::InsecureServerCredentials());
    builder.RegisterService(one_shot_.get());
    builder.RegisterService(host_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    channel_ = grpc::CreateChannel("unix:" + dir_ + "/browser.sock", grpc::InsecureChannelCredentials());
    renderer_ = mojom::OneShotBackgroundSyncService::NewStub(channel_);
  }

  void TearDown() override {
    worker_.reset();
    server_->Shutdown();
    engine_.reset();
    host_.reset();
    std::filesystem::remove_all(dir_);
  }

  // WorkerLauncher: "launch" an in-process worker on a fresh service-worker session.
  absl::Status StartWorker(int64_t sw) override {
    ++starts_;
    std::optional<ServiceWorkerRegistrationInfo> info = registry_.Find(sw);
    if (!info)
      return absl::NotFoundError("no such service worker");
    absl::StatusOr<SessionRegistry::Created> session =
        sessions_.Create(info->origin, ClientType::kServiceWorker, sw, /*pid=*/0);
    if (!session.ok())
      return session.status();
    worker_token_ = session->token;
    // Start the worker off this thread, as a real process would connect on its own.
    worker_started_ = std::thread([this, token = session->token] {
      worker_ = std::make_unique<TestWorker>(channel_, token);
      worker_ready_.Notify();
    });
    worker_started_.detach();
    return absl::OkStatus();
  }
  void StopWorker(int64_t sw) override { ++stops_; }

  std::string WindowToken(const Origin& origin, pid_t pid = 0) {
    return sessions_.Create(origin, ClientType::kWindow, 0, pid)->token;
  }

  grpc::Status Register(const std::string& token,
                        int64_t sw,
                        const std::string& tag,
                        mojom::RegisterReply* reply,
                        int64_t min_interval_ms = 0) {
    grpc::ClientContext context;
    if (!token.empty())
      context.AddMetadata(kSessionMetadataKey, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(sw);
    request.mutable_options()->set_tag(tag);
    request.mutable_options()->set_min_interval_ms(min_interval_ms);
    return renderer_->Register(&context, request, reply);
  }
  grpc::Status Resolve(const std::string& token, int64_t sw, const std::string& tag) {
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, token);
    mojom::DidResolveRegistrationRequest request;
    request.set_service_worker_registration_id(sw);
    request.set_tag(tag);
    mojom::DidResolveRegistrationReply reply;
    return renderer_->DidResolveRegistration(&context, request, &reply);
  }
  grpc::Status GetTags(const std::string& token, int64_t sw, mojom::GetRegistrationsReply* reply) {
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, token);
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(sw);
    return renderer_->GetRegistrations(&context, request, reply);
  }
  // Polls until the engine holds registrations matching `predicate` (they change on gRPC and engine threads, with
  // no event to wait on), giving up after a generous deadline. Polling is not timing: the result never depends on
  // how long anything takes.
  template <typename Predicate>
  bool WaitForEngine(Predicate predicate) {
    const absl::Time deadline = absl::Now() + kGenerous;
    while (!predicate(engine_->GetAllRegistrations())) {
      if (absl::Now() > deadline)
        return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

  WorkerHostOptions worker_options_;  // read by SetUp
  const Origin mail_ = *Origin::Parse("https://mail.example");
  const Origin other_ = *Origin::Parse("https://other.example");
  std::string dir_;
  FakeClock clock_;
  FakeNetworkState network_{true};
  FakePermissionController permissions_;
  FakeServiceWorkerRegistry registry_;
  SessionRegistry sessions_;
  std::vector<pid_t> killed_;
  BadMessageReporter bad_messages_{&sessions_, [this](pid_t pid) { killed_.push_back(pid); }};
  std::unique_ptr<ServiceWorkerHostImpl> host_;
  std::unique_ptr<BackgroundSyncEngine> engine_;
  std::unique_ptr<OneShotBackgroundSyncServiceImpl> one_shot_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> renderer_;
  std::atomic<int> starts_{0};
  std::atomic<int> stops_{0};
  std::string worker_token_;
  std::thread worker_started_;
  absl::Notification worker_ready_;
  std::unique_ptr<TestWorker> worker_;
};

TEST_F(ServicesTest, RegisterResolveFireAndComplete) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(window, kSw, "outbox", &reply).ok());
  ASSERT_TRUE(reply.has_registration()) << reply.DebugString();
  EXPECT_EQ(reply.registration().tag(), "outbox");
  // Not before the acknowledgement.
  EXPECT_EQ(starts_.load(), 0);
  ASSERT_TRUE(Resolve(window, kSw, "outbox").ok());
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::SyncEvent> events = worker_->WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag(), "outbox");
  EXPECT_FALSE(events[0].last_chance());
  EXPECT_GT(events[0].timeout_ms(), 0);
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) { return all.empty(); }));
  EXPECT_EQ(starts_.load(), 1);
}

TEST_F(ServicesTest, ARunningWorkerIsReusedForLaterEvents) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(window, kSw, "first", &reply).ok());
  ASSERT_TRUE(Resolve(window, kSw, "first").ok());
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::SyncEvent> events = worker_->WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  ASSERT_TRUE(Register(window, kSw, "second", &reply).ok());
  ASSERT_TRUE(Resolve(window, kSw, "second").ok());
  events = worker_->WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].tag(), "second");
  worker_->Reply(events[1].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) { return all.empty(); }));
  EXPECT_EQ(starts_.load(), 1) << "a second worker process was started although one was running";
}

TEST_F(ServicesTest, AnIdleWorkerIsStopped) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(window, kSw, "t", &reply).ok());
  ASSERT_TRUE(Resolve(window, kSw, "t").ok());
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::SyncEvent> events = worker_->WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  ASSERT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) { return all.empty(); }));
  EXPECT_EQ(stops_.load(), 0);
  clock_.Advance(WorkerHostOptions().idle_timeout - absl::Seconds(1));
  EXPECT_EQ(stops_.load(), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(stops_.load(), 1);
  EXPECT_TRUE(worker_->WaitForEnd()) << "the idle worker's stream stayed open";
}

class ServicesOneEventPerWorkerTest : public ServicesTest {
 protected:
  void SetUp() override {
    worker_options_.max_events_per_worker = 1;
    ServicesTest::SetUp();
  }
};

TEST_F(ServicesOneEventPerWorkerTest, EventsBeyondTheCapWaitForTheirTurn) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  network_.SetOnline(false);
  ASSERT_TRUE(Register(window, kSw, "a", &reply).ok());
  ASSERT_TRUE(Register(window, kSw, "b", &reply).ok());
  ASSERT_TRUE(Resolve(window, kSw, "a").ok());
  ASSERT_TRUE(Resolve(window, kSw, "b").ok());
  network_.SetOnline(true);
  engine_->OnNetworkChanged();
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::SyncEvent> events = worker_->WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  // Both registrations are firing in the engine, but only one event may be at the worker.
  ASSERT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) {
    return all.size() == 2 && all[0].state == SyncState::kFiring && all[1].state == SyncState::kFiring;
  }));
  EXPECT_EQ(worker_->WaitForEvents(1).size(), 1u);
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  events = worker_->WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].tag(), events[1].tag());
  worker_->Reply(events[1].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) { return all.empty(); }));
  EXPECT_EQ(starts_.load(), 1);
}

TEST_F(ServicesTest, GetTagsAndErrorsComeBackAsTheEnum) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  network_.SetOnline(false);
  ASSERT_TRUE(Register(window, kSw, "b", &reply).ok());
  ASSERT_TRUE(Register(window, kSw, "a", &reply).ok());
  mojom::GetRegistrationsReply tags;
  ASSERT_TRUE(GetTags(window, kSw, &tags).ok());
  ASSERT_TRUE(tags.has_registrations());
  ASSERT_EQ(tags.registrations().registrations_size(), 2);
  EXPECT_EQ(tags.registrations().registrations(0).tag(), "a");
  EXPECT_EQ(tags.registrations().registrations(1).tag(), "b");

  ASSERT_TRUE(Register(window, kSw, std::string(10241, 'x'), &reply).ok());
  EXPECT_EQ(reply.error(), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  registry_.SetActive(kSw, false);
  ASSERT_TRUE(Register(window, kSw, "c", &reply).ok());
  EXPECT_EQ(reply.error(), E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER);
}

TEST_F(ServicesTest, AnotherOriginsIdLooksExactlyLikeAnUnknownOne) {
  const std::string other_window = WindowToken(other_);
  mojom::RegisterReply own;
  network_.SetOnline(false);
  ASSERT_TRUE(Register(other_window, kOtherSw, "theirs", &own).ok());
  ASSERT_TRUE(own.has_registration());

  const std::string window = WindowToken(mail_);
  mojom::RegisterReply foreign, unknown;
  ASSERT_TRUE(Register(window, kOtherSw, "x", &foreign).ok());
  ASSERT_TRUE(Register(window, 999, "x", &unknown).ok());
  EXPECT_EQ(foreign.error(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(foreign.SerializeAsString(), unknown.SerializeAsString());
  mojom::GetRegistrationsReply foreign_tags, unknown_tags;
  ASSERT_TRUE(GetTags(window, kOtherSw, &foreign_tags).ok());
  ASSERT_TRUE(GetTags(window, 999, &unknown_tags).ok());
  EXPECT_EQ(foreign_tags.SerializeAsString(), unknown_tags.SerializeAsString());
  // The other origin's state is untouched.
  std::vector<SyncRegistration> all = engine_->GetAllRegistrations();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key.tag, "theirs");
  EXPECT_EQ(bad_messages_.count(), 0);
}

TEST_F(ServicesTest, NoSessionIsUnauthenticated) {
  mojom::RegisterReply reply;
  EXPECT_EQ(Register("", kSw, "t", &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Register(std::string(64, 'a'), kSw, "t", &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(engine_->GetAllRegistrations().empty());
}

TEST_F(ServicesTest, ImpossibleInputRevokesTheSessionAndKillsTheProcess) {
  struct Case {
    int64_t sw;
    std::string tag;
    int64_t min_interval_ms;
  };
  const Case cases[] = {{kSw, "\xC3", 0}, {kSw, "t", 1000}, {0, "t", 0}, {-1, "t", 0}};
  pid_t pid = 4242;
  for (const Case& c : cases) {
    const std::string window = WindowToken(mail_, ++pid);
    mojom::RegisterReply reply;
    EXPECT_EQ(Register(window, c.sw, c.tag, &reply, c.min_interval_ms).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // The session is gone: even a valid call now fails.
    EXPECT_EQ(Register(window, kSw, "fine", &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    ASSERT_FALSE(killed_.empty());
    EXPECT_EQ(killed_.back(), pid);
  }
  EXPECT_EQ(bad_messages_.count(), 4);
  EXPECT_TRUE(engine_->GetAllRegistrations().empty());
}

TEST_F(ServicesTest, WorkerCrashMidEventFailsTheAttempt) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(window, kSw, "outbox", &reply).ok());
  ASSERT_TRUE(Resolve(window, kSw, "outbox").ok());
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  ASSERT_EQ(worker_->WaitForEvents(1).size(), 1u);
  worker_->Crash();
  EXPECT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) {
    return all.size() == 1 && all[0].state == SyncState::kWaiting &&
           all[0].last_failure == SyncEventOutcome::kWorkerCrashed && all[0].num_attempts == 1;
  }));
}

TEST_F(ServicesTest, ResultForAnEventNeverSentIsABadMessage) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(window, kSw, "outbox", &reply).ok());
  ASSERT_TRUE(Resolve(window, kSw, "outbox").ok());
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::SyncEvent> events = worker_->WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  worker_->Reply(events[0].event_id() + 1000, mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(worker_->WaitForEnd());
  EXPECT_EQ(bad_messages_.count(), 1);
  EXPECT_FALSE(sessions_.Authenticate(worker_token_));
  // The real event failed with the worker; the registration is kept for a retry.
  EXPECT_TRUE(WaitForEngine(
      [](const std::vector<SyncRegistration>& all) { return all.size() == 1 && all[0].state == SyncState::kWaiting; }));
}

TEST_F(ServicesTest, WindowSessionCannotConnectAsAWorker) {
  const std::string window = WindowToken(mail_, 777);
  TestWorker impostor(channel_, window);
  EXPECT_TRUE(impostor.WaitForEnd());
  EXPECT_EQ(bad_messages_.count(), 1);
  ASSERT_FALSE(killed_.empty());
  EXPECT_EQ(killed_.back(), 777);
}

}  // namespace
}  // namespace bgsync
