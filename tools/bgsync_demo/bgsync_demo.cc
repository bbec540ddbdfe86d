// The Background Sync story with real processes, as tools/demo runs it:
//   a bgsync_browser on a fresh temporary profile; a mail-drop server on loopback (a real TCP socket, in this
//   process); the outbox service worker of https://mail.example installed and activated; a renderer window that
//   composes three messages while offline, registers "sync-messages" and prints getTags; the browser killed with
//   SIGKILL and restarted, still offline, with the registration still there; connectivity returns (emulated) ->
//   the browser wakes the worker process -> the first delivery fails (the server answers 451) -> retried after
//   the shortened backoff -> delivered; the server has each message exactly once.
// Prints a timeline; exits 0 only if all of that happened.
#include <signal.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "tools/bgsync_demo/demo_support.h"

namespace bgsync::demo {
namespace {

// The mail-drop server: accepts "BATCH n" + n lines; refuses the first batch with 451, accepts later ones.
class MailDrop {
 public:
  bool Start() { return server_.Start(); }
  void Stop() { server_.Stop(); }
  int port() const { return server_.port(); }
  std::vector<std::string> delivered() {
    absl::MutexLock lock(&mu_);
    return delivered_;
  }
  int batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  std::optional<std::string> Handle(const std::string& request) {
    std::vector<std::string> lines = absl::StrSplit(request, '\n');
    int count = 0;
    if (lines.empty() || !absl::StartsWith(lines[0], "BATCH ") || !absl::SimpleAtoi(lines[0].substr(6), &count) ||
        static_cast<int>(lines.size()) < count + 2) {
      return std::nullopt;
    }
    std::vector<std::string> messages(lines.begin() + 1, lines.begin() + 1 + count);
    bool accept;
    {
      absl::MutexLock lock(&mu_);
      accept = ++batches_ > 1;
      if (accept)
        delivered_.insert(delivered_.end(), messages.begin(), messages.end());
    }
    Say(accept ? absl::StrCat("  mail-drop: 250 accepted ", count, " messages")
               : "  mail-drop: 451 try later (refusing the first delivery)");
    return std::string(accept ? "250 OK\n" : "451 TRY LATER\n");
  }

  LoopbackServer server_{[this](const std::string& request) { return Handle(request); }};
  absl::Mutex mu_;
  std::vector<std::string> delivered_ ABSL_GUARDED_BY(mu_);
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
};

class Demo {
 public:
  explicit Demo(std::string dir)
      : dir_(std::move(dir)),
        bin_(BinaryDirectory()),
        browser_(dir_ + "/profile", {"--no-netlink", "--offline", "--retry-delay", "1", "--retry-factor", "2"}) {}

  int Run() {
    if (!server_.Start())
      return Fail("cannot start the mail-drop server");
    Say(absl::StrCat("mail-drop server listening on 127.0.0.1:", server_.port()));
    if (!browser_.Start())
      return Fail("the browser did not start");

    const std::string outbox = dir_ + "/outbox";
    const int64_t sw = browser_.InstallWorker(
        "https://mail.example",
        {bin_ + "/bgsync_outbox_worker", "--outbox", outbox, "--server", absl::StrCat(server_.port())});
    if (sw == 0)
      return Fail("install failed");
    Say(absl::StrCat("service worker ", sw, " for https://mail.example installed and activated"));

    // The page composes three messages while offline and asks to sync them later.
    std::ofstream(outbox) << "to: ada@example.org | Lunch?\nto: bob@example.org | Report attached\n"
                             "to: cy@example.org | See you at 5\n";
    Say("page: composed 3 messages into the outbox (offline)");
    const std::string window_output = dir_ + "/window.out";
    admin::OpenWindowRequest window;
    window.set_origin("https://mail.example");
    window.set_client_type(admin::CLIENT_TYPE_WINDOW);
    window.add_script(absl::StrCat("register ", sw, " sync-messages"));
    window.add_script(absl::StrCat("tags ", sw));
    window.set_output_path(window_output);
    admin::OpenWindowReply opened;
    if (!browser_.Call([&](auto& admin, grpc::ClientContext* c) { return admin.OpenWindow(c, window, &opened); })) {
      return Fail("open-window failed");
    }
    Say(absl::StrCat("browser launched a renderer window for https://mail.example (pid ", opened.pid(), ")"));
    if (!Eventually([&] { return absl::StrContains(ReadFile(window_output), "tags "); })) {
      return Fail("the window did not register: " + ReadFile(window_output));
    }
    for (absl::string_view line : absl::StrSplit(ReadFile(window_output), '\n', absl::SkipEmpty())) {
      Say(absl::StrCat("  window: ", line));
    }
    if (!absl::StrContains(ReadFile(window_output), "tags sync-messages"))
      return Fail("getTags did not list it");

    Say("killing the browser (SIGKILL) while offline");
    if (!browser_.Kill())
      return Fail("the browser did not die");
    if (!browser_.Start())
      return Fail("the browser did not restart");
    std::vector<admin::Registration> registrations = browser_.Registrations();
    if (registrations.size() != 1 || registrations[0].tag() != "sync-messages") {
      return Fail("the registration did not survive the crash");
    }
    Say(absl::StrCat("after restart: \"", registrations[0].tag(), "\" is still ", registrations[0].state()));
    if (server_.batches() != 0)
      return Fail("something was sent while offline");

    Say("connectivity returns (emulated online)");
    if (!browser_.SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE))
      return Fail("network emulation failed");
    if (!Eventually([&] { return browser_.Registrations().empty(); }))
      return Fail("the messages were never delivered");
    PrintLog();

    std::vector<std::string> delivered = server_.delivered();
    Say(absl::StrCat("mail-drop server has ", delivered.size(), " messages after ", server_.batches(),
                     " delivery attempts:"));
    for (const std::string& message : delivered)
      Say("  " + message);
    std::vector<std::string> expected = {"to: ada@example.org | Lunch?", "to: bob@example.org | Report attached",
                                         "to: cy@example.org | See you at 5"};
    if (delivered != expected || server_.batches() != 2)
      return Fail("not each message exactly once");
    Say("verified: registered offline, survived SIGKILL, failed once, retried, delivered each message once");
    browser_.Stop();
    server_.Stop();
    return 0;
  }

 private:
  int Fail(const std::string& why) {
    Say("DEMO FAILED: " + why);
    browser_.Stop();
    server_.Stop();
    return 1;
  }

  // The browser's event log since the restart: what it did with the registration.
  void PrintLog() {
    admin::StreamLogRequest request;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<admin::LogEntry>> reader = browser_.admin().StreamLog(&context, request);
    admin::LogEntry entry;
    while (reader->Read(&entry)) {
      if (entry.event() == "Browser started" || entry.event() == "Service worker installed")
        continue;
      Say(absl::StrCat("  browser log: ", entry.event(), entry.tag().empty() ? "" : " \"" + entry.tag() + "\"",
                       entry.detail().empty() ? "" : " (" + entry.detail() + ")"));
    }
    reader->Finish();
  }

  const std::string dir_;
  const std::string bin_;
  MailDrop server_;
  DemoBrowser browser_;
};

}  // namespace
}  // namespace bgsync::demo

int main() {
  signal(SIGPIPE, SIG_IGN);
  std::string dir = (std::filesystem::temp_directory_path() / "bgsync-demo-XXXXXX").string();
  if (!mkdtemp(dir.data()))
    return 1;
  int result = bgsync::demo::Demo(dir).Run();
  std::filesystem::remove_all(dir);
  return result;
}
