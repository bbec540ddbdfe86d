// CompactTime and CompactDuration read back what they were given, within what the store keeps of times.
#include "components/background_sync/compact_time.h"

#include <cstdint>
#include <limits>
#include <sstream>

#include "components/background_sync/retry_policy.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

TEST(CompactTimeTest, KeepsWholeNanosecondsAndInfinitePast) {
  static_assert(sizeof(CompactTime) == 8);
  static_assert(sizeof(CompactDuration) == 8);
  for (absl::Time t :
       {absl::UnixEpoch(), absl::FromUnixNanos(1'800'000'123'456'789'123), absl::FromUnixNanos(-5),
        absl::InfinitePast(), LatestStorableTime(), absl::FromUnixNanos(std::numeric_limits<int64_t>::min() + 1)}) {
    CompactTime compact = t;
    EXPECT_EQ(compact.get(), t);
    EXPECT_EQ(absl::Time(compact), t);
    EXPECT_TRUE(compact == t);
    EXPECT_FALSE(compact != t);
  }
  EXPECT_EQ(CompactTime().get(), absl::UnixEpoch());
  // Sub-nanosecond parts are dropped; the far future reads back as the latest storable time.
  EXPECT_EQ(CompactTime(absl::FromUnixNanos(7) + absl::Nanoseconds(1) / 4).get(), absl::FromUnixNanos(7));
  EXPECT_EQ(CompactTime(absl::InfiniteFuture()).get(), LatestStorableTime());
}

TEST(CompactTimeTest, ComparesAsTheTimeItHolds) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  const CompactTime past = absl::InfinitePast();
  const CompactTime later = now + absl::Minutes(5);
  EXPECT_TRUE(past < later);
  EXPECT_TRUE(now >= past);
  EXPECT_TRUE(now < later);
  EXPECT_TRUE(later > now);
  EXPECT_TRUE(later <= now + absl::Minutes(5));
  EXPECT_TRUE(later >= now + absl::Minutes(5));
  EXPECT_FALSE(later == past);
  EXPECT_EQ(later - now, absl::Minutes(5));
  EXPECT_EQ(later + absl::Seconds(1), now + absl::Minutes(5) + absl::Seconds(1));
  std::ostringstream out;
  out << past;
  EXPECT_EQ(out.str(), "infinite-past");
}

TEST(CompactDurationTest, KeepsWholeNanosecondsAndInfinity) {
  for (absl::Duration d : {absl::ZeroDuration(), absl::Hours(12) + absl::Milliseconds(7), -absl::Nanoseconds(3),
                           absl::InfiniteDuration(), -absl::InfiniteDuration()}) {
    CompactDuration compact = d;
    EXPECT_EQ(compact.get(), d);
    EXPECT_TRUE(compact == d);
  }
  const CompactDuration day = absl::Hours(24);
  EXPECT_TRUE(day > absl::Hours(12));
  EXPECT_TRUE(absl::Hours(48) > day);
  EXPECT_TRUE(day != absl::ZeroDuration());
  EXPECT_EQ(absl::ToInt64Milliseconds(day), 86'400'000);
}

}  // namespace
}  // namespace bgsync
