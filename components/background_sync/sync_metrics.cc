#include "components/background_sync/sync_metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace bgsync {
namespace {

std::string BucketLabel(int64_t value) {
  if (value <= 0)
    return "[0,1)";
  int64_t lo = 1;
  while (lo <= value / 2)
    lo *= 2;
  return absl::StrCat("[", lo, ",", lo * 2, ")");
}

}  // namespace

void SyncMetrics::RecordEnum(absl::string_view name, absl::string_view label) {
  absl::MutexLock lock(&mu_);
  auto it = histograms_.find(name);
  if (it == histograms_.end())
    it = histograms_.emplace(std::string(name), Histogram()).first;
  ++it->second.count;
  ++it->second.buckets[std::string(label)];
}

void SyncMetrics::RecordValue(absl::string_view name, int64_t value) {
  value = std::max<int64_t>(value, 0);
  absl::MutexLock lock(&mu_);
  auto it = histograms_.find(name);
  if (it == histograms_.end())
    it = histograms_.emplace(std::string(name), Histogram()).first;
  Histogram& h = it->second;
  h.min = h.count == 0 ? value : std::min(h.min, value);
  h.max = h.count == 0 ? value : std::max(h.max, value);
  ++h.count;
  h.sum += value;
  ++h.buckets[BucketLabel(value)];
}

std::map<std::string, Histogram> SyncMetrics::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return {histograms_.begin(), histograms_.end()};
}

}  // namespace bgsync
