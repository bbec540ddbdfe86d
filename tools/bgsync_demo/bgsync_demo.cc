// The Background Sync story with real processes, as tools/demo runs it:
//   a bgsync_browser on a fresh temporary profile; a mail-drop server on loopback (a real TCP socket, in this
//   process); the outbox service worker of https://mail.example installed and activated; a renderer window that
//   composes three messages while offline, registers "sync-messages" and prints getTags; the browser killed with
//   SIGKILL and restarted, still offline, with the registration still there; connectivity returns (emulated) ->
//   the browser wakes the worker process -> the first delivery fails (the server answers 451) -> retried after
//   the shortened backoff -> delivered; the server has each message exactly once.
// Prints a timeline; exits 0 only if all of that happened.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"
#include "grpcpp/grpcpp.h"

namespace bgsync {
namespace {

const absl::Time kStart = absl::Now();
constexpr absl::Duration kGenerous = absl::Seconds(60);

void Say(const std::string& line) {
  std::printf("[%7.3fs] %s\n", absl::ToDoubleSeconds(absl::Now() - kStart), line.c_str());
  std::fflush(stdout);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + kGenerous;
  while (!condition()) {
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// The mail-drop server: accepts "BATCH n" + n lines; refuses the first batch with 451, accepts later ones.
class MailDropServer {
 public:
  bool Start() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return false;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
    return true;
  }
  void Stop() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable())
      thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> delivered() {
    absl::MutexLock lock(&mu_);
    return delivered_;
  }
  int batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  void Serve() {
    while (true) {
      int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0)
        return;
      std::string request;
      char buffer[4096];
      ssize_t n;
      while ((n = recv(client, buffer, sizeof(buffer), 0)) > 0) {
        request.append(buffer, static_cast<size_t>(n));
        std::vector<std::string> lines = absl::StrSplit(request, '\n');
        int count = 0;
        if (!lines.empty() && absl::StartsWith(lines[0], "BATCH ") && absl::SimpleAtoi(lines[0].substr(6), &count) &&
            static_cast<int>(lines.size()) >= count + 2) {
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
          const char* reply = accept ? "250 OK\n" : "451 TRY LATER\n";
          send(client, reply, strlen(reply), MSG_NOSIGNAL);
          break;
        }
      }
      close(client);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::string> delivered_ ABSL_GUARDED_BY(mu_);
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
};

class Demo {
 public:
  explicit Demo(std::string dir) : dir_(std::move(dir)), profile_(dir_ + "/profile"), bin_(BinaryDirectory()) {}

  int Run() {
    if (!server_.Start())
      return Fail("cannot start the mail-drop server");
    Say(absl::StrCat("mail-drop server listening on 127.0.0.1:", server_.port()));
    if (!StartBrowser())
      return Fail("the browser did not start");

    const std::string outbox = dir_ + "/outbox";
    admin::InstallServiceWorkerRequest install;
    install.set_origin("https://mail.example");
    install.set_scope("https://mail.example/");
    for (const std::string& arg : std::vector<std::string>{bin_ + "/bgsync_outbox_worker", "--outbox", outbox,
                                                           "--server", absl::StrCat(server_.port())}) {
      install.add_command(arg);
    }
    admin::ServiceWorkerInfo info;
    if (!Call([&](grpc::ClientContext* c) { return admin_->InstallServiceWorker(c, install, &info); })) {
      return Fail("install failed");
    }
    admin::ServiceWorkerId id;
    id.set_id(info.id());
    if (!Call([&](grpc::ClientContext* c) { return admin_->ActivateServiceWorker(c, id, &info); })) {
      return Fail("activate failed");
    }
    Say(absl::StrCat("service worker ", info.id(), " for https://mail.example installed and activated"));

    // The page composes three messages while offline and asks to sync them later.
    std::ofstream(outbox) << "to: ada@example.org | Lunch?\nto: bob@example.org | Report attached\n"
                             "to: cy@example.org | See you at 5\n";
    Say("page: composed 3 messages into the outbox (offline)");
    const std::string window_output = dir_ + "/window.out";
    admin::OpenWindowRequest window;
    window.set_origin("https://mail.example");
    window.set_client_type(admin::CLIENT_TYPE_WINDOW);
    window.add_script(absl::StrCat("register ", info.id(), " sync-messages"));
    window.add_script(absl::StrCat("tags ", info.id()));
    window.set_output_path(window_output);
    admin::OpenWindowReply opened;
    if (!Call([&](grpc::ClientContext* c) { return admin_->OpenWindow(c, window, &opened); })) {
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
    kill(browser_pid_, SIGKILL);
    if (!browser_exited_->WaitForNotificationWithTimeout(kGenerous))
      return Fail("the browser did not die");
    if (!StartBrowser())
      return Fail("the browser did not restart");
    std::vector<admin::Registration> registrations = Registrations();
    if (registrations.size() != 1 || registrations[0].tag() != "sync-messages") {
      return Fail("the registration did not survive the crash");
    }
    Say(absl::StrCat("after restart: \"", registrations[0].tag(), "\" is still ", registrations[0].state()));
    if (server_.batches() != 0)
      return Fail("something was sent while offline");

    Say("connectivity returns (emulated online)");
    admin::SetNetworkEmulationRequest online;
    online.set_mode(admin::SetNetworkEmulationRequest::MODE_ONLINE);
    admin::Empty empty;
    if (!Call([&](grpc::ClientContext* c) { return admin_->SetNetworkEmulation(c, online, &empty); })) {
      return Fail("network emulation failed");
    }
    if (!Eventually([&] { return Registrations().empty(); }))
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
    StopBrowser();
    server_.Stop();
    return 0;
  }

 private:
  static std::string BinaryDirectory() {
    return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  }

  int Fail(const std::string& why) {
    Say("DEMO FAILED: " + why);
    StopBrowser();
    server_.Stop();
    return 1;
  }

  template <typename Rpc>
  bool Call(Rpc rpc) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    grpc::Status status = rpc(&context);
    if (!status.ok())
      Say("  admin call failed: " + status.error_message());
    return status.ok();
  }

  bool StartBrowser() {
    std::filesystem::remove(profile_ + "/RuntimeDirectory");
    LaunchOptions options;
    options.argv = {bin_ + "/bgsync_browser", "--profile", profile_, "--no-netlink", "--offline", "--retry-delay", "1",
                    "--retry-factor",         "2"};
    browser_exited_ = std::make_shared<absl::Notification>();
    absl::StatusOr<pid_t> pid = launcher_.Launch(options, [exited = browser_exited_](pid_t, int) { exited->Notify(); });
    if (!pid.ok())
      return false;
    browser_pid_ = *pid;
    bool up = Eventually([&] {
      std::string runtime(absl::StripAsciiWhitespace(ReadFile(profile_ + "/RuntimeDirectory")));
      if (runtime.empty())
        return false;
      admin_ = admin::BrowserAdmin::NewStub(
          grpc::CreateChannel("unix:" + runtime + "/admin.sock", grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      admin::BrowserStatus status;
      return admin_->GetStatus(&context, admin::Empty(), &status).ok();
    });
    if (up)
      Say(absl::StrCat("browser running (pid ", browser_pid_, ", profile ", profile_, ")"));
    return up;
  }

  void StopBrowser() {
    if (browser_pid_ == 0)
      return;
    kill(browser_pid_, SIGTERM);
    browser_exited_->WaitForNotificationWithTimeout(kGenerous);
    browser_pid_ = 0;
  }

  std::vector<admin::Registration> Registrations() {
    admin::RegistrationTable table;
    grpc::ClientContext context;
    if (!admin_->ListRegistrations(&context, admin::Empty(), &table).ok())
      return {};
    return {table.registrations().begin(), table.registrations().end()};
  }

  // The browser's event log since the restart: what it did with the registration.
  void PrintLog() {
    admin::StreamLogRequest request;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<admin::LogEntry>> reader = admin_->StreamLog(&context, request);
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
  const std::string profile_;
  const std::string bin_;
  MailDropServer server_;
  ProcessLauncher launcher_;
  pid_t browser_pid_ = 0;
  std::shared_ptr<absl::Notification> browser_exited_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

}  // namespace
}  // namespace bgsync

int main() {
  signal(SIGPIPE, SIG_IGN);
  std::string dir = (std::filesystem::temp_directory_path() / "bgsync-demo-XXXXXX").string();
  if (!mkdtemp(dir.data()))
    return 1;
  int result = bgsync::Demo(dir).Run();
  std::filesystem::remove_all(dir);
  return result;
}
