// bgsync_bench_baseline_server: the baseline processes of bgsync_bench_register.
//
// Usage: bgsync_bench_baseline_server --socket PATH [--db DIR] [--write-threads N]
//          serves BaselineService (baseline_server.h) on unix:PATH; prints "ready" on stdout once serving; stops on
//          SIGTERM or SIGINT.
//        bgsync_bench_baseline_server --socketpair-echo
//          writes back whatever arrives on descriptor 4 (kChannelFd, a socketpair end) until end-of-file.
// Either way it dies with its parent (PR_SET_PDEATHSIG), so a benchmark that crashes leaves no server behind.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "tools/benchmarks/register/baseline_server.h"

namespace {

constexpr int kChannelFd = 4;  // browser/process/process_launcher.h

int EchoSocketpair() {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(kChannelFd, buffer, sizeof buffer);
    if (n <= 0)
      return n == 0 ? 0 : 1;
    for (ssize_t written = 0; written < n;) {
      const ssize_t w = write(kChannelFd, buffer + written, static_cast<size_t>(n - written));
      if (w <= 0)
        return 1;
      written += w;
    }
  }
}

int Usage() {
  std::fprintf(stderr,
               "usage: bgsync_bench_baseline_server --socket PATH [--db DIR] [--write-threads N]\n"
               "       bgsync_bench_baseline_server --socketpair-echo\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // As bgsync_browser does in optimized builds: no absl::Mutex deadlock detection (Debian's Abseil has it on).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  bgsync::regbench::BaselineServerOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--socketpair-echo") {
      return EchoSocketpair();
    } else if (arg == "--socket" && i + 1 < argc) {
      options.socket_path = argv[++i];
    } else if (arg == "--db" && i + 1 < argc) {
      options.db_path = argv[++i];
    } else if (arg == "--write-threads" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &options.write_threads))
        return Usage();
    } else {
      return Usage();
    }
  }
  if (options.socket_path.empty())
    return Usage();
  absl::StatusOr<std::unique_ptr<bgsync::regbench::BaselineServer>> server =
      bgsync::regbench::BaselineServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "bgsync_bench_baseline_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->reset();
  return 0;
}
