#include "renderer/sync_manager.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/unary_call.h"

namespace bgsync {

namespace {

using RegisterCall = UnaryCall<mojom::RegisterRequest, mojom::RegisterReply>;
using AcknowledgeCall = UnaryCall<mojom::DidResolveRegistrationRequest, mojom::DidResolveRegistrationReply>;
using GetRegistrationsCall = UnaryCall<mojom::GetRegistrationsRequest, mojom::GetRegistrationsReply>;

}  // namespace

// What the calls in flight use. Each callback destroys its call, context included, before it counts the call
// finished, and the stub keeps the channel alive until no call is in flight (~SyncManager waits for that): see
// renderer/unary_call.h.
struct SyncManager::State {
  State(std::shared_ptr<grpc::Channel> channel, std::string token, int64_t id)
      : stub(mojom::OneShotBackgroundSyncService::NewStub(std::move(channel))), token(std::move(token)), id(id) {}

  // Sends DidResolveRegistration for `tag`, ignoring the outcome.
  void Acknowledge(const std::string& tag) {
    auto* call = new AcknowledgeCall(token);
    call->request.set_service_worker_registration_id(id);
    call->request.set_tag(tag);
    calls.Started();
    stub->async()->DidResolveRegistration(call->context.get(), &call->request, &call->reply,
                                          [this, call](grpc::Status) {
                                            absl::Cleanup finished = [this] { calls.Finished(); };
                                            std::unique_ptr<AcknowledgeCall> owned(call);
                                          });
  }

  const std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> stub;
  const std::string token;
  const int64_t id;
  CallCounter calls;
};

SyncManager::SyncManager(std::shared_ptr<grpc::Channel> channel,
                         std::string token,
                         int64_t service_worker_registration_id,
                         bool has_active_worker)
    : has_active_worker_(has_active_worker),
      state_(std::make_unique<State>(std::move(channel), std::move(token), service_worker_registration_id)) {}

SyncManager::~SyncManager() {
  WaitForPendingCalls();
}

void SyncManager::Register(std::string tag, std::function<void(SyncResult)> done) {
  // Blink's local check, before any IPC.
  if (!has_active_worker_) {
    done(SyncResult::Rejected(ToDomException(mojom::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER)));
    return;
  }
  auto* call = new RegisterCall(state_->token);
  call->request.set_service_worker_registration_id(state_->id);
  call->request.mutable_options()->set_tag(std::move(tag));
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
                                     // The page has the result now; only then may the registration fire.
                                     state->Acknowledge(call->request.options().tag());
                                   } else {
                                     // A reply with neither data nor error breaks the protocol:
                                     // ToDomException(UNSPECIFIED) is UnknownError.
                                     done(SyncResult::Rejected(ToDomException(call->reply.error())));
                                   }
                                 });
}

SyncResult SyncManager::RegisterAndWait(std::string tag) {
  absl::Notification settled;
  std::optional<SyncResult> result;
  Register(std::move(tag), [&](SyncResult r) {
    result = std::move(r);
    settled.Notify();
  });
  settled.WaitForNotification();
  return *std::move(result);
}

void SyncManager::GetTags(std::function<void(TagsResult)> done) {
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
          done(TagsResult::Rejected(ToDomException(call->reply.error())));
        }
      });
}

TagsResult SyncManager::GetTagsAndWait() {
  absl::Notification settled;
  std::optional<TagsResult> result;
  GetTags([&](TagsResult r) {
    result = std::move(r);
    settled.Notify();
  });
  settled.WaitForNotification();
  return *std::move(result);
}

void SyncManager::WaitForPendingCalls() {
  state_->calls.WaitUntilIdle();
}

}  // namespace bgsync
