// Reads the caller's session from a gRPC call's "bgsync-session" metadata and the connection it came on.
#ifndef SERVICES_BACKGROUND_SYNC_AUTHENTICATE_CALL_H_
#define SERVICES_BACKGROUND_SYNC_AUTHENTICATE_CALL_H_

#include <optional>

#include "grpcpp/server_context.h"
#include "grpcpp/support/callback_common.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {

// The live session named by the call's metadata; nullopt if the header is absent, the session is not live, or
// it is bound to a connection other than the call's (SessionRegistry::Authenticate). The callers answer every
// nullopt alike, so a stolen token learns nothing an unknown one would not.
inline std::optional<Session> AuthenticateCall(SessionRegistry& sessions, const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kSessionMetadataKey);
  if (it == metadata.end())
    return std::nullopt;
  return sessions.Authenticate(absl::string_view(it->second.data(), it->second.size()), context.peer());
}

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_AUTHENTICATE_CALL_H_
