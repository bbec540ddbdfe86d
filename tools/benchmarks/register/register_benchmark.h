// The figures of bgsync_bench_register (see register_bench_main.cc for the list): which processes run, how each
// is driven, and the BENCH lines printed.
//
// Thread-safety: one thread.
#ifndef TOOLS_BENCHMARKS_REGISTER_REGISTER_BENCHMARK_H_
#define TOOLS_BENCHMARKS_REGISTER_REGISTER_BENCHMARK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "browser/process/process_launcher.h"
#include "tools/benchmarks/register/bench_clients.h"
#include "tools/benchmarks/register/bench_processes.h"
#include "tools/benchmarks/register/browser_under_test.h"

namespace bgsync {
namespace regbench {

struct Sizes {
  int socketpair_samples = 0;
  // Latency: `latency_samples` calls per side in total, in `latency_rounds` rounds that alternate baseline and
  // browser (so that the machine's noise falls on both alike), each round after `latency_warmup` calls.
  int latency_samples = 0;
  int latency_rounds = 0;
  int latency_warmup = 0;
  // Throughput: per round, each server in turn gets `throughput_warmup` then a `throughput_window` counted.
  int clients = 0;
  int throughput_rounds = 0;
  absl::Duration throughput_warmup;
  absl::Duration throughput_window;
  // Each renderer client's origin has this many service-worker registrations, used in turn (a service worker holds
  // at most 1,000 registrations, an origin 10,000: BackgroundSyncParameters' quotas).
  int service_workers_per_client = 0;
  absl::Duration leveldb_duration;  // each raw LevelDB run
  absl::Duration idle_window;

  static Sizes Full();
  static Sizes Quick();
};

class RegisterBenchmark {
 public:
  // Everything is made under `directory` (which the caller removes); `launcher` is not owned and outlives this.
  RegisterBenchmark(ProcessLauncher* launcher, std::string directory, Sizes sizes);
  ~RegisterBenchmark();

  // Measures and prints every figure. Errors: a process that would not start, a call that failed.
  absl::Status Run();

 private:
  absl::Status MeasureRawBaselines();
  absl::Status StartServers();
  absl::Status MeasureLatency();
  absl::Status MeasureThroughput();
  absl::Status MeasureIdle();

  absl::StatusOr<std::unique_ptr<StartedProcess>> StartBaselineServer(const std::string& name, int write_threads);
  // A renderer client of `browser`: a window session of `origin` and `service_workers` new service-worker
  // registrations of that origin.
  absl::StatusOr<std::unique_ptr<RendererClient>> NewRendererClient(BrowserUnderTest& browser,
                                                                    const std::string& origin,
                                                                    int service_workers);
  std::string SocketOf(const std::string& name) const { return directory_ + "/" + name + ".sock"; }

  ProcessLauncher* const launcher_;
  const std::string directory_;
  const Sizes sizes_;

  double socketpair_p50_us_ = 0;
  std::string socketpair_note_;

  std::unique_ptr<StartedProcess> echo_server_;
  std::unique_ptr<StartedProcess> write_server_;   // Put written in the gRPC handler
  std::unique_ptr<StartedProcess> pool_server_;    // Put written by 32 writer threads
  std::unique_ptr<StartedProcess> serial_server_;  // Put through one global queue, one at a time
  std::unique_ptr<BrowserUnderTest> relaxed_browser_;
  std::unique_ptr<BrowserUnderTest> durable_browser_;
};

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_REGISTER_BENCHMARK_H_
