// When a failed one-shot attempt is retried.
#ifndef COMPONENTS_BACKGROUND_SYNC_RETRY_POLICY_H_
#define COMPONENTS_BACKGROUND_SYNC_RETRY_POLICY_H_

#include "absl/time/time.h"
#include "components/background_sync/background_sync_parameters.h"

namespace bgsync {

// The wait after the `failed_attempts`-th failed attempt (>= 1):
// initial_retry_delay * retry_delay_factor^(failed_attempts - 1), saturating at absl::InfiniteDuration().
absl::Duration RetryDelay(const BackgroundSyncParameters& parameters, int failed_attempts);

// The latest time the store can represent (int64 nanoseconds since the Unix epoch: April 2262).
absl::Time LatestStorableTime();

// When the next attempt may start after the `failed_attempts`-th failure at `now`: now + RetryDelay(), capped at
// LatestStorableTime() so that memory and disk always hold the same time.
absl::Time NextAttemptTime(const BackgroundSyncParameters& parameters, absl::Time now, int failed_attempts);

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_RETRY_POLICY_H_
