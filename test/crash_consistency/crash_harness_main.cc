// bgsync_crash_harness: the full crash-consistency run (README.md). tools/crash-test builds and runs it.
//
// Usage: bgsync_crash_harness [options]; --help lists them (kUsage below).
// Prints the figures; exit status 0 when nothing was violated, 1 on any violation, 2 on a bad argument, 3 when
// the harness itself failed.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "test/crash_consistency/crash_harness.h"

namespace bgsync {
namespace {

constexpr char kUsage[] =
    "usage: bgsync_crash_harness [--kills N] [--firing-kills N] [--clients N] [--seed S] [--max-delay-ms MS]\n"
    "                            [--max-firing-delay-ms MS] [--sws-per-client N] [--client-pause-ms MS]\n"
    "                            [--work-dir DIR] [--keep] "
    "[--quiet]\n"
    "  --kills N              kill points while the clients register, browser offline (default 200)\n"
    "  --firing-kills N       kill points while events fire, browser online (default 50; 0 skips the phase)\n"
    "  --clients N            client processes (default 16)\n"
    "  --seed S               the kill schedule's seed (default: a random one; printed either way)\n"
    "  --max-delay-ms MS      kill moments are uniform in [0, MS) after the browser serves again (default 300)\n"
    "  --max-firing-delay-ms MS  the same while events fire (default 700)\n"
    "  --sws-per-client N     service workers per client origin while registering (default 10)\n"
    "  --client-pause-ms MS   each client's pause after an acknowledged registration while registering\n"
    "                         (default 10; 0: as fast as the browser answers)\n"
    "  --work-dir DIR         profiles, logs and snapshots (kept; default: a temporary directory, removed\n"
    "                         after a run without violations)\n"
    "  --keep                 keep the work directory\n"
    "  --quiet                no line per kill\n";

bool ParseFlags(int argc, char** argv, CrashHarnessOptions& options, bool& quiet) {
  bool seeded = false;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    auto number = [&](int64_t& out, int64_t min) {
      return i + 1 < argc && absl::SimpleAtoi(argv[++i], &out) && out >= min;
    };
    int64_t value = 0;
    if (name == "--help" || name == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (name == "--keep") {
      options.keep_work_dir = true;
    } else if (name == "--quiet") {
      quiet = true;
    } else if (name == "--work-dir" && i + 1 < argc) {
      options.work_dir = argv[++i];
    } else if (name == "--seed" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &options.seed))
        return false;
      seeded = true;
    } else if (name == "--kills" && number(value, 1)) {
      options.registering_kills = static_cast<int>(value);
    } else if (name == "--firing-kills" && number(value, 0)) {
      options.firing_kills = static_cast<int>(value);
    } else if (name == "--clients" && number(value, 2)) {
      options.clients = static_cast<int>(value);
    } else if (name == "--max-delay-ms" && number(value, 1)) {
      options.max_registering_delay = absl::Milliseconds(value);
    } else if (name == "--max-firing-delay-ms" && number(value, 1)) {
      options.max_firing_delay = absl::Milliseconds(value);
    } else if (name == "--client-pause-ms" && number(value, 0)) {
      options.registering_client_pause = absl::Milliseconds(value);
    } else if (name == "--sws-per-client" && number(value, 1)) {
      options.sws_per_client = static_cast<int>(value);
    } else {
      return false;
    }
  }
  if (!seeded)
    options.seed = (static_cast<uint64_t>(std::random_device()()) << 20) ^ std::random_device()();
  return true;
}

int Main(int argc, char** argv) {
  CrashHarnessOptions options;
  bool quiet = false;
  if (!ParseFlags(argc, argv, options, quiet)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  options.binary_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  std::printf("bgsync_crash_harness: seed %llu, %d clients, %d + %d kill points\n",
              static_cast<unsigned long long>(options.seed), options.clients, options.registering_kills,
              options.firing_kills);
  std::fflush(stdout);
  if (!quiet) {
    options.progress = [](const std::string& line) {
      std::printf("  %s\n", line.c_str());
      std::fflush(stdout);
    };
  }
  absl::StatusOr<CrashReport> report = RunCrashHarness(options);
  if (!report.ok()) {
    std::fprintf(stderr, "bgsync_crash_harness: %s (seed %llu)\n", report.status().ToString().c_str(),
                 static_cast<unsigned long long>(options.seed));
    return 3;
  }
  std::printf("%s", report->Figures().c_str());
  std::printf("%s\n", report->ok() ? "PASS" : "FAIL");
  return report->ok() ? 0 : 1;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
