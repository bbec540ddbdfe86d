#include "browser/permission_store.h"

#include <memory>

#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/controllable_storage_backend.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

class PermissionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  // (Re)opens the store on the same disk, as a restarted browser does.
  void Open() {
    auto backend = std::make_unique<ControllableStorageBackend>(std::make_unique<MemoryStorageBackend>(disk_));
    controls_ = backend->controls();
    absl::StatusOr<std::unique_ptr<PermissionStore>> store = PermissionStore::Open(std::move(backend));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  const Origin secure_ = *Origin::Parse("https://news.example");
  const Origin insecure_ = *Origin::Parse("http://news.example");
  std::shared_ptr<MemoryStorageBackend::Storage> disk_ = std::make_shared<MemoryStorageBackend::Storage>();
  std::shared_ptr<ControllableStorageBackend::Controls> controls_;
  std::unique_ptr<PermissionStore> store_;
};

TEST_F(PermissionStoreTest, DefaultsAreChromiums) {
  EXPECT_EQ(store_->GetPermission(secure_, SyncType::kOneShot), PermissionStatus::kGranted);
  EXPECT_EQ(store_->GetPermission(insecure_, SyncType::kOneShot), PermissionStatus::kDenied);
  EXPECT_EQ(store_->GetPermission(secure_, SyncType::kPeriodic), PermissionStatus::kDenied);
  EXPECT_EQ(store_->GetOverride(secure_, SyncType::kPeriodic), std::nullopt);
}

TEST_F(PermissionStoreTest, OverridesSurviveRestartPerTypeAndOrigin) {
  ASSERT_TRUE(store_->Set(secure_, SyncType::kPeriodic, PermissionStatus::kGranted).ok());
  ASSERT_TRUE(store_->Set(secure_, SyncType::kOneShot, PermissionStatus::kDenied).ok());
  ASSERT_TRUE(store_->Set(insecure_, SyncType::kOneShot, PermissionStatus::kGranted).ok());
  ASSERT_TRUE(store_->Set(insecure_, SyncType::kOneShot, std::nullopt).ok());
  Open();
  EXPECT_EQ(store_->GetPermission(secure_, SyncType::kPeriodic), PermissionStatus::kGranted);
  EXPECT_EQ(store_->GetPermission(secure_, SyncType::kOneShot), PermissionStatus::kDenied);
  EXPECT_EQ(store_->GetPermission(insecure_, SyncType::kOneShot), PermissionStatus::kDenied) << "default again";
  EXPECT_EQ(store_->GetOverride(insecure_, SyncType::kOneShot), std::nullopt);
  absl::MutexLock lock(&disk_->mu);
  EXPECT_EQ(disk_->data.at("p:periodic-background-sync:https://news.example"), "granted");
  EXPECT_EQ(disk_->data.count("p:background-sync:http://news.example"), 0u);
}

TEST_F(PermissionStoreTest, AFailedWriteChangesNothing) {
  controls_->FailNextCommits(1);
  EXPECT_FALSE(store_->Set(secure_, SyncType::kPeriodic, PermissionStatus::kGranted).ok());
  EXPECT_EQ(store_->GetPermission(secure_, SyncType::kPeriodic), PermissionStatus::kDenied);
  Open();
  EXPECT_EQ(store_->GetPermission(secure_, SyncType::kPeriodic), PermissionStatus::kDenied);
}

TEST_F(PermissionStoreTest, UnreadableRecordsAreIgnoredAndKept) {
  {
    absl::MutexLock lock(&disk_->mu);
    disk_->data["p:periodic-background-sync:https://news.example"] = "maybe";
    disk_->data["p:periodic-background-sync:not an origin"] = "granted";
    disk_->data["p:camera:https://news.example"] = "granted";
  }
  Open();
  EXPECT_EQ(store_->GetPermission(secure_, SyncType::kPeriodic), PermissionStatus::kDenied);
  absl::MutexLock lock(&disk_->mu);
  EXPECT_EQ(disk_->data.size(), 3u) << "unreadable records were deleted";
}

TEST(PermissionStoreWithoutStorageTest, KeepsOverridesInMemory) {
  absl::StatusOr<std::unique_ptr<PermissionStore>> store = PermissionStore::Open(nullptr);
  ASSERT_TRUE(store.ok());
  const Origin origin = *Origin::Parse("https://news.example");
  ASSERT_TRUE((*store)->Set(origin, SyncType::kPeriodic, PermissionStatus::kGranted).ok());
  EXPECT_EQ((*store)->GetPermission(origin, SyncType::kPeriodic), PermissionStatus::kGranted);
}

}  // namespace
}  // namespace bgsync
