// The worker protocol (public/README.md) from a second, independent implementation: a service worker written in
// JavaScript with Node's @grpc/grpc-js (test/node_worker/worker.js), launched by a real bgsync_browser. Skipped,
// never passed, when `node` is not on PATH or test/node_worker/node_modules is not installed (tools/test runs
// `npm ci` there).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "browser/admin/admin.grpc.pb.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "test/browser_test_fixture.h"

#ifndef BGSYNC_SOURCE_ROOT
#error "BGSYNC_SOURCE_ROOT (the source root, relative to the build directory) is defined in test/BUILD.gn"
#endif

namespace bgsync {
namespace {

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

// The source root: BGSYNC_SOURCE_ROOT is relative to the build directory, which holds this binary.
std::string SourceRoot() {
  return std::filesystem::weakly_canonical(std::filesystem::path(BinaryDirectory()) / BGSYNC_SOURCE_ROOT).string();
}

// Whether `line` is what worker.js logs for one event: "event <tag> last_chance=<0|1> timeout_ms=<n>", n > 0.
bool IsEvent(absl::string_view line, absl::string_view tag, bool last_chance) {
  int64_t timeout_ms = 0;
  return absl::ConsumePrefix(&line,
                             absl::StrCat("event ", tag, " last_chance=", last_chance ? 1 : 0, " timeout_ms=")) &&
         absl::SimpleAtoi(line, &timeout_ms) && timeout_ms > 0;
}

class NodeWorkerE2ETest : public BrowserTestFixture {
 protected:
  void SetUp() override {
    BrowserTestFixture::SetUp();
    if (HasFatalFailure())
      return;
    node_ = FindOnPath("node");
    if (node_.empty())
      GTEST_SKIP() << "`node` is not on PATH (Debian's nodejs: tools/install-build-deps installs it)";
    worker_ = SourceRoot() + "/test/node_worker/worker.js";
    ASSERT_TRUE(std::filesystem::exists(worker_)) << worker_;
    const std::filesystem::path modules = std::filesystem::path(worker_).parent_path() / "node_modules";
    for (const char* package : {"@grpc/grpc-js", "@grpc/proto-loader"}) {
      if (!std::filesystem::exists(modules / package / "package.json"))
        GTEST_SKIP() << package << " is not installed in " << modules.string()
                     << " (tools/test runs `npm ci` in test/node_worker)";
    }
  }

  // Installs worker.js as kMail's service worker, run by node with `flags`.
  int64_t InstallNodeWorker(const std::vector<std::string>& flags) {
    std::vector<std::string> command = {node_, worker_};
    command.insert(command.end(), flags.begin(), flags.end());
    return InstallWorker(kMail, command);
  }

  std::string node_;
  std::string worker_;
};

TEST_F(NodeWorkerE2ETest, OnlineWakesTheNodeWorkerWhichCompletesTheEvent) {
  StartBrowser();
  const std::string log = dir_ + "/node.log";
  const int64_t sw = InstallNodeWorker({"--log", log});
  Page page = OpenPage(kMail);
  mojom::RegisterReply reply = Register(page, sw, "from-node");
  ASSERT_TRUE(reply.has_registration()) << reply.DebugString();
  EXPECT_FALSE(std::filesystem::exists(log)) << "fired while offline";

  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  // Completed on the first attempt: a failure would have been retried (and logged again) before the
  // registration went away.
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  const std::vector<std::string> events = WorkerLog(log);
  ASSERT_EQ(events.size(), 1u) << ReadFile(log);
  EXPECT_TRUE(IsEvent(events[0], "from-node", /*last_chance=*/false)) << events[0];
  EXPECT_EQ(StopBrowser(SIGTERM), 0);
}

TEST_F(NodeWorkerE2ETest, RejectedEventIsRetriedWithLastChanceOnTheFinalAttempt) {
  StartBrowser({"--max-attempts", "2", "--retry-delay", "0.2"});
  const std::string log = dir_ + "/node.log";
  const int64_t sw = InstallNodeWorker({"--log", log, "--reject"});
  Page page = OpenPage(kMail);
  ASSERT_TRUE(Register(page, sw, "from-node").has_registration());

  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] { return WorkerLog(log).size() == 2 && Registrations().empty(); }));
  const std::vector<std::string> events = WorkerLog(log);
  ASSERT_EQ(events.size(), 2u) << ReadFile(log);
  EXPECT_TRUE(IsEvent(events[0], "from-node", /*last_chance=*/false)) << events[0];
  EXPECT_TRUE(IsEvent(events[1], "from-node", /*last_chance=*/true)) << events[1];
}

}  // namespace
}  // namespace bgsync
