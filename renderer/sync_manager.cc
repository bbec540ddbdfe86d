#include "renderer/sync_manager.h"

#include <utility>

#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/unary_call.h"

namespace bgsync {

namespace {

using Service = mojom::OneShotBackgroundSyncService;

}  // namespace

// What the calls in flight use; see renderer/unary_call.h (~SyncManager waits for the calls).
struct SyncManager::State {
  State(std::shared_ptr<grpc::Channel> channel, std::string token, int64_t id)
      : stub(std::move(channel), std::move(token)), id(id) {}

  // Sends DidResolveRegistration for `tag`, ignoring the outcome.
  void Acknowledge(const std::string& tag) {
    mojom::DidResolveRegistrationRequest request;
    request.set_service_worker_registration_id(id);
    request.set_tag(tag);
    stub.Start(&Service::Stub::async::DidResolveRegistration, std::move(request), [](const auto&...) {});
  }

  SessionStub<Service> stub;
  const int64_t id;
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
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(state_->id);
  request.mutable_options()->set_tag(std::move(tag));
  State* state = state_.get();
  state->stub.Start(&Service::Stub::async::Register, std::move(request),
                    [state, done = std::move(done)](const grpc::Status& status, const mojom::RegisterRequest& request,
                                                    const mojom::RegisterReply& reply) {
                      // A reply with neither data nor error breaks the protocol: ToDomException(UNSPECIFIED) is
                      // UnknownError.
                      SyncResult result =
                          ToSyncResult(status, reply.has_registration(), reply.error(), &ToDomException);
                      const bool resolved = result.ok();
                      done(std::move(result));
                      // The page has the result now; only then may the registration fire.
                      if (resolved)
                        state->Acknowledge(request.options().tag());
                    });
}

SyncResult SyncManager::RegisterAndWait(std::string tag) {
  return WaitForResult<SyncResult>(
      [&](std::function<void(SyncResult)> done) { Register(std::move(tag), std::move(done)); });
}

void SyncManager::GetTags(std::function<void(TagsResult)> done) {
  mojom::GetRegistrationsRequest request;
  request.set_service_worker_registration_id(state_->id);
  state_->stub.Start(&Service::Stub::async::GetRegistrations, std::move(request),
                     [done = std::move(done)](const grpc::Status& status, const mojom::GetRegistrationsRequest&,
                                              const mojom::GetRegistrationsReply& reply) {
                       done(ToTagsResult(status, reply, &ToDomException));
                     });
}

TagsResult SyncManager::GetTagsAndWait() {
  return WaitForResult<TagsResult>([&](std::function<void(TagsResult)> done) { GetTags(std::move(done)); });
}

void SyncManager::WaitForPendingCalls() {
  state_->stub.WaitUntilIdle();
}

}  // namespace bgsync
