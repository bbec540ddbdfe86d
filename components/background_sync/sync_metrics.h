// Counters named after Chromium's UMA histograms (chromium.md, metrics), so a dashboard built for Chrome reads
// ours. Two kinds: enumerations (a count per label) and values (count, sum, min, max and power-of-two buckets).
//
// Names recorded by the engine:
//   BackgroundSync.Registration.OneShot / .Periodic            label: "OK" or the SyncError name
//   BackgroundSync.Registration.OneShot.IsDuplicate / Periodic  label: "true" / "false" (successful registers)
//   BackgroundSync.Registration.OneShot.CouldFire               label: "true" / "false" (online when registered)
//   BackgroundSync.Event.OneShotResultPattern / PeriodicResultPattern
//        label: "succeeded-foreground", "succeeded-background", "failed-foreground", "failed-background"
//   BackgroundSync.Event.Time                                   value: ms from dispatch to outcome
//   BackgroundSync.Event.OneShot.BatchSize / Periodic.BatchSize  value: events started together
//   BackgroundSync.Event.OneShot.NumAttemptsForSuccessfulEvent  value: attempts the successful event took
#ifndef COMPONENTS_BACKGROUND_SYNC_SYNC_METRICS_H_
#define COMPONENTS_BACKGROUND_SYNC_SYNC_METRICS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace bgsync {

struct Histogram {
  int64_t count = 0;
  // Value histograms only.
  int64_t sum = 0;
  int64_t min = 0;
  int64_t max = 0;
  // Enumerations: label -> count. Values: "[lo,hi)" power-of-two ranges ("[0,1)", "[1,2)", "[2,4)", ...) -> count.
  std::map<std::string, int64_t> buckets;
};

// Thread-safety: every method may be called from any thread.
class SyncMetrics {
 public:
  void RecordEnum(absl::string_view name, absl::string_view label);
  // Negative values are recorded as 0.
  void RecordValue(absl::string_view name, int64_t value);

  // Everything recorded so far, by name.
  std::map<std::string, Histogram> Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Histogram, std::less<>> histograms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_SYNC_METRICS_H_
