// Fuzzes the engine's start-up on a damaged or hostile disk (reliability.md P7): the input decodes into a schema
// version and up to a dozen records, each a well-formed key or not and a record whose every field is fuzzed (or
// bytes that are not a record at all); an engine then loads them and runs a little. Whatever the disk holds, the
// start neither crashes nor fails (except for a schema it cannot read); every record is loaded, quarantined and
// left on disk byte for byte, or deleted for a documented reason (its service worker is gone, or the poison-pill
// bound); nothing is ever attributed to another origin; and what the engine holds equals what it wrote.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/fuzzers/fuzz_check.h"
#include "components/background_sync/fuzzers/fuzz_values.h"
#include "components/background_sync/fuzzers/sync_world.h"
#include "components/background_sync/proto/sync_registration_record.pb.h"
#include "components/background_sync/sync_registration_store.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"

namespace bgsync {
namespace fuzzing {
namespace {

using Record = storage::SyncRegistrationRecord;

constexpr char kSchemaKey[] = "m:schema_version";

int64_t ConsumeUnixNanos(FuzzedDataProvider& data, absl::Time now) {
  switch (data.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      return absl::ToUnixNanos(now);
    case 1:
      return absl::ToUnixNanos(now + absl::Minutes(data.ConsumeIntegralInRange<int>(-100000, 100000)));
    case 2:
      return std::numeric_limits<int64_t>::max();
    case 3:
      return std::numeric_limits<int64_t>::min();
    default:
      return data.ConsumeIntegral<int64_t>();
  }
}

int32_t ConsumeCounter(FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      return std::numeric_limits<int32_t>::max();
    case 1:
      return std::numeric_limits<int32_t>::min();
    case 2:
      return -1;
    default:
      return data.ConsumeIntegralInRange<int32_t>(0, 5);
  }
}

class LoadFuzzer {
 public:
  explicit LoadFuzzer(FuzzedDataProvider& data) : data_(data) {}

  void Run() {
    WriteDisk();
    const std::map<std::string, std::string> before = Disk();
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine = world_.CreateEngine(&events_, false, 0);
    if (!engine.ok()) {
      FUZZ_CHECK(engine.status().code() == absl::StatusCode::kFailedPrecondition && (!schema_ok_ || schema_either_),
                 "the engine does not start: " + engine.status().ToString());
      FUZZ_CHECK(Disk() == before, "a failed start changed the disk");
      return;
    }
    FUZZ_CHECK(schema_ok_ || schema_either_, "the engine started on an unreadable schema version");
    CheckLoad(**engine, before);
    Exercise(**engine);
  }

 private:
  void WriteDisk() {
    std::map<std::string, std::string> records;
    switch (data_.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:
        schema_ok_ = false;  // records without a schema version: refused, unless there are none
        break;
      case 1: {
        const std::string version = data_.ConsumeRandomLengthString(4);
        records[kSchemaKey] = version;
        // "1" is the version; spellings of 1 the engine never writes (" 1", "+1") may be read either way.
        int number = 0;
        schema_ok_ = version == "1";
        schema_either_ = !schema_ok_ && absl::SimpleAtoi(version, &number) && number == 1;
        break;
      }
      default:
        records[kSchemaKey] = "1";
        break;
    }
    const int count = data_.ConsumeIntegralInRange<int>(0, 12);
    for (int i = 0; i < count; ++i) {
      auto [key, value] = ConsumeRecord();
      records[key] = value;
    }
    bool has_registrations = false;
    for (const auto& [key, value] : records)
      has_registrations |= key.rfind("r:", 0) == 0;
    if (!records.count(kSchemaKey) && !has_registrations)
      schema_ok_ = true;  // an empty store: the engine writes the version
    absl::MutexLock lock(&world_.disk()->mu);
    world_.disk()->data = std::move(records);
  }

  std::pair<std::string, std::string> ConsumeRecord() {
    RegistrationKey key;
    key.sw_registration_id = ConsumeServiceWorkerId(data_, world_.service_worker_ids());
    key.type = data_.ConsumeBool() ? SyncType::kPeriodic : SyncType::kOneShot;
    key.tag = ConsumeTag(data_, {"a", "b"});

    Record record;
    record.set_sw_registration_id(data_.ConsumeIntegralInRange<int>(0, 15) == 0 ? data_.ConsumeIntegral<int64_t>()
                                                                                : key.sw_registration_id);
    record.set_type(static_cast<Record::Type>(data_.ConsumeIntegralInRange<int>(0, 15) == 0
                                                  ? data_.ConsumeIntegralInRange<int>(-1, 5)
                                                  : static_cast<int>(key.type)));
    record.set_tag(data_.ConsumeIntegralInRange<int>(0, 15) == 0 ? data_.ConsumeRandomLengthString(8) : key.tag);
    switch (data_.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:
        record.set_origin(data_.ConsumeRandomLengthString(32));
        break;
      case 1:
        record.set_origin("https://evil.example");
        break;
      case 2:
        record.set_origin("HTTPS://A.EXAMPLE:443");
        break;
      default:
        if (std::optional<Origin> creator = world_.model.CreatorOf(key.sw_registration_id)) {
          record.set_origin(creator->Serialize());
        } else {
          record.set_origin(world_.ConsumeOrigin(data_).Serialize());
        }
        break;
    }
    record.set_state(static_cast<Record::State>(data_.ConsumeIntegralInRange<int>(0, 15) == 0
                                                    ? data_.ConsumeIntegralInRange<int>(-1, 7)
                                                    : data_.ConsumeIntegralInRange<int>(1, 4)));
    record.set_num_attempts(ConsumeCounter(data_));
    record.set_max_attempts(ConsumeCounter(data_));
    if (data_.ConsumeBool())
      record.set_next_attempt_time_unix_ns(ConsumeUnixNanos(data_, world_.clock.Now()));
    if (data_.ConsumeBool())
      record.set_anchor_time_unix_ns(ConsumeUnixNanos(data_, world_.clock.Now()));
    record.set_min_interval_ms(
        key.type == SyncType::kPeriodic || data_.ConsumeIntegralInRange<int>(0, 7) == 0 ? ConsumeIntervalMs(data_) : 0);
    record.set_consecutive_interruptions(ConsumeCounter(data_));
    record.set_last_failure(static_cast<Record::Outcome>(data_.ConsumeIntegralInRange<int>(-1, 7)));

    std::string encoded_key = SyncRegistrationStore::EncodeKey(key);
    std::string value = record.SerializeAsString();
    switch (data_.ConsumeIntegralInRange<int>(0, 11)) {
      case 0:
        encoded_key = "r:" + data_.ConsumeRandomLengthString(24);
        break;
      case 1:
        value = data_.ConsumeRandomLengthString(48);
        break;
      case 2:
        if (!value.empty())
          value.resize(data_.ConsumeIntegralInRange<size_t>(0, value.size() - 1));
        break;
      case 3:
        if (!value.empty())
          value[data_.ConsumeIntegralInRange<size_t>(0, value.size() - 1)] ^=
              static_cast<char>(1 << data_.ConsumeIntegralInRange<int>(0, 7));
        break;
      default:
        break;
    }
    return {encoded_key, value};
  }

  std::map<std::string, std::string> Disk() {
    absl::MutexLock lock(&world_.disk()->mu);
    return world_.disk()->data;
  }

  void CheckLoad(BackgroundSyncEngine& engine, const std::map<std::string, std::string>& before) {
    const BackgroundSyncEngine::LoadReport& report = engine.load_report();
    const std::map<std::string, std::string> after = Disk();
    std::map<std::string, std::string> quarantined;
    for (const SyncRegistrationStore::QuarantinedRecord& q : report.quarantined)
      quarantined[q.key] = q.reason;
    std::map<RegistrationKey, SyncRegistration> loaded;
    for (SyncRegistration& r : engine.GetAllRegistrations())
      loaded[r.key] = r;

    for (const auto& [record_key, record_value] : before) {
      const std::string& key = record_key;
      const std::string& value = record_value;
      if (key.rfind("r:", 0) != 0)
        continue;
      absl::StatusOr<SyncRegistration> decoded = SyncRegistrationStore::DecodeRecord(key, value);
      const auto what = [&] { return std::string("record " + DescribeTag(key)); };
      if (quarantined.count(key)) {
        // Quarantined records stay on disk, untouched (never silently deleted).
        auto kept = after.find(key);
        FUZZ_CHECK(kept != after.end() && kept->second == value, what() + " was quarantined but not kept as it was");
        continue;
      }
      FUZZ_CHECK(decoded.ok(),
                 what() + " does not decode (" + decoded.status().ToString() + ") but was not quarantined");
      const SyncRegistration& r = *decoded;
      std::optional<Origin> owner = world_.model.OwnerOf(r.key.sw_registration_id);
      if (!owner) {
        FUZZ_CHECK(after.count(key) == 0, what() + " of an unknown service worker was kept");
        FUZZ_CHECK(loaded.count(r.key) == 0, what() + " of an unknown service worker was loaded");
        continue;
      }
      FUZZ_CHECK(*owner == r.origin, what() + " is attributed to " + r.origin.Serialize() + " but was not quarantined");
      auto it = loaded.find(r.key);
      if (it == loaded.end()) {
        // The poison-pill bound: interrupted too often in a row, out of attempts.
        FUZZ_CHECK(r.state == SyncState::kFiring, what() + " decodes but was neither loaded nor quarantined");
        FUZZ_CHECK(after.count(key) == 0, what() + " was dropped from memory but kept on disk");
        continue;
      }
      FUZZ_CHECK(it->second.origin == *owner, what() + " was loaded for another origin");
    }
    for (const auto& [key, r] : loaded) {
      std::optional<Origin> owner = world_.model.OwnerOf(key.sw_registration_id);
      FUZZ_CHECK(owner && *owner == r.origin, "loaded a registration of " + r.origin.Serialize() +
                                                  " for service worker " + absl::StrCat(key.sw_registration_id));
      FUZZ_CHECK(r.num_attempts >= 0 && r.num_attempts < r.max_attempts && r.min_interval >= absl::ZeroDuration(),
                 "loaded a registration with counters out of range: " + DescribeTag(key.tag));
    }
    CheckMemoryEqualsDisk(engine, quarantined);
  }

  // Every registration in memory is on disk as it is (quarantined records aside).
  void CheckMemoryEqualsDisk(BackgroundSyncEngine& engine, const std::map<std::string, std::string>& quarantined) {
    const std::map<std::string, std::string> disk = Disk();
    size_t on_disk = 0;
    for (const auto& [key, value] : disk) {
      if (key.rfind("r:", 0) == 0 && !quarantined.count(key))
        ++on_disk;
    }
    const std::vector<SyncRegistration> memory = engine.GetAllRegistrations();
    FUZZ_CHECK(memory.size() == on_disk,
               absl::StrCat("memory holds ", memory.size(), " registrations, the disk ", on_disk, " readable ones"));
    for (SyncRegistration r : memory) {
      auto it = disk.find(SyncRegistrationStore::EncodeKey(r.key));
      FUZZ_CHECK(it != disk.end(), "memory holds " + DescribeTag(r.key.tag) + ", the disk does not");
      absl::StatusOr<SyncRegistration> stored = SyncRegistrationStore::DecodeRecord(it->first, it->second);
      r.resolved = true;
      FUZZ_CHECK(stored.ok() && *stored == r, "memory and disk differ on " + DescribeTag(r.key.tag));
    }
  }

  // Fires and settles what was loaded, whatever its stored times and counters.
  void Exercise(BackgroundSyncEngine& engine) {
    events_.SetAutoReply(ConsumeOutcome(data_));
    for (int i = 0; i < 4 && data_.remaining_bytes() > 0; ++i) {
      if (data_.ConsumeBool()) {
        world_.clock.Advance(ConsumeClockStep(data_));
      } else {
        engine.OnNetworkChanged();
      }
    }
    std::map<std::string, std::string> quarantined;
    for (const SyncRegistrationStore::QuarantinedRecord& q : engine.load_report().quarantined)
      quarantined[q.key] = q.reason;
    CheckMemoryEqualsDisk(engine, quarantined);
    engine.ExplainAll();
  }

  FuzzedDataProvider& data_;
  SyncWorld world_;
  FakeSyncEventDispatcher events_;
  bool schema_ok_ = true;
  bool schema_either_ = false;
};

}  // namespace
}  // namespace fuzzing
}  // namespace bgsync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bgsync::fuzzing::SilenceProtobufLogging();
  FuzzedDataProvider provider(data, size);
  bgsync::fuzzing::LoadFuzzer fuzzer(provider);
  fuzzer.Run();
  return 0;
}
