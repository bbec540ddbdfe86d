// bgsyncctl against a real browser: starts the bgsync_browser binary on a temporary profile, runs the real
// bgsyncctl binary (both found next to this test binary) and checks its output and exit status. Also checks the
// output formatting without a browser. Waits are polls with generous deadlines; nothing depends on timing.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "test/browser_test_fixture.h"
#include "tools/bgsyncctl/bgsyncctl_format.h"

extern char** environ;

namespace bgsync {
namespace bgsyncctl {
namespace {

constexpr absl::Duration kStartDeadline = absl::Seconds(30);
constexpr absl::Duration kExitDeadline = absl::Seconds(30);
constexpr char kOrigin[] = "https://mail.example";

// True if something accepts connections on the unix socket at `path`.
bool Accepts(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path))
    return false;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  bool connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

// Spawns argv with stdout and stderr appended to the given files (and stdin from /dev/null). Returns the pid, or
// -1 after a test failure.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  std::vector<std::string> copies = argv;
  std::vector<char*> pointers;
  for (std::string& arg : copies)
    pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  pid_t pid = -1;
  int error = posix_spawn(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(error, 0) << "posix_spawn " << argv[0] << ": " << std::strerror(error);
  return error == 0 ? pid : -1;
}

// Waits up to `deadline` for `pid` to exit. Returns its wait status, or -1 if it is still running.
int WaitFor(pid_t pid, absl::Duration deadline) {
  const absl::Time end = absl::Now() + deadline;
  while (true) {
    int status = 0;
    pid_t result = waitpid(pid, &status, WNOHANG);
    if (result == pid)
      return status;
    if (result < 0 || absl::Now() > end)
      return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

// The value of the "key   value" line of a key-value table (`status`), or "<missing>".
std::string Field(const std::string& table, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    if (absl::StartsWith(line, key + "  "))
      return std::string(absl::StripAsciiWhitespace(line.substr(key.size())));
  }
  return "<missing>";
}

struct Result {
  int exit_code = -1;  // -1: killed by a signal or did not finish
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.exit_code << "\n--- stdout:\n" << r.out << "--- stderr:\n" << r.err;
}

class BgsyncctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsyncctl-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    profile_ = dir_ + "/profile";
    worker_ = BinaryDirectory() + "/bgsync_test_worker";
  }

  void TearDown() override {
    if (browser_pid_ > 0) {
      // Every test ends with a clean stop: SIGTERM, and the browser must exit 0.
      EXPECT_EQ(StopBrowser(), 0) << "browser output:\n" << ReadFile(dir_ + "/browser.log");
    }
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  // Starts bgsync_browser on the profile and waits until its admin socket accepts connections.
  void StartBrowser() {
    browser_pid_ = Spawn({BinaryDirectory() + "/bgsync_browser", "--profile", profile_, "--no-netlink", "--offline"},
                         dir_ + "/browser.log", dir_ + "/browser.log");
    ASSERT_GT(browser_pid_, 0);
    const absl::Time deadline = absl::Now() + kStartDeadline;
    while (true) {
      std::string runtime(absl::StripAsciiWhitespace(ReadFile(profile_ + "/RuntimeDirectory")));
      if (!runtime.empty() && Accepts(runtime + "/admin.sock"))
        return;
      int status = 0;
      if (waitpid(browser_pid_, &status, WNOHANG) == browser_pid_) {
        browser_pid_ = 0;
        FAIL() << "bgsync_browser exited early (status " << status << "):\n" << ReadFile(dir_ + "/browser.log");
      }
      ASSERT_LT(absl::Now(), deadline) << "bgsync_browser's admin socket did not accept within 30 s:\n"
                                       << ReadFile(dir_ + "/browser.log");
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  // SIGTERMs the browser and waits for it. Returns its exit code (-1 if it was killed or did not exit).
  int StopBrowser() {
    if (browser_pid_ <= 0)
      return -1;
    kill(browser_pid_, SIGTERM);
    int status = WaitFor(browser_pid_, kExitDeadline);
    if (status == -1) {
      kill(browser_pid_, SIGKILL);
      waitpid(browser_pid_, &status, 0);
      browser_pid_ = 0;
      ADD_FAILURE() << "bgsync_browser did not exit within 30 s of SIGTERM";
      return -1;
    }
    browser_pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Runs bgsyncctl --profile <profile> ARGS... and collects its output.
  Result Ctl(std::vector<std::string> args, bool with_profile = true) {
    std::vector<std::string> argv = {BinaryDirectory() + "/bgsyncctl"};
    if (with_profile) {
      argv.push_back("--profile");
      argv.push_back(profile_);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string out = absl::StrCat(dir_, "/ctl-", ++runs_, ".out");
    const std::string err = absl::StrCat(dir_, "/ctl-", runs_, ".err");
    Result result;
    pid_t pid = Spawn(argv, out, err);
    if (pid <= 0)
      return result;
    int status = WaitFor(pid, absl::Seconds(120));
    if (status == -1) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "bgsyncctl " << absl::StrJoin(args, " ") << " did not finish";
    } else if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    }
    result.out = ReadFile(out);
    result.err = ReadFile(err);
    return result;
  }

  // Installs and activates a service worker running bgsync_test_worker with `flags`; returns its id.
  std::string InstallWorker(const std::string& scope_path, std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"sw", "install", kOrigin, std::string(kOrigin) + scope_path, "--", worker_};
    args.insert(args.end(), flags.begin(), flags.end());
    Result installed = Ctl(args);
    EXPECT_EQ(installed.exit_code, 0) << installed;
    std::string id(absl::StripAsciiWhitespace(installed.out));
    Result activated = Ctl({"sw", "activate", id});
    EXPECT_EQ(activated.exit_code, 0) << activated;
    EXPECT_EQ(activated.out, "ok\n");
    return id;
  }

  std::string dir_;
  std::string profile_;
  std::string worker_;
  pid_t browser_pid_ = 0;
  int runs_ = 0;
};

TEST_F(BgsyncctlTest, InstallActivateAndList) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  Result installed = Ctl({"sw", "install", kOrigin, "https://mail.example/", "--", worker_, "--outcome=completed"});
  ASSERT_EQ(installed.exit_code, 0) << installed;
  EXPECT_EQ(installed.out, "1\n");

  Result listed = Ctl({"sw", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed;
  EXPECT_TRUE(absl::StrContains(listed.out, "ID  ORIGIN")) << listed;
  EXPECT_TRUE(absl::StrContains(listed.out, "https://mail.example/  no ")) << listed;

  Result activated = Ctl({"sw", "activate", "1"});
  ASSERT_EQ(activated.exit_code, 0) << activated;
  EXPECT_EQ(activated.out, "ok\n");

  listed = Ctl({"sw", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed;
  EXPECT_TRUE(absl::StrContains(listed.out, "1   https://mail.example  https://mail.example/  yes")) << listed;
  EXPECT_TRUE(absl::StrContains(listed.out, worker_ + " --outcome=completed")) << listed;

  Result json = Ctl({"sw", "list", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json;
  EXPECT_TRUE(absl::StartsWith(json.out, "[{\"id\":1,\"origin\":\"https://mail.example\"")) << json;
  EXPECT_TRUE(absl::StrContains(json.out, "\"active\":true")) << json;

  // An operation the browser refuses: exit 1 with "bgsyncctl: <command>: <message>".
  Result refused = Ctl({"sw", "install", "http://insecure.example", "http://insecure.example/", "--", worker_});
  EXPECT_EQ(refused.exit_code, 1) << refused;
  EXPECT_TRUE(absl::StartsWith(refused.err, "bgsyncctl: sw install: ")) << refused;
}

TEST_F(BgsyncctlTest, RegisterFromOutsideThenTagsAndRegistrations) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  const std::string sw = InstallWorker("/");

  Result registered = Ctl({"register", kOrigin, sw, "send outbox"});
  ASSERT_EQ(registered.exit_code, 0) << registered;
  EXPECT_EQ(registered.out, "ok\n");
  // Any bytes, given percent-encoded: an empty tag and one with a NUL byte.
  registered = Ctl({"register", kOrigin, sw, "\"\"", "--encoded"});
  ASSERT_EQ(registered.exit_code, 0) << registered;
  registered = Ctl({"register", "--encoded", kOrigin, sw, "a%00b"});
  ASSERT_EQ(registered.exit_code, 0) << registered;

  Result tags = Ctl({"tags", kOrigin, sw});
  ASSERT_EQ(tags.exit_code, 0) << tags;
  EXPECT_EQ(tags.out, "\"\"\na%00b\nsend%20outbox\n");  // sorted by tag bytes
  Result json_tags = Ctl({"--json", "tags", kOrigin, sw});
  ASSERT_EQ(json_tags.exit_code, 0) << json_tags;
  EXPECT_EQ(json_tags.out, "[\"\\\"\\\"\",\"a%00b\",\"send%20outbox\"]\n");

  // The browser is offline: the registrations wait, pending, with no attempt made yet.
  Result table = Ctl({"registrations"});
  ASSERT_EQ(table.exit_code, 0) << table;
  EXPECT_TRUE(absl::StrContains(table.out, "ORIGIN  ")) << table;
  EXPECT_TRUE(absl::StrContains(table.out, "NEXT ATTEMPT")) << table;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(table.out, '\n')) {
    if (absl::StrContains(line, "send%20outbox")) {
      found = true;
      EXPECT_TRUE(absl::StartsWith(line, "https://mail.example  " + sw + " ")) << line;
      EXPECT_TRUE(absl::StrContains(line, "one-shot")) << line;
      EXPECT_TRUE(absl::StrContains(line, " pending ")) << line;
      EXPECT_TRUE(absl::StrContains(line, " 0/")) << line;
    }
  }
  EXPECT_TRUE(found) << table;
  Result json = Ctl({"registrations", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json;
  EXPECT_TRUE(absl::StrContains(json.out, "\"tag\":\"send%20outbox\",\"type\":\"one-shot\",\"state\":\"pending\""))
      << json;

  // A page of another origin does not see the service worker: its DOMException, exit 1.
  Result foreign = Ctl({"register", "https://other.example", sw, "x"});
  EXPECT_EQ(foreign.exit_code, 1) << foreign;
  EXPECT_TRUE(absl::StartsWith(foreign.err, "bgsyncctl: register: InvalidStateError: ")) << foreign;
  EXPECT_TRUE(absl::StrContains(foreign.err, "SERVICE_WORKER_NOT_FOUND")) << foreign;
  Result foreign_tags = Ctl({"tags", "https://other.example", sw});
  EXPECT_EQ(foreign_tags.exit_code, 1) << foreign_tags;

  // Denied permission: NotAllowedError.
  ASSERT_EQ(Ctl({"permission", kOrigin, "denied"}).exit_code, 0);
  Result denied = Ctl({"register", kOrigin, sw, "later"});
  EXPECT_EQ(denied.exit_code, 1) << denied;
  EXPECT_TRUE(absl::StartsWith(denied.err, "bgsyncctl: register: NotAllowedError: ")) << denied;
  ASSERT_EQ(Ctl({"permission", kOrigin, "default"}).exit_code, 0);
}

TEST_F(BgsyncctlTest, DispatchStatusAndLog) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  const std::string good = InstallWorker("/good/");
  const std::string bad = InstallWorker("/bad/", {"--outcome=rejected"});

  Result completed = Ctl({"dispatch", good, "outbox"});
  EXPECT_EQ(completed.exit_code, 0) << completed;
  EXPECT_EQ(completed.out, "completed\n");
  Result rejected = Ctl({"dispatch", bad, "outbox", "--last-chance"});
  EXPECT_EQ(rejected.exit_code, 1) << rejected;
  EXPECT_EQ(rejected.out, "rejected\n");
  EXPECT_TRUE(absl::StartsWith(rejected.err, "bgsyncctl: dispatch: ")) << rejected;

  Result status = Ctl({"status"});
  ASSERT_EQ(status.exit_code, 0) << status;
  EXPECT_EQ(Field(status.out, "pid"), absl::StrCat(browser_pid_)) << status;
  EXPECT_EQ(Field(status.out, "profile"), profile_) << status;
  EXPECT_EQ(Field(status.out, "system network"), "online") << status;  // --no-netlink: the system is online
  // The protections' counters (browser_e2e_unittests moves each of them for a real cause).
  EXPECT_EQ(Field(status.out, "rate-limited calls"), "0") << status;
  EXPECT_EQ(Field(status.out, "workers killed (deadline)"), "0") << status;
  EXPECT_EQ(Field(status.out, "sync store"), "served") << status;
  EXPECT_EQ(Field(status.out, "sync store recovery"), "<missing>") << status;
  EXPECT_EQ(Field(status.out, "quarantined at load"), "0") << status;
  EXPECT_EQ(Field(status.out, "interrupted at load"), "0") << status;
  Result json = Ctl({"status", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json;
  EXPECT_TRUE(absl::StartsWith(json.out, absl::StrCat("{\"pid\":", browser_pid_, ","))) << json;
  EXPECT_TRUE(absl::StrContains(json.out,
                                "\"rate_limited_calls\":0,\"workers_killed_for_deadline\":0,"
                                "\"sync_store\":\"served\",\"sync_store_damaged_kept\":0,"))
      << json;

  EXPECT_EQ(Ctl({"network", "online"}).out, "ok\n");
  EXPECT_EQ(Ctl({"network", "emulate-offline", good}).out, "ok\n");
  EXPECT_EQ(Ctl({"network", "stop-emulating", good}).out, "ok\n");
  EXPECT_EQ(Field(Ctl({"status"}).out, "network emulation"), "online");
  EXPECT_EQ(Ctl({"network", "auto"}).out, "ok\n");

  Result log = Ctl({"log"});
  ASSERT_EQ(log.exit_code, 0) << log;
  EXPECT_TRUE(absl::StrContains(log.out, "  Browser started  pid=")) << log;
  EXPECT_TRUE(absl::StrContains(
      log.out, "  Service worker installed  https://mail.example  sw=" + good + "  https://mail.example/good/\n"))
      << log;
  Result since = Ctl({"log", "--since", "1", "--json"});
  ASSERT_EQ(since.exit_code, 0) << since;
  EXPECT_FALSE(absl::StrContains(since.out, "\"sequence\":1,")) << since;
  EXPECT_TRUE(absl::StrContains(since.out, "{\"sequence\":2,")) << since;
}

// The lines of a command's output.
std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The event names of `log show` lines: the fourth field ("time  #n  service  event  ...").
std::vector<std::string> EventNames(const std::string& log_show) {
  std::vector<std::string> names;
  for (const std::string& line : Lines(log_show)) {
    std::vector<std::string> fields = absl::StrSplit(line, "  ");
    if (fields.size() > 3)
      names.push_back(fields[3]);
  }
  return names;
}

TEST_F(BgsyncctlTest, DevToolsRecordingShowRestartClearStop) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  Result state = Ctl({"log", "state"});
  ASSERT_EQ(state.exit_code, 0) << state;
  EXPECT_EQ(state.out, "backgroundSync: not recording\nperiodicBackgroundSync: not recording\n");
  Result started = Ctl({"log", "start", "--service", "backgroundSync"});
  ASSERT_EQ(started.exit_code, 0) << started;
  EXPECT_TRUE(absl::StartsWith(started.out, "backgroundSync: recording until ")) << started;
  EXPECT_TRUE(absl::StrContains(started.out, "(in 2d23h59m")) << started;

  const std::string sw = InstallWorker("/");
  ASSERT_EQ(Ctl({"register", kOrigin, sw, "outbox"}).exit_code, 0);
  Result shown = Ctl({"log", "show"});
  ASSERT_EQ(shown.exit_code, 0) << shown;
  EXPECT_TRUE(absl::StrContains(
      shown.out, "  #1  backgroundSync  Registered sync  https://mail.example  sw=" + sw + "  tag=outbox\n"))
      << shown;

  // Online: the event is dispatched and completes; DevTools' sequence is recorded, with its metadata.
  ASSERT_EQ(Ctl({"network", "online"}).exit_code, 0);
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(Ctl({"log", "show"}).out, "Sync completed"); }));
  shown = Ctl({"log", "show", "--service", "backgroundSync"});
  EXPECT_EQ(EventNames(shown.out), (std::vector<std::string>{"Registered sync", "Dispatched sync event",
                                                             "sync event completed", "Sync completed"}))
      << shown;
  EXPECT_TRUE(absl::StrContains(
      shown.out, "  Dispatched sync event  https://mail.example  sw=" + sw + "  tag=outbox  Last Chance=No\n"))
      << shown;
  EXPECT_TRUE(absl::StrContains(
      shown.out, "  Sync completed  https://mail.example  sw=" + sw + "  tag=outbox  Status=succeeded\n"))
      << shown;
  Result json = Ctl({"--json", "log", "show"});
  ASSERT_EQ(json.exit_code, 0) << json;
  EXPECT_TRUE(absl::StartsWith(json.out, "{\"sequence\":1,")) << json;
  EXPECT_TRUE(absl::StrContains(json.out, "\"event\":\"Dispatched sync event\"")) << json;
  EXPECT_TRUE(absl::StrContains(json.out, "\"metadata\":{\"Last Chance\":\"No\"}")) << json;
  EXPECT_EQ(Ctl({"log", "show", "--service", "periodicBackgroundSync"}).out, "");

  // The browser's operational log has each engine event once, in DevTools' words.
  Result log = Ctl({"log"});
  ASSERT_EQ(log.exit_code, 0) << log;
  size_t dispatched = 0;
  for (const std::string& line : Lines(log.out))
    dispatched += absl::StrContains(line, "  Dispatched sync event  ");
  EXPECT_EQ(dispatched, 1u) << log;
  EXPECT_TRUE(absl::StrContains(
      log.out, "  Sync completed  https://mail.example  sw=" + sw + "  tag=outbox  Status=succeeded\n"))
      << log;

  // Recording and the recorded events survive a restart of the browser.
  ASSERT_EQ(StopBrowser(), 0);
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  state = Ctl({"log", "state"});
  EXPECT_TRUE(absl::StartsWith(state.out, "backgroundSync: recording until ")) << state;
  EXPECT_TRUE(absl::StrContains(state.out, "periodicBackgroundSync: not recording\n")) << state;
  Result json_state = Ctl({"log", "state", "--json"});
  EXPECT_TRUE(absl::StartsWith(json_state.out, "[{\"service\":\"backgroundSync\",\"recording\":true,")) << json_state;
  EXPECT_EQ(EventNames(Ctl({"log", "show"}).out).size(), 4u);

  Result cleared = Ctl({"log", "clear", "--service", "backgroundSync"});
  ASSERT_EQ(cleared.exit_code, 0) << cleared;
  EXPECT_EQ(cleared.out, "ok\n");
  EXPECT_EQ(Ctl({"log", "show"}).out, "");
  Result stopped = Ctl({"log", "stop"});
  ASSERT_EQ(stopped.exit_code, 0) << stopped;
  EXPECT_EQ(stopped.out, "backgroundSync: not recording\nperiodicBackgroundSync: not recording\n");
  // Not recording: nothing is stored.
  ASSERT_EQ(Ctl({"register", kOrigin, sw, "later"}).exit_code, 0);
  EXPECT_EQ(Ctl({"log", "show"}).out, "");
}

TEST_F(BgsyncctlTest, LogShowFollowStreamsNewEvents) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  const std::string sw = InstallWorker("/");
  ASSERT_EQ(Ctl({"log", "start"}).exit_code, 0);
  const std::string out = dir_ + "/follow.out";
  pid_t follower = Spawn({BinaryDirectory() + "/bgsyncctl", "--profile", profile_, "log", "show", "--follow"}, out,
                         dir_ + "/follow.err");
  ASSERT_GT(follower, 0);
  // First the recording state of each service, then the new events as they happen.
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(ReadFile(out), "periodicBackgroundSync: recording"); }))
      << ReadFile(out);
  ASSERT_EQ(Ctl({"register", kOrigin, sw, "outbox"}).exit_code, 0);
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(ReadFile(out), "  Registered sync  "); })) << ReadFile(out);
  ASSERT_EQ(Ctl({"log", "stop", "--service", "periodicBackgroundSync"}).exit_code, 0);
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(ReadFile(out), "periodicBackgroundSync: not recording"); }))
      << ReadFile(out);
  kill(follower, SIGTERM);
  EXPECT_NE(WaitFor(follower, kExitDeadline), -1);
}

TEST_F(BgsyncctlTest, WhyExplainsRegistrations) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  const std::string sw = InstallWorker("/");
  ASSERT_EQ(Ctl({"register", kOrigin, sw, "outbox"}).exit_code, 0);

  // The browser was started --offline (emulated for the whole browser).
  Result why = Ctl({"why", kOrigin, "outbox"});
  ASSERT_EQ(why.exit_code, 0) << why;
  EXPECT_EQ(why.out, "one-shot tag=outbox (sw " + sw +
                         ", https://mail.example, pending, 0/3 attempts) is not firing: the browser or its service "
                         "worker is emulated offline.\n")
      << why;
  Result json = Ctl({"why", kOrigin, "outbox", "--json", "--sw", sw, "--one-shot"});
  ASSERT_EQ(json.exit_code, 0) << json;
  EXPECT_TRUE(absl::StartsWith(json.out, "[{\"origin\":\"https://mail.example\",")) << json;
  EXPECT_TRUE(absl::StrContains(json.out, "\"reason\":\"emulated-offline\",\"until_unix_ms\":0,")) << json;
  EXPECT_TRUE(absl::StrContains(json.out, "\"sentence\":\"one-shot tag=outbox")) << json;

  // Every registration.
  ASSERT_EQ(Ctl({"register", kOrigin, sw, ""}).exit_code, 0);
  Result all = Ctl({"why"});
  ASSERT_EQ(all.exit_code, 0) << all;
  EXPECT_EQ(Lines(all.out).size(), 2u) << all;
  EXPECT_TRUE(absl::StartsWith(all.out, "one-shot tag=\"\" (sw ")) << all;

  // Nothing matches: exit 1.
  Result none = Ctl({"why", kOrigin, "inbox"});
  EXPECT_EQ(none.exit_code, 1) << none;
  EXPECT_TRUE(absl::StartsWith(none.err, "bgsyncctl: why: no registration of https://mail.example has the tag inbox"))
      << none;
  EXPECT_EQ(Ctl({"why", kOrigin, "outbox", "--periodic"}).exit_code, 1);
}

TEST_F(BgsyncctlTest, MetricsPermissionsEngagementAndPeriodicDispatch) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  const std::string sw = InstallWorker("/");
  ASSERT_EQ(Ctl({"register", kOrigin, sw, "outbox"}).exit_code, 0);
  Result metrics = Ctl({"metrics"});
  ASSERT_EQ(metrics.exit_code, 0) << metrics;
  EXPECT_TRUE(absl::StartsWith(metrics.out, "NAME  ")) << metrics;
  bool found = false;
  for (const std::string& line : Lines(metrics.out)) {
    if (absl::StartsWith(line, "BackgroundSync.Registration.OneShot ")) {
      found = true;
      EXPECT_TRUE(absl::EndsWith(line, "  OK=1")) << line;
    }
  }
  EXPECT_TRUE(found) << metrics;
  Result json_metrics = Ctl({"metrics", "--json"});
  EXPECT_TRUE(absl::StrContains(json_metrics.out,
                                "{\"name\":\"BackgroundSync.Registration.OneShot\","
                                "\"kind\":\"enumeration\",\"count\":1,"))
      << json_metrics;

  // Permissions: the default policy, then an override.
  EXPECT_EQ(Ctl({"permissions", "get", kOrigin}).out, "granted\n");
  EXPECT_EQ(Ctl({"permissions", "get", kOrigin, "--periodic"}).out, "denied\n");
  EXPECT_EQ(Ctl({"permissions", "set", kOrigin, "granted", "--periodic"}).out, "ok\n");
  EXPECT_EQ(Ctl({"permissions", "get", kOrigin, "--periodic", "--json"}).out,
            "{\"origin\":\"https://mail.example\",\"permission\":\"periodic-background-sync\",\"status\":\"granted\"}"
            "\n");

  // Engagement: high by default; a level set is kept in the profile.
  EXPECT_EQ(Ctl({"engagement", "get", kOrigin}).out, "high (default)\n");
  EXPECT_EQ(Ctl({"engagement", "set", kOrigin, "low"}).out, "ok\n");
  EXPECT_EQ(Ctl({"engagement", "get", kOrigin}).out, "low\n");
  ASSERT_EQ(StopBrowser(), 0);
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  EXPECT_EQ(Ctl({"engagement", "get", kOrigin, "--json"}).out,
            "{\"origin\":\"https://mail.example\",\"level\":\"low\",\"default\":false}\n");
  EXPECT_EQ(Ctl({"engagement", "set", kOrigin, "default"}).out, "ok\n");
  EXPECT_EQ(Ctl({"engagement", "get", kOrigin}).out, "high (default)\n");

  // DevTools' dispatchPeriodicSyncEvent: straight to the worker, logged as a DevTools dispatch.
  Result dispatched = Ctl({"dispatch", sw, "news", "--periodic"});
  EXPECT_EQ(dispatched.exit_code, 0) << dispatched;
  EXPECT_EQ(dispatched.out, "completed\n");
  Result log = Ctl({"log"});
  EXPECT_TRUE(absl::StrContains(
      log.out, "  DevTools dispatched periodicsync event  https://mail.example  sw=" + sw + "  tag=news\n"))
      << log;
  EXPECT_TRUE(absl::StrContains(log.out, "  DevTools periodicsync event completed  ")) << log;
}

TEST_F(BgsyncctlTest, PeriodicRegisterAndTags) {
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  const std::string sw = InstallWorker("/");
  // periodic-background-sync is denied by default: the page's DOMException.
  Result denied = Ctl({"periodic", "register", kOrigin, sw, "news", "--min-interval", "1000"});
  if (absl::StrContains(denied.err, "CommandError"))
    GTEST_SKIP() << "bgsync_renderer_host does not know periodic-register yet: " << denied;
  EXPECT_EQ(denied.exit_code, 1) << denied;
  EXPECT_TRUE(absl::StartsWith(denied.err, "bgsyncctl: periodic register: NotAllowedError: ")) << denied;

  ASSERT_EQ(Ctl({"permissions", "set", kOrigin, "granted", "--periodic"}).exit_code, 0);
  ASSERT_EQ(Ctl({"log", "start", "--service", "periodicBackgroundSync"}).exit_code, 0);
  Result registered = Ctl({"periodic", "register", kOrigin, sw, "news", "--min-interval", "1000"});
  ASSERT_EQ(registered.exit_code, 0) << registered;
  EXPECT_EQ(registered.out, "ok\n");
  ASSERT_EQ(Ctl({"periodic", "register", kOrigin, sw, "a%20b", "--encoded"}).exit_code, 0);
  Result tags = Ctl({"periodic", "tags", kOrigin, sw});
  ASSERT_EQ(tags.exit_code, 0) << tags;
  EXPECT_EQ(tags.out, "a%20b\nnews\n");
  EXPECT_EQ(Ctl({"periodic", "tags", kOrigin, sw, "--json"}).out, "[\"a%20b\",\"news\"]\n");
  // A one-shot tags list does not show them.
  EXPECT_EQ(Ctl({"tags", kOrigin, sw}).out, "");

  Result why = Ctl({"why", kOrigin, "news", "--periodic"});
  ASSERT_EQ(why.exit_code, 0) << why;
  EXPECT_TRUE(absl::StartsWith(why.out, "periodic tag=news (sw " + sw)) << why;
  Result shown = Ctl({"log", "show", "--service", "periodicBackgroundSync"});
  EXPECT_TRUE(absl::StrContains(
      shown.out, "  Registered periodicsync  https://mail.example  sw=" + sw + "  tag=news  minInterval=1000\n"))
      << shown;
  EXPECT_TRUE(absl::StrContains(shown.out, "  Got next event delay  ")) << shown;
}

TEST_F(BgsyncctlTest, UsageErrorsExit2) {
  // No browser is needed to refuse a command line.
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"sw"},
           {"sw", "frobnicate"},
           {"sw", "activate"},
           {"sw", "activate", "one"},
           {"sw", "activate", "1", "2"},
           {"sw", "install", kOrigin, "https://mail.example/"},
           {"sw", "list", "--bogus"},
           {"register", kOrigin, "1"},
           {"register", kOrigin, "1", "bad%zz", "--encoded"},
           {"permission", kOrigin, "maybe"},
           {"network", "sideways"},
           {"close-window", "-3"},
           {"log", "--since"},
           {"log", "show", "--service", "backgroundFetch"},
           {"log", "start", "now"},
           {"why", kOrigin},
           {"why", kOrigin, "outbox", "--sw", "x"},
           {"why", kOrigin, "outbox", "--periodic", "--one-shot"},
           {"dispatch", "1", "outbox", "--periodic", "--last-chance"},
           {"engagement", "set", kOrigin, "very"},
           {"engagement"},
           {"permissions", "get"},
           {"periodic", "register", kOrigin, "1", "news", "--min-interval", "-5"},
           {"periodic", "tags", kOrigin, "zero"},
           {"--profile"},
       }) {
    Result result = Ctl(args);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ") << ": " << result;
    EXPECT_TRUE(absl::StartsWith(result.err, "bgsyncctl")) << absl::StrJoin(args, " ") << ": " << result;
  }
  // Help is not an error.
  Result help = Ctl({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help;
  EXPECT_TRUE(absl::StrContains(help.out, "registrations")) << help;
  Result command_help = Ctl({"open-window", "--help"});
  EXPECT_EQ(command_help.exit_code, 0) << command_help;
  EXPECT_TRUE(absl::StrContains(command_help.out, "--keep-open")) << command_help;
}

TEST_F(BgsyncctlTest, UnreachableBrowserExits3) {
  // Never started: no RuntimeDirectory.
  Result never = Ctl({"status"});
  EXPECT_EQ(never.exit_code, 3) << never;
  EXPECT_TRUE(absl::StartsWith(never.err, "bgsyncctl: cannot reach the browser: ")) << never;
  EXPECT_TRUE(absl::StrContains(never.err, "start it with: bgsync_browser --profile ")) << never;

  // Started, then stopped: it exits 0 and bgsyncctl cannot reach it any more.
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  ASSERT_EQ(Ctl({"status"}).exit_code, 0);
  EXPECT_EQ(StopBrowser(), 0) << ReadFile(dir_ + "/browser.log");
  Result stopped = Ctl({"sw", "list"});
  EXPECT_EQ(stopped.exit_code, 3) << stopped;
  EXPECT_TRUE(absl::StrContains(stopped.err, "bgsync_browser")) << stopped;

  // A stale RuntimeDirectory (a crashed browser): the socket refuses or is gone.
  std::filesystem::create_directories(profile_);
  std::filesystem::create_directories(dir_ + "/stale");
  std::ofstream(profile_ + "/RuntimeDirectory") << dir_ << "/stale\n";
  Result stale = Ctl({"registrations"});
  EXPECT_EQ(stale.exit_code, 3) << stale;

  // --admin-socket to nothing.
  Result nothing = Ctl({"--admin-socket", dir_ + "/none.sock", "status"}, /*with_profile=*/false);
  EXPECT_EQ(nothing.exit_code, 3) << nothing;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting, without a browser.

TEST(BgsyncctlFormatTest, DisplayTag) {
  EXPECT_EQ(DisplayTag("outbox"), "outbox");
  EXPECT_EQ(DisplayTag("send outbox"), "send%20outbox");
  EXPECT_EQ(DisplayTag(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(DisplayTag("100%"), "100%25");
  EXPECT_EQ(DisplayTag("\"\""), "%22%22");
  EXPECT_EQ(DisplayTag(""), "\"\"");
  EXPECT_EQ(DisplayTag("\xc3\xa9"), "%C3%A9");
  for (std::string tag : {std::string(), std::string("\"\""), std::string("a b%\x01\xff", 6)})
    EXPECT_EQ(ParseDisplayTag(DisplayTag(tag)), tag);
  EXPECT_EQ(ParseDisplayTag("%zz"), std::nullopt);
}

TEST(BgsyncctlFormatTest, RelativeTimes) {
  const absl::Time now = absl::FromUnixMillis(1700000000000);
  EXPECT_EQ(FormatNextAttempt(0, now), "now");
  EXPECT_EQ(FormatNextAttempt(1700000000000 - 5000, now), "now");
  EXPECT_EQ(FormatNextAttempt(1700000000000 + 299900, now), "in 4m59s");
  EXPECT_EQ(FormatNextAttempt(1700000000000 + 400, now), "in <1s");
  EXPECT_EQ(FormatShortDuration(absl::Seconds(12)), "12s");
  EXPECT_EQ(FormatShortDuration(absl::Hours(2) + absl::Seconds(3)), "2h0m3s");
  EXPECT_EQ(FormatShortDuration(absl::Hours(27)), "1d3h0m0s");
}

TEST(BgsyncctlFormatTest, DevToolsFormats) {
  EXPECT_EQ(FormatMetadata({}), "");
  EXPECT_EQ(FormatMetadata({{"Failure Reason", "rejected"}, {"Next Attempt Delay (ms)", "300000"}}),
            "Failure Reason=rejected, Next Attempt Delay (ms)=300000");

  const absl::Time now = absl::FromUnixMillis(1700000000000);
  EXPECT_EQ(FormatRecordingState("backgroundSync", false, 0, now), "backgroundSync: not recording");
  const int64_t expires = 1700000000000 + 3 * 24 * 3600 * 1000LL;
  EXPECT_EQ(FormatRecordingState("periodicBackgroundSync", true, expires, now),
            "periodicBackgroundSync: recording until " + FormatLogTime(expires) + " (in 3d0h0m0s)");

  WhyFacts facts;
  facts.origin = "https://mail.example";
  facts.sw_registration_id = 1;
  facts.type = "one-shot";
  facts.display_tag = "outbox";
  facts.state = "waiting";
  facts.num_attempts = 1;
  facts.max_attempts = 3;
  facts.reason = "waiting-for-backoff";
  facts.explanation = "retry 2 of 3 waits until 2023-11-14T22:18:20.000Z";
  facts.until_unix_ms = 1700000000000 + 299900;
  EXPECT_EQ(FormatWhySentence(facts, now),
            "one-shot tag=outbox (sw 1, https://mail.example, waiting, 1/3 attempts) is not firing: retry 2 of 3 "
            "waits until 2023-11-14T22:18:20.000Z (in 4m59s).");
  facts.reason = "ready";
  facts.explanation = "nothing holds it back";
  facts.until_unix_ms = 0;
  EXPECT_EQ(FormatWhySentence(facts, now),
            "one-shot tag=outbox (sw 1, https://mail.example, waiting, 1/3 attempts) is ready: nothing holds it "
            "back.");
}

TEST(BgsyncctlFormatTest, TableAndJson) {
  Table table({"ID", "NAME", "X"});
  table.AddRow({"10", "a", "long value"});
  table.AddRow({"2", "bbb", ""});
  EXPECT_EQ(table.Render(), "ID  NAME  X\n10  a     long value\n2   bbb\n");

  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonString("\xc3\xa9"), "\"\xc3\xa9\"");
  EXPECT_EQ(JsonString("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(JsonObject().Add("id", int64_t{1}).Add("ok", true).Add("s", "x").Serialize(),
            "{\"id\":1,\"ok\":true,\"s\":\"x\"}");
  EXPECT_EQ(JsonArray({"1", "2"}), "[1,2]");
  EXPECT_EQ(ShellJoin({"/bin/w", "--x=1", "a b", "it's"}), "/bin/w --x=1 'a b' 'it'\\''s'");
}

}  // namespace
}  // namespace bgsyncctl
}  // namespace bgsync
