#include "services/background_sync/periodic_background_sync_service_impl.h"

#include "public/background_sync_error.h"

namespace bgsync {

grpc::ServerUnaryReactor* PeriodicBackgroundSyncServiceImpl::Register(grpc::CallbackServerContext* context,
                                                                      const mojom::RegisterRequest* request,
                                                                      mojom::RegisterReply* reply) {
  return calls_.Register(context, *request, reply);
}

grpc::ServerUnaryReactor* PeriodicBackgroundSyncServiceImpl::Unregister(grpc::CallbackServerContext* context,
                                                                        const mojom::UnregisterRequest* request,
                                                                        mojom::UnregisterReply* reply) {
  AdmittedCall call =
      calls_.Admit(context, CheckRegistrationKey(request->service_worker_registration_id(), request->tag()));
  if (!call.session)
    return call.reactor;
  calls_.engine().Unregister(call.session->origin, request->service_worker_registration_id(), request->tag(),
                             [reactor = call.reactor, reply](absl::Status status) {
                               if (status.ok()) {
                                 reply->mutable_unregistered();
                               } else {
                                 reply->set_error(GetSyncError(status));
                               }
                               reactor->Finish(grpc::Status::OK);
                             });
  return call.reactor;
}

grpc::ServerUnaryReactor* PeriodicBackgroundSyncServiceImpl::GetRegistrations(
    grpc::CallbackServerContext* context,
    const mojom::GetRegistrationsRequest* request,
    mojom::GetRegistrationsReply* reply) {
  return calls_.GetRegistrations(context, *request, reply);
}

}  // namespace bgsync
