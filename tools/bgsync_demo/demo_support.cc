#include "tools/bgsync_demo/demo_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace bgsync::demo {
namespace {

const absl::Time kStart = absl::Now();

}  // namespace

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

std::string BinaryDirectory() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

bool Eventually(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// --- LoopbackServer ---

bool LoopbackServer::Start() {
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

void LoopbackServer::Stop() {
  if (fd_ < 0)
    return;
  shutdown(fd_, SHUT_RDWR);
  close(fd_);
  fd_ = -1;
  if (thread_.joinable())
    thread_.join();
}

void LoopbackServer::Serve() {
  const int listener = fd_;
  while (true) {
    int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0)
      return;
    std::string request;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(client, buffer, sizeof(buffer), 0)) > 0) {
      request.append(buffer, static_cast<size_t>(n));
      if (std::optional<std::string> reply = handler_(request)) {
        send(client, reply->data(), reply->size(), MSG_NOSIGNAL);
        break;
      }
    }
    close(client);
  }
}

// --- DemoBrowser ---

DemoBrowser::DemoBrowser(std::string profile, std::vector<std::string> flags)
    : profile_(std::move(profile)), flags_(std::move(flags)) {}

bool DemoBrowser::Start() {
  std::filesystem::remove(profile_ + "/RuntimeDirectory");
  LaunchOptions options;
  options.argv = {BinaryDirectory() + "/bgsync_browser", "--profile", profile_};
  options.argv.insert(options.argv.end(), flags_.begin(), flags_.end());
  exited_ = std::make_shared<absl::Notification>();
  absl::StatusOr<pid_t> pid = launcher_.Launch(options, [exited = exited_](pid_t, int) { exited->Notify(); });
  if (!pid.ok())
    return false;
  pid_ = *pid;
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
    Say(absl::StrCat("browser running (pid ", pid_, ", profile ", profile_, ")"));
  return up;
}

void DemoBrowser::Stop() {
  if (pid_ == 0)
    return;
  kill(pid_, SIGTERM);
  exited_->WaitForNotificationWithTimeout(kGenerous);
  pid_ = 0;
}

bool DemoBrowser::Kill() {
  if (pid_ == 0)
    return false;
  kill(pid_, SIGKILL);
  const bool died = exited_->WaitForNotificationWithTimeout(kGenerous);
  pid_ = 0;
  return died;
}

bool DemoBrowser::Report(const grpc::Status& status) {
  if (!status.ok())
    Say("  admin call failed: " + status.error_message());
  return status.ok();
}

int64_t DemoBrowser::InstallWorker(const std::string& origin, const std::vector<std::string>& command) {
  admin::InstallServiceWorkerRequest install;
  install.set_origin(origin);
  install.set_scope(origin + "/");
  for (const std::string& arg : command)
    install.add_command(arg);
  admin::ServiceWorkerInfo info;
  if (!Call([&](auto& admin, grpc::ClientContext* c) { return admin.InstallServiceWorker(c, install, &info); }))
    return 0;
  admin::ServiceWorkerId id;
  id.set_id(info.id());
  if (!Call([&](auto& admin, grpc::ClientContext* c) { return admin.ActivateServiceWorker(c, id, &info); }))
    return 0;
  return info.id();
}

std::vector<admin::Registration> DemoBrowser::Registrations() {
  admin::RegistrationTable table;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  if (!admin_->ListRegistrations(&context, admin::Empty(), &table).ok())
    return {};
  return {table.registrations().begin(), table.registrations().end()};
}

bool DemoBrowser::SetNetwork(admin::SetNetworkEmulationRequest::Mode mode) {
  admin::SetNetworkEmulationRequest request;
  request.set_mode(mode);
  admin::Empty empty;
  return Call([&](auto& admin, grpc::ClientContext* c) { return admin.SetNetworkEmulation(c, request, &empty); });
}

}  // namespace bgsync::demo
