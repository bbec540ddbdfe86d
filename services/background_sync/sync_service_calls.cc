#include "services/background_sync/sync_service_calls.h"

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

// CheckRegistrationKey, then what a request of `type` must hold of its min_interval_ms.
std::optional<std::string> CheckRegisterRequest(SyncType type, const mojom::RegisterRequest& request) {
  if (std::optional<std::string> bad =
          CheckRegistrationKey(request.service_worker_registration_id(), request.options().tag())) {
    return bad;
  }
  const int64_t min_interval_ms = request.options().min_interval_ms();
  if (type == SyncType::kOneShot && min_interval_ms != 0)
    return "one-shot registration with a min_interval";
  // The renderer turns a negative minInterval into a TypeError before any IPC.
  if (type == SyncType::kPeriodic && min_interval_ms < 0)
    return "periodic registration with a negative min_interval_ms";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> CheckRegistrationKey(int64_t service_worker_registration_id, const std::string& tag) {
  if (service_worker_registration_id <= 0)
    return "service_worker_registration_id <= 0";
  if (!IsWellFormedUtf8(tag))
    return "tag is not well-formed UTF-8";
  return std::nullopt;
}

AdmittedCall SyncServiceCalls::Admit(grpc::CallbackServerContext* context, std::optional<std::string> bad_input) const {
  AdmittedCall call{context->DefaultReactor(), AuthenticateCall(*sessions_, *context)};
  if (!call.session) {
    call.reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no live bgsync-session"));
  } else if (bad_input) {
    call.reactor->Finish(ToGrpc(bad_messages_->Report(*call.session, *bad_input)));
    call.session.reset();
  } else if (rate_limiter_ && !rate_limiter_->TryAcquire(*call.session)) {
    rate_limiter_->Refuse(*call.session, call.reactor);
    call.session.reset();
  }
  return call;
}

grpc::ServerUnaryReactor* SyncServiceCalls::Register(grpc::CallbackServerContext* context,
                                                     const mojom::RegisterRequest& request,
                                                     mojom::RegisterReply* reply) const {
  AdmittedCall call = Admit(context, CheckRegisterRequest(type_, request));
  if (!call.session)
    return call.reactor;
  BackgroundSyncEngine::RegisterRequest forward;
  forward.origin = call.session->origin;
  forward.sw_registration_id = request.service_worker_registration_id();
  forward.type = type_;
  forward.tag = request.options().tag();
  forward.min_interval = absl::Milliseconds(request.options().min_interval_ms());  // 0 for one-shot
  // Periodic registrations need no acknowledgement; the engine ignores the client for them.
  forward.client = call.session->id;
  engine_->Register(std::move(forward), [this, reactor = call.reactor, reply, session = *call.session,
                                         sw = request.service_worker_registration_id(), tag = request.options().tag(),
                                         min_interval_ms = request.options().min_interval_ms()](absl::Status status) {
    if (on_register_)
      on_register_(session, sw, tag, status);
    // The session may have ended while the Register waited for its turn, after its disconnection was handled:
    // the acknowledgement the registration now waits for can never come. Release it as the disconnection would.
    if (status.ok() && type_ == SyncType::kOneShot && !sessions_->IsLive(session.id))
      engine_->OnClientDisconnected(session.id);
    if (status.ok()) {
      mojom::SyncRegistrationOptions* registration = reply->mutable_registration();
      registration->set_tag(tag);
      registration->set_min_interval_ms(min_interval_ms);
    } else {
      reply->set_error(GetSyncError(status));
    }
    reactor->Finish(grpc::Status::OK);
  });
  return call.reactor;
}

grpc::ServerUnaryReactor* SyncServiceCalls::GetRegistrations(grpc::CallbackServerContext* context,
                                                             const mojom::GetRegistrationsRequest& request,
                                                             mojom::GetRegistrationsReply* reply) const {
  std::optional<std::string> bad;
  if (request.service_worker_registration_id() <= 0)
    bad = "service_worker_registration_id <= 0";
  AdmittedCall call = Admit(context, std::move(bad));
  if (!call.session)
    return call.reactor;
  engine_->GetRegistrations(call.session->origin, request.service_worker_registration_id(), type_,
                            [reactor = call.reactor, reply](absl::StatusOr<std::vector<std::string>> tags) {
                              if (tags.ok()) {
                                mojom::RegistrationList* list = reply->mutable_registrations();
                                for (std::string& tag : *tags)
                                  list->add_registrations()->set_tag(std::move(tag));
                              } else {
                                reply->set_error(GetSyncError(tags.status()));
                              }
                              reactor->Finish(grpc::Status::OK);
                            });
  return call.reactor;
}

}  // namespace bgsync
