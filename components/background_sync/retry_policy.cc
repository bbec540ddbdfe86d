#include "components/background_sync/retry_policy.h"

namespace bgsync {

absl::Duration RetryDelay(const BackgroundSyncParameters& parameters, int failed_attempts) {
  absl::Duration delay = parameters.initial_retry_delay;
  for (int i = 1; i < failed_attempts && delay != absl::InfiniteDuration(); ++i) {
    delay *= parameters.retry_delay_factor;  // absl::Duration saturates at infinity
  }
  return delay;
}

}  // namespace bgsync
