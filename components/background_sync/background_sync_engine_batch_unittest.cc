// Draining a backlog: a service worker's ready registrations fire in one storage write and one dispatch, and the
// outcomes that arrive while its settle is queued are stored together, with every registration settled exactly as
// it would have been alone.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/testing/engine_test_fixture.h"
#include "gmock/gmock.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using O = SyncEventOutcome;

class EngineBatchTest : public EngineTest {
 protected:
  void TearDown() override {
    if (storage_)
      storage_->Release();
    EngineTest::TearDown();
  }

  int Commits() {
    absl::MutexLock lock(&storage_->mu);
    return storage_->commits;
  }

  // Registers `count` tags while offline; returns them.
  std::vector<std::string> RegisterOffline(int count) {
    network_.SetOnline(false);
    std::vector<std::string> tags;
    for (int i = 0; i < count; ++i) {
      tags.push_back(absl::StrCat("tag-", i));
      EXPECT_TRUE(Register(tags.back()).ok());
    }
    return tags;
  }
};

TEST_F(EngineBatchTest, ReadyRegistrationsOfAServiceWorkerFireInOneWrite) {
  const std::vector<std::string> tags = RegisterOffline(5);
  ASSERT_EQ(dispatcher_.count(), 0u);
  const int commits = Commits();

  network_.SetOnline(true);
  engine().OnNetworkChanged();

  EXPECT_EQ(Commits(), commits + 1);
  ASSERT_EQ(dispatcher_.count(), tags.size());
  std::vector<std::string> dispatched;
  for (const SyncEventRequest& request : dispatcher_.requests())
    dispatched.push_back(request.tag);
  EXPECT_EQ(dispatched, tags);  // in key order, as one by one
  for (const std::string& tag : tags)
    EXPECT_EQ(Find(tag)->state, SyncState::kFiring);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineBatchTest, OutcomesArrivingWhileASettleIsStoredAreSettledTogether) {
  const std::vector<std::string> tags = RegisterOffline(4);
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 4u);

  // The first outcome's write is held: the other outcomes queue behind it.
  storage_->HoldWhere([](const StorageBatch&) { return true; });
  const int commits = Commits();
  dispatcher_.Settle(0, O::kCompleted);
  dispatcher_.Settle(1, O::kRejected);
  dispatcher_.Settle(2, O::kCompleted);
  dispatcher_.Settle(3, O::kCompleted);
  EXPECT_EQ(Commits(), commits + 1);
  EXPECT_EQ(storage_->HeldCount(), 1u);

  storage_->Release();
  // One more write for the three that waited.
  EXPECT_EQ(Commits(), commits + 2);
  EXPECT_FALSE(Find("tag-0"));
  EXPECT_FALSE(Find("tag-2"));
  EXPECT_FALSE(Find("tag-3"));
  // The rejected one failed its first attempt: it waits for its backoff.
  ASSERT_TRUE(Find("tag-1"));
  EXPECT_EQ(Find("tag-1")->state, SyncState::kWaiting);
  EXPECT_EQ(Find("tag-1")->num_attempts, 1);
  ExpectMemoryEqualsDisk();

  int completed = 0, failed = 0;
  for (const BackgroundServiceEvent& event : observer_.events()) {
    completed += event.event_name == "sync event completed" ? 1 : 0;
    failed += event.event_name == "sync event failed" ? 1 : 0;
  }
  EXPECT_EQ(completed, 3);
  EXPECT_EQ(failed, 1);
}

TEST_F(EngineBatchTest, AFailedSettleWriteIsRetriedForEveryOutcomeOfTheBatch) {
  RegisterOffline(3);
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 3u);

  storage_->HoldWhere([](const StorageBatch&) { return true; });
  dispatcher_.Settle(0, O::kCompleted);
  dispatcher_.Settle(1, O::kCompleted);  // these two queue behind the first
  dispatcher_.Settle(2, O::kCompleted);
  storage_->FailNextCommits(1);  // their one write fails
  storage_->Release();
  EXPECT_FALSE(Find("tag-0"));
  EXPECT_EQ(Find("tag-1")->state, SyncState::kFiring);
  EXPECT_EQ(Find("tag-2")->state, SyncState::kFiring);
  ExpectMemoryEqualsDisk();

  // After the recovery time both outcomes are stored after all.
  clock_.Advance(parameters_.min_sync_recovery_time);
  EXPECT_FALSE(Find("tag-1"));
  EXPECT_FALSE(Find("tag-2"));
  EXPECT_THAT(*GetTags(), IsEmpty());
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineBatchTest, AServiceWorkersBatchDoesNotWaitForAnothers) {
  RegisterOffline(2);
  registry_.Add(2, origin_);
  ASSERT_TRUE(Register("other", 0, 2).ok());
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 3u);

  // Service worker 1's settle is held; service worker 2's goes through.
  storage_->HoldWhere([](const StorageBatch& batch) {
    for (const StorageBatch::Op& op : batch.ops()) {
      if (op.key.find("other") != std::string::npos)
        return false;
    }
    return true;
  });
  for (size_t i = 0; i < 3; ++i) {
    if (dispatcher_.requests()[i].sw_registration_id == 2)
      dispatcher_.Settle(i, O::kCompleted);
  }
  EXPECT_FALSE(Find("other", 2));
  EXPECT_THAT(*GetTags(), ElementsAre("tag-0", "tag-1"));
}

}  // namespace
}  // namespace bgsync
