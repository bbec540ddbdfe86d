// The engine's core story: register, acknowledge, fire, settle, retry. Storage, restart and concurrency cases
// live in background_sync_engine_storage_unittest.cc.
#include "components/background_sync/background_sync_engine.h"

#include "components/background_sync/testing/engine_test_fixture.h"
#include "gmock/gmock.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using E = BackgroundSyncError;

TEST_F(EngineTest, RegisterWhileOnlineFiresOnce) {
  ASSERT_TRUE(Register("outbox").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  SyncEventRequest event = dispatcher_.requests()[0];
  EXPECT_EQ(event.tag, "outbox");
  EXPECT_EQ(event.sw_registration_id, kSw);
  EXPECT_EQ(event.origin, origin_);
  EXPECT_FALSE(event.last_chance);
  EXPECT_EQ(event.deadline, clock_.Now() + parameters_.max_sync_event_duration);
  EXPECT_EQ(Find("outbox")->state, SyncState::kFiring);

  dispatcher_.SettleLast(SyncEventOutcome::kCompleted);
  EXPECT_FALSE(Find("outbox"));
  EXPECT_THAT(*GetTags(), IsEmpty());
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineTest, RegisterWhileOfflineWaitsForConnectivity) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("outbox").ok());
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_EQ(Find("outbox")->state, SyncState::kPending);
  EXPECT_THAT(*GetTags(), ElementsAre("outbox"));

  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 1u);
  // A second notification while firing does not dispatch again.
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineTest, FailureRetriesAfterBackoffWithLastChanceOnFinalAttempt) {
  ASSERT_TRUE(Register("outbox").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_FALSE(dispatcher_.requests()[0].last_chance);

  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  std::optional<SyncRegistration> r = Find("outbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kWaiting);
  EXPECT_EQ(r->num_attempts, 1);
  EXPECT_EQ(r->next_attempt_time, clock_.Now() + absl::Minutes(5));
  EXPECT_EQ(r->last_failure, SyncEventOutcome::kRejected);
  ExpectMemoryEqualsDisk();

  clock_.Advance(absl::Minutes(5) - absl::Seconds(1));
  EXPECT_EQ(dispatcher_.count(), 1u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_FALSE(dispatcher_.requests()[1].last_chance);

  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  EXPECT_EQ(Find("outbox")->next_attempt_time, clock_.Now() + absl::Minutes(15));
  clock_.Advance(absl::Minutes(15));
  ASSERT_EQ(dispatcher_.count(), 3u);
  EXPECT_TRUE(dispatcher_.requests()[2].last_chance);

  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  EXPECT_FALSE(Find("outbox"));
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(dispatcher_.count(), 3u);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineTest, NoFireBeforeAcknowledgement) {
  constexpr ClientId kClient = 7;
  ASSERT_TRUE(Register("outbox", kClient).ok());
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_FALSE(Find("outbox")->resolved);
  ASSERT_TRUE(engine().DidResolveRegistration(origin_, kClient, {kSw, SyncType::kOneShot, "outbox"}).ok());
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineTest, ClientDisconnectWithoutAcknowledgementMakesItFireable) {
  constexpr ClientId kClient = 7;
  ASSERT_TRUE(Register("outbox", kClient).ok());
  engine().OnClientDisconnected(8);  // someone else
  EXPECT_EQ(dispatcher_.count(), 0u);
  engine().OnClientDisconnected(kClient);
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineTest, RegisterErrors) {
  EXPECT_EQ(ErrorOf(Register("t", 0, /*sw=*/99)), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(ErrorOf(Register("t", 0, kSw, SyncType::kOneShot, other_origin_)),
            E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  registry_.SetActive(kSw, false);
  EXPECT_EQ(ErrorOf(Register("t")), E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER);
  registry_.SetActive(kSw, true);
  permissions_.Set(origin_, SyncType::kOneShot, PermissionStatus::kDenied);
  EXPECT_EQ(ErrorOf(Register("t")), E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  permissions_.Set(origin_, SyncType::kOneShot, PermissionStatus::kGranted);
  registry_.SetWindowOpen(origin_, false);
  EXPECT_EQ(ErrorOf(Register("t")), E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW);
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  EXPECT_TRUE(DiskRegistrations().empty());
}

TEST_F(EngineTest, RevokedPermissionRemovesThatOriginsPeriodicRegistrations) {
  network_.SetOnline(false);
  registry_.Add(2, origin_);
  registry_.Add(3, other_origin_);
  ASSERT_TRUE(Register("news", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(12)).ok());
  ASSERT_TRUE(Register("weather", 0, 2, SyncType::kPeriodic, std::nullopt, absl::Hours(24)).ok());
  ASSERT_TRUE(Register("news", 0, 3, SyncType::kPeriodic, other_origin_, absl::Hours(12)).ok());
  ASSERT_TRUE(Register("outbox").ok());

  Result<absl::Status> done;
  engine().OnPermissionRevoked(origin_, done.callback());
  ASSERT_TRUE(done.ready());
  EXPECT_TRUE(done.value->ok());
  EXPECT_FALSE(Find("news", kSw, SyncType::kPeriodic));
  EXPECT_FALSE(Find("weather", 2, SyncType::kPeriodic));
  EXPECT_TRUE(Find("news", 3, SyncType::kPeriodic)) << "another origin's registration was removed";
  EXPECT_TRUE(Find("outbox")) << "one-shot registrations are not affected";
  ExpectMemoryEqualsDisk();
  RestartEngine();
  EXPECT_EQ(engine().GetAllRegistrations().size(), 2u);
}

TEST_F(EngineTest, RevocationThatCannotBeStoredKeepsMemoryEqualToDisk) {
  ASSERT_TRUE(Register("news", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(12)).ok());
  storage_->FailNextCommits(1);
  Result<absl::Status> done;
  engine().OnPermissionRevoked(origin_, done.callback());
  ASSERT_TRUE(done.ready());
  EXPECT_EQ(ErrorOf(*done.value), E::BACKGROUND_SYNC_ERROR_STORAGE);
  EXPECT_TRUE(Find("news", kSw, SyncType::kPeriodic));
  ExpectMemoryEqualsDisk();
}

TEST(DefaultPermissionControllerTest, PeriodicIsDeniedUntilGrantedOneShotFollowsTheOrigin) {
  DefaultPermissionController policy;
  const Origin secure = *Origin::Parse("https://mail.example");
  const Origin insecure = *Origin::Parse("http://mail.example");
  EXPECT_EQ(policy.GetPermission(secure, SyncType::kOneShot), PermissionStatus::kGranted);
  EXPECT_EQ(policy.GetPermission(insecure, SyncType::kOneShot), PermissionStatus::kDenied);
  EXPECT_EQ(policy.GetPermission(secure, SyncType::kPeriodic), PermissionStatus::kDenied);
}

}  // namespace
}  // namespace bgsync
