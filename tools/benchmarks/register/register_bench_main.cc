// bgsync_bench_register: figures 1, 2 and 7 of tools/bench (docs/performance.md): the latency of a Register from
// the renderer stub, the durable Register throughput of 32 renderer clients, and the browser's CPU use while idle
// with registrations pending offline, each against baselines measured in the same run on the same machine:
//   0   a socketpair round trip between two processes (the floor, informational)
//   0w  raw LevelDB synced writes with 32 threads against 1 thread (informational)
//   1a  Register p50 through the SyncManager, relaxed durability   <= 1.25x a bare gRPC unary echo p50
//   1b  the same, durable             <= 1.25x a bare gRPC server doing one synced LevelDB write per call, p50
//   2a  durable Registers/s of 32 renderer clients (Register calls on the SyncManager's generated stub, one call
//       per registration)             >= 0.9x that bare gRPC + synced write server (32 writer threads), same clients
//   2b  the same                      >= 5x the same server with one global operation queue (one write at a time)
//   7   browser CPU while idle with registrations pending offline, over the same window as an idle bare gRPC
//       server: at most 1 percentage point (of one core) more
// The baselines are bare callback-API gRPC servers on a unix socket with the browser's gRPC settings
// (baseline_server.h); the clients of both sides are made alike (bench_clients.h), each on a connection of its own.
// Latency and throughput are measured in alternating rounds, so that the machine's noise falls on both sides alike.
// Every process is started here (two browsers on fresh profiles, the baseline servers, LevelDB directories), under
// one temporary directory in /tmp that is removed at the end; every child is stopped at the end, also on failure.
//
// Usage: bgsync_bench_register [--quick]
//   --quick  small sizes and few samples (CI's smoke run; its numbers mean little)
// Prints one "BENCH {json}" line per figure on stdout (tools/benchmarks/bench_report.h); progress on stderr.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "browser/process/process_launcher.h"
#include "tools/benchmarks/register/register_benchmark.h"

namespace {

// What the signal thread cleans up after: the launcher while it exists, and the directory.
absl::Mutex g_mu(absl::kConstInit);
bgsync::ProcessLauncher* g_launcher ABSL_GUARDED_BY(g_mu) = nullptr;
std::string g_directory ABSL_GUARDED_BY(g_mu);

// SIGINT/SIGTERM (blocked in every thread) end the benchmark: children killed, the directory removed.
void CleanUpOnSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  absl::MutexLock lock(&g_mu);
  if (g_launcher) {
    for (pid_t pid : g_launcher->Running())
      kill(pid, SIGKILL);
  }
  // The children may still be writing into the directory for a moment after SIGKILL: retry for a few seconds.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::error_code error;
    std::filesystem::remove_all(g_directory, error);
    if (!error && !std::filesystem::exists(g_directory, error))
      break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  _exit(128 + signal_number);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: bgsync_bench_register [--quick]\n");
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Like the processes it measures: no absl::Mutex deadlock detection (Debian's Abseil has it on), whose global
  // lock graph would add the clients' own noise to every figure.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  std::string directory = (std::filesystem::temp_directory_path() / "bgsync-bench-register-XXXXXX").string();
  if (!mkdtemp(directory.data())) {
    std::perror("bgsync_bench_register: mkdtemp");
    return 1;
  }
  absl::Status status;
  {
    bgsync::ProcessLauncher launcher;  // kills whatever is still running when it goes
    {
      absl::MutexLock lock(&g_mu);
      g_launcher = &launcher;
      g_directory = directory;
    }
    std::thread(CleanUpOnSignal).detach();
    {
      bgsync::regbench::RegisterBenchmark benchmark(
          &launcher, directory, quick ? bgsync::regbench::Sizes::Quick() : bgsync::regbench::Sizes::Full());
      status = benchmark.Run();
    }
    absl::MutexLock lock(&g_mu);
    g_launcher = nullptr;
  }
  std::error_code error;
  std::filesystem::remove_all(directory, error);
  if (!status.ok()) {
    std::fprintf(stderr, "bgsync_bench_register: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
