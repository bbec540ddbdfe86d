// End to end with real processes: a bgsync_browser process on a temporary profile, real bgsync_test_worker
// processes that it launches, and this test acting as admin (admin.sock) and as a page (a window session over
// browser.sock). Waits are on events or on polled state with generous deadlines; nothing depends on timing.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(60);

std::string BinaryDirectory() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `condition` until it holds or a generous deadline passes.
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

class BrowserE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-e2e-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    profile_ = dir_ + "/profile";
  }
  void TearDown() override {
    StopBrowser(SIGKILL);
    std::filesystem::remove_all(dir_);
  }

  void StartBrowser(std::vector<std::string> extra = {}) {
    std::filesystem::remove(profile_ + "/RuntimeDirectory");
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
      if (runtime.empty() || !std::filesystem::exists(runtime + "/admin.sock"))
        return false;
      admin_ = admin::BrowserAdmin::NewStub(
          grpc::CreateChannel("unix:" + runtime + "/admin.sock", grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      admin::BrowserStatus status;
      return admin_->GetStatus(&context, admin::Empty(), &status).ok();
    })) << "the browser did not come up";
  }

  // Stops the browser with `signal`; returns its wait status.
  int StopBrowser(int signal) {
    if (browser_pid_ == 0)
      return -1;
    kill(browser_pid_, signal);
    EXPECT_TRUE(browser_exited_->WaitForNotificationWithTimeout(kGenerous));
    browser_pid_ = 0;
    return *browser_status_;
  }

  int64_t InstallWorker(const std::string& origin, std::vector<std::string> worker_flags) {
    admin::InstallServiceWorkerRequest install;
    install.set_origin(origin);
    install.set_scope(origin + "/");
    install.add_command(BinaryDirectory() + "/bgsync_test_worker");
    for (const std::string& flag : worker_flags)
      install.add_command(flag);
    admin::ServiceWorkerInfo info;
    grpc::ClientContext context;
    EXPECT_TRUE(admin_->InstallServiceWorker(&context, install, &info).ok());
    admin::ServiceWorkerId id;
    id.set_id(info.id());
    grpc::ClientContext activate_context;
    EXPECT_TRUE(admin_->ActivateServiceWorker(&activate_context, id, &info).ok());
    return info.id();
  }

  struct Page {
    std::string token;
    std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> stub;
  };
  Page OpenPage(const std::string& origin) {
    admin::OpenSessionRequest request;
    request.set_origin(origin);
    request.set_client_type(admin::CLIENT_TYPE_WINDOW);
    admin::OpenSessionReply reply;
    grpc::ClientContext context;
    EXPECT_TRUE(admin_->OpenSession(&context, request, &reply).ok());
    return {reply.token(), mojom::OneShotBackgroundSyncService::NewStub(
                               grpc::CreateChannel("unix:" + reply.socket_path(), grpc::InsecureChannelCredentials()))};
  }
  mojom::RegisterReply Register(Page& page, int64_t sw, const std::string& tag, bool resolve = true) {
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
  void SetNetwork(admin::SetNetworkEmulationRequest::Mode mode) {
    admin::SetNetworkEmulationRequest request;
    request.set_mode(mode);
    admin::Empty empty;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->SetNetworkEmulation(&context, request, &empty).ok());
  }
  std::vector<admin::Registration> Registrations() {
    admin::RegistrationTable table;
    grpc::ClientContext context;
    if (!admin_->ListRegistrations(&context, admin::Empty(), &table).ok())
      return {};
    return {table.registrations().begin(), table.registrations().end()};
  }
  std::vector<std::string> WorkerLog(const std::string& path) {
    std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
    return lines;
  }

  const std::string kMail = "https://mail.example";
  std::string dir_;
  std::string profile_;
  ProcessLauncher launcher_;
  pid_t browser_pid_ = 0;
  std::shared_ptr<absl::Notification> browser_exited_;
  std::shared_ptr<int> browser_status_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

TEST_F(BrowserE2ETest, RegisterOfflineThenOnlineWakesTheWorkerProcess) {
  StartBrowser();
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallWorker(kMail, {"--log=" + log});
  Page page = OpenPage(kMail);
  mojom::RegisterReply reply = Register(page, sw, "sync-messages");
  ASSERT_TRUE(reply.has_registration()) << reply.DebugString();

  mojom::GetRegistrationsRequest get;
  get.set_service_worker_registration_id(sw);
  mojom::GetRegistrationsReply tags;
  grpc::ClientContext context;
  context.AddMetadata(kSessionMetadataKey, page.token);
  ASSERT_TRUE(page.stub->GetRegistrations(&context, get, &tags).ok());
  ASSERT_EQ(tags.registrations().registrations_size(), 1);
  EXPECT_EQ(tags.registrations().registrations(0).tag(), "sync-messages");
  EXPECT_FALSE(std::filesystem::exists(log)) << "fired while offline";

  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  EXPECT_EQ(WorkerLog(log), std::vector<std::string>{"event sync-messages last_chance=0"});
  EXPECT_EQ(StopBrowser(SIGTERM), 0);
}

TEST_F(BrowserE2ETest, FailuresRetryWithLastChanceOnTheFinalAttempt) {
  StartBrowser();
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallWorker(kMail, {"--log=" + log, "--fail-first=2"});
  Page page = OpenPage(kMail);
  ASSERT_TRUE(Register(page, sw, "outbox").has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  EXPECT_EQ(WorkerLog(log), (std::vector<std::string>{"event outbox last_chance=0", "event outbox last_chance=0",
                                                      "event outbox last_chance=1"}));
}

TEST_F(BrowserE2ETest, WorkerCrashMidEventIsRetried) {
  StartBrowser({"--max-attempts", "2"});
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallWorker(kMail, {"--log=" + log, "--outcome=crash"});
  Page page = OpenPage(kMail);
  ASSERT_TRUE(Register(page, sw, "outbox").has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  // Each attempt crashes its worker process; the engine retries once (2 attempts), then gives up.
  EXPECT_TRUE(Eventually([&] { return WorkerLog(log).size() == 2 && Registrations().empty(); }));
  EXPECT_EQ(WorkerLog(log), (std::vector<std::string>{"event outbox last_chance=0", "event outbox last_chance=1"}));
}

TEST_F(BrowserE2ETest, HungWorkerTimesOutAndIsStopped) {
  StartBrowser({"--event-timeout", "1", "--max-attempts", "2", "--retry-delay", "3600"});
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallWorker(kMail, {"--log=" + log, "--outcome=hang"});
  Page page = OpenPage(kMail);
  ASSERT_TRUE(Register(page, sw, "outbox").has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] {
    std::vector<admin::Registration> all = Registrations();
    return all.size() == 1 && all[0].state() == "waiting" && all[0].last_failure() == "timed out";
  }));
  // The hung worker process is killed after the deadline and its grace.
  EXPECT_TRUE(Eventually([&] {
    admin::ServiceWorkerList list;
    grpc::ClientContext context;
    return admin_->ListServiceWorkers(&context, admin::Empty(), &list).ok() && list.service_workers_size() == 1 &&
           list.service_workers(0).worker_pid() == 0;
  }));
}

TEST_F(BrowserE2ETest, SigkillAndRestartKeepsAcknowledgedRegistrations) {
  StartBrowser();
  const int64_t sw = InstallWorker(kMail, {});
  Page page = OpenPage(kMail);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(Register(page, sw, absl::StrCat("tag-", i)).has_registration());
  EXPECT_TRUE(WIFSIGNALED(StopBrowser(SIGKILL)));
  StartBrowser();
  std::vector<admin::Registration> all = Registrations();
  ASSERT_EQ(all.size(), 20u);
  for (const admin::Registration& r : all)
    EXPECT_EQ(r.state(), "pending");
}

TEST_F(BrowserE2ETest, SecondBrowserOnTheSameProfileRefusesToStart) {
  StartBrowser();
  LaunchOptions second;
  second.argv = {BinaryDirectory() + "/bgsync_browser", "--profile", profile_, "--no-netlink"};
  const std::string output = dir_ + "/second.out";
  int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  second.stderr_fd = fd;
  absl::Notification exited;
  int status = -1;
  ASSERT_TRUE(launcher_
                  .Launch(second,
                          [&](pid_t, int s) {
                            status = s;
                            exited.Notify();
                          })
                  .ok());
  close(fd);
  ASSERT_TRUE(exited.WaitForNotificationWithTimeout(kGenerous));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(ReadFile(output).find("in use by another bgsync_browser"), std::string::npos) << ReadFile(output);
}

TEST_F(BrowserE2ETest, AnotherOriginsIdGetsTheSameErrorAsAnUnknownOne) {
  StartBrowser();
  const int64_t theirs = InstallWorker("https://other.example", {});
  Page page = OpenPage(kMail);
  mojom::RegisterReply foreign = Register(page, theirs, "x", false);
  mojom::RegisterReply unknown = Register(page, 987654, "x", false);
  EXPECT_EQ(foreign.error(), mojom::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(foreign.SerializeAsString(), unknown.SerializeAsString());
  EXPECT_TRUE(Registrations().empty());
}

TEST_F(BrowserE2ETest, ImpossibleInputFromALaunchedRendererKillsIt) {
  StartBrowser();
  const int64_t sw = InstallWorker(kMail, {});
  admin::OpenWindowRequest window;
  window.set_origin(kMail);
  window.set_client_type(admin::CLIENT_TYPE_WINDOW);
  // "%FF" decodes to a byte that is not UTF-8: no honest renderer sends it.
  window.add_script(absl::StrCat("register ", sw, " %FF"));
  window.set_keep_open(true);
  window.set_output_path(dir_ + "/window.out");
  admin::OpenWindowReply opened;
  grpc::ClientContext context;
  ASSERT_TRUE(admin_->OpenWindow(&context, window, &opened).ok());
  EXPECT_TRUE(Eventually([&] {
    admin::BrowserStatus status;
    grpc::ClientContext c;
    return admin_->GetStatus(&c, admin::Empty(), &status).ok() && status.bad_messages() == 1;
  }));
  // The browser killed and reaped its renderer (a keep-open window would otherwise live on).
  EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(absl::StrCat("/proc/", opened.pid())); }));
  EXPECT_TRUE(Registrations().empty());
}

TEST_F(BrowserE2ETest, UnacknowledgedRegistrationFiresWhenItsClientGoesAway) {
  StartBrowser();
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallWorker(kMail, {"--log=" + log});
  admin::OpenSessionRequest open;
  open.set_origin(kMail);
  open.set_client_type(admin::CLIENT_TYPE_WINDOW);
  admin::OpenSessionReply session;
  grpc::ClientContext open_context;
  ASSERT_TRUE(admin_->OpenSession(&open_context, open, &session).ok());
  Page page{session.token(), mojom::OneShotBackgroundSyncService::NewStub(grpc::CreateChannel(
                                 "unix:" + session.socket_path(), grpc::InsecureChannelCredentials()))};
  ASSERT_TRUE(Register(page, sw, "outbox", /*resolve=*/false).has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  std::vector<admin::Registration> all = Registrations();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].resolved());
  EXPECT_EQ(all[0].state(), "pending");

  // The page goes away without acknowledging: the registration becomes fireable.
  admin::CloseSessionRequest close;
  close.set_session_id(session.session_id());
  admin::Empty empty;
  grpc::ClientContext close_context;
  ASSERT_TRUE(admin_->CloseSession(&close_context, close, &empty).ok());
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  EXPECT_EQ(WorkerLog(log), std::vector<std::string>{"event outbox last_chance=0"});
}

TEST_F(BrowserE2ETest, SigtermKeepsEveryRegisterItAnsweredOk) {
  StartBrowser();
  const int64_t sw = InstallWorker(kMail, {});
  Page page = OpenPage(kMail);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  absl::Mutex mu;
  std::vector<std::string> acknowledged;
  int answered = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string tag = absl::StrCat("t", t, "-", i);
        grpc::ClientContext context;
        context.AddMetadata(kSessionMetadataKey, page.token);
        context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
        mojom::RegisterRequest request;
        request.set_service_worker_registration_id(sw);
        request.mutable_options()->set_tag(tag);
        mojom::RegisterReply reply;
        grpc::Status status = page.stub->Register(&context, request, &reply);
        absl::MutexLock lock(&mu);
        ++answered;
        if (status.ok() && reply.has_registration())
          acknowledged.push_back(tag);
      }
    });
  }
  // Stop the browser while Registers are still arriving.
  {
    absl::MutexLock lock(&mu);
    auto some = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return answered >= 20; };
    mu.AwaitWithTimeout(absl::Condition(&some), kGenerous);
  }
  EXPECT_EQ(StopBrowser(SIGTERM), 0);
  for (std::thread& thread : threads)
    thread.join();
  ASSERT_GE(acknowledged.size(), 20u);

  StartBrowser();
  std::set<std::string> stored;
  for (const admin::Registration& r : Registrations())
    stored.insert(r.tag());
  for (const std::string& tag : acknowledged)
    EXPECT_TRUE(stored.count(tag)) << tag << " was answered OK but lost";
}

}  // namespace
}  // namespace bgsync
