// The recorder on a real engine (with the fakes of components/background_sync/testing) and a real LevelDB in a
// temporary directory, on a FakeClock: which events are stored, in what order, with what metadata; recording
// across restarts and its three-day expiry; clearing; observers.
#include "browser/devtools/background_service_recorder.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using O = SyncEventOutcome;
using Metadata = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kSw = 1;

class BackgroundServiceRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-devtools-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    registry_.Add(kSw, origin_);
    ASSERT_NO_FATAL_FAILURE(OpenRecorder());
    ASSERT_NO_FATAL_FAILURE(StartEngine());
  }

  void TearDown() override {
    engine_.reset();
    recorder_.reset();
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  void OpenRecorder() {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> storage =
        LevelDbStorageBackend::Open(dir_ + "/BackgroundServices");
    ASSERT_TRUE(storage.ok()) << storage.status();
    absl::StatusOr<std::unique_ptr<BackgroundServiceRecorder>> recorder =
        BackgroundServiceRecorder::Open(&clock_, *std::move(storage));
    ASSERT_TRUE(recorder.ok()) << recorder.status();
    recorder_ = *std::move(recorder);
  }

  void StartEngine() {
    BackgroundSyncEngine::Dependencies deps;
    deps.clock = &clock_;
    deps.network = &network_;
    deps.permissions = &permissions_;
    deps.registry = &registry_;
    deps.dispatcher = &dispatcher_;
    deps.observer = recorder_.get();
    deps.storage = std::make_unique<MemoryStorageBackend>(engine_disk_);
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
        BackgroundSyncEngine::Create(std::move(deps), BackgroundSyncParameters());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  // The browser stops and starts again on the same profile and clock.
  void Restart() {
    engine_.reset();
    recorder_.reset();
    ASSERT_NO_FATAL_FAILURE(OpenRecorder());
    ASSERT_NO_FATAL_FAILURE(StartEngine());
  }

  absl::Status Register(const std::string& tag,
                        SyncType type = SyncType::kOneShot,
                        absl::Duration min_interval = absl::ZeroDuration()) {
    BackgroundSyncEngine::RegisterRequest request;
    request.origin = origin_;
    request.sw_registration_id = kSw;
    request.type = type;
    request.tag = tag;
    request.min_interval = min_interval;
    std::optional<absl::Status> result;
    engine_->Register(std::move(request), [&](absl::Status status) { result = std::move(status); });
    EXPECT_TRUE(result.has_value()) << "Register did not answer synchronously";
    return result.value_or(absl::UnknownError("no answer"));
  }

  absl::Status Unregister(const std::string& tag) {
    std::optional<absl::Status> result;
    engine_->Unregister(origin_, kSw, tag, [&](absl::Status status) { result = std::move(status); });
    EXPECT_TRUE(result.has_value());
    return result.value_or(absl::UnknownError("no answer"));
  }

  // Registers "outbox", fails it twice and completes it at its last chance (Chromium's defaults: 3 attempts,
  // retries after 5 and 15 minutes).
  void RunOneShotLifecycle() {
    ASSERT_TRUE(Register("outbox").ok());
    dispatcher_.SettleLast(O::kRejected);
    clock_.Advance(absl::Minutes(5));
    dispatcher_.SettleLast(O::kRejected);
    clock_.Advance(absl::Minutes(15));
    dispatcher_.SettleLast(O::kCompleted);
  }

  std::vector<RecordedEvent> Events(std::optional<SyncType> service) {
    absl::StatusOr<std::vector<RecordedEvent>> events = recorder_->GetEvents(service);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<RecordedEvent>();
  }

  static std::vector<std::string> Names(const std::vector<RecordedEvent>& events) {
    std::vector<std::string> names;
    for (const RecordedEvent& e : events)
      names.push_back(e.event.event_name);
    return names;
  }

  std::vector<std::string> Names(std::optional<SyncType> service) { return Names(Events(service)); }

  // Every update an observation holds now.
  static std::vector<BackgroundServiceUpdate> Drain(BackgroundServiceObservation& observation) {
    return observation.Wait(absl::ZeroDuration());
  }

  const Origin origin_ = *Origin::Parse("https://mail.example");
  std::string dir_;
  FakeClock clock_;
  const absl::Time start_ = clock_.Now();
  FakeNetworkState network_{true};
  FakePermissionController permissions_;
  FakeServiceWorkerRegistry registry_;
  FakeSyncEventDispatcher dispatcher_;
  std::shared_ptr<MemoryStorageBackend::Storage> engine_disk_ = std::make_shared<MemoryStorageBackend::Storage>();
  std::unique_ptr<BackgroundServiceRecorder> recorder_;
  std::unique_ptr<BackgroundSyncEngine> engine_;
};

TEST(BackgroundServiceNameTest, ParsesDevToolsNames) {
  EXPECT_EQ(ParseBackgroundServiceName("backgroundSync"), SyncType::kOneShot);
  EXPECT_EQ(ParseBackgroundServiceName("periodicBackgroundSync"), SyncType::kPeriodic);
  EXPECT_EQ(ParseBackgroundServiceName("backgroundFetch"), std::nullopt);
  EXPECT_EQ(ParseBackgroundServiceName(""), std::nullopt);
}

TEST_F(BackgroundServiceRecorderTest, OneShotLifecycleIsStoredInOrder) {
  absl::StatusOr<RecordingState> started = recorder_->StartRecording(SyncType::kOneShot);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(started->recording);
  EXPECT_EQ(started->started, start_);
  EXPECT_EQ(started->expires, start_ + absl::Hours(72));

  ASSERT_NO_FATAL_FAILURE(RunOneShotLifecycle());
  std::vector<RecordedEvent> events = Events(SyncType::kOneShot);
  ASSERT_THAT(Names(events),
              ElementsAre("Registered sync", "Dispatched sync event", "sync event failed", "Dispatched sync event",
                          "sync event failed", "Dispatched sync event", "sync event completed", "Sync completed"));
  EXPECT_THAT(events[0].event.metadata, IsEmpty());
  EXPECT_THAT(events[1].event.metadata, ElementsAre(Pair("Last Chance", "No")));
  EXPECT_THAT(events[2].event.metadata,
              ElementsAre(Pair("Failure Reason", "rejected"), Pair("Next Attempt Delay (ms)", "300000")));
  EXPECT_THAT(events[3].event.metadata, ElementsAre(Pair("Last Chance", "No")));
  EXPECT_THAT(events[4].event.metadata,
              ElementsAre(Pair("Failure Reason", "rejected"), Pair("Next Attempt Delay (ms)", "900000")));
  EXPECT_THAT(events[5].event.metadata, ElementsAre(Pair("Last Chance", "Yes")));
  EXPECT_THAT(events[6].event.metadata, IsEmpty());
  EXPECT_THAT(events[7].event.metadata, ElementsAre(Pair("Status", "succeeded")));
  // Timestamps come from the engine's clock: the retries ran 5 and 20 minutes after the start.
  EXPECT_EQ(events[0].event.time, start_);
  EXPECT_EQ(events[3].event.time, start_ + absl::Minutes(5));
  EXPECT_EQ(events[5].event.time, start_ + absl::Minutes(20));
  for (size_t i = 0; i < events.size(); ++i) {
    const BackgroundServiceEvent& e = events[i].event;
    EXPECT_EQ(e.origin, origin_);
    EXPECT_EQ(e.sw_registration_id, kSw);
    EXPECT_EQ(e.service, SyncType::kOneShot);
    EXPECT_EQ(e.instance_id, "outbox");
    EXPECT_EQ(events[i].sequence, i + 1);
  }
  // The periodic service does not record: it has nothing, and both together are the one-shot events.
  EXPECT_THAT(Events(SyncType::kPeriodic), IsEmpty());
  EXPECT_EQ(Names(std::nullopt), Names(events));
  EXPECT_EQ(recorder_->GetCounters().events_recorded, 8);
}

TEST_F(BackgroundServiceRecorderTest, PeriodicLifecycleIsStoredInOrder) {
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kPeriodic).ok());
  ASSERT_TRUE(Register("news", SyncType::kPeriodic, absl::Hours(12)).ok());
  clock_.Advance(absl::Hours(12));
  dispatcher_.SettleLast(O::kCompleted);
  ASSERT_TRUE(Unregister("news").ok());

  std::vector<RecordedEvent> events = Events(SyncType::kPeriodic);
  ASSERT_THAT(Names(events),
              ElementsAre("Registered periodicsync", "Got next event delay", "Dispatched periodicsync event",
                          "periodicsync event completed", "Got next event delay", "Unregistered periodicsync"));
  EXPECT_THAT(events[0].event.metadata, ElementsAre(Pair("minInterval", "43200000")));
  EXPECT_THAT(events[1].event.metadata, ElementsAre(Pair("Next Attempt Delay (ms)", "43200000")));
  EXPECT_THAT(events[2].event.metadata, IsEmpty());
  EXPECT_THAT(events[3].event.metadata, IsEmpty());
  EXPECT_THAT(events[4].event.metadata, ElementsAre(Pair("Next Attempt Delay (ms)", "43200000")));
  EXPECT_EQ(events[2].event.time, start_ + absl::Hours(12));
  for (const RecordedEvent& e : events) {
    EXPECT_EQ(e.event.service, SyncType::kPeriodic);
    EXPECT_EQ(e.event.instance_id, "news");
  }
  EXPECT_THAT(Events(SyncType::kOneShot), IsEmpty());
}

TEST_F(BackgroundServiceRecorderTest, NothingIsStoredWhileNotRecording) {
  EXPECT_FALSE(recorder_->GetRecordingState(SyncType::kOneShot).recording);
  EXPECT_FALSE(recorder_->GetRecordingState(SyncType::kPeriodic).recording);
  ASSERT_NO_FATAL_FAILURE(RunOneShotLifecycle());
  EXPECT_THAT(Events(std::nullopt), IsEmpty());

  // Recording one service stores nothing of the other.
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kPeriodic).ok());
  ASSERT_TRUE(Register("later").ok());
  EXPECT_THAT(Events(std::nullopt), IsEmpty());
  EXPECT_EQ(recorder_->GetCounters().events_recorded, 0);
}

TEST_F(BackgroundServiceRecorderTest, StopKeepsStoredEventsAndStopsStoring) {
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  ASSERT_TRUE(Register("a").ok());  // registered and dispatched
  absl::StatusOr<RecordingState> stopped = recorder_->StopRecording(SyncType::kOneShot);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_FALSE(stopped->recording);
  dispatcher_.SettleLast(O::kCompleted);
  EXPECT_THAT(Names(SyncType::kOneShot), ElementsAre("Registered sync", "Dispatched sync event"));
  // Stopping what does not record is fine.
  EXPECT_TRUE(recorder_->StopRecording(SyncType::kPeriodic).ok());
}

TEST_F(BackgroundServiceRecorderTest, RecordingAndEventsSurviveRestart) {
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  ASSERT_TRUE(Register("outbox").ok());
  clock_.Advance(absl::Minutes(1));  // the event is still in flight (it may run for 3 minutes)
  ASSERT_NO_FATAL_FAILURE(Restart());

  RecordingState state = recorder_->GetRecordingState(SyncType::kOneShot);
  EXPECT_TRUE(state.recording);
  EXPECT_EQ(state.started, start_);
  EXPECT_EQ(state.expires, start_ + absl::Hours(72));
  EXPECT_FALSE(recorder_->GetRecordingState(SyncType::kPeriodic).recording);

  // The event in flight was interrupted by the restart: the new engine dispatches it again. Its events follow the
  // stored ones, with later sequence numbers.
  dispatcher_.SettleLast(O::kCompleted);
  std::vector<RecordedEvent> events = Events(SyncType::kOneShot);
  ASSERT_THAT(Names(events), ElementsAre("Registered sync", "Dispatched sync event", "Dispatched sync event",
                                         "sync event completed", "Sync completed"));
  for (size_t i = 0; i < events.size(); ++i)
    EXPECT_EQ(events[i].sequence, i + 1);
  EXPECT_EQ(events[2].event.time, start_ + absl::Minutes(1));
}

TEST_F(BackgroundServiceRecorderTest, RecordingExpiresThreeDaysAfterItStarted) {
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  absl::StatusOr<std::unique_ptr<BackgroundServiceObservation>> observation =
      recorder_->StartObserving(SyncType::kOneShot);
  ASSERT_TRUE(observation.ok()) << observation.status();
  ASSERT_EQ(Drain(**observation).size(), 1u);  // the current state

  clock_.Advance(absl::Hours(72) - absl::Seconds(1));
  EXPECT_TRUE(recorder_->GetRecordingState(SyncType::kOneShot).recording);
  EXPECT_THAT(Drain(**observation), IsEmpty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(recorder_->GetRecordingState(SyncType::kOneShot).recording);
  // The observer hears of it when it happens (the expiry timer), not at the next event.
  std::vector<BackgroundServiceUpdate> updates = Drain(**observation);
  ASSERT_EQ(updates.size(), 1u);
  ASSERT_TRUE(updates[0].recording_state);
  EXPECT_FALSE(updates[0].recording_state->recording);

  ASSERT_TRUE(Register("late").ok());
  EXPECT_THAT(Events(std::nullopt), IsEmpty());
  // And it stays expired after a restart.
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_FALSE(recorder_->GetRecordingState(SyncType::kOneShot).recording);
}

TEST_F(BackgroundServiceRecorderTest, RecordingThatExpiredWhileTheBrowserWasDownIsOver) {
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kPeriodic).ok());
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  engine_.reset();
  recorder_.reset();
  clock_.SetNow(start_ + absl::Hours(80));
  ASSERT_NO_FATAL_FAILURE(OpenRecorder());
  EXPECT_FALSE(recorder_->GetRecordingState(SyncType::kOneShot).recording);
  EXPECT_FALSE(recorder_->GetRecordingState(SyncType::kPeriodic).recording);
  // Starting again counts three days from now.
  absl::StatusOr<RecordingState> started = recorder_->StartRecording(SyncType::kOneShot);
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->expires, start_ + absl::Hours(80 + 72));
}

TEST_F(BackgroundServiceRecorderTest, ClearEventsDeletesOnlyThatService) {
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kPeriodic).ok());
  ASSERT_TRUE(Register("outbox").ok());
  ASSERT_TRUE(Register("news", SyncType::kPeriodic, absl::Hours(12)).ok());
  ASSERT_EQ(Events(SyncType::kOneShot).size(), 2u);
  ASSERT_EQ(Events(SyncType::kPeriodic).size(), 2u);
  // Both services together, in recording order.
  EXPECT_THAT(Names(std::nullopt), ElementsAre("Registered sync", "Dispatched sync event", "Registered periodicsync",
                                               "Got next event delay"));

  ASSERT_TRUE(recorder_->ClearEvents(SyncType::kOneShot).ok());
  EXPECT_THAT(Events(SyncType::kOneShot), IsEmpty());
  EXPECT_THAT(Names(SyncType::kPeriodic), ElementsAre("Registered periodicsync", "Got next event delay"));
  // Recording goes on, and the cleared events stay gone after a restart.
  dispatcher_.SettleLast(O::kCompleted);
  EXPECT_THAT(Names(SyncType::kOneShot), ElementsAre("sync event completed", "Sync completed"));
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_THAT(Names(SyncType::kOneShot), ElementsAre("sync event completed", "Sync completed"));
  EXPECT_TRUE(recorder_->ClearEvents(SyncType::kOneShot).ok());
  EXPECT_TRUE(recorder_->ClearEvents(SyncType::kOneShot).ok());  // nothing to clear
}

TEST_F(BackgroundServiceRecorderTest, ObserversGetStoredEventsThenNewOnes) {
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  ASSERT_TRUE(Register("outbox").ok());
  absl::StatusOr<std::unique_ptr<BackgroundServiceObservation>> one_shot =
      recorder_->StartObserving(SyncType::kOneShot);
  absl::StatusOr<std::unique_ptr<BackgroundServiceObservation>> periodic =
      recorder_->StartObserving(SyncType::kPeriodic);
  ASSERT_TRUE(one_shot.ok() && periodic.ok());

  // First the recording state, then what is stored.
  std::vector<BackgroundServiceUpdate> updates = Drain(**one_shot);
  ASSERT_EQ(updates.size(), 3u);
  ASSERT_TRUE(updates[0].recording_state);
  EXPECT_TRUE(updates[0].recording_state->recording);
  ASSERT_TRUE(updates[1].event && updates[2].event);
  EXPECT_EQ(updates[1].event->event.event_name, "Registered sync");
  EXPECT_EQ(updates[2].event->event.event_name, "Dispatched sync event");

  // Then each new event, once.
  dispatcher_.SettleLast(O::kCompleted);
  updates = Drain(**one_shot);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].event->event.event_name, "sync event completed");
  EXPECT_EQ(updates[0].event->sequence, 3u);
  EXPECT_EQ(updates[1].event->event.event_name, "Sync completed");

  // The periodic observer saw its (not recording) state and nothing of the one-shot service.
  updates = Drain(**periodic);
  ASSERT_EQ(updates.size(), 1u);
  ASSERT_TRUE(updates[0].recording_state);
  EXPECT_FALSE(updates[0].recording_state->recording);
  EXPECT_EQ(updates[0].recording_state->service, SyncType::kPeriodic);

  // State changes reach the observers of that service.
  ASSERT_TRUE(recorder_->StopRecording(SyncType::kOneShot).ok());
  updates = Drain(**one_shot);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_FALSE(updates[0].recording_state->recording);
  EXPECT_THAT(Drain(**periodic), IsEmpty());

  // Stop observing: the recorder forgets the observation; the other one is closed with the recorder.
  one_shot->reset();
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  engine_.reset();
  recorder_.reset();
  EXPECT_TRUE((*periodic)->closed());
  EXPECT_THAT((*periodic)->Wait(absl::Seconds(10)), IsEmpty());  // returns at once
}

TEST_F(BackgroundServiceRecorderTest, ObservingBothServicesSeesEverythingInOrder) {
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kOneShot).ok());
  absl::StatusOr<std::unique_ptr<BackgroundServiceObservation>> both = recorder_->StartObserving(std::nullopt);
  ASSERT_TRUE(both.ok());
  ASSERT_TRUE(recorder_->StartRecording(SyncType::kPeriodic).ok());
  ASSERT_TRUE(Register("outbox").ok());
  ASSERT_TRUE(Register("news", SyncType::kPeriodic, absl::Hours(12)).ok());
  std::vector<std::string> seen;
  for (const BackgroundServiceUpdate& update : Drain(**both)) {
    if (update.recording_state) {
      seen.push_back(absl::StrCat(BackgroundServiceName(update.recording_state->service),
                                  " recording=", update.recording_state->recording));
    } else {
      seen.push_back(update.event->event.event_name);
    }
  }
  EXPECT_THAT(seen, ElementsAre("backgroundSync recording=1", "periodicBackgroundSync recording=0",
                                "periodicBackgroundSync recording=1", "Registered sync", "Dispatched sync event",
                                "Registered periodicsync", "Got next event delay"));
}

}  // namespace
}  // namespace bgsync
