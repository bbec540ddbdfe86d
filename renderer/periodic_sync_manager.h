// ServiceWorkerRegistration.periodicSync, shaped like Blink's PeriodicSyncManager: register(), getTags() and
// unregister() become PeriodicBackgroundSyncService calls, and failures become the exceptions Blink gives a page
// (the periodic column of "Errors as JavaScript sees them" in chromium.md). Like Blink it only translates and
// makes Blink's local checks; the browser checks everything again.
//
// Thread-safety: a PeriodicSyncManager may be used from any number of threads. `done` callbacks run on a gRPC
// thread (or, for an answer found before any call, on the calling thread before the method returns); they must
// not block, call the *AndWait methods or WaitForPendingCalls, or destroy the PeriodicSyncManager.
#ifndef RENDERER_PERIODIC_SYNC_MANAGER_H_
#define RENDERER_PERIODIC_SYNC_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "renderer/sync_results.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace bgsync {

// The largest minInterval a page can pass: WebIDL's [EnforceRange] unsigned long long stops at 2^53 - 1.
inline constexpr int64_t kMaxMinIntervalMs = (int64_t{1} << 53) - 1;

// ServiceWorkerRegistration.periodicSync of one service-worker registration, on one window or iframe session.
class PeriodicSyncManager {
 public:
  // `channel` leads to the browser (ConnectToBrowser) and `token` is the session's; `service_worker_registration_id`
  // is the page's registration id, sent as is (the browser validates it). `has_active_worker` is what the page
  // knows about the registration, as Blink does for its local checks.
  PeriodicSyncManager(std::shared_ptr<grpc::Channel> channel,
                      std::string token,
                      int64_t service_worker_registration_id,
                      bool has_active_worker);
  PeriodicSyncManager(const PeriodicSyncManager&) = delete;
  PeriodicSyncManager& operator=(const PeriodicSyncManager&) = delete;
  // Waits for the calls in flight (WaitForPendingCalls), so their `done` callbacks have run when it returns; must
  // not run in one of them. Until then it keeps the channel alive (see renderer/README.md, "gRPC 1.51 pitfall").
  ~PeriodicSyncManager();

  // register(tag, {minInterval: min_interval_ms}). `tag` is UTF-8 as a page's string always is; anything else is
  // a bad message for which the browser ends the session. Settles `done` exactly once with:
  // - TypeError, without any IPC, if min_interval_ms is negative or above kMaxMinIntervalMs (the bindings'
  //   [EnforceRange] check, which runs before anything else);
  // - InvalidStateError "Registration failed - no active Service Worker", without any IPC, if there is no active
  //   worker;
  // - for a BackgroundSyncError from the browser: UnknownError "Unknown error." for STORAGE and SHUT_DOWN, the
  //   DOMException of ToDomException() for the others (InvalidStateError, NotAllowedError "Permission denied.",
  //   InvalidAccessError, QuotaExceededError);
  // - UnknownError with gRPC's message if the call failed (browser unreachable, session revoked, a request the
  //   browser judged malformed, a tag too long to fit in a message);
  // - resolved otherwise. The registration never fires on registration, so there is nothing to acknowledge.
  void Register(std::string tag, int64_t min_interval_ms, std::function<void(SyncResult)> done);
  // Register, blocking the calling thread until it settles.
  SyncResult RegisterAndWait(std::string tag, int64_t min_interval_ms);

  // getTags(). Resolves with no tags, without any IPC, if there is no active worker (as Blink does). Errors from
  // the browser: UnknownError "No service worker is active." for NO_ACTIVE_WORKER and SERVICE_WORKER_NOT_FOUND,
  // UnknownError "Unknown error." for STORAGE and SHUT_DOWN; a failed call as for Register.
  void GetTags(std::function<void(TagsResult)> done);
  TagsResult GetTagsAndWait();

  // unregister(tag). Resolves, without any IPC, if there is no active worker (as Blink does); also resolves when
  // the tag was not registered. Errors as for GetTags.
  void Unregister(std::string tag, std::function<void(SyncResult)> done);
  SyncResult UnregisterAndWait(std::string tag);

  // Blocks until every call this PeriodicSyncManager started has finished. For orderly exits and tests.
  void WaitForPendingCalls();

 private:
  struct State;

  const bool has_active_worker_;
  // Used by the calls in flight, which the destructor waits for.
  const std::unique_ptr<State> state_;
};

}  // namespace bgsync

#endif  // RENDERER_PERIODIC_SYNC_MANAGER_H_
