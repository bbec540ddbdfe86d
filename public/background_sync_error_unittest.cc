#include "public/background_sync_error.h"

#include <set>

#include "gtest/gtest.h"

namespace bgsync {
namespace {

using E = BackgroundSyncError;

TEST(BackgroundSyncErrorTest, StatusRoundTripsEveryCode) {
  for (int value = mojom::BackgroundSyncError_MIN + 1; value <= mojom::BackgroundSyncError_MAX; ++value) {
    auto error = static_cast<E>(value);
    absl::Status status = SyncError(error, "detail");
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(GetSyncError(status), error) << SyncErrorName(error);
    EXPECT_NE(SyncErrorName(error), "UNSPECIFIED");
  }
}

TEST(BackgroundSyncErrorTest, CanonicalCodes) {
  EXPECT_EQ(SyncError(E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(SyncError(E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(SyncError(E::BACKGROUND_SYNC_ERROR_SHUT_DOWN).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SyncError(E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND).code(), absl::StatusCode::kNotFound);
}

TEST(BackgroundSyncErrorTest, OkAndForeignStatuses) {
  EXPECT_EQ(GetSyncError(absl::OkStatus()), E::BACKGROUND_SYNC_ERROR_UNSPECIFIED);
  EXPECT_EQ(GetSyncError(absl::InternalError("disk on fire")), E::BACKGROUND_SYNC_ERROR_STORAGE);
}

TEST(BackgroundSyncErrorTest, DomExceptionsMatchTheTable) {
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER).name, "InvalidStateError");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER).message,
            "Registration failed - no active Service Worker");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED).name, "NotAllowedError");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED).message, "Permission denied.");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW).name, "InvalidAccessError");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG).name, "InvalidAccessError");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED).name, "QuotaExceededError");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_STORAGE).name, "UnknownError");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_SHUT_DOWN).message, "Background Sync is disabled.");
  EXPECT_EQ(ToDomException(E::BACKGROUND_SYNC_ERROR_UNSPECIFIED).name, "UnknownError");
  EXPECT_EQ(ToDomException(static_cast<E>(999)).name, "UnknownError");
}

TEST(BackgroundSyncErrorTest, EveryCodeHasItsOwnMessage) {
  std::set<std::string> messages;
  for (int value = mojom::BackgroundSyncError_MIN + 1; value <= mojom::BackgroundSyncError_MAX; ++value) {
    messages.insert(ToDomException(static_cast<E>(value)).message);
  }
  EXPECT_EQ(messages.size(), static_cast<size_t>(mojom::BackgroundSyncError_MAX));
}

}  // namespace
}  // namespace bgsync
