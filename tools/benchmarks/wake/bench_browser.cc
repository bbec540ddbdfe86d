#include "tools/benchmarks/wake/bench_browser.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "renderer/browser_channel.h"

namespace bgsync {
namespace bench {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(60);

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  return context;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  if (status.ok())
    return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

}  // namespace

std::string BinaryDirectory() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

absl::StatusOr<std::unique_ptr<BenchBrowser>> BenchBrowser::Start(ProcessLauncher* launcher,
                                                                  const std::string& profile,
                                                                  const std::vector<std::string>& flags,
                                                                  const std::string& log_path) {
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0)
    return absl::InternalError(absl::StrCat("open ", log_path, ": ", strerror(errno)));
  LaunchOptions options;
  options.argv = {BinaryDirectory() + "/bgsync_browser", "--profile", profile, "--no-netlink", "--offline"};
  options.argv.insert(options.argv.end(), flags.begin(), flags.end());
  options.stdout_fd = log;
  options.stderr_fd = log;
  auto exited = std::make_shared<absl::Notification>();
  absl::StatusOr<pid_t> pid = launcher->Launch(options, [exited](pid_t, int) { exited->Notify(); });
  close(log);
  if (!pid.ok())
    return pid.status();
  std::unique_ptr<BenchBrowser> browser(new BenchBrowser(launcher, *pid, exited));

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && !exited->HasBeenNotified()) {
    const std::string runtime = ReadTrimmed(profile + "/RuntimeDirectory");
    if (!runtime.empty() && std::filesystem::exists(runtime + "/admin.sock")) {
      browser->admin_ = admin::BrowserAdmin::NewStub(
          grpc::CreateChannel("unix:" + runtime + "/admin.sock", grpc::InsecureChannelCredentials()));
      if (browser->Status().ok())
        return browser;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat("bgsync_browser did not come up (see ", log_path, ")"));
}

BenchBrowser::BenchBrowser(ProcessLauncher* launcher, pid_t pid, std::shared_ptr<absl::Notification> exited)
    : launcher_(launcher), pid_(pid), exited_(std::move(exited)) {}

BenchBrowser::~BenchBrowser() {
  kill(pid_, SIGTERM);
  if (!exited_->WaitForNotificationWithTimeout(absl::Seconds(30))) {
    launcher_->Kill(pid_);
    exited_->WaitForNotification();
  }
}

absl::StatusOr<int64_t> BenchBrowser::InstallServiceWorker(const std::string& origin,
                                                           const std::vector<std::string>& command) {
  admin::InstallServiceWorkerRequest install;
  install.set_origin(origin);
  install.set_scope(origin + "/");
  for (const std::string& arg : command)
    install.add_command(arg);
  admin::ServiceWorkerInfo info;
  if (absl::Status s = FromGrpc(admin_->InstallServiceWorker(Context().get(), install, &info), "InstallServiceWorker");
      !s.ok()) {
    return s;
  }
  admin::ServiceWorkerId id;
  id.set_id(info.id());
  if (absl::Status s = FromGrpc(admin_->ActivateServiceWorker(Context().get(), id, &info), "ActivateServiceWorker");
      !s.ok()) {
    return s;
  }
  return info.id();
}

absl::Status BenchBrowser::UnregisterServiceWorker(int64_t id) {
  admin::ServiceWorkerId request;
  request.set_id(id);
  admin::Empty empty;
  return FromGrpc(admin_->UnregisterServiceWorker(Context().get(), request, &empty), "UnregisterServiceWorker");
}

absl::StatusOr<admin::ServiceWorkerList> BenchBrowser::ListServiceWorkers() {
  admin::ServiceWorkerList list;
  if (absl::Status s =
          FromGrpc(admin_->ListServiceWorkers(Context().get(), admin::Empty(), &list), "ListServiceWorkers");
      !s.ok()) {
    return s;
  }
  return list;
}

absl::StatusOr<std::string> BenchBrowser::DispatchSyncEvent(int64_t sw_registration_id, const std::string& tag) {
  admin::DispatchSyncEventRequest request;
  request.set_service_worker_registration_id(sw_registration_id);
  request.set_tag(tag);
  admin::DispatchSyncEventReply reply;
  if (absl::Status s = FromGrpc(admin_->DispatchSyncEvent(Context().get(), request, &reply), "DispatchSyncEvent");
      !s.ok()) {
    return s;
  }
  return reply.outcome();
}

absl::Status BenchBrowser::SetNetwork(admin::SetNetworkEmulationRequest::Mode mode) {
  admin::SetNetworkEmulationRequest request;
  request.set_mode(mode);
  admin::Empty empty;
  return FromGrpc(admin_->SetNetworkEmulation(Context().get(), request, &empty), "SetNetworkEmulation");
}

absl::StatusOr<int> BenchBrowser::CountRegistrations() {
  admin::RegistrationTable table;
  if (absl::Status s =
          FromGrpc(admin_->ListRegistrations(Context().get(), admin::Empty(), &table), "ListRegistrations");
      !s.ok()) {
    return s;
  }
  return table.registrations_size();
}

absl::StatusOr<admin::BrowserStatus> BenchBrowser::Status() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  admin::BrowserStatus status;
  if (absl::Status s = FromGrpc(admin_->GetStatus(context.get(), admin::Empty(), &status), "GetStatus"); !s.ok())
    return s;
  return status;
}

absl::StatusOr<int64_t> BenchBrowser::SettledOneShotEvents() {
  admin::MetricsReply metrics;
  if (absl::Status s = FromGrpc(admin_->GetMetrics(Context().get(), admin::Empty(), &metrics), "GetMetrics"); !s.ok())
    return s;
  for (const admin::Histogram& histogram : metrics.histograms()) {
    if (histogram.name() == "BackgroundSync.Event.OneShotResultPattern")
      return histogram.count();
  }
  return 0;
}

absl::StatusOr<BenchBrowser::Page> BenchBrowser::OpenPage(const std::string& origin) {
  admin::OpenSessionRequest request;
  request.set_origin(origin);
  request.set_client_type(admin::CLIENT_TYPE_WINDOW);
  admin::OpenSessionReply reply;
  if (absl::Status s = FromGrpc(admin_->OpenSession(Context().get(), request, &reply), "OpenSession"); !s.ok())
    return s;
  // A connection of its own (distinct channel arguments keep gRPC from sharing one), as a renderer process has.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return Page{reply.token(), mojom::OneShotBackgroundSyncService::NewStub(grpc::CreateCustomChannel(
                                 "unix:" + reply.socket_path(), grpc::InsecureChannelCredentials(), arguments))};
}

absl::Status BenchBrowser::Register(Page& page, int64_t sw_registration_id, const std::string& tag) {
  std::unique_ptr<grpc::ClientContext> context = Context();
  AddSessionMetadata(*context, page.token);
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw_registration_id);
  request.mutable_options()->set_tag(tag);
  mojom::RegisterReply reply;
  if (absl::Status s = FromGrpc(page.stub->Register(context.get(), request, &reply), "Register"); !s.ok())
    return s;
  if (!reply.has_registration())
    return absl::InternalError(absl::StrCat("Register answered ", mojom::BackgroundSyncError_Name(reply.error())));
  std::unique_ptr<grpc::ClientContext> resolve_context = Context();
  AddSessionMetadata(*resolve_context, page.token);
  mojom::DidResolveRegistrationRequest resolve;
  resolve.set_service_worker_registration_id(sw_registration_id);
  resolve.set_tag(tag);
  mojom::DidResolveRegistrationReply ignored;
  return FromGrpc(page.stub->DidResolveRegistration(resolve_context.get(), resolve, &ignored),
                  "DidResolveRegistration");
}

}  // namespace bench
}  // namespace bgsync
