// What the engine needs to know about service-worker registrations and their clients. The browser's
// service-worker registry implements it.
#ifndef COMPONENTS_BACKGROUND_SYNC_SERVICE_WORKER_REGISTRY_VIEW_H_
#define COMPONENTS_BACKGROUND_SYNC_SERVICE_WORKER_REGISTRY_VIEW_H_

#include <cstdint>
#include <optional>

#include "public/origin.h"

namespace bgsync {

struct ServiceWorkerRegistrationInfo {
  int64_t id = 0;
  Origin origin;
  bool has_active_worker = false;
};

// Thread-safety: implementations must be callable from any thread.
class ServiceWorkerRegistryView {
 public:
  virtual ~ServiceWorkerRegistryView() = default;

  // The registration with this id, or nullopt if there is none (never was, or was unregistered).
  virtual std::optional<ServiceWorkerRegistrationInfo> Find(int64_t sw_registration_id) = 0;

  // True if `origin` has a client whose frame type is top-level or auxiliary (an open window).
  virtual bool HasTopLevelWindowClient(const Origin& origin) = 0;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_SERVICE_WORKER_REGISTRY_VIEW_H_
