// The page-facing Background Sync API of a renderer, shaped like Blink's: ServiceWorkerRegistration.sync is a
// SyncManager whose register() and getTags() become OneShotBackgroundSyncService calls, and whose failures become
// DOMExceptions (public/background_sync_error.h). Like Blink it only translates: the browser checks everything.
//
// Thread-safety: SyncManager and ServiceWorkerRegistration may be used from any number of threads. `done`
// callbacks run on a gRPC thread (or, for a failure found before any call, on the calling thread before the
// method returns); they must not block, call the *AndWait methods or WaitForPendingCalls, or destroy the
// SyncManager.
#ifndef RENDERER_SYNC_MANAGER_H_
#define RENDERER_SYNC_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "public/background_sync_error.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace bgsync {

// How SyncManager.register() settled: resolved, or rejected with a DOMException.
class SyncResult {
 public:
  static SyncResult Resolved() { return SyncResult(std::nullopt); }
  static SyncResult Rejected(DomException exception) { return SyncResult(std::move(exception)); }

  bool ok() const { return !exception_.has_value(); }
  // The rejection. Precondition: !ok().
  const DomException& exception() const { return *exception_; }

 private:
  explicit SyncResult(std::optional<DomException> exception) : exception_(std::move(exception)) {}

  std::optional<DomException> exception_;
};

// How SyncManager.getTags() settled: resolved with the tags (sorted by byte order, as the browser sends them),
// or rejected with a DOMException.
class TagsResult {
 public:
  static TagsResult Resolved(std::vector<std::string> tags) { return TagsResult(std::move(tags)); }
  static TagsResult Rejected(DomException exception) { return TagsResult(std::move(exception)); }

  bool ok() const { return std::holds_alternative<std::vector<std::string>>(value_); }
  // Precondition: ok().
  const std::vector<std::string>& tags() const { return std::get<std::vector<std::string>>(value_); }
  // Precondition: !ok().
  const DomException& exception() const { return std::get<DomException>(value_); }

 private:
  explicit TagsResult(std::variant<std::vector<std::string>, DomException> value) : value_(std::move(value)) {}

  std::variant<std::vector<std::string>, DomException> value_;
};

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

// The page's view of one service-worker registration; owns its SyncManager.
class ServiceWorkerRegistration {
 public:
  // See SyncManager::SyncManager.
  ServiceWorkerRegistration(std::shared_ptr<grpc::Channel> channel,
                            std::string token,
                            int64_t id,
                            bool has_active_worker);
  ServiceWorkerRegistration(const ServiceWorkerRegistration&) = delete;
  ServiceWorkerRegistration& operator=(const ServiceWorkerRegistration&) = delete;

  int64_t id() const { return id_; }
  bool has_active_worker() const { return has_active_worker_; }
  SyncManager& sync() { return sync_; }

 private:
  const int64_t id_;
  const bool has_active_worker_;
  SyncManager sync_;
};

}  // namespace bgsync

#endif  // RENDERER_SYNC_MANAGER_H_
