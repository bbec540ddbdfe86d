#include "services/background_sync/periodic_background_sync_service_impl.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "public/background_sync_error.h"
#include "public/sync_tag.h"
#include "services/background_sync/authenticate_call.h"

namespace bgsync {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

grpc::Status Unauthenticated() {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no live bgsync-session");
}

// Input no honest renderer sends; nullopt if the request is well-formed.
std::optional<std::string> CheckWellFormed(int64_t service_worker_registration_id, const std::string& tag) {
  if (service_worker_registration_id <= 0)
    return "service_worker_registration_id <= 0";
  if (!IsWellFormedUtf8(tag))
    return "tag is not well-formed UTF-8";
  return std::nullopt;
}

}  // namespace

grpc::ServerUnaryReactor* PeriodicBackgroundSyncServiceImpl::Register(grpc::CallbackServerContext* context,
                                                                      const mojom::RegisterRequest* request,
                                                                      mojom::RegisterReply* reply) {
  std::optional<Session> session = AuthenticateCall(*sessions_, *context);
  if (!session)
    return FinishNow(context, Unauthenticated());
  std::optional<std::string> bad = CheckWellFormed(request->service_worker_registration_id(), request->options().tag());
  // The renderer turns a negative minInterval into a TypeError before any IPC.
  if (!bad && request->options().min_interval_ms() < 0)
    bad = "periodic registration with a negative min_interval_ms";
  if (bad)
    return FinishNow(context, ToGrpc(bad_messages_->Report(*session, *bad)));

  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  BackgroundSyncEngine::RegisterRequest forward;
  forward.origin = session->origin;
  forward.sw_registration_id = request->service_worker_registration_id();
  forward.type = SyncType::kPeriodic;
  forward.tag = request->options().tag();
  forward.min_interval = absl::Milliseconds(request->options().min_interval_ms());
  // Periodic registrations need no acknowledgement; the engine ignores the client for them.
  forward.client = session->id;
  engine_->Register(std::move(forward),
                    [this, reactor, reply, session = *session, sw = request->service_worker_registration_id(),
                     options = request->options()](absl::Status status) {
                      if (on_register_)
                        on_register_(session, sw, options.tag(), status);
                      if (status.ok()) {
                        *reply->mutable_registration() = options;
                      } else {
                        reply->set_error(GetSyncError(status));
                      }
                      reactor->Finish(grpc::Status::OK);
                    });
  return reactor;
}

grpc::ServerUnaryReactor* PeriodicBackgroundSyncServiceImpl::Unregister(grpc::CallbackServerContext* context,
                                                                        const mojom::UnregisterRequest* request,
                                                                        mojom::UnregisterReply* reply) {
  std::optional<Session> session = AuthenticateCall(*sessions_, *context);
  if (!session)
    return FinishNow(context, Unauthenticated());
  if (std::optional<std::string> bad = CheckWellFormed(request->service_worker_registration_id(), request->tag())) {
    return FinishNow(context, ToGrpc(bad_messages_->Report(*session, *bad)));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  engine_->Unregister(session->origin, request->service_worker_registration_id(), request->tag(),
                      [reactor, reply](absl::Status status) {
                        if (status.ok()) {
                          reply->mutable_unregistered();
                        } else {
                          reply->set_error(GetSyncError(status));
                        }
                        reactor->Finish(grpc::Status::OK);
                      });
  return reactor;
}

grpc::ServerUnaryReactor* PeriodicBackgroundSyncServiceImpl::GetRegistrations(
    grpc::CallbackServerContext* context,
    const mojom::GetRegistrationsRequest* request,
    mojom::GetRegistrationsReply* reply) {
  std::optional<Session> session = AuthenticateCall(*sessions_, *context);
  if (!session)
    return FinishNow(context, Unauthenticated());
  if (request->service_worker_registration_id() <= 0) {
    return FinishNow(context, ToGrpc(bad_messages_->Report(*session, "service_worker_registration_id <= 0")));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  engine_->GetRegistrations(session->origin, request->service_worker_registration_id(), SyncType::kPeriodic,
                            [reactor, reply](absl::StatusOr<std::vector<std::string>> tags) {
                              if (tags.ok()) {
                                mojom::RegistrationList* list = reply->mutable_registrations();
                                for (std::string& tag : *tags)
                                  list->add_registrations()->set_tag(std::move(tag));
                              } else {
                                reply->set_error(GetSyncError(tags.status()));
                              }
                              reactor->Finish(grpc::Status::OK);
                            });
  return reactor;
}

}  // namespace bgsync
