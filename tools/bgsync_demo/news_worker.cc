// The periodic demo's service worker: on a "periodicsync" event tagged "news" it fetches the latest headlines from
// the demo's news server over a real TCP socket and appends them to its feed cache (the file the "page" shows),
// fulfilling the event; if the server cannot be reached the event is rejected, so the browser retries.
//
// Usage: bgsync_news_worker --feed FILE --server PORT   (the server listens on 127.0.0.1:PORT)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "renderer/browser_channel.h"
#include "renderer/service_worker_global_scope.h"
#include "renderer/session_bootstrap.h"

namespace bgsync {
namespace {

absl::Status RefreshFeed(const std::string& feed, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::UnavailableError("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError("news server unreachable");
  }
  const std::string request = "GET headlines\n";
  std::string answer;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buffer[1024];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0)
      answer.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (answer.empty())
    return absl::UnavailableError("no answer from the news server");
  std::ofstream(feed, std::ios::app) << answer;
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  std::string feed;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--feed") {
      feed = argv[i + 1];
    } else if (flag == "--server") {
      if (!absl::SimpleAtoi(argv[i + 1], &port))
        port = 0;
    }
  }
  if (feed.empty() || port <= 0) {
    std::fprintf(stderr, "usage: bgsync_news_worker --feed FILE --server PORT\n");
    return 2;
  }
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  if (!bootstrap.ok())
    return 1;
  absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> scope =
      ServiceWorkerGlobalScope::Connect(ConnectToBrowser(*bootstrap), bootstrap->token);
  if (!scope.ok())
    return 1;
  (*scope)->AddEventListener("periodicsync", [feed, port](PeriodicSyncEvent& event) {
    if (event.tag() != "news")
      return;
    event.WaitUntil(std::async(std::launch::async, [feed, port] { return RefreshFeed(feed, port); }).share());
  });
  return (*scope)->Run().ok() ? 0 : 1;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
