#include "components/background_sync/periodic_schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace bgsync {

absl::Duration PeriodicDelay(absl::Duration min_interval, absl::Duration gap) {
  if (min_interval <= gap)
    return gap;
  const int64_t gaps = absl::IDivDuration(min_interval, gap, &min_interval);
  // `min_interval` now holds the remainder. A quotient that saturated (an interval beyond what int64 counts in
  // gaps, e.g. an infinite one) has no next gap: the delay is infinite.
  if (gaps == std::numeric_limits<int64_t>::max())
    return absl::InfiniteDuration();
  return gap * (min_interval == absl::ZeroDuration() ? gaps : gaps + 1);
}

absl::Time CoalescePeriodicTime(absl::Time candidate, absl::Duration gap, std::vector<absl::Time> others) {
  std::sort(others.begin(), others.end());
  for (absl::Time other : others) {
    if (candidate <= other - gap || candidate == other)
      continue;
    if (candidate < other) {
      candidate = other;  // due shortly before another event of the origin: fire together
    } else if (candidate < other + gap) {
      candidate = other + gap;  // due shortly after: keep a whole gap
    }
  }
  return candidate;
}

}  // namespace bgsync
