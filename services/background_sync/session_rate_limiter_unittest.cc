#include "services/background_sync/session_rate_limiter.h"

#include <string>
#include <vector>

#include "components/background_sync/testing/fake_clock.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

Session MakeSession(uint64_t id) {
  Session session;
  session.id = id;
  session.origin = *Origin::Parse("https://mail.example");
  return session;
}

TEST(SessionRateLimiterTest, ABurstThenTheSustainedRate) {
  FakeClock clock;
  std::vector<std::string> log;
  SessionRateLimiter limiter(&clock, {/*calls_per_second=*/100, /*burst=*/200},
                             [&log](const std::string& line) { log.push_back(line); });
  const Session session = MakeSession(1);
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(limiter.TryAcquire(session)) << i;
  EXPECT_FALSE(limiter.TryAcquire(session));
  EXPECT_FALSE(limiter.TryAcquire(session));
  EXPECT_EQ(limiter.refused(), 2);
  ASSERT_EQ(log.size(), 1u) << "one line per session, not per refused call";
  EXPECT_NE(log[0].find("session 1 (https://mail.example"), std::string::npos) << log[0];

  // 100 calls/s: 10 ms buys exactly one call.
  clock.Advance(absl::Milliseconds(10));
  EXPECT_TRUE(limiter.TryAcquire(session));
  EXPECT_FALSE(limiter.TryAcquire(session));
  // Over one second at most 100 more calls get through, however many are tried.
  int admitted = 0;
  for (int ms = 0; ms < 1000; ++ms) {
    clock.Advance(absl::Milliseconds(1));
    for (int i = 0; i < 100; ++i)
      admitted += limiter.TryAcquire(session) ? 1 : 0;
  }
  EXPECT_EQ(admitted, 100);
  EXPECT_EQ(log.size(), 1u);
}

TEST(SessionRateLimiterTest, SessionsHaveTheirOwnBuckets) {
  FakeClock clock;
  SessionRateLimiter limiter(&clock, {10, 20});
  const Session flooder = MakeSession(1);
  const Session polite = MakeSession(2);
  for (int i = 0; i < 1000; ++i)
    limiter.TryAcquire(flooder);
  for (int i = 0; i < 20; ++i)
    EXPECT_TRUE(limiter.TryAcquire(polite)) << i;
}

TEST(SessionRateLimiterTest, TheBucketRefillsOnlyUpToTheBurst) {
  FakeClock clock;
  SessionRateLimiter limiter(&clock, {100, 5});
  const Session session = MakeSession(1);
  EXPECT_TRUE(limiter.TryAcquire(session));
  clock.Advance(absl::Hours(1));
  int admitted = 0;
  for (int i = 0; i < 100; ++i)
    admitted += limiter.TryAcquire(session) ? 1 : 0;
  EXPECT_EQ(admitted, 5);
}

TEST(SessionRateLimiterTest, AClockSteppingBackDoesNotDrainOrRefill) {
  FakeClock clock;
  SessionRateLimiter limiter(&clock, {1, 2});
  const Session session = MakeSession(1);
  EXPECT_TRUE(limiter.TryAcquire(session));
  clock.SetNow(clock.Now() - absl::Hours(1));
  EXPECT_TRUE(limiter.TryAcquire(session));
  EXPECT_FALSE(limiter.TryAcquire(session));
}

TEST(SessionRateLimiterTest, ForgottenSessionsFreeTheirBucket) {
  FakeClock clock;
  SessionRateLimiter limiter(&clock, {100, 200});
  for (uint64_t id = 1; id <= 1000; ++id)
    limiter.TryAcquire(MakeSession(id));
  EXPECT_EQ(limiter.tracked_sessions(), 1000u);
  for (uint64_t id = 1; id <= 1000; ++id)
    limiter.Forget(id);
  EXPECT_EQ(limiter.tracked_sessions(), 0u);
}

// However many calls a session keeps in flight, its refusals come back oldest first and at most at its rate, each
// at least the refusal delay after it was made; another session's refusals do not wait behind them.
TEST(SessionRateLimiterTest, ASessionsRefusalsAreAnsweredAtItsRate) {
  FakeClock clock;
  SessionRateLimiter limiter(&clock, {/*calls_per_second=*/100, /*burst=*/1, absl::Milliseconds(250)});
  const Session flooder = MakeSession(1);
  const Session other = MakeSession(2);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(limiter.TryAcquire(flooder));
  ASSERT_FALSE(limiter.TryAcquire(flooder));
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(limiter.RefusalDue(flooder, t0), t0 + absl::Milliseconds(250 + 10 * i)) << i;
  // 1,000 refusals take 10 s to come back; a refusal made later still queues behind them.
  EXPECT_EQ(limiter.RefusalDue(flooder, t0 + absl::Seconds(5)), t0 + absl::Milliseconds(250 + 10'000));
  ASSERT_TRUE(limiter.TryAcquire(other));
  ASSERT_FALSE(limiter.TryAcquire(other));
  EXPECT_EQ(limiter.RefusalDue(other, t0), t0 + absl::Milliseconds(250));
  // A session quiet for longer than its queue starts afresh.
  EXPECT_EQ(limiter.RefusalDue(other, t0 + absl::Hours(1)), t0 + absl::Hours(1) + absl::Milliseconds(250));
  // An ended session books nothing: its refusals (and those of a session never seen) wait the delay alone.
  limiter.Forget(flooder.id);
  EXPECT_EQ(limiter.RefusalDue(flooder, t0), t0 + absl::Milliseconds(250));
  EXPECT_EQ(limiter.RefusalDue(flooder, t0), t0 + absl::Milliseconds(250));
  EXPECT_EQ(limiter.tracked_sessions(), 1u);
}

TEST(SessionRateLimiterTest, ZeroRateIsNoLimit) {
  FakeClock clock;
  SessionRateLimiter limiter(&clock, {0, 1});
  const Session session = MakeSession(1);
  for (int i = 0; i < 10000; ++i)
    ASSERT_TRUE(limiter.TryAcquire(session));
  EXPECT_EQ(limiter.refused(), 0);
  EXPECT_EQ(limiter.tracked_sessions(), 0u);
}

}  // namespace
}  // namespace bgsync
