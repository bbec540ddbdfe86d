#include "tools/bgsync_demo/demo_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "absl/strings/numbers.h"
#include "renderer/browser_channel.h"
#include "renderer/session_bootstrap.h"

namespace bgsync::demo {

std::optional<DemoWorkerFlags> ParseDemoWorkerFlags(int argc,
                                                    char** argv,
                                                    absl::string_view file_flag,
                                                    absl::string_view usage) {
  DemoWorkerFlags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    absl::string_view flag = argv[i];
    if (flag == file_flag) {
      flags.file = argv[i + 1];
    } else if (flag == "--server") {
      if (!absl::SimpleAtoi(argv[i + 1], &flags.port))
        flags.port = 0;
    }
  }
  if (flags.file.empty() || flags.port <= 0) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(usage.size()), usage.data());
    return std::nullopt;
  }
  return flags;
}

int ConnectToLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int RunDemoWorker(const std::function<void(ServiceWorkerGlobalScope&)>& add_listeners) {
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  if (!bootstrap.ok())
    return 1;
  absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> scope =
      ServiceWorkerGlobalScope::Connect(ConnectToBrowser(*bootstrap), bootstrap->token);
  if (!scope.ok())
    return 1;
  add_listeners(**scope);
  return (*scope)->Run().ok() ? 0 : 1;
}

}  // namespace bgsync::demo
