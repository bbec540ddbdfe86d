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
  // The descriptor of this process's private channel to the browser (a connected stream socket the process
  // inherited), or -1. A process the browser launches has one and must talk over it: its session is accepted on
  // no other connection. ConnectToBrowser uses it when set.
  int channel_fd = -1;
  // The browser's unix socket, for sessions an admin opened for a tool; dial "unix:" + socket_path. Empty when
  // the bootstrap has no socket line (a launched process's has none); never empty when channel_fd is -1.
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
// blank lines are skipped; unknown keys are ignored so the browser may add some). Required keys: channel_fd or
// socket (at least one), token, origin, client_type, and service_worker_registration_id when client_type is
// service_worker.
// Returns InvalidArgument, naming the key, for a missing or repeated key, a line without '=', an empty socket, a
// channel_fd that is not a decimal descriptor number > 2 (0-2 are the standard streams), a token that is not 64
// lower-case hex characters, an origin Origin::Parse rejects, an unknown client_type, or a
// service_worker_registration_id that is not a decimal integer > 0. Does not look at the descriptor itself.
absl::StatusOr<SessionBootstrap> ParseSessionBootstrap(absl::string_view text);

// True if `token` has the form of a session token: exactly 64 characters of [0-9a-f].
bool IsWellFormedSessionToken(absl::string_view token);

// Reads `fd` to end-of-file, closes it (also on error) and parses what it read. Returns the errno of a failed
// read as an error status, OutOfRange if the text exceeds 64 KiB, or ParseSessionBootstrap's errors.
absl::StatusOr<SessionBootstrap> ReadSessionBootstrapFromFd(int fd);

// ReadSessionBootstrapFromFd on the descriptor named by $BGSYNC_BOOTSTRAP_FD, then checks that the channel_fd it
// names, if any, is an open stream socket, and marks it close-on-exec (so that the process's own children do not
// inherit the channel). Returns FailedPrecondition if the variable is unset or the channel descriptor is not an
// open stream socket (or cannot be marked), InvalidArgument if the variable is not a descriptor number, or
// ReadSessionBootstrapFromFd's errors.
absl::StatusOr<SessionBootstrap> ReadSessionBootstrap();

}  // namespace bgsync

#endif  // RENDERER_SESSION_BOOTSTRAP_H_
