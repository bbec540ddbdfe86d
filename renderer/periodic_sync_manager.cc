#include "renderer/periodic_sync_manager.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/unary_call.h"

namespace bgsync {

namespace {

using E = BackgroundSyncError;
using RegisterCall = UnaryCall<mojom::RegisterRequest, mojom::RegisterReply>;
using UnregisterCall = UnaryCall<mojom::UnregisterRequest, mojom::UnregisterReply>;
using GetRegistrationsCall = UnaryCall<mojom::GetRegistrationsRequest, mojom::GetRegistrationsReply>;

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

// Runs `start(done)`, blocking until `done` has been called; returns what it was called with.
template <typename Result, typename Start>
Result Wait(Start start) {
  absl::Notification settled;
  std::optional<Result> result;
  start([&](Result r) {
    result = std::move(r);
    settled.Notify();
  });
  settled.WaitForNotification();
  return *std::move(result);
}

}  // namespace

// What the calls in flight use; see renderer/unary_call.h for why calls are counted.
struct PeriodicSyncManager::State {
  State(std::shared_ptr<grpc::Channel> channel, std::string token, int64_t id)
      : stub(mojom::PeriodicBackgroundSyncService::NewStub(std::move(channel))), token(std::move(token)), id(id) {}

  const std::unique_ptr<mojom::PeriodicBackgroundSyncService::Stub> stub;
  const std::string token;
  const int64_t id;
  CallCounter calls;
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
  auto* call = new RegisterCall(state_->token);
  call->request.set_service_worker_registration_id(state_->id);
  call->request.mutable_options()->set_tag(std::move(tag));
  call->request.mutable_options()->set_min_interval_ms(min_interval_ms);
  State* state = state_.get();
  state->calls.Started();
  state->stub->async()->Register(call->context.get(), &call->request, &call->reply,
                                 [state, call, done = std::move(done)](grpc::Status status) {
                                   // Destroyed in reverse order: the call (and its context) first, then the count.
                                   absl::Cleanup finished = [state] { state->calls.Finished(); };
                                   std::unique_ptr<RegisterCall> owned(call);
                                   if (!status.ok()) {
                                     done(SyncResult::Rejected(CallFailure(status)));
                                   } else if (call->reply.has_registration()) {
                                     done(SyncResult::Resolved());
                                   } else {
                                     // Neither data nor error (UNSPECIFIED) breaks the protocol: UnknownError.
                                     done(SyncResult::Rejected(RegisterException(call->reply.error())));
                                   }
                                 });
}

SyncResult PeriodicSyncManager::RegisterAndWait(std::string tag, int64_t min_interval_ms) {
  return Wait<SyncResult>(
      [&](std::function<void(SyncResult)> done) { Register(std::move(tag), min_interval_ms, std::move(done)); });
}

void PeriodicSyncManager::GetTags(std::function<void(TagsResult)> done) {
  if (!has_active_worker_) {
    done(TagsResult::Resolved({}));
    return;
  }
  auto* call = new GetRegistrationsCall(state_->token);
  call->request.set_service_worker_registration_id(state_->id);
  State* state = state_.get();
  state->calls.Started();
  state->stub->async()->GetRegistrations(
      call->context.get(), &call->request, &call->reply, [state, call, done = std::move(done)](grpc::Status status) {
        absl::Cleanup finished = [state] { state->calls.Finished(); };
        std::unique_ptr<GetRegistrationsCall> owned(call);
        if (!status.ok()) {
          done(TagsResult::Rejected(CallFailure(status)));
        } else if (call->reply.has_registrations()) {
          std::vector<std::string> tags;
          tags.reserve(call->reply.registrations().registrations_size());
          for (const mojom::SyncRegistrationOptions& registration : call->reply.registrations().registrations())
            tags.push_back(registration.tag());
          done(TagsResult::Resolved(std::move(tags)));
        } else {
          done(TagsResult::Rejected(TagsOrUnregisterException(call->reply.error())));
        }
      });
}

TagsResult PeriodicSyncManager::GetTagsAndWait() {
  return Wait<TagsResult>([&](std::function<void(TagsResult)> done) { GetTags(std::move(done)); });
}

void PeriodicSyncManager::Unregister(std::string tag, std::function<void(SyncResult)> done) {
  if (!has_active_worker_) {
    done(SyncResult::Resolved());
    return;
  }
  auto* call = new UnregisterCall(state_->token);
  call->request.set_service_worker_registration_id(state_->id);
  call->request.set_tag(std::move(tag));
  State* state = state_.get();
  state->calls.Started();
  state->stub->async()->Unregister(call->context.get(), &call->request, &call->reply,
                                   [state, call, done = std::move(done)](grpc::Status status) {
                                     absl::Cleanup finished = [state] { state->calls.Finished(); };
                                     std::unique_ptr<UnregisterCall> owned(call);
                                     if (!status.ok()) {
                                       done(SyncResult::Rejected(CallFailure(status)));
                                     } else if (call->reply.has_unregistered()) {
                                       done(SyncResult::Resolved());
                                     } else {
                                       done(SyncResult::Rejected(TagsOrUnregisterException(call->reply.error())));
                                     }
                                   });
}

SyncResult PeriodicSyncManager::UnregisterAndWait(std::string tag) {
  return Wait<SyncResult>([&](std::function<void(SyncResult)> done) { Unregister(std::move(tag), std::move(done)); });
}

void PeriodicSyncManager::WaitForPendingCalls() {
  state_->calls.WaitUntilIdle();
}

}  // namespace bgsync
