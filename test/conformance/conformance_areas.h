// The cases of each area, in the order they run. Each area lives in its own file.
#ifndef TEST_CONFORMANCE_CONFORMANCE_AREAS_H_
#define TEST_CONFORMANCE_CONFORMANCE_AREAS_H_

#include <vector>

#include "test/conformance/conformance_case.h"

namespace bgsync::conformance {

// SyncManager.register's checks, in order, and their errors (one_shot_register_cases.cc).
std::vector<ConformanceCase> OneShotRegisterCases();
// When one-shot registrations fire, retry and go away (one_shot_firing_cases.cc).
std::vector<ConformanceCase> OneShotFiringCases();
// Persistence across restarts and crashes, and the browser's defaults (restart_cases.cc).
std::vector<ConformanceCase> RestartCases();
// Periodic Background Sync (periodic_cases.cc).
std::vector<ConformanceCase> PeriodicCases();
// When periodic events fire: interval rounding, the origin's gap and coalescing, engagement, batches across origins
// (periodic_scheduling_cases.cc).
std::vector<ConformanceCase> PeriodicSchedulingCases();
// Errors as pages see them, quotas, and the wire protocol's session rules (protocol_cases.cc).
std::vector<ConformanceCase> ProtocolCases();

}  // namespace bgsync::conformance

#endif  // TEST_CONFORMANCE_CONFORMANCE_AREAS_H_
