#include "public/background_sync_error.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bgsync {
namespace {

// The payload that carries the BackgroundSyncError through an absl::Status.
constexpr absl::string_view kPayloadUrl = "type.bgsync/bgsync.mojom.BackgroundSyncError";

struct ErrorInfo {
  absl::StatusCode code;
  absl::string_view name;
  absl::string_view dom_name;
  absl::string_view dom_message;
};

std::optional<ErrorInfo> Lookup(BackgroundSyncError error) {
  using E = BackgroundSyncError;
  switch (error) {
    case E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER:
      return ErrorInfo{absl::StatusCode::kFailedPrecondition, "NO_ACTIVE_WORKER", "InvalidStateError",
                       "Registration failed - no active Service Worker"};
    case E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED:
      return ErrorInfo{absl::StatusCode::kPermissionDenied, "PERMISSION_DENIED", "NotAllowedError",
                       "Permission denied."};
    case E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW:
      return ErrorInfo{absl::StatusCode::kFailedPrecondition, "NO_TOP_LEVEL_WINDOW", "InvalidAccessError",
                       "Registration failed - no top-level window of this origin is open"};
    case E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG:
      return ErrorInfo{absl::StatusCode::kInvalidArgument, "TAG_TOO_LONG", "InvalidAccessError",
                       "Registration failed - the tag is longer than 10240 bytes"};
    case E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED:
      return ErrorInfo{absl::StatusCode::kResourceExhausted, "QUOTA_EXCEEDED", "QuotaExceededError",
                       "Registration failed - too many sync registrations"};
    case E::BACKGROUND_SYNC_ERROR_STORAGE:
      return ErrorInfo{absl::StatusCode::kInternal, "STORAGE", "UnknownError",
                       "Background Sync storage failed; nothing was changed."};
    case E::BACKGROUND_SYNC_ERROR_SHUT_DOWN:
      return ErrorInfo{absl::StatusCode::kUnavailable, "SHUT_DOWN", "UnknownError", "Background Sync is disabled."};
    case E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND:
      return ErrorInfo{absl::StatusCode::kNotFound, "SERVICE_WORKER_NOT_FOUND", "InvalidStateError",
                       "Registration failed - the service worker registration was not found"};
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::Status SyncError(BackgroundSyncError error, absl::string_view detail) {
  std::optional<ErrorInfo> info = Lookup(error);
  absl::StatusCode code = info ? info->code : absl::StatusCode::kInternal;
  std::string message(info ? info->name : "UNSPECIFIED");
  if (!detail.empty())
    absl::StrAppend(&message, ": ", detail);
  absl::Status status(code, message);
  status.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(static_cast<int>(error))));
  return status;
}

BackgroundSyncError GetSyncError(const absl::Status& status) {
  if (status.ok())
    return BackgroundSyncError::BACKGROUND_SYNC_ERROR_UNSPECIFIED;
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  int value = 0;
  if (payload && absl::SimpleAtoi(std::string(*payload), &value) && mojom::BackgroundSyncError_IsValid(value) &&
      value != BackgroundSyncError::BACKGROUND_SYNC_ERROR_UNSPECIFIED) {
    return static_cast<BackgroundSyncError>(value);
  }
  return BackgroundSyncError::BACKGROUND_SYNC_ERROR_STORAGE;
}

DomException ToDomException(BackgroundSyncError error) {
  std::optional<ErrorInfo> info = Lookup(error);
  if (!info)
    return {"UnknownError", "Unknown error."};
  return {std::string(info->dom_name), std::string(info->dom_message)};
}

absl::string_view SyncErrorName(BackgroundSyncError error) {
  std::optional<ErrorInfo> info = Lookup(error);
  return info ? info->name : "UNSPECIFIED";
}

}  // namespace bgsync
