// Builds a bgsync_browser profile with many sync registrations directly on disk, with the product's own encoders
// (ServiceWorkerRegistry for <profile>/ServiceWorkers, SyncRegistrationStore for <profile>/BackgroundSync), so that
// the scale figures do not have to register a million tags through the browser (~14k/s).
//
// Thread-compatible; the functions keep no state.
#ifndef TOOLS_BENCHMARKS_SCALE_SCALE_PROFILE_H_
#define TOOLS_BENCHMARKS_SCALE_SCALE_PROFILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bgsync {
namespace bench {

struct ScaleProfileSpec {
  // Service-worker registrations, one per origin ("https://site-<n>.example", scope origin + "/"), ids 1..N.
  int service_workers = 10000;
  // One-shot registrations per service worker (the engine's quota is 1,000 per service worker, 10,000 per origin).
  int registrations_per_service_worker = 100;
};

// What was written.
struct ScaleProfileInfo {
  int64_t registrations = 0;
  int64_t tag_bytes = 0;  // sum of the tags' lengths
  double average_tag_bytes() const { return registrations ? static_cast<double>(tag_bytes) / registrations : 0; }
};

// The origin of service worker `index` (1-based, equal to its registration id in a fresh profile).
std::string ScaleOrigin(int index);
// The tag of registration `index` (0-based) of a service worker: 16 to 24 bytes.
std::string ScaleTag(int index);

// Writes the profile in `profile` (created; must not hold a profile yet): every service worker installed and active
// (worker command /bin/true: the benchmarks keep the browser offline, so none is launched), and its registrations,
// one-shot, mostly pending, every tenth waiting for a retry an hour from now. Both stores are compacted at the end so
// that every browser start reads the same tables. Returns what was written. Errors: the stores' errors.
absl::StatusOr<ScaleProfileInfo> WriteScaleProfile(const std::string& profile, const ScaleProfileSpec& spec);

// Copies only the service-worker registry of `from` into a new profile `to`: the same service workers, no sync
// registrations (the memory baseline).
absl::Status CopyServiceWorkersOnly(const std::string& from, const std::string& to);

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_SCALE_SCALE_PROFILE_H_
