// ConnectivityController: the system state, the browser-wide override and per-service-worker emulation, and
// exactly when it tells the engine that answers may have turned true.
#include "browser/connectivity/connectivity_controller.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bgsync {
namespace {

using Override = ConnectivityController::Override;

class ConnectivityControllerTest : public ::testing::Test {
 protected:
  std::atomic<int> notifications_{0};
  ConnectivityController controller_{[this] { ++notifications_; }};
};

TEST_F(ConnectivityControllerTest, OfflineReasonSaysWhetherTheSystemOrEmulationIsToBlame) {
  using Reason = NetworkStateProvider::OfflineReason;
  EXPECT_EQ(controller_.GetOfflineReason(1), Reason::kSystemOffline);
  controller_.SetSystemOnline(true);
  EXPECT_EQ(controller_.GetOfflineReason(1), Reason::kOnline);
  controller_.EmulateServiceWorkerOffline(1);
  EXPECT_EQ(controller_.GetOfflineReason(1), Reason::kEmulatedOffline);
  EXPECT_EQ(controller_.GetOfflineReason(2), Reason::kOnline);
  controller_.StopEmulatingServiceWorkerOffline(1);
  controller_.SetOverride(Override::kForceOffline);
  EXPECT_EQ(controller_.GetOfflineReason(2), Reason::kEmulatedOffline);
  controller_.SetOverride(Override::kAuto);
  controller_.SetSystemOnline(false);
  EXPECT_EQ(controller_.GetOfflineReason(2), Reason::kSystemOffline);
}

TEST_F(ConnectivityControllerTest, StartsOfflineWithoutNotifying) {
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 0);
}

TEST_F(ConnectivityControllerTest, NotifiesOnlyWhenTheSystemComesOnline) {
  controller_.SetSystemOnline(false);
  EXPECT_EQ(notifications_, 0);

  controller_.SetSystemOnline(true);
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);

  controller_.SetSystemOnline(true);  // no change
  EXPECT_EQ(notifications_, 1);

  controller_.SetSystemOnline(false);
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);

  controller_.SetSystemOnline(true);
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 2);
}

TEST_F(ConnectivityControllerTest, ForceOfflineHidesTheSystem) {
  controller_.SetSystemOnline(true);
  ASSERT_EQ(notifications_, 1);

  controller_.SetOverride(Override::kForceOffline);
  EXPECT_FALSE(controller_.IsOnline(1));
  controller_.SetSystemOnline(false);
  controller_.SetSystemOnline(true);
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);

  controller_.SetOverride(Override::kAuto);  // the system is online
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 2);
}

TEST_F(ConnectivityControllerTest, LeavingForceOfflineWhileTheSystemIsOfflineDoesNotNotify) {
  controller_.SetOverride(Override::kForceOffline);
  controller_.SetOverride(Override::kAuto);
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 0);
}

TEST_F(ConnectivityControllerTest, ForceOnlineIgnoresTheSystem) {
  controller_.SetOverride(Override::kForceOnline);
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);

  controller_.SetSystemOnline(true);  // the answer was already true
  controller_.SetSystemOnline(false);
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);

  controller_.SetOverride(Override::kForceOnline);  // no change
  EXPECT_EQ(notifications_, 1);

  controller_.SetOverride(Override::kAuto);  // the system is offline
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);
}

TEST_F(ConnectivityControllerTest, SwitchingBetweenForcedStates) {
  controller_.SetOverride(Override::kForceOnline);
  controller_.SetOverride(Override::kForceOffline);
  EXPECT_FALSE(controller_.IsOnline(1));
  controller_.SetOverride(Override::kForceOnline);
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 2);

  controller_.SetSystemOnline(true);
  controller_.SetOverride(Override::kAuto);  // online before and after
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 2);
}

TEST_F(ConnectivityControllerTest, EmulatedOfflineIsPerServiceWorker) {
  controller_.SetSystemOnline(true);
  ASSERT_EQ(notifications_, 1);

  controller_.EmulateServiceWorkerOffline(1);
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_TRUE(controller_.IsOnline(2));
  EXPECT_EQ(notifications_, 1);

  controller_.StopEmulatingServiceWorkerOffline(1);
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 2);
}

TEST_F(ConnectivityControllerTest, EmulatedOfflineIsReferenceCounted) {
  controller_.SetSystemOnline(true);
  ASSERT_EQ(notifications_, 1);

  controller_.EmulateServiceWorkerOffline(7);
  controller_.EmulateServiceWorkerOffline(7);
  controller_.StopEmulatingServiceWorkerOffline(7);
  EXPECT_FALSE(controller_.IsOnline(7));
  EXPECT_EQ(notifications_, 1);

  controller_.StopEmulatingServiceWorkerOffline(7);
  EXPECT_TRUE(controller_.IsOnline(7));
  EXPECT_EQ(notifications_, 2);
}

TEST_F(ConnectivityControllerTest, UnmatchedStopIsIgnored) {
  controller_.SetSystemOnline(true);
  ASSERT_EQ(notifications_, 1);

  controller_.StopEmulatingServiceWorkerOffline(3);  // nothing outstanding: no notification, no debt
  EXPECT_TRUE(controller_.IsOnline(3));
  EXPECT_EQ(notifications_, 1);

  controller_.EmulateServiceWorkerOffline(3);
  EXPECT_FALSE(controller_.IsOnline(3));
  controller_.StopEmulatingServiceWorkerOffline(3);
  controller_.StopEmulatingServiceWorkerOffline(3);
  EXPECT_TRUE(controller_.IsOnline(3));
  EXPECT_EQ(notifications_, 2);
}

TEST_F(ConnectivityControllerTest, EndingEmulationWhileTheBrowserIsOfflineDoesNotNotify) {
  controller_.EmulateServiceWorkerOffline(1);
  controller_.StopEmulatingServiceWorkerOffline(1);
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 0);

  controller_.EmulateServiceWorkerOffline(1);
  controller_.SetOverride(Override::kForceOffline);
  controller_.SetSystemOnline(true);
  controller_.StopEmulatingServiceWorkerOffline(1);
  EXPECT_EQ(notifications_, 0);

  controller_.SetOverride(Override::kAuto);
  EXPECT_TRUE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);
}

TEST_F(ConnectivityControllerTest, EmulatedOfflineBeatsForceOnline) {
  controller_.EmulateServiceWorkerOffline(1);
  controller_.SetOverride(Override::kForceOnline);
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_TRUE(controller_.IsOnline(2));
  EXPECT_EQ(notifications_, 1);  // service worker 2 may fire now
}

TEST_F(ConnectivityControllerTest, ComingOnlineWhileEveryServiceWorkerIsEmulatedOfflineStillNotifies) {
  // The controller does not track which service workers have registrations, so it cannot know that nobody
  // gained: "may have turned true" errs on the side of asking the engine to look.
  controller_.EmulateServiceWorkerOffline(1);
  controller_.SetSystemOnline(true);
  EXPECT_FALSE(controller_.IsOnline(1));
  EXPECT_EQ(notifications_, 1);
}

TEST(ConnectivityControllerCallbackTest, NotifiesWithoutHoldingItsLock) {
  std::vector<bool> answers;
  ConnectivityController* self = nullptr;
  ConnectivityController controller([&] { answers.push_back(self->IsOnline(1)); });
  self = &controller;

  controller.SetSystemOnline(true);
  controller.EmulateServiceWorkerOffline(1);
  controller.StopEmulatingServiceWorkerOffline(1);
  controller.SetOverride(Override::kForceOffline);
  controller.SetOverride(Override::kForceOnline);
  EXPECT_EQ(answers, (std::vector<bool>{true, true, true}));
}

TEST(ConnectivityControllerThreadTest, ConcurrentEmulationBalancesOut) {
  std::atomic<int> notifications{0};
  ConnectivityController controller([&] { ++notifications; });
  controller.SetSystemOnline(true);

  constexpr int kThreads = 4;
  constexpr int kRounds = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&controller, t] {
      for (int i = 0; i < kRounds; ++i) {
        controller.EmulateServiceWorkerOffline(42);
        controller.EmulateServiceWorkerOffline(t);
        controller.StopEmulatingServiceWorkerOffline(t);
        controller.StopEmulatingServiceWorkerOffline(42);
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();

  EXPECT_TRUE(controller.IsOnline(42));
  for (int t = 0; t < kThreads; ++t)
    EXPECT_TRUE(controller.IsOnline(t));
  // At least the first notification; each service worker's last Stop notifies once per time it reached zero.
  EXPECT_GE(notifications, 1 + kThreads * kRounds);
}

}  // namespace
}  // namespace bgsync
