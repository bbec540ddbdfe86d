#include "components/background_sync/sync_registration_store.h"

#include <cinttypes>
#include <iterator>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "components/background_sync/proto/sync_registration_record.pb.h"
#include "components/background_sync/record_wire_format.h"
#include "components/background_sync/storage_key_id.h"
#include "public/sync_tag.h"

namespace bgsync {
namespace {

constexpr char kSchemaKey[] = "m:schema_version";
constexpr char kRegistrationPrefix[] = "r:";
constexpr char kRegistrationEnd[] = "r;";  // the first key after every "r:" key

using Record = storage::SyncRegistrationRecord;

Record::Outcome ToRecordOutcome(SyncEventOutcome outcome) {
  switch (outcome) {
    case SyncEventOutcome::kCompleted:
      return Record::NO_FAILURE;
    case SyncEventOutcome::kRejected:
      return Record::REJECTED;
    case SyncEventOutcome::kAborted:
      return Record::ABORTED;
    case SyncEventOutcome::kTimedOut:
      return Record::TIMED_OUT;
    case SyncEventOutcome::kWorkerCrashed:
      return Record::WORKER_CRASHED;
    case SyncEventOutcome::kDispatchFailed:
      return Record::DISPATCH_FAILED;
  }
  return Record::NO_FAILURE;
}

SyncEventOutcome FromRecordOutcome(Record::Outcome outcome) {
  switch (outcome) {
    case Record::REJECTED:
      return SyncEventOutcome::kRejected;
    case Record::ABORTED:
      return SyncEventOutcome::kAborted;
    case Record::TIMED_OUT:
      return SyncEventOutcome::kTimedOut;
    case Record::WORKER_CRASHED:
      return SyncEventOutcome::kWorkerCrashed;
    case Record::DISPATCH_FAILED:
      return SyncEventOutcome::kDispatchFailed;
    default:
      return SyncEventOutcome::kCompleted;
  }
}

absl::Status Corrupt(absl::string_view why) {
  return absl::DataLossError(why);
}

constexpr size_t kPrefixLength = sizeof(kRegistrationPrefix) - 1;

// Decodes a key "r:" + 16 hex + ":" + type + ":" + tag into `out` (which may hold anything before).
absl::Status DecodeKeyInto(absl::string_view key, RegistrationKey& out) {
  if (key.size() < kPrefixLength + kStorageKeyIdDigits + 3 || key.substr(0, kPrefixLength) != kRegistrationPrefix ||
      key[kPrefixLength + kStorageKeyIdDigits] != ':' || key[kPrefixLength + kStorageKeyIdDigits + 2] != ':') {
    return Corrupt("malformed key");
  }
  std::optional<int64_t> id = DecodeStorageKeyId(key.substr(kPrefixLength, kStorageKeyIdDigits));
  if (!id)
    return Corrupt("malformed id in key");
  char type_char = key[kPrefixLength + kStorageKeyIdDigits + 1];
  if (type_char != '1' && type_char != '2')
    return Corrupt("unknown type in key");
  out.sw_registration_id = *id;
  out.type = type_char == '1' ? SyncType::kOneShot : SyncType::kPeriodic;
  // Built at its exact size: assign() into an empty string would double the capacity past the inline buffer,
  // and a million tags of 16 to 24 bytes would take 48-byte heap blocks instead of 32.
  out.tag = std::string(key.substr(kPrefixLength + kStorageKeyIdDigits + 3));
  return absl::OkStatus();
}

// The id a key names, if it is spelled as the key layout spells ids (the rest of the key is checked by
// DecodeKeyInto).
std::optional<int64_t> IdOfKey(absl::string_view key) {
  if (key.size() < kPrefixLength + kStorageKeyIdDigits)
    return std::nullopt;
  return DecodeStorageKeyId(key.substr(kPrefixLength, kStorageKeyIdDigits));
}

// The last origin parsed, so that consecutive records of one service worker parse it once and share it.
struct OriginCache {
  std::string text;
  SharedOrigin origin;
  bool valid = false;
};

absl::Status ParseOrigin(absl::string_view text, OriginCache& cache, SharedOrigin& out) {
  if (!(cache.valid && text == cache.text)) {
    absl::StatusOr<Origin> origin = Origin::Parse(text);
    if (!origin.ok())
      return origin.status();
    cache.text.assign(text.data(), text.size());
    cache.origin = *std::move(origin);
    cache.valid = true;
  }
  out = cache.origin;
  return absl::OkStatus();
}

// Checks a record's fields against its key (already in r.key) and against what the engine can have written, and
// sets the rest of `r` from them.
absl::Status FillFromFields(const RecordFields& record, OriginCache& cache, SyncRegistration& r) {
  if (record.sw_registration_id != r.key.sw_registration_id || record.type != static_cast<int32_t>(r.key.type) ||
      record.tag != r.key.tag) {
    return Corrupt("record does not match its key");
  }
  if (absl::Status origin = ParseOrigin(record.origin, cache, r.origin); !origin.ok())
    return Corrupt(origin.message());
  if (record.state < Record::PENDING || record.state > Record::REREGISTERED_WHILE_FIRING)
    return Corrupt("unknown state");
  r.state = static_cast<SyncState>(record.state);
  // The engine never stores counters anywhere near kMaxStoredCounter; the bound keeps its sums of them (attempts
  // plus interruptions) far from overflow when a damaged record says otherwise.
  constexpr int32_t kMaxStoredCounter = 1 << 20;
  if (record.max_attempts < 1 || record.max_attempts > kMaxStoredCounter || record.num_attempts < 0 ||
      record.num_attempts >= record.max_attempts || record.consecutive_interruptions < 0 ||
      record.consecutive_interruptions > kMaxStoredCounter || record.min_interval_ms < 0) {
    return Corrupt("counter out of range");
  }
  if (r.key.type == SyncType::kOneShot && record.min_interval_ms != 0)
    return Corrupt("one-shot registration with a min_interval");
  if (!Record::Outcome_IsValid(record.last_failure))
    return Corrupt("unknown last_failure");
  r.num_attempts = record.num_attempts;
  r.max_attempts = record.max_attempts;
  r.next_attempt_time =
      record.next_attempt_time_unix_ns ? absl::FromUnixNanos(*record.next_attempt_time_unix_ns) : absl::InfinitePast();
  r.min_interval = absl::Milliseconds(record.min_interval_ms);
  r.anchor_time = record.anchor_time_unix_ns ? absl::FromUnixNanos(*record.anchor_time_unix_ns) : absl::InfinitePast();
  r.consecutive_interruptions = record.consecutive_interruptions;
  r.last_failure = FromRecordOutcome(static_cast<Record::Outcome>(record.last_failure));
  r.resolved = true;
  return absl::OkStatus();
}

// Decodes the record stored under `key` into `r`, which must be default-constructed (on an error it may be left
// partly set). Errors: kDataLoss with the reason.
absl::Status DecodeRecordInto(absl::string_view key, absl::string_view value, OriginCache& cache, SyncRegistration& r) {
  if (absl::Status status = DecodeKeyInto(key, r.key); !status.ok())
    return status;
  // The engine only ever stores tags a Register accepted.
  if (!IsAscii(r.key.tag) && !IsWellFormedUtf8(r.key.tag))
    return Corrupt("tag is not well-formed UTF-8");
  if (!IsTagLengthValid(r.key.tag))
    return Corrupt("tag is too long");
  // The form protobuf writes is decoded directly; protobuf's parser judges anything else.
  if (std::optional<RecordFields> fields = DecodeCanonicalRecord(value))
    return FillFromFields(*fields, cache, r);
  Record record;
  if (!record.ParseFromArray(value.data(), static_cast<int>(value.size())))
    return Corrupt("record does not parse");
  return FillFromFields(FieldsOf(record), cache, r);
}

// Decodes the records of one key range as they are read, grouped by service worker.
class RangeLoader {
 public:
  explicit RangeLoader(const SyncRegistrationStore::GroupHook* on_read) : on_read_(on_read) {}

  absl::Status Visit(absl::string_view key, absl::string_view value) {
    // A new service worker starts where the id in the key changes (compared as it is spelled, which is cheaper
    // than decoding it for every record).
    const absl::string_view id_digits =
        key.size() >= kPrefixLength ? key.substr(kPrefixLength, kStorageKeyIdDigits) : absl::string_view();
    if (id_digits != current_id_digits_) {
      const std::optional<int64_t> id = IdOfKey(key);
      if (id && (current_.empty() || current_.front().key.sw_registration_id != *id)) {
        Flush();
        current_.reserve(expected_group_size_);
      }
      current_id_digits_.assign(id_digits.data(), id_digits.size());
    }
    // Decoded where it will stay (a failure takes it out again).
    SyncRegistration& r = current_.emplace_back();
    absl::Status decoded = DecodeRecordInto(key, value, origins_, r);
    if (!decoded.ok()) {
      current_.pop_back();
      result_.quarantined.push_back({std::string(key), std::string(decoded.message())});
    }
    return absl::OkStatus();
  }

  SyncRegistrationStore::LoadByServiceWorkerResult Finish() {
    Flush();
    return std::move(result_);
  }

 private:
  void Flush() {
    if (current_.empty())
      return;
    // The next group is reserved at this one's size: groups of one store tend to be alike, so most need no
    // reallocation and no trimming.
    expected_group_size_ = current_.size();
    if (current_.capacity() != current_.size())
      current_.shrink_to_fit();
    SyncRegistrationStore::LoadedServiceWorker group{current_.front().key.sw_registration_id, std::move(current_)};
    current_ = std::vector<SyncRegistration>();
    if (*on_read_)
      (*on_read_)(group);
    if (!group.registrations.empty())
      result_.service_workers.push_back(std::move(group));
  }

  const SyncRegistrationStore::GroupHook* const on_read_;
  std::string current_id_digits_;  // as spelled in the last key read
  OriginCache origins_;
  std::vector<SyncRegistration> current_;  // the registrations of one service worker
  size_t expected_group_size_ = 16;
  SyncRegistrationStore::LoadByServiceWorkerResult result_;
};

// Appends `part` to `whole`; a service worker split between two ranges becomes one group again.
void Append(SyncRegistrationStore::LoadByServiceWorkerResult& whole,
            SyncRegistrationStore::LoadByServiceWorkerResult part) {
  auto first = part.service_workers.begin();
  if (first != part.service_workers.end() && !whole.service_workers.empty() &&
      whole.service_workers.back().sw_registration_id == first->sw_registration_id) {
    std::vector<SyncRegistration>& joined = whole.service_workers.back().registrations;
    joined.insert(joined.end(), std::make_move_iterator(first->registrations.begin()),
                  std::make_move_iterator(first->registrations.end()));
    ++first;
  }
  whole.service_workers.insert(whole.service_workers.end(), std::make_move_iterator(first),
                               std::make_move_iterator(part.service_workers.end()));
  whole.quarantined.insert(whole.quarantined.end(), std::make_move_iterator(part.quarantined.begin()),
                           std::make_move_iterator(part.quarantined.end()));
}

}  // namespace

std::string SyncRegistrationStore::EncodeKey(const RegistrationKey& key) {
  return absl::StrFormat("%s%s:%d:%s", kRegistrationPrefix, EncodeStorageKeyId(key.sw_registration_id),
                         static_cast<int>(key.type), key.tag);
}

std::string SyncRegistrationStore::EncodeRecord(const SyncRegistration& r) {
  Record record;
  record.set_sw_registration_id(r.key.sw_registration_id);
  record.set_type(static_cast<Record::Type>(r.key.type));
  record.set_tag(r.key.tag);
  record.set_origin(r.origin.Serialize());
  record.set_state(static_cast<Record::State>(r.state));
  record.set_num_attempts(r.num_attempts);
  record.set_max_attempts(r.max_attempts);
  if (r.next_attempt_time != absl::InfinitePast()) {
    record.set_next_attempt_time_unix_ns(absl::ToUnixNanos(r.next_attempt_time));
  }
  record.set_min_interval_ms(absl::ToInt64Milliseconds(r.min_interval));
  if (r.anchor_time != absl::InfinitePast())
    record.set_anchor_time_unix_ns(absl::ToUnixNanos(r.anchor_time));
  record.set_consecutive_interruptions(r.consecutive_interruptions);
  record.set_last_failure(ToRecordOutcome(r.last_failure));
  return record.SerializeAsString();
}

void SyncRegistrationStore::AddPut(const SyncRegistration& registration, StorageBatch& batch) {
  batch.Put(EncodeKey(registration.key), EncodeRecord(registration));
}

void SyncRegistrationStore::AddDelete(const RegistrationKey& key, StorageBatch& batch) {
  batch.Delete(EncodeKey(key));
}

absl::StatusOr<RegistrationKey> SyncRegistrationStore::DecodeKey(const std::string& key) {
  RegistrationKey decoded;
  if (absl::Status status = DecodeKeyInto(key, decoded); !status.ok())
    return status;
  return decoded;
}

absl::StatusOr<SyncRegistration> SyncRegistrationStore::DecodeRecord(const std::string& key, const std::string& value) {
  OriginCache no_cache;
  SyncRegistration registration;
  if (absl::Status status = DecodeRecordInto(key, value, no_cache, registration); !status.ok())
    return status;
  return registration;
}

absl::StatusOr<bool> SyncRegistrationStore::RestoreSchemaVersionAfterRepair(StorageBackend& backend) {
  absl::StatusOr<StorageBackend::KeyValues> meta = backend.ReadPrefix(kSchemaKey);
  if (!meta.ok())
    return meta.status();
  absl::StatusOr<StorageBackend::KeyValues> records = backend.ReadPrefix(kRegistrationPrefix);
  if (!records.ok())
    return records.status();
  if (!meta->empty() || records->empty())
    return false;
  StorageBatch batch;
  batch.Put(kSchemaKey, absl::StrCat(kSchemaVersion));
  absl::Status status = CommitAndWait(backend, std::move(batch), Durability::kDurable);
  if (!status.ok())
    return status;
  return true;
}

absl::StatusOr<SyncRegistrationStore::LoadResult> SyncRegistrationStore::Load() {
  absl::StatusOr<LoadByServiceWorkerResult> loaded = LoadByServiceWorker(1);
  if (!loaded.ok())
    return loaded.status();
  LoadResult result;
  for (LoadedServiceWorker& sw : loaded->service_workers) {
    result.registrations.insert(result.registrations.end(), std::make_move_iterator(sw.registrations.begin()),
                                std::make_move_iterator(sw.registrations.end()));
  }
  result.quarantined = std::move(loaded->quarantined);
  return result;
}

absl::StatusOr<SyncRegistrationStore::LoadByServiceWorkerResult> SyncRegistrationStore::LoadByServiceWorker(
    int max_parallel_reads,
    const GroupHook& on_read) {
  absl::StatusOr<StorageBackend::KeyValues> meta = backend_->ReadPrefix(kSchemaKey);
  if (!meta.ok())
    return meta.status();
  if (meta->empty()) {
    // A store without a version must be empty: then it is new, and gets this build's version.
    bool has_records = false;
    absl::Status scanned =
        backend_->Scan(kRegistrationPrefix, kRegistrationEnd, [&](absl::string_view, absl::string_view) {
          has_records = true;
          return absl::CancelledError();  // one is enough
        });
    if (!scanned.ok() && !has_records)
      return scanned;
    if (has_records)
      return absl::FailedPreconditionError("sync store has records but no schema version");
    StorageBatch batch;
    batch.Put(kSchemaKey, absl::StrCat(kSchemaVersion));
    absl::Status status = CommitAndWait(*backend_, std::move(batch), Durability::kDurable);
    if (!status.ok())
      return status;
    return LoadByServiceWorkerResult();
  }
  int version = 0;
  if (!absl::SimpleAtoi(meta->front().second, &version) || version != kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("sync store has schema version \"", meta->front().second,
                                                      "\"; this build reads version ", kSchemaVersion));
  }

  // The key ranges, read at once, each decoded by its own reader.
  std::vector<std::string> bounds = {kRegistrationPrefix};
  if (max_parallel_reads > 1) {
    for (std::string& split : backend_->SplitRange(kRegistrationPrefix, kRegistrationEnd, max_parallel_reads))
      bounds.push_back(std::move(split));
  }
  bounds.push_back(kRegistrationEnd);
  const size_t ranges = bounds.size() - 1;
  std::vector<RangeLoader> loaders(ranges, RangeLoader(&on_read));
  std::vector<absl::Status> statuses(ranges);
  auto read_range = [&](size_t i) {
    statuses[i] = backend_->Scan(
        bounds[i], bounds[i + 1],
        [&loader = loaders[i]](absl::string_view key, absl::string_view value) { return loader.Visit(key, value); });
  };
  std::vector<std::thread> readers;
  for (size_t i = 1; i < ranges; ++i)
    readers.emplace_back(read_range, i);
  read_range(0);
  for (std::thread& reader : readers)
    reader.join();
  LoadByServiceWorkerResult result;
  for (size_t i = 0; i < ranges; ++i) {
    if (!statuses[i].ok())
      return statuses[i];
    Append(result, loaders[i].Finish());
  }
  return result;
}

}  // namespace bgsync
