// The engine's state machine, branch by branch (spec.md "One-shot sync" and the decisions): every branch of
// register, reregistered-while-firing, lastChance, backoff, timeouts, the acknowledgement step, connectivity,
// service-worker unregistration, tag and quota limits, periodic registrations sharing a tag, and shutdown.
// Storage failures, restarts and concurrency live in background_sync_engine_storage_unittest.cc.
#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/testing/engine_test_fixture.h"
#include "gmock/gmock.h"
#include "public/sync_tag.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using E = BackgroundSyncError;
using O = SyncEventOutcome;

class EngineStateTest : public EngineTest {
 protected:
  // A test that fails while commits are held must not hang in the engine's shutdown: release them first.
  void TearDown() override {
    if (storage_)
      storage_->Release();
    EngineTest::TearDown();
  }

  // Commits the engine's backend has been asked for so far.
  int Commits() {
    absl::MutexLock lock(&storage_->mu);
    return storage_->commits;
  }
  static RegistrationKey Key(const std::string& tag, int64_t sw = kSw, SyncType type = SyncType::kOneShot) {
    return {sw, type, tag};
  }
  // The default backoff (decision 3): 5 min × 3^(n−1) after the n-th failed attempt, computed independently of
  // retry_policy.cc.
  static absl::Duration DefaultDelay(int failed_attempts) {
    absl::Duration delay = absl::Minutes(5);
    for (int i = 1; i < failed_attempts; ++i)
      delay *= 3;
    return delay;
  }
  absl::Status RegisterPeriodic(const std::string& tag,
                                absl::Duration min_interval,
                                int64_t sw = kSw,
                                ClientId client = 0) {
    return Register(tag, client, sw, SyncType::kPeriodic, std::nullopt, min_interval);
  }
  // Registers `tag` (online, resolved), fails its first event and leaves it waiting with one failed attempt.
  void MakeWaiting(const std::string& tag) {
    const size_t before = dispatcher_.count();
    ASSERT_TRUE(Register(tag).ok());
    ASSERT_EQ(dispatcher_.count(), before + 1);
    dispatcher_.SettleLast(O::kRejected);
    std::optional<SyncRegistration> r = Find(tag);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->state, SyncState::kWaiting);
    ASSERT_EQ(r->num_attempts, 1);
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Register: every branch.

TEST_F(EngineStateTest, NewTagOnlineAndResolvedFiresAtOnce) {
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "t");
  EXPECT_EQ(dispatcher_.requests()[0].type, SyncType::kOneShot);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kFiring);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->max_attempts, parameters_.max_sync_attempts);
  EXPECT_EQ(engine().GetCounters().events_dispatched, 1);
  // Firing is written before dispatch.
  std::vector<SyncRegistration> disk = DiskRegistrations();
  ASSERT_EQ(disk.size(), 1u);
  EXPECT_EQ(disk[0].state, SyncState::kFiring);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, NewTagOfflineStaysPending) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("t").ok());
  EXPECT_EQ(dispatcher_.count(), 0u);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->next_attempt_time, absl::InfinitePast());
  EXPECT_EQ(r->origin, origin_);
  EXPECT_TRUE(r->resolved);
  EXPECT_EQ(engine().GetCounters().events_dispatched, 0);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ReregisterWaitingOnlineFiresAtOnceWithFreshAttempts) {
  // Events run longer than the old backoff, so that its instant passes while the new attempt is still firing.
  parameters_.max_sync_event_duration = absl::Hours(1);
  RestartEngine();
  MakeWaiting("t");
  // Fail a second time so that, without the reset, the next attempt would be the last chance (3 attempts).
  clock_.Advance(DefaultDelay(1));
  ASSERT_EQ(dispatcher_.count(), 2u);
  dispatcher_.SettleLast(O::kRejected);
  ASSERT_EQ(Find("t")->num_attempts, 2);
  ASSERT_EQ(Find("t")->state, SyncState::kWaiting);
  const absl::Time old_retry = Find("t")->next_attempt_time;
  ASSERT_GT(old_retry, clock_.Now());

  ASSERT_TRUE(Register("t").ok());
  // Decision 1: pending again and fired now, not after the backoff.
  ASSERT_EQ(dispatcher_.count(), 3u);
  EXPECT_FALSE(dispatcher_.requests()[2].last_chance) << "attempts were not reset to 0";
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kFiring);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->next_attempt_time, absl::InfinitePast());
  ExpectMemoryEqualsDisk();

  // The old backoff instant passing does not dispatch a second event.
  clock_.Advance(old_retry - clock_.Now() + absl::Seconds(1));
  EXPECT_EQ(dispatcher_.count(), 3u);
}

TEST_F(EngineStateTest, ReregisterWaitingOfflineBecomesPendingWithoutFiring) {
  // Events run longer than the old backoff, so that its instant passes while the new attempt is still firing.
  parameters_.max_sync_event_duration = absl::Hours(1);
  RestartEngine();
  MakeWaiting("t");
  const absl::Time old_retry = Find("t")->next_attempt_time;
  network_.SetOnline(false);

  ASSERT_TRUE(Register("t").ok());
  EXPECT_EQ(dispatcher_.count(), 1u);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->next_attempt_time, absl::InfinitePast());
  ExpectMemoryEqualsDisk();

  // Back online before the old backoff would have elapsed: it fires now (the backoff was cancelled).
  clock_.Advance(absl::Seconds(1));
  ASSERT_LT(clock_.Now(), old_retry);
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_FALSE(dispatcher_.requests()[1].last_chance);
  EXPECT_EQ(Find("t")->state, SyncState::kFiring);
  clock_.Advance(old_retry - clock_.Now() + absl::Seconds(1));
  EXPECT_EQ(dispatcher_.count(), 2u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ReregisterFiringBecomesReregisteredWhileFiringWithoutSecondDispatch) {
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  const int commits = Commits();

  ASSERT_TRUE(Register("t").ok());
  EXPECT_EQ(Commits(), commits + 1);
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(Find("t")->state, SyncState::kReregisteredWhileFiring);
  std::vector<SyncRegistration> disk = DiskRegistrations();
  ASSERT_EQ(disk.size(), 1u);
  EXPECT_EQ(disk[0].state, SyncState::kReregisteredWhileFiring);

  // Neither a third registration nor connectivity news dispatches while the event is in flight.
  const int commits_after = Commits();
  ASSERT_TRUE(Register("t").ok());
  EXPECT_EQ(Commits(), commits_after) << "re-registering a reregistered-while-firing tag wrote";
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(Find("t")->state, SyncState::kReregisteredWhileFiring);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ReregisterPendingOfflineWritesNothing) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("t").ok());
  const std::optional<SyncRegistration> before = Find("t");
  const std::vector<SyncRegistration> disk_before = DiskRegistrations();
  const int commits = Commits();

  ASSERT_TRUE(Register("t").ok());
  EXPECT_EQ(Commits(), commits);
  std::optional<SyncRegistration> after = Find("t");
  ASSERT_TRUE(after);
  EXPECT_TRUE(*after == *before);
  EXPECT_EQ(after->state, SyncState::kPending);
  EXPECT_TRUE(DiskRegistrations() == disk_before);
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_THAT(*GetTags(), ElementsAre("t"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ReregisterPendingAwaitingAckWritesNothing) {
  constexpr ClientId kClient = 7;
  ASSERT_TRUE(Register("t", kClient).ok());
  ASSERT_EQ(Find("t")->state, SyncState::kPending);
  const int commits = Commits();

  ASSERT_TRUE(Register("t", kClient).ok());
  EXPECT_EQ(Commits(), commits);
  EXPECT_EQ(Find("t")->state, SyncState::kPending);
  EXPECT_EQ(dispatcher_.count(), 0u);

  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kClient, Key("t")).ok());
  EXPECT_EQ(dispatcher_.count(), 1u);
  ExpectMemoryEqualsDisk();
}

// ---------------------------------------------------------------------------------------------------------------
// Reregistered while firing, then settled.

TEST_F(EngineStateTest, ReregisteredWhileFiringThenSuccessFiresAgainAtOnce) {
  ASSERT_TRUE(Register("t").ok());
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(Find("t")->state, SyncState::kReregisteredWhileFiring);

  dispatcher_.Settle(0, O::kCompleted);
  ASSERT_EQ(dispatcher_.count(), 2u) << "not fired again after settling";
  EXPECT_EQ(dispatcher_.requests()[1].tag, "t");
  EXPECT_FALSE(dispatcher_.requests()[1].last_chance);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r) << "completing a reregistered-while-firing registration removed it";
  EXPECT_EQ(r->state, SyncState::kFiring);
  EXPECT_EQ(r->num_attempts, 0);
  ExpectMemoryEqualsDisk();

  // The second event completing removes it for good.
  dispatcher_.Settle(1, O::kCompleted);
  EXPECT_FALSE(Find("t"));
  EXPECT_EQ(dispatcher_.count(), 2u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ReregisteredWhileFiringThenFailureFiresAgainWithAttemptsReset) {
  MakeWaiting("t");
  clock_.Advance(DefaultDelay(1));
  ASSERT_EQ(dispatcher_.count(), 2u);  // second attempt in flight, one failure counted
  ASSERT_EQ(Find("t")->num_attempts, 1);

  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(Find("t")->state, SyncState::kReregisteredWhileFiring);
  dispatcher_.Settle(1, O::kRejected);

  // Pending, not waiting: fired again at once, and attempts restart (else this would be the last chance).
  ASSERT_EQ(dispatcher_.count(), 3u);
  EXPECT_FALSE(dispatcher_.requests()[2].last_chance);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kFiring);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->next_attempt_time, absl::InfinitePast());
  ExpectMemoryEqualsDisk();

  // A fresh budget of three attempts: two more failures keep it, the third (last chance) drops it.
  dispatcher_.Settle(2, O::kRejected);
  EXPECT_EQ(Find("t")->num_attempts, 1);
  clock_.Advance(DefaultDelay(1));
  ASSERT_EQ(dispatcher_.count(), 4u);
  EXPECT_FALSE(dispatcher_.requests()[3].last_chance);
  dispatcher_.Settle(3, O::kRejected);
  clock_.Advance(DefaultDelay(2));
  ASSERT_EQ(dispatcher_.count(), 5u);
  EXPECT_TRUE(dispatcher_.requests()[4].last_chance);
  dispatcher_.Settle(4, O::kRejected);
  EXPECT_FALSE(Find("t"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ReregisteredWhileFiringOnLastChanceFailureIsKept) {
  parameters_.max_sync_attempts = 1;
  RestartEngine();
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  ASSERT_TRUE(dispatcher_.requests()[0].last_chance);
  ASSERT_TRUE(Register("t").ok());

  dispatcher_.Settle(0, O::kWorkerCrashed);
  ASSERT_TRUE(Find("t")) << "a registration re-registered during its last chance was dropped";
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_TRUE(dispatcher_.requests()[1].last_chance);
  EXPECT_EQ(Find("t")->state, SyncState::kFiring);
  EXPECT_EQ(Find("t")->last_failure, O::kWorkerCrashed);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ReregisteredWhileFiringSettledOfflineIsPendingUntilOnline) {
  ASSERT_TRUE(Register("t").ok());
  ASSERT_TRUE(Register("t").ok());
  network_.SetOnline(false);
  dispatcher_.Settle(0, O::kRejected);
  EXPECT_EQ(dispatcher_.count(), 1u);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->num_attempts, 0);
  ExpectMemoryEqualsDisk();

  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 2u);
}

TEST_F(EngineStateTest, ReregisteredWhileFiringThenTimeoutFiresAgain) {
  ASSERT_TRUE(Register("t").ok());
  ASSERT_TRUE(Register("t").ok());
  clock_.Advance(parameters_.max_sync_event_duration);
  ASSERT_EQ(dispatcher_.count(), 2u);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kFiring);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->last_failure, O::kTimedOut);
  dispatcher_.Settle(0, O::kCompleted);  // the first event's late reply
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  EXPECT_EQ(Find("t")->state, SyncState::kFiring);
  ExpectMemoryEqualsDisk();
}

// ---------------------------------------------------------------------------------------------------------------
// lastChance is set exactly on the final attempt, for several attempt budgets.

class EngineStateLastChanceTest : public EngineStateTest, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    parameters_.max_sync_attempts = GetParam();
    EngineStateTest::SetUp();
  }
};

TEST_P(EngineStateLastChanceTest, LastChanceExactlyOnFinalAttempt) {
  const int max_attempts = GetParam();
  ASSERT_TRUE(Register("t").ok());
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    SCOPED_TRACE(testing::Message() << "attempt " << attempt + 1 << " of " << max_attempts);
    ASSERT_EQ(dispatcher_.count(), static_cast<size_t>(attempt + 1));
    EXPECT_EQ(dispatcher_.requests()[attempt].last_chance, attempt == max_attempts - 1);
    dispatcher_.SettleLast(O::kRejected);
    if (attempt == max_attempts - 1)
      break;
    std::optional<SyncRegistration> r = Find("t");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, SyncState::kWaiting);
    EXPECT_EQ(r->num_attempts, attempt + 1);
    ExpectMemoryEqualsDisk();
    clock_.Advance(DefaultDelay(attempt + 1));
  }
  EXPECT_FALSE(Find("t"));
  EXPECT_TRUE(DiskRegistrations().empty());
  clock_.Advance(absl::Hours(24));
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), static_cast<size_t>(max_attempts));
  ExpectMemoryEqualsDisk();
}

INSTANTIATE_TEST_SUITE_P(EngineState, EngineStateLastChanceTest, ::testing::Values(1, 2, 3, 5));

// ---------------------------------------------------------------------------------------------------------------
// Backoff times.

class EngineStateBackoffTest : public EngineStateTest {
 protected:
  void SetUp() override {
    parameters_.initial_retry_delay = absl::Seconds(10);
    parameters_.retry_delay_factor = 2;
    parameters_.max_sync_attempts = 5;
    EngineStateTest::SetUp();
  }
};

TEST_F(EngineStateBackoffTest, RetryDispatchedExactlyAtBackoffFromFailure) {
  const absl::Duration kDelays[] = {absl::Seconds(10), absl::Seconds(20), absl::Seconds(40), absl::Seconds(80)};
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  for (int k = 1; k <= 4; ++k) {
    SCOPED_TRACE(testing::Message() << "retry " << k);
    // The event runs a little before failing: the backoff counts from the failure, not from the dispatch.
    clock_.Advance(absl::Seconds(3));
    dispatcher_.SettleLast(O::kRejected);
    const absl::Time failed_at = clock_.Now();
    std::optional<SyncRegistration> r = Find("t");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, SyncState::kWaiting);
    EXPECT_EQ(r->num_attempts, k);
    EXPECT_EQ(r->next_attempt_time, failed_at + kDelays[k - 1]);
    ExpectMemoryEqualsDisk();

    clock_.Advance(kDelays[k - 1] - absl::Seconds(1));
    engine().OnNetworkChanged();  // going online again does not shorten the backoff
    EXPECT_EQ(dispatcher_.count(), static_cast<size_t>(k)) << "dispatched early";
    clock_.Advance(absl::Seconds(1));
    ASSERT_EQ(dispatcher_.count(), static_cast<size_t>(k + 1)) << "not dispatched at the backoff instant";
    EXPECT_EQ(clock_.Now(), failed_at + kDelays[k - 1]);
    EXPECT_EQ(dispatcher_.requests()[k].deadline, failed_at + kDelays[k - 1] + parameters_.max_sync_event_duration);
    EXPECT_EQ(dispatcher_.requests()[k].last_chance, k == 4);
  }
  dispatcher_.SettleLast(O::kRejected);
  EXPECT_FALSE(Find("t"));
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(dispatcher_.count(), 5u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateBackoffTest, TwoWaitingRegistrationsEachRetryAtTheirOwnTime) {
  ASSERT_TRUE(Register("a").ok());
  clock_.Advance(absl::Seconds(4));
  ASSERT_TRUE(Register("b").ok());
  ASSERT_EQ(dispatcher_.count(), 2u);
  dispatcher_.Settle(1, O::kRejected);  // b fails first: retry at +10 s from now
  clock_.Advance(absl::Seconds(3));
  dispatcher_.Settle(0, O::kRejected);  // a fails 3 s later: retry at +10 s from then

  clock_.Advance(absl::Seconds(7) - absl::Seconds(1));
  EXPECT_EQ(dispatcher_.count(), 2u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(dispatcher_.count(), 3u);
  EXPECT_EQ(dispatcher_.requests()[2].tag, "b");
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(dispatcher_.count(), 3u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(dispatcher_.count(), 4u);
  EXPECT_EQ(dispatcher_.requests()[3].tag, "a");
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ZeroRetryDelayRetriesAtOnce) {
  parameters_.initial_retry_delay = absl::ZeroDuration();
  RestartEngine();
  ASSERT_TRUE(Register("t").ok());
  dispatcher_.SettleLast(O::kRejected);
  ASSERT_EQ(dispatcher_.count(), 2u) << "a ready waiting registration was not fired";
  EXPECT_EQ(Find("t")->num_attempts, 1);
  EXPECT_EQ(Find("t")->state, SyncState::kFiring);
  dispatcher_.SettleLast(O::kRejected);
  ASSERT_EQ(dispatcher_.count(), 3u);
  EXPECT_TRUE(dispatcher_.requests()[2].last_chance);
  dispatcher_.SettleLast(O::kRejected);
  EXPECT_FALSE(Find("t"));
  EXPECT_EQ(dispatcher_.count(), 3u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, OutcomeReportedInsideDispatchIsHandled) {
  // A dispatcher may call `done` before DispatchSyncEvent returns.
  dispatcher_.SetAutoReply(O::kCompleted);
  ASSERT_TRUE(Register("done").ok());
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_FALSE(Find("done"));

  dispatcher_.SetAutoReply(O::kRejected);
  ASSERT_TRUE(Register("failing").ok());
  EXPECT_EQ(Find("failing")->state, SyncState::kWaiting);
  clock_.Advance(DefaultDelay(1) + DefaultDelay(2));
  EXPECT_EQ(dispatcher_.count(), 4u);
  EXPECT_TRUE(dispatcher_.requests()[3].last_chance);
  EXPECT_FALSE(Find("failing"));
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(dispatcher_.count(), 4u);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 0);
  EXPECT_EQ(clock_.PendingTimers(), 0u);
  ExpectMemoryEqualsDisk();
}

// Regression: a retry time beyond what the store can hold (int64 nanoseconds: April 2262), which a large
// retry_delay_factor produces, used to be kept exactly in memory but saturated on disk, so a restart moved it.
// NextAttemptTime() now caps it in memory too.
TEST_F(EngineStateTest, FarFutureBackoffIsStoredFaithfully) {
  parameters_.retry_delay_factor = 1'000'000'000;
  RestartEngine();
  ASSERT_TRUE(Register("t").ok());
  dispatcher_.SettleLast(O::kRejected);
  clock_.Advance(absl::Minutes(5));
  ASSERT_EQ(dispatcher_.count(), 2u);
  dispatcher_.SettleLast(O::kRejected);  // the next delay is 5 min × 10^9, about 9,500 years
  const absl::Time retry = Find("t")->next_attempt_time;
  EXPECT_GT(retry, clock_.Now() + absl::Hours(24 * 365 * 200));
  ExpectMemoryEqualsDisk();
  RestartEngine();
  EXPECT_EQ(Find("t")->next_attempt_time, retry) << "a restart changed the retry time";

  clock_.Advance(absl::Hours(24 * 365 * 100));
  EXPECT_EQ(dispatcher_.count(), 2u);
  // Re-registering starts it afresh.
  ASSERT_TRUE(Register("t").ok());
  EXPECT_EQ(dispatcher_.count(), 3u);
  ExpectMemoryEqualsDisk();
}

// ---------------------------------------------------------------------------------------------------------------
// Timeouts and outcomes.

TEST_F(EngineStateTest, TimeoutCountsAsFailureAndLateReplyIsIgnored) {
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  const absl::Time dispatched_at = clock_.Now();
  EXPECT_EQ(dispatcher_.requests()[0].deadline, dispatched_at + parameters_.max_sync_event_duration);

  clock_.Advance(parameters_.max_sync_event_duration - absl::Seconds(1));
  EXPECT_EQ(Find("t")->state, SyncState::kFiring) << "timed out early";
  clock_.Advance(absl::Seconds(1));

  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kWaiting);
  EXPECT_EQ(r->last_failure, O::kTimedOut);
  EXPECT_EQ(r->num_attempts, 1);
  EXPECT_EQ(r->next_attempt_time, dispatched_at + parameters_.max_sync_event_duration + DefaultDelay(1));
  ExpectMemoryEqualsDisk();
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 0);

  // The worker finally answers: too late.
  dispatcher_.Settle(0, O::kCompleted);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  r = Find("t");
  ASSERT_TRUE(r) << "a late kCompleted removed the registration";
  EXPECT_EQ(r->state, SyncState::kWaiting);
  EXPECT_EQ(r->num_attempts, 1);
  EXPECT_EQ(dispatcher_.count(), 1u);
  ExpectMemoryEqualsDisk();

  // And the retry happens on schedule.
  clock_.Advance(DefaultDelay(1));
  EXPECT_EQ(dispatcher_.count(), 2u);
}

TEST_F(EngineStateTest, LateReplyAfterTimeoutDoesNotSettleTheNextAttempt) {
  ASSERT_TRUE(Register("t").ok());
  clock_.Advance(parameters_.max_sync_event_duration);
  ASSERT_EQ(Find("t")->state, SyncState::kWaiting);
  // Re-registering fires a new attempt at once; the first event's late reply must not settle it.
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(dispatcher_.count(), 2u);
  dispatcher_.Settle(0, O::kCompleted);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  std::optional<SyncRegistration> r = Find("t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kFiring);
  dispatcher_.Settle(1, O::kCompleted);
  EXPECT_FALSE(Find("t"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, OutcomeBeforeDeadlineCancelsTheTimeout) {
  ASSERT_TRUE(Register("done").ok());
  ASSERT_TRUE(Register("failed").ok());
  ASSERT_EQ(dispatcher_.count(), 2u);
  dispatcher_.Settle(0, O::kCompleted);
  dispatcher_.Settle(1, O::kRejected);
  clock_.Advance(parameters_.max_sync_event_duration + absl::Seconds(1));
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 0);
  EXPECT_FALSE(Find("done"));
  std::optional<SyncRegistration> r = Find("failed");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num_attempts, 1) << "the deadline counted a second failure";
  EXPECT_EQ(r->last_failure, O::kRejected);
  EXPECT_EQ(r->state, SyncState::kWaiting);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, EveryFailureOutcomeCountsAsFailedAttemptAndCompletedRemoves) {
  // kTimedOut here is reported by the dispatcher itself; the engine's own deadline is covered above.
  const O kFailures[] = {O::kRejected, O::kAborted, O::kWorkerCrashed, O::kDispatchFailed, O::kTimedOut};
  size_t index = 0;
  for (O outcome : kFailures) {
    const std::string tag(SyncEventOutcomeName(outcome));
    SCOPED_TRACE(tag);
    ASSERT_TRUE(Register(tag).ok());
    ASSERT_EQ(dispatcher_.count(), index + 1);
    dispatcher_.Settle(index++, outcome);
    std::optional<SyncRegistration> r = Find(tag);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, SyncState::kWaiting);
    EXPECT_EQ(r->num_attempts, 1);
    EXPECT_EQ(r->last_failure, outcome);
    EXPECT_EQ(r->next_attempt_time, clock_.Now() + DefaultDelay(1));
  }
  ExpectMemoryEqualsDisk();

  // Every one of them retries once (not twice: no outcome was counted again at its deadline); completing each
  // removes it.
  clock_.Advance(DefaultDelay(1));
  ASSERT_EQ(dispatcher_.count(), 2 * std::size(kFailures));
  for (size_t i = std::size(kFailures); i < dispatcher_.count(); ++i) {
    dispatcher_.Settle(i, O::kCompleted);
    EXPECT_FALSE(Find(dispatcher_.requests()[i].tag)) << dispatcher_.requests()[i].tag;
  }
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  EXPECT_THAT(*GetTags(), IsEmpty());
  ExpectMemoryEqualsDisk();
}

// Regression: a kTimedOut reported by the dispatcher itself used to leave the engine's own deadline timer
// armed (the engine assumed kTimedOut could only come from that timer), so the deadline later counted a late
// outcome that never arrived.
TEST_F(EngineStateTest, DispatcherReportedTimeoutCancelsTheEngineDeadline) {
  ASSERT_TRUE(Register("t").ok());
  dispatcher_.Settle(0, O::kTimedOut);
  ASSERT_EQ(Find("t")->state, SyncState::kWaiting);
  clock_.Advance(parameters_.max_sync_event_duration);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 0) << "the engine's deadline timer still ran";
  EXPECT_EQ(Find("t")->num_attempts, 1);
}

// The control for the test above: a dispatcher-reported failure other than kTimedOut cancels the deadline.
TEST_F(EngineStateTest, DispatcherReportedFailureCancelsTheEngineDeadline) {
  ASSERT_TRUE(Register("t").ok());
  dispatcher_.Settle(0, O::kAborted);
  ASSERT_EQ(Find("t")->state, SyncState::kWaiting);
  clock_.Advance(parameters_.max_sync_event_duration);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 0);
  EXPECT_EQ(Find("t")->num_attempts, 1);
}

TEST_F(EngineStateTest, TimeoutOnLastChanceRemovesRegistration) {
  parameters_.max_sync_attempts = 1;
  RestartEngine();
  ASSERT_TRUE(Register("t").ok());
  ASSERT_TRUE(dispatcher_.requests()[0].last_chance);
  clock_.Advance(parameters_.max_sync_event_duration);
  EXPECT_FALSE(Find("t"));
  dispatcher_.Settle(0, O::kRejected);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  EXPECT_FALSE(Find("t"));
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(dispatcher_.count(), 1u);
  ExpectMemoryEqualsDisk();
}

// ---------------------------------------------------------------------------------------------------------------
// The acknowledgement step (decision 2).

TEST_F(EngineStateTest, AckFromAnotherOriginIsNotFoundAndDoesNotFire) {
  constexpr ClientId kClient = 7;
  ASSERT_TRUE(Register("t", kClient).ok());
  EXPECT_EQ(ErrorOf(engine().DidResolveRegistration(other_origin_, kClient, Key("t"))),
            E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(ErrorOf(engine().DidResolveRegistration(origin_, kClient, Key("t", /*sw=*/99))),
            E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_FALSE(Find("t")->resolved);

  // Acknowledging another tag, or the same tag of the other type, is OK but does not release this one.
  EXPECT_TRUE(engine().DidResolveRegistration(origin_, kClient, Key("other")).ok());
  EXPECT_TRUE(engine().DidResolveRegistration(origin_, kClient, Key("t", kSw, SyncType::kPeriodic)).ok());
  engine().OnNetworkChanged();
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_FALSE(Find("t")->resolved);

  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kClient, Key("t")).ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_TRUE(Find("t")->resolved);
  // A duplicate acknowledgement changes nothing.
  EXPECT_TRUE(engine().DidResolveRegistration(origin_, kClient, Key("t")).ok());
  EXPECT_EQ(dispatcher_.count(), 1u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, AckWhileOfflineFiresWhenOnline) {
  constexpr ClientId kClient = 7;
  network_.SetOnline(false);
  ASSERT_TRUE(Register("t", kClient).ok());
  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kClient, Key("t")).ok());
  EXPECT_EQ(dispatcher_.count(), 0u);
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineStateTest, DuplicateRegisterBySecondClientNeedsThatClientsAck) {
  constexpr ClientId kFirst = 7;
  constexpr ClientId kSecond = 8;
  network_.SetOnline(false);
  ASSERT_TRUE(Register("t", kFirst).ok());
  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kFirst, Key("t")).ok());
  ASSERT_TRUE(Find("t")->resolved);

  // A second page registers the same tag: the registration now waits for that page's acknowledgement.
  ASSERT_TRUE(Register("t", kSecond).ok());
  EXPECT_FALSE(Find("t")->resolved);
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 0u);
  // The first client going away does not stand in for the second's acknowledgement.
  engine().OnClientDisconnected(kFirst);
  EXPECT_EQ(dispatcher_.count(), 0u);

  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kSecond, Key("t")).ok());
  EXPECT_EQ(dispatcher_.count(), 1u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, LateAckFromFirstClientDoesNotReleaseSecondClientsRegistration) {
  constexpr ClientId kFirst = 7;
  constexpr ClientId kSecond = 8;
  ASSERT_TRUE(Register("t", kFirst).ok());
  ASSERT_TRUE(Register("t", kSecond).ok());
  // The first page's acknowledgement arrives after the second page registered the same tag.
  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kFirst, Key("t")).ok());
  EXPECT_EQ(dispatcher_.count(), 0u) << "fired before the second client saw its result";
  EXPECT_FALSE(Find("t")->resolved);
  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kSecond, Key("t")).ok());
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineStateTest, DuplicateRegisterBySecondClientFiresWhenThatClientDisconnects) {
  constexpr ClientId kFirst = 7;
  constexpr ClientId kSecond = 8;
  ASSERT_TRUE(Register("t", kFirst).ok());
  ASSERT_TRUE(Register("t", kSecond).ok());
  engine().OnClientDisconnected(kFirst);
  EXPECT_EQ(dispatcher_.count(), 0u) << "fired without the second client's acknowledgement";
  engine().OnClientDisconnected(kSecond);
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineStateTest, ReregisterWhileFiringByClientWaitsForItsAckBeforeFiringAgain) {
  constexpr ClientId kClient = 7;
  ASSERT_TRUE(Register("t").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  ASSERT_TRUE(Register("t", kClient).ok());
  ASSERT_EQ(Find("t")->state, SyncState::kReregisteredWhileFiring);
  dispatcher_.Settle(0, O::kCompleted);
  EXPECT_EQ(Find("t")->state, SyncState::kPending);
  EXPECT_EQ(dispatcher_.count(), 1u);
  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kClient, Key("t")).ok());
  EXPECT_EQ(dispatcher_.count(), 2u);
}

TEST_F(EngineStateTest, ReregisterWaitingByClientWaitsForAckEvenPastOldBackoff) {
  constexpr ClientId kClient = 7;
  MakeWaiting("t");
  ASSERT_TRUE(Register("t", kClient).ok());
  EXPECT_EQ(Find("t")->state, SyncState::kPending);
  clock_.Advance(DefaultDelay(1) + absl::Seconds(1));
  EXPECT_EQ(dispatcher_.count(), 1u) << "fired before the client acknowledged";
  engine().OnClientDisconnected(kClient);
  EXPECT_EQ(dispatcher_.count(), 2u);
}

// ---------------------------------------------------------------------------------------------------------------
// Connectivity.

TEST_F(EngineStateTest, GoingOnlineFiresEveryPendingRegistrationExactlyOnce) {
  constexpr int64_t kSw2 = 2;
  registry_.Add(kSw2, origin_);
  network_.SetOnline(false);
  for (const char* tag : {"a", "b", "c"})
    ASSERT_TRUE(Register(tag).ok());
  for (const char* tag : {"d", "e"})
    ASSERT_TRUE(Register(tag, 0, kSw2).ok());
  engine().OnNetworkChanged();  // still offline
  EXPECT_EQ(dispatcher_.count(), 0u);

  network_.SetOnline(true);
  engine().OnNetworkChanged();
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 5u);
  std::set<std::pair<int64_t, std::string>> fired;
  for (const SyncEventRequest& event : dispatcher_.requests())
    fired.insert({event.sw_registration_id, event.tag});
  EXPECT_THAT(fired, UnorderedElementsAre(std::make_pair(kSw, std::string("a")), std::make_pair(kSw, std::string("b")),
                                          std::make_pair(kSw, std::string("c")), std::make_pair(kSw2, std::string("d")),
                                          std::make_pair(kSw2, std::string("e"))));
  for (const SyncRegistration& r : engine().GetAllRegistrations())
    EXPECT_EQ(r.state, SyncState::kFiring) << r.key.tag;
  EXPECT_EQ(engine().GetCounters().events_dispatched, 5);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ServiceWorkerOfflineBlocksOnlyThatServiceWorker) {
  constexpr int64_t kSw2 = 2;
  registry_.Add(kSw2, origin_);
  network_.SetServiceWorkerOffline(kSw2, true);
  ASSERT_TRUE(Register("a").ok());
  ASSERT_TRUE(Register("b", 0, kSw2).ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].sw_registration_id, kSw);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(Find("b", kSw2)->state, SyncState::kPending);

  network_.SetServiceWorkerOffline(kSw2, false);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(dispatcher_.requests()[1].sw_registration_id, kSw2);
  EXPECT_EQ(dispatcher_.requests()[1].tag, "b");
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ConnectivityIsRecheckedAtDispatch) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("p").ok());
  network_.SetOnline(true);

  // Keep the service worker's queue busy with a Register whose write is held, so that the fire decided now
  // runs only after the network is gone again.
  storage_->HoldWhere([](const StorageBatch&) { return true; });
  Result<absl::Status> registered;
  RegisterAsync("q", registered);
  EXPECT_FALSE(registered.ready());  // no ASSERT while commits are held: the callback writes to `registered`
  engine().OnNetworkChanged();       // online: queues a fire of "p" behind the held Register
  EXPECT_EQ(dispatcher_.count(), 0u);
  network_.SetOnline(false);
  storage_->Release();
  ASSERT_TRUE(registered.ready());
  ASSERT_TRUE(registered.value->ok());

  EXPECT_EQ(dispatcher_.count(), 0u) << "dispatched although offline at dispatch time";
  std::optional<SyncRegistration> p = Find("p");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->state, SyncState::kPending);
  EXPECT_EQ(p->num_attempts, 0);
  EXPECT_EQ(Find("q")->state, SyncState::kPending);
  ExpectMemoryEqualsDisk();

  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 2u);
}

TEST_F(EngineStateTest, GoingOnlineDoesNotFireWaitingBeforeBackoff) {
  MakeWaiting("t");
  const absl::Time retry = Find("t")->next_attempt_time;
  network_.SetOnline(false);
  engine().OnNetworkChanged();
  clock_.Advance(absl::Minutes(1));
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(Find("t")->state, SyncState::kWaiting);

  clock_.Advance(retry - clock_.Now());
  EXPECT_EQ(dispatcher_.count(), 2u);
}

TEST_F(EngineStateTest, BackoffElapsedWhileOfflineFiresOnReconnect) {
  MakeWaiting("t");
  network_.SetOnline(false);
  clock_.Advance(DefaultDelay(1) + absl::Minutes(1));
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(Find("t")->state, SyncState::kWaiting);
  EXPECT_EQ(Find("t")->num_attempts, 1) << "an attempt was spent while offline";

  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_FALSE(dispatcher_.requests()[1].last_chance);
  ExpectMemoryEqualsDisk();
}

// ---------------------------------------------------------------------------------------------------------------
// The service-worker registration goes away (decision 5).

TEST_F(EngineStateTest, UnregisterDuringEventDeletesAndIgnoresTheOutcome) {
  constexpr int64_t kSw2 = 2;
  registry_.Add(kSw2, origin_);
  network_.SetServiceWorkerOffline(kSw2, true);  // "keep" stays pending: only "t" has an event
  ASSERT_TRUE(Register("t").ok());
  ASSERT_TRUE(RegisterPeriodic("u", absl::Hours(12)).ok());
  ASSERT_TRUE(Register("keep", 0, kSw2).ok());
  ASSERT_EQ(dispatcher_.count(), 1u);

  ASSERT_TRUE(UnregisterServiceWorker(kSw).ok());
  EXPECT_FALSE(Find("t"));
  EXPECT_FALSE(Find("u", kSw, SyncType::kPeriodic));
  ASSERT_TRUE(Find("keep", kSw2));
  std::vector<SyncRegistration> disk = DiskRegistrations();
  ASSERT_EQ(disk.size(), 1u);
  EXPECT_EQ(disk[0].key.tag, "keep");

  // The event of "t" fails afterwards: ignored, nothing re-created, no retry.
  dispatcher_.Settle(0, O::kRejected);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  EXPECT_FALSE(Find("t"));
  ExpectMemoryEqualsDisk();
  clock_.Advance(absl::Hours(24));
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_FALSE(Find("t"));
  EXPECT_EQ(engine().GetAllRegistrations().size(), 1u);

  EXPECT_EQ(ErrorOf(GetTags(kSw).status()), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(ErrorOf(GetTags(kSw, SyncType::kPeriodic).status()), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(ErrorOf(Register("t")), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_THAT(*GetTags(kSw2), ElementsAre("keep"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, UnregisterDuringEventThenTimeoutIsIgnored) {
  ASSERT_TRUE(Register("t").ok());
  ASSERT_TRUE(UnregisterServiceWorker(kSw).ok());
  clock_.Advance(parameters_.max_sync_event_duration);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  dispatcher_.Settle(0, O::kCompleted);  // even later
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 2);
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  EXPECT_TRUE(DiskRegistrations().empty());
}

TEST_F(EngineStateTest, UnregisterCancelsPendingRetry) {
  MakeWaiting("t");
  ASSERT_EQ(clock_.PendingTimers(), 1u);  // the retry wake-up
  ASSERT_TRUE(UnregisterServiceWorker(kSw).ok());
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  EXPECT_EQ(clock_.PendingTimers(), 0u) << "a wake-up is left behind for a deleted registration";
  clock_.Advance(absl::Hours(24));
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_TRUE(DiskRegistrations().empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Tags (decision 6).

TEST_F(EngineStateTest, TagOfMaxLengthIsAcceptedAndOneByteMoreIsRejected) {
  const std::string longest(kMaxTagLengthBytes, 'x');
  ASSERT_EQ(longest.size(), 10240u);
  ASSERT_TRUE(Register(longest).ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, longest);

  const std::string too_long(kMaxTagLengthBytes + 1, 'y');
  EXPECT_EQ(ErrorOf(Register(too_long)), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  EXPECT_FALSE(Find(too_long));
  EXPECT_THAT(*GetTags(), ElementsAre(longest));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, TagLengthIsCountedInUtf8Bytes) {
  std::string two_byte_chars;
  for (size_t i = 0; i < kMaxTagLengthBytes / 2; ++i)
    two_byte_chars += "\xC3\xA9";  // é
  ASSERT_EQ(two_byte_chars.size(), kMaxTagLengthBytes);
  EXPECT_TRUE(Register(two_byte_chars).ok());
  EXPECT_EQ(ErrorOf(Register(two_byte_chars + "a")), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  // 5,121 characters but 10,242 bytes.
  EXPECT_EQ(ErrorOf(Register(two_byte_chars + "\xC3\xA9")), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  EXPECT_EQ(engine().GetAllRegistrations().size(), 1u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, EmptyTagIsValidAndFires) {
  ASSERT_TRUE(Register("").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "");
  EXPECT_THAT(*GetTags(), ElementsAre(""));
  ExpectMemoryEqualsDisk();
  dispatcher_.SettleLast(O::kCompleted);
  EXPECT_FALSE(Find(""));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, MalformedUtf8TagIsInvalidArgument) {
  for (const std::string& tag : {std::string("\xC3"), std::string("ok\xC3"), std::string("\xC0\xAF"),
                                 std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80")}) {
    absl::Status status = Register(tag);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  }
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  EXPECT_TRUE(DiskRegistrations().empty());
  EXPECT_EQ(dispatcher_.count(), 0u);
}

// ---------------------------------------------------------------------------------------------------------------
// Quotas (decision 6).

TEST_F(EngineStateTest, PerServiceWorkerQuota) {
  parameters_.max_registrations_per_service_worker = 3;
  RestartEngine();
  ASSERT_TRUE(Register("a").ok());
  ASSERT_TRUE(Register("b").ok());
  ASSERT_TRUE(Register("c").ok());
  ASSERT_EQ(dispatcher_.count(), 3u);
  const int commits = Commits();
  EXPECT_EQ(ErrorOf(Register("d")), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  EXPECT_EQ(Commits(), commits);
  EXPECT_FALSE(Find("d"));
  // Periodic registrations count against the same quota.
  EXPECT_EQ(ErrorOf(RegisterPeriodic("p", absl::Hours(12))), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  // Re-registering an existing tag at the limit is fine.
  EXPECT_TRUE(Register("b").ok());
  EXPECT_EQ(Find("b")->state, SyncState::kReregisteredWhileFiring);
  ExpectMemoryEqualsDisk();

  // "a" completes: there is room for one more.
  dispatcher_.Settle(0, O::kCompleted);
  ASSERT_FALSE(Find("a"));
  EXPECT_TRUE(Register("d").ok());
  EXPECT_EQ(ErrorOf(Register("e")), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  EXPECT_THAT(*GetTags(), ElementsAre("b", "c", "d"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, PerServiceWorkerQuotaIsPerServiceWorker) {
  parameters_.max_registrations_per_service_worker = 2;
  RestartEngine();
  constexpr int64_t kSw2 = 2;
  registry_.Add(kSw2, origin_);
  network_.SetOnline(false);
  ASSERT_TRUE(Register("a").ok());
  ASSERT_TRUE(Register("b").ok());
  EXPECT_EQ(ErrorOf(Register("c")), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  EXPECT_TRUE(Register("a", 0, kSw2).ok());
  EXPECT_TRUE(Register("b", 0, kSw2).ok());
  EXPECT_EQ(ErrorOf(Register("c", 0, kSw2)), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, PerOriginQuotaAcrossServiceWorkers) {
  parameters_.max_registrations_per_origin = 3;
  RestartEngine();
  constexpr int64_t kSw2 = 2;
  constexpr int64_t kOtherSw = 3;
  registry_.Add(kSw2, origin_);
  registry_.Add(kOtherSw, other_origin_);
  network_.SetOnline(false);

  ASSERT_TRUE(Register("a").ok());
  ASSERT_TRUE(Register("b").ok());
  ASSERT_TRUE(Register("c", 0, kSw2).ok());
  EXPECT_EQ(ErrorOf(Register("d")), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  EXPECT_EQ(ErrorOf(Register("d", 0, kSw2)), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  EXPECT_EQ(ErrorOf(RegisterPeriodic("p", absl::Hours(12), kSw2)), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  EXPECT_TRUE(Register("a").ok());           // existing
  EXPECT_TRUE(Register("c", 0, kSw2).ok());  // existing

  // Another origin has its own quota.
  for (const char* tag : {"x", "y", "z"})
    EXPECT_TRUE(Register(tag, 0, kOtherSw, SyncType::kOneShot, other_origin_).ok()) << tag;
  EXPECT_EQ(ErrorOf(Register("w", 0, kOtherSw, SyncType::kOneShot, other_origin_)),
            E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  ExpectMemoryEqualsDisk();

  // Unregistering one of the origin's service workers frees its share.
  ASSERT_TRUE(UnregisterServiceWorker(kSw2).ok());
  EXPECT_TRUE(Register("d").ok());
  EXPECT_EQ(ErrorOf(Register("e")), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, PerOriginQuotaCountsRegistrationsBeingWritten) {
  parameters_.max_registrations_per_origin = 1;
  RestartEngine();
  constexpr int64_t kSw2 = 2;
  registry_.Add(kSw2, origin_);
  storage_->HoldWhere([](const StorageBatch&) { return true; });
  Result<absl::Status> first;
  Result<absl::Status> second;
  RegisterAsync("a", first);
  RegisterAsync("b", second, kSw2);  // another service worker: not queued behind the first
  // No ASSERT while commits are held: the callbacks write to these locals when they are released.
  EXPECT_TRUE(second.ready()) << "the second service worker's Register was not answered at once";
  EXPECT_FALSE(first.ready());
  storage_->Release();
  ASSERT_TRUE(second.ready());
  EXPECT_EQ(ErrorOf(*second.value), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  ASSERT_TRUE(first.ready());
  EXPECT_TRUE(first.value->ok());
  EXPECT_EQ(ErrorOf(Register("c", 0, kSw2)), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, FailedCreateDoesNotUseQuota) {
  parameters_.max_registrations_per_service_worker = 1;
  parameters_.max_registrations_per_origin = 1;
  RestartEngine();
  storage_->FailNextCommits(1);
  EXPECT_EQ(ErrorOf(Register("a")), E::BACKGROUND_SYNC_ERROR_STORAGE);
  EXPECT_FALSE(Find("a"));
  EXPECT_TRUE(Register("b").ok());
  ExpectMemoryEqualsDisk();
}

// ---------------------------------------------------------------------------------------------------------------
// One-shot and periodic sharing a tag.

TEST_F(EngineStateTest, OneShotAndPeriodicWithTheSameTagAreIndependent) {
  ASSERT_TRUE(Register("t", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(12)).ok());
  EXPECT_EQ(dispatcher_.count(), 0u) << "a periodic registration fired on registration";
  ASSERT_TRUE(Register("t").ok());
  ASSERT_TRUE(Register("only-periodic", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(24)).ok());

  std::optional<SyncRegistration> periodic = Find("t", kSw, SyncType::kPeriodic);
  std::optional<SyncRegistration> one_shot = Find("t");
  ASSERT_TRUE(periodic);
  ASSERT_TRUE(one_shot);
  EXPECT_EQ(periodic->min_interval, absl::Hours(12));
  EXPECT_EQ(periodic->state, SyncState::kPending);
  EXPECT_EQ(one_shot->state, SyncState::kFiring);
  EXPECT_EQ(one_shot->min_interval, absl::ZeroDuration());

  EXPECT_THAT(*GetTags(kSw, SyncType::kOneShot), ElementsAre("t"));
  EXPECT_THAT(*GetTags(kSw, SyncType::kPeriodic), ElementsAre("only-periodic", "t"));

  // Completing the one-shot leaves the periodic one alone.
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].type, SyncType::kOneShot);
  dispatcher_.Settle(0, O::kCompleted);
  EXPECT_FALSE(Find("t"));
  ASSERT_TRUE(Find("t", kSw, SyncType::kPeriodic));

  // The periodic registration fires on its own schedule, as a periodic event, and stays registered.
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
  clock_.Advance(absl::Hours(12));
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(dispatcher_.requests()[1].type, SyncType::kPeriodic);
  EXPECT_EQ(dispatcher_.requests()[1].tag, "t");
  dispatcher_.Settle(1, O::kCompleted);
  EXPECT_EQ(Find("t", kSw, SyncType::kPeriodic)->state, SyncState::kPending);
  EXPECT_THAT(*GetTags(kSw, SyncType::kOneShot), IsEmpty());
  EXPECT_THAT(*GetTags(kSw, SyncType::kPeriodic), ElementsAre("only-periodic", "t"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, PeriodicReregisterWithNewIntervalUpdatesIt) {
  ASSERT_TRUE(RegisterPeriodic("t", absl::Hours(12)).ok());
  const int commits = Commits();
  ASSERT_TRUE(RegisterPeriodic("t", absl::Hours(12)).ok());
  EXPECT_EQ(Commits(), commits) << "same interval re-registration wrote";

  ASSERT_TRUE(RegisterPeriodic("t", absl::Hours(36)).ok());
  EXPECT_EQ(Commits(), commits + 1);
  std::optional<SyncRegistration> r = Find("t", kSw, SyncType::kPeriodic);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->min_interval, absl::Hours(36));
  std::vector<SyncRegistration> disk = DiskRegistrations();
  ASSERT_EQ(disk.size(), 1u);
  EXPECT_EQ(disk[0].key.type, SyncType::kPeriodic);
  EXPECT_EQ(disk[0].min_interval, absl::Hours(36));

  // Zero is a valid minInterval too.
  ASSERT_TRUE(RegisterPeriodic("t", absl::ZeroDuration()).ok());
  EXPECT_EQ(Find("t", kSw, SyncType::kPeriodic)->min_interval, absl::ZeroDuration());
  EXPECT_EQ(DiskRegistrations()[0].min_interval, absl::ZeroDuration());
  EXPECT_EQ(dispatcher_.count(), 0u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, InvalidMinIntervalIsInvalidArgument) {
  EXPECT_EQ(Register("t", 0, kSw, SyncType::kOneShot, std::nullopt, absl::Seconds(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RegisterPeriodic("t", -absl::Milliseconds(1)).code(), absl::StatusCode::kInvalidArgument);
  // Also when the registration already exists: the existing value is untouched.
  ASSERT_TRUE(RegisterPeriodic("p", absl::Hours(12)).ok());
  EXPECT_EQ(RegisterPeriodic("p", -absl::Hours(1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Find("p", kSw, SyncType::kPeriodic)->min_interval, absl::Hours(12));
  EXPECT_FALSE(Find("t"));
  EXPECT_FALSE(Find("t", kSw, SyncType::kPeriodic));
  EXPECT_EQ(dispatcher_.count(), 0u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, PeriodicPermissionIsSeparateFromOneShot) {
  permissions_.Set(origin_, SyncType::kPeriodic, PermissionStatus::kDenied);
  EXPECT_EQ(ErrorOf(RegisterPeriodic("t", absl::Hours(12))), E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  EXPECT_TRUE(Register("t").ok());
  EXPECT_FALSE(Find("t", kSw, SyncType::kPeriodic));
  ExpectMemoryEqualsDisk();
}

// ---------------------------------------------------------------------------------------------------------------
// Shutdown and the disabled switch.

TEST_F(EngineStateTest, ShutdownAnswersShutDown) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("t").ok());
  engine().Shutdown();
  EXPECT_EQ(ErrorOf(Register("u")), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  EXPECT_EQ(ErrorOf(Register("t")), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  EXPECT_EQ(ErrorOf(GetTags().status()), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  EXPECT_EQ(ErrorOf(GetTags(kSw, SyncType::kPeriodic).status()), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  engine().Shutdown();  // idempotent
  EXPECT_EQ(ErrorOf(Register("u")), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);

  // Nothing fires after shutdown.
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_EQ(Find("t")->state, SyncState::kPending);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, ShutdownAbandonsEventsInFlightAndRetries) {
  ASSERT_TRUE(Register("firing").ok());
  MakeWaiting("waiting");
  ASSERT_EQ(dispatcher_.count(), 2u);
  engine().Shutdown();

  clock_.Advance(absl::Hours(1));  // neither the retry nor the timeout runs
  EXPECT_EQ(dispatcher_.count(), 2u);
  dispatcher_.Settle(0, O::kCompleted);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 1);
  // The abandoned event stays recorded as firing (it is an interrupted attempt at the next start).
  EXPECT_EQ(Find("firing")->state, SyncState::kFiring);
  EXPECT_EQ(Find("waiting")->state, SyncState::kWaiting);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStateTest, DisabledAnswersShutDownAndFiresNothing) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("stored").ok());
  parameters_.disabled = true;
  RestartEngine();
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_EQ(ErrorOf(Register("t")), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  EXPECT_EQ(ErrorOf(RegisterPeriodic("p", absl::Hours(12))), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  EXPECT_EQ(ErrorOf(GetTags().status()), E::BACKGROUND_SYNC_ERROR_SHUT_DOWN);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(dispatcher_.count(), 0u);
  ASSERT_TRUE(Find("stored"));
  EXPECT_EQ(Find("stored")->state, SyncState::kPending);
  ExpectMemoryEqualsDisk();
}

}  // namespace
}  // namespace bgsync
