// Sessions: the browser-bound identity of every renderer, iframe and service-worker connection.
//
// A session is created by the browser when it launches a process (or when an admin opens one for a tool) and
// binds an unguessable token to (origin, client type, service-worker registration). Calls carry the token in
// the "bgsync-session" metadata header; the services read the caller's identity from here and never from a
// message. Revoking a session makes its token useless at once.
//
// The session of a launched process is also bound to that process's own channel (a socketpair the browser
// serves): its token is accepted only on that connection, so a token that escapes its process is worthless
// elsewhere. Sessions an admin opens for tools are not bound: a bearer token on the shared socket.
#ifndef SERVICES_BACKGROUND_SYNC_SESSION_REGISTRY_H_
#define SERVICES_BACKGROUND_SYNC_SESSION_REGISTRY_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "public/origin.h"

namespace bgsync {

enum class ClientType { kWindow, kIframe, kServiceWorker };

absl::string_view ClientTypeName(ClientType type);  // "window", "iframe", "service_worker"

struct Session {
  uint64_t id = 0;  // unique for the browser's lifetime; also the engine's ClientId
  Origin origin;
  ClientType type = ClientType::kWindow;
  int64_t service_worker_registration_id = 0;  // kServiceWorker only
  pid_t pid = 0;                               // the launched process, or 0 for a session opened for a tool
  // The one connection the token is accepted on, as gRPC names the peer of a call on it (ServerContext::peer(),
  // "fd:<N>" for a channel served from descriptor N); empty for an unbound session (any connection).
  std::string bound_peer;
};

// The metadata header that carries the token.
inline constexpr char kSessionMetadataKey[] = "bgsync-session";

// Thread-safety: every method may be called from any thread. Observers run outside the lock.
class SessionRegistry {
 public:
  struct Created {
    Session session;
    std::string token;  // 64 lower-case hex characters
  };

  // Mints a token (256 bits from getrandom) for a new session. A non-empty `bound_peer` binds the session to
  // the connection gRPC names so (see Session::bound_peer); the caller must make sure no live session is bound
  // to an older connection of the same name (RevokeBoundTo). Errors: kInternal if the kernel's random source
  // fails.
  absl::StatusOr<Created> Create(const Origin& origin,
                                 ClientType type,
                                 int64_t service_worker_registration_id,
                                 pid_t pid,
                                 std::string bound_peer = "");

  // Records the process a session was created for, once it has been spawned (the token must exist before the
  // spawn, to be handed over). Errors: kNotFound when the session is no longer live — it was revoked while the
  // spawn ran, e.g. for a bad message the process sent before its pid was known (BadMessageReporter could not
  // kill it then), or because the process already exited. The caller must then kill the process at once.
  absl::Status SetPid(uint64_t session_id, pid_t pid);

  // The live session of `token` for a call from the connection `peer` (the call's ServerContext::peer()), or
  // nullopt: the token is unknown or revoked, or its session is bound to another connection. The last case is
  // indistinguishable to the caller and counted in stolen_token_refusals(). The default "" names no connection:
  // only unbound sessions authenticate with it.
  std::optional<Session> Authenticate(absl::string_view token, absl::string_view peer = "");

  // How many Authenticate calls were refused because a live session's token came from a connection other than
  // the one it is bound to, since this registry was made.
  int64_t stolen_token_refusals();

  // True while the session `session_id` has not been revoked.
  bool IsLive(uint64_t session_id);

  // Ends the session: its token stops working and observers are told (once). Returns the session as it was when
  // it ended (its pid as recorded by then: SetPid and Revoke are ordered), or nullopt if it was not live (unknown
  // ids are ignored).
  std::optional<Session> Revoke(uint64_t session_id);
  // Ends every session of process `pid` (it exited).
  void RevokeProcess(pid_t pid);
  // Ends every session bound to `peer` (its connection is gone, e.g. because the peer's name is being given to a
  // new connection). An empty `peer` is ignored.
  void RevokeBoundTo(absl::string_view peer);

  // Called with every session that ends, after its token has stopped working.
  void AddRevokeObserver(std::function<void(const Session&)> observer);

  // The live sessions, by id.
  std::vector<Session> List();
  // Sessions of type kWindow of `origin` (for "has a top-level window"). A lookup, not a scan: the engine asks for
  // every event it settles.
  bool HasWindow(const Origin& origin);

 private:
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, Session> by_token_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> token_of_ ABSL_GUARDED_BY(mu_);
  int64_t stolen_token_refusals_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::function<void(const Session&)>> observers_ ABSL_GUARDED_BY(mu_);
  // Live kWindow sessions per origin; origins without one are absent.
  absl::flat_hash_map<Origin, int> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_SESSION_REGISTRY_H_
