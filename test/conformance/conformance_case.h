// A conformance case: a named function that drives a browser through its public endpoints and says whether the
// browser behaved as spec.md (and the decisions bgsync takes there) requires, with the sequence it observed.
//
//   ConformanceContext context{&browser, parameters, worker_binary, scratch_directory};
//   for (const ConformanceCase& c : AllConformanceCases()) {
//     CaseResult result = RunConformanceCase(c, context);
//     ...  // result.outcome, result.failures (expected vs observed), result.observed (the sequence)
//   }
#ifndef TEST_CONFORMANCE_CONFORMANCE_CASE_H_
#define TEST_CONFORMANCE_CONFORMANCE_CASE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "test/conformance/browser_under_test.h"

namespace bgsync::conformance {

class CaseRun;

// What a case runs against.
struct ConformanceContext {
  // The browser under test. Not owned; outlives every case run with this context.
  BrowserUnderTest* browser = nullptr;
  // What the browser was started with (the cases derive expectations from it).
  BrowserParameters parameters;
  // The bgsync_test_worker binary: cases install it as the service workers' command, with per-case flags.
  std::string worker_binary;
  // A directory the browser's worker processes can write to (their event logs) and the suite can read.
  std::string scratch_directory;
  // Starts a separate bgsync_browser on a fresh profile with `flags` (the launched browser's own, on top of
  // --profile, --no-netlink and --offline); empty when the suite may not launch browsers (it runs against a
  // browser someone else started).
  std::function<absl::StatusOr<std::unique_ptr<LaunchedBrowser>>(std::vector<std::string> flags)> launch_browser;
  // The browser event log's sequence number read up to (kept by the cases, so each reads only its own part).
  uint64_t log_cursor = 0;
};

// What a case needs beyond a browser speaking the IDL.
enum class CaseNeeds {
  kAnyBrowser,
  // Restarts or kills the browser under test: only a browser the suite launched.
  kRestart,
  // Launches a browser of its own (with other parameters): only when the suite may launch browsers.
  kOwnBrowser,
};

struct ConformanceCase {
  std::string name;    // e.g. "one-shot/register/tag-length"; [a-z0-9/-] only
  std::string covers;  // what it checks, with the spec.md branch or decision, for the README and --list
  CaseNeeds needs = CaseNeeds::kAnyBrowser;
  std::function<void(CaseRun&)> body;
};

struct CaseResult {
  enum class Outcome { kPassed, kFailed, kSkipped };
  Outcome outcome = Outcome::kPassed;
  // kSkipped: why.
  std::string skip_reason;
  // kFailed: each unmet expectation as "expected ...; observed ...".
  std::vector<std::string> failures;
  // What happened, in order: the case's calls and what it saw ("+12ms register "outbox" -> ok"), then what each
  // of its workers received and the browser's event log for its service workers.
  std::vector<std::string> observed;
  absl::Duration duration;
};

// Runs `c` (or skips it when `context` cannot give it what it needs). Never throws; a case that cannot set up
// fails with the reason.
CaseResult RunConformanceCase(const ConformanceCase& c, ConformanceContext& context);

// Every case, in a stable order (areas: one-shot register checks, one-shot firing, restarts, periodic, periodic
// scheduling, errors and protocol).
const std::vector<ConformanceCase>& AllConformanceCases();

// The cases whose name contains `filter` (every case when it is empty). A filter of several comma-separated parts
// selects a case matching any of them; a part starting with '-' excludes.
std::vector<const ConformanceCase*> SelectCases(const std::string& filter);

}  // namespace bgsync::conformance

#endif  // TEST_CONFORMANCE_CONFORMANCE_CASE_H_
