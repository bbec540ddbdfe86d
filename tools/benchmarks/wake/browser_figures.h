// bgsync_bench_wake's figures on a real bgsync_browser (figures 4 and 5 of issue 6). The browser, its profile and
// its workers' report pages live in the benchmark's temporary directory; every worker process the browser
// launches runs `worker` (bgsync_bench_worker and its flags; --report=PATH is added), which records in its report
// page when each sync event reaches its handler.
#ifndef TOOLS_BENCHMARKS_WAKE_BROWSER_FIGURES_H_
#define TOOLS_BENCHMARKS_WAKE_BROWSER_FIGURES_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "browser/process/process_launcher.h"
#include "tools/benchmarks/wake/baselines.h"
#include "tools/benchmarks/wake/bench_browser.h"
#include "tools/benchmarks/wake/wake_report.h"

namespace bgsync {
namespace bench {

// Figure 4, the reconnect drain. Construct, then call Round() for each sample.
class DrainFigure {
 public:
  // Starts a browser (offline, no rate limit, room for every worker and every event at once, long idle and event
  // timeouts) with `workers` service workers, one origin each, and starts their worker processes by dispatching
  // one DevTools event to each. Errors: any step's.
  static absl::StatusOr<std::unique_ptr<DrainFigure>> Start(ProcessLauncher* launcher,
                                                            const std::string& dir,
                                                            const std::vector<std::string>& worker,
                                                            int workers,
                                                            int per_worker);

  // Registers `per_worker` one-shot registrations in every service worker while offline (resolved, as a page
  // does), runs `before_online` (the benchmark measures its baseline there, with the browser idle), then goes
  // online and returns the milliseconds until every registration has been dispatched, answered and settled (the
  // browser holds none). Errors: a step's, or kFailedPrecondition if a worker process was not running
  // throughout.
  // `around_drain` (may be empty) is called with true just before going online and with false once settled (the
  // benchmark's --perf hook).
  absl::StatusOr<Drain> Round(const std::function<void()>& before_online,
                              const std::function<void(bool)>& around_drain = nullptr);

  BenchBrowser& browser() { return *browser_; }

 private:
  DrainFigure(std::unique_ptr<WakeReport> report, int per_worker)
      : report_(std::move(report)), per_worker_(per_worker) {}
  absl::Status RegisterAll();
  absl::Status ExpectWorkersRunning();
  absl::StatusOr<std::vector<pid_t>> WorkerPids();

  const std::unique_ptr<WakeReport> report_;
  const int per_worker_;
  std::unique_ptr<BenchBrowser> browser_;
  std::vector<int64_t> service_workers_;
  std::vector<std::string> origins_;
  int round_ = 0;
};

// Figure 5, the cold wake, on a browser of its own in `dir`. Each Sample() installs a new service worker whose
// process runs `worker`, registers one registration while offline (no worker process runs), goes online, and
// measures from just before the SetNetworkEmulation call to the moment the new worker's handler saw the sync
// event (both CLOCK_MONOTONIC); then lets the registration settle, goes offline again and unregisters the service
// worker (its process is stopped).
class ColdWakeFigure {
 public:
  // Starts the browser (offline, no rate limit). Errors: any step's.
  static absl::StatusOr<std::unique_ptr<ColdWakeFigure>> Start(ProcessLauncher* launcher,
                                                               const std::string& dir,
                                                               const std::vector<std::string>& worker);

  // Milliseconds from online to the first SyncEvent in the new worker. Errors: any step's.
  absl::StatusOr<double> Sample();

 private:
  ColdWakeFigure(std::string dir, std::vector<std::string> worker) : dir_(std::move(dir)), worker_(std::move(worker)) {}

  const std::string dir_;
  const std::vector<std::string> worker_;
  std::unique_ptr<BenchBrowser> browser_;
  int samples_ = 0;
};

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_WAKE_BROWSER_FIGURES_H_
