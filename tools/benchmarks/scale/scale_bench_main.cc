// bgsync_bench_scale: the figures 3 and 6 (docs/performance.md).
//   3  GetRegistrations p50 from a renderer session (SyncManager.getTags of a service worker with 100
//      registrations) with 1,000,000 registrations across 10,000 service workers, against the same call on a
//      profile with 1,000 registrations in total; both browsers run at once and the calls alternate.
//   6a bgsync_browser spawn -> serving (its ready line: every store loaded, both endpoints serving) on the 1M
//      profile, against a raw LevelDB forward scan of the same sync store (open + every record, checksums verified).
//      Page cache warm for both (each side runs once before the timed runs); LevelDB's block cache cold for both
//      (each opens the store afresh).
//   6b the browser's memory per registration beyond its tag bytes: (VmRSS with the 1M profile loaded - VmRSS with
//      the same 10,000 service workers and no registration) / 1M - average tag length.
// The profiles are generated on disk first (timed separately, not part of any figure).
//
// Usage: bgsync_bench_scale [--quick] [--write-profile DIR] [--time-load PROFILE RANGES]
//   --quick                     20,000 registrations (200 service workers), few samples: a smoke run
//   --write-profile DIR         only write the large profile into DIR and keep it (to profile the browser by hand)
//   --time-load PROFILE RANGES  only diagnose where start-up time goes, in this process (load_timing.h): a raw scan,
//                               then the store's load in RANGES parallel reads, or with RANGES 0 the engine's start
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "public/background_sync_error.h"
#include "renderer/sync_manager.h"
#include "test/process_probe.h"
#include "test/reliability_support.h"
#include "tools/benchmarks/bench_report.h"
#include "tools/benchmarks/scale/browser_process.h"
#include "tools/benchmarks/scale/leveldb_scan.h"
#include "tools/benchmarks/scale/load_timing.h"
#include "tools/benchmarks/scale/scale_profile.h"

namespace bgsync {
namespace bench {
namespace {

constexpr absl::Duration kStartTimeout = absl::Minutes(5);

struct Config {
  bool quick = false;
  std::string write_profile;
  std::string time_load;
  int time_load_ranges = 1;
  ScaleProfileSpec large{10000, 100};
  ScaleProfileSpec small{10, 100};
  int startup_runs = 5;
  int getregistrations_samples = 2000;
};

struct Profiles {
  std::string large;
  std::string small;
  std::string service_workers_only;
  ScaleProfileInfo large_info;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "bgsync_bench_scale: %s\n", message.c_str());
  return 1;
}

std::string BrowserBinary() {
  std::error_code error;
  return (std::filesystem::read_symlink("/proc/self/exe", error).parent_path() / "bgsync_browser").string();
}

double Ms(absl::Duration d) {
  return absl::ToDoubleMilliseconds(d);
}

// RssAnon of `pid` in KiB (VmRSS without the files it maps: LevelDB maps its tables), or -1.
double AnonymousKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    double kib = 0;
    if (absl::StartsWith(line, "RssAnon:") &&
        absl::SimpleAtod(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(8), "kB")), &kib)) {
      return kib;
    }
  }
  return -1;
}

std::string Spread(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return absl::StrJoin(values, " ",
                       [](std::string* out, double v) { absl::StrAppend(out, absl::StrFormat("%.0f", v)); });
}

absl::StatusOr<Profiles> MakeProfiles(const Config& config, const std::string& dir) {
  Profiles profiles{dir + "/large", dir + "/small", dir + "/service-workers-only", {}};
  const absl::Time start = absl::Now();
  absl::StatusOr<ScaleProfileInfo> large = WriteScaleProfile(profiles.large, config.large);
  if (!large.ok())
    return large.status();
  profiles.large_info = *large;
  const absl::Time large_done = absl::Now();
  absl::StatusOr<ScaleProfileInfo> small = WriteScaleProfile(profiles.small, config.small);
  if (!small.ok())
    return small.status();
  if (absl::Status status = CopyServiceWorkersOnly(profiles.large, profiles.service_workers_only); !status.ok())
    return status;
  std::fprintf(stderr, "generated %lld registrations across %d service workers in %.1f s; %lld in %.1f s\n",
               static_cast<long long>(large->registrations), config.large.service_workers,
               absl::ToDoubleSeconds(large_done - start), static_cast<long long>(small->registrations),
               absl::ToDoubleSeconds(absl::Now() - large_done));
  return profiles;
}

// Figures 6a and 6b: alternating scans and browser starts, then the memory baseline.
absl::Status MeasureStartupAndMemory(const Config& config, const Profiles& profiles, ProcessLauncher& launcher) {
  const std::string binary = BrowserBinary();
  const std::string store = profiles.large + "/BackgroundSync";
  // Every profile once, untimed: the browser creates its other stores at its first start, and the page cache
  // holds the store afterwards for both sides.
  for (const std::string& profile : {profiles.large, profiles.small, profiles.service_workers_only}) {
    absl::StatusOr<std::unique_ptr<BrowserProcess>> browser =
        BrowserProcess::Start(&launcher, binary, profile, {}, kStartTimeout);
    if (!browser.ok())
      return browser.status();
  }
  if (absl::StatusOr<ScanResult> warm = ScanLevelDb(store); !warm.ok())
    return warm.status();

  std::vector<double> scans, starts, large_rss_kib, base_rss_kib, scan_cpu, browser_cpu, large_anon_kib, base_anon_kib;
  ScanResult scan;
  for (int run = 0; run < config.startup_runs; ++run) {
    absl::StatusOr<ScanResult> scanned = ScanLevelDb(store);
    if (!scanned.ok())
      return scanned.status();
    scan = *scanned;
    scans.push_back(Ms(scan.elapsed));
    scan_cpu.push_back(Ms(scan.cpu));
    {
      absl::StatusOr<std::unique_ptr<BrowserProcess>> browser =
          BrowserProcess::Start(&launcher, binary, profiles.large, {}, kStartTimeout);
      if (!browser.ok())
        return browser.status();
      starts.push_back(Ms((*browser)->time_to_ready()));
      browser_cpu.push_back(CpuSeconds((*browser)->pid()) * 1e3);  // every thread's, until just after ready
      absl::SleepFor(absl::Milliseconds(500));
      large_rss_kib.push_back(static_cast<double>(ResidentKib((*browser)->pid())));
      large_anon_kib.push_back(AnonymousKib((*browser)->pid()));
    }
    {
      absl::StatusOr<std::unique_ptr<BrowserProcess>> browser =
          BrowserProcess::Start(&launcher, binary, profiles.service_workers_only, {}, kStartTimeout);
      if (!browser.ok())
        return browser.status();
      absl::SleepFor(absl::Milliseconds(500));
      base_rss_kib.push_back(static_cast<double>(ResidentKib((*browser)->pid())));
      base_anon_kib.push_back(AnonymousKib((*browser)->pid()));
    }
    std::fprintf(stderr,
                 "run %d: scan %.0f ms (CPU %.0f), browser ready %.0f ms (CPU %.0f), RSS %.0f KiB (service workers "
                 "only %.0f KiB)\n",
                 run + 1, scans.back(), scan_cpu.back(), starts.back(), browser_cpu.back(), large_rss_kib.back(),
                 base_rss_kib.back());
  }

  const int64_t n = profiles.large_info.registrations;
  Figure startup;
  startup.id = "6a";
  startup.name = absl::StrFormat("Startup, %lld registrations: spawn -> serving, median", static_cast<long long>(n));
  startup.unit = "ms";
  startup.value = Percentile(starts, 50);
  startup.baseline_name = "raw LevelDB scan of the same store (open + all records)";
  startup.baseline = Percentile(scans, 50);
  startup.rule = Rule::kRatioAtMost;
  startup.target = 1.5;
  startup.note = absl::StrFormat(
      "%d runs, page cache warm, block cache cold on both sides; scan %lld records %.0f MB; "
      "browser ms: %s; scan ms: %s; CPU ms (median): browser %.0f (all threads, to ready), scan %.0f",
      config.startup_runs, static_cast<long long>(scan.records), scan.bytes / 1e6, Spread(starts), Spread(scans),
      Percentile(browser_cpu, 50), Percentile(scan_cpu, 50));
  PrintFigure(startup);

  const double large_kib = Percentile(large_rss_kib, 50);
  const double base_kib = Percentile(base_rss_kib, 50);
  const double tag = profiles.large_info.average_tag_bytes();
  Figure memory;
  memory.id = "6b";
  memory.name = "Browser memory per registration beyond its tag";
  memory.unit = "B/registration";
  memory.value = (large_kib - base_kib) * 1024 / static_cast<double>(n) - tag;
  memory.baseline_name = "target budget";
  memory.baseline = 200;
  memory.rule = Rule::kValueAtMost;
  memory.target = 200;
  const double anonymous =
      (Percentile(large_anon_kib, 50) - Percentile(base_anon_kib, 50)) * 1024 / static_cast<double>(n) - tag;
  memory.note = absl::StrFormat(
      "VmRSS 500 ms after ready, median of %d: %.0f KiB with %lld registrations, %.0f KiB with the same %d service "
      "workers and none; average tag %.1f B; anonymous memory alone (RssAnon, without the store's tables LevelDB "
      "maps): %.0f B/registration beyond the tag",
      config.startup_runs, large_kib, static_cast<long long>(n), base_kib, config.large.service_workers, tag,
      anonymous);
  PrintFigure(memory);
  return absl::OkStatus();
}

// Figure 3: both browsers up at once, getTags alternating between them.
absl::Status MeasureGetRegistrations(const Config& config, const Profiles& profiles, ProcessLauncher& launcher) {
  const std::string binary = BrowserBinary();
  // No per-session rate limit: the figure is the call's latency, not the limiter's (100 calls/s by default).
  const std::vector<std::string> flags = {"--rate-limit", "0"};
  absl::StatusOr<std::unique_ptr<BrowserProcess>> large =
      BrowserProcess::Start(&launcher, binary, profiles.large, flags, kStartTimeout);
  if (!large.ok())
    return large.status();
  absl::StatusOr<std::unique_ptr<BrowserProcess>> small =
      BrowserProcess::Start(&launcher, binary, profiles.small, flags, kStartTimeout);
  if (!small.ok())
    return small.status();
  const int large_sw = config.large.service_workers / 2;
  const int small_sw = config.small.service_workers / 2;
  RendererSession large_session = OpenRendererSession((*large)->admin(), ScaleOrigin(large_sw));
  RendererSession small_session = OpenRendererSession((*small)->admin(), ScaleOrigin(small_sw));
  if (large_session.token.empty() || small_session.token.empty())
    return absl::InternalError("could not open renderer sessions");
  std::vector<double> large_us, small_us;
  {
    SyncManager large_manager(large_session.channel, large_session.token, large_sw, true);
    SyncManager small_manager(small_session.channel, small_session.token, small_sw, true);
    auto timed = [](SyncManager& manager, int expected, std::vector<double>* samples) -> absl::Status {
      const absl::Time start = absl::Now();
      TagsResult result = manager.GetTagsAndWait();
      const absl::Duration elapsed = absl::Now() - start;
      if (!result.ok())
        return absl::InternalError(absl::StrCat("getTags failed: ", result.exception().message));
      if (static_cast<int>(result.tags().size()) != expected)
        return absl::InternalError(absl::StrCat("getTags returned ", result.tags().size(), " tags"));
      if (samples)
        samples->push_back(absl::ToDoubleMicroseconds(elapsed));
      return absl::OkStatus();
    };
    const int warm_up = config.quick ? 20 : 200;
    for (int i = 0; i < warm_up + config.getregistrations_samples; ++i) {
      const bool counted = i >= warm_up;
      // Alternate which browser goes first, so neither always follows the other's call.
      for (int side = 0; side < 2; ++side) {
        const bool large_now = (side == 0) == (i % 2 == 0);
        absl::Status status =
            large_now
                ? timed(large_manager, config.large.registrations_per_service_worker, counted ? &large_us : nullptr)
                : timed(small_manager, config.small.registrations_per_service_worker, counted ? &small_us : nullptr);
        if (!status.ok())
          return status;
      }
    }
  }
  CloseRendererSession((*large)->admin(), large_session.id);
  CloseRendererSession((*small)->admin(), small_session.id);

  Figure figure;
  figure.id = "3";
  figure.name =
      absl::StrFormat("GetRegistrations p50, %lld registrations across %d SWs",
                      static_cast<long long>(profiles.large_info.registrations), config.large.service_workers);
  figure.unit = "us";
  figure.value = Percentile(large_us, 50);
  figure.baseline_name = absl::StrFormat("same call, %d registrations in total",
                                         config.small.service_workers * config.small.registrations_per_service_worker);
  figure.baseline = Percentile(small_us, 50);
  figure.rule = Rule::kRatioAtMost;
  figure.target = 1.2;
  figure.note = absl::StrFormat(
      "SyncManager.getTags of a service worker with %d tags, %d calls each, alternating, no rate limit; p90 %.0f "
      "vs %.0f us",
      config.large.registrations_per_service_worker, config.getregistrations_samples, Percentile(large_us, 90),
      Percentile(small_us, 90));
  PrintFigure(figure);
  return absl::OkStatus();
}

int Run(const Config& config) {
  if (!config.time_load.empty()) {
    absl::Status status = config.time_load_ranges > 0 ? TimeStoreLoad(config.time_load, config.time_load_ranges)
                                                      : TimeEngineStart(config.time_load);
    return status.ok() ? 0 : Fail(std::string(status.message()));
  }
  if (!config.write_profile.empty()) {
    absl::StatusOr<ScaleProfileInfo> info = WriteScaleProfile(config.write_profile, config.large);
    if (!info.ok())
      return Fail(std::string(info.status().message()));
    std::fprintf(stderr, "wrote %lld registrations to %s\n", static_cast<long long>(info->registrations),
                 config.write_profile.c_str());
    return 0;
  }
  std::string dir = (std::filesystem::temp_directory_path() / "bgsync-bench-scale-XXXXXX").string();
  if (!mkdtemp(dir.data()))
    return Fail("mkdtemp failed");
  absl::Status status;
  {
    ProcessLauncher launcher;  // kills any browser still running when it goes
    absl::StatusOr<Profiles> profiles = MakeProfiles(config, dir);
    status = profiles.status();
    if (status.ok())
      status = MeasureStartupAndMemory(config, *profiles, launcher);
    if (status.ok())
      status = MeasureGetRegistrations(config, *profiles, launcher);
  }
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  return status.ok() ? 0 : Fail(std::string(status.message()));
}

}  // namespace
}  // namespace bench
}  // namespace bgsync

int main(int argc, char** argv) {
  bgsync::bench::Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      config.quick = true;
    } else if (arg == "--write-profile" && i + 1 < argc) {
      config.write_profile = argv[++i];
    } else if (arg == "--time-load" && i + 2 < argc) {
      config.time_load = argv[++i];
      config.time_load_ranges = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bgsync_bench_scale [--quick] [--write-profile DIR] [--time-load PROFILE RANGES]\n");
      return 2;
    }
  }
  if (config.quick) {
    config.large = {200, 100};
    config.startup_runs = 1;
    config.getregistrations_samples = 200;
  }
  return bgsync::bench::Run(config);
}
