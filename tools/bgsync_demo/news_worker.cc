// The periodic demo's service worker: on a "periodicsync" event tagged "news" it fetches the latest headlines from
// the demo's news server over a real TCP socket and appends them to its feed cache (the file the "page" shows),
// fulfilling the event; if the server cannot be reached the event is rejected, so the browser retries.
//
// Usage: bgsync_news_worker --feed FILE --server PORT   (the server listens on 127.0.0.1:PORT)
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "renderer/service_worker_global_scope.h"
#include "tools/bgsync_demo/demo_worker.h"

namespace bgsync {
namespace {

absl::Status RefreshFeed(const std::string& feed, int port) {
  int fd = demo::ConnectToLoopback(port);
  if (fd < 0)
    return absl::UnavailableError("news server unreachable");
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
  std::optional<demo::DemoWorkerFlags> flags =
      demo::ParseDemoWorkerFlags(argc, argv, "--feed", "usage: bgsync_news_worker --feed FILE --server PORT");
  if (!flags)
    return 2;
  return demo::RunDemoWorker([feed = flags->file, port = flags->port](ServiceWorkerGlobalScope& scope) {
    scope.AddEventListener("periodicsync", [feed, port](PeriodicSyncEvent& event) {
      if (event.tag() != "news")
        return;
      event.WaitUntil(std::async(std::launch::async, [feed, port] { return RefreshFeed(feed, port); }).share());
    });
  });
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
