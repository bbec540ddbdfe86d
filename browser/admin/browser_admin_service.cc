#include "browser/admin/browser_admin_service.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace bgsync {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::StatusOr<Origin> ParseOrigin(const std::string& text) {
  return Origin::Parse(text);
}

absl::StatusOr<ClientType> ToClientType(admin::ClientType type) {
  switch (type) {
    case admin::CLIENT_TYPE_WINDOW:
      return ClientType::kWindow;
    case admin::CLIENT_TYPE_IFRAME:
      return ClientType::kIframe;
    default:
      return absl::InvalidArgumentError("client_type must be window or iframe");
  }
}

}  // namespace

void BrowserAdminService::FillInfo(const ServiceWorkerRegistration& r, admin::ServiceWorkerInfo* info) {
  info->set_id(r.id);
  info->set_origin(r.origin.Serialize());
  info->set_scope(r.scope);
  for (const std::string& arg : r.worker_command)
    info->add_command(arg);
  info->set_active(r.state == ServiceWorkerState::kActive);
  auto running = parts_.host->worker_processes().Running();
  if (auto it = running.find(r.id); it != running.end())
    info->set_worker_pid(it->second);
}

grpc::Status BrowserAdminService::InstallServiceWorker(grpc::ServerContext*,
                                                       const admin::InstallServiceWorkerRequest* request,
                                                       admin::ServiceWorkerInfo* reply) {
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  absl::StatusOr<int64_t> id = parts_.service_workers->Install(
      *origin, request->scope(), std::vector<std::string>(request->command().begin(), request->command().end()));
  if (!id.ok())
    return ToGrpc(id.status());
  parts_.host->log().Append(
      {0, absl::Time(), origin->Serialize(), *id, "Service worker installed", "", request->scope()});
  FillInfo(*parts_.service_workers->Get(*id), reply);
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::ActivateServiceWorker(grpc::ServerContext*,
                                                        const admin::ServiceWorkerId* request,
                                                        admin::ServiceWorkerInfo* reply) {
  if (absl::Status status = parts_.service_workers->Activate(request->id()); !status.ok())
    return ToGrpc(status);
  absl::StatusOr<ServiceWorkerRegistration> r = parts_.service_workers->Get(request->id());
  if (!r.ok())
    return ToGrpc(r.status());
  parts_.host->log().Append({0, absl::Time(), r->origin.Serialize(), r->id, "Service worker activated", "", ""});
  FillInfo(*r, reply);
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::UnregisterServiceWorker(grpc::ServerContext*,
                                                          const admin::ServiceWorkerId* request,
                                                          admin::Empty*) {
  // The registry's unregister observer deletes the sync registrations and stops the worker.
  return ToGrpc(parts_.service_workers->Unregister(request->id()));
}

grpc::Status BrowserAdminService::ListServiceWorkers(grpc::ServerContext*,
                                                     const admin::Empty*,
                                                     admin::ServiceWorkerList* reply) {
  for (const ServiceWorkerRegistration& r : parts_.service_workers->List())
    FillInfo(r, reply->add_service_workers());
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::OpenWindow(grpc::ServerContext*,
                                             const admin::OpenWindowRequest* request,
                                             admin::OpenWindowReply* reply) {
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  absl::StatusOr<ClientType> type = ToClientType(request->client_type());
  if (!type.ok())
    return ToGrpc(type.status());
  absl::StatusOr<RendererProcessHost::Opened> opened =
      parts_.renderers->Open(*origin, *type, {request->script().begin(), request->script().end()},
                             request->output_path(), request->keep_open());
  if (!opened.ok())
    return ToGrpc(opened.status());
  parts_.host->log().Append({0, absl::Time(), origin->Serialize(), 0, "Renderer launched", "",
                             absl::StrCat(ClientTypeName(*type), " pid=", opened->pid)});
  reply->set_pid(opened->pid);
  reply->set_session_id(opened->session_id);
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::CloseWindow(grpc::ServerContext*,
                                              const admin::CloseWindowRequest* request,
                                              admin::Empty*) {
  if (!parts_.renderers->Close(request->pid())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no renderer window with pid ", request->pid()));
  }
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::OpenSession(grpc::ServerContext*,
                                              const admin::OpenSessionRequest* request,
                                              admin::OpenSessionReply* reply) {
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  if (!origin->IsPotentiallyTrustworthy()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, origin->Serialize() + " is not a secure origin");
  }
  absl::StatusOr<ClientType> type = ToClientType(request->client_type());
  if (!type.ok())
    return ToGrpc(type.status());
  absl::StatusOr<SessionRegistry::Created> session = parts_.host->sessions().Create(*origin, *type, 0, 0);
  if (!session.ok())
    return ToGrpc(session.status());
  reply->set_socket_path(parts_.host->socket_path());
  reply->set_token(session->token);
  reply->set_session_id(session->session.id);
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::CloseSession(grpc::ServerContext*,
                                               const admin::CloseSessionRequest* request,
                                               admin::Empty*) {
  parts_.host->sessions().Revoke(request->session_id());
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::SetPermission(grpc::ServerContext*,
                                                const admin::SetPermissionRequest* request,
                                                admin::Empty*) {
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  std::optional<PermissionStatus> status;
  if (request->setting() == admin::SetPermissionRequest::SETTING_GRANTED)
    status = PermissionStatus::kGranted;
  if (request->setting() == admin::SetPermissionRequest::SETTING_DENIED)
    status = PermissionStatus::kDenied;
  parts_.permissions->Set(*origin, request->periodic() ? SyncType::kPeriodic : SyncType::kOneShot, status);
  if (status == PermissionStatus::kDenied) {
    // Revoking either permission removes the origin's periodic registrations, from memory and storage.
    absl::Notification removed;
    absl::Status result;
    parts_.host->engine().OnPermissionRevoked(*origin, [&](absl::Status s) {
      result = s;
      removed.Notify();
    });
    removed.WaitForNotification();
    parts_.host->log().Append({0, absl::Time(), origin->Serialize(), 0, "Permission revoked", "",
                               request->periodic() ? "periodic-background-sync" : "background-sync"});
    if (!result.ok())
      return ToGrpc(result);
  }
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::SetNetworkEmulation(grpc::ServerContext*,
                                                      const admin::SetNetworkEmulationRequest* request,
                                                      admin::Empty*) {
  if (request->service_worker_registration_id() != 0) {
    if (request->offline()) {
      parts_.connectivity->EmulateServiceWorkerOffline(request->service_worker_registration_id());
    } else {
      parts_.connectivity->StopEmulatingServiceWorkerOffline(request->service_worker_registration_id());
    }
    parts_.host->log().Append({0, absl::Time(), "", request->service_worker_registration_id(),
                               request->offline() ? "Emulating offline" : "Stopped emulating offline", "", ""});
    return grpc::Status::OK;
  }
  ConnectivityController::Override mode = ConnectivityController::Override::kAuto;
  const char* name = "auto";
  if (request->mode() == admin::SetNetworkEmulationRequest::MODE_OFFLINE) {
    mode = ConnectivityController::Override::kForceOffline;
    name = "offline";
  } else if (request->mode() == admin::SetNetworkEmulationRequest::MODE_ONLINE) {
    mode = ConnectivityController::Override::kForceOnline;
    name = "online";
  }
  parts_.connectivity->SetOverride(mode);
  emulation_ = request->mode();
  parts_.host->log().Append({0, absl::Time(), "", 0, "Network emulation", "", name});
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::ListRegistrations(grpc::ServerContext*,
                                                    const admin::Empty*,
                                                    admin::RegistrationTable* reply) {
  for (const SyncRegistration& r : parts_.host->engine().GetAllRegistrations()) {
    admin::Registration* row = reply->add_registrations();
    row->set_origin(r.origin.Serialize());
    row->set_service_worker_registration_id(r.key.sw_registration_id);
    row->set_tag(r.key.tag);
    row->set_type(std::string(SyncTypeName(r.key.type)));
    row->set_state(std::string(SyncStateName(r.state)));
    row->set_num_attempts(r.num_attempts);
    row->set_max_attempts(r.max_attempts);
    if (r.next_attempt_time != absl::InfinitePast())
      row->set_next_attempt_unix_ms(absl::ToUnixMillis(r.next_attempt_time));
    if (r.last_failure != SyncEventOutcome::kCompleted) {
      row->set_last_failure(std::string(SyncEventOutcomeName(r.last_failure)));
    }
    row->set_resolved(r.resolved);
  }
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::DispatchSyncEvent(grpc::ServerContext*,
                                                    const admin::DispatchSyncEventRequest* request,
                                                    admin::DispatchSyncEventReply* reply) {
  std::optional<ServiceWorkerRegistrationInfo> sw =
      parts_.service_workers->Find(request->service_worker_registration_id());
  if (!sw || !sw->has_active_worker) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no active service worker with that id");
  }
  SyncEventRequest event{
      sw->id, sw->origin, SyncType::kOneShot, request->tag(), request->last_chance(), absl::Now() + absl::Minutes(3)};
  absl::Notification done;
  SyncEventOutcome outcome = SyncEventOutcome::kAborted;
  parts_.host->dispatcher().DispatchSyncEvent(event, [&](SyncEventOutcome o) {
    outcome = o;
    done.Notify();
  });
  done.WaitForNotification();
  reply->set_outcome(std::string(SyncEventOutcomeName(outcome)));
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::StreamLog(grpc::ServerContext* context,
                                            const admin::StreamLogRequest* request,
                                            grpc::ServerWriter<admin::LogEntry>* writer) {
  uint64_t after = request->since_sequence();
  while (true) {
    std::vector<LogEntry> entries =
        request->follow() ? parts_.host->log().WaitSince(after, absl::Seconds(1)) : parts_.host->log().Since(after);
    for (const LogEntry& entry : entries) {
      admin::LogEntry out;
      out.set_sequence(entry.sequence);
      out.set_unix_ms(absl::ToUnixMillis(entry.time));
      out.set_origin(entry.origin);
      out.set_service_worker_registration_id(entry.sw_registration_id);
      out.set_event(entry.event);
      out.set_tag(entry.tag);
      out.set_detail(entry.detail);
      if (!writer->Write(out))
        return grpc::Status::OK;
      after = entry.sequence;
    }
    if (!request->follow() || context->IsCancelled())
      return grpc::Status::OK;
  }
}

grpc::Status BrowserAdminService::GetStatus(grpc::ServerContext*, const admin::Empty*, admin::BrowserStatus* reply) {
  reply->set_online(parts_.system_online ? parts_.system_online() : false);
  static const char* const kModes[] = {"auto", "offline", "online"};
  reply->set_network_emulation(kModes[emulation_.load() % 3]);
  reply->set_bad_messages(parts_.host->bad_messages().count());
  reply->set_events_dispatched(parts_.host->engine().GetCounters().events_dispatched);
  for (const auto& [id, pid] : parts_.host->worker_processes().Running())
    reply->add_running_workers(id);
  reply->set_profile(parts_.profile);
  reply->set_pid(getpid());
  return grpc::Status::OK;
}

}  // namespace bgsync
