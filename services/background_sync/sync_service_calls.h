// What the renderer-facing sync services (OneShotBackgroundSyncServiceImpl, PeriodicBackgroundSyncServiceImpl)
// do alike with a unary call: authenticate it, report input no honest renderer sends, forward it to the engine for
// the session's origin, and turn the engine's answer into the reply. Internal to services/background_sync/.
#ifndef SERVICES_BACKGROUND_SYNC_SYNC_SERVICE_CALLS_H_
#define SERVICES_BACKGROUND_SYNC_SYNC_SERVICE_CALLS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "components/background_sync/background_sync_engine.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/bad_message_reporter.h"
#include "services/background_sync/session_rate_limiter.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {

// Told about every Register the engine answered (for the browser's event log), on the answering thread.
using SyncRegisterObserver = std::function<
    void(const Session& session, int64_t sw_registration_id, const std::string& tag, const absl::Status& result)>;

// Input no honest renderer sends, as the reason to report: a service-worker registration id <= 0 or a tag that is
// not well-formed UTF-8. nullopt if both are well-formed.
std::optional<std::string> CheckRegistrationKey(int64_t service_worker_registration_id, const std::string& tag);

// A unary call after SyncServiceCalls::Admit.
struct AdmittedCall {
  // The call's default reactor (taken once, by Admit). Already finished when `session` is nullopt; otherwise the
  // handler must finish it.
  grpc::ServerUnaryReactor* reactor = nullptr;
  // The caller's live session, whose origin is the one the call acts for; nullopt when the call was refused.
  std::optional<Session> session;
};

// The shared handling of the calls of one renderer-facing service, for the registrations of one SyncType.
//
// Thread-safety: constant after construction; gRPC may call it from any number of threads. The pointers are not
// owned and must outlive the server; `rate_limiter` may be null (no limit).
class SyncServiceCalls {
 public:
  SyncServiceCalls(BackgroundSyncEngine* engine,
                   SessionRegistry* sessions,
                   BadMessageReporter* bad_messages,
                   SessionRateLimiter* rate_limiter,
                   SyncType type,
                   SyncRegisterObserver on_register)
      : engine_(engine),
        sessions_(sessions),
        bad_messages_(bad_messages),
        rate_limiter_(rate_limiter),
        type_(type),
        on_register_(std::move(on_register)) {}

  BackgroundSyncEngine& engine() const { return *engine_; }

  // Takes the call's default reactor and finishes it at once, with UNAUTHENTICATED when the call's
  // "bgsync-session" metadata names no live session, else with INVALID_ARGUMENT when `bad_input` is set (after
  // reporting it to the BadMessageReporter, which revokes the session and kills a launched process), else with
  // RESOURCE_EXHAUSTED when the session is over its rate limit. Otherwise returns the session with the reactor
  // unfinished.
  AdmittedCall Admit(grpc::CallbackServerContext* context, std::optional<std::string> bad_input) const;

  // Register for this type. Bad messages: those of CheckRegistrationKey, a one-shot request with a min_interval_ms
  // other than 0, a periodic request with a negative one. Replies with the registration as stored (tag and
  // min_interval_ms) or the engine's error, with gRPC status OK; the observer is told first. A one-shot
  // registration whose session ended while the Register ran is released at once (it waits for no acknowledgement).
  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const mojom::RegisterRequest& request,
                                     mojom::RegisterReply* reply) const;

  // GetRegistrations for this type. Bad message: a service-worker registration id <= 0. Replies with the tags,
  // sorted, or the engine's error, with gRPC status OK.
  grpc::ServerUnaryReactor* GetRegistrations(grpc::CallbackServerContext* context,
                                             const mojom::GetRegistrationsRequest& request,
                                             mojom::GetRegistrationsReply* reply) const;

 private:
  BackgroundSyncEngine* const engine_;
  SessionRegistry* const sessions_;
  BadMessageReporter* const bad_messages_;
  SessionRateLimiter* const rate_limiter_;
  const SyncType type_;
  const SyncRegisterObserver on_register_;
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_SYNC_SERVICE_CALLS_H_
