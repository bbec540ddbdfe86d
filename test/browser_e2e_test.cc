// End to end with real processes: a bgsync_browser process on a temporary profile, real bgsync_test_worker
// processes that it launches, and this test acting as admin (admin.sock) and as a page (a window session over
// browser.sock). Waits are on events or on polled state with generous deadlines; nothing depends on timing.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/storage_backend.h"
#include "components/background_sync/sync_registration_store.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "services/background_sync/session_registry.h"
#include "test/browser_test_fixture.h"

namespace bgsync {
namespace {

class BrowserE2ETest : public BrowserTestFixture {
 protected:
  // A bgsync_test_worker (from next to this binary) with `worker_flags`.
  int64_t InstallTestWorker(const std::string& origin, const std::vector<std::string>& worker_flags) {
    std::vector<std::string> command = {BinaryDirectory() + "/bgsync_test_worker"};
    command.insert(command.end(), worker_flags.begin(), worker_flags.end());
    return InstallWorker(origin, std::move(command));
  }
};

TEST_F(BrowserE2ETest, RegisterOfflineThenOnlineWakesTheWorkerProcess) {
  StartBrowser();
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log});
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
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log, "--fail-first=2"});
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
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log, "--outcome=crash"});
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
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log, "--outcome=hang"});
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
  const int64_t sw = InstallTestWorker(kMail, {});
  Page page = OpenPage(kMail);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(Register(page, sw, absl::StrCat("tag-", i)).has_registration());
  EXPECT_TRUE(WIFSIGNALED(StopBrowser(SIGKILL)));
  const std::string killed_runtime = runtime_dir_;
  ASSERT_TRUE(std::filesystem::exists(killed_runtime + "/browser.sock"));  // a killed browser cannot clean up
  StartBrowser();
  std::vector<admin::Registration> all = Registrations();
  ASSERT_EQ(all.size(), 20u);
  for (const admin::Registration& r : all)
    EXPECT_EQ(r.state(), "pending");
  // The new browser on the profile removed the killed one's runtime directory.
  EXPECT_NE(runtime_dir_, killed_runtime);
  EXPECT_FALSE(std::filesystem::exists(killed_runtime));
}

// A runtime directory that is not exactly one of ours (here: a file of another kind in it) is left alone.
TEST_F(BrowserE2ETest, AStaleRuntimeDirectoryWithForeignContentIsLeftAlone) {
  StartBrowser();
  EXPECT_TRUE(WIFSIGNALED(StopBrowser(SIGKILL)));
  const std::string killed_runtime = runtime_dir_;
  { std::ofstream(killed_runtime + "/notes.txt") << "not the browser's\n"; }
  StartBrowser();
  EXPECT_TRUE(std::filesystem::exists(killed_runtime + "/notes.txt"));
  EXPECT_TRUE(std::filesystem::exists(killed_runtime + "/browser.sock"));
  std::filesystem::remove_all(killed_runtime);
}

// --relaxed-durability answers a Register once its write is in the OS's hands (no fsync): a SIGKILL of the browser
// still loses nothing.
TEST_F(BrowserE2ETest, RelaxedDurabilityKeepsAcknowledgedRegistrationsAcrossSigkill) {
  StartBrowser({"--relaxed-durability"});
  const int64_t sw = InstallTestWorker(kMail, {});
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

TEST_F(BrowserE2ETest, SigkillDuringAnEventRefiresItAfterRestartWithoutCountingTheAttempt) {
  StartBrowser();
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log, "--outcome=hang"});
  Page page = OpenPage(kMail);
  ASSERT_TRUE(Register(page, sw, "outbox").has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  ASSERT_TRUE(Eventually([&] { return WorkerLog(log).size() == 1; }));
  EXPECT_TRUE(WIFSIGNALED(StopBrowser(SIGKILL)));

  StartBrowser();  // offline: nothing fires yet
  std::vector<admin::Registration> all = Registrations();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].state(), "pending");
  EXPECT_EQ(all[0].num_attempts(), 0) << "the interrupted attempt was counted";
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] { return WorkerLog(log).size() == 2; }));
  EXPECT_EQ(WorkerLog(log), (std::vector<std::string>{"event outbox last_chance=0", "event outbox last_chance=0"}));
}

TEST_F(BrowserE2ETest, RegisteringAgainAroundAFailedEventRunsItOnceMore) {
  StartBrowser({"--event-timeout", "1"});
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log, "--fail-first=1"});
  Page page = OpenPage(kMail);
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  ASSERT_TRUE(Register(page, sw, "outbox").has_registration());
  ASSERT_TRUE(Eventually([&] { return WorkerLog(log).size() >= 1; }));
  // Registered again while (or just after) the first event ran: either way it must run once more and complete,
  // and the first attempt's rejection must not count against it.
  ASSERT_TRUE(Register(page, sw, "outbox").has_registration());
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  EXPECT_EQ(WorkerLog(log), (std::vector<std::string>{"event outbox last_chance=0", "event outbox last_chance=0"}));
}

TEST_F(BrowserE2ETest, WithOneWorkerSlotEventsWaitForItInsteadOfFailing) {
  StartBrowser({"--max-workers", "1"});
  const std::string log_a = dir_ + "/a.log";
  const std::string log_b = dir_ + "/b.log";
  const int64_t a = InstallTestWorker(kMail, {"--log=" + log_a});
  const int64_t b = InstallTestWorker("https://other.example", {"--log=" + log_b});
  Page mail = OpenPage(kMail);
  Page other = OpenPage("https://other.example");
  ASSERT_TRUE(Register(mail, a, "a").has_registration());
  ASSERT_TRUE(Register(other, b, "b").has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  // Only one worker process may run; the other service worker's event waits for the slot and runs once.
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  EXPECT_EQ(WorkerLog(log_a), std::vector<std::string>{"event a last_chance=0"});
  EXPECT_EQ(WorkerLog(log_b), std::vector<std::string>{"event b last_chance=0"});
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
  const int64_t theirs = InstallTestWorker("https://other.example", {});
  Page page = OpenPage(kMail);
  mojom::RegisterReply foreign = Register(page, theirs, "x", false);
  mojom::RegisterReply unknown = Register(page, 987654, "x", false);
  EXPECT_EQ(foreign.error(), mojom::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  EXPECT_EQ(foreign.SerializeAsString(), unknown.SerializeAsString());
  EXPECT_TRUE(Registrations().empty());
}

TEST_F(BrowserE2ETest, ImpossibleInputFromALaunchedRendererKillsIt) {
  StartBrowser();
  const int64_t sw = InstallTestWorker(kMail, {});
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
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log});
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
  const int64_t sw = InstallTestWorker(kMail, {});
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

admin::BrowserStatus Status(admin::BrowserAdmin::Stub& admin) {
  admin::BrowserStatus status;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  EXPECT_TRUE(admin.GetStatus(&context, admin::Empty(), &status).ok());
  return status;
}

// GetStatus shows issue 5's protections at work, each counter moved by a real cause: a browser killed while two
// events ran leaves them firing (interrupted at load); a record damaged behind a valid key is quarantined; a store
// whose CURRENT is wiped is repaired on a copy and the damaged one kept; a page over its rate limit is refused; a
// worker that overruns its event's deadline is killed.
TEST_F(BrowserE2ETest, StatusCountsWhatTheProtectionsDid) {
  StartBrowser({"--max-attempts", "1"});  // registrations keep the attempts they were made with
  admin::BrowserStatus fresh = Status(*admin_);
  EXPECT_EQ(fresh.sync_store_outcome(), admin::SYNC_STORE_SERVED);
  EXPECT_EQ(fresh.sync_store_damaged_kept(), 0);
  EXPECT_EQ(fresh.sync_store_recovery(), "");
  EXPECT_EQ(fresh.quarantined_at_load(), 0);
  EXPECT_EQ(fresh.interrupted_at_load(), 0);
  EXPECT_EQ(fresh.rate_limited_calls(), 0);
  EXPECT_EQ(fresh.workers_killed_for_deadline(), 0);

  // Two origins, each with a worker whose events never settle, each with a registration that fires at once.
  const std::string news = "https://news.example";
  const std::string mail_log = dir_ + "/mail.log", news_log = dir_ + "/news.log";
  const int64_t mail_sw = InstallTestWorker(kMail, {"--outcome=hang", "--log=" + mail_log});
  const int64_t news_sw = InstallTestWorker(news, {"--outcome=hang", "--log=" + news_log});
  Page mail_page = OpenPage(kMail);
  Page news_page = OpenPage(news);
  ASSERT_TRUE(Register(mail_page, mail_sw, "interrupted").has_registration());
  ASSERT_TRUE(Register(news_page, news_sw, "damaged").has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  ASSERT_TRUE(Eventually([&] { return !WorkerLog(mail_log).empty() && !WorkerLog(news_log).empty(); }));
  StopBrowser(SIGKILL);  // both registrations are stored as firing

  // With the browser gone: garbage behind the news registration's valid key, then CURRENT wiped.
  const std::string store = profile_ + "/BackgroundSync";
  {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(store);
    ASSERT_TRUE(backend.ok()) << backend.status();
    StorageBatch batch;
    batch.Put(SyncRegistrationStore::EncodeKey({news_sw, SyncType::kOneShot, "damaged"}), "not a record");
    ASSERT_TRUE(CommitAndWait(**backend, std::move(batch), Durability::kDurable).ok());
  }
  std::ofstream(store + "/CURRENT", std::ios::trunc) << std::string(16, '\0');

  // A tight rate limit and short deadlines for what follows.
  StartBrowser({"--rate-limit", "1", "--rate-burst", "2", "--event-timeout", "0.3", "--worker-deadline-grace", "0.3",
                "--max-attempts", "1"});
  admin::BrowserStatus loaded = Status(*admin_);
  EXPECT_EQ(loaded.sync_store_outcome(), admin::SYNC_STORE_REPAIRED) << loaded.sync_store_recovery();
  EXPECT_EQ(loaded.sync_store_damaged_kept(), 1);
  EXPECT_NE(loaded.sync_store_recovery().find(store + ".corrupt-"), std::string::npos) << loaded.sync_store_recovery();
  EXPECT_EQ(loaded.quarantined_at_load(), 1);
  EXPECT_EQ(loaded.interrupted_at_load(), 1);
  std::vector<admin::Registration> registrations = Registrations();
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_EQ(registrations[0].tag(), "interrupted");

  // Three calls at once from a page allowed two: one refused.
  Page page = OpenPage(kMail);
  int refused = 0;
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, page.token);
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(mail_sw);
    mojom::GetRegistrationsReply reply;
    refused +=
        page.stub->GetRegistrations(&context, request, &reply).error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? 1
                                                                                                                    : 0;
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(Status(*admin_).rate_limited_calls(), 1);

  // Online again (the browser started offline): the interrupted event fires again on a worker that never answers;
  // its process is killed after the deadline and the grace, and with one attempt allowed the registration is gone.
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] { return Status(*admin_).workers_killed_for_deadline() == 1; }));
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  admin::BrowserStatus last = Status(*admin_);
  EXPECT_EQ(last.workers_killed_for_deadline(), 1);
  EXPECT_EQ(last.rate_limited_calls(), 1);
  EXPECT_EQ(last.quarantined_at_load(), 1) << "what this start found stays";
  EXPECT_EQ(StopBrowser(SIGTERM), 0);
}

}  // namespace
}  // namespace bgsync
