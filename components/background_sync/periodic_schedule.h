// The arithmetic of periodic sync scheduling (spec.md, periodic section; chromium.md, periodic scheduling), as pure
// functions. The engine supplies the times; nothing here reads a clock or takes a lock.
#ifndef COMPONENTS_BACKGROUND_SYNC_PERIODIC_SCHEDULE_H_
#define COMPONENTS_BACKGROUND_SYNC_PERIODIC_SCHEDULE_H_

#include <vector>

#include "absl/time/time.h"

namespace bgsync {

// The delay from a registration's anchor to its next event: `min_interval` rounded up to a whole multiple of the
// origin's gap (at least one gap). `gap` must be positive.
absl::Duration PeriodicDelay(absl::Duration min_interval, absl::Duration gap);

// Moves `candidate` so that it is either equal to, or at least `gap` away from, every time in `others` (the
// scheduled times of the origin's other periodic registrations), never earlier than `candidate`: a time due within
// a gap before another is coalesced with it; one due within a gap after another goes to that time + gap.
absl::Time CoalescePeriodicTime(absl::Time candidate, absl::Duration gap, std::vector<absl::Time> others);

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_PERIODIC_SCHEDULE_H_
