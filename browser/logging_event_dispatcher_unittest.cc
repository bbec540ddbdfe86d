#include "browser/logging_event_dispatcher.h"

#include <string>
#include <vector>

#include "components/background_sync/testing/fake_sync_event_dispatcher.h"
#include "components/background_sync/testing/recording_observer.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

TEST(LoggingObserverTest, AppendsEachEventToTheLogAndForwardsIt) {
  EventLog log;
  RecordingObserver next;
  LoggingObserver observer(&log, &next);
  BackgroundServiceEvent event;
  event.time = absl::FromUnixSeconds(1'800'000'000);
  event.origin = *Origin::Parse("https://mail.example");
  event.sw_registration_id = 7;
  event.event_name = "sync event failed";
  event.instance_id = "outbox";
  event.metadata = {{"Failure Reason", "rejected"}, {"Next Attempt Delay (ms)", "300000"}};
  observer.OnBackgroundServiceEvent(event);

  std::vector<LogEntry> entries = log.Since(0);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].time, event.time);
  EXPECT_EQ(entries[0].origin, "https://mail.example");
  EXPECT_EQ(entries[0].sw_registration_id, 7);
  EXPECT_EQ(entries[0].event, "sync event failed");
  EXPECT_EQ(entries[0].tag, "outbox");
  EXPECT_EQ(entries[0].detail, "Failure Reason=rejected, Next Attempt Delay (ms)=300000");
  ASSERT_EQ(next.names(), std::vector<std::string>{"sync event failed"});

  LoggingObserver alone(&log, nullptr);
  alone.OnBackgroundServiceEvent(event);
  EXPECT_EQ(log.Since(0).size(), 2u);
}

TEST(LoggingEventDispatcherTest, LogsDirectDispatchesAndTheirOutcomes) {
  EventLog log;
  FakeSyncEventDispatcher inner;
  LoggingEventDispatcher dispatcher(&inner, &log);
  SyncEventRequest request;
  request.sw_registration_id = 3;
  request.origin = *Origin::Parse("https://mail.example");
  request.tag = "outbox";
  request.last_chance = true;
  std::optional<SyncEventOutcome> outcome;
  dispatcher.DispatchSyncEvent(request, [&](SyncEventOutcome o) { outcome = o; });
  inner.SettleLast(SyncEventOutcome::kRejected);
  EXPECT_EQ(outcome, SyncEventOutcome::kRejected);

  request.type = SyncType::kPeriodic;
  request.last_chance = false;
  dispatcher.DispatchSyncEvent(request, [](SyncEventOutcome) {});
  inner.SettleLast(SyncEventOutcome::kCompleted);

  std::vector<std::string> lines;
  for (const LogEntry& e : log.Since(0))
    lines.push_back(e.event + " | " + e.detail);
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "DevTools dispatched sync event | Last Chance=Yes",
                       "DevTools sync event failed | outcome=rejected",
                       "DevTools dispatched periodicsync event | ",
                       "DevTools periodicsync event completed | outcome=completed",
                   }));
}

}  // namespace
}  // namespace bgsync
