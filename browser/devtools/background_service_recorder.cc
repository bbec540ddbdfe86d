#include "browser/devtools/background_service_recorder.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "browser/devtools/proto/background_service_record.pb.h"
#include "components/background_sync/storage_key_id.h"

namespace bgsync {
namespace {

constexpr char kNextSequenceKey[] = "bs:meta:next_sequence";
constexpr char kRecordingPrefix[] = "bs:recording:";
constexpr char kEventPrefix[] = "bs:event:";

constexpr SyncType kServices[] = {SyncType::kOneShot, SyncType::kPeriodic};

std::string RecordingKey(SyncType service) {
  return absl::StrCat(kRecordingPrefix, BackgroundServiceName(service));
}

// "bs:event:" for both services, "bs:event:<service>:" for one.
std::string EventPrefix(std::optional<SyncType> service) {
  return service ? absl::StrCat(kEventPrefix, BackgroundServiceName(*service), ":") : kEventPrefix;
}

std::string EventKey(SyncType service, uint64_t sequence) {
  return absl::StrCat(EventPrefix(service), EncodeStorageKeyId(static_cast<int64_t>(sequence)));
}

std::string Serialize(const BackgroundServiceEvent& event) {
  storage::BackgroundServiceEventRecord record;
  record.set_time_unix_micros(absl::ToUnixMicros(event.time));
  record.set_origin(event.origin.Serialize());
  record.set_service_worker_registration_id(event.sw_registration_id);
  record.set_service(static_cast<int32_t>(event.service));
  record.set_event_name(event.event_name);
  record.set_instance_id(event.instance_id);
  for (const auto& [key, value] : event.metadata) {
    storage::EventMetadataEntry* entry = record.add_metadata();
    entry->set_key(key);
    entry->set_value(value);
  }
  return record.SerializeAsString();
}

// The event stored under `key` with `value`, or nullopt if either is not what the recorder writes.
std::optional<RecordedEvent> Parse(absl::string_view key, const std::string& value) {
  // key: "bs:event:<service>:<16 hex digits>"
  key.remove_prefix(std::string(kEventPrefix).size());
  const size_t colon = key.find(':');
  if (colon == absl::string_view::npos)
    return std::nullopt;
  std::optional<SyncType> service = ParseBackgroundServiceName(key.substr(0, colon));
  std::optional<int64_t> sequence = DecodeStorageKeyId(key.substr(colon + 1));
  storage::BackgroundServiceEventRecord record;
  if (!service || !sequence || *sequence <= 0 || !record.ParseFromString(value) ||
      record.service() != static_cast<int32_t>(*service)) {
    return std::nullopt;
  }
  absl::StatusOr<Origin> origin = Origin::Parse(record.origin());
  if (!origin.ok())
    return std::nullopt;
  RecordedEvent recorded;
  recorded.sequence = static_cast<uint64_t>(*sequence);
  BackgroundServiceEvent& event = recorded.event;
  event.time = absl::FromUnixMicros(record.time_unix_micros());
  event.origin = *std::move(origin);
  event.sw_registration_id = record.service_worker_registration_id();
  event.service = *service;
  event.event_name = record.event_name();
  event.instance_id = record.instance_id();
  for (const storage::EventMetadataEntry& entry : record.metadata())
    event.metadata.emplace_back(entry.key(), entry.value());
  return recorded;
}

}  // namespace

std::optional<SyncType> ParseBackgroundServiceName(absl::string_view name) {
  for (SyncType service : kServices) {
    if (BackgroundServiceName(service) == name)
      return service;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------------------
// BackgroundServiceObservation

void BackgroundServiceObservation::Queue::Push(BackgroundServiceUpdate update) {
  absl::MutexLock lock(&mu);
  if (cancelled || closed)
    return;
  updates.push_back(std::move(update));
  while (updates.size() > kMaxQueued) {
    updates.pop_front();
    ++dropped;
  }
}

BackgroundServiceObservation::~BackgroundServiceObservation() {
  absl::MutexLock lock(&queue_->mu);
  queue_->cancelled = true;
  queue_->updates.clear();
}

std::vector<BackgroundServiceUpdate> BackgroundServiceObservation::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&queue_->mu);
  Queue* queue = queue_.get();
  auto ready = [queue]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue->mu) { return queue->closed || !queue->updates.empty(); };
  queue_->mu.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<BackgroundServiceUpdate> updates(std::make_move_iterator(queue_->updates.begin()),
                                               std::make_move_iterator(queue_->updates.end()));
  queue_->updates.clear();
  return updates;
}

bool BackgroundServiceObservation::closed() {
  absl::MutexLock lock(&queue_->mu);
  return queue_->closed;
}

int64_t BackgroundServiceObservation::dropped() {
  absl::MutexLock lock(&queue_->mu);
  return queue_->dropped;
}

// ---------------------------------------------------------------------------------------------------------------
// BackgroundServiceRecorder

BackgroundServiceRecorder::BackgroundServiceRecorder(Clock* clock,
                                                     std::unique_ptr<StorageBackend> storage,
                                                     Options options)
    : clock_(clock), options_(options), storage_(std::move(storage)) {}

absl::StatusOr<std::unique_ptr<BackgroundServiceRecorder>>
BackgroundServiceRecorder::Open(Clock* clock, std::unique_ptr<StorageBackend> storage, Options options) {
  std::unique_ptr<BackgroundServiceRecorder> recorder(
      new BackgroundServiceRecorder(clock, std::move(storage), options));
  BackgroundServiceRecorder& r = *recorder;
  absl::MutexLock lock(&r.mu_);

  absl::StatusOr<StorageBackend::KeyValues> meta = r.storage_->ReadPrefix(kNextSequenceKey);
  if (!meta.ok())
    return meta.status();
  for (const auto& [key, value] : *meta) {
    if (key != kNextSequenceKey)
      continue;
    if (!absl::SimpleAtoi(value, &r.next_sequence_) || r.next_sequence_ == 0)
      return absl::DataLossError(absl::StrCat("unreadable ", key, ": \"", value, "\""));
  }

  absl::StatusOr<StorageBackend::KeyValues> states = r.storage_->ReadPrefix(kRecordingPrefix);
  if (!states.ok())
    return states.status();
  StorageBatch expired;
  for (const auto& [key, value] : *states) {
    std::optional<SyncType> service =
        ParseBackgroundServiceName(absl::string_view(key).substr(std::string(kRecordingPrefix).size()));
    storage::RecordingStateRecord record;
    if (!service || !record.ParseFromString(value))
      return absl::DataLossError(absl::StrCat("unreadable recording state ", key));
    const absl::Time started = absl::FromUnixMicros(record.started_unix_micros());
    if (clock->Now() >= started + options.recording_duration) {
      expired.Delete(key);
      continue;
    }
    r.started_[*service] = started;
  }
  if (!expired.empty()) {
    if (absl::Status status = CommitAndWait(*r.storage_, std::move(expired), Durability::kDurable); !status.ok())
      return status;
  }
  for (const auto& [service, started] : r.started_)
    r.ScheduleExpiry(service);
  return recorder;
}

BackgroundServiceRecorder::~BackgroundServiceRecorder() {
  guard_->Invalidate();
  absl::MutexLock lock(&mu_);
  for (const auto& [service, timer] : expiry_timers_)
    clock_->Cancel(timer);
  for (Observer& observer : observers_) {
    absl::MutexLock queue_lock(&observer.queue->mu);
    observer.queue->closed = true;
  }
}

RecordingState BackgroundServiceRecorder::StateOf(SyncType service) {
  RecordingState state;
  state.service = service;
  if (auto it = started_.find(service); it != started_.end()) {
    state.recording = true;
    state.started = it->second;
    state.expires = it->second + options_.recording_duration;
  }
  return state;
}

bool BackgroundServiceRecorder::RecordingNow(SyncType service) {
  auto it = started_.find(service);
  if (it == started_.end())
    return false;
  if (clock_->Now() < it->second + options_.recording_duration)
    return true;
  // Time is up (the timer may not have run yet). The state is deleted from storage; if that fails the recording
  // is still over, and the next Open finds it expired.
  StorageBatch batch;
  batch.Delete(RecordingKey(service));
  CommitAndWait(*storage_, std::move(batch), Durability::kDurable).IgnoreError();
  started_.erase(it);
  if (auto timer = expiry_timers_.find(service); timer != expiry_timers_.end()) {
    clock_->Cancel(timer->second);
    expiry_timers_.erase(timer);
  }
  Notify({StateOf(service), std::nullopt}, service);
  return false;
}

void BackgroundServiceRecorder::ScheduleExpiry(SyncType service) {
  if (auto timer = expiry_timers_.find(service); timer != expiry_timers_.end())
    clock_->Cancel(timer->second);
  expiry_timers_[service] = clock_->PostAt(
      started_.at(service) + options_.recording_duration,
      [this, guard = guard_, service] { RunIfAlive(guard, [this, service] { OnExpiryTimer(service); }); });
}

void BackgroundServiceRecorder::OnExpiryTimer(SyncType service) {
  absl::MutexLock lock(&mu_);
  RecordingNow(service);
}

absl::StatusOr<RecordingState> BackgroundServiceRecorder::StartRecording(SyncType service) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  storage::RecordingStateRecord record;
  record.set_started_unix_micros(absl::ToUnixMicros(now));
  StorageBatch batch;
  batch.Put(RecordingKey(service), record.SerializeAsString());
  if (absl::Status status = CommitAndWait(*storage_, std::move(batch), Durability::kDurable); !status.ok())
    return status;
  started_[service] = now;
  ScheduleExpiry(service);
  RecordingState state = StateOf(service);
  Notify({state, std::nullopt}, service);
  return state;
}

absl::StatusOr<RecordingState> BackgroundServiceRecorder::StopRecording(SyncType service) {
  absl::MutexLock lock(&mu_);
  if (!RecordingNow(service))
    return StateOf(service);
  StorageBatch batch;
  batch.Delete(RecordingKey(service));
  if (absl::Status status = CommitAndWait(*storage_, std::move(batch), Durability::kDurable); !status.ok())
    return status;
  started_.erase(service);
  if (auto timer = expiry_timers_.find(service); timer != expiry_timers_.end()) {
    clock_->Cancel(timer->second);
    expiry_timers_.erase(timer);
  }
  RecordingState state = StateOf(service);
  Notify({state, std::nullopt}, service);
  return state;
}

RecordingState BackgroundServiceRecorder::GetRecordingState(SyncType service) {
  absl::MutexLock lock(&mu_);
  RecordingNow(service);
  return StateOf(service);
}

absl::Status BackgroundServiceRecorder::ClearEvents(SyncType service) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<StorageBackend::KeyValues> stored = storage_->ReadPrefix(EventPrefix(service));
  if (!stored.ok())
    return stored.status();
  if (stored->empty())
    return absl::OkStatus();
  StorageBatch batch;
  for (const auto& [key, value] : *stored)
    batch.Delete(key);
  return CommitAndWait(*storage_, std::move(batch), Durability::kDurable);
}

absl::StatusOr<std::vector<RecordedEvent>> BackgroundServiceRecorder::ReadEvents(std::optional<SyncType> service) {
  absl::StatusOr<StorageBackend::KeyValues> stored = storage_->ReadPrefix(EventPrefix(service));
  if (!stored.ok())
    return stored.status();
  std::vector<RecordedEvent> events;
  events.reserve(stored->size());
  for (const auto& [key, value] : *stored) {
    std::optional<RecordedEvent> event = Parse(key, value);
    if (!event) {
      ++counters_.unreadable_records;
      continue;
    }
    events.push_back(*std::move(event));
  }
  // With both services the keys sort by service first; recording order is the sequence.
  std::stable_sort(events.begin(), events.end(),
                   [](const RecordedEvent& a, const RecordedEvent& b) { return a.sequence < b.sequence; });
  return events;
}

absl::StatusOr<std::vector<RecordedEvent>> BackgroundServiceRecorder::GetEvents(std::optional<SyncType> service) {
  absl::MutexLock lock(&mu_);
  return ReadEvents(service);
}

absl::StatusOr<std::unique_ptr<BackgroundServiceObservation>> BackgroundServiceRecorder::StartObserving(
    std::optional<SyncType> service) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::vector<RecordedEvent>> stored = ReadEvents(service);
  if (!stored.ok())
    return stored.status();
  auto queue = std::make_shared<BackgroundServiceObservation::Queue>();
  for (SyncType s : kServices) {
    if (!service || *service == s) {
      RecordingNow(s);
      queue->Push({StateOf(s), std::nullopt});
    }
  }
  for (RecordedEvent& event : *stored)
    queue->Push({std::nullopt, std::move(event)});
  // Forget the observations that are gone.
  observers_.erase(std::remove_if(observers_.begin(), observers_.end(),
                                  [](const Observer& o) {
                                    absl::MutexLock queue_lock(&o.queue->mu);
                                    return o.queue->cancelled;
                                  }),
                   observers_.end());
  observers_.push_back({service, queue});
  return std::unique_ptr<BackgroundServiceObservation>(new BackgroundServiceObservation(std::move(queue)));
}

void BackgroundServiceRecorder::Notify(const BackgroundServiceUpdate& update, SyncType service) {
  for (const Observer& observer : observers_) {
    if (!observer.service || *observer.service == service)
      observer.queue->Push(update);
  }
}

void BackgroundServiceRecorder::OnBackgroundServiceEvent(const BackgroundServiceEvent& event) {
  absl::MutexLock lock(&mu_);
  if (!RecordingNow(event.service))
    return;
  const uint64_t sequence = next_sequence_++;
  StorageBatch batch;
  batch.Put(EventKey(event.service, sequence), Serialize(event));
  batch.Put(kNextSequenceKey, absl::StrCat(next_sequence_));
  if (CommitAndWait(*storage_, std::move(batch), Durability::kBuffered).ok()) {
    ++counters_.events_recorded;
  } else {
    ++counters_.write_failures;
  }
  Notify({std::nullopt, RecordedEvent{sequence, event}}, event.service);
}

BackgroundServiceRecorder::Counters BackgroundServiceRecorder::GetCounters() {
  absl::MutexLock lock(&mu_);
  return counters_;
}

}  // namespace bgsync
