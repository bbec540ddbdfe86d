// A real bgsync_browser on a profile of its own, driven through its admin endpoint the way a test or a tool does:
// service workers installed and activated, window sessions opened for the benchmark's renderer clients.
//
// Thread-safety: one thread at a time.
#ifndef TOOLS_BENCHMARKS_REGISTER_BROWSER_UNDER_TEST_H_
#define TOOLS_BENCHMARKS_REGISTER_BROWSER_UNDER_TEST_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"
#include "tools/benchmarks/register/bench_processes.h"

namespace bgsync {
namespace regbench {

class BrowserUnderTest {
 public:
  // Starts `browser_binary` on `profile` (created by the browser) with `flags` after --profile, and waits up to
  // 60 s for its admin endpoint to answer. `launcher` is not owned and must outlive this. Errors: kInternal when
  // it cannot be launched, kDeadlineExceeded when it does not come up (it is stopped then).
  static absl::StatusOr<std::unique_ptr<BrowserUnderTest>> Start(ProcessLauncher* launcher,
                                                                 const std::string& browser_binary,
                                                                 const std::string& profile,
                                                                 const std::vector<std::string>& flags);
  // Stops the browser (SIGTERM, then SIGKILL after 10 s).
  ~BrowserUnderTest();

  pid_t pid() const { return process_->pid(); }

  // Installs and activates a service worker of `origin` for `scope` whose process would run `command`. Returns
  // its registration id. Errors: the admin call's.
  absl::StatusOr<int64_t> InstallServiceWorker(const std::string& origin,
                                               const std::string& scope,
                                               const std::vector<std::string>& command);

  // A window session of `origin` opened by the admin: a bearer token for the browser's socket.
  struct Session {
    std::string token;
    std::string socket_path;
  };
  absl::StatusOr<Session> OpenWindowSession(const std::string& origin);

  // Registrations the engine holds (admin GetStatus is cheaper, but ListRegistrations is what counts them).
  absl::StatusOr<int> CountRegistrations();

 private:
  BrowserUnderTest(std::unique_ptr<StartedProcess> process, std::unique_ptr<admin::BrowserAdmin::Stub> admin)
      : process_(std::move(process)), admin_(std::move(admin)) {}

  const std::unique_ptr<StartedProcess> process_;
  const std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_BROWSER_UNDER_TEST_H_
