// Periodic Background Sync end to end with real processes: a bgsync_browser on a temporary profile with short
// periodic parameters (a 1 s origin gap, no batch minimum), real worker processes it launches (bgsync_test_worker,
// and test/node_worker/worker.js when node is installed), renderer windows (bgsync_renderer_host) it launches,
// and this test acting as admin (admin.sock) and as a page (a window session over browser.sock).
//
// Nothing depends on how long anything takes: waits are on events or polled state with generous deadlines, and
// time is only compared with times the browser promises (an event never fires before its scheduled time).
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "services/background_sync/session_registry.h"
#include "test/browser_test_fixture.h"

#ifndef BGSYNC_SOURCE_ROOT
#error "BGSYNC_SOURCE_ROOT (the source root, relative to the build directory) is defined in test/BUILD.gn"
#endif

namespace bgsync {
namespace {

int64_t NowMs() {
  return absl::ToUnixMillis(absl::Now());
}

class PeriodicE2ETest : public BrowserTestFixture {
 protected:
  // The browser's periodic minimum interval per origin (--periodic-min-interval), in milliseconds: a registration's
  // interval is rounded up to a multiple of it.
  static constexpr int64_t kGapMs = 1000;

  // Starts the browser with short periodic parameters, then `extra` flags (a repeated flag overrides), and online.
  void StartPeriodicBrowser(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {"--periodic-min-interval", "1", "--periodic-batch-interval", "0"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    ASSERT_NO_FATAL_FAILURE(StartBrowser(std::move(flags)));
    ASSERT_NO_FATAL_FAILURE(SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE));
  }

  // A bgsync_test_worker (from next to this binary) with `worker_flags`.
  int64_t InstallTestWorker(const std::string& origin, const std::vector<std::string>& worker_flags) {
    std::vector<std::string> command = {BinaryDirectory() + "/bgsync_test_worker"};
    command.insert(command.end(), worker_flags.begin(), worker_flags.end());
    return InstallWorker(origin, std::move(command));
  }

  // "periodic-background-sync" is denied by default.
  void GrantPeriodic(const std::string& origin) {
    admin::SetPermissionRequest request;
    request.set_origin(origin);
    request.set_periodic(true);
    request.set_setting(admin::SetPermissionRequest::SETTING_GRANTED);
    admin::Empty empty;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->SetPermission(&context, request, &empty).ok());
  }

  // A page's ServiceWorkerRegistration.periodicSync: a window session of `origin`, opened through the admin
  // endpoint.
  struct PeriodicPage {
    std::string token;
    std::unique_ptr<mojom::PeriodicBackgroundSyncService::Stub> stub;
  };
  PeriodicPage OpenPeriodicPage(const std::string& origin) {
    admin::OpenSessionRequest request;
    request.set_origin(origin);
    request.set_client_type(admin::CLIENT_TYPE_WINDOW);
    admin::OpenSessionReply reply;
    grpc::ClientContext context;
    EXPECT_TRUE(admin_->OpenSession(&context, request, &reply).ok());
    return {reply.token(), mojom::PeriodicBackgroundSyncService::NewStub(
                               grpc::CreateChannel("unix:" + reply.socket_path(), grpc::InsecureChannelCredentials()))};
  }

  grpc::Status Register(PeriodicPage& page,
                        int64_t sw,
                        const std::string& tag,
                        int64_t min_interval_ms,
                        mojom::RegisterReply* reply) {
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, page.token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(sw);
    request.mutable_options()->set_tag(tag);
    request.mutable_options()->set_min_interval_ms(min_interval_ms);
    return page.stub->Register(&context, request, reply);
  }

  grpc::Status Unregister(PeriodicPage& page, int64_t sw, const std::string& tag, mojom::UnregisterReply* reply) {
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, page.token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::UnregisterRequest request;
    request.set_service_worker_registration_id(sw);
    request.set_tag(tag);
    return page.stub->Unregister(&context, request, reply);
  }

  // The periodic registration `tag`, as the admin endpoint lists it; nullopt if there is none.
  std::optional<admin::Registration> FindPeriodic(const std::string& tag) {
    for (admin::Registration& r : Registrations()) {
      if (r.type() == "periodic" && r.tag() == tag)
        return std::move(r);
    }
    return std::nullopt;
  }

  // How many lines of `log` are exactly `line`.
  size_t CountLines(const std::string& log, const std::string& line) {
    size_t count = 0;
    for (const std::string& l : WorkerLog(log))
      count += l == line;
    return count;
  }

  // Opens a renderer window (bgsync_renderer_host) of `origin` running `script`, and returns its answer lines once
  // there is one per command (empty after a generous deadline).
  std::vector<std::string> RunWindow(const std::string& origin, const std::vector<std::string>& script) {
    const std::string output = absl::StrCat(dir_, "/window-", ++windows_, ".out");
    admin::OpenWindowRequest request;
    request.set_origin(origin);
    request.set_client_type(admin::CLIENT_TYPE_WINDOW);
    for (const std::string& command : script)
      request.add_script(command);
    request.set_output_path(output);
    admin::OpenWindowReply reply;
    grpc::ClientContext context;
    EXPECT_TRUE(admin_->OpenWindow(&context, request, &reply).ok());
    std::vector<std::string> lines;
    EXPECT_TRUE(Eventually([&] {
      lines = absl::StrSplit(ReadFile(output), '\n', absl::SkipEmpty());
      return lines.size() >= script.size();
    })) << ReadFile(output);
    return lines;
  }

  int64_t BadMessages() {
    admin::BrowserStatus status;
    grpc::ClientContext context;
    EXPECT_TRUE(admin_->GetStatus(&context, admin::Empty(), &status).ok());
    return status.bad_messages();
  }

  int windows_ = 0;
};

TEST_F(PeriodicE2ETest, PermissionIsDeniedUntilGranted) {
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  const int64_t sw = InstallTestWorker(kMail, {});
  PeriodicPage page = OpenPeriodicPage(kMail);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(page, sw, "news", 0, &reply).ok());
  EXPECT_EQ(reply.error(), mojom::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED) << reply.DebugString();
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  ASSERT_TRUE(Register(page, sw, "news", 0, &reply).ok());
  EXPECT_TRUE(reply.has_registration()) << reply.DebugString();
}

TEST_F(PeriodicE2ETest, FiresAfterItsIntervalNotOnRegistrationAndStaysRegistered) {
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  PeriodicPage page = OpenPeriodicPage(kMail);

  const int64_t before_register_ms = NowMs();
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(page, sw, "news", kGapMs, &reply).ok());
  ASSERT_TRUE(reply.has_registration()) << reply.DebugString();
  EXPECT_EQ(reply.registration().tag(), "news");
  EXPECT_EQ(reply.registration().min_interval_ms(), kGapMs);
  // Scheduled one interval out, not now.
  std::optional<admin::Registration> registered = FindPeriodic("news");
  ASSERT_TRUE(registered.has_value());
  EXPECT_GE(registered->next_attempt_unix_ms(), before_register_ms + kGapMs);

  ASSERT_TRUE(Eventually([&] { return !WorkerLog(log).empty(); }));
  // Whenever this test notices the first event, at least the interval has passed since it registered.
  EXPECT_GE(NowMs(), before_register_ms + kGapMs);
  EXPECT_EQ(WorkerLog(log)[0], "periodicsync news");

  // Completing an event keeps the registration, and the next interval fires it again.
  ASSERT_TRUE(Eventually([&] { return WorkerLog(log).size() >= 3; }));
  for (const std::string& line : WorkerLog(log))
    EXPECT_EQ(line, "periodicsync news");
  std::optional<admin::Registration> still = FindPeriodic("news");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->last_failure(), "");
  EXPECT_EQ(BadMessages(), 0);
}

TEST_F(PeriodicE2ETest, PageRegistersAndGetsTagsInTheirOwnNamespace) {
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  const std::string id = absl::StrCat(sw);

  // A renderer process registers two periodic tags and reads them back; the one-shot namespace stays empty. An
  // unregister() of a tag that is not registered resolves.
  std::vector<std::string> answers =
      RunWindow(kMail, {"periodic-register " + id + " news 3600000", "periodic-register " + id + " a%20b 3600000",
                        "periodic-tags " + id, "tags " + id, "periodic-unregister " + id + " never"});
  EXPECT_EQ(answers, (std::vector<std::string>{"ok", "ok", "tags a%20b news", "tags", "ok"}));
  // Another window of the origin sees the same tags.
  answers = RunWindow(kMail, {"periodic-tags " + id});
  EXPECT_EQ(answers, (std::vector<std::string>{"tags a%20b news"}));
  // Another origin's page cannot see them: the id is not its own.
  InstallTestWorker("https://other.example", {});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic("https://other.example"));
  answers = RunWindow("https://other.example", {"periodic-tags " + id});
  EXPECT_EQ(answers, (std::vector<std::string>{"error UnknownError No service worker is active."}));
  EXPECT_EQ(BadMessages(), 0);
}

TEST_F(PeriodicE2ETest, UnregisterStopsTheEvents) {
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  const std::string id = absl::StrCat(sw);

  std::vector<std::string> answers = RunWindow(kMail, {"periodic-register " + id + " news 1000"});
  EXPECT_EQ(answers, std::vector<std::string>{"ok"});
  ASSERT_TRUE(Eventually([&] { return CountLines(log, "periodicsync news") >= 1; }));
  answers = RunWindow(kMail, {"periodic-unregister " + id + " news", "periodic-tags " + id});
  EXPECT_EQ(answers, (std::vector<std::string>{"ok", "tags"}));
  EXPECT_FALSE(FindPeriodic("news").has_value());
  // An event already on its way when unregister() ran may still arrive; none after that.
  const size_t news_at_unregister = CountLines(log, "periodicsync news");

  // A witness on the same service worker: "news" would have fired alongside it each time it fires.
  PeriodicPage page = OpenPeriodicPage(kMail);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(page, sw, "witness", kGapMs, &reply).ok());
  ASSERT_TRUE(reply.has_registration()) << reply.DebugString();
  ASSERT_TRUE(Eventually([&] { return CountLines(log, "periodicsync witness") >= 3; }));
  EXPECT_LE(CountLines(log, "periodicsync news"), news_at_unregister + 1);
}

TEST_F(PeriodicE2ETest, NegativeIntervalIsTypeErrorInThePageAndABadMessageAtTheBrowser) {
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  const int64_t sw = InstallTestWorker(kMail, {});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  const std::string id = absl::StrCat(sw);

  // An honest renderer never sends it: its bindings reject the value.
  std::vector<std::string> answers = RunWindow(kMail, {"periodic-register " + id + " news -1"});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(answers[0], "error TypeError ")) << answers[0];
  EXPECT_EQ(BadMessages(), 0);

  // A renderer that sends it anyway loses its session.
  PeriodicPage page = OpenPeriodicPage(kMail);
  mojom::RegisterReply reply;
  EXPECT_EQ(Register(page, sw, "news", -1, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(BadMessages(), 1);
  EXPECT_EQ(Register(page, sw, "news", 0, &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  mojom::UnregisterReply unregistered;
  EXPECT_EQ(Unregister(page, sw, "news", &unregistered).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(FindPeriodic("news").has_value());
}

TEST_F(PeriodicE2ETest, FailingWorkerIsRetriedThenWaitsForTheNextInterval) {
  // Two attempts per interval; a retry 0.5 s after a failure; a 4 s interval.
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser({"--periodic-max-attempts", "2", "--retry-delay", "0.5"}));
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log, "--outcome=rejected"});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  PeriodicPage page = OpenPeriodicPage(kMail);
  constexpr int64_t kIntervalMs = 4 * kGapMs;
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(page, sw, "news", kIntervalMs, &reply).ok());
  ASSERT_TRUE(reply.has_registration()) << reply.DebugString();

  // After a failed first attempt: waiting for the retry. (The states below recur every interval, so polling
  // finds them however slow the machine is.)
  EXPECT_TRUE(Eventually([&] {
    std::optional<admin::Registration> r = FindPeriodic("news");
    return r && r->state() == "waiting" && r->num_attempts() == 1 && r->last_failure() == "rejected";
  }));
  // After the failed retry: not removed, no third attempt, but pending for the next interval, well beyond the
  // retry delay. Every interval ends in this state after exactly two attempts.
  std::optional<admin::Registration> exhausted;
  size_t events_then = 0;
  ASSERT_TRUE(Eventually([&] {
    exhausted = FindPeriodic("news");
    events_then = WorkerLog(log).size();
    return exhausted && exhausted->state() == "pending" && exhausted->num_attempts() == 0 &&
           exhausted->last_failure() == "rejected" && exhausted->next_attempt_unix_ms() > NowMs() + 1000;
  }));
  EXPECT_GE(events_then, 2u);
  EXPECT_EQ(events_then % 2, 0u) << "an interval ended after other than two attempts";
  // The next interval fires it again, no earlier than scheduled.
  ASSERT_TRUE(Eventually([&] { return WorkerLog(log).size() > events_then; }));
  EXPECT_GE(NowMs(), exhausted->next_attempt_unix_ms());
  for (const std::string& line : WorkerLog(log))
    EXPECT_EQ(line, "periodicsync news");
  EXPECT_TRUE(FindPeriodic("news").has_value());
}

TEST_F(PeriodicE2ETest, RegistrationAndItsPermissionSurviveARestartAndKeepFiring) {
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, {"--log=" + log});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  PeriodicPage page = OpenPeriodicPage(kMail);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(page, sw, "news", kGapMs, &reply).ok());
  ASSERT_TRUE(reply.has_registration());
  EXPECT_EQ(StopBrowser(SIGTERM), 0);

  const size_t events_before = WorkerLog(log).size();
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  ASSERT_TRUE(FindPeriodic("news").has_value());
  // The grant is kept in the profile: nothing to grant again.
  EXPECT_TRUE(Eventually([&] { return WorkerLog(log).size() >= events_before + 2; }));
}

// ---------------------------------------------------------------------------------------------------------------
// The Node worker (test/node_worker/worker.js) answers periodic events too.

// The executable file `name` in a directory of $PATH; empty if there is none.
std::string FindOnPath(const std::string& name) {
  const char* path = getenv("PATH");
  if (path == nullptr)
    return "";
  for (absl::string_view directory : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(directory, "/", name);
    std::error_code error;
    if (std::filesystem::is_regular_file(candidate, error) && access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return "";
}

TEST_F(PeriodicE2ETest, NodeWorkerAnswersPeriodicEvents) {
  const std::string node = FindOnPath("node");
  if (node.empty())
    GTEST_SKIP() << "`node` is not on PATH (Debian's nodejs: tools/install-build-deps installs it)";
  const std::filesystem::path worker =
      std::filesystem::weakly_canonical(std::filesystem::path(BinaryDirectory()) / BGSYNC_SOURCE_ROOT) /
      "test/node_worker/worker.js";
  ASSERT_TRUE(std::filesystem::exists(worker)) << worker;
  for (const char* package : {"@grpc/grpc-js", "@grpc/proto-loader"}) {
    if (!std::filesystem::exists(worker.parent_path() / "node_modules" / package / "package.json"))
      GTEST_SKIP() << package << " is not installed (tools/test runs `npm ci` in test/node_worker)";
  }
  ASSERT_NO_FATAL_FAILURE(StartPeriodicBrowser());
  const std::string log = dir_ + "/node.log";
  const int64_t sw = InstallWorker(kMail, {node, worker.string(), "--log", log});
  ASSERT_NO_FATAL_FAILURE(GrantPeriodic(kMail));
  PeriodicPage page = OpenPeriodicPage(kMail);
  mojom::RegisterReply reply;
  ASSERT_TRUE(Register(page, sw, "news", kGapMs, &reply).ok());
  ASSERT_TRUE(reply.has_registration());
  // Two events: the first was answered (COMPLETED), or the registration would be retrying rather than firing on
  // its next interval with no failure recorded.
  ASSERT_TRUE(Eventually([&] { return WorkerLog(log).size() >= 2; }));
  for (const std::string& line : WorkerLog(log))
    EXPECT_TRUE(absl::StartsWith(line, "periodicsync news timeout_ms=")) << line;
  std::optional<admin::Registration> r = FindPeriodic("news");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->last_failure(), "");
}

}  // namespace
}  // namespace bgsync
