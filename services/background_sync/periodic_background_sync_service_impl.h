// The browser side of PeriodicBackgroundSyncService: validate, bind the caller's identity, forward to the engine.
#ifndef SERVICES_BACKGROUND_SYNC_PERIODIC_BACKGROUND_SYNC_SERVICE_IMPL_H_
#define SERVICES_BACKGROUND_SYNC_PERIODIC_BACKGROUND_SYNC_SERVICE_IMPL_H_

#include "components/background_sync/background_sync_engine.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "services/background_sync/bad_message_reporter.h"
#include "services/background_sync/session_registry.h"
#include "services/background_sync/sync_service_calls.h"

namespace bgsync {

// Every call is authenticated by its "bgsync-session" metadata (UNAUTHENTICATED without a live session) and the
// origin is the session's, never the message's. Input no honest renderer sends (a service-worker registration id
// <= 0, a tag that is not well-formed UTF-8, a negative min_interval_ms) is reported to the BadMessageReporter,
// which revokes the session and kills a launched process; the call fails with INVALID_ARGUMENT. A session over its
// rate limit gets RESOURCE_EXHAUSTED. Everything the engine refuses comes back as the reply's BackgroundSyncError,
// with gRPC status OK.
//
// Thread-safety: gRPC calls it from its threads; it keeps no state of its own. Every reaction finishes from the
// engine's callback, never blocking a gRPC thread. The pointers are not owned and must outlive the server.
class PeriodicBackgroundSyncServiceImpl final : public mojom::PeriodicBackgroundSyncService::CallbackService {
 public:
  // Told about every Register the engine answered (for the browser's event log), on the answering thread.
  using RegisterObserver = SyncRegisterObserver;

  PeriodicBackgroundSyncServiceImpl(BackgroundSyncEngine* engine,
                                    SessionRegistry* sessions,
                                    BadMessageReporter* bad_messages,
                                    RegisterObserver on_register = nullptr,
                                    SessionRateLimiter* rate_limiter = nullptr)
      : calls_(engine, sessions, bad_messages, rate_limiter, SyncType::kPeriodic, std::move(on_register)) {}

  // Replies with the registration as stored (tag and min_interval_ms echoed) or the engine's error.
  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const mojom::RegisterRequest* request,
                                     mojom::RegisterReply* reply) override;
  // Replies `unregistered` (also when the tag was not registered) or the engine's error.
  grpc::ServerUnaryReactor* Unregister(grpc::CallbackServerContext* context,
                                       const mojom::UnregisterRequest* request,
                                       mojom::UnregisterReply* reply) override;
  // Replies with the periodic tags, sorted, or the engine's error.
  grpc::ServerUnaryReactor* GetRegistrations(grpc::CallbackServerContext* context,
                                             const mojom::GetRegistrationsRequest* request,
                                             mojom::GetRegistrationsReply* reply) override;

 private:
  const SyncServiceCalls calls_;
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_PERIODIC_BACKGROUND_SYNC_SERVICE_IMPL_H_
