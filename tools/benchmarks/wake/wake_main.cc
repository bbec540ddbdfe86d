// bgsync_bench_wake: figures 4 (reconnect drain) and 5 (cold wake) of tools/bench, each against a baseline
// measured in the same run (docs/performance.md).
//
//   4  A real bgsync_browser with W service workers whose worker processes are running, W × E one-shot
//      registrations made while offline; online → every registration dispatched, answered and settled. Baseline:
//      W trivial gRPC workers connected to a bare gRPC server in this process, which pushes E SyncEvents down each
//      one's Connect stream; the time until all W × E are answered. Both: the median of the rounds, each round
//      measuring the baseline right before the figure. Target: ≤ 1.5×.
//   5  A service worker with one registration made while offline and no worker process; online → its new worker
//      process's handler sees the SyncEvent (p50). Baseline: spawn of the trivial gRPC worker → its first message
//      reaches a server in this process (p50). Target: ≤ 2×. The note also gives the spawn floor: a trivial child
//      answering over a socketpair.
//
// Usage: bgsync_bench_wake [--quick] [--only=drain|wake] [--worker=PATH] [--thread-per-event]
//                         [--trivial-worker=PATH] [--rounds=N] [--perf=FILE]
//   --quick        W=10, E=10, one round, 5 samples each (CI's smoke run); default W=100, E=100, 5 rounds, 30
//                  samples
//   --only=...     one figure
//   --worker=PATH  the worker program of the browser's figures (default: bgsync_bench_worker next to this one)
//   --thread-per-event  the worker runs each event's handler on a thread of its own (the global scope's default)
//                  instead of inline (see bgsync_bench_worker.cc)
//   --trivial-worker=PATH  the baselines' trivial gRPC worker (default: bgsync_bench_trivial_worker next to this one)
//   --rounds=N     N drain rounds and N cold-wake samples
//   --perf=FILE    record each drain round with `perf record -a` (DWARF call graphs) into FILE.<round>
// Prints one "BENCH {json}" line per figure (tools/benchmarks/bench_report.h) and progress on stderr. Exit status 0
// when every figure was measured.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "browser/process/process_launcher.h"
#include "tools/benchmarks/bench_report.h"
#include "tools/benchmarks/wake/baselines.h"
#include "tools/benchmarks/wake/browser_figures.h"

namespace bgsync {
namespace bench {
namespace {

struct Options {
  bool quick = false;
  bool drain = true;
  bool wake = true;
  std::string worker;
  bool thread_per_event = false;  // --thread-per-event: passed to bgsync_bench_worker
  std::string trivial_worker;     // --trivial-worker=PATH: the baselines' trivial gRPC worker
  std::string perf_output;        // --perf=FILE
  int rounds = 0;                 // --rounds=N; 0: the default for the mode
};

// The argv prefix of the browser's worker processes.
std::vector<std::string> WorkerArgv(const Options& options, const std::string& program) {
  std::vector<std::string> argv = {program};
  if (options.thread_per_event)
    argv.push_back("--thread-per-event");
  return argv;
}

struct Sizes {
  int workers;
  int per_worker;
  int rounds;
  int samples;
};

std::string Millis(double value) {
  return absl::StrFormat("%.2f", value);
}

std::string List(const std::vector<double>& values) {
  return absl::StrJoin(values, " ", [](std::string* out, double v) { out->append(Millis(v)); });
}

// --perf=FILE: `perf record -a` with DWARF call graphs over each round's drain, into FILE.<round> (the profile of
// a miss: `perf report -i FILE.<round> --pid <the browser's pid, printed on stderr>`).
class DrainProfiler {
 public:
  DrainProfiler(ProcessLauncher& launcher, std::string output) : launcher_(launcher), output_(std::move(output)) {}

  // Called with true just before a round goes online, with false once it has drained.
  void OnDrain(int round, bool starting) {
    if (output_.empty())
      return;
    if (starting) {
      LaunchOptions options;
      options.argv = {
          "perf", "record", "-a", "--call-graph", "dwarf,16384", "-F", "999", "-o", absl::StrCat(output_, ".", round)};
      options.stdout_fd = options.stderr_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
      exited_ = std::make_shared<absl::Notification>();
      absl::StatusOr<pid_t> pid = launcher_.Launch(options, [done = exited_](pid_t, int) { done->Notify(); });
      close(options.stdout_fd);
      perf_ = pid.ok() ? *pid : 0;
      absl::SleepFor(absl::Milliseconds(500));  // perf attaches
    } else if (perf_ > 0) {
      kill(perf_, SIGINT);
      exited_->WaitForNotification();
      perf_ = 0;
    }
  }

 private:
  ProcessLauncher& launcher_;
  const std::string output_;
  pid_t perf_ = 0;
  std::shared_ptr<absl::Notification> exited_;
};

absl::Status RunDrain(ProcessLauncher& launcher, const std::string& dir, const Options& options, const Sizes& sizes) {
  std::fprintf(stderr, "bgsync_bench_wake: drain, %d workers x %d events, %d rounds\n", sizes.workers, sizes.per_worker,
               sizes.rounds);
  absl::StatusOr<std::unique_ptr<DrainFigure>> figure =
      DrainFigure::Start(&launcher, dir, WorkerArgv(options, options.worker), sizes.workers, sizes.per_worker);
  if (!figure.ok())
    return figure.status();
  const std::string& trivial = options.trivial_worker;
  DrainProfiler profiler(launcher, options.perf_output);
  std::vector<double> ours, bare;
  std::vector<Drain> ours_cpu, bare_cpu;
  for (int round = 0; round < sizes.rounds; ++round) {
    absl::Status baseline_status;
    absl::StatusOr<Drain> drained = (*figure)->Round(
        [&] {
          absl::StatusOr<Drain> drain = BareDrain(launcher, trivial, sizes.workers, sizes.per_worker);
          if (drain.ok()) {
            bare.push_back(drain->millis);
            bare_cpu.push_back(*drain);
          }
          baseline_status = drain.status();
        },
        [&](bool starting) { profiler.OnDrain(round, starting); });
    if (!baseline_status.ok())
      return baseline_status;
    if (!drained.ok())
      return drained.status();
    ours.push_back(drained->millis);
    ours_cpu.push_back(*drained);
    std::fprintf(stderr,
                 "bgsync_bench_wake: drain round %d: browser %.1f ms (CPU: browser %.0f ms, workers %.0f ms), bare "
                 "gRPC %.1f ms (CPU: server %.0f ms, workers %.0f ms)\n",
                 round + 1, ours.back(), drained->server_cpu_millis, drained->workers_cpu_millis, bare.back(),
                 bare_cpu.back().server_cpu_millis, bare_cpu.back().workers_cpu_millis);
  }
  // CPU per event, medians over the rounds.
  const double events = static_cast<double>(sizes.workers) * sizes.per_worker;
  auto per_event = [events](const std::vector<Drain>& drains, double Drain::*field) {
    std::vector<double> values;
    for (const Drain& d : drains)
      values.push_back(d.*field * 1000.0 / events);
    return Percentile(values, 50);
  };
  Figure f;
  f.id = "4";
  f.name = absl::StrCat("Reconnect drain: ", sizes.workers * sizes.per_worker, " pending across ", sizes.workers,
                        " running workers");
  f.unit = "ms";
  f.value = Percentile(ours, 50);
  f.baseline_name = absl::StrCat(sizes.workers * sizes.per_worker, " bare gRPC events down ", sizes.workers,
                                 " bidi streams to trivial workers");
  f.baseline = Percentile(bare, 50);
  f.rule = Rule::kRatioAtMost;
  f.target = 1.5;
  f.note =
      absl::StrCat(options.thread_per_event ? "worker handlers on a thread per event; " : "worker handlers inline; ",
                   "median of ", sizes.rounds, " rounds; browser [", List(ours), "] ms, bare [", List(bare),
                   "] ms; CPU per event: browser ", Millis(per_event(ours_cpu, &Drain::server_cpu_millis)),
                   " us + workers ", Millis(per_event(ours_cpu, &Drain::workers_cpu_millis)), " us, bare server ",
                   Millis(per_event(bare_cpu, &Drain::server_cpu_millis)), " us + trivial workers ",
                   Millis(per_event(bare_cpu, &Drain::workers_cpu_millis)), " us");
  PrintFigure(f);
  return absl::OkStatus();
}

absl::Status RunWake(ProcessLauncher& launcher, const std::string& dir, const Options& options, const Sizes& sizes) {
  std::fprintf(stderr, "bgsync_bench_wake: cold wake, %d samples\n", sizes.samples);
  const std::string directory = BinaryDirectory();
  absl::StatusOr<std::unique_ptr<SpawnTimer>> spawner = SpawnTimer::Start(launcher);
  if (!spawner.ok())
    return spawner.status();
  absl::StatusOr<std::unique_ptr<ColdWakeFigure>> ours =
      ColdWakeFigure::Start(&launcher, dir + "/wake", WorkerArgv(options, options.worker));
  if (!ours.ok())
    return ours.status();
  absl::StatusOr<std::unique_ptr<ColdWakeFigure>> ours_dynamic = ColdWakeFigure::Start(
      &launcher, dir + "/wake-dynamic", WorkerArgv(options, directory + "/bgsync_bench_worker_dynamic"));
  if (!ours_dynamic.ok())
    return ours_dynamic.status();
  // The samples of the figure and of its baselines alternate, so that a noisy moment touches all of them.
  std::vector<double> floor, spawn, static_spawn, wake, dynamic_wake;
  for (int i = 0; i < sizes.samples; ++i) {
    for (auto [samples, measure] : {
             std::make_pair(&floor, std::function<absl::StatusOr<double>()>([&] {
               return (*spawner)->SocketpairChildMillis(directory + "/bgsync_bench_echo_child");
             })),
             std::make_pair(&spawn, std::function<absl::StatusOr<double>()>(
                                        [&] { return (*spawner)->GrpcWorkerMillis(options.trivial_worker); })),
             std::make_pair(&static_spawn, std::function<absl::StatusOr<double>()>([&] {
               return (*spawner)->GrpcWorkerMillis(directory + "/bgsync_bench_trivial_worker_static");
             })),
             std::make_pair(&wake, std::function<absl::StatusOr<double>()>([&] { return (*ours)->Sample(); })),
             std::make_pair(&dynamic_wake,
                            std::function<absl::StatusOr<double>()>([&] { return (*ours_dynamic)->Sample(); })),
         }) {
      absl::StatusOr<double> millis = measure();
      if (!millis.ok())
        return millis.status();
      samples->push_back(*millis);
    }
  }
  std::fprintf(stderr, "bgsync_bench_wake: socketpair child [%s] ms\n", List(floor).c_str());
  std::fprintf(stderr, "bgsync_bench_wake: trivial gRPC worker [%s] ms\n", List(spawn).c_str());
  std::fprintf(stderr, "bgsync_bench_wake: trivial gRPC worker, static [%s] ms\n", List(static_spawn).c_str());
  std::fprintf(stderr, "bgsync_bench_wake: cold wake [%s] ms\n", List(wake).c_str());
  std::fprintf(stderr, "bgsync_bench_wake: cold wake, dynamic worker [%s] ms\n", List(dynamic_wake).c_str());
  Figure f;
  f.id = "5";
  f.name = "Cold wake: online -> first SyncEvent in a worker not running, p50";
  f.unit = "ms";
  f.value = Percentile(wake, 50);
  f.baseline_name = "trivial gRPC worker spawn -> first RPC, p50";
  f.baseline = Percentile(spawn, 50);
  f.rule = Rule::kRatioAtMost;
  f.target = 2;
  f.note = absl::StrCat(sizes.samples, " samples each; p90 ", Millis(Percentile(wake, 90)), " vs ",
                        Millis(Percentile(spawn, 90)),
                        " ms; worker linked statically but for libc (the same worker linked dynamically: p50 ",
                        Millis(Percentile(dynamic_wake, 50)), " ms; the trivial worker linked statically: p50 ",
                        Millis(Percentile(static_spawn, 50)), " ms); spawn floor (socketpair child) p50 ",
                        Millis(Percentile(floor, 50)), " ms");
  PrintFigure(f);
  return absl::OkStatus();
}

bool ParseFlags(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (absl::ConsumePrefix(&arg, "--only=") && (arg == "drain" || arg == "wake")) {
      options.drain = arg == "drain";
      options.wake = arg == "wake";
    } else if (arg == "--thread-per-event") {
      options.thread_per_event = true;
    } else if (absl::ConsumePrefix(&arg, "--trivial-worker=") && !arg.empty()) {
      options.trivial_worker = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--perf=") && !arg.empty()) {
      options.perf_output = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--rounds=") && absl::SimpleAtoi(arg, &options.rounds) && options.rounds > 0) {
    } else if (absl::ConsumePrefix(&arg, "--worker=") && !arg.empty()) {
      options.worker = std::string(arg);
    } else {
      return false;
    }
  }
  if (options.worker.empty())
    options.worker = BinaryDirectory() + "/bgsync_bench_worker";
  if (options.trivial_worker.empty())
    options.trivial_worker = BinaryDirectory() + "/bgsync_bench_trivial_worker";
  return true;
}

int Main(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, options)) {
    std::fputs(
        "usage: bgsync_bench_wake [--quick] [--only=drain|wake] [--worker=PATH] [--thread-per-event]\n"
        "                         [--trivial-worker=PATH] [--rounds=N] [--perf=FILE]\n",
        stderr);
    return 2;
  }
  Sizes sizes = options.quick ? Sizes{10, 10, 1, 5} : Sizes{100, 100, 5, 30};
  if (options.rounds > 0)
    sizes.rounds = sizes.samples = options.rounds;
  std::string dir = (std::filesystem::temp_directory_path() / "bgsync-bench-wake-XXXXXX").string();
  if (!mkdtemp(dir.data())) {
    std::perror("bgsync_bench_wake: mkdtemp");
    return 1;
  }
  int exit_status = 0;
  {
    // Kills whatever child is left (also on failure) when it goes out of scope, before the directory goes.
    ProcessLauncher launcher;
    for (const auto& [wanted, run] :
         {std::make_pair(options.drain, &RunDrain), std::make_pair(options.wake, &RunWake)}) {
      if (!wanted)
        continue;
      absl::Status status = run(launcher, dir, options, sizes);
      if (!status.ok()) {
        std::fprintf(stderr, "bgsync_bench_wake: %s\n", status.ToString().c_str());
        exit_status = 1;
      }
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return exit_status;
}

}  // namespace
}  // namespace bench
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::bench::Main(argc, argv);
}
