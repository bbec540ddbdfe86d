// bgsync_bench_worker: the service-worker process of bgsync_bench_wake's figures 4 and 5. A real worker host as a
// browser launches it — session bootstrap on descriptor 3, private channel on descriptor 4, the renderer's
// ServiceWorkerGlobalScope — whose "sync" handler settles every event at once (no waitUntil) after recording the
// moment it ran in the benchmark's report page (wake_report.h). The handler never blocks, as a JavaScript service
// worker's does not, so it runs inline (ServiceWorkerGlobalScopeOptions::run_handlers_inline) unless
// --thread-per-event is given.
//
// Usage: bgsync_bench_worker --report=PATH [--thread-per-event]
// Exit status: 0 when the browser ended the stream; 1 on a bootstrap, report or stream error; 2 on a bad argument.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "renderer/browser_channel.h"
#include "renderer/service_worker_global_scope.h"
#include "renderer/session_bootstrap.h"
#include "tools/benchmarks/wake/wake_report.h"

namespace bgsync {
namespace {

int Main(int argc, char** argv) {
#ifdef NDEBUG
  // As bgsync_browser does: Debian's Abseil checks every mutex acquisition for deadlocks otherwise.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::string_view report_path;
  ServiceWorkerGlobalScopeOptions options;
  options.run_handlers_inline = true;
  bool usage = argc < 2 || argc > 3;
  for (int i = 1; i < argc && !usage; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--report=") && !arg.empty())
      report_path = arg;
    else if (arg == "--thread-per-event")
      options.run_handlers_inline = false;
    else
      usage = true;
  }
  if (usage || report_path.empty()) {
    std::fputs("usage: bgsync_bench_worker --report=PATH [--thread-per-event]\n", stderr);
    return 2;
  }
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  if (!bootstrap.ok()) {
    std::fprintf(stderr, "bgsync_bench_worker: %s\n", bootstrap.status().ToString().c_str());
    return 1;
  }
  // Shared with the handler's threads, which may outlive Run.
  absl::StatusOr<std::unique_ptr<bench::WakeReport>> opened = bench::WakeReport::Open(std::string(report_path));
  if (!opened.ok()) {
    std::fprintf(stderr, "bgsync_bench_worker: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::shared_ptr<bench::WakeReport> report = *std::move(opened);
  absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> scope =
      ServiceWorkerGlobalScope::Connect(ConnectToBrowser(*bootstrap), bootstrap->token, options);
  if (!scope.ok()) {
    std::fprintf(stderr, "bgsync_bench_worker: %s\n", scope.status().ToString().c_str());
    return 1;
  }
  (*scope)->AddEventListener("sync", [report](SyncEvent&) { report->RecordEvent(bench::MonotonicNanos()); });
  absl::Status status = (*scope)->Run();
  if (!status.ok()) {
    std::fprintf(stderr, "bgsync_bench_worker: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
