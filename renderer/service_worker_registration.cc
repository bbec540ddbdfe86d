#include "renderer/service_worker_registration.h"

#include <utility>

namespace bgsync {

ServiceWorkerRegistration::ServiceWorkerRegistration(std::shared_ptr<grpc::Channel> channel,
                                                     std::string token,
                                                     int64_t id,
                                                     bool has_active_worker)
    : id_(id),
      has_active_worker_(has_active_worker),
      sync_(channel, token, id, has_active_worker),
      periodic_sync_(std::move(channel), std::move(token), id, has_active_worker) {}

}  // namespace bgsync
