// DevTools' BackgroundService domain for Background Sync (chromium.md, "DevTools and metrics"): recording of the
// engine's BackgroundServiceEvents per service ("backgroundSync", "periodicBackgroundSync"), their storage, and
// observers that get the stored events and then each new one.
//
// Recording of a service is off until StartRecording; it then lasts three days from the start (Chrome's duration)
// and survives restarts. While a service records, each of its events is stored; events of a service that does not
// record are dropped (the browser's EventLog still gets every event: BackgroundSyncHost feeds it).
//
// Key layout (all keys ASCII) in the recorder's own database (bgsync_browser opens `<profile>/BackgroundServices`):
//   "bs:meta:next_sequence"            -> decimal sequence number the next stored event gets (>= 1, never decreases)
//   "bs:recording:<service>"           -> RecordingStateRecord (proto/background_service_record.proto)
//   "bs:event:<service>:<sequence>"    -> BackgroundServiceEventRecord
// where <service> is the DevTools name and <sequence> 16 lower-case hex digits, so a service's events load in the
// order they were recorded. Each event is written with the advanced counter in one batch.
#ifndef BROWSER_DEVTOOLS_BACKGROUND_SERVICE_RECORDER_H_
#define BROWSER_DEVTOOLS_BACKGROUND_SERVICE_RECORDER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "components/background_sync/background_service_event.h"
#include "components/background_sync/clock.h"
#include "components/background_sync/lifetime_guard.h"
#include "components/background_sync/storage_backend.h"

namespace bgsync {

// How long recording lasts after StartRecording (Chrome's: three days).
inline constexpr absl::Duration kBackgroundServiceRecordingDuration = absl::Hours(72);

// The service a DevTools name denotes: "backgroundSync" is kOneShot, "periodicBackgroundSync" kPeriodic; nullopt
// for any other name. The reverse is BackgroundServiceName (background_service_event.h).
std::optional<SyncType> ParseBackgroundServiceName(absl::string_view name);

// One stored event. Sequence numbers grow in recording order across both services and restarts.
struct RecordedEvent {
  uint64_t sequence = 0;
  BackgroundServiceEvent event;
};

struct RecordingState {
  SyncType service = SyncType::kOneShot;
  bool recording = false;
  // While recording: when it started, and when it stops by itself (started + the recording duration).
  absl::Time started = absl::InfinitePast();
  absl::Time expires = absl::InfinitePast();
};

// What an observer is told, in order: exactly one of the two is set.
struct BackgroundServiceUpdate {
  std::optional<RecordingState> recording_state;  // DevTools' recordingStateChanged
  std::optional<RecordedEvent> event;             // DevTools' backgroundServiceEventReceived
};

// One observer of the recorder (DevTools' startObserving); destroying it is stopObserving. Updates queue up in the
// observation until taken with Wait; beyond kMaxQueued untaken updates the oldest are dropped (and counted).
//
// Thread-safety: every method may be called from any thread. It may outlive the recorder: it is then closed.
class BackgroundServiceObservation {
 public:
  static constexpr size_t kMaxQueued = 100000;

  ~BackgroundServiceObservation();
  BackgroundServiceObservation(const BackgroundServiceObservation&) = delete;
  BackgroundServiceObservation& operator=(const BackgroundServiceObservation&) = delete;

  // Every queued update, oldest first; if none is queued, waits up to `timeout` for one. Returns empty on timeout
  // or once the observation is closed and drained.
  std::vector<BackgroundServiceUpdate> Wait(absl::Duration timeout);
  // True once the recorder is gone: no update will come any more.
  bool closed();
  // Updates dropped because too many queued.
  int64_t dropped();

  // Internal: the state an observation shares with the recorder (which pushes into it under its own lock).
  struct Queue {
    absl::Mutex mu;
    std::deque<BackgroundServiceUpdate> updates ABSL_GUARDED_BY(mu);
    bool closed ABSL_GUARDED_BY(mu) = false;     // the recorder is gone
    bool cancelled ABSL_GUARDED_BY(mu) = false;  // the observation is gone
    int64_t dropped ABSL_GUARDED_BY(mu) = 0;
    void Push(BackgroundServiceUpdate update);
  };

 private:
  friend class BackgroundServiceRecorder;
  explicit BackgroundServiceObservation(std::shared_ptr<Queue> queue) : queue_(std::move(queue)) {}

  const std::shared_ptr<Queue> queue_;
};

// Thread-safety: every method may be called from any thread. The engine calls OnBackgroundServiceEvent from its
// threads; while the event's service records, that call waits for one buffered (not fsync'ed) write of this
// recorder's own database. Recorder operations are serialized with each other and with event recording, so an
// observation's stored events and its live ones neither overlap nor leave a gap.
class BackgroundServiceRecorder : public BackgroundSyncObserver {
 public:
  struct Options {
    absl::Duration recording_duration = kBackgroundServiceRecordingDuration;
  };

  // Loads the recording states from `storage` (owned) and schedules their expiry on `clock` (not owned; must
  // outlive the recorder). A recording that expired while the recorder was not running is stopped (its state
  // deleted) here. Errors: the storage's read or write error; kDataLoss for an unreadable recording state or
  // counter.
  static absl::StatusOr<std::unique_ptr<BackgroundServiceRecorder>> Open(Clock* clock,
                                                                         std::unique_ptr<StorageBackend> storage,
                                                                         Options options);
  static absl::StatusOr<std::unique_ptr<BackgroundServiceRecorder>> Open(Clock* clock,
                                                                         std::unique_ptr<StorageBackend> storage) {
    return Open(clock, std::move(storage), Options());
  }

  // Cancels the expiry timers (waiting for one that runs), closes every observation, then closes the storage.
  ~BackgroundServiceRecorder() override;

  BackgroundServiceRecorder(const BackgroundServiceRecorder&) = delete;
  BackgroundServiceRecorder& operator=(const BackgroundServiceRecorder&) = delete;

  // DevTools' setRecording(true): records `service` from now for the recording duration (again from now if it was
  // already recording). The state is written durably before this returns; observers of the service are told.
  // Errors: the storage's write error (nothing changed).
  absl::StatusOr<RecordingState> StartRecording(SyncType service);
  // setRecording(false). Stored events stay. Errors: the storage's write error (still recording).
  absl::StatusOr<RecordingState> StopRecording(SyncType service);
  RecordingState GetRecordingState(SyncType service);

  // clearEvents: deletes every stored event of `service`. Errors: the storage's read or write error.
  absl::Status ClearEvents(SyncType service);

  // The stored events of `service` (nullopt: of both), in recording order. Records that cannot be decoded are
  // left out (and counted). Errors: the storage's read error.
  absl::StatusOr<std::vector<RecordedEvent>> GetEvents(std::optional<SyncType> service);

  // startObserving `service` (nullopt: both): the observation first holds the recording state of each observed
  // service and every stored event (as GetEvents), then each new event and state change as it happens.
  // Errors: the storage's read error.
  absl::StatusOr<std::unique_ptr<BackgroundServiceObservation>> StartObserving(std::optional<SyncType> service);

  // BackgroundSyncObserver: stores the event if its service records, and tells the observers.
  void OnBackgroundServiceEvent(const BackgroundServiceEvent& event) override;

  struct Counters {
    int64_t events_recorded = 0;
    int64_t write_failures = 0;      // events that could not be stored (observers were still told)
    int64_t unreadable_records = 0;  // stored events GetEvents could not decode
  };
  Counters GetCounters();

 private:
  struct Observer {
    std::optional<SyncType> service;
    std::shared_ptr<BackgroundServiceObservation::Queue> queue;
  };

  BackgroundServiceRecorder(Clock* clock, std::unique_ptr<StorageBackend> storage, Options options);

  absl::StatusOr<std::vector<RecordedEvent>> ReadEvents(std::optional<SyncType> service)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  RecordingState StateOf(SyncType service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops recording `service` if its time is up (deleting its stored state); true if it still records.
  bool RecordingNow(SyncType service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleExpiry(SyncType service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnExpiryTimer(SyncType service);
  void Notify(const BackgroundServiceUpdate& update, SyncType service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const Options options_;
  const std::unique_ptr<StorageBackend> storage_;
  const std::shared_ptr<LifetimeGuard> guard_ = std::make_shared<LifetimeGuard>();

  absl::Mutex mu_;
  // Services that record, with the time recording started.
  std::map<SyncType, absl::Time> started_ ABSL_GUARDED_BY(mu_);
  std::map<SyncType, TimerId> expiry_timers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Observer> observers_ ABSL_GUARDED_BY(mu_);
  Counters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_DEVTOOLS_BACKGROUND_SERVICE_RECORDER_H_
