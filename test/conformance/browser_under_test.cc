#include "test/conformance/browser_under_test.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "browser/admin/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"

extern char** environ;

namespace bgsync::conformance {
namespace {

constexpr absl::Duration kStartDeadline = absl::Seconds(60);

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%g", absl::ToDoubleSeconds(d));
}

// The last lines of `text`, for an error message.
std::string Tail(const std::string& text) {
  constexpr size_t kMax = 2000;
  return text.size() <= kMax ? text : text.substr(text.size() - kMax);
}

bool AdminAnswers(const std::string& runtime) {
  auto admin = admin::BrowserAdmin::NewStub(
      grpc::CreateChannel("unix:" + runtime + "/admin.sock", grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  admin::BrowserStatus status;
  return admin->GetStatus(&context, admin::Empty(), &status).ok();
}

}  // namespace

std::vector<std::string> BrowserParameters::ToBrowserFlags() const {
  // Cases fill quotas from one page at full speed: no per-session rate limit (it has tests of its own,
  // test/renderer_flood_test.cc and test/grpc_limits_test.cc).
  return {"--rate-limit",
          "0",
          "--retry-delay",
          Seconds(retry_delay),
          "--retry-factor",
          absl::StrCat(retry_factor),
          "--max-attempts",
          absl::StrCat(max_attempts),
          "--event-timeout",
          Seconds(event_timeout),
          "--worker-idle-timeout",
          Seconds(worker_idle_timeout),
          "--periodic-min-interval",
          Seconds(periodic_min_interval),
          "--periodic-batch-interval",
          Seconds(periodic_batch_interval),
          "--periodic-max-attempts",
          absl::StrCat(periodic_max_attempts)};
}

std::string BrowserParameters::ToString() const {
  return absl::StrCat(
      "retry-delay=", Seconds(retry_delay), "s retry-factor=", retry_factor, " max-attempts=", max_attempts,
      " event-timeout=", Seconds(event_timeout), "s worker-idle-timeout=", Seconds(worker_idle_timeout),
      "s periodic-min-interval=", Seconds(periodic_min_interval),
      "s periodic-batch-interval=", Seconds(periodic_batch_interval), "s periodic-max-attempts=", periodic_max_attempts,
      " quota-per-service-worker=", max_registrations_per_service_worker,
      " max-consecutive-interruptions=", max_consecutive_interruptions);
}

absl::Status RunningBrowser::Restart(int) {
  return absl::FailedPreconditionError("the suite did not launch this browser, so it cannot restart it");
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ExecutableDirectory() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "." : self.parent_path().string();
}

LaunchedBrowser::LaunchedBrowser(std::string binary, std::string profile, std::vector<std::string> flags)
    : binary_(std::move(binary)), profile_(std::move(profile)), flags_(std::move(flags)) {}

absl::StatusOr<std::unique_ptr<LaunchedBrowser>> LaunchedBrowser::Start(std::string binary,
                                                                        std::string profile,
                                                                        std::vector<std::string> flags) {
  std::unique_ptr<LaunchedBrowser> browser(
      new LaunchedBrowser(std::move(binary), std::move(profile), std::move(flags)));
  if (absl::Status status = browser->Launch(); !status.ok())
    return status;
  return browser;
}

LaunchedBrowser::~LaunchedBrowser() {
  Stop(SIGKILL);
}

absl::Status LaunchedBrowser::Launch() {
  std::error_code error;
  std::filesystem::create_directories(profile_, error);
  if (error)
    return absl::InternalError(absl::StrCat("cannot create ", profile_, ": ", error.message()));
  // A stale file from a killed run would name a dead runtime directory.
  std::filesystem::remove(profile_ + "/RuntimeDirectory", error);
  const std::string log_path = std::filesystem::path(profile_).parent_path().string() + "/browser.log";

  std::vector<std::string> argv = {binary_, "--profile", profile_, "--no-netlink", "--offline"};
  argv.insert(argv.end(), flags_.begin(), flags_.end());
  std::vector<char*> raw;
  for (std::string& arg : argv)
    raw.push_back(arg.data());
  raw.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // Nothing else of ours: a descriptor the suite inherited (say, the lock `flock` holds around a build and test
  // run) must not outlive the suite in a browser it failed to stop.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, binary_.c_str(), &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0)
    return absl::InternalError(absl::StrCat("cannot start ", binary_, ": ", strerror(spawned)));
  pid_ = pid;

  const absl::Time deadline = absl::Now() + kStartDeadline;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return absl::InternalError(
          absl::StrCat(binary_, " exited at start (status ", status, "):\n", Tail(ReadWholeFile(log_path))));
    }
    const std::string runtime(absl::StripAsciiWhitespace(ReadWholeFile(profile_ + "/RuntimeDirectory")));
    if (!runtime.empty() && std::filesystem::exists(runtime + "/admin.sock") && AdminAnswers(runtime)) {
      runtime_directory_ = runtime;
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Stop(SIGKILL);
  return absl::DeadlineExceededError(
      absl::StrCat(binary_, " did not answer on its admin endpoint:\n", Tail(ReadWholeFile(log_path))));
}

void LaunchedBrowser::Stop(int signal) {
  if (pid_ == 0)
    return;
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + kStartDeadline;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  pid_ = 0;
}

absl::Status LaunchedBrowser::Restart(int signal) {
  Stop(signal);
  return Launch();
}

}  // namespace bgsync::conformance
