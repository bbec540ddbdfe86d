// bgsync_bench_wake's baselines, measured in the same run as the figures. Every child is spawned the way the
// browser spawns its workers (ProcessLauncher: posix_spawn, a socketpair handed over as descriptor 4) and killed
// before these return, also on failure.
#ifndef TOOLS_BENCHMARKS_WAKE_BASELINES_H_
#define TOOLS_BENCHMARKS_WAKE_BASELINES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "browser/process/process_launcher.h"
#include "tools/benchmarks/wake/bare_worker_server.h"

namespace bgsync {
namespace bench {

// Spawns of trivial children, each timed from just before the spawn to the child's first answer. Each child is
// killed (if still running) and waited for before its sample returns.
class SpawnTimer {
 public:
  // `launcher` must outlive this. Errors: the bare server's.
  static absl::StatusOr<std::unique_ptr<SpawnTimer>> Start(ProcessLauncher& launcher);
  ~SpawnTimer();

  // The spawn floor: `program` (bgsync_bench_echo_child) until the byte it writes on its socketpair arrives.
  absl::StatusOr<double> SocketpairChildMillis(const std::string& program);
  // A trivial gRPC worker (bgsync_bench_trivial_worker) on a channel a bare gRPC server in this process serves,
  // until its first message (WorkerReady on its Connect stream) arrives at the server.
  absl::StatusOr<double> GrpcWorkerMillis(const std::string& program);

 private:
  SpawnTimer(ProcessLauncher& launcher, std::unique_ptr<BareWorkerServer> server);

  ProcessLauncher& launcher_;
  const std::unique_ptr<BareWorkerServer> server_;
  size_t workers_ready_ = 0;
};

// A drain's wall time, and the CPU time the two sides spent meanwhile.
struct Drain {
  double millis = 0;
  double server_cpu_millis = 0;   // the browser, or the bare server (this whole process)
  double workers_cpu_millis = 0;  // every worker process together
};

// The bare drain: `workers` trivial gRPC workers started and connected to a bare gRPC server in this process, then
// `per_worker` SyncEvents pushed down each one's stream at once, each answered COMPLETED as soon as it is read.
// Milliseconds from the first push to the last answer.
absl::StatusOr<Drain> BareDrain(ProcessLauncher& launcher,
                                const std::string& trivial_worker,
                                int workers,
                                int per_worker);

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_WAKE_BASELINES_H_
