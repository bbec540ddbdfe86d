// Errors of the Background Sync API: absl::Status inside a process, mojom::BackgroundSyncError at the process
// boundary, a DOMException name and message in the renderer. This header is the only place the three meet.
//
// Thread-safety: every function here is pure and may be called from any thread.
#ifndef PUBLIC_BACKGROUND_SYNC_ERROR_H_
#define PUBLIC_BACKGROUND_SYNC_ERROR_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "public/mojom/background_sync_error.pb.h"

namespace bgsync {

using mojom::BackgroundSyncError;

// Returns a non-OK status that carries `error` (retrievable with GetSyncError) and a canonical absl code chosen
// for it (e.g. kPermissionDenied for PERMISSION_DENIED, kResourceExhausted for QUOTA_EXCEEDED). `detail`, if
// given, is appended to the message for logs; it never reaches a page. `error` must not be UNSPECIFIED.
absl::Status SyncError(BackgroundSyncError error, absl::string_view detail = {});

// Returns the BackgroundSyncError carried by `status`:
// - UNSPECIFIED for an OK status;
// - the code given to SyncError() for a status made by it;
// - STORAGE for any other error (an unexpected failure is reported as a storage failure: nothing changed).
BackgroundSyncError GetSyncError(const absl::Status& status);

// The DOMException a page sees for an error.
struct DomException {
  std::string name;     // e.g. "InvalidStateError"
  std::string message;  // e.g. "Registration failed - no active Service Worker"
};

// Maps `error` to the DOMException of the matching promise rejection (the table in chromium.md, with
// QuotaExceededError for quota). UNSPECIFIED, or a value outside the enum, maps to UnknownError.
DomException ToDomException(BackgroundSyncError error);

// A short stable name for logs and tools, e.g. "NO_ACTIVE_WORKER".
absl::string_view SyncErrorName(BackgroundSyncError error);

}  // namespace bgsync

#endif  // PUBLIC_BACKGROUND_SYNC_ERROR_H_
