// The browser side of OneShotBackgroundSyncService: validate, bind the caller's identity, forward to the engine.
#ifndef SERVICES_BACKGROUND_SYNC_ONE_SHOT_BACKGROUND_SYNC_SERVICE_IMPL_H_
#define SERVICES_BACKGROUND_SYNC_ONE_SHOT_BACKGROUND_SYNC_SERVICE_IMPL_H_

#include "components/background_sync/background_sync_engine.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "services/background_sync/bad_message_reporter.h"
#include "services/background_sync/session_registry.h"
#include "services/background_sync/sync_service_calls.h"

namespace bgsync {

// Thread-safety: gRPC calls it from its threads; it keeps no state of its own. Every reaction finishes from the
// engine's callback, never blocking a gRPC thread. The pointers are not owned and must outlive the server.
class OneShotBackgroundSyncServiceImpl final : public mojom::OneShotBackgroundSyncService::CallbackService {
 public:
  // Told about every Register the engine answered (for the browser's event log), on the answering thread.
  using RegisterObserver = SyncRegisterObserver;

  OneShotBackgroundSyncServiceImpl(BackgroundSyncEngine* engine,
                                   SessionRegistry* sessions,
                                   BadMessageReporter* bad_messages,
                                   RegisterObserver on_register = nullptr,
                                   SessionRateLimiter* rate_limiter = nullptr)
      : calls_(engine, sessions, bad_messages, rate_limiter, SyncType::kOneShot, std::move(on_register)) {}

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const mojom::RegisterRequest* request,
                                     mojom::RegisterReply* reply) override;
  grpc::ServerUnaryReactor* DidResolveRegistration(grpc::CallbackServerContext* context,
                                                   const mojom::DidResolveRegistrationRequest* request,
                                                   mojom::DidResolveRegistrationReply* reply) override;
  grpc::ServerUnaryReactor* GetRegistrations(grpc::CallbackServerContext* context,
                                             const mojom::GetRegistrationsRequest* request,
                                             mojom::GetRegistrationsReply* reply) override;

 private:
  const SyncServiceCalls calls_;
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_ONE_SHOT_BACKGROUND_SYNC_SERVICE_IMPL_H_
