#include "tools/benchmarks/wake/browser_figures.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tools/benchmarks/wake/cpu_time.h"

namespace bgsync {
namespace bench {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(120);
// Requests the benchmark sends at once while setting up (registrations, warm-up dispatches).
constexpr int kSetupThreads = 8;

// Runs body(i) for i in [0, count) on kSetupThreads threads; returns the first error.
absl::Status ForEachInParallel(int count, const std::function<absl::Status(int)>& body) {
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < std::min(count, kSetupThreads); ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        absl::Status status = body(i);
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok())
            first_error = status;
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  return first_error;
}

// Polls `done` every `interval` until it returns true or an error, or `timeout` passes.
absl::Status PollUntil(const std::function<absl::StatusOr<bool>()>& done,
                       absl::Duration interval,
                       absl::Duration timeout,
                       const std::string& what) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<bool> result = done();
    if (!result.ok())
      return result.status();
    if (*result)
      return absl::OkStatus();
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", what));
    absl::SleepFor(interval);
  }
}

std::vector<std::string> WorkerCommand(const std::vector<std::string>& worker, const std::string& report_path) {
  std::vector<std::string> command = worker;
  command.push_back("--report=" + report_path);
  return command;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DrainFigure>> DrainFigure::Start(ProcessLauncher* launcher,
                                                                const std::string& dir,
                                                                const std::vector<std::string>& worker,
                                                                int workers,
                                                                int per_worker) {
  const std::string report_path = dir + "/drain.report";
  absl::StatusOr<std::unique_ptr<WakeReport>> report = WakeReport::Create(report_path);
  if (!report.ok())
    return report.status();
  std::unique_ptr<DrainFigure> figure(new DrainFigure(*std::move(report), per_worker));
  const std::vector<std::string> flags = {"--rate-limit",
                                          "0",
                                          "--max-workers",
                                          absl::StrCat(workers),
                                          "--max-events-per-worker",
                                          absl::StrCat(std::max(per_worker, 16)),
                                          "--worker-idle-timeout",
                                          "3600",
                                          "--event-timeout",
                                          "600"};
  absl::StatusOr<std::unique_ptr<BenchBrowser>> browser =
      BenchBrowser::Start(launcher, dir + "/drain-profile", flags, dir + "/drain-browser.log");
  if (!browser.ok())
    return browser.status();
  figure->browser_ = *std::move(browser);
  std::fprintf(stderr, "bgsync_bench_wake: drain browser pid %d\n", figure->browser_->pid());
  for (int i = 0; i < workers; ++i) {
    figure->origins_.push_back(absl::StrCat("https://drain-", i, ".example"));
    absl::StatusOr<int64_t> id =
        figure->browser_->InstallServiceWorker(figure->origins_.back(), WorkerCommand(worker, report_path));
    if (!id.ok())
      return id.status();
    figure->service_workers_.push_back(*id);
  }
  // Start every worker process: one DevTools event each (registrations untouched).
  absl::Status warmed = ForEachInParallel(workers, [&figure](int i) -> absl::Status {
    absl::StatusOr<std::string> outcome = figure->browser_->DispatchSyncEvent(figure->service_workers_[i], "warm-up");
    if (!outcome.ok())
      return outcome.status();
    if (*outcome != "completed")
      return absl::InternalError(absl::StrCat("warm-up event: ", *outcome));
    return absl::OkStatus();
  });
  if (!warmed.ok())
    return warmed;
  if (absl::Status running = figure->ExpectWorkersRunning(); !running.ok())
    return running;
  return figure;
}

absl::Status DrainFigure::ExpectWorkersRunning() {
  absl::StatusOr<admin::BrowserStatus> status = browser_->Status();
  if (!status.ok())
    return status.status();
  if (status->running_workers_size() != static_cast<int>(service_workers_.size())) {
    return absl::FailedPreconditionError(
        absl::StrCat(status->running_workers_size(), " of ", service_workers_.size(), " worker processes running"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<pid_t>> DrainFigure::WorkerPids() {
  absl::StatusOr<admin::ServiceWorkerList> list = browser_->ListServiceWorkers();
  if (!list.ok())
    return list.status();
  std::vector<pid_t> pids;
  for (const admin::ServiceWorkerInfo& info : list->service_workers()) {
    if (info.worker_pid() > 0)
      pids.push_back(info.worker_pid());
  }
  return pids;
}

absl::Status DrainFigure::RegisterAll() {
  const int round = round_;
  return ForEachInParallel(static_cast<int>(service_workers_.size()), [this, round](int i) -> absl::Status {
    absl::StatusOr<BenchBrowser::Page> page = browser_->OpenPage(origins_[i]);
    if (!page.ok())
      return page.status();
    for (int j = 0; j < per_worker_; ++j) {
      absl::Status registered = browser_->Register(*page, service_workers_[i], absl::StrCat("sync-", round, "-", j));
      if (!registered.ok())
        return registered;
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Drain> DrainFigure::Round(const std::function<void()>& before_online,
                                         const std::function<void(bool)>& around_drain) {
  ++round_;
  if (absl::Status s = browser_->SetNetwork(admin::SetNetworkEmulationRequest::MODE_OFFLINE); !s.ok())
    return s;
  if (absl::Status s = RegisterAll(); !s.ok())
    return s;
  const int total = static_cast<int>(service_workers_.size()) * per_worker_;
  absl::StatusOr<int> stored = browser_->CountRegistrations();
  if (!stored.ok())
    return stored.status();
  if (*stored != total)
    return absl::InternalError(absl::StrCat(*stored, " registrations stored, expected ", total));
  before_online();
  if (absl::Status running = ExpectWorkersRunning(); !running.ok())
    return running;

  absl::StatusOr<std::vector<pid_t>> workers = WorkerPids();
  if (!workers.ok())
    return workers.status();
  const double browser_cpu_before = CpuMillis(browser_->pid());
  const double workers_cpu_before = CpuMillis(*workers);
  absl::StatusOr<int64_t> settled_before = browser_->SettledOneShotEvents();
  if (!settled_before.ok())
    return settled_before.status();
  report_->Reset();
  if (around_drain)
    around_drain(true);
  const int64_t start = MonotonicNanos();
  if (absl::Status s = browser_->SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE); !s.ok())
    return s;
  // The workers' count says when nearly everything is done without asking the browser; the engine's counter of
  // settled events says when the last outcome is stored.
  absl::Status answered = PollUntil([this, total]() -> absl::StatusOr<bool> { return report_->events() >= total; },
                                    absl::Milliseconds(1), kTimeout, "the workers to see every event");
  if (!answered.ok())
    return answered;
  const int64_t all_seen = MonotonicNanos();
  absl::Status settled = PollUntil(
      [this, total, before = *settled_before]() -> absl::StatusOr<bool> {
        absl::StatusOr<int64_t> settled = browser_->SettledOneShotEvents();
        if (!settled.ok())
          return settled.status();
        return *settled - before >= total;
      },
      absl::Milliseconds(1), kTimeout, "every registration to settle");
  if (!settled.ok())
    return settled;
  Drain drain;
  drain.millis = static_cast<double>(MonotonicNanos() - start) / 1e6;
  drain.server_cpu_millis = CpuMillis(browser_->pid()) - browser_cpu_before;
  drain.workers_cpu_millis = CpuMillis(*workers) - workers_cpu_before;
  std::fprintf(stderr, "bgsync_bench_wake: drain: first event after %.1f ms, all seen by workers after %.1f ms\n",
               static_cast<double>(report_->first_event_ns() - start) / 1e6,
               static_cast<double>(all_seen - start) / 1e6);
  if (around_drain)
    around_drain(false);
  absl::StatusOr<int> left = browser_->CountRegistrations();
  if (!left.ok())
    return left.status();
  if (*left != 0)
    return absl::InternalError(absl::StrCat(*left, " registrations left after the drain"));
  if (absl::Status running = ExpectWorkersRunning(); !running.ok())
    return running;
  return drain;
}

absl::StatusOr<std::unique_ptr<ColdWakeFigure>> ColdWakeFigure::Start(ProcessLauncher* launcher,
                                                                      const std::string& dir,
                                                                      const std::vector<std::string>& worker) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  std::unique_ptr<ColdWakeFigure> figure(new ColdWakeFigure(dir, worker));
  absl::StatusOr<std::unique_ptr<BenchBrowser>> browser = BenchBrowser::Start(
      launcher, dir + "/profile", {"--rate-limit", "0", "--worker-idle-timeout", "3600"}, dir + "/browser.log");
  if (!browser.ok())
    return browser.status();
  figure->browser_ = *std::move(browser);
  return figure;
}

absl::StatusOr<double> ColdWakeFigure::Sample() {
  const int i = samples_++;
  BenchBrowser& browser = *browser_;
  const std::string report_path = absl::StrCat(dir_, "/wake-", i, ".report");
  absl::StatusOr<std::unique_ptr<WakeReport>> report = WakeReport::Create(report_path);
  if (!report.ok())
    return report.status();
  const std::string origin = absl::StrCat("https://wake-", i, ".example");
  absl::StatusOr<int64_t> sw = browser.InstallServiceWorker(origin, WorkerCommand(worker_, report_path));
  if (!sw.ok())
    return sw.status();
  absl::StatusOr<BenchBrowser::Page> page = browser.OpenPage(origin);
  if (!page.ok())
    return page.status();
  if (absl::Status s = browser.Register(*page, *sw, "wake"); !s.ok())
    return s;
  auto no_worker_running = [&browser]() -> absl::StatusOr<bool> {
    absl::StatusOr<admin::BrowserStatus> status = browser.Status();
    if (!status.ok())
      return status.status();
    return status->running_workers_size() == 0;
  };
  if (absl::Status s = PollUntil(no_worker_running, absl::Milliseconds(5), kTimeout, "no worker process"); !s.ok())
    return s;

  const int64_t start = MonotonicNanos();
  if (absl::Status s = browser.SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE); !s.ok())
    return s;
  absl::Status woke = PollUntil([&report]() -> absl::StatusOr<bool> { return (*report)->first_event_ns() != 0; },
                                absl::Microseconds(500), kTimeout, "the cold worker's first event");
  if (!woke.ok())
    return woke;
  const double millis = static_cast<double>((*report)->first_event_ns() - start) / 1e6;

  absl::Status settled = PollUntil(
      [&browser]() -> absl::StatusOr<bool> {
        absl::StatusOr<int> left = browser.CountRegistrations();
        if (!left.ok())
          return left.status();
        return *left == 0;
      },
      absl::Milliseconds(5), kTimeout, "the wake registration to settle");
  if (!settled.ok())
    return settled;
  if (absl::Status s = browser.SetNetwork(admin::SetNetworkEmulationRequest::MODE_OFFLINE); !s.ok())
    return s;
  if (absl::Status s = browser.UnregisterServiceWorker(*sw); !s.ok())
    return s;
  return millis;
}

}  // namespace bench
}  // namespace bgsync
