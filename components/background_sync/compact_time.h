// absl::Time and absl::Duration in 8 bytes instead of 16, for the fields of SyncRegistration, of which the browser may
// hold a million: whole nanoseconds in an int64, which is what the store keeps of them anyway (the record format's
// *_unix_ns and *_ms fields).
//
// CompactTime holds absl::InfinitePast() or a time in whole nanoseconds since the Unix epoch. Sub-nanosecond parts
// are dropped; times from LatestStorableTime() (April 2262, retry_policy.h) on, absl::InfiniteFuture() included, read
// back as LatestStorableTime(), and times before September 1677 as InfinitePast(). CompactDuration holds whole
// nanoseconds; absl::InfiniteDuration() and durations beyond ±292 years read back as ±InfiniteDuration().
//
// Both convert implicitly to and from the absl types and compare with them, so that a field declared as one reads
// as an absl::Time (or absl::Duration) in expressions. Value types; thread-compatible.
#ifndef COMPONENTS_BACKGROUND_SYNC_COMPACT_TIME_H_
#define COMPONENTS_BACKGROUND_SYNC_COMPACT_TIME_H_

#include <cstdint>
#include <limits>
#include <ostream>

#include "absl/time/time.h"

namespace bgsync {

class CompactTime {
 public:
  // The Unix epoch, as absl::Time().
  constexpr CompactTime() = default;
  CompactTime(absl::Time time)  // NOLINT(runtime/explicit)
      : nanos_(time == absl::InfinitePast() ? kPast : absl::ToUnixNanos(time)) {}

  absl::Time get() const { return nanos_ == kPast ? absl::InfinitePast() : absl::FromUnixNanos(nanos_); }
  operator absl::Time() const { return get(); }  // NOLINT(runtime/explicit)

  friend bool operator==(CompactTime a, CompactTime b) { return a.nanos_ == b.nanos_; }
  friend bool operator!=(CompactTime a, CompactTime b) { return a.nanos_ != b.nanos_; }
  friend bool operator<(CompactTime a, CompactTime b) { return a.nanos_ < b.nanos_; }
  friend bool operator<=(CompactTime a, CompactTime b) { return a.nanos_ <= b.nanos_; }
  friend bool operator>(CompactTime a, CompactTime b) { return a.nanos_ > b.nanos_; }
  friend bool operator>=(CompactTime a, CompactTime b) { return a.nanos_ >= b.nanos_; }
  // Against an absl::Time: as the absl::Time this one reads back as.
  friend bool operator==(CompactTime a, absl::Time b) { return a.get() == b; }
  friend bool operator!=(CompactTime a, absl::Time b) { return a.get() != b; }
  friend bool operator<(CompactTime a, absl::Time b) { return a.get() < b; }
  friend bool operator<=(CompactTime a, absl::Time b) { return a.get() <= b; }
  friend bool operator>(CompactTime a, absl::Time b) { return a.get() > b; }
  friend bool operator>=(CompactTime a, absl::Time b) { return a.get() >= b; }
  friend bool operator==(absl::Time a, CompactTime b) { return a == b.get(); }
  friend bool operator!=(absl::Time a, CompactTime b) { return a != b.get(); }
  friend bool operator<(absl::Time a, CompactTime b) { return a < b.get(); }
  friend bool operator<=(absl::Time a, CompactTime b) { return a <= b.get(); }
  friend bool operator>(absl::Time a, CompactTime b) { return a > b.get(); }
  friend bool operator>=(absl::Time a, CompactTime b) { return a >= b.get(); }
  // For test failure messages.
  friend std::ostream& operator<<(std::ostream& out, CompactTime t) { return out << t.get(); }

 private:
  // ToUnixNanos saturates, so int64 min is a time before 1677: it stands for InfinitePast.
  static constexpr int64_t kPast = std::numeric_limits<int64_t>::min();

  int64_t nanos_ = 0;
};

class CompactDuration {
 public:
  constexpr CompactDuration() = default;    // zero
  CompactDuration(absl::Duration duration)  // NOLINT(runtime/explicit)
      : nanos_(absl::ToInt64Nanoseconds(duration)) {}

  absl::Duration get() const {
    if (nanos_ == std::numeric_limits<int64_t>::max())
      return absl::InfiniteDuration();
    if (nanos_ == std::numeric_limits<int64_t>::min())
      return -absl::InfiniteDuration();
    return absl::Nanoseconds(nanos_);
  }
  operator absl::Duration() const { return get(); }  // NOLINT(runtime/explicit)

  friend bool operator==(CompactDuration a, CompactDuration b) { return a.nanos_ == b.nanos_; }
  friend bool operator!=(CompactDuration a, CompactDuration b) { return a.nanos_ != b.nanos_; }
  friend bool operator<(CompactDuration a, CompactDuration b) { return a.nanos_ < b.nanos_; }
  friend bool operator==(CompactDuration a, absl::Duration b) { return a.get() == b; }
  friend bool operator!=(CompactDuration a, absl::Duration b) { return a.get() != b; }
  friend bool operator<(CompactDuration a, absl::Duration b) { return a.get() < b; }
  friend bool operator<=(CompactDuration a, absl::Duration b) { return a.get() <= b; }
  friend bool operator>(CompactDuration a, absl::Duration b) { return a.get() > b; }
  friend bool operator>=(CompactDuration a, absl::Duration b) { return a.get() >= b; }
  friend bool operator==(absl::Duration a, CompactDuration b) { return a == b.get(); }
  friend bool operator!=(absl::Duration a, CompactDuration b) { return a != b.get(); }
  friend bool operator<(absl::Duration a, CompactDuration b) { return a < b.get(); }
  friend bool operator<=(absl::Duration a, CompactDuration b) { return a <= b.get(); }
  friend bool operator>(absl::Duration a, CompactDuration b) { return a > b.get(); }
  friend bool operator>=(absl::Duration a, CompactDuration b) { return a >= b.get(); }
  friend std::ostream& operator<<(std::ostream& out, CompactDuration d) { return out << d.get(); }

 private:
  int64_t nanos_ = 0;  // ToInt64Nanoseconds saturates: int64 max and min are ±InfiniteDuration
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_COMPACT_TIME_H_
