// The page-facing Background Sync API of a renderer, shaped like Blink's: ServiceWorkerRegistration.sync is a
// SyncManager whose register() and getTags() become OneShotBackgroundSyncService calls, and whose failures become
// DOMExceptions (public/background_sync_error.h). Like Blink it only translates: the browser checks everything.
//
// Thread-safety: a SyncManager may be used from any number of threads. `done`
// callbacks run on a gRPC thread (or, for a failure found before any call, on the calling thread before the
// method returns); they must not block, call the *AndWait methods or WaitForPendingCalls, or destroy the
// SyncManager.
#ifndef RENDERER_SYNC_MANAGER_H_
#define RENDERER_SYNC_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "renderer/sync_results.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace bgsync {

// ServiceWorkerRegistration.sync of one service-worker registration, on one window or iframe session.
class SyncManager {
 public:
  // `channel` leads to the browser (ConnectToBrowser) and `token` is the session's; `service_worker_registration_id`
  // is the page's registration id, sent as is (the browser validates it). `has_active_worker` is what the page
  // knows about the registration, as Blink does for its local check.
  SyncManager(std::shared_ptr<grpc::Channel> channel,
              std::string token,
              int64_t service_worker_registration_id,
              bool has_active_worker);
  SyncManager(const SyncManager&) = delete;
  SyncManager& operator=(const SyncManager&) = delete;
  // Waits for the calls in flight (WaitForPendingCalls), so their `done` callbacks have run when it returns; must
  // not run in one of them. Until then it keeps the channel alive: the last reference to a grpc::Channel must not
  // be released on a gRPC callback thread, so a `done` callback must not own one either.
  ~SyncManager();

  // register(tag). `tag` is UTF-8 as a page's string always is; anything else is a bad message for which the
  // browser ends the session (the call then fails with UnknownError). Settles `done` exactly once with:
  // - InvalidStateError "Registration failed - no active Service Worker", without any IPC, if there is no active
  //   worker;
  // - the DOMException of ToDomException() for a BackgroundSyncError from the browser;
  // - UnknownError with gRPC's message if the call failed (browser unreachable, session revoked, a request the
  //   browser judged malformed, a tag too long to fit in a message);
  // - resolved otherwise. Once `done` has returned, DidResolveRegistration is sent for the id and tag (its
  //   outcome is ignored): until then the browser does not fire the registration.
  void Register(std::string tag, std::function<void(SyncResult)> done);
  // Register, blocking the calling thread until it settles.
  SyncResult RegisterAndWait(std::string tag);

  // getTags(). No local checks. Errors as for Register.
  void GetTags(std::function<void(TagsResult)> done);
  TagsResult GetTagsAndWait();

  // Blocks until every call this SyncManager started has finished, including the DidResolveRegistration calls
  // that follow successful Registers. For orderly exits and tests.
  void WaitForPendingCalls();

 private:
  struct State;

  const bool has_active_worker_;
  // Used by the calls in flight, which the destructor waits for.
  const std::unique_ptr<State> state_;
};

}  // namespace bgsync

#endif  // RENDERER_SYNC_MANAGER_H_
