#include "browser/engagement_store.h"

#include <memory>
#include <string>
#include <vector>

#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/controllable_storage_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class EngagementStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  // (Re)opens the store on the same disk, as a restarted browser does.
  void Open() {
    auto backend = std::make_unique<ControllableStorageBackend>(std::make_unique<MemoryStorageBackend>(disk_));
    controls_ = backend->controls();
    absl::StatusOr<std::unique_ptr<EngagementStore>> store = EngagementStore::Open(std::move(backend));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    store_->SetChangeObserver([this](const Origin& origin) { changed_.push_back(origin.Serialize()); });
  }

  const Origin mail_ = *Origin::Parse("https://mail.example");
  const Origin news_ = *Origin::Parse("https://news.example");
  std::shared_ptr<MemoryStorageBackend::Storage> disk_ = std::make_shared<MemoryStorageBackend::Storage>();
  std::shared_ptr<ControllableStorageBackend::Controls> controls_;
  std::unique_ptr<EngagementStore> store_;
  std::vector<std::string> changed_;
};

TEST(EngagementLevelTest, ParsesEveryName) {
  for (EngagementLevel level : {EngagementLevel::kNone, EngagementLevel::kMinimal, EngagementLevel::kLow,
                                EngagementLevel::kMedium, EngagementLevel::kHigh}) {
    EXPECT_EQ(ParseEngagementLevel(EngagementLevelName(level)), level);
  }
  EXPECT_EQ(ParseEngagementLevel("High"), std::nullopt);
  EXPECT_EQ(ParseEngagementLevel("default"), std::nullopt);
}

TEST_F(EngagementStoreTest, EveryOriginIsHighlyEngagedByDefault) {
  EXPECT_EQ(store_->GetEngagementLevel(mail_), EngagementLevel::kHigh);
  EXPECT_EQ(store_->GetOverride(mail_), std::nullopt);
}

TEST_F(EngagementStoreTest, SetTellsTheObserverOnlyOfChanges) {
  ASSERT_TRUE(store_->Set(mail_, EngagementLevel::kLow).ok());
  EXPECT_EQ(store_->GetEngagementLevel(mail_), EngagementLevel::kLow);
  EXPECT_EQ(store_->GetEngagementLevel(news_), EngagementLevel::kHigh);
  ASSERT_TRUE(store_->Set(mail_, EngagementLevel::kLow).ok());   // unchanged
  ASSERT_TRUE(store_->Set(news_, EngagementLevel::kHigh).ok());  // set, but the level it had
  EXPECT_EQ(store_->GetOverride(news_), EngagementLevel::kHigh);
  ASSERT_TRUE(store_->Set(mail_, std::nullopt).ok());  // back to the default
  EXPECT_EQ(store_->GetEngagementLevel(mail_), EngagementLevel::kHigh);
  EXPECT_EQ(store_->GetOverride(mail_), std::nullopt);
  EXPECT_THAT(changed_, ElementsAre("https://mail.example", "https://mail.example"));
}

TEST_F(EngagementStoreTest, LevelsSurviveRestart) {
  ASSERT_TRUE(store_->Set(mail_, EngagementLevel::kNone).ok());
  ASSERT_TRUE(store_->Set(news_, EngagementLevel::kMinimal).ok());
  ASSERT_TRUE(store_->Set(news_, std::nullopt).ok());
  changed_.clear();
  Open();
  EXPECT_EQ(store_->GetEngagementLevel(mail_), EngagementLevel::kNone);
  EXPECT_EQ(store_->GetOverride(news_), std::nullopt);
  EXPECT_THAT(changed_, IsEmpty());  // loading tells nobody
}

TEST_F(EngagementStoreTest, FailedWriteChangesNothing) {
  controls_->FailNextCommits(1);
  EXPECT_FALSE(store_->Set(mail_, EngagementLevel::kNone).ok());
  EXPECT_EQ(store_->GetEngagementLevel(mail_), EngagementLevel::kHigh);
  EXPECT_THAT(changed_, IsEmpty());
  Open();
  EXPECT_EQ(store_->GetEngagementLevel(mail_), EngagementLevel::kHigh);
}

TEST_F(EngagementStoreTest, UnreadableRecordsAreIgnored) {
  {
    absl::MutexLock lock(&disk_->mu);
    disk_->data["e:origin:https://mail.example"] = "very";
    disk_->data["e:origin:not an origin"] = "low";
    disk_->data["e:origin:https://news.example"] = "medium";
  }
  Open();
  EXPECT_EQ(store_->GetEngagementLevel(mail_), EngagementLevel::kHigh);
  EXPECT_EQ(store_->GetEngagementLevel(news_), EngagementLevel::kMedium);
}

TEST(EngagementStoreWithoutStorageTest, KeepsLevelsInMemory) {
  absl::StatusOr<std::unique_ptr<EngagementStore>> store = EngagementStore::Open(nullptr);
  ASSERT_TRUE(store.ok());
  const Origin origin = *Origin::Parse("https://mail.example");
  ASSERT_TRUE((*store)->Set(origin, EngagementLevel::kMedium).ok());  // no observer: fine
  EXPECT_EQ((*store)->GetEngagementLevel(origin), EngagementLevel::kMedium);
}

}  // namespace
}  // namespace bgsync
