#include "components/background_sync/sync_registration_store.h"

#include <cinttypes>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "components/background_sync/proto/sync_registration_record.pb.h"
#include "components/background_sync/storage_key_id.h"
#include "public/sync_tag.h"

namespace bgsync {
namespace {

constexpr char kSchemaKey[] = "m:schema_version";
constexpr char kRegistrationPrefix[] = "r:";

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

absl::Status Corrupt(const std::string& why) {
  return absl::DataLossError(why);
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
  // Key: "r:" + 16 hex + ":" + type + ":" + tag.
  const size_t prefix = sizeof(kRegistrationPrefix) - 1;
  if (key.size() < prefix + kStorageKeyIdDigits + 3 || key.compare(0, prefix, kRegistrationPrefix) != 0 ||
      key[prefix + kStorageKeyIdDigits] != ':' || key[prefix + kStorageKeyIdDigits + 2] != ':') {
    return Corrupt("malformed key");
  }
  std::optional<int64_t> id = DecodeStorageKeyId(absl::string_view(key).substr(prefix, kStorageKeyIdDigits));
  if (!id)
    return Corrupt("malformed id in key");
  char type_char = key[prefix + kStorageKeyIdDigits + 1];
  if (type_char != '1' && type_char != '2')
    return Corrupt("unknown type in key");
  RegistrationKey decoded;
  decoded.sw_registration_id = *id;
  decoded.type = type_char == '1' ? SyncType::kOneShot : SyncType::kPeriodic;
  decoded.tag = key.substr(prefix + kStorageKeyIdDigits + 3);
  return decoded;
}

absl::StatusOr<SyncRegistration> SyncRegistrationStore::DecodeRecord(const std::string& key, const std::string& value) {
  absl::StatusOr<RegistrationKey> decoded_key = DecodeKey(key);
  if (!decoded_key.ok())
    return decoded_key.status();
  // The engine only ever stores tags a Register accepted.
  if (!IsWellFormedUtf8(decoded_key->tag))
    return Corrupt("tag is not well-formed UTF-8");
  if (!IsTagLengthValid(decoded_key->tag))
    return Corrupt("tag is too long");

  Record record;
  if (!record.ParseFromString(value))
    return Corrupt("record does not parse");
  SyncRegistration r;
  r.key = *std::move(decoded_key);
  if (record.sw_registration_id() != r.key.sw_registration_id ||
      record.type() != static_cast<Record::Type>(r.key.type) || record.tag() != r.key.tag) {
    return Corrupt("record does not match its key");
  }
  absl::StatusOr<Origin> origin = Origin::Parse(record.origin());
  if (!origin.ok())
    return Corrupt(std::string(origin.status().message()));
  r.origin = *std::move(origin);
  if (record.state() < Record::PENDING || record.state() > Record::REREGISTERED_WHILE_FIRING) {
    return Corrupt("unknown state");
  }
  r.state = static_cast<SyncState>(record.state());
  // The engine never stores counters anywhere near kMaxStoredCounter; the bound keeps its sums of them (attempts
  // plus interruptions) far from overflow when a damaged record says otherwise.
  constexpr int32_t kMaxStoredCounter = 1 << 20;
  if (record.max_attempts() < 1 || record.max_attempts() > kMaxStoredCounter || record.num_attempts() < 0 ||
      record.num_attempts() >= record.max_attempts() || record.consecutive_interruptions() < 0 ||
      record.consecutive_interruptions() > kMaxStoredCounter || record.min_interval_ms() < 0) {
    return Corrupt("counter out of range");
  }
  if (r.key.type == SyncType::kOneShot && record.min_interval_ms() != 0)
    return Corrupt("one-shot registration with a min_interval");
  if (!Record::Outcome_IsValid(record.last_failure()))
    return Corrupt("unknown last_failure");
  r.num_attempts = record.num_attempts();
  r.max_attempts = record.max_attempts();
  if (record.has_next_attempt_time_unix_ns()) {
    r.next_attempt_time = absl::FromUnixNanos(record.next_attempt_time_unix_ns());
  }
  r.min_interval = absl::Milliseconds(record.min_interval_ms());
  if (record.has_anchor_time_unix_ns())
    r.anchor_time = absl::FromUnixNanos(record.anchor_time_unix_ns());
  r.consecutive_interruptions = record.consecutive_interruptions();
  r.last_failure = FromRecordOutcome(record.last_failure());
  r.resolved = true;
  return r;
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
  absl::StatusOr<StorageBackend::KeyValues> meta = backend_->ReadPrefix(kSchemaKey);
  if (!meta.ok())
    return meta.status();
  absl::StatusOr<StorageBackend::KeyValues> records = backend_->ReadPrefix(kRegistrationPrefix);
  if (!records.ok())
    return records.status();

  if (meta->empty()) {
    if (!records->empty())
      return absl::FailedPreconditionError("sync store has records but no schema version");
    StorageBatch batch;
    batch.Put(kSchemaKey, absl::StrCat(kSchemaVersion));
    absl::Status status = CommitAndWait(*backend_, std::move(batch), Durability::kDurable);
    if (!status.ok())
      return status;
  } else {
    int version = 0;
    if (!absl::SimpleAtoi(meta->front().second, &version) || version != kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat("sync store has schema version \"", meta->front().second,
                                                        "\"; this build reads version ", kSchemaVersion));
    }
  }

  LoadResult result;
  for (const auto& [key, value] : *records) {
    absl::StatusOr<SyncRegistration> registration = DecodeRecord(key, value);
    if (registration.ok()) {
      result.registrations.push_back(*std::move(registration));
    } else {
      result.quarantined.push_back({key, std::string(registration.status().message())});
    }
  }
  return result;
}

}  // namespace bgsync
