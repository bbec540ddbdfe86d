// One bgsync_browser process under the crash harness: started on a profile, watched until it serves, SIGKILLed
// with everything it launched, and asked through its admin endpoint what it loaded.
#ifndef TEST_CRASH_CONSISTENCY_CRASH_BROWSER_H_
#define TEST_CRASH_CONSISTENCY_CRASH_BROWSER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "test/crash_consistency/child_process.h"

namespace bgsync {

// Every wait of the harness on something that must happen.
inline constexpr absl::Duration kHarnessDeadline = absl::Seconds(60);

class CrashBrowser {
 public:
  struct Options {
    std::string binary;              // path of bgsync_browser
    std::string profile;             // --profile
    std::vector<std::string> flags;  // after --profile
    std::string stderr_path;         // the browser's stderr is appended here
  };
  // How long a start took, from just before the spawn.
  struct StartTimes {
    absl::Duration admin;    // to the first answer of the admin endpoint
    absl::Duration serving;  // to the first Register answered OK (the probe); equal to admin without a probe
  };
  // The browser's "Loaded registrations" log line.
  struct LoadReport {
    int64_t loaded = -1;
    int64_t interrupted = -1;
    int64_t dropped = -1;
    int64_t quarantined = -1;
  };

  explicit CrashBrowser(Options options);
  ~CrashBrowser();  // SIGKILLs whatever still runs

  // Starts the browser and waits until it serves: its admin endpoint answers and, once a probe is set, a Register
  // of a fresh probe tag is answered OK (its tag is appended to probe_tags()). Errors: the browser exits or does
  // not serve within kHarnessDeadline.
  absl::StatusOr<StartTimes> Start();
  // SIGKILLs the browser, waits for it and for every process it launched to exit (false in `*lingering` when
  // one had to be killed after kHarnessDeadline), and removes its runtime directory.
  void Kill(bool* lingering = nullptr);
  // SIGTERM, as a user stops it; waits the same way.
  void Stop();
  bool running() const { return process_.running(); }

  // A window session of `origin` registers "probe-<n>" with service worker `sw` at every later Start. With
  // `resolve` the probe acknowledges it (DidResolveRegistration), so that an online browser fires it.
  void SetProbe(const std::string& origin, int64_t sw, bool resolve);
  const std::vector<std::string>& probe_tags() const { return probe_tags_; }

  admin::BrowserAdmin::Stub& admin() { return *admin_; }
  // Installs and activates a service worker (scope: `scope`) whose process runs `command`; returns its id.
  absl::StatusOr<int64_t> InstallWorker(const std::string& origin,
                                        const std::string& scope,
                                        const std::vector<std::string>& command);
  absl::StatusOr<std::vector<admin::Registration>> ListRegistrations();
  absl::StatusOr<LoadReport> LoadedRegistrations();

 private:
  absl::Status WaitUntilReady(int stdout_fd, absl::Time deadline);
  absl::Status RegisterProbe(absl::Time deadline);
  void WaitForExit(bool* lingering);

  const Options options_;
  ChildProcess process_;
  int stdout_fd_ = -1;
  std::string runtime_dir_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
  std::string probe_origin_;
  int64_t probe_sw_ = 0;
  bool probe_resolve_ = false;
  std::vector<std::string> probe_tags_;
};

}  // namespace bgsync

#endif  // TEST_CRASH_CONSISTENCY_CRASH_BROWSER_H_
