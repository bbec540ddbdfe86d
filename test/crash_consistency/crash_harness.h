// The crash-consistency harness (issue 5, section 1; promises P1-P3 of reliability.md): the real bgsync_browser,
// SIGKILLed at random moments under load from client processes, restarted on the same profile and compared.
//
// Phase 1, kills while registering: the browser is emulated offline, so every registration stays pending; each of
// N bgsync_crash_client processes registers unique tags, one after another with a short pause, and logs each
// acknowledged one (fdatasync) before counting it. After every kill the harness reads the store as the kill left
// it and the clients' logs; after every restart it reads the browser's "Loaded registrations" line and its
// registration table. Every acknowledged tag must be there, no stored record may vanish or fail to decode, and the
// browser must serve (admin answered, a probe Register answered OK) within the serving limit.
//
// Phase 2, kills while events fire: the browser is online; half the clients register with a service worker whose
// events hang, half with one whose events are held, then rejected when the harness lets them go at a random
// moment. FiringModel checks every registration's life from the worker logs and the stores the kills left:
// interrupted events fire again, attempts and lastChance follow the retry policy and the poison-pill bound, and no
// registration is lost or dispatched after it ran out of attempts.
//
// Kill moments (and release moments) come from a seeded generator: the same seed replays the same schedule (the
// load under it varies with the machine).
#ifndef TEST_CRASH_CONSISTENCY_CRASH_HARNESS_H_
#define TEST_CRASH_CONSISTENCY_CRASH_HARNESS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bgsync {

struct CrashHarnessOptions {
  // Where bgsync_browser, bgsync_test_worker and bgsync_crash_client are.
  std::string binary_dir;
  int clients = 16;
  int registering_kills = 200;  // phase 1
  int firing_kills = 50;        // phase 2; 0 skips it
  uint64_t seed = 1;
  // Kill moments are uniform in [0, max) after the browser serves again.
  absl::Duration max_registering_delay = absl::Milliseconds(300);
  absl::Duration max_firing_delay = absl::Milliseconds(700);
  // Phase 1: service workers per client origin (the engine allows 1,000 registrations per service worker).
  int sws_per_client = 10;
  // Each client's pause after an acknowledged registration, per phase. Unpaced, 16 clients fill a store with
  // ~700 registrations per kill (over 100,000 in a full run, beyond any real profile, and a restart loads all of
  // them); 10 ms keeps several Registers in flight at every kill and the store at tens of thousands.
  absl::Duration registering_client_pause = absl::Milliseconds(10);
  absl::Duration firing_client_pause = absl::Milliseconds(100);
  // A restart slower than this (spawn to the first Register answered OK) is a violation.
  absl::Duration serving_limit = absl::Seconds(2);
  // Profiles, logs and snapshots go here; empty: a fresh temporary directory, removed at the end unless kept or
  // something went wrong. A given directory is never removed.
  std::string work_dir;
  bool keep_work_dir = false;
  // Self-test of the checks: after this phase-1 kill (1-based; 0: never) the harness deletes one acknowledged
  // registration from the profile before the restart, as a lost write would. The run must then report it lost.
  int sabotage_after_kill = 0;
  // One line per kill and phase; may be empty.
  std::function<void(const std::string&)> progress;
};

struct CrashReport {
  uint64_t seed = 0;
  int clients = 0;
  int registering_kills = 0;
  int firing_kills = 0;
  int64_t acknowledged_registering = 0;  // distinct tags the clients logged as answered OK
  int64_t acknowledged_firing = 0;
  int64_t probes_acknowledged = 0;    // the harness's own probe Registers (phase 1 checks them too)
  int64_t unanswered_registers = 0;   // Register calls a kill cut off (outcome unknown, not acknowledged)
  int64_t refused_registers = 0;      // Register calls answered with an error (quota, rate limit, ...)
  std::string refusals;               // which errors, per client
  int64_t stored_at_end = 0;          // phase 1: registrations on disk at the end
  int64_t lost_acknowledged = 0;      // acknowledged registrations missing after a kill or restart
  int64_t lost_unacknowledged = 0;    // stored (never acknowledged) registrations that vanished
  int64_t quarantined_on_disk = 0;    // records of the kill snapshots that do not decode
  int64_t quarantined_at_load = 0;    // the browser's own count at its restarts
  std::vector<double> serving_ms;     // per restart: spawn to the first Register answered OK
  std::vector<double> admin_ms;       // per restart: spawn to the first admin answer
  int64_t deliveries = 0;             // phase 2: sync events the workers received
  int64_t interrupted = 0;            // phase 2: interrupted events that had to fire again
  int64_t refired = 0;                // of those, fired again
  int64_t poison_pill_removals = 0;   // phase 2: removed by the third interruption in a row
  int64_t exhausted_by_failures = 0;  // phase 2: removed after their last chance was rejected
  int max_attempts = 0;               // the browser's --max-attempts in phase 2
  int max_attempts_seen = 0;          // the most failed attempts any stored or listed registration had
  int max_dispatches = 0;             // the most deliveries of one registration
  int64_t lingering_processes = 0;    // kills after which a launched process outlived the browser (killed)
  std::vector<std::string> violations;
  std::string work_dir;
  absl::Duration elapsed;

  bool ok() const { return violations.empty(); }
  // The figures, one per line, then the violations (the first 50).
  std::string Figures() const;
};

// Runs both phases. Errors are failures of the harness itself (a binary missing, a browser that never serves);
// what the browser gets wrong is in the report's violations.
absl::StatusOr<CrashReport> RunCrashHarness(const CrashHarnessOptions& options);

// The nearest-rank percentile (0-100) of `values`; 0 when empty.
double Percentile(std::vector<double> values, double percent);

}  // namespace bgsync

#endif  // TEST_CRASH_CONSISTENCY_CRASH_HARNESS_H_
