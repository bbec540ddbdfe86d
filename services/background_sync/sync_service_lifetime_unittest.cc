// Lifetime races between a renderer's session and its calls, over real gRPC (a unix socket in a temporary
// directory) with the engine on a store whose commits the test holds back. Waits are on events with generous
// deadlines; nothing sleeps for correctness.
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/controllable_storage_backend.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/background_sync/one_shot_background_sync_service_impl.h"
#include "services/background_sync/session_rate_limiter.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(30);
constexpr int64_t kSw = 1;

// Polls `condition` until it holds or a generous deadline passes.
template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + kGenerous;
  while (!condition()) {
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

class NoWorkers : public SyncEventDispatcher {
 public:
  void DispatchSyncEvent(const SyncEventRequest&, absl::AnyInvocable<void(SyncEventOutcome)> done) override {
    done(SyncEventOutcome::kDispatchFailed);
  }
};

// A page whose session ends while its Register waits behind another operation on the same service worker: the
// registration is stored, and since its acknowledgement can never come it must not wait for one.
TEST(SyncServiceLifetimeTest, ARegisterThatCompletesAfterItsSessionEndedDoesNotWaitForAnAcknowledgement) {
  std::string dir = (std::filesystem::temp_directory_path() / "bgsync-life-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const Origin mail = *Origin::Parse("https://mail.example");
  FakeClock clock;
  FakeNetworkState network(false);  // nothing fires: the registration's state is what is checked
  FakePermissionController permissions;
  FakeServiceWorkerRegistry registry;
  registry.Add(kSw, mail);
  NoWorkers dispatcher;
  auto storage = std::make_unique<ControllableStorageBackend>(std::make_unique<MemoryStorageBackend>());
  std::shared_ptr<ControllableStorageBackend::Controls> controls = storage->controls();
  BackgroundSyncEngine::Dependencies deps{&clock, &network, &permissions, &registry, &dispatcher, std::move(storage)};
  std::unique_ptr<BackgroundSyncEngine> engine = *BackgroundSyncEngine::Create(std::move(deps), {});
  SessionRegistry sessions;
  sessions.AddRevokeObserver([&](const Session& s) { engine->OnClientDisconnected(s.id); });
  BadMessageReporter bad_messages(&sessions, nullptr);
  // The limiter tells the test when a call has passed admission (its session's bucket appears).
  SessionRateLimiter limiter(&clock, {1000, 1000});
  OneShotBackgroundSyncServiceImpl service(engine.get(), &sessions, &bad_messages, nullptr, &limiter);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + dir + "/browser.sock", grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  auto stub = mojom::OneShotBackgroundSyncService::NewStub(
      grpc::CreateChannel("unix:" + dir + "/browser.sock", grpc::InsecureChannelCredentials()));

  struct Pending {
    grpc::ClientContext context;
    mojom::RegisterRequest request;
    mojom::RegisterReply reply;
    grpc::Status status;
    absl::Notification done;
  };
  auto start = [&](const std::string& token, const std::string& tag, Pending& call) {
    call.context.AddMetadata(kSessionMetadataKey, token);
    call.context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    call.request.set_service_worker_registration_id(kSw);
    call.request.mutable_options()->set_tag(tag);
    stub->async()->Register(&call.context, &call.request, &call.reply, [&call](grpc::Status status) {
      call.status = std::move(status);
      call.done.Notify();
    });
  };
  const SessionRegistry::Created first_page = *sessions.Create(mail, ClientType::kWindow, 0, 0);
  const SessionRegistry::Created leaving_page = *sessions.Create(mail, ClientType::kWindow, 0, 0);
  controls->HoldWhere([](const StorageBatch&) { return true; });
  Pending first, second;
  start(first_page.token, "first", first);
  ASSERT_TRUE(Eventually([&] { return controls->HeldCount() == 1; }));  // the service worker's queue is busy
  start(leaving_page.token, "second", second);
  ASSERT_TRUE(Eventually([&] { return limiter.tracked_sessions() == 2; }));  // admitted, queued behind "first"
  sessions.Revoke(leaving_page.session.id);                                  // the page goes away
  controls->Release();
  ASSERT_TRUE(first.done.WaitForNotificationWithTimeout(kGenerous));
  ASSERT_TRUE(second.done.WaitForNotificationWithTimeout(kGenerous));
  EXPECT_TRUE(second.status.ok());
  EXPECT_TRUE(second.reply.has_registration()) << "stored: the call was admitted while the session was live";

  std::optional<BackgroundSyncEngine::RegistrationStatus> stranded =
      engine->Explain({kSw, SyncType::kOneShot, "second"});
  ASSERT_TRUE(stranded);
  EXPECT_TRUE(stranded->registration.resolved);
  EXPECT_NE(stranded->reason, BackgroundSyncEngine::BlockedReason::kNotResolved)
      << "waits for an acknowledgement from a session that has ended";
  std::optional<BackgroundSyncEngine::RegistrationStatus> live = engine->Explain({kSw, SyncType::kOneShot, "first"});
  ASSERT_TRUE(live);
  EXPECT_EQ(live->reason, BackgroundSyncEngine::BlockedReason::kNotResolved) << "its page is still there";

  server->Shutdown();
  engine->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bgsync
