#include "renderer/session_bootstrap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace bgsync {
namespace {

constexpr size_t kMaxBootstrapBytes = 64 * 1024;

absl::Status BadKey(absl::string_view key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("session bootstrap: ", key, ": ", why));
}

// The raw values, as found; each key at most once.
struct RawBootstrap {
  std::optional<std::string> channel_fd;
  std::optional<std::string> socket;
  std::optional<std::string> token;
  std::optional<std::string> origin;
  std::optional<std::string> client_type;
  std::optional<std::string> service_worker_registration_id;

  std::optional<std::string>* Find(absl::string_view key) {
    if (key == "channel_fd")
      return &channel_fd;
    if (key == "socket")
      return &socket;
    if (key == "token")
      return &token;
    if (key == "origin")
      return &origin;
    if (key == "client_type")
      return &client_type;
    if (key == "service_worker_registration_id")
      return &service_worker_registration_id;
    return nullptr;
  }
};

absl::StatusOr<SessionClientType> ParseClientType(absl::string_view text) {
  if (text == "window")
    return SessionClientType::kWindow;
  if (text == "iframe")
    return SessionClientType::kIframe;
  if (text == "service_worker")
    return SessionClientType::kServiceWorker;
  return BadKey("client_type", absl::StrCat("unknown client type \"", text, "\""));
}

// The inherited channel must be what the browser hands over: an open stream socket. Marked close-on-exec so that
// it does not leak into this process's own children.
absl::Status AdoptChannel(int fd) {
  int type = 0;
  socklen_t length = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) {
    return absl::FailedPreconditionError(
        absl::StrCat("session bootstrap: channel_fd ", fd, " is not an open stream socket"));
  }
  const int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
    return absl::FailedPreconditionError(absl::StrCat("session bootstrap: channel_fd ", fd, ": ", strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

bool IsWellFormedSessionToken(absl::string_view token) {
  if (token.size() != 64)
    return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

absl::StatusOr<SessionBootstrap> ParseSessionBootstrap(absl::string_view text) {
  RawBootstrap raw;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos)
      return absl::InvalidArgumentError(absl::StrCat("session bootstrap: line without '=': \"", line, "\""));
    absl::string_view key = line.substr(0, eq);
    std::optional<std::string>* slot = raw.Find(key);
    if (slot == nullptr)
      continue;
    if (slot->has_value())
      return BadKey(key, "repeated");
    *slot = std::string(line.substr(eq + 1));
  }

  SessionBootstrap bootstrap;
  if (raw.channel_fd) {
    // Digits only: SimpleAtoi would also take a sign or surrounding blanks.
    int fd = -1;
    if (raw.channel_fd->empty() || raw.channel_fd->find_first_not_of("0123456789") != std::string::npos ||
        !absl::SimpleAtoi(*raw.channel_fd, &fd) || fd <= STDERR_FILENO) {
      return BadKey("channel_fd", "not a descriptor number > 2");
    }
    bootstrap.channel_fd = fd;
  }
  if (raw.socket) {
    if (raw.socket->empty())
      return BadKey("socket", "empty");
    bootstrap.socket_path = std::move(*raw.socket);
  } else if (!raw.channel_fd) {
    return BadKey("socket", "missing (and no channel_fd)");
  }

  if (!raw.token)
    return BadKey("token", "missing");
  if (!IsWellFormedSessionToken(*raw.token))
    return BadKey("token", "not 64 lower-case hex characters");
  bootstrap.token = std::move(*raw.token);

  if (!raw.origin)
    return BadKey("origin", "missing");
  absl::StatusOr<Origin> origin = Origin::Parse(*raw.origin);
  if (!origin.ok())
    return BadKey("origin", origin.status().message());
  bootstrap.origin = *std::move(origin);

  if (!raw.client_type)
    return BadKey("client_type", "missing");
  absl::StatusOr<SessionClientType> client_type = ParseClientType(*raw.client_type);
  if (!client_type.ok())
    return client_type.status();
  bootstrap.client_type = *client_type;

  if (raw.service_worker_registration_id) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(*raw.service_worker_registration_id, &id) || id <= 0)
      return BadKey("service_worker_registration_id", "not an integer > 0");
    bootstrap.service_worker_registration_id = id;
  } else if (bootstrap.client_type == SessionClientType::kServiceWorker) {
    return BadKey("service_worker_registration_id", "missing for a service_worker session");
  }
  return bootstrap;
}

absl::StatusOr<SessionBootstrap> ReadSessionBootstrapFromFd(int fd) {
  std::string text;
  char buffer[4096];
  absl::Status status;
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("session bootstrap: reading descriptor ", fd));
      break;
    }
    if (n == 0)
      break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxBootstrapBytes) {
      status = absl::OutOfRangeError("session bootstrap: longer than 64 KiB");
      break;
    }
  }
  close(fd);
  if (!status.ok())
    return status;
  return ParseSessionBootstrap(text);
}

absl::StatusOr<SessionBootstrap> ReadSessionBootstrap() {
  const char* value = std::getenv(kBootstrapFdEnvironmentVariable);
  if (value == nullptr)
    return absl::FailedPreconditionError(absl::StrCat(kBootstrapFdEnvironmentVariable, " is not set"));
  int fd = -1;
  if (!absl::SimpleAtoi(value, &fd) || fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(kBootstrapFdEnvironmentVariable, " is not a descriptor number: \"", value, "\""));
  }
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrapFromFd(fd);
  if (bootstrap.ok() && bootstrap->channel_fd >= 0) {
    if (absl::Status adopted = AdoptChannel(bootstrap->channel_fd); !adopted.ok())
      return adopted;
  }
  return bootstrap;
}

}  // namespace bgsync
