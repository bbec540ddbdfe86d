// FiringModel: the checks of the firing phase accept what the engine's rules allow and catch what they do not.
#include "test/crash_consistency/firing_model.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kHangSw = 1;
constexpr int64_t kRejectSw = 2;
constexpr int64_t kOtherSw = 3;

SyncRegistration Stored(int64_t sw, const std::string& tag, SyncState state, int attempts, int interruptions) {
  SyncRegistration r;
  r.key = {sw, SyncType::kOneShot, tag};
  r.state = state;
  r.num_attempts = attempts;
  r.max_attempts = 3;
  r.consecutive_interruptions = interruptions;
  return r;
}

class FiringModelTest : public ::testing::Test {
 protected:
  void Epoch(std::vector<SyncRegistration> stored, std::vector<Delivery> hang = {}, std::vector<Delivery> reject = {}) {
    absl::flat_hash_map<WorkerKind, std::vector<Delivery>> deliveries;
    deliveries[WorkerKind::kHang] = std::move(hang);
    deliveries[WorkerKind::kReject] = std::move(reject);
    model_.EndEpoch(stored, deliveries);
  }

  FiringModel model_{{3, 3}, {{kHangSw, WorkerKind::kHang}, {kRejectSw, WorkerKind::kReject}}};
};

TEST_F(FiringModelTest, ThreeInterruptionsInARowRemoveAHangingRegistration) {
  Epoch({Stored(kHangSw, "h", SyncState::kFiring, 0, 0)}, {{"h", false}});
  EXPECT_THAT(model_.OwedRefires(), ElementsAre("h"));
  Epoch({Stored(kHangSw, "h", SyncState::kFiring, 0, 1)}, {{"h", false}});
  Epoch({Stored(kHangSw, "h", SyncState::kFiring, 0, 2)}, {{"h", false}});
  EXPECT_THAT(model_.violations(), IsEmpty());
  EXPECT_EQ(model_.poison_pill_removals(), 1);
  EXPECT_EQ(model_.interruptions(), 2);
  EXPECT_EQ(model_.refired(), 2);
  EXPECT_THAT(model_.OwedRefires(), IsEmpty());
  EXPECT_EQ(model_.max_dispatches(), 3);

  // Removed at the last start: it must never be dispatched again.
  Epoch({}, {{"h", true}});
  ASSERT_THAT(model_.violations(), SizeIs(1));
  EXPECT_THAT(model_.violations()[0], HasSubstr("after it was removed"));
}

TEST_F(FiringModelTest, AnInterruptedEventFiringAgainWithoutDeliveryCountsAsRefired) {
  Epoch({Stored(kHangSw, "h", SyncState::kFiring, 0, 0)}, {{"h", false}});
  // Marked firing again, killed before the worker saw it.
  Epoch({Stored(kHangSw, "h", SyncState::kFiring, 0, 1)});
  EXPECT_THAT(model_.violations(), IsEmpty());
  EXPECT_EQ(model_.refired(), 1);
}

TEST_F(FiringModelTest, AHangingRegistrationMissingAfterAKillIsLost) {
  Epoch({Stored(kHangSw, "h", SyncState::kPending, 0, 0)});
  Epoch({});
  EXPECT_THAT(model_.lost(), ElementsAre("h"));
  ASSERT_THAT(model_.violations(), SizeIs(1));
  EXPECT_THAT(model_.violations()[0], HasSubstr("LOST"));
}

TEST_F(FiringModelTest, ADeliveredEventNotMarkedFiringIsAViolation) {
  Epoch({Stored(kHangSw, "h", SyncState::kPending, 0, 0)}, {{"h", false}});
  ASSERT_THAT(model_.violations(), SizeIs(1));
  EXPECT_THAT(model_.violations()[0], HasSubstr("not marked firing"));
}

TEST_F(FiringModelTest, RejectedUntilTheLastChanceIsRemovedWithinOneEpoch) {
  Epoch({}, {}, {{"j", false}, {"j", false}, {"j", true}});
  EXPECT_THAT(model_.violations(), IsEmpty());
  EXPECT_EQ(model_.exhausted_by_failures(), 1);
  EXPECT_THAT(model_.lost(), IsEmpty());
}

TEST_F(FiringModelTest, RejectionsAndAnInterruptionAcrossKills) {
  // Rejected once, then interrupted on its second attempt.
  Epoch({Stored(kRejectSw, "j", SyncState::kFiring, 1, 0)}, {}, {{"j", false}, {"j", false}});
  // Fires again (still attempt 2, not the last chance), rejected; the last chance is waiting at the kill.
  Epoch({Stored(kRejectSw, "j", SyncState::kWaiting, 2, 0)}, {}, {{"j", false}});
  // The last chance is rejected: gone.
  Epoch({}, {}, {{"j", true}});
  EXPECT_THAT(model_.violations(), IsEmpty());
  EXPECT_EQ(model_.refired(), 1);
  EXPECT_EQ(model_.exhausted_by_failures(), 1);
}

TEST_F(FiringModelTest, AttemptsThatMoveWithoutADeliveryAreAViolation) {
  Epoch({Stored(kRejectSw, "j", SyncState::kWaiting, 1, 0)});
  ASSERT_THAT(model_.violations(), SizeIs(1));
  EXPECT_THAT(model_.violations()[0], HasSubstr("failed attempts went from 0 to 1"));
}

TEST_F(FiringModelTest, AWrongLastChanceIsAViolation) {
  Epoch({Stored(kRejectSw, "j", SyncState::kWaiting, 2, 0)}, {}, {{"j", false}, {"j", true}});
  ASSERT_THAT(model_.violations(), SizeIs(1));
  EXPECT_THAT(model_.violations()[0], HasSubstr("lastChance=1 after 1 failed attempts"));
}

TEST_F(FiringModelTest, ARejectedRegistrationGoneBeforeItsLastChanceIsLost) {
  Epoch({}, {}, {{"j", false}, {"j", false}});
  EXPECT_THAT(model_.lost(), ElementsAre("j"));
}

TEST_F(FiringModelTest, AnAcknowledgedTagNeverSeenIsLost) {
  Epoch({Stored(kHangSw, "seen", SyncState::kPending, 0, 0)});
  model_.CheckAcknowledged({"seen", "never"});
  EXPECT_THAT(model_.lost(), ElementsAre("never"));
}

TEST_F(FiringModelTest, OtherServiceWorkersAreIgnored) {
  Epoch({Stored(kOtherSw, "probe", SyncState::kFiring, 0, 0)});
  Epoch({});
  EXPECT_THAT(model_.violations(), IsEmpty());
  EXPECT_EQ(model_.interruptions(), 0);
}

TEST(ExpectedLoadCountsTest, FiringRecordsAreInterruptedAndTheBoundRemovesSome) {
  std::vector<SyncRegistration> stored = {
      Stored(kHangSw, "pending", SyncState::kPending, 0, 0),      Stored(kHangSw, "first", SyncState::kFiring, 0, 0),
      Stored(kHangSw, "third", SyncState::kFiring, 0, 2),          // 3 failed attempts: removed
      Stored(kRejectSw, "third-early", SyncState::kFiring, 0, 2),  // likewise
      Stored(kRejectSw, "waiting", SyncState::kWaiting, 2, 0),
  };
  stored.back().max_attempts = 6;
  stored.push_back(Stored(kRejectSw, "kept", SyncState::kFiring, 0, 2));
  stored.back().max_attempts = 6;  // 3 of 6 attempts: kept, waiting
  const LoadCounts counts = ExpectedLoadCounts(stored, 3);
  EXPECT_EQ(counts.interrupted, 4);
  EXPECT_EQ(counts.exhausted, 2);
  EXPECT_EQ(counts.loaded, 4);
}

}  // namespace
}  // namespace bgsync
