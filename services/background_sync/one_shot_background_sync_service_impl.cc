#include "services/background_sync/one_shot_background_sync_service_impl.h"

namespace bgsync {

grpc::ServerUnaryReactor* OneShotBackgroundSyncServiceImpl::Register(grpc::CallbackServerContext* context,
                                                                     const mojom::RegisterRequest* request,
                                                                     mojom::RegisterReply* reply) {
  return calls_.Register(context, *request, reply);
}

grpc::ServerUnaryReactor* OneShotBackgroundSyncServiceImpl::DidResolveRegistration(
    grpc::CallbackServerContext* context,
    const mojom::DidResolveRegistrationRequest* request,
    mojom::DidResolveRegistrationReply* reply) {
  AdmittedCall call =
      calls_.Admit(context, CheckRegistrationKey(request->service_worker_registration_id(), request->tag()));
  if (!call.session)
    return call.reactor;
  // An unknown or foreign key is ignored, exactly like a stale one: nothing to learn from the answer.
  calls_.engine()
      .DidResolveRegistration(call.session->origin, call.session->id,
                              {request->service_worker_registration_id(), SyncType::kOneShot, request->tag()})
      .IgnoreError();
  call.reactor->Finish(grpc::Status::OK);
  return call.reactor;
}

grpc::ServerUnaryReactor* OneShotBackgroundSyncServiceImpl::GetRegistrations(
    grpc::CallbackServerContext* context,
    const mojom::GetRegistrationsRequest* request,
    mojom::GetRegistrationsReply* reply) {
  return calls_.GetRegistrations(context, *request, reply);
}

}  // namespace bgsync
