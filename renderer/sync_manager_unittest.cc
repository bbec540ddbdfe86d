#include "renderer/sync_manager.h"

#include <grpcpp/channel.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "public/background_sync_error.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/browser_channel.h"
#include "renderer/fake_browser_services.h"
#include "renderer/service_worker_registration.h"
#include "renderer/test_server.h"

namespace bgsync {
namespace {

class SyncManagerTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.started()); }

  FakeSyncService service_;
  TestServer server_{{&service_}};
  std::shared_ptr<grpc::Channel> channel_ = ConnectToBrowser(server_.Bootstrap());
};

TEST_F(SyncManagerTest, RegisterResolvesThenAcknowledgesOnce) {
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, true);
  absl::Notification settled;
  bool resolved = false;
  int acknowledgements_before_done_returned = -1;
  registration.sync().Register("outbox", [&](SyncResult result) {
    resolved = result.ok();
    acknowledgements_before_done_returned = service_.CountOf("DidResolveRegistration");
    settled.Notify();
  });
  ASSERT_TRUE(settled.WaitForNotificationWithTimeout(kTestTimeout));
  EXPECT_TRUE(resolved);
  EXPECT_EQ(acknowledgements_before_done_returned, 0);

  ASSERT_TRUE(service_.WaitForCount("DidResolveRegistration", 1));
  registration.sync().WaitForPendingCalls();
  std::vector<ReceivedCall> calls = service_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "Register");
  EXPECT_EQ(calls[0].service_worker_registration_id, 42);
  EXPECT_EQ(calls[0].tag, "outbox");
  EXPECT_EQ(calls[0].min_interval_ms, 0);
  EXPECT_EQ(calls[1].method, "DidResolveRegistration");
  EXPECT_EQ(calls[1].service_worker_registration_id, 42);
  EXPECT_EQ(calls[1].tag, "outbox");
}

TEST_F(SyncManagerTest, EveryCallCarriesTheSessionToken) {
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 7, true);
  EXPECT_TRUE(registration.sync().RegisterAndWait("a").ok());
  EXPECT_TRUE(registration.sync().GetTagsAndWait().ok());
  registration.sync().WaitForPendingCalls();
  std::vector<ReceivedCall> calls = service_.calls();
  ASSERT_EQ(calls.size(), 3u);  // Register, DidResolveRegistration, GetRegistrations
  for (const ReceivedCall& call : calls)
    EXPECT_EQ(call.tokens, std::vector<std::string>{kTestSessionToken}) << call.method;
}

TEST_F(SyncManagerTest, ConcurrentRegistersAreEachAcknowledged) {
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 3, true);
  constexpr int kCalls = 8;
  absl::Mutex mu;
  int resolved = 0;
  for (int i = 0; i < kCalls; ++i) {
    registration.sync().Register("tag" + std::to_string(i), [&](SyncResult result) {
      absl::MutexLock lock(&mu);
      resolved += result.ok();
    });
  }
  registration.sync().WaitForPendingCalls();
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(resolved, kCalls);
  }
  EXPECT_EQ(service_.CountOf("Register"), kCalls);
  EXPECT_EQ(service_.CountOf("DidResolveRegistration"), kCalls);
}

TEST_F(SyncManagerTest, NoActiveWorkerFailsLocallyWithoutIpc) {
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, /*has_active_worker=*/false);
  SyncResult result = registration.sync().RegisterAndWait("outbox");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, "InvalidStateError");
  EXPECT_EQ(result.exception().message, "Registration failed - no active Service Worker");
  registration.sync().WaitForPendingCalls();
  EXPECT_TRUE(service_.calls().empty());
}

TEST_F(SyncManagerTest, GetTagsNeedsNoActiveWorker) {
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, /*has_active_worker=*/false);
  EXPECT_TRUE(registration.sync().GetTagsAndWait().ok());
  EXPECT_EQ(service_.CountOf("GetRegistrations"), 1);
}

struct ErrorCase {
  BackgroundSyncError error;
  const char* dom_exception_name;
};

class SyncManagerErrorTest : public SyncManagerTest, public testing::WithParamInterface<ErrorCase> {};

TEST_P(SyncManagerErrorTest, RegisterErrorBecomesDomExceptionAndIsNotAcknowledged) {
  service_.SetRegisterError(GetParam().error);
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, true);
  SyncResult result = registration.sync().RegisterAndWait("outbox");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, GetParam().dom_exception_name);
  EXPECT_EQ(result.exception().message, ToDomException(GetParam().error).message);
  registration.sync().WaitForPendingCalls();
  EXPECT_EQ(service_.CountOf("Register"), 1);
  EXPECT_EQ(service_.CountOf("DidResolveRegistration"), 0);
}

TEST_P(SyncManagerErrorTest, GetTagsErrorBecomesDomException) {
  mojom::GetRegistrationsReply reply;
  reply.set_error(GetParam().error);
  service_.SetGetRegistrationsReply(reply);
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, true);
  TagsResult result = registration.sync().GetTagsAndWait();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, GetParam().dom_exception_name);
}

INSTANTIATE_TEST_SUITE_P(
    AllErrors,
    SyncManagerErrorTest,
    testing::Values(ErrorCase{mojom::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER, "InvalidStateError"},
                    ErrorCase{mojom::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED, "NotAllowedError"},
                    ErrorCase{mojom::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW, "InvalidAccessError"},
                    ErrorCase{mojom::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG, "InvalidAccessError"},
                    ErrorCase{mojom::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED, "QuotaExceededError"},
                    ErrorCase{mojom::BACKGROUND_SYNC_ERROR_STORAGE, "UnknownError"},
                    ErrorCase{mojom::BACKGROUND_SYNC_ERROR_SHUT_DOWN, "UnknownError"},
                    ErrorCase{mojom::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND, "InvalidStateError"}),
    [](const testing::TestParamInfo<ErrorCase>& info) { return std::string(SyncErrorName(info.param.error)); });

TEST_F(SyncManagerTest, ReplyWithNeitherResultIsUnknownError) {
  service_.SetRegisterReply(mojom::RegisterReply());
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, true);
  SyncResult result = registration.sync().RegisterAndWait("outbox");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, "UnknownError");
  registration.sync().WaitForPendingCalls();
  EXPECT_EQ(service_.CountOf("DidResolveRegistration"), 0);
}

TEST_F(SyncManagerTest, BadMessageVerdictIsUnknownError) {
  // INVALID_ARGUMENT: the browser judged this renderer hostile and ended its session.
  service_.SetCallStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad message: tag is not UTF-8"));
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, true);
  SyncResult result = registration.sync().RegisterAndWait("\xff");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, "UnknownError");
  EXPECT_EQ(result.exception().message, "bad message: tag is not UTF-8");
  registration.sync().WaitForPendingCalls();
  EXPECT_EQ(service_.CountOf("DidResolveRegistration"), 0);
}

TEST_F(SyncManagerTest, RevokedSessionIsUnknownError) {
  service_.SetCallStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "session revoked"));
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, true);
  TagsResult result = registration.sync().GetTagsAndWait();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, "UnknownError");
  EXPECT_EQ(result.exception().message, "session revoked");
}

TEST_F(SyncManagerTest, UnreachableBrowserIsUnknownError) {
  ServiceWorkerRegistration registration(ConnectToBrowser(server_.UnreachableBootstrap()), kTestSessionToken, 42, true);
  SyncResult result = registration.sync().RegisterAndWait("outbox");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, "UnknownError");
  EXPECT_FALSE(result.exception().message.empty());
  TagsResult tags = registration.sync().GetTagsAndWait();
  ASSERT_FALSE(tags.ok());
  EXPECT_EQ(tags.exception().name, "UnknownError");
}

TEST_F(SyncManagerTest, GetTagsReturnsTheBrowsersTagsInOrder) {
  mojom::GetRegistrationsReply reply;
  for (const char* tag : {"", "a b", "outbox"})
    reply.mutable_registrations()->add_registrations()->set_tag(tag);
  service_.SetGetRegistrationsReply(reply);
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 9, true);
  TagsResult result = registration.sync().GetTagsAndWait();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.tags(), (std::vector<std::string>{"", "a b", "outbox"}));
  std::vector<ReceivedCall> calls = service_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "GetRegistrations");
  EXPECT_EQ(calls[0].service_worker_registration_id, 9);
}

TEST_F(SyncManagerTest, OversizedTagFailsWithoutReachingTheBrowser) {
  // Larger than a message may be: gRPC refuses to send it.
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 42, true);
  SyncResult result = registration.sync().RegisterAndWait(std::string(kMaxBrowserMessageBytes + 1, 'x'));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, "UnknownError");
  registration.sync().WaitForPendingCalls();
  EXPECT_TRUE(service_.calls().empty());
}

}  // namespace
}  // namespace bgsync
