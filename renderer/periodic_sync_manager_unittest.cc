#include "renderer/periodic_sync_manager.h"

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "public/background_sync_error.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/browser_channel.h"
#include "renderer/fake_browser_services.h"
#include "renderer/service_worker_registration.h"
#include "renderer/test_server.h"

namespace bgsync {
namespace {

using E = BackgroundSyncError;

class PeriodicSyncManagerTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.started()); }

  FakeSyncService one_shot_;
  FakePeriodicSyncService periodic_;
  TestServer server_{{&one_shot_, &periodic_}};
  std::shared_ptr<grpc::Channel> channel_ = ConnectToBrowser(server_.Bootstrap());
};

TEST_F(PeriodicSyncManagerTest, RegisterSendsTagAndIntervalAndNeedsNoAcknowledgement) {
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, true);
  SyncResult result = manager.RegisterAndWait("news", 12 * 3600 * 1000);
  EXPECT_TRUE(result.ok()) << result.exception().name;
  manager.WaitForPendingCalls();
  std::vector<ReceivedCall> calls = periodic_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "Register");
  EXPECT_EQ(calls[0].tokens, std::vector<std::string>{kTestSessionToken});
  EXPECT_EQ(calls[0].service_worker_registration_id, 42);
  EXPECT_EQ(calls[0].tag, "news");
  EXPECT_EQ(calls[0].min_interval_ms, 12 * 3600 * 1000);
  EXPECT_TRUE(one_shot_.calls().empty());
}

TEST_F(PeriodicSyncManagerTest, IntervalOutsideUnsignedLongLongRangeIsATypeErrorWithoutIpc) {
  for (bool has_active_worker : {true, false}) {
    PeriodicSyncManager manager(channel_, kTestSessionToken, 42, has_active_worker);
    // The bindings' range check comes before everything else, the active-worker check included.
    for (int64_t min_interval_ms : {int64_t{-1}, std::numeric_limits<int64_t>::min(), kMaxMinIntervalMs + 1}) {
      SyncResult result = manager.RegisterAndWait("news", min_interval_ms);
      ASSERT_FALSE(result.ok()) << min_interval_ms;
      EXPECT_EQ(result.exception().name, "TypeError") << min_interval_ms;
      EXPECT_NE(result.exception().message.find("minInterval"), std::string::npos) << result.exception().message;
    }
  }
  EXPECT_TRUE(periodic_.calls().empty());
}

TEST_F(PeriodicSyncManagerTest, IntervalsAtTheEdgesOfTheRangeReachTheBrowser) {
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, true);
  EXPECT_TRUE(manager.RegisterAndWait("zero", 0).ok());
  EXPECT_TRUE(manager.RegisterAndWait("max", kMaxMinIntervalMs).ok());
  std::vector<ReceivedCall> calls = periodic_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].min_interval_ms, 0);
  EXPECT_EQ(calls[1].min_interval_ms, kMaxMinIntervalMs);
}

TEST_F(PeriodicSyncManagerTest, NoActiveWorkerAnswersLocallyWithoutIpc) {
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, /*has_active_worker=*/false);
  SyncResult registered = manager.RegisterAndWait("news", 1000);
  ASSERT_FALSE(registered.ok());
  EXPECT_EQ(registered.exception().name, "InvalidStateError");
  EXPECT_EQ(registered.exception().message, "Registration failed - no active Service Worker");
  TagsResult tags = manager.GetTagsAndWait();
  ASSERT_TRUE(tags.ok());
  EXPECT_TRUE(tags.tags().empty());
  EXPECT_TRUE(manager.UnregisterAndWait("news").ok());
  manager.WaitForPendingCalls();
  EXPECT_TRUE(periodic_.calls().empty());
}

TEST_F(PeriodicSyncManagerTest, GetTagsReturnsTheBrowsersTagsInOrder) {
  mojom::GetRegistrationsReply reply;
  for (const char* tag : {"", "a b", "news"})
    reply.mutable_registrations()->add_registrations()->set_tag(tag);
  periodic_.SetGetRegistrationsReply(reply);
  PeriodicSyncManager manager(channel_, kTestSessionToken, 9, true);
  TagsResult result = manager.GetTagsAndWait();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.tags(), (std::vector<std::string>{"", "a b", "news"}));
  std::vector<ReceivedCall> calls = periodic_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "GetRegistrations");
  EXPECT_EQ(calls[0].service_worker_registration_id, 9);
  EXPECT_EQ(calls[0].tokens, std::vector<std::string>{kTestSessionToken});
}

TEST_F(PeriodicSyncManagerTest, UnregisterSendsTheTag) {
  PeriodicSyncManager manager(channel_, kTestSessionToken, 7, true);
  EXPECT_TRUE(manager.UnregisterAndWait("news").ok());
  std::vector<ReceivedCall> calls = periodic_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "Unregister");
  EXPECT_EQ(calls[0].service_worker_registration_id, 7);
  EXPECT_EQ(calls[0].tag, "news");
  EXPECT_EQ(calls[0].tokens, std::vector<std::string>{kTestSessionToken});
}

struct ErrorCase {
  BackgroundSyncError error;
  const char* name;
  const char* message;
};

std::string ErrorCaseName(const testing::TestParamInfo<ErrorCase>& info) {
  return std::string(SyncErrorName(info.param.error));
}

class PeriodicRegisterErrorTest : public PeriodicSyncManagerTest, public testing::WithParamInterface<ErrorCase> {};

TEST_P(PeriodicRegisterErrorTest, BecomesTheDomExceptionOfThePeriodicColumn) {
  periodic_.SetRegisterError(GetParam().error);
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, true);
  SyncResult result = manager.RegisterAndWait("news", 1000);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, GetParam().name);
  EXPECT_EQ(result.exception().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    AllErrors,
    PeriodicRegisterErrorTest,
    testing::Values(ErrorCase{E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER, "InvalidStateError",
                              "Registration failed - no active Service Worker"},
                    ErrorCase{E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED, "NotAllowedError", "Permission denied."},
                    ErrorCase{E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW, "InvalidAccessError",
                              "Registration failed - no top-level window of this origin is open"},
                    ErrorCase{E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG, "InvalidAccessError",
                              "Registration failed - the tag is longer than 10240 bytes"},
                    ErrorCase{E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED, "QuotaExceededError",
                              "Registration failed - too many sync registrations"},
                    ErrorCase{E::BACKGROUND_SYNC_ERROR_STORAGE, "UnknownError", "Unknown error."},
                    ErrorCase{E::BACKGROUND_SYNC_ERROR_SHUT_DOWN, "UnknownError", "Unknown error."},
                    ErrorCase{E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND, "InvalidStateError",
                              "Registration failed - the service worker registration was not found"}),
    ErrorCaseName);

class PeriodicTagsAndUnregisterErrorTest : public PeriodicSyncManagerTest,
                                           public testing::WithParamInterface<ErrorCase> {};

TEST_P(PeriodicTagsAndUnregisterErrorTest, GetTagsBecomesTheDomExceptionOfThePeriodicColumn) {
  mojom::GetRegistrationsReply reply;
  reply.set_error(GetParam().error);
  periodic_.SetGetRegistrationsReply(reply);
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, true);
  TagsResult result = manager.GetTagsAndWait();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, GetParam().name);
  EXPECT_EQ(result.exception().message, GetParam().message);
}

TEST_P(PeriodicTagsAndUnregisterErrorTest, UnregisterBecomesTheDomExceptionOfThePeriodicColumn) {
  mojom::UnregisterReply reply;
  reply.set_error(GetParam().error);
  periodic_.SetUnregisterReply(reply);
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, true);
  SyncResult result = manager.UnregisterAndWait("news");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.exception().name, GetParam().name);
  EXPECT_EQ(result.exception().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(BrowserErrors,
                         PeriodicTagsAndUnregisterErrorTest,
                         testing::Values(ErrorCase{E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER, "UnknownError",
                                                   "No service worker is active."},
                                         ErrorCase{E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND, "UnknownError",
                                                   "No service worker is active."},
                                         ErrorCase{E::BACKGROUND_SYNC_ERROR_STORAGE, "UnknownError", "Unknown error."},
                                         ErrorCase{E::BACKGROUND_SYNC_ERROR_SHUT_DOWN, "UnknownError",
                                                   "Unknown error."}),
                         ErrorCaseName);

TEST_F(PeriodicSyncManagerTest, ReplyWithNeitherResultIsUnknownError) {
  periodic_.SetUnregisterReply(mojom::UnregisterReply());
  periodic_.SetGetRegistrationsReply(mojom::GetRegistrationsReply());
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, true);
  SyncResult unregistered = manager.UnregisterAndWait("news");
  ASSERT_FALSE(unregistered.ok());
  EXPECT_EQ(unregistered.exception().name, "UnknownError");
  TagsResult tags = manager.GetTagsAndWait();
  ASSERT_FALSE(tags.ok());
  EXPECT_EQ(tags.exception().name, "UnknownError");
}

TEST_F(PeriodicSyncManagerTest, BadMessageVerdictIsUnknownError) {
  periodic_.SetCallStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad message: tag is not UTF-8"));
  PeriodicSyncManager manager(channel_, kTestSessionToken, 42, true);
  for (const SyncResult& result : {manager.RegisterAndWait("\xff", 0), manager.UnregisterAndWait("\xff")}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.exception().name, "UnknownError");
    EXPECT_EQ(result.exception().message, "bad message: tag is not UTF-8");
  }
}

TEST_F(PeriodicSyncManagerTest, UnreachableBrowserIsUnknownError) {
  PeriodicSyncManager manager(ConnectToBrowser(server_.UnreachableBootstrap()), kTestSessionToken, 42, true);
  SyncResult registered = manager.RegisterAndWait("news", 0);
  ASSERT_FALSE(registered.ok());
  EXPECT_EQ(registered.exception().name, "UnknownError");
  EXPECT_FALSE(registered.exception().message.empty());
  TagsResult tags = manager.GetTagsAndWait();
  ASSERT_FALSE(tags.ok());
  EXPECT_EQ(tags.exception().name, "UnknownError");
  SyncResult unregistered = manager.UnregisterAndWait("news");
  ASSERT_FALSE(unregistered.ok());
  EXPECT_EQ(unregistered.exception().name, "UnknownError");
}

TEST_F(PeriodicSyncManagerTest, ServiceWorkerRegistrationExposesBothManagersOnTheirOwnServices) {
  ServiceWorkerRegistration registration(channel_, kTestSessionToken, 5, true);
  EXPECT_TRUE(registration.periodic_sync().RegisterAndWait("news", 1000).ok());
  EXPECT_TRUE(registration.sync().RegisterAndWait("outbox").ok());
  registration.sync().WaitForPendingCalls();
  std::vector<ReceivedCall> periodic = periodic_.calls();
  ASSERT_EQ(periodic.size(), 1u);
  EXPECT_EQ(periodic[0].tag, "news");
  EXPECT_EQ(periodic[0].service_worker_registration_id, 5);
  EXPECT_EQ(one_shot_.CountOf("Register"), 1);
  EXPECT_EQ(one_shot_.CountOf("DidResolveRegistration"), 1);
}

}  // namespace
}  // namespace bgsync
