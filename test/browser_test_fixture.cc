#include "test/browser_test_fixture.h"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {

std::string BinaryDirectory() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void BrowserTestFixture::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-e2e-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  dir_ = pattern;
  profile_ = dir_ + "/profile";
}

void BrowserTestFixture::TearDown() {
  StopBrowser(SIGKILL);
  // A killed browser leaves its runtime directory (outside dir_); the next browser on the profile would remove it.
  if (!runtime_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir_, ignored);
  }
  if (!dir_.empty())
    std::filesystem::remove_all(dir_);
}

void BrowserTestFixture::StartBrowser(std::vector<std::string> extra) {
  // The previous browser's runtime directory, if any: the new browser writes another one.
  const std::string previous = runtime_dir_;
  LaunchOptions options;
  options.argv = {BinaryDirectory() + "/bgsync_browser",
                  "--profile",
                  profile_,
                  "--no-netlink",
                  "--offline",
                  "--retry-delay",
                  "0.2",
                  "--retry-factor",
                  "1",
                  "--worker-idle-timeout",
                  "60"};
  for (std::string& arg : extra)
    options.argv.push_back(std::move(arg));
  browser_exited_ = std::make_shared<absl::Notification>();
  browser_status_ = std::make_shared<int>(-1);
  absl::StatusOr<pid_t> pid =
      launcher_.Launch(options, [exited = browser_exited_, status = browser_status_](pid_t, int s) {
        *status = s;
        exited->Notify();
      });
  ASSERT_TRUE(pid.ok()) << pid.status();
  browser_pid_ = *pid;
  std::string runtime;
  ASSERT_TRUE(Eventually([&] {
    runtime = std::string(absl::StripAsciiWhitespace(ReadFile(profile_ + "/RuntimeDirectory")));
    if (runtime.empty() || runtime == previous || !std::filesystem::exists(runtime + "/admin.sock"))
      return false;
    admin_ = admin::BrowserAdmin::NewStub(
        grpc::CreateChannel("unix:" + runtime + "/admin.sock", grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    admin::BrowserStatus status;
    return admin_->GetStatus(&context, admin::Empty(), &status).ok();
  })) << "the browser did not come up";
  runtime_dir_ = runtime;
}

int BrowserTestFixture::StopBrowser(int signal) {
  if (browser_pid_ == 0)
    return -1;
  kill(browser_pid_, signal);
  EXPECT_TRUE(browser_exited_->WaitForNotificationWithTimeout(kGenerous));
  browser_pid_ = 0;
  return *browser_status_;
}

int64_t BrowserTestFixture::InstallWorker(const std::string& origin, std::vector<std::string> command) {
  admin::InstallServiceWorkerRequest install;
  install.set_origin(origin);
  install.set_scope(origin + "/");
  for (const std::string& arg : command)
    install.add_command(arg);
  admin::ServiceWorkerInfo info;
  grpc::ClientContext context;
  EXPECT_TRUE(admin_->InstallServiceWorker(&context, install, &info).ok());
  admin::ServiceWorkerId id;
  id.set_id(info.id());
  grpc::ClientContext activate_context;
  EXPECT_TRUE(admin_->ActivateServiceWorker(&activate_context, id, &info).ok());
  return info.id();
}

BrowserTestFixture::Page BrowserTestFixture::OpenPage(const std::string& origin) {
  admin::OpenSessionRequest request;
  request.set_origin(origin);
  request.set_client_type(admin::CLIENT_TYPE_WINDOW);
  admin::OpenSessionReply reply;
  grpc::ClientContext context;
  EXPECT_TRUE(admin_->OpenSession(&context, request, &reply).ok());
  return {reply.token(), mojom::OneShotBackgroundSyncService::NewStub(
                             grpc::CreateChannel("unix:" + reply.socket_path(), grpc::InsecureChannelCredentials()))};
}

mojom::RegisterReply BrowserTestFixture::Register(Page& page, int64_t sw, const std::string& tag, bool resolve) {
  grpc::ClientContext context;
  context.AddMetadata(kSessionMetadataKey, page.token);
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw);
  request.mutable_options()->set_tag(tag);
  mojom::RegisterReply reply;
  EXPECT_TRUE(page.stub->Register(&context, request, &reply).ok());
  if (resolve && reply.has_registration()) {
    grpc::ClientContext resolve_context;
    resolve_context.AddMetadata(kSessionMetadataKey, page.token);
    mojom::DidResolveRegistrationRequest ack;
    ack.set_service_worker_registration_id(sw);
    ack.set_tag(tag);
    mojom::DidResolveRegistrationReply ignored;
    EXPECT_TRUE(page.stub->DidResolveRegistration(&resolve_context, ack, &ignored).ok());
  }
  return reply;
}

void BrowserTestFixture::SetNetwork(admin::SetNetworkEmulationRequest::Mode mode) {
  admin::SetNetworkEmulationRequest request;
  request.set_mode(mode);
  admin::Empty empty;
  grpc::ClientContext context;
  ASSERT_TRUE(admin_->SetNetworkEmulation(&context, request, &empty).ok());
}

std::vector<admin::Registration> BrowserTestFixture::Registrations() {
  admin::RegistrationTable table;
  grpc::ClientContext context;
  if (!admin_->ListRegistrations(&context, admin::Empty(), &table).ok())
    return {};
  return {table.registrations().begin(), table.registrations().end()};
}

std::vector<std::string> BrowserTestFixture::WorkerLog(const std::string& path) {
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
  return lines;
}

}  // namespace bgsync
