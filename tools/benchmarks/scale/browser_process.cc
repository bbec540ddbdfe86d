#include "tools/benchmarks/scale/browser_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"

namespace bgsync {
namespace bench {
namespace {

constexpr char kReadyLine[] = "bgsync_browser: ready";

// Reads `fd` until a line starting with the ready line arrives. False on EOF, error or timeout.
bool WaitForReadyLine(int fd, absl::Time deadline) {
  std::string text;
  char buffer[4096];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration())
      return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return false;
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0)
      return false;
    text.append(buffer, static_cast<size_t>(n));
    for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
      if (absl::StartsWith(absl::string_view(text).substr(start), kReadyLine))
        return true;
    }
  }
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrowserProcess>> BrowserProcess::Start(ProcessLauncher* launcher,
                                                                      const std::string& binary,
                                                                      const std::string& profile,
                                                                      const std::vector<std::string>& extra,
                                                                      absl::Duration timeout) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0)
    return absl::InternalError("pipe2 failed");
  LaunchOptions options;
  options.argv = {binary, "--profile", profile, "--offline", "--no-netlink"};
  options.argv.insert(options.argv.end(), extra.begin(), extra.end());
  options.stdout_fd = out[1];
  auto exited = std::make_shared<absl::Notification>();
  const absl::Time start = absl::Now();
  absl::StatusOr<pid_t> pid = launcher->Launch(options, [exited](pid_t, int) { exited->Notify(); });
  close(out[1]);
  if (!pid.ok()) {
    close(out[0]);
    return pid.status();
  }
  std::unique_ptr<BrowserProcess> browser(new BrowserProcess(launcher, *pid, exited));
  const bool ready = WaitForReadyLine(out[0], start + timeout);
  browser->time_to_ready_ = absl::Now() - start;
  // Anything it prints later gets EPIPE (the browser ignores SIGPIPE).
  close(out[0]);
  if (!ready) {
    browser->Stop(absl::ZeroDuration());
    return absl::InternalError(absl::StrCat(binary, " on ", profile, " did not become ready"));
  }
  const std::string runtime(absl::StripAsciiWhitespace(ReadWholeFile(profile + "/RuntimeDirectory")));
  browser->admin_ = admin::BrowserAdmin::NewStub(
      grpc::CreateChannel("unix:" + runtime + "/admin.sock", grpc::InsecureChannelCredentials()));
  return browser;
}

BrowserProcess::BrowserProcess(ProcessLauncher* launcher, pid_t pid, std::shared_ptr<absl::Notification> exited)
    : launcher_(launcher), pid_(pid), exited_(std::move(exited)) {}

BrowserProcess::~BrowserProcess() {
  Stop();
}

void BrowserProcess::Stop(absl::Duration grace) {
  if (exited_->HasBeenNotified())
    return;
  kill(pid_, SIGTERM);
  if (!exited_->WaitForNotificationWithTimeout(grace)) {
    launcher_->Kill(pid_);
    exited_->WaitForNotification();
  }
}

}  // namespace bench
}  // namespace bgsync
