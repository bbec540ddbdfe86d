// The page's view of one service-worker registration: ServiceWorkerRegistration.sync and .periodicSync.
//
// Thread-safety: as SyncManager and PeriodicSyncManager (any number of threads).
#ifndef RENDERER_SERVICE_WORKER_REGISTRATION_H_
#define RENDERER_SERVICE_WORKER_REGISTRATION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "renderer/periodic_sync_manager.h"
#include "renderer/sync_manager.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace bgsync {

// Owns its SyncManager and PeriodicSyncManager; destroying it waits for their calls in flight.
class ServiceWorkerRegistration {
 public:
  // See SyncManager::SyncManager; both managers share `channel` and `token`.
  ServiceWorkerRegistration(std::shared_ptr<grpc::Channel> channel,
                            std::string token,
                            int64_t id,
                            bool has_active_worker);
  ServiceWorkerRegistration(const ServiceWorkerRegistration&) = delete;
  ServiceWorkerRegistration& operator=(const ServiceWorkerRegistration&) = delete;

  int64_t id() const { return id_; }
  bool has_active_worker() const { return has_active_worker_; }
  // ServiceWorkerRegistration.sync; lives as long as this.
  SyncManager& sync() { return sync_; }
  // ServiceWorkerRegistration.periodicSync; lives as long as this.
  PeriodicSyncManager& periodic_sync() { return periodic_sync_; }

 private:
  const int64_t id_;
  const bool has_active_worker_;
  SyncManager sync_;
  PeriodicSyncManager periodic_sync_;
};

}  // namespace bgsync

#endif  // RENDERER_SERVICE_WORKER_REGISTRATION_H_
