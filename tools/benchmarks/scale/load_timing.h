// Diagnostics behind figure 6a (bgsync_bench_scale --time-load): where a browser start's time goes, measured in this
// process on a profile's sync store, with wall time and CPU time (the machines are shared: CPU time is the steadier
// measure of work). Each prints to stderr; one per process, because a second load would find the first one's freed
// memory in malloc's bins and skip the page faults a browser start pays.
//
// Thread-compatible; the functions keep no state.
#ifndef TOOLS_BENCHMARKS_SCALE_LOAD_TIMING_H_
#define TOOLS_BENCHMARKS_SCALE_LOAD_TIMING_H_

#include <string>

#include "absl/status/status.h"

namespace bgsync {
namespace bench {

// A raw scan of <profile>/BackgroundSync, then SyncRegistrationStore::LoadByServiceWorker in `parallel_reads`
// ranges: times, CPU, the split keys, and the heap and VmRSS after the load. Errors: the store's.
absl::Status TimeStoreLoad(const std::string& profile, int parallel_reads);

// A raw scan, then BackgroundSyncEngine::Create on the store, as the browser's (offline; fakes for its other seams,
// with the service workers of a ScaleProfileSpec of 100 registrations each). Errors: the store's or the engine's.
absl::Status TimeEngineStart(const std::string& profile);

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_SCALE_LOAD_TIMING_H_
