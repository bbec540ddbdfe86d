// The browser a conformance run talks to: one already running (found through its runtime directory), or a
// bgsync_browser the suite launches itself, and can therefore restart and kill. Either way the suite reaches it
// only through the sockets in its runtime directory: admin.sock (the admin endpoint) and, through sessions the
// admin endpoint opens, browser.sock.
#ifndef TEST_CONFORMANCE_BROWSER_UNDER_TEST_H_
#define TEST_CONFORMANCE_BROWSER_UNDER_TEST_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bgsync::conformance {

// The engine parameters the browser under test runs with. The cases derive what to expect (attempts, delays,
// intervals) from them, so they must describe the browser: when the suite launches the browser it passes them
// on its command line (ToBrowserFlags); against a running browser the user states them (bgsync_conformance
// flags of the same names). The defaults are short, so that the suite runs in well under a minute.
struct BrowserParameters {
  // One-shot retries: the wait after the n-th failed attempt is retry_delay * retry_factor^(n-1).
  absl::Duration retry_delay = absl::Seconds(1);
  int retry_factor = 2;
  int max_attempts = 3;
  // How long an event may run before it counts as failed (timed out).
  absl::Duration event_timeout = absl::Seconds(3);
  absl::Duration worker_idle_timeout = absl::Seconds(10);
  // Periodic: the per-origin minimum gap (a registration's interval is rounded up to a multiple of it), the
  // global batch minimum, and the attempts per interval.
  absl::Duration periodic_min_interval = absl::Seconds(1);
  absl::Duration periodic_batch_interval = absl::Milliseconds(500);
  int periodic_max_attempts = 2;
  // Not settable on bgsync_browser's command line: the engine's fixed limits (spec.md decisions 4 and 6).
  int max_registrations_per_service_worker = 1000;
  int max_consecutive_interruptions = 3;

  // The bgsync_browser flags that set the settable parameters.
  std::vector<std::string> ToBrowserFlags() const;
  // One line for reports, e.g. "retry-delay=1s retry-factor=2 ...".
  std::string ToString() const;
};

class BrowserUnderTest {
 public:
  virtual ~BrowserUnderTest() = default;

  // The directory holding admin.sock and browser.sock. Changes when the browser restarts.
  virtual std::string runtime_directory() const = 0;
  // Whether Restart works (only for a browser the suite launched).
  virtual bool can_restart() const = 0;
  // Stops the browser with `signal` (SIGTERM: a clean stop; SIGKILL: a crash), waits for it to exit, and starts
  // it again on the same profile. Returns once the new browser's admin endpoint answers.
  virtual absl::Status Restart(int signal) = 0;
};

// A browser someone else started: `runtime_directory` is what bgsync_browser writes to <profile>/RuntimeDirectory.
class RunningBrowser : public BrowserUnderTest {
 public:
  explicit RunningBrowser(std::string runtime_directory) : runtime_directory_(std::move(runtime_directory)) {}
  std::string runtime_directory() const override { return runtime_directory_; }
  bool can_restart() const override { return false; }
  absl::Status Restart(int) override;

 private:
  const std::string runtime_directory_;
};

// A bgsync_browser process this suite started, on its own profile, without netlink (the system counts as online)
// and emulating offline until a case says otherwise. Its stdout and stderr go to <profile>/../browser.log.
// Killed (SIGKILL) when destroyed.
class LaunchedBrowser : public BrowserUnderTest {
 public:
  // Starts `binary` (a bgsync_browser) on `profile` (created if missing) with `flags` after the suite's own.
  static absl::StatusOr<std::unique_ptr<LaunchedBrowser>> Start(std::string binary,
                                                                std::string profile,
                                                                std::vector<std::string> flags);
  ~LaunchedBrowser() override;

  std::string runtime_directory() const override { return runtime_directory_; }
  bool can_restart() const override { return true; }
  absl::Status Restart(int signal) override;

  const std::string& profile() const { return profile_; }

 private:
  LaunchedBrowser(std::string binary, std::string profile, std::vector<std::string> flags);
  absl::Status Launch();
  // Sends `signal` and reaps the process (SIGKILL after a generous deadline).
  void Stop(int signal);

  const std::string binary_;
  const std::string profile_;
  const std::vector<std::string> flags_;
  pid_t pid_ = 0;
  std::string runtime_directory_;
};

// The directory of the running executable (where bgsync_browser and bgsync_test_worker are built).
std::string ExecutableDirectory();

// The whole file; empty if it cannot be read.
std::string ReadWholeFile(const std::string& path);

}  // namespace bgsync::conformance

#endif  // TEST_CONFORMANCE_BROWSER_UNDER_TEST_H_
