// The short crash-consistency run (tools/test): the real bgsync_browser SIGKILLed 20 times while 16 client
// processes register, then 10 times while events fire. The full run is tools/crash-test (README.md).
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "test/crash_consistency/crash_harness.h"

namespace bgsync {
namespace {

std::string BinaryDirectory() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

// BGSYNC_CRASH_SEED replays a schedule; otherwise every run tries a new one (printed, to replay a failure).
uint64_t Seed() {
  uint64_t seed = 0;
  const char* text = std::getenv("BGSYNC_CRASH_SEED");
  if (text && absl::SimpleAtoi(text, &seed))
    return seed;
  return static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
}

TEST(CrashConsistencyTest, ShortRunLosesNothingAndServesAgainQuickly) {
  CrashHarnessOptions options;
  options.binary_dir = BinaryDirectory();
  options.clients = 16;
  options.registering_kills = 20;
  options.firing_kills = 10;
  options.seed = Seed();
  std::cout << "seed " << options.seed << " (replay: BGSYNC_CRASH_SEED=" << options.seed << ")\n";
  RecordProperty("seed", std::to_string(options.seed));

  absl::StatusOr<CrashReport> report = RunCrashHarness(options);
  ASSERT_TRUE(report.ok()) << report.status();
  std::cout << report->Figures();
  EXPECT_TRUE(report->ok()) << "seed " << options.seed;
  EXPECT_EQ(report->lost_acknowledged, 0);
  EXPECT_EQ(report->lost_unacknowledged, 0);
  EXPECT_EQ(report->quarantined_on_disk, 0);
  EXPECT_EQ(report->quarantined_at_load, 0);
  EXPECT_GT(report->acknowledged_registering, 0);
  EXPECT_GT(report->acknowledged_firing, 0);
  EXPECT_EQ(report->serving_ms.size(), 30u);
  EXPECT_GT(report->interrupted, 0);
  EXPECT_EQ(report->refired, report->interrupted);
  EXPECT_LT(report->max_attempts_seen, report->max_attempts);
}

// The checks are not vacuous: an acknowledged registration deleted from the profile between a kill and the restart
// (what a lost write would look like) is reported lost.
TEST(CrashConsistencyTest, ReportsAnAcknowledgedRegistrationThatDisappears) {
  CrashHarnessOptions options;
  options.binary_dir = BinaryDirectory();
  options.clients = 4;
  options.sws_per_client = 1;
  options.registering_kills = 3;
  options.firing_kills = 0;
  options.sabotage_after_kill = 2;
  options.seed = 5;
  // The run reports violations, so the harness keeps its directory: this one is the test's to remove.
  std::string dir = (std::filesystem::temp_directory_path() / "bgsync-crash-selftest-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  options.work_dir = dir;
  absl::StatusOr<CrashReport> report = RunCrashHarness(options);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->lost_acknowledged, 1) << report->Figures();
  ASSERT_FALSE(report->violations.empty());
  EXPECT_NE(report->violations[0].find("LOST: acknowledged registration"), std::string::npos) << report->violations[0];
}

}  // namespace
}  // namespace bgsync
