// Periodic Background Sync in the engine (spec.md, periodic section): scheduling from the anchor, the origin and
// batch minimums, coalescing, engagement, retries, restarts, permissions, and the observer events and counters.
// Everything runs on the fake clock: timers fire only when a test advances it.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "components/background_sync/periodic_schedule.h"
#include "components/background_sync/testing/engine_test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using O = SyncEventOutcome;
using Reason = BackgroundSyncEngine::BlockedReason;

constexpr int64_t kOtherSw = 2;
constexpr int64_t kSecondSwOfOrigin = 3;

class EnginePeriodicTest : public EngineTest {
 protected:
  void SetUp() override {
    registry_.Add(kOtherSw, other_origin_);
    registry_.Add(kSecondSwOfOrigin, origin_);
    EngineTest::SetUp();
    start_ = clock_.Now();
  }

  absl::Status RegisterPeriodic(const std::string& tag,
                                absl::Duration interval,
                                int64_t sw = kSw,
                                std::optional<Origin> origin = std::nullopt) {
    return Register(tag, 0, sw, SyncType::kPeriodic, origin, interval);
  }
  absl::Status Unregister(const std::string& tag, int64_t sw = kSw) {
    Result<absl::Status> result;
    engine().Unregister(origin_, sw, tag, result.callback());
    EXPECT_TRUE(result.ready());
    return result.value.value_or(absl::UnknownError("no answer"));
  }
  std::optional<SyncRegistration> FindPeriodic(const std::string& tag, int64_t sw = kSw) {
    return Find(tag, sw, SyncType::kPeriodic);
  }
  // The times (from the start of the test) at which events went out, with their tags.
  std::vector<std::pair<std::string, absl::Duration>> Fired() { return fired_; }
  // Settles every unsettled event with `outcome`, remembering when each was dispatched.
  void SettleAll(O outcome) {
    std::vector<SyncEventRequest> requests = dispatcher_.requests();
    for (size_t i = settled_; i < requests.size(); ++i)
      dispatcher_.Settle(i, outcome);
    settled_ = requests.size();
  }
  // Advances the clock in steps of `step` for `total`, settling each event as it goes out with `outcome`, and
  // records the dispatch times.
  void RunFor(absl::Duration total, O outcome = O::kCompleted, absl::Duration step = absl::Minutes(1)) {
    for (absl::Duration t = absl::ZeroDuration(); t < total; t += step) {
      clock_.Advance(step);
      std::vector<SyncEventRequest> requests = dispatcher_.requests();
      for (size_t i = settled_; i < requests.size(); ++i)
        fired_.emplace_back(requests[i].tag, clock_.Now() - start_);
      SettleAll(outcome);
    }
  }
  Reason WhyNot(const std::string& tag, SyncType type = SyncType::kPeriodic, int64_t sw = kSw) {
    std::optional<BackgroundSyncEngine::RegistrationStatus> status = engine().Explain({sw, type, tag});
    EXPECT_TRUE(status) << tag;
    return status ? status->reason : Reason::kShutDown;
  }
  int64_t HistogramCount(const std::string& name, const std::string& bucket) {
    auto snapshot = engine().metrics().Snapshot();
    auto it = snapshot.find(name);
    if (it == snapshot.end())
      return 0;
    auto b = it->second.buckets.find(bucket);
    return b == it->second.buckets.end() ? 0 : b->second;
  }

  absl::Time start_;
  size_t settled_ = 0;
  std::vector<std::pair<std::string, absl::Duration>> fired_;
};

// --- The schedule arithmetic ---

TEST(PeriodicScheduleTest, DelayIsTheIntervalRoundedUpToWholeGaps) {
  const absl::Duration gap = absl::Hours(12);
  EXPECT_EQ(PeriodicDelay(absl::ZeroDuration(), gap), gap);
  EXPECT_EQ(PeriodicDelay(absl::Hours(1), gap), gap);
  EXPECT_EQ(PeriodicDelay(absl::Hours(12), gap), gap);
  EXPECT_EQ(PeriodicDelay(absl::Hours(13), gap), absl::Hours(24));
  EXPECT_EQ(PeriodicDelay(absl::Hours(24), gap), absl::Hours(24));
  EXPECT_EQ(PeriodicDelay(absl::Hours(24) + absl::Nanoseconds(1), gap), absl::Hours(36));
}

// An interval too large to count in gaps (the largest a record can hold decodes to an infinite one) has no next
// gap; a UBSan build caught `gaps + 1` overflowing here (fuzz corpora of engine_load, sync_engine, sync_service).
TEST(PeriodicScheduleTest, AnIntervalBeyondCountingHasAnInfiniteDelay) {
  EXPECT_EQ(PeriodicDelay(absl::InfiniteDuration(), absl::Hours(12)), absl::InfiniteDuration());
  EXPECT_EQ(PeriodicDelay(absl::Hours(1), absl::Nanoseconds(1)), absl::Hours(1));
  EXPECT_EQ(PeriodicDelay(absl::Seconds(std::numeric_limits<int64_t>::max()), absl::Nanoseconds(1)),
            absl::InfiniteDuration());
}

TEST(PeriodicScheduleTest, CoalescesBeforeAndSpacesAfterOtherEvents) {
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  const absl::Duration gap = absl::Hours(12);
  // Far from everything: unchanged.
  EXPECT_EQ(CoalescePeriodicTime(t0, gap, {t0 + absl::Hours(12)}), t0);
  EXPECT_EQ(CoalescePeriodicTime(t0, gap, {t0 - absl::Hours(12)}), t0);
  // Due within a gap before another: fires with it.
  EXPECT_EQ(CoalescePeriodicTime(t0, gap, {t0 + absl::Hours(3)}), t0 + absl::Hours(3));
  // Due within a gap after another: a whole gap after it.
  EXPECT_EQ(CoalescePeriodicTime(t0, gap, {t0 - absl::Hours(3)}), t0 + absl::Hours(9));
  // Equal: together.
  EXPECT_EQ(CoalescePeriodicTime(t0, gap, {t0}), t0);
  // Pushed past one event and then coalesced with the next.
  EXPECT_EQ(CoalescePeriodicTime(t0, gap, {t0 - absl::Hours(1), t0 + absl::Hours(20)}), t0 + absl::Hours(20));
}

// --- Firing ---

TEST_F(EnginePeriodicTest, FiresAfterItsIntervalAndStaysRegistered) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  EXPECT_EQ(dispatcher_.count(), 0u) << "fired on registration";
  EXPECT_EQ(FindPeriodic("news")->next_attempt_time, start_ + absl::Hours(12));

  RunFor(absl::Hours(36) + absl::Minutes(1));
  EXPECT_THAT(Fired(),
              ElementsAre(Pair("news", absl::Hours(12)), Pair("news", absl::Hours(24)), Pair("news", absl::Hours(36))));
  for (const SyncEventRequest& request : dispatcher_.requests()) {
    EXPECT_EQ(request.type, SyncType::kPeriodic);
    EXPECT_FALSE(request.last_chance);
  }
  std::optional<SyncRegistration> r = FindPeriodic("news");
  ASSERT_TRUE(r) << "completing a periodic event removed the registration";
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->next_attempt_time, start_ + absl::Hours(48));
  ExpectMemoryEqualsDisk();
}

TEST_F(EnginePeriodicTest, IntervalIsRoundedUpToTheOriginGap) {
  ASSERT_TRUE(RegisterPeriodic("daily-ish", absl::Hours(13)).ok());
  EXPECT_EQ(FindPeriodic("daily-ish")->next_attempt_time, start_ + absl::Hours(24));
  RunFor(absl::Hours(24) + absl::Minutes(1));
  EXPECT_THAT(Fired(), ElementsAre(Pair("daily-ish", absl::Hours(24))));
}

TEST_F(EnginePeriodicTest, WaitsForTheNetworkAndDoesNotWakeWhileOffline) {
  network_.SetOnline(false);
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(13));
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_EQ(WhyNot("news"), Reason::kOffline);
  // Nothing left to wake up for until the network returns: an idle browser sleeps.
  EXPECT_EQ(clock_.PendingTimers(), 0u);

  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "news");
  // The next interval counts from this event.
  dispatcher_.Settle(0, O::kCompleted);
  EXPECT_EQ(FindPeriodic("news")->next_attempt_time, start_ + absl::Hours(13) + absl::Hours(12));
}

TEST_F(EnginePeriodicTest, UnregisterStopsItAndAlwaysSucceeds) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  ASSERT_TRUE(Unregister("news").ok());
  EXPECT_FALSE(FindPeriodic("news"));
  EXPECT_TRUE(Unregister("never-registered").ok());
  RunFor(absl::Hours(25));
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_THAT(*GetTags(kSw, SyncType::kPeriodic), IsEmpty());
  ExpectMemoryEqualsDisk();
}

// Found by sync_service_fuzzer: the answer for an unknown tag was given while the engine held its lock, so a
// callback that reads the engine (as a gRPC reactor finishing inline may) deadlocked.
TEST_F(EnginePeriodicTest, UnregisterAnswersOutsideTheEngineLock) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  for (const char* tag : {"never-registered", "news"}) {
    std::optional<size_t> seen;
    engine().Unregister(origin_, kSw, tag, [&](absl::Status status) {
      EXPECT_TRUE(status.ok()) << status;
      seen = engine().GetAllRegistrations().size();
    });
    ASSERT_TRUE(seen.has_value()) << tag;
  }
  EXPECT_FALSE(FindPeriodic("news"));
}

TEST_F(EnginePeriodicTest, UnregisterAnswersWhenAnAsynchronousWriteCompletes) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  storage_->HoldWhere([](const StorageBatch&) { return true; });
  Result<absl::Status> result;
  engine().Unregister(origin_, kSw, "news", result.callback());
  EXPECT_FALSE(result.ready()) << "answered before the write";
  storage_->Release();
  ASSERT_TRUE(result.ready());
  EXPECT_TRUE(result.value->ok()) << *result.value;
  EXPECT_FALSE(FindPeriodic("news"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EnginePeriodicTest, UnregisterWhileFiringIgnoresTheOutcome) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12));
  ASSERT_EQ(dispatcher_.count(), 1u);
  ASSERT_TRUE(Unregister("news").ok());
  dispatcher_.Settle(0, O::kRejected);
  EXPECT_FALSE(FindPeriodic("news"));
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  ExpectMemoryEqualsDisk();
}

TEST_F(EnginePeriodicTest, UnregisterOfAForeignServiceWorkerIsRefusedAndChangesNothing) {
  ASSERT_TRUE(RegisterPeriodic("theirs", absl::Hours(12), kOtherSw, other_origin_).ok());
  Result<absl::Status> result;
  engine().Unregister(origin_, kOtherSw, "theirs", result.callback());
  ASSERT_TRUE(result.ready());
  EXPECT_EQ(ErrorOf(*result.value), BackgroundSyncError::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_TRUE(FindPeriodic("theirs", kOtherSw));
}

TEST_F(EnginePeriodicTest, ReregisterWithAnotherIntervalReschedulesFromTheAnchor) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(2));
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(36)).ok());
  EXPECT_EQ(FindPeriodic("news")->min_interval, absl::Hours(36));
  EXPECT_EQ(FindPeriodic("news")->next_attempt_time, start_ + absl::Hours(36));
  RunFor(absl::Hours(33));
  EXPECT_EQ(dispatcher_.count(), 0u);
  RunFor(absl::Hours(1));
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EnginePeriodicTest, ReregisteredWhileFiringWaitsForItsNextInterval) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12));
  ASSERT_EQ(dispatcher_.count(), 1u);
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  EXPECT_EQ(FindPeriodic("news")->state, SyncState::kReregisteredWhileFiring);
  dispatcher_.Settle(0, O::kRejected);
  std::optional<SyncRegistration> r = FindPeriodic("news");
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->next_attempt_time, start_ + absl::Hours(24));
  EXPECT_EQ(dispatcher_.count(), 1u) << "a periodic registration fired again at once";
  EXPECT_THAT(observer_.names(), ::testing::Contains("Sync event reregistered"));
}

// --- Failures ---

TEST_F(EnginePeriodicTest, FailureIsRetriedWithBackoffThenWaitsForTheNextInterval) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  RunFor(absl::Hours(12) + absl::Minutes(30), O::kRejected);
  // Attempt at 12 h, retries after 5 and 15 minutes (the one-shot backoff), then nothing until the next interval.
  EXPECT_THAT(Fired(), ElementsAre(Pair("news", absl::Hours(12)), Pair("news", absl::Hours(12) + absl::Minutes(5)),
                                   Pair("news", absl::Hours(12) + absl::Minutes(20))));
  std::optional<SyncRegistration> r = FindPeriodic("news");
  ASSERT_TRUE(r) << "a periodic registration was removed by failures";
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->last_failure, O::kRejected);
  // Counted from the start of the failed event, not from the last retry.
  EXPECT_EQ(r->next_attempt_time, start_ + absl::Hours(24));
  EXPECT_EQ(WhyNot("news"), Reason::kWaitingForInterval);
  RunFor(absl::Hours(12), O::kCompleted);
  EXPECT_EQ(Fired().size(), 4u);
  EXPECT_EQ(Fired().back().second, absl::Hours(24));
}

TEST_F(EnginePeriodicTest, ARetryIsExplainedAsBackoff) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12));
  dispatcher_.Settle(0, O::kRejected);
  std::optional<BackgroundSyncEngine::RegistrationStatus> status = engine().Explain({kSw, SyncType::kPeriodic, "news"});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->reason, Reason::kWaitingForBackoff);
  EXPECT_EQ(status->until, start_ + absl::Hours(12) + absl::Minutes(5));
  EXPECT_THAT(status->explanation, ::testing::HasSubstr("retry 2 of 3"));
}

// --- Spacing ---

TEST_F(EnginePeriodicTest, TwoRegistrationsOfOneOriginAreCoalesced) {
  ASSERT_TRUE(RegisterPeriodic("a", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(3));
  // Due at 15 h on its own: within a gap after "a" (12 h), so a whole gap after it.
  ASSERT_TRUE(RegisterPeriodic("b", absl::Hours(12), kSecondSwOfOrigin).ok());
  EXPECT_EQ(FindPeriodic("b", kSecondSwOfOrigin)->next_attempt_time, start_ + absl::Hours(24));
  RunFor(absl::Hours(22));
  // "a" at 12 h; then "a" again and "b" together at 24 h.
  std::vector<std::pair<std::string, absl::Duration>> fired = Fired();
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0].first, "a");
  EXPECT_EQ(fired[0].second, absl::Hours(12));
  EXPECT_EQ(fired[1].second, absl::Hours(24));
  EXPECT_EQ(fired[2].second, absl::Hours(24));
}

TEST_F(EnginePeriodicTest, OneOriginsEventsAreNeverCloserThanItsMinimum) {
  // Registered 1 h apart with short intervals: without the origin minimum they would fire 1 h apart.
  ASSERT_TRUE(RegisterPeriodic("a", absl::ZeroDuration()).ok());
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(RegisterPeriodic("b", absl::ZeroDuration(), kSecondSwOfOrigin).ok());
  RunFor(absl::Hours(72));
  std::vector<absl::Duration> batches;
  for (const auto& [tag, at] : Fired()) {
    if (batches.empty() || batches.back() != at)
      batches.push_back(at);
  }
  ASSERT_GE(batches.size(), 3u);
  for (size_t i = 1; i < batches.size(); ++i)
    EXPECT_GE(batches[i] - batches[i - 1], absl::Hours(12)) << "batch " << i;
}

TEST_F(EnginePeriodicTest, TheBatchMinimumHoldsAcrossOrigins) {
  parameters().min_periodic_sync_events_interval = absl::Hours(1);
  parameters().min_periodic_sync_batch_interval = absl::Hours(6);
  RestartEngine();
  ASSERT_TRUE(RegisterPeriodic("mine", absl::Hours(1)).ok());
  RunFor(absl::Hours(2));
  ASSERT_TRUE(RegisterPeriodic("theirs", absl::Hours(1), kOtherSw, other_origin_).ok());
  // "mine" at 1 h opens a batch; "theirs" is due at 3 h but the next batch may start only at 7 h.
  RunFor(absl::Hours(2));
  ASSERT_EQ(Fired().size(), 1u);
  EXPECT_EQ(WhyNot("theirs", SyncType::kPeriodic, kOtherSw), Reason::kGlobalMinimumInterval);
  RunFor(absl::Hours(4));
  std::vector<std::pair<std::string, absl::Duration>> fired = Fired();
  ASSERT_EQ(fired.size(), 3u);
  // At 7 h the batch takes everything due: "theirs" and "mine" (due again at 2 h) together.
  EXPECT_EQ(fired[1].second, absl::Hours(7));
  EXPECT_EQ(fired[2].second, absl::Hours(7));
}

// --- Engagement ---

TEST_F(EnginePeriodicTest, LowerEngagementMultipliesTheOriginMinimum) {
  engagement_.Set(origin_, EngagementLevel::kMinimal);
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  EXPECT_EQ(FindPeriodic("news")->next_attempt_time, start_ + absl::Hours(36));
  engagement_.Set(origin_, EngagementLevel::kLow);
  engine().OnEngagementChanged(origin_);
  EXPECT_EQ(FindPeriodic("news")->next_attempt_time, start_ + absl::Hours(24));
}

TEST_F(EnginePeriodicTest, NoEngagementSuspendsUntilTheOriginIsEngagedAgain) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  engagement_.Set(origin_, EngagementLevel::kNone);
  engine().OnEngagementChanged(origin_);
  RunFor(absl::Hours(48));
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_EQ(WhyNot("news"), Reason::kSuspendedForEngagement);

  engagement_.Set(origin_, EngagementLevel::kHigh);
  engine().OnEngagementChanged(origin_);
  // Overdue since 12 h: fires at once.
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "news");
}

// --- Restarts, permissions ---

TEST_F(EnginePeriodicTest, RestartKeepsTheSchedule) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12) - absl::Seconds(1));
  RestartEngine();
  EXPECT_EQ(dispatcher_.count(), 0u);
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(dispatcher_.count(), 0u);
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "news");
}

TEST_F(EnginePeriodicTest, AnEventInterruptedByACrashFiresAgainWithoutCountingTheAttempt) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12));
  ASSERT_EQ(dispatcher_.count(), 1u);
  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 2u);
  dispatcher_.Settle(1, O::kCompleted);
  std::optional<SyncRegistration> r = FindPeriodic("news");
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->state, SyncState::kPending);
}

// Found by sync_engine_fuzzer: the poison-pill bound (three interruptions in a row spend three attempts) deleted
// a periodic registration whose attempts that exhausted. Failures never remove a periodic registration: it waits
// for its next interval, counted from the interrupted event's start.
TEST_F(EnginePeriodicTest, ThreeInterruptionsThatExhaustItsAttemptsWaitForTheNextInterval) {
  ASSERT_EQ(parameters_.max_consecutive_interruptions, 3);
  ASSERT_EQ(parameters_.max_periodic_sync_attempts, 3);
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12));
  ASSERT_EQ(dispatcher_.count(), 1u);
  const absl::Time event_start = clock_.Now();
  CrashAndRestartEngine();
  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 3u);

  CrashAndRestartEngine();
  EXPECT_EQ(dispatcher_.count(), 3u) << "not fired again at start";
  std::optional<SyncRegistration> r = FindPeriodic("news");
  ASSERT_TRUE(r) << "a periodic registration is never removed by failures";
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->consecutive_interruptions, 0);
  EXPECT_EQ(r->next_attempt_time, event_start + absl::Hours(12));
  ExpectMemoryEqualsDisk();

  clock_.Advance(r->next_attempt_time - clock_.Now());
  ASSERT_EQ(dispatcher_.count(), 4u);
  EXPECT_EQ(dispatcher_.requests()[3].tag, "news");
}

TEST_F(EnginePeriodicTest, PermissionRevokedRemovesTheRegistrationsForGood) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  ASSERT_TRUE(RegisterPeriodic("mail", absl::Hours(24), kSecondSwOfOrigin).ok());
  ASSERT_TRUE(Register("one-shot-stays").ok());
  ASSERT_TRUE(RegisterPeriodic("theirs", absl::Hours(12), kOtherSw, other_origin_).ok());
  permissions_.Set(origin_, SyncType::kPeriodic, PermissionStatus::kDenied);
  Result<absl::Status> revoked;
  engine().OnPermissionRevoked(origin_, revoked.callback());
  ASSERT_TRUE(revoked.ready());
  ASSERT_TRUE(revoked.value->ok());
  RestartEngine();
  EXPECT_FALSE(FindPeriodic("news"));
  EXPECT_FALSE(FindPeriodic("mail", kSecondSwOfOrigin));
  EXPECT_TRUE(FindPeriodic("theirs", kOtherSw));
  EXPECT_THAT(*GetTags(kSw, SyncType::kPeriodic), IsEmpty());
}

TEST_F(EnginePeriodicTest, APermissionDeniedWithoutRevocationHoldsItBack) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  permissions_.Set(origin_, SyncType::kPeriodic, PermissionStatus::kDenied);
  RunFor(absl::Hours(13));
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_EQ(WhyNot("news"), Reason::kPermissionDenied);
}

// --- Why ---

TEST_F(EnginePeriodicTest, WhyNamesEachBlockingReason) {
  ASSERT_TRUE(Register("acked-later", /*client=*/7).ok());
  EXPECT_EQ(WhyNot("acked-later", SyncType::kOneShot), Reason::kNotResolved);

  network_.SetServiceWorkerOffline(kSw, true);
  ASSERT_TRUE(Register("emulated").ok());
  EXPECT_EQ(WhyNot("emulated", SyncType::kOneShot), Reason::kEmulatedOffline);
  network_.SetServiceWorkerOffline(kSw, false);
  network_.SetOnline(false);
  EXPECT_EQ(WhyNot("emulated", SyncType::kOneShot), Reason::kOffline);
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(WhyNot("emulated", SyncType::kOneShot), Reason::kFiring);
  dispatcher_.SettleLast(O::kRejected);
  std::optional<BackgroundSyncEngine::RegistrationStatus> backoff =
      engine().Explain({kSw, SyncType::kOneShot, "emulated"});
  ASSERT_TRUE(backoff);
  EXPECT_EQ(backoff->reason, Reason::kWaitingForBackoff);
  EXPECT_EQ(backoff->until, clock_.Now() + absl::Minutes(5));

  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  std::optional<BackgroundSyncEngine::RegistrationStatus> interval =
      engine().Explain({kSw, SyncType::kPeriodic, "news"});
  EXPECT_EQ(interval->reason, Reason::kWaitingForInterval);
  EXPECT_EQ(interval->until, clock_.Now() + absl::Hours(12));

  // Each reason has a distinct name for tools.
  std::set<std::string> names;
  for (Reason r : {Reason::kReady, Reason::kFiring, Reason::kNotResolved, Reason::kOffline, Reason::kEmulatedOffline,
                   Reason::kWaitingForBackoff, Reason::kWaitingForInterval, Reason::kOriginMinimumInterval,
                   Reason::kGlobalMinimumInterval, Reason::kSuspendedForEngagement, Reason::kPermissionDenied,
                   Reason::kShutDown}) {
    names.insert(std::string(BackgroundSyncEngine::BlockedReasonName(r)));
  }
  EXPECT_EQ(names.size(), 12u);
}

TEST_F(EnginePeriodicTest, AnOverdueEventWaitsForItsOriginsMinimum) {
  parameters().min_periodic_sync_batch_interval = absl::ZeroDuration();
  RestartEngine();
  ASSERT_TRUE(RegisterPeriodic("a", absl::Hours(12)).ok());
  ASSERT_TRUE(RegisterPeriodic("b", absl::Hours(24), kSecondSwOfOrigin).ok());
  // "a" cannot fire on time: its service worker is emulated offline until 30 h. "b" fires at 24 h.
  network_.SetServiceWorkerOffline(kSw, true);
  RunFor(absl::Hours(30));
  ASSERT_EQ(Fired().size(), 1u);
  EXPECT_EQ(Fired()[0].first, "b");
  EXPECT_EQ(Fired()[0].second, absl::Hours(24));
  network_.SetServiceWorkerOffline(kSw, false);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u) << "two events of one origin 6 h apart";
  std::optional<BackgroundSyncEngine::RegistrationStatus> status = engine().Explain({kSw, SyncType::kPeriodic, "a"});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->reason, Reason::kOriginMinimumInterval);
  EXPECT_EQ(status->until, start_ + absl::Hours(36));
  RunFor(absl::Hours(6));
  ASSERT_EQ(Fired().size(), 2u);
  EXPECT_EQ(Fired()[1].first, "a");
  EXPECT_EQ(Fired()[1].second, absl::Hours(36));
}

// --- Observer events and counters ---

TEST_F(EnginePeriodicTest, OneShotLifecycleEmitsChromiumsEventSequence) {
  ASSERT_TRUE(Register("outbox").ok());
  dispatcher_.SettleLast(O::kRejected);
  clock_.Advance(absl::Minutes(5));
  dispatcher_.SettleLast(O::kRejected);
  clock_.Advance(absl::Minutes(15));
  dispatcher_.SettleLast(O::kCompleted);
  EXPECT_THAT(observer_.names(),
              ElementsAre("Registered sync", "Dispatched sync event", "sync event failed", "Dispatched sync event",
                          "sync event failed", "Dispatched sync event", "sync event completed", "Sync completed"));
  std::vector<BackgroundServiceEvent> events = observer_.events();
  EXPECT_THAT(events[1].metadata, ElementsAre(Pair("Last Chance", "No")));
  EXPECT_THAT(events[2].metadata,
              ElementsAre(Pair("Failure Reason", "rejected"), Pair("Next Attempt Delay (ms)", "300000")));
  EXPECT_THAT(events[5].metadata, ElementsAre(Pair("Last Chance", "Yes")));
  EXPECT_THAT(events[7].metadata, ElementsAre(Pair("Status", "succeeded")));
  for (const BackgroundServiceEvent& e : events) {
    EXPECT_EQ(e.origin, origin_);
    EXPECT_EQ(e.sw_registration_id, kSw);
    EXPECT_EQ(e.instance_id, "outbox");
    EXPECT_EQ(BackgroundServiceName(e.service), "backgroundSync");
  }
  EXPECT_EQ(HistogramCount("BackgroundSync.Event.OneShot.NumAttemptsForSuccessfulEvent", "[2,4)"), 1);
  EXPECT_EQ(HistogramCount("BackgroundSync.Event.OneShotResultPattern", "failed-foreground"), 2);
  EXPECT_EQ(HistogramCount("BackgroundSync.Event.OneShotResultPattern", "succeeded-foreground"), 1);
}

TEST_F(EnginePeriodicTest, PeriodicLifecycleEmitsChromiumsEventSequence) {
  ASSERT_TRUE(RegisterPeriodic("news", absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12));
  dispatcher_.SettleLast(O::kCompleted);
  ASSERT_TRUE(Unregister("news").ok());
  EXPECT_THAT(observer_.names(),
              ElementsAre("Registered periodicsync", "Got next event delay", "Dispatched periodicsync event",
                          "periodicsync event completed", "Got next event delay", "Unregistered periodicsync"));
  std::vector<BackgroundServiceEvent> events = observer_.events();
  EXPECT_THAT(events[0].metadata, ElementsAre(Pair("minInterval", "43200000")));
  EXPECT_THAT(events[1].metadata, ElementsAre(Pair("Next Attempt Delay (ms)", "43200000")));
  EXPECT_EQ(BackgroundServiceName(events[2].service), "periodicBackgroundSync");
}

TEST_F(EnginePeriodicTest, RegistrationCountersUseChromiumsNames) {
  ASSERT_TRUE(Register("a").ok());
  ASSERT_TRUE(Register("a").ok());
  EXPECT_FALSE(Register(std::string(10'241, 'x')).ok());
  ASSERT_TRUE(RegisterPeriodic("p", absl::Hours(12)).ok());
  EXPECT_EQ(HistogramCount("BackgroundSync.Registration.OneShot", "OK"), 2);
  EXPECT_EQ(HistogramCount("BackgroundSync.Registration.OneShot", "TAG_TOO_LONG"), 1);
  EXPECT_EQ(HistogramCount("BackgroundSync.Registration.OneShot.IsDuplicate", "true"), 1);
  EXPECT_EQ(HistogramCount("BackgroundSync.Registration.OneShot.IsDuplicate", "false"), 1);
  EXPECT_EQ(HistogramCount("BackgroundSync.Registration.OneShot.CouldFire", "true"), 2);
  EXPECT_EQ(HistogramCount("BackgroundSync.Registration.Periodic", "OK"), 1);
}

}  // namespace
}  // namespace bgsync
