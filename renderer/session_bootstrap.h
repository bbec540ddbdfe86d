// The session a browser-launched renderer or worker process receives through an inherited descriptor (see
// "Transport and sessions" in public/README.md).
//
// Thread-safety: ParseSessionBootstrap and ReadSessionBootstrapFromFd are pure (apart from the descriptor they
// are given) and may be called from any thread. ReadSessionBootstrap reads the environment: call it once, early
// in main(), before other threads start.
#ifndef RENDERER_SESSION_BOOTSTRAP_H_
#define RENDERER_SESSION_BOOTSTRAP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "public/origin.h"

namespace bgsync {

// The environment variable naming the descriptor that holds the bootstrap text.
inline constexpr char kBootstrapFdEnvironmentVariable[] = "BGSYNC_BOOTSTRAP_FD";

// The kind of client the browser bound the session to.
enum class SessionClientType {
  kWindow,         // "window": a top-level window
  kIframe,         // "iframe"
  kServiceWorker,  // "service_worker": names a service-worker registration too
};

struct SessionBootstrap {
  // The browser's unix socket; dial "unix:" + socket_path. Never empty.
  std::string socket_path;
  // The session token sent as the "bgsync-session" metadata of every call: 64 lower-case hex characters.
  std::string token;
  // Informational (the browser already knows it): the session's origin and client type.
  Origin origin;
  SessionClientType client_type = SessionClientType::kWindow;
  // > 0 for service-worker sessions; 0 for the others.
  int64_t service_worker_registration_id = 0;
};

// Parses the bootstrap text: `key=value` lines separated by '\n' (the value is everything after the first '=';
// blank lines are skipped; unknown keys are ignored so the browser may add some). Required keys: socket, token,
// origin, client_type, and service_worker_registration_id when client_type is service_worker.
// Returns InvalidArgument, naming the key, for a missing or repeated key, a line without '=', an empty socket, a
// token that is not 64 lower-case hex characters, an origin Origin::Parse rejects, an unknown client_type, or a
// service_worker_registration_id that is not a decimal integer > 0.
absl::StatusOr<SessionBootstrap> ParseSessionBootstrap(absl::string_view text);

// True if `token` has the form of a session token: exactly 64 characters of [0-9a-f].
bool IsWellFormedSessionToken(absl::string_view token);

// Reads `fd` to end-of-file, closes it (also on error) and parses what it read. Returns the errno of a failed
// read as an error status, OutOfRange if the text exceeds 64 KiB, or ParseSessionBootstrap's errors.
absl::StatusOr<SessionBootstrap> ReadSessionBootstrapFromFd(int fd);

// ReadSessionBootstrapFromFd on the descriptor named by $BGSYNC_BOOTSTRAP_FD. Returns FailedPrecondition if the
// variable is unset, InvalidArgument if it is not a descriptor number.
absl::StatusOr<SessionBootstrap> ReadSessionBootstrap();

}  // namespace bgsync

#endif  // RENDERER_SESSION_BOOTSTRAP_H_
