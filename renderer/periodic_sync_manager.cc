#include "renderer/periodic_sync_manager.h"

#include <utility>

#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/unary_call.h"

namespace bgsync {

namespace {

using E = BackgroundSyncError;
using Service = mojom::PeriodicBackgroundSyncService;

// What the bindings throw for a minInterval outside [0, 2^53 - 1].
DomException MinIntervalOutOfRange() {
  return {"TypeError",
          "Failed to execute 'register' on 'PeriodicSyncManager': Failed to read the 'minInterval' property from "
          "'BackgroundSyncOptions': Value is outside the 'unsigned long long' value range."};
}

// Blink's periodic register() reports a storage failure (and a disabled feature, which Chromium reports as one)
// as "Unknown error.", not as SyncManager's "Background Sync is disabled.".
DomException RegisterException(BackgroundSyncError error) {
  if (error == E::BACKGROUND_SYNC_ERROR_STORAGE || error == E::BACKGROUND_SYNC_ERROR_SHUT_DOWN)
    return {"UnknownError", "Unknown error."};
  return ToDomException(error);
}

// getTags() and unregister() have no InvalidStateError: a service worker the browser cannot find (or that has no
// active worker) is an UnknownError, as in Blink.
DomException TagsOrUnregisterException(BackgroundSyncError error) {
  switch (error) {
    case E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER:
    case E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND:
      return {"UnknownError", "No service worker is active."};
    case E::BACKGROUND_SYNC_ERROR_STORAGE:
    case E::BACKGROUND_SYNC_ERROR_SHUT_DOWN:
      return {"UnknownError", "Unknown error."};
    default:
      return ToDomException(error);
  }
}

}  // namespace

// What the calls in flight use; see renderer/unary_call.h for why calls are counted.
struct PeriodicSyncManager::State {
  State(std::shared_ptr<grpc::Channel> channel, std::string token, int64_t id)
      : stub(std::move(channel), std::move(token)), id(id) {}

  SessionStub<Service> stub;
  const int64_t id;
};

PeriodicSyncManager::PeriodicSyncManager(std::shared_ptr<grpc::Channel> channel,
                                         std::string token,
                                         int64_t service_worker_registration_id,
                                         bool has_active_worker)
    : has_active_worker_(has_active_worker),
      state_(std::make_unique<State>(std::move(channel), std::move(token), service_worker_registration_id)) {}

PeriodicSyncManager::~PeriodicSyncManager() {
  WaitForPendingCalls();
}

void PeriodicSyncManager::Register(std::string tag, int64_t min_interval_ms, std::function<void(SyncResult)> done) {
  // The bindings convert the options before the method runs.
  if (min_interval_ms < 0 || min_interval_ms > kMaxMinIntervalMs) {
    done(SyncResult::Rejected(MinIntervalOutOfRange()));
    return;
  }
  // Blink's local check, before any IPC.
  if (!has_active_worker_) {
    done(SyncResult::Rejected(ToDomException(E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER)));
    return;
  }
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(state_->id);
  request.mutable_options()->set_tag(std::move(tag));
  request.mutable_options()->set_min_interval_ms(min_interval_ms);
  state_->stub.Start(&Service::Stub::async::Register, std::move(request),
                     [done = std::move(done)](const grpc::Status& status, const mojom::RegisterRequest&,
                                              const mojom::RegisterReply& reply) {
                       // Neither data nor error (UNSPECIFIED) breaks the protocol: UnknownError.
                       done(ToSyncResult(status, reply.has_registration(), reply.error(), &RegisterException));
                     });
}

SyncResult PeriodicSyncManager::RegisterAndWait(std::string tag, int64_t min_interval_ms) {
  return WaitForResult<SyncResult>(
      [&](std::function<void(SyncResult)> done) { Register(std::move(tag), min_interval_ms, std::move(done)); });
}

void PeriodicSyncManager::GetTags(std::function<void(TagsResult)> done) {
  if (!has_active_worker_) {
    done(TagsResult::Resolved({}));
    return;
  }
  mojom::GetRegistrationsRequest request;
  request.set_service_worker_registration_id(state_->id);
  state_->stub.Start(&Service::Stub::async::GetRegistrations, std::move(request),
                     [done = std::move(done)](const grpc::Status& status, const mojom::GetRegistrationsRequest&,
                                              const mojom::GetRegistrationsReply& reply) {
                       done(ToTagsResult(status, reply, &TagsOrUnregisterException));
                     });
}

TagsResult PeriodicSyncManager::GetTagsAndWait() {
  return WaitForResult<TagsResult>([&](std::function<void(TagsResult)> done) { GetTags(std::move(done)); });
}

void PeriodicSyncManager::Unregister(std::string tag, std::function<void(SyncResult)> done) {
  if (!has_active_worker_) {
    done(SyncResult::Resolved());
    return;
  }
  mojom::UnregisterRequest request;
  request.set_service_worker_registration_id(state_->id);
  request.set_tag(std::move(tag));
  state_->stub.Start(&Service::Stub::async::Unregister, std::move(request),
                     [done = std::move(done)](const grpc::Status& status, const mojom::UnregisterRequest&,
                                              const mojom::UnregisterReply& reply) {
                       done(ToSyncResult(status, reply.has_unregistered(), reply.error(), &TagsOrUnregisterException));
                     });
}

SyncResult PeriodicSyncManager::UnregisterAndWait(std::string tag) {
  return WaitForResult<SyncResult>(
      [&](std::function<void(SyncResult)> done) { Unregister(std::move(tag), std::move(done)); });
}

void PeriodicSyncManager::WaitForPendingCalls() {
  state_->stub.WaitUntilIdle();
}

}  // namespace bgsync
