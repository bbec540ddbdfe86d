// The demo's service worker: on a "sync" event it sends every message in its outbox to the mail-drop server over
// a real TCP socket, and settles the event with the server's answer (250: fulfilled and the outbox emptied;
// anything else: rejected, so the browser retries later).
//
// Usage: bgsync_outbox_worker --outbox FILE --server PORT   (the server listens on 127.0.0.1:PORT)
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "renderer/service_worker_global_scope.h"
#include "tools/bgsync_demo/demo_worker.h"

namespace bgsync {
namespace {

absl::Status SendOutbox(const std::string& outbox, int port) {
  std::ifstream in(outbox);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> messages = absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  if (messages.empty())
    return absl::OkStatus();

  int fd = demo::ConnectToLoopback(port);
  if (fd < 0)
    return absl::UnavailableError("mail-drop server unreachable");
  std::string request = absl::StrCat("BATCH ", messages.size(), "\n");
  for (const std::string& message : messages)
    absl::StrAppend(&request, message, "\n");
  bool sent = send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  char reply[64] = {};
  ssize_t n = sent ? recv(fd, reply, sizeof(reply) - 1, 0) : -1;
  close(fd);
  if (n <= 0)
    return absl::UnavailableError("no answer from the mail-drop server");
  std::string answer(reply, static_cast<size_t>(n));
  if (answer.rfind("250", 0) != 0)
    return absl::UnavailableError(absl::StrCat("server answered ", answer));
  std::ofstream(outbox, std::ios::trunc);  // delivered: the outbox is empty now
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  std::optional<demo::DemoWorkerFlags> flags =
      demo::ParseDemoWorkerFlags(argc, argv, "--outbox", "usage: bgsync_outbox_worker --outbox FILE --server PORT");
  if (!flags)
    return 2;
  return demo::RunDemoWorker([outbox = flags->file, port = flags->port](ServiceWorkerGlobalScope& scope) {
    scope.AddEventListener("sync", [outbox, port](SyncEvent& event) {
      if (event.tag() != "sync-messages")
        return;
      event.WaitUntil(std::async(std::launch::async, [outbox, port] { return SendOutbox(outbox, port); }).share());
    });
  });
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
