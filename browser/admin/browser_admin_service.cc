#include "browser/admin/browser_admin_service.h"

#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
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

admin::SyncStoreOutcome SyncStoreOutcomeOf(LevelDbStorageBackend::OpenOutcome outcome) {
  switch (outcome) {
    case LevelDbStorageBackend::OpenOutcome::kServed:
      return admin::SYNC_STORE_SERVED;
    case LevelDbStorageBackend::OpenOutcome::kRepaired:
      return admin::SYNC_STORE_REPAIRED;
    case LevelDbStorageBackend::OpenOutcome::kQuarantined:
      return admin::SYNC_STORE_QUARANTINED;
  }
  return admin::SYNC_STORE_OUTCOME_UNSPECIFIED;
}

void FillRegistration(const SyncRegistration& r, admin::Registration* row) {
  row->set_origin(r.origin.Serialize());
  row->set_service_worker_registration_id(r.key.sw_registration_id);
  row->set_tag(r.key.tag);
  row->set_type(std::string(SyncTypeName(r.key.type)));
  row->set_state(std::string(SyncStateName(r.state)));
  row->set_num_attempts(r.num_attempts);
  row->set_max_attempts(r.max_attempts);
  if (r.next_attempt_time != absl::InfinitePast())
    row->set_next_attempt_unix_ms(absl::ToUnixMillis(r.next_attempt_time));
  if (r.last_failure != SyncEventOutcome::kCompleted)
    row->set_last_failure(std::string(SyncEventOutcomeName(r.last_failure)));
  row->set_resolved(r.resolved);
  row->set_min_interval_ms(absl::ToInt64Milliseconds(r.min_interval));
}

void FillStatus(const BackgroundSyncEngine::RegistrationStatus& status, admin::Registration* row) {
  FillRegistration(status.registration, row);
  row->set_reason(std::string(BackgroundSyncEngine::BlockedReasonName(status.reason)));
  if (status.until != absl::InfinitePast() && status.until != absl::InfiniteFuture())
    row->set_until_unix_ms(absl::ToUnixMillis(status.until));
  row->set_explanation(status.explanation);
}

// The service a request names; INVALID_ARGUMENT for UNSPECIFIED unless `unspecified_means_both`.
absl::StatusOr<std::optional<SyncType>> ToSyncType(admin::BackgroundService service, bool unspecified_means_both) {
  switch (service) {
    case admin::BACKGROUND_SERVICE_BACKGROUND_SYNC:
      return std::optional<SyncType>(SyncType::kOneShot);
    case admin::BACKGROUND_SERVICE_PERIODIC_BACKGROUND_SYNC:
      return std::optional<SyncType>(SyncType::kPeriodic);
    default:
      if (unspecified_means_both)
        return std::optional<SyncType>();
      return absl::InvalidArgumentError("service must be backgroundSync or periodicBackgroundSync");
  }
}

admin::BackgroundService ToBackgroundService(SyncType type) {
  return type == SyncType::kPeriodic ? admin::BACKGROUND_SERVICE_PERIODIC_BACKGROUND_SYNC
                                     : admin::BACKGROUND_SERVICE_BACKGROUND_SYNC;
}

void FillRecordingState(const RecordingState& state, admin::RecordingState* out) {
  out->set_service(ToBackgroundService(state.service));
  out->set_service_name(std::string(BackgroundServiceName(state.service)));
  out->set_recording(state.recording);
  if (state.recording) {
    out->set_started_unix_ms(absl::ToUnixMillis(state.started));
    out->set_expires_unix_ms(absl::ToUnixMillis(state.expires));
  }
}

void FillEvent(const RecordedEvent& recorded, admin::BackgroundServiceEvent* out) {
  const BackgroundServiceEvent& event = recorded.event;
  out->set_sequence(recorded.sequence);
  out->set_timestamp_unix_ms(absl::ToUnixMillis(event.time));
  out->set_origin(event.origin.Serialize());
  out->set_service_worker_registration_id(event.sw_registration_id);
  out->set_service(ToBackgroundService(event.service));
  out->set_event_name(event.event_name);
  out->set_instance_id(event.instance_id);
  for (const auto& [key, value] : event.metadata) {
    admin::BackgroundServiceEventMetadata* entry = out->add_event_metadata();
    entry->set_key(key);
    entry->set_value(value);
  }
}

void FillUpdate(const BackgroundServiceUpdate& update, admin::BackgroundServiceUpdate* out) {
  if (update.event)
    FillEvent(*update.event, out->mutable_event());
  if (update.recording_state)
    FillRecordingState(*update.recording_state, out->mutable_recording_state());
}

admin::EngagementLevel ToAdminLevel(EngagementLevel level) {
  switch (level) {
    case EngagementLevel::kNone:
      return admin::ENGAGEMENT_LEVEL_NONE;
    case EngagementLevel::kMinimal:
      return admin::ENGAGEMENT_LEVEL_MINIMAL;
    case EngagementLevel::kLow:
      return admin::ENGAGEMENT_LEVEL_LOW;
    case EngagementLevel::kMedium:
      return admin::ENGAGEMENT_LEVEL_MEDIUM;
    case EngagementLevel::kHigh:
      return admin::ENGAGEMENT_LEVEL_HIGH;
  }
  return admin::ENGAGEMENT_LEVEL_HIGH;
}

// nullopt for DEFAULT; INVALID_ARGUMENT for a number outside the enum.
absl::StatusOr<std::optional<EngagementLevel>> FromAdminLevel(admin::EngagementLevel level) {
  switch (level) {
    case admin::ENGAGEMENT_LEVEL_DEFAULT:
      return std::optional<EngagementLevel>();
    case admin::ENGAGEMENT_LEVEL_NONE:
      return std::optional<EngagementLevel>(EngagementLevel::kNone);
    case admin::ENGAGEMENT_LEVEL_MINIMAL:
      return std::optional<EngagementLevel>(EngagementLevel::kMinimal);
    case admin::ENGAGEMENT_LEVEL_LOW:
      return std::optional<EngagementLevel>(EngagementLevel::kLow);
    case admin::ENGAGEMENT_LEVEL_MEDIUM:
      return std::optional<EngagementLevel>(EngagementLevel::kMedium);
    case admin::ENGAGEMENT_LEVEL_HIGH:
      return std::optional<EngagementLevel>(EngagementLevel::kHigh);
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown engagement level ", level));
  }
}

// The lower bound of a value histogram's bucket label "[lo,hi)", for ordering; -1 when it is not one.
int64_t BucketLow(const std::string& label) {
  int64_t low = -1;
  if (label.size() < 2 || label[0] != '[')
    return -1;
  const size_t comma = label.find(',');
  if (comma == std::string::npos || !absl::SimpleAtoi(label.substr(1, comma - 1), &low))
    return -1;
  return low;
}

constexpr char kNoRecorder[] = "this browser has no DevTools recorder";
constexpr char kNoEngagementStore[] = "this browser has no engagement store";

grpc::Status RecorderMissing() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, kNoRecorder);
}

// The one service a recording request names: UNIMPLEMENTED without a recorder, INVALID_ARGUMENT for UNSPECIFIED.
absl::StatusOr<SyncType> RecordedService(const BackgroundServiceRecorder* recorder, admin::BackgroundService service) {
  if (!recorder)
    return absl::UnimplementedError(kNoRecorder);
  absl::StatusOr<std::optional<SyncType>> type = ToSyncType(service, /*unspecified_means_both=*/false);
  if (!type.ok())
    return type.status();
  return **type;
}

// StartRecording (`start`) or StopRecording: changes the recording of the service `request` names, logs the change
// and replies with the service's recording state.
grpc::Status SetRecording(const BrowserAdminService::Parts& parts,
                          const admin::BackgroundServiceRequest& request,
                          bool start,
                          admin::RecordingState* reply) {
  absl::StatusOr<SyncType> service = RecordedService(parts.recorder, request.service());
  if (!service.ok())
    return ToGrpc(service.status());
  absl::StatusOr<RecordingState> state =
      start ? parts.recorder->StartRecording(*service) : parts.recorder->StopRecording(*service);
  if (!state.ok())
    return ToGrpc(state.status());
  parts.host->log().Append({0, absl::Time(), "", 0, start ? "DevTools recording started" : "DevTools recording stopped",
                            "", std::string(BackgroundServiceName(*service))});
  FillRecordingState(*state, reply);
  return grpc::Status::OK;
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
  if (absl::Status stored =
          parts_.permissions->Set(*origin, request->periodic() ? SyncType::kPeriodic : SyncType::kOneShot, status);
      !stored.ok()) {
    return ToGrpc(stored);
  }
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

grpc::Status BrowserAdminService::GetPermission(grpc::ServerContext*,
                                                const admin::GetPermissionRequest* request,
                                                admin::PermissionReply* reply) {
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  const PermissionStatus status =
      parts_.permissions->GetPermission(*origin, request->periodic() ? SyncType::kPeriodic : SyncType::kOneShot);
  reply->set_origin(origin->Serialize());
  reply->set_periodic(request->periodic());
  reply->set_status(status == PermissionStatus::kGranted ? "granted" : "denied");
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::SetEngagement(grpc::ServerContext* context,
                                                const admin::SetEngagementRequest* request,
                                                admin::EngagementReply* reply) {
  if (!parts_.engagement)
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, kNoEngagementStore);
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  absl::StatusOr<std::optional<EngagementLevel>> level = FromAdminLevel(request->level());
  if (!level.ok())
    return ToGrpc(level.status());
  if (absl::Status status = parts_.engagement->Set(*origin, *level); !status.ok())
    return ToGrpc(status);
  admin::GetEngagementRequest get;
  get.set_origin(request->origin());
  return GetEngagement(context, &get, reply);
}

grpc::Status BrowserAdminService::GetEngagement(grpc::ServerContext*,
                                                const admin::GetEngagementRequest* request,
                                                admin::EngagementReply* reply) {
  if (!parts_.engagement)
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, kNoEngagementStore);
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  std::optional<EngagementLevel> set = parts_.engagement->GetOverride(*origin);
  const EngagementLevel level = set.value_or(EngagementStore::kDefaultLevel);
  reply->set_origin(origin->Serialize());
  reply->set_level(ToAdminLevel(level));
  reply->set_level_name(std::string(EngagementLevelName(level)));
  reply->set_is_default(!set.has_value());
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
  for (const SyncRegistration& r : parts_.host->engine().GetAllRegistrations())
    FillRegistration(r, reply->add_registrations());
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::Explain(grpc::ServerContext*,
                                          const admin::ExplainRequest* request,
                                          admin::RegistrationTable* reply) {
  absl::StatusOr<Origin> origin = ParseOrigin(request->origin());
  if (!origin.ok())
    return ToGrpc(origin.status());
  std::optional<SyncType> type;
  if (request->type() == admin::SYNC_REGISTRATION_TYPE_ONE_SHOT)
    type = SyncType::kOneShot;
  if (request->type() == admin::SYNC_REGISTRATION_TYPE_PERIODIC)
    type = SyncType::kPeriodic;
  for (const BackgroundSyncEngine::RegistrationStatus& status : parts_.host->engine().ExplainAll()) {
    const SyncRegistration& r = status.registration;
    if (r.origin != *origin || r.key.tag != request->tag() || (type && r.key.type != *type) ||
        (request->service_worker_registration_id() != 0 &&
         r.key.sw_registration_id != request->service_worker_registration_id())) {
      continue;
    }
    FillStatus(status, reply->add_registrations());
  }
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::ExplainAll(grpc::ServerContext*,
                                             const admin::Empty*,
                                             admin::RegistrationTable* reply) {
  for (const BackgroundSyncEngine::RegistrationStatus& status : parts_.host->engine().ExplainAll())
    FillStatus(status, reply->add_registrations());
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::GetMetrics(grpc::ServerContext*, const admin::Empty*, admin::MetricsReply* reply) {
  for (const auto& [name, histogram] : parts_.host->engine().metrics().Snapshot()) {
    admin::Histogram* out = reply->add_histograms();
    out->set_name(name);
    out->set_count(histogram.count);
    std::vector<std::pair<std::string, int64_t>> buckets(histogram.buckets.begin(), histogram.buckets.end());
    const bool value = !buckets.empty() && std::all_of(buckets.begin(), buckets.end(),
                                                       [](const auto& bucket) { return BucketLow(bucket.first) >= 0; });
    out->set_kind(value ? "value" : "enumeration");
    if (value) {
      out->set_sum(histogram.sum);
      out->set_min(histogram.min);
      out->set_max(histogram.max);
      std::sort(buckets.begin(), buckets.end(),
                [](const auto& a, const auto& b) { return BucketLow(a.first) < BucketLow(b.first); });
    }
    for (const auto& [label, count] : buckets) {
      admin::HistogramBucket* bucket = out->add_buckets();
      bucket->set_label(label);
      bucket->set_count(count);
    }
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
  if (request->periodic() && request->last_chance()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a periodicsync event has no last chance");
  }
  SyncEventRequest event{sw->id,
                         sw->origin,
                         request->periodic() ? SyncType::kPeriodic : SyncType::kOneShot,
                         request->tag(),
                         request->last_chance(),
                         absl::Now() + absl::Minutes(3)};
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
  const BackgroundSyncHost::StatusCounters counters = parts_.host->status_counters();
  reply->set_bad_messages(counters.bad_messages);
  reply->set_stolen_token_refusals(counters.stolen_token_refusals);
  reply->set_events_dispatched(counters.events_dispatched);
  reply->set_rate_limited_calls(counters.rate_limited_calls);
  reply->set_workers_killed_for_deadline(counters.workers_killed_for_deadline);
  reply->set_sync_store_outcome(SyncStoreOutcomeOf(counters.storage.outcome));
  reply->set_sync_store_damaged_kept(counters.storage.damaged_stores_kept);
  reply->set_sync_store_recovery(counters.storage.description);
  reply->set_quarantined_at_load(counters.quarantined_at_load);
  reply->set_interrupted_at_load(counters.interrupted_at_load);
  for (const auto& [id, pid] : parts_.host->worker_processes().Running())
    reply->add_running_workers(id);
  reply->set_profile(parts_.profile);
  reply->set_pid(getpid());
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::StartRecording(grpc::ServerContext*,
                                                 const admin::BackgroundServiceRequest* request,
                                                 admin::RecordingState* reply) {
  return SetRecording(parts_, *request, /*start=*/true, reply);
}

grpc::Status BrowserAdminService::StopRecording(grpc::ServerContext*,
                                                const admin::BackgroundServiceRequest* request,
                                                admin::RecordingState* reply) {
  return SetRecording(parts_, *request, /*start=*/false, reply);
}

grpc::Status BrowserAdminService::ClearEvents(grpc::ServerContext*,
                                              const admin::BackgroundServiceRequest* request,
                                              admin::Empty*) {
  absl::StatusOr<SyncType> service = RecordedService(parts_.recorder, request->service());
  if (!service.ok())
    return ToGrpc(service.status());
  return ToGrpc(parts_.recorder->ClearEvents(*service));
}

grpc::Status BrowserAdminService::GetRecordingState(grpc::ServerContext*,
                                                    const admin::Empty*,
                                                    admin::RecordingStateList* reply) {
  if (!parts_.recorder)
    return RecorderMissing();
  for (SyncType service : {SyncType::kOneShot, SyncType::kPeriodic})
    FillRecordingState(parts_.recorder->GetRecordingState(service), reply->add_states());
  return grpc::Status::OK;
}

grpc::Status BrowserAdminService::GetBackgroundServiceEvents(
    grpc::ServerContext* context,
    const admin::GetBackgroundServiceEventsRequest* request,
    grpc::ServerWriter<admin::BackgroundServiceUpdate>* writer) {
  if (!parts_.recorder)
    return RecorderMissing();
  absl::StatusOr<std::optional<SyncType>> service = ToSyncType(request->service(), true);
  if (!service.ok())
    return ToGrpc(service.status());
  if (!request->follow()) {
    absl::StatusOr<std::vector<RecordedEvent>> events = parts_.recorder->GetEvents(*service);
    if (!events.ok())
      return ToGrpc(events.status());
    for (const RecordedEvent& event : *events) {
      admin::BackgroundServiceUpdate out;
      FillEvent(event, out.mutable_event());
      if (!writer->Write(out))
        return grpc::Status::OK;
    }
    return grpc::Status::OK;
  }
  absl::StatusOr<std::unique_ptr<BackgroundServiceObservation>> observation = parts_.recorder->StartObserving(*service);
  if (!observation.ok())
    return ToGrpc(observation.status());
  // Woken at least every second to notice a cancelled call (the client went away, or the server is stopping).
  while (!context->IsCancelled() && !(*observation)->closed()) {
    for (const BackgroundServiceUpdate& update : (*observation)->Wait(absl::Seconds(1))) {
      admin::BackgroundServiceUpdate out;
      FillUpdate(update, &out);
      if (!writer->Write(out))
        return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

}  // namespace bgsync
