// The services over real gRPC (a unix socket in a temp directory), with in-process clients playing renderer and
// worker, and the engine on fakes. Waits are on events with generous deadlines; nothing sleeps.
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
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
#include "services/background_sync/periodic_background_sync_service_impl.h"
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
        if (message.has_periodic_sync_event())
          periodic_events_.push_back(message.periodic_sync_event());
        else
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
  // Waits until `n` periodic events have arrived; returns them.
  std::vector<mojom::PeriodicSyncEvent> WaitForPeriodicEvents(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return periodic_events_.size() >= n || ended_; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kGenerous);
    return periodic_events_;
  }
  std::vector<mojom::SyncEvent> events() {
    absl::MutexLock lock(&mu_);
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
  std::vector<mojom::PeriodicSyncEvent> periodic_events_ ABSL_GUARDED_BY(mu_);
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
    engine_ = *BackgroundSyncEngine::Create(std::move(deps), parameters_);
    one_shot_ = std::make_unique<OneShotBackgroundSyncServiceImpl>(engine_.get(), &sessions_, &bad_messages_);
    periodic_ = std::make_unique<PeriodicBackgroundSyncServiceImpl>(engine_.get(), &sessions_, &bad_messages_);
    sessions_.AddRevokeObserver([this](const Session& s) { engine_->OnClientDisconnected(s.id); });

    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_ + "/browser.sock", grpc::InsecureServerCredentials());
    builder.RegisterService(one_shot_.get());
    builder.RegisterService(periodic_.get());
    builder.RegisterService(host_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    channel_ = grpc::CreateChannel("unix:" + dir_ + "/browser.sock", grpc::InsecureChannelCredentials());
    renderer_ = mojom::OneShotBackgroundSyncService::NewStub(channel_);
    periodic_renderer_ = mojom::PeriodicBackgroundSyncService::NewStub(channel_);
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
  grpc::Status PeriodicRegister(const std::string& token,
                                int64_t sw,
                                const std::string& tag,
                                int64_t min_interval_ms,
                                mojom::RegisterReply* reply) {
    grpc::ClientContext context;
    if (!token.empty())
      context.AddMetadata(kSessionMetadataKey, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(sw);
    request.mutable_options()->set_tag(tag);
    request.mutable_options()->set_min_interval_ms(min_interval_ms);
    return periodic_renderer_->Register(&context, request, reply);
  }
  grpc::Status PeriodicUnregister(const std::string& token,
                                  int64_t sw,
                                  const std::string& tag,
                                  mojom::UnregisterReply* reply) {
    grpc::ClientContext context;
    if (!token.empty())
      context.AddMetadata(kSessionMetadataKey, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::UnregisterRequest request;
    request.set_service_worker_registration_id(sw);
    request.set_tag(tag);
    return periodic_renderer_->Unregister(&context, request, reply);
  }
  grpc::Status PeriodicGetTags(const std::string& token, int64_t sw, mojom::GetRegistrationsReply* reply) {
    grpc::ClientContext context;
    if (!token.empty())
      context.AddMetadata(kSessionMetadataKey, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(sw);
    return periodic_renderer_->GetRegistrations(&context, request, reply);
  }
  // The tags of a successful GetRegistrations reply, in order.
  static std::vector<std::string> TagsOf(const mojom::GetRegistrationsReply& reply) {
    std::vector<std::string> tags;
    for (const mojom::SyncRegistrationOptions& options : reply.registrations().registrations())
      tags.push_back(options.tag());
    return tags;
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

  WorkerHostOptions worker_options_;     // read by SetUp
  BackgroundSyncParameters parameters_;  // read by SetUp
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
  std::unique_ptr<PeriodicBackgroundSyncServiceImpl> periodic_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> renderer_;
  std::unique_ptr<mojom::PeriodicBackgroundSyncService::Stub> periodic_renderer_;
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

TEST_F(ServicesTest, ABacklogReachesItsWorkerInOrderAndSettles) {
  const std::string window = WindowToken(mail_);
  network_.SetOnline(false);
  std::vector<std::string> tags;
  for (int i = 0; i < 20; ++i) {
    tags.push_back(absl::StrCat("t", 10 + i));  // two digits: key order is numeric order
    mojom::RegisterReply reply;
    ASSERT_TRUE(Register(window, kSw, tags.back(), &reply).ok());
    ASSERT_TRUE(Resolve(window, kSw, tags.back()).ok());
  }
  network_.SetOnline(true);
  engine_->OnNetworkChanged();
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  // As many as the worker may have in flight, then the rest as those are answered.
  const size_t cap = static_cast<size_t>(worker_options_.max_events_per_worker);
  ASSERT_LT(cap, tags.size());
  std::vector<mojom::SyncEvent> events = worker_->WaitForEvents(cap);
  ASSERT_EQ(events.size(), cap);
  for (const mojom::SyncEvent& event : events)
    worker_->Reply(event.event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  events = worker_->WaitForEvents(tags.size());
  ASSERT_EQ(events.size(), tags.size());
  absl::flat_hash_set<uint64_t> ids;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].tag(), tags[i]);
    ids.insert(events[i].event_id());
  }
  EXPECT_EQ(ids.size(), tags.size());
  for (size_t i = cap; i < events.size(); ++i)
    worker_->Reply(events[i].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) { return all.empty(); }));
  EXPECT_EQ(starts_.load(), 1);
  EXPECT_EQ(bad_messages_.count(), 0);
}

TEST_F(ServicesTest, TheDeadlineThatCountsIsTheEarliestUnanswered) {
  // Straight to the dispatcher: two events with different deadlines; the earlier one is answered.
  const absl::Time start = clock_.Now();
  std::atomic<int> first{-1}, second{-1};
  host_->DispatchSyncEvent({kSw, mail_, SyncType::kOneShot, "early", false, start + absl::Seconds(10)},
                           [&first](SyncEventOutcome o) { first = static_cast<int>(o); });
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  host_->DispatchSyncEvent({kSw, mail_, SyncType::kOneShot, "late", false, start + absl::Seconds(20)},
                           [&second](SyncEventOutcome o) { second = static_cast<int>(o); });
  std::vector<mojom::SyncEvent> events = worker_->WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  const absl::Time until = absl::Now() + kGenerous;
  while (first.load() < 0 && absl::Now() < until)
    absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(first.load(), static_cast<int>(SyncEventOutcome::kCompleted));

  // Past the answered event's deadline and grace: nothing happens.
  clock_.Advance(absl::Seconds(10) + worker_options_.deadline_grace);
  EXPECT_EQ(second.load(), -1);
  EXPECT_EQ(stops_.load(), 0);
  // Past the unanswered one's: it times out and the worker is stopped.
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(second.load(), static_cast<int>(SyncEventOutcome::kTimedOut));
  EXPECT_EQ(stops_.load(), 1);
  EXPECT_EQ(host_->deadline_stops(), 1);
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

// ---------------------------------------------------------------------------------------------------------------
// PeriodicBackgroundSyncService and periodic events on the worker protocol.

class PeriodicServicesTest : public ServicesTest {
 protected:
  static constexpr absl::Duration kGap = absl::Hours(1);

  void SetUp() override {
    parameters_.min_periodic_sync_events_interval = kGap;
    parameters_.min_periodic_sync_batch_interval = kGap;
    parameters_.max_periodic_sync_attempts = 2;
    parameters_.initial_retry_delay = absl::Minutes(1);
    // The worker stays up across the intervals the tests skip over.
    worker_options_.idle_timeout = absl::Hours(1000);
    ServicesTest::SetUp();
  }

  // The periodic registration `tag` of kSw as the engine holds it, once `predicate` holds for it.
  template <typename Predicate>
  bool WaitForPeriodic(const std::string& tag, Predicate predicate) {
    return WaitForEngine([&](const std::vector<SyncRegistration>& all) {
      for (const SyncRegistration& r : all) {
        if (r.key.type == SyncType::kPeriodic && r.key.tag == tag)
          return predicate(r);
      }
      return false;
    });
  }
};

TEST_F(PeriodicServicesTest, RegisterFiresAfterTheIntervalNotBeforeAndStaysRegistered) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  const absl::Time registered = clock_.Now();
  ASSERT_TRUE(PeriodicRegister(window, kSw, "news", absl::ToInt64Milliseconds(kGap), &reply).ok());
  ASSERT_TRUE(reply.has_registration()) << reply.DebugString();
  EXPECT_EQ(reply.registration().tag(), "news");
  EXPECT_EQ(reply.registration().min_interval_ms(), absl::ToInt64Milliseconds(kGap));
  // Not on registration, and not a second early.
  clock_.Advance(kGap - absl::Seconds(1));
  EXPECT_EQ(starts_.load(), 0);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::PeriodicSyncEvent> events = worker_->WaitForPeriodicEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag(), "news");
  EXPECT_GT(events[0].timeout_ms(), 0);
  EXPECT_TRUE(worker_->events().empty()) << "a periodic event went out as a one-shot SyncEvent";
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  // Completing the event keeps the registration; the next one is due an interval after this one started.
  ASSERT_TRUE(WaitForPeriodic("news", [&](const SyncRegistration& r) {
    return r.state == SyncState::kPending && r.next_attempt_time == registered + 2 * kGap;
  }));
  clock_.Advance(kGap);
  events = worker_->WaitForPeriodicEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].tag(), "news");
  EXPECT_NE(events[1].event_id(), events[0].event_id());
  worker_->Reply(events[1].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForPeriodic("news", [&](const SyncRegistration& r) {
    return r.state == SyncState::kPending && r.next_attempt_time == registered + 3 * kGap;
  }));
  EXPECT_EQ(starts_.load(), 1);
  EXPECT_EQ(bad_messages_.count(), 0);
}

TEST_F(PeriodicServicesTest, AFailedEventIsRetriedThenWaitsForTheNextInterval) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  const absl::Time registered = clock_.Now();
  ASSERT_TRUE(PeriodicRegister(window, kSw, "news", 0, &reply).ok());
  ASSERT_TRUE(reply.has_registration());
  clock_.Advance(kGap);
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::PeriodicSyncEvent> events = worker_->WaitForPeriodicEvents(1);
  ASSERT_EQ(events.size(), 1u);
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_REJECTED);
  ASSERT_TRUE(WaitForPeriodic("news", [](const SyncRegistration& r) {
    return r.state == SyncState::kWaiting && r.num_attempts == 1 && r.last_failure == SyncEventOutcome::kRejected;
  }));
  clock_.Advance(absl::Minutes(1));
  events = worker_->WaitForPeriodicEvents(2);
  ASSERT_EQ(events.size(), 2u);
  worker_->Reply(events[1].event_id(), mojom::SYNC_EVENT_STATUS_REJECTED);
  // Out of attempts: kept, and due one interval after the first attempt started.
  ASSERT_TRUE(WaitForPeriodic("news", [&](const SyncRegistration& r) {
    return r.state == SyncState::kPending && r.num_attempts == 0 && r.next_attempt_time == registered + 2 * kGap;
  }));
  clock_.Advance(kGap - absl::Minutes(1) - absl::Seconds(1));
  EXPECT_TRUE(WaitForPeriodic("news", [](const SyncRegistration& r) { return r.state == SyncState::kPending; }));
  clock_.Advance(absl::Seconds(1));
  events = worker_->WaitForPeriodicEvents(3);
  ASSERT_EQ(events.size(), 3u);
  worker_->Reply(events[2].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForPeriodic("news", [](const SyncRegistration& r) { return r.state == SyncState::kPending; }));
}

TEST_F(PeriodicServicesTest, GetTagsAndUnregisterKeepTheirOwnNamespace) {
  const std::string window = WindowToken(mail_);
  network_.SetOnline(false);
  mojom::RegisterReply reply;
  ASSERT_TRUE(PeriodicRegister(window, kSw, "b", 0, &reply).ok());
  ASSERT_TRUE(PeriodicRegister(window, kSw, "a", 1000, &reply).ok());
  ASSERT_TRUE(Register(window, kSw, "one-shot", &reply).ok());
  ASSERT_TRUE(reply.has_registration());

  mojom::GetRegistrationsReply tags;
  ASSERT_TRUE(PeriodicGetTags(window, kSw, &tags).ok());
  ASSERT_TRUE(tags.has_registrations()) << tags.DebugString();
  EXPECT_EQ(TagsOf(tags), (std::vector<std::string>{"a", "b"}));
  mojom::GetRegistrationsReply one_shot_tags;
  ASSERT_TRUE(GetTags(window, kSw, &one_shot_tags).ok());
  EXPECT_EQ(TagsOf(one_shot_tags), std::vector<std::string>{"one-shot"});

  mojom::UnregisterReply unregistered;
  ASSERT_TRUE(PeriodicUnregister(window, kSw, "a", &unregistered).ok());
  EXPECT_TRUE(unregistered.has_unregistered()) << unregistered.DebugString();
  // A tag that is not registered, or only as one-shot: nothing to do, and no error.
  for (const char* tag : {"never", "one-shot"}) {
    mojom::UnregisterReply nothing;
    ASSERT_TRUE(PeriodicUnregister(window, kSw, tag, &nothing).ok());
    EXPECT_TRUE(nothing.has_unregistered()) << tag;
  }
  tags.Clear();
  ASSERT_TRUE(PeriodicGetTags(window, kSw, &tags).ok());
  EXPECT_EQ(TagsOf(tags), std::vector<std::string>{"b"});
  one_shot_tags.Clear();
  ASSERT_TRUE(GetTags(window, kSw, &one_shot_tags).ok());
  EXPECT_EQ(TagsOf(one_shot_tags), std::vector<std::string>{"one-shot"});
  EXPECT_EQ(engine_->GetAllRegistrations().size(), 2u);
}

TEST_F(PeriodicServicesTest, AnUnregisteredRegistrationDoesNotFire) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  ASSERT_TRUE(PeriodicRegister(window, kSw, "gone", 0, &reply).ok());
  ASSERT_TRUE(PeriodicRegister(window, kSw, "kept", 0, &reply).ok());
  mojom::UnregisterReply unregistered;
  ASSERT_TRUE(PeriodicUnregister(window, kSw, "gone", &unregistered).ok());
  ASSERT_TRUE(unregistered.has_unregistered());
  clock_.Advance(kGap);
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::PeriodicSyncEvent> events = worker_->WaitForPeriodicEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag(), "kept");
  worker_->Reply(events[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForPeriodic("kept", [](const SyncRegistration& r) { return r.state == SyncState::kPending; }));
  EXPECT_EQ(engine_->GetAllRegistrations().size(), 1u);
  EXPECT_EQ(worker_->WaitForPeriodicEvents(0).size(), 1u);
}

TEST_F(PeriodicServicesTest, ErrorsComeBackAsTheEnum) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  // "periodic-background-sync" is a permission of its own.
  permissions_.Set(mail_, SyncType::kPeriodic, PermissionStatus::kDenied);
  ASSERT_TRUE(PeriodicRegister(window, kSw, "news", 0, &reply).ok());
  EXPECT_EQ(reply.error(), E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  ASSERT_TRUE(Register(window, kSw, "one-shot", &reply).ok());
  EXPECT_TRUE(reply.has_registration());
  permissions_.Set(mail_, SyncType::kPeriodic, PermissionStatus::kGranted);

  ASSERT_TRUE(PeriodicRegister(window, kSw, std::string(10241, 'x'), 0, &reply).ok());
  EXPECT_EQ(reply.error(), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  registry_.SetWindowOpen(mail_, false);
  ASSERT_TRUE(PeriodicRegister(window, kSw, "news", 0, &reply).ok());
  EXPECT_EQ(reply.error(), E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW);
  registry_.SetWindowOpen(mail_, true);
  registry_.SetActive(kSw, false);
  ASSERT_TRUE(PeriodicRegister(window, kSw, "news", 0, &reply).ok());
  EXPECT_EQ(reply.error(), E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER);
  EXPECT_EQ(bad_messages_.count(), 0);
}

TEST_F(PeriodicServicesTest, AnotherOriginsIdLooksExactlyLikeAnUnknownOne) {
  const std::string other_window = WindowToken(other_);
  mojom::RegisterReply own;
  ASSERT_TRUE(PeriodicRegister(other_window, kOtherSw, "theirs", 0, &own).ok());
  ASSERT_TRUE(own.has_registration());

  const std::string window = WindowToken(mail_);
  mojom::RegisterReply foreign, unknown;
  ASSERT_TRUE(PeriodicRegister(window, kOtherSw, "theirs", 0, &foreign).ok());
  ASSERT_TRUE(PeriodicRegister(window, 999, "theirs", 0, &unknown).ok());
  EXPECT_EQ(foreign.error(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(foreign.SerializeAsString(), unknown.SerializeAsString());
  mojom::UnregisterReply foreign_unregister, unknown_unregister;
  ASSERT_TRUE(PeriodicUnregister(window, kOtherSw, "theirs", &foreign_unregister).ok());
  ASSERT_TRUE(PeriodicUnregister(window, 999, "theirs", &unknown_unregister).ok());
  EXPECT_EQ(foreign_unregister.error(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(foreign_unregister.SerializeAsString(), unknown_unregister.SerializeAsString());
  mojom::GetRegistrationsReply foreign_tags, unknown_tags;
  ASSERT_TRUE(PeriodicGetTags(window, kOtherSw, &foreign_tags).ok());
  ASSERT_TRUE(PeriodicGetTags(window, 999, &unknown_tags).ok());
  EXPECT_EQ(foreign_tags.error(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(foreign_tags.SerializeAsString(), unknown_tags.SerializeAsString());
  // The other origin's registration is untouched.
  std::vector<SyncRegistration> all = engine_->GetAllRegistrations();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key.tag, "theirs");
  EXPECT_EQ(bad_messages_.count(), 0);
}

TEST_F(PeriodicServicesTest, NoSessionIsUnauthenticated) {
  mojom::RegisterReply reply;
  EXPECT_EQ(PeriodicRegister("", kSw, "t", 0, &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(PeriodicRegister(std::string(64, 'a'), kSw, "t", 0, &reply).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  mojom::UnregisterReply unregistered;
  EXPECT_EQ(PeriodicUnregister("", kSw, "t", &unregistered).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  mojom::GetRegistrationsReply tags;
  EXPECT_EQ(PeriodicGetTags("", kSw, &tags).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(engine_->GetAllRegistrations().empty());
  EXPECT_EQ(bad_messages_.count(), 0);
}

TEST_F(PeriodicServicesTest, ImpossibleInputRevokesTheSessionAndKillsTheProcess) {
  // Each case sends one impossible request on a fresh window session of a launched process.
  struct Case {
    const char* what;
    std::function<grpc::Status(const std::string&)> call;
  };
  const std::vector<Case> cases = {
      {"register, malformed UTF-8",
       [this](const std::string& token) {
         mojom::RegisterReply reply;
         return PeriodicRegister(token, kSw, "\xC3", 0, &reply);
       }},
      {"register, negative interval",
       [this](const std::string& token) {
         mojom::RegisterReply reply;
         return PeriodicRegister(token, kSw, "t", -1, &reply);
       }},
      {"register, id 0",
       [this](const std::string& token) {
         mojom::RegisterReply reply;
         return PeriodicRegister(token, 0, "t", 0, &reply);
       }},
      {"register, negative id",
       [this](const std::string& token) {
         mojom::RegisterReply reply;
         return PeriodicRegister(token, -1, "t", 0, &reply);
       }},
      {"unregister, malformed UTF-8",
       [this](const std::string& token) {
         mojom::UnregisterReply reply;
         return PeriodicUnregister(token, kSw, "\xFF", &reply);
       }},
      {"unregister, id 0",
       [this](const std::string& token) {
         mojom::UnregisterReply reply;
         return PeriodicUnregister(token, 0, "t", &reply);
       }},
      {"getTags, id 0",
       [this](const std::string& token) {
         mojom::GetRegistrationsReply reply;
         return PeriodicGetTags(token, 0, &reply);
       }},
  };
  pid_t pid = 4242;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string window = WindowToken(mail_, ++pid);
    EXPECT_EQ(c.call(window).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    // The session is gone: even a valid call now fails.
    mojom::RegisterReply reply;
    EXPECT_EQ(PeriodicRegister(window, kSw, "fine", 0, &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    ASSERT_FALSE(killed_.empty());
    EXPECT_EQ(killed_.back(), pid);
  }
  EXPECT_EQ(bad_messages_.count(), static_cast<int64_t>(cases.size()));
  EXPECT_TRUE(engine_->GetAllRegistrations().empty());
}

TEST_F(PeriodicServicesTest, WorkerCrashMidPeriodicEventFailsTheAttempt) {
  const std::string window = WindowToken(mail_);
  mojom::RegisterReply reply;
  ASSERT_TRUE(PeriodicRegister(window, kSw, "news", 0, &reply).ok());
  clock_.Advance(kGap);
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  ASSERT_EQ(worker_->WaitForPeriodicEvents(1).size(), 1u);
  worker_->Crash();
  EXPECT_TRUE(WaitForPeriodic("news", [](const SyncRegistration& r) {
    return r.state == SyncState::kWaiting && r.last_failure == SyncEventOutcome::kWorkerCrashed && r.num_attempts == 1;
  }));
}

TEST_F(PeriodicServicesTest, AResultForAPeriodicEventAnswersOnlyThatEvent) {
  // One-shot and periodic events share the worker's event ids: answering one settles exactly that one.
  const std::string window = WindowToken(mail_);
  network_.SetOnline(false);
  mojom::RegisterReply reply;
  ASSERT_TRUE(PeriodicRegister(window, kSw, "news", 0, &reply).ok());
  ASSERT_TRUE(Register(window, kSw, "outbox", &reply).ok());
  ASSERT_TRUE(Resolve(window, kSw, "outbox").ok());
  clock_.Advance(kGap);
  network_.SetOnline(true);
  engine_->OnNetworkChanged();
  ASSERT_TRUE(worker_ready_.WaitForNotificationWithTimeout(kGenerous));
  std::vector<mojom::PeriodicSyncEvent> periodic = worker_->WaitForPeriodicEvents(1);
  std::vector<mojom::SyncEvent> one_shot = worker_->WaitForEvents(1);
  ASSERT_EQ(periodic.size(), 1u);
  ASSERT_EQ(one_shot.size(), 1u);
  EXPECT_NE(periodic[0].event_id(), one_shot[0].event_id());
  worker_->Reply(periodic[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  ASSERT_TRUE(WaitForPeriodic("news", [](const SyncRegistration& r) { return r.state == SyncState::kPending; }));
  std::vector<SyncRegistration> all = engine_->GetAllRegistrations();
  ASSERT_EQ(all.size(), 2u);
  for (const SyncRegistration& r : all) {
    if (r.key.type == SyncType::kOneShot) {
      EXPECT_EQ(r.state, SyncState::kFiring);
    }
  }
  worker_->Reply(one_shot[0].event_id(), mojom::SYNC_EVENT_STATUS_COMPLETED);
  EXPECT_TRUE(WaitForEngine([](const std::vector<SyncRegistration>& all) {
    return all.size() == 1 && all[0].key.type == SyncType::kPeriodic;
  }));
  EXPECT_EQ(bad_messages_.count(), 0);
}

}  // namespace
}  // namespace bgsync
