// The admin endpoint's service (admin.proto): bgsync_browser's DevTools. Trusted: only the browser's owner can
// open its socket.
#ifndef BROWSER_ADMIN_BROWSER_ADMIN_SERVICE_H_
#define BROWSER_ADMIN_BROWSER_ADMIN_SERVICE_H_

#include <atomic>
#include <functional>
#include <string>

#include "browser/admin/admin.grpc.pb.h"
#include "browser/background_sync_host.h"
#include "browser/connectivity/connectivity_controller.h"
#include "browser/devtools/background_service_recorder.h"
#include "browser/engagement_store.h"
#include "browser/permission_store.h"
#include "browser/process/renderer_process_host.h"
#include "browser/service_worker/service_worker_registry.h"

namespace bgsync {

// Thread-safety: gRPC's sync server calls it from its threads; everything it touches is thread-safe. Pointers are
// not owned and must outlive the server.
class BrowserAdminService final : public admin::BrowserAdmin::Service {
 public:
  struct Parts {
    BackgroundSyncHost* host = nullptr;
    ServiceWorkerRegistry* service_workers = nullptr;
    RendererProcessHost* renderers = nullptr;
    PermissionStore* permissions = nullptr;
    ConnectivityController* connectivity = nullptr;
    std::function<bool()> system_online;
    std::string profile;
    // The emulation the browser started with (SetNetworkEmulationRequest::Mode), for GetStatus.
    int initial_emulation = 0;
    // Optional: without them the recording and engagement calls fail with UNIMPLEMENTED.
    BackgroundServiceRecorder* recorder = nullptr;
    EngagementStore* engagement = nullptr;
  };
  explicit BrowserAdminService(Parts parts) : parts_(std::move(parts)), emulation_(parts_.initial_emulation) {}

  grpc::Status InstallServiceWorker(grpc::ServerContext*,
                                    const admin::InstallServiceWorkerRequest*,
                                    admin::ServiceWorkerInfo*) override;
  grpc::Status ActivateServiceWorker(grpc::ServerContext*,
                                     const admin::ServiceWorkerId*,
                                     admin::ServiceWorkerInfo*) override;
  grpc::Status UnregisterServiceWorker(grpc::ServerContext*, const admin::ServiceWorkerId*, admin::Empty*) override;
  grpc::Status ListServiceWorkers(grpc::ServerContext*, const admin::Empty*, admin::ServiceWorkerList*) override;
  grpc::Status OpenWindow(grpc::ServerContext*, const admin::OpenWindowRequest*, admin::OpenWindowReply*) override;
  grpc::Status CloseWindow(grpc::ServerContext*, const admin::CloseWindowRequest*, admin::Empty*) override;
  grpc::Status OpenSession(grpc::ServerContext*, const admin::OpenSessionRequest*, admin::OpenSessionReply*) override;
  grpc::Status CloseSession(grpc::ServerContext*, const admin::CloseSessionRequest*, admin::Empty*) override;
  grpc::Status SetPermission(grpc::ServerContext*, const admin::SetPermissionRequest*, admin::Empty*) override;
  grpc::Status GetPermission(grpc::ServerContext*,
                             const admin::GetPermissionRequest*,
                             admin::PermissionReply*) override;
  grpc::Status SetEngagement(grpc::ServerContext*,
                             const admin::SetEngagementRequest*,
                             admin::EngagementReply*) override;
  grpc::Status GetEngagement(grpc::ServerContext*,
                             const admin::GetEngagementRequest*,
                             admin::EngagementReply*) override;
  grpc::Status SetNetworkEmulation(grpc::ServerContext*,
                                   const admin::SetNetworkEmulationRequest*,
                                   admin::Empty*) override;
  grpc::Status ListRegistrations(grpc::ServerContext*, const admin::Empty*, admin::RegistrationTable*) override;
  grpc::Status Explain(grpc::ServerContext*, const admin::ExplainRequest*, admin::RegistrationTable*) override;
  grpc::Status ExplainAll(grpc::ServerContext*, const admin::Empty*, admin::RegistrationTable*) override;
  grpc::Status GetMetrics(grpc::ServerContext*, const admin::Empty*, admin::MetricsReply*) override;
  grpc::Status DispatchSyncEvent(grpc::ServerContext*,
                                 const admin::DispatchSyncEventRequest*,
                                 admin::DispatchSyncEventReply*) override;
  grpc::Status StreamLog(grpc::ServerContext*,
                         const admin::StreamLogRequest*,
                         grpc::ServerWriter<admin::LogEntry>*) override;
  grpc::Status GetStatus(grpc::ServerContext*, const admin::Empty*, admin::BrowserStatus*) override;
  grpc::Status StartRecording(grpc::ServerContext*,
                              const admin::BackgroundServiceRequest*,
                              admin::RecordingState*) override;
  grpc::Status StopRecording(grpc::ServerContext*,
                             const admin::BackgroundServiceRequest*,
                             admin::RecordingState*) override;
  grpc::Status ClearEvents(grpc::ServerContext*, const admin::BackgroundServiceRequest*, admin::Empty*) override;
  grpc::Status GetRecordingState(grpc::ServerContext*, const admin::Empty*, admin::RecordingStateList*) override;
  grpc::Status GetBackgroundServiceEvents(grpc::ServerContext*,
                                          const admin::GetBackgroundServiceEventsRequest*,
                                          grpc::ServerWriter<admin::BackgroundServiceUpdate>*) override;

 private:
  void FillInfo(const ServiceWorkerRegistration& registration, admin::ServiceWorkerInfo* info);

  const Parts parts_;
  std::atomic<int> emulation_;  // the last SetNetworkEmulationRequest::Mode set, for GetStatus
};

}  // namespace bgsync

#endif  // BROWSER_ADMIN_BROWSER_ADMIN_SERVICE_H_
