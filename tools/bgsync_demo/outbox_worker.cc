// The demo's service worker: on a "sync" event it sends every message in its outbox to the mail-drop server over
// a real TCP socket, and settles the event with the server's answer (250: fulfilled and the outbox emptied;
// anything else: rejected, so the browser retries later).
//
// Usage: bgsync_outbox_worker --outbox FILE --server PORT   (the server listens on 127.0.0.1:PORT)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "renderer/browser_channel.h"
#include "renderer/service_worker_global_scope.h"
#include "renderer/session_bootstrap.h"

namespace bgsync {
namespace {

absl::Status SendOutbox(const std::string& outbox, int port) {
  std::ifstream in(outbox);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> messages = absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  if (messages.empty())
    return absl::OkStatus();

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::UnavailableError("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError("mail-drop server unreachable");
  }
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
  std::string outbox;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--outbox") {
      outbox = argv[i + 1];
    } else if (flag == "--server") {
      if (!absl::SimpleAtoi(argv[i + 1], &port))
        port = 0;
    }
  }
  if (outbox.empty() || port <= 0) {
    std::fprintf(stderr, "usage: bgsync_outbox_worker --outbox FILE --server PORT\n");
    return 2;
  }
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  if (!bootstrap.ok())
    return 1;
  absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> scope =
      ServiceWorkerGlobalScope::Connect(ConnectToBrowser(*bootstrap), bootstrap->token);
  if (!scope.ok())
    return 1;
  (*scope)->AddEventListener("sync", [outbox, port](SyncEvent& event) {
    if (event.tag() != "sync-messages")
      return;
    event.WaitUntil(std::async(std::launch::async, [outbox, port] { return SendOutbox(outbox, port); }).share());
  });
  return (*scope)->Run().ok() ? 0 : 1;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
