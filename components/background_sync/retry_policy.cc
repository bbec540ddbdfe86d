#include "components/background_sync/retry_policy.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace bgsync {

absl::Duration RetryDelay(const BackgroundSyncParameters& parameters, int failed_attempts) {
  absl::Duration delay = parameters.initial_retry_delay;
  for (int i = 1; i < failed_attempts && delay != absl::InfiniteDuration(); ++i) {
    delay *= parameters.retry_delay_factor;  // absl::Duration saturates at infinity
  }
  return delay;
}

absl::Time LatestStorableTime() {
  return absl::FromUnixNanos(std::numeric_limits<int64_t>::max());
}

absl::Time NextAttemptTime(const BackgroundSyncParameters& parameters, absl::Time now, int failed_attempts) {
  return std::min(now + RetryDelay(parameters, failed_attempts), LatestStorableTime());
}

}  // namespace bgsync
