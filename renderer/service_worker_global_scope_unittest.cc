#include "renderer/service_worker_global_scope.h"

#include <grpcpp/channel.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/browser_channel.h"
#include "renderer/fake_browser_services.h"
#include "renderer/test_server.h"

namespace bgsync {
namespace {

using mojom::WorkerMessage;

std::shared_future<absl::Status> Settled(absl::Status status) {
  std::promise<absl::Status> promise;
  promise.set_value(std::move(status));
  return promise.get_future().share();
}

void ExpectResult(const WorkerMessage& message, uint64_t event_id, mojom::SyncEventStatus status) {
  ASSERT_TRUE(message.has_sync_event_result()) << message.DebugString();
  EXPECT_EQ(message.sync_event_result().event_id(), event_id);
  EXPECT_EQ(message.sync_event_result().status(), status) << mojom::SyncEventStatus_Name(status) << " expected";
}

class ServiceWorkerGlobalScopeTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.started());
    absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> scope =
        ServiceWorkerGlobalScope::Connect(ConnectToBrowser(server_.Bootstrap()), kTestSessionToken, ScopeOptions());
    ASSERT_TRUE(scope.ok()) << scope.status();
    scope_ = *std::move(scope);
  }

  // The options the scope under test is connected with.
  virtual ServiceWorkerGlobalScopeOptions ScopeOptions() { return {}; }

  // A "slow" event whose promise stays unsettled, then a "fast" one: the fast one is answered first, the slow one
  // once its promise settles.
  void ExpectASlowEventNotToHoldUpAFastOne() {
    std::promise<absl::Status> slow;
    std::shared_future<absl::Status> slow_future = slow.get_future().share();
    scope_->AddEventListener("sync", [&](SyncEvent& event) {
      event.WaitUntil(event.tag() == "slow" ? slow_future : Settled(absl::OkStatus()));
    });
    ASSERT_NO_FATAL_FAILURE(StartRunning());
    stream_->SendSyncEvent(1, "slow", false, 60000);
    stream_->SendSyncEvent(2, "fast", false, 60000);
    ExpectResult(MessageAt(1), 2, mojom::SYNC_EVENT_STATUS_COMPLETED);
    EXPECT_EQ(stream_->received().size(), 2u);  // the slow one is still unanswered

    slow.set_value(absl::OkStatus());
    ExpectResult(MessageAt(2), 1, mojom::SYNC_EVENT_STATUS_COMPLETED);
  }

  void TearDown() override {
    if (stream_ != nullptr)
      stream_->End(grpc::Status::OK);
    WaitForRunToReturn().IgnoreError();  // each test checks the status it cares about
  }

  // Runs the scope on a thread of its own and waits for its stream to open.
  void StartRunning() {
    run_thread_ = std::thread([this] {
      run_status_ = scope_->Run();
      run_returned_.Notify();
    });
    stream_ = host_.WaitForStream();
    ASSERT_NE(stream_, nullptr);
  }

  absl::Status WaitForRunToReturn() {
    if (!run_thread_.joinable())
      return run_status_;
    if (!run_returned_.WaitForNotificationWithTimeout(kTestTimeout)) {
      // The thread uses this fixture: it cannot be left running.
      std::fprintf(stderr, "ServiceWorkerGlobalScope::Run did not return\n");
      std::abort();
    }
    run_thread_.join();
    return run_status_;
  }

  // The worker's message at `index`, once it has arrived.
  WorkerMessage MessageAt(size_t index) {
    if (!stream_->WaitForMessages(index + 1)) {
      ADD_FAILURE() << "no message " << index << " from the worker";
      return WorkerMessage();
    }
    return stream_->received()[index];
  }

  FakeWorkerHost host_;
  TestServer server_{{&host_}};
  std::unique_ptr<ServiceWorkerGlobalScope> scope_;
  FakeWorkerStream* stream_ = nullptr;
  std::thread run_thread_;
  absl::Notification run_returned_;
  absl::Status run_status_;
};

TEST_F(ServiceWorkerGlobalScopeTest, ConnectRejectsBadArguments) {
  EXPECT_EQ(ServiceWorkerGlobalScope::Connect(nullptr, kTestSessionToken).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ServiceWorkerGlobalScope::Connect(ConnectToBrowser(server_.Bootstrap()), "ABC").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceWorkerGlobalScopeTest, SendsReadyFirstWithTheSessionToken) {
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  EXPECT_TRUE(MessageAt(0).has_ready());
  EXPECT_EQ(stream_->tokens(), std::vector<std::string>{kTestSessionToken});
  stream_->End(grpc::Status::OK);
  EXPECT_TRUE(WaitForRunToReturn().ok());
}

TEST_F(ServiceWorkerGlobalScopeTest, DispatchesEventWithTagLastChanceAndDeadline) {
  absl::Mutex mu;
  std::vector<std::tuple<std::string, bool, absl::Time>> seen;
  scope_->AddEventListener("sync", [&](SyncEvent& event) {
    absl::MutexLock lock(&mu);
    seen.emplace_back(event.tag(), event.last_chance(), event.deadline());
  });
  bool other_type_called = false;
  scope_->AddEventListener("periodicsync", [&](SyncEvent&) { other_type_called = true; });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  EXPECT_TRUE(MessageAt(0).has_ready());

  absl::Time before = absl::Now();
  stream_->SendSyncEvent(7, "outbox", /*last_chance=*/true, /*timeout_ms=*/60000);
  ExpectResult(MessageAt(1), 7, mojom::SYNC_EVENT_STATUS_COMPLETED);
  absl::Time after = absl::Now();
  stream_->SendSyncEvent(8, "", /*last_chance=*/false, /*timeout_ms=*/1000);
  ExpectResult(MessageAt(2), 8, mojom::SYNC_EVENT_STATUS_COMPLETED);

  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(std::get<0>(seen[0]), "outbox");
  EXPECT_TRUE(std::get<1>(seen[0]));
  EXPECT_GE(std::get<2>(seen[0]), before + absl::Seconds(60));
  EXPECT_LE(std::get<2>(seen[0]), after + absl::Seconds(60));
  EXPECT_EQ(std::get<0>(seen[1]), "");
  EXPECT_FALSE(std::get<1>(seen[1]));
  EXPECT_FALSE(other_type_called);
}

TEST_F(ServiceWorkerGlobalScopeTest, DispatchesPeriodicEventsToPeriodicSyncListenersOnly) {
  absl::Mutex mu;
  std::vector<std::pair<std::string, absl::Time>> periodic_seen;
  std::vector<std::string> sync_seen;
  scope_->AddEventListener("periodicsync", [&](PeriodicSyncEvent& event) {
    absl::MutexLock lock(&mu);
    periodic_seen.emplace_back(event.tag(), event.deadline());
  });
  scope_->AddEventListener("sync", [&](SyncEvent& event) {
    absl::MutexLock lock(&mu);
    sync_seen.push_back(event.tag());
  });
  // Listeners whose event type does not match their registered type are never called.
  std::atomic<bool> mismatched_called{false};
  scope_->AddEventListener("sync", [&](PeriodicSyncEvent&) { mismatched_called = true; });
  scope_->AddEventListener("periodicsync", [&](SyncEvent&) { mismatched_called = true; });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  EXPECT_TRUE(MessageAt(0).has_ready());

  absl::Time before = absl::Now();
  stream_->SendPeriodicSyncEvent(3, "news", /*timeout_ms=*/60000);
  ExpectResult(MessageAt(1), 3, mojom::SYNC_EVENT_STATUS_COMPLETED);
  absl::Time after = absl::Now();
  stream_->SendSyncEvent(4, "outbox", /*last_chance=*/false, /*timeout_ms=*/60000);
  ExpectResult(MessageAt(2), 4, mojom::SYNC_EVENT_STATUS_COMPLETED);

  absl::MutexLock lock(&mu);
  ASSERT_EQ(periodic_seen.size(), 1u);
  EXPECT_EQ(periodic_seen[0].first, "news");
  EXPECT_GE(periodic_seen[0].second, before + absl::Seconds(60));
  EXPECT_LE(periodic_seen[0].second, after + absl::Seconds(60));
  EXPECT_EQ(sync_seen, std::vector<std::string>{"outbox"});
  EXPECT_FALSE(mismatched_called);
}

TEST_F(ServiceWorkerGlobalScopeTest, PeriodicEventWithoutListenersCompletes) {
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendPeriodicSyncEvent(1, "news", 60000);
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_COMPLETED);
}

TEST_F(ServiceWorkerGlobalScopeTest, PeriodicWaitUntilRejectedOrThrowingHandlerRejects) {
  scope_->AddEventListener("periodicsync", [](PeriodicSyncEvent& event) {
    if (event.tag() == "throws")
      throw std::runtime_error("handler failed");
    event.WaitUntil(Settled(absl::OkStatus()));
    event.WaitUntil(Settled(absl::UnavailableError("offline after all")));
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendPeriodicSyncEvent(1, "rejects", 60000);
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_REJECTED);
  stream_->SendPeriodicSyncEvent(2, "throws", 60000);
  ExpectResult(MessageAt(2), 2, mojom::SYNC_EVENT_STATUS_REJECTED);
}

TEST_F(ServiceWorkerGlobalScopeTest, StopAbortsPeriodicEventsInFlight) {
  std::promise<absl::Status> never_before_stop;
  std::shared_future<absl::Status> future = never_before_stop.get_future().share();
  absl::Notification handler_ran;
  scope_->AddEventListener("periodicsync", [&](PeriodicSyncEvent& event) {
    event.WaitUntil(future);
    handler_ran.Notify();
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendPeriodicSyncEvent(5, "news", 60000);
  ASSERT_TRUE(handler_ran.WaitForNotificationWithTimeout(kTestTimeout));
  scope_->Stop();
  ExpectResult(MessageAt(1), 5, mojom::SYNC_EVENT_STATUS_ABORTED);
  EXPECT_TRUE(stream_->WaitForHalfClose());
  stream_->End(grpc::Status::OK);
  EXPECT_TRUE(WaitForRunToReturn().ok());
  never_before_stop.set_value(absl::OkStatus());
  EXPECT_EQ(stream_->received().size(), 2u);
}

TEST_F(ServiceWorkerGlobalScopeTest, FulfilledWaitUntilCompletes) {
  scope_->AddEventListener("sync", [](SyncEvent& event) {
    event.WaitUntil(Settled(absl::OkStatus()));
    event.WaitUntil(Settled(absl::OkStatus()));
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(1, "a", false, 60000);
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_COMPLETED);
}

TEST_F(ServiceWorkerGlobalScopeTest, RejectedWaitUntilRejects) {
  scope_->AddEventListener("sync", [](SyncEvent& event) {
    event.WaitUntil(Settled(absl::OkStatus()));
    event.WaitUntil(Settled(absl::UnavailableError("offline after all")));
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(1, "a", false, 60000);
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_REJECTED);
}

TEST_F(ServiceWorkerGlobalScopeTest, PromiseHoldingAnExceptionRejects) {
  scope_->AddEventListener("sync", [](SyncEvent& event) {
    std::promise<absl::Status> promise;
    promise.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
    event.WaitUntil(promise.get_future().share());
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(1, "a", false, 60000);
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_REJECTED);
}

TEST_F(ServiceWorkerGlobalScopeTest, ThrowingHandlerRejectsAndLaterHandlersStillRun) {
  std::atomic<bool> second_handler_ran{false};
  scope_->AddEventListener("sync", [](SyncEvent&) { throw std::runtime_error("handler failed"); });
  scope_->AddEventListener("sync", [&](SyncEvent&) { second_handler_ran = true; });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(1, "a", false, 60000);
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_REJECTED);
  EXPECT_TRUE(second_handler_ran);
}

TEST_F(ServiceWorkerGlobalScopeTest, SlowEventDoesNotHoldUpAnother) {
  ExpectASlowEventNotToHoldUpAFastOne();
}

// With run_handlers_inline, handlers run on the thread that reads the stream; only an event left with unsettled
// promises waits on a thread of its own.
class InlineHandlersTest : public ServiceWorkerGlobalScopeTest {
 protected:
  ServiceWorkerGlobalScopeOptions ScopeOptions() override {
    ServiceWorkerGlobalScopeOptions options;
    options.run_handlers_inline = true;
    return options;
  }
};

TEST_F(InlineHandlersTest, EventsSettleInTheirOrderWithTheirOutcomes) {
  scope_->AddEventListener("sync", [](SyncEvent& event) {
    if (event.tag() == "throws")
      throw std::runtime_error("handler failed");
    event.WaitUntil(Settled(event.tag() == "rejects" ? absl::AbortedError("no") : absl::OkStatus()));
  });
  scope_->AddEventListener("periodicsync",
                           [](PeriodicSyncEvent& event) { event.WaitUntil(Settled(absl::OkStatus())); });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(1, "fine", false, 60000);
  stream_->SendSyncEvent(2, "rejects", false, 60000);
  stream_->SendSyncEvent(3, "throws", false, 60000);
  stream_->SendPeriodicSyncEvent(4, "feed", 60000);
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_COMPLETED);
  ExpectResult(MessageAt(2), 2, mojom::SYNC_EVENT_STATUS_REJECTED);
  ExpectResult(MessageAt(3), 3, mojom::SYNC_EVENT_STATUS_REJECTED);
  ExpectResult(MessageAt(4), 4, mojom::SYNC_EVENT_STATUS_COMPLETED);
}

TEST_F(InlineHandlersTest, AnUnsettledPromiseDoesNotHoldUpLaterEvents) {
  ExpectASlowEventNotToHoldUpAFastOne();
}

TEST_F(InlineHandlersTest, StopFromAHandlerAbortsWhatIsInFlight) {
  std::promise<absl::Status> never;
  std::shared_future<absl::Status> never_future = never.get_future().share();
  scope_->AddEventListener("sync", [&](SyncEvent& event) {
    if (event.tag() == "stop") {
      scope_->Stop();
      return;
    }
    event.WaitUntil(never_future);
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(1, "pending", false, 60000);
  stream_->SendSyncEvent(2, "stop", false, 60000);
  // Both in flight when Stop ran, in no particular order.
  std::vector<uint64_t> aborted;
  for (size_t i = 1; i <= 2; ++i) {
    WorkerMessage message = MessageAt(i);
    ASSERT_TRUE(message.has_sync_event_result()) << message.DebugString();
    EXPECT_EQ(message.sync_event_result().status(), mojom::SYNC_EVENT_STATUS_ABORTED);
    aborted.push_back(message.sync_event_result().event_id());
  }
  std::sort(aborted.begin(), aborted.end());
  EXPECT_EQ(aborted, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(stream_->WaitForHalfClose());
  stream_->End(grpc::Status::OK);
  EXPECT_TRUE(WaitForRunToReturn().ok());
  // Settling now reports nothing: the event was answered.
  never.set_value(absl::OkStatus());
  EXPECT_EQ(stream_->received().size(), 3u);
}

TEST_F(ServiceWorkerGlobalScopeTest, WaitUntilWhileAnotherPromiseIsPendingExtendsTheEvent) {
  std::promise<absl::Status> first;
  std::shared_future<absl::Status> first_future = first.get_future().share();
  absl::Notification handler_returned;
  SyncEvent* event_seen = nullptr;
  scope_->AddEventListener("sync", [&](SyncEvent& event) {
    event.WaitUntil(first_future);
    event_seen = &event;
    handler_returned.Notify();
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(1, "a", false, 60000);
  ASSERT_TRUE(handler_returned.WaitForNotificationWithTimeout(kTestTimeout));
  // The first promise is unsettled, so the event is alive and may be extended from another thread.
  event_seen->WaitUntil(Settled(absl::InternalError("later failure")));
  first.set_value(absl::OkStatus());
  ExpectResult(MessageAt(1), 1, mojom::SYNC_EVENT_STATUS_REJECTED);
}

TEST_F(ServiceWorkerGlobalScopeTest, BrowserEndingTheStreamEndsRun) {
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  EXPECT_TRUE(MessageAt(0).has_ready());
  stream_->End(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "session revoked"));
  absl::Status status = WaitForRunToReturn();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(), "session revoked");
  EXPECT_EQ(scope_->Run().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ServiceWorkerGlobalScopeTest, StopAbortsEventsInFlightAndClosesTheStream) {
  std::promise<absl::Status> never_before_stop;
  std::shared_future<absl::Status> future = never_before_stop.get_future().share();
  absl::Notification handler_ran;
  scope_->AddEventListener("sync", [&](SyncEvent& event) {
    event.WaitUntil(future);
    handler_ran.Notify();
  });
  ASSERT_NO_FATAL_FAILURE(StartRunning());
  stream_->SendSyncEvent(5, "a", false, 60000);
  ASSERT_TRUE(handler_ran.WaitForNotificationWithTimeout(kTestTimeout));

  scope_->Stop();
  ExpectResult(MessageAt(1), 5, mojom::SYNC_EVENT_STATUS_ABORTED);
  EXPECT_TRUE(stream_->WaitForHalfClose());
  stream_->End(grpc::Status::OK);
  EXPECT_TRUE(WaitForRunToReturn().ok());
  // Settling now reports nothing: the event was answered.
  never_before_stop.set_value(absl::OkStatus());
  EXPECT_EQ(stream_->received().size(), 2u);
}

TEST_F(ServiceWorkerGlobalScopeTest, StopBeforeRunMakesRunReturnAtOnce) {
  scope_->Stop();
  EXPECT_TRUE(scope_->Run().ok());
  EXPECT_EQ(host_.stream_count(), 0u);
}

TEST_F(ServiceWorkerGlobalScopeTest, UnreachableBrowserFailsRun) {
  absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> scope =
      ServiceWorkerGlobalScope::Connect(ConnectToBrowser(server_.UnreachableBootstrap()), kTestSessionToken);
  ASSERT_TRUE(scope.ok());
  EXPECT_EQ((*scope)->Run().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace bgsync
