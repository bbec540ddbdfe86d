// SyncRegistrationStore: the key layout, the record codec and its validation, the schema version, and
// quarantine of records that do not decode (kept on disk, reported, left out).
#include "components/background_sync/sync_registration_store.h"

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/proto/sync_registration_record.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Record = storage::SyncRegistrationRecord;

std::map<std::string, std::string> Contents(MemoryStorageBackend& backend) {
  absl::MutexLock lock(&backend.storage()->mu);
  return backend.storage()->data;
}

void Put(MemoryStorageBackend& backend, const std::string& key, const std::string& value) {
  StorageBatch batch;
  batch.Put(key, value);
  ASSERT_TRUE(CommitAndWait(backend, std::move(batch), Durability::kDurable).ok());
}

SyncRegistration MakeRegistration(int64_t id, SyncType type, std::string tag) {
  SyncRegistration r;
  r.key = {id, type, std::move(tag)};
  r.origin = *Origin::Parse("https://mail.example");
  r.max_attempts = type == SyncType::kOneShot ? 3 : 1;
  return r;
}

// Every field differs from its default.
SyncRegistration FullRegistration() {
  SyncRegistration r;
  r.key = {0x0123456789abcdefLL, SyncType::kPeriodic, "in:box \xE2\x9C\x89"};
  r.origin = *Origin::Parse("https://mail.example:8443");
  r.state = SyncState::kReregisteredWhileFiring;
  r.num_attempts = 2;
  r.max_attempts = 5;
  r.next_attempt_time = absl::FromUnixNanos(1'800'000'123'456'789'123);
  r.min_interval = absl::Hours(12) + absl::Milliseconds(7);
  r.consecutive_interruptions = 2;
  r.last_failure = SyncEventOutcome::kTimedOut;
  r.resolved = true;
  return r;
}

Record ParseRecord(const std::string& value) {
  Record record;
  EXPECT_TRUE(record.ParseFromString(value));
  return record;
}

// ------------------------------------------------------------------------------------------------------------
// Key layout.

TEST(SyncRegistrationStoreTest, EncodeKeyLayout) {
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({1, SyncType::kOneShot, "a"}), "r:0000000000000001:1:a");
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({1, SyncType::kPeriodic, "a"}), "r:0000000000000001:2:a");
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({0, SyncType::kOneShot, ""}), "r:0000000000000000:1:");
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({-1, SyncType::kOneShot, "x"}), "r:ffffffffffffffff:1:x");
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({0x0123456789ABCDEFLL, SyncType::kOneShot, "t"}),
            "r:0123456789abcdef:1:t");
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({std::numeric_limits<int64_t>::max(), SyncType::kPeriodic, "t"}),
            "r:7fffffffffffffff:2:t");
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({std::numeric_limits<int64_t>::min(), SyncType::kOneShot, "t"}),
            "r:8000000000000000:1:t");
  // The tag is raw UTF-8, separators and all.
  EXPECT_EQ(SyncRegistrationStore::EncodeKey({255, SyncType::kOneShot, "a:b:\xC3\xA9"}),
            "r:00000000000000ff:1:a:b:\xC3\xA9");
}

TEST(SyncRegistrationStoreTest, KeysOfOneServiceWorkerAreContiguous) {
  // In key order, every key of service worker 2 sorts after those of 1 and before those of 3, whatever the tags.
  const std::string a = SyncRegistrationStore::EncodeKey({1, SyncType::kPeriodic, "\xff\xff"});
  const std::string b = SyncRegistrationStore::EncodeKey({2, SyncType::kOneShot, ""});
  const std::string c = SyncRegistrationStore::EncodeKey({2, SyncType::kPeriodic, "\xff"});
  const std::string d = SyncRegistrationStore::EncodeKey({3, SyncType::kOneShot, ""});
  const std::string e = SyncRegistrationStore::EncodeKey({16, SyncType::kOneShot, ""});
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  EXPECT_LT(d, e);
  EXPECT_EQ(b.rfind("r:0000000000000002:", 0), 0u);
  EXPECT_EQ(c.rfind("r:0000000000000002:", 0), 0u);
}

// ------------------------------------------------------------------------------------------------------------
// Record codec.

TEST(SyncRegistrationStoreTest, EncodeDecodeRoundTripsEveryField) {
  const SyncRegistration original = FullRegistration();
  const std::string key = SyncRegistrationStore::EncodeKey(original.key);
  const std::string value = SyncRegistrationStore::EncodeRecord(original);

  absl::StatusOr<SyncRegistration> decoded = SyncRegistrationStore::DecodeRecord(key, value);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == original);
  EXPECT_EQ(decoded->key.sw_registration_id, 0x0123456789abcdefLL);
  EXPECT_EQ(decoded->key.type, SyncType::kPeriodic);
  EXPECT_EQ(decoded->key.tag, "in:box \xE2\x9C\x89");
  EXPECT_EQ(decoded->origin.Serialize(), "https://mail.example:8443");
  EXPECT_EQ(decoded->state, SyncState::kReregisteredWhileFiring);
  EXPECT_EQ(decoded->num_attempts, 2);
  EXPECT_EQ(decoded->max_attempts, 5);
  EXPECT_EQ(decoded->next_attempt_time, absl::FromUnixNanos(1'800'000'123'456'789'123));
  EXPECT_EQ(decoded->min_interval, absl::Hours(12) + absl::Milliseconds(7));
  EXPECT_EQ(decoded->consecutive_interruptions, 2);
  EXPECT_EQ(decoded->last_failure, SyncEventOutcome::kTimedOut);
  EXPECT_TRUE(decoded->resolved);

  // The stored fields, as the proto documents them.
  Record record = ParseRecord(value);
  EXPECT_EQ(record.sw_registration_id(), 0x0123456789abcdefLL);
  EXPECT_EQ(record.type(), Record::PERIODIC);
  EXPECT_EQ(record.tag(), "in:box \xE2\x9C\x89");
  EXPECT_EQ(record.origin(), "https://mail.example:8443");
  EXPECT_EQ(record.state(), Record::REREGISTERED_WHILE_FIRING);
  EXPECT_EQ(record.num_attempts(), 2);
  EXPECT_EQ(record.max_attempts(), 5);
  ASSERT_TRUE(record.has_next_attempt_time_unix_ns());
  EXPECT_EQ(record.next_attempt_time_unix_ns(), 1'800'000'123'456'789'123);
  EXPECT_EQ(record.min_interval_ms(), 12 * 3600 * 1000 + 7);
  EXPECT_EQ(record.consecutive_interruptions(), 2);
  EXPECT_EQ(record.last_failure(), Record::TIMED_OUT);
}

TEST(SyncRegistrationStoreTest, RoundTripOfEveryStateAndOutcome) {
  for (SyncState state :
       {SyncState::kPending, SyncState::kWaiting, SyncState::kFiring, SyncState::kReregisteredWhileFiring}) {
    for (SyncEventOutcome outcome :
         {SyncEventOutcome::kCompleted, SyncEventOutcome::kRejected, SyncEventOutcome::kAborted,
          SyncEventOutcome::kTimedOut, SyncEventOutcome::kWorkerCrashed, SyncEventOutcome::kDispatchFailed}) {
      SyncRegistration r = MakeRegistration(-7, SyncType::kOneShot, "t");
      r.state = state;
      r.last_failure = outcome;
      absl::StatusOr<SyncRegistration> decoded = SyncRegistrationStore::DecodeRecord(
          SyncRegistrationStore::EncodeKey(r.key), SyncRegistrationStore::EncodeRecord(r));
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_TRUE(*decoded == r) << SyncStateName(state) << " " << SyncEventOutcomeName(outcome);
    }
  }
}

TEST(SyncRegistrationStoreTest, DefaultNextAttemptTimeIsNotStoredAndDecodesAsInfinitePast) {
  SyncRegistration r = MakeRegistration(1, SyncType::kOneShot, "");
  ASSERT_EQ(r.next_attempt_time, absl::InfinitePast());
  const std::string value = SyncRegistrationStore::EncodeRecord(r);
  EXPECT_FALSE(ParseRecord(value).has_next_attempt_time_unix_ns());
  absl::StatusOr<SyncRegistration> decoded =
      SyncRegistrationStore::DecodeRecord(SyncRegistrationStore::EncodeKey(r.key), value);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->next_attempt_time, absl::InfinitePast());
  EXPECT_EQ(decoded->key.tag, "");
  EXPECT_TRUE(*decoded == r);

  // The Unix epoch itself is a real time, distinct from "as soon as possible".
  r.next_attempt_time = absl::UnixEpoch();
  decoded = SyncRegistrationStore::DecodeRecord(SyncRegistrationStore::EncodeKey(r.key),
                                                SyncRegistrationStore::EncodeRecord(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->next_attempt_time, absl::UnixEpoch());
}

TEST(SyncRegistrationStoreTest, AddPutAndAddDeleteUseTheEncodedKey) {
  const SyncRegistration r = FullRegistration();
  StorageBatch batch;
  SyncRegistrationStore::AddPut(r, batch);
  SyncRegistrationStore::AddDelete({9, SyncType::kOneShot, "gone"}, batch);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch.ops()[0].key, SyncRegistrationStore::EncodeKey(r.key));
  ASSERT_TRUE(batch.ops()[0].value);
  EXPECT_EQ(*batch.ops()[0].value, SyncRegistrationStore::EncodeRecord(r));
  EXPECT_EQ(batch.ops()[1].key, "r:0000000000000009:1:gone");
  EXPECT_FALSE(batch.ops()[1].value);
}

// ------------------------------------------------------------------------------------------------------------
// DecodeRecord rejects what does not belong (kDataLoss with a reason).

void ExpectDataLoss(const std::string& key, const std::string& value, const std::string& what) {
  absl::StatusOr<SyncRegistration> decoded = SyncRegistrationStore::DecodeRecord(key, value);
  ASSERT_FALSE(decoded.ok()) << what << ": accepted";
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << what << ": " << decoded.status();
  EXPECT_FALSE(decoded.status().message().empty()) << what << ": no reason";
}

TEST(SyncRegistrationStoreTest, DecodeRejectsGarbageValues) {
  const std::string key = SyncRegistrationStore::EncodeKey({1, SyncType::kOneShot, "a"});
  ExpectDataLoss(key, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "overlong varint");
  ExpectDataLoss(key, "garbage", "text");
  ExpectDataLoss(key, std::string("\x0a\x10", 2), "truncated length-delimited field");
  // Parses, but is an empty record: nothing in it matches the key.
  ExpectDataLoss(key, "", "empty value");
}

TEST(SyncRegistrationStoreTest, DecodeRejectsARecordThatDoesNotMatchItsKey) {
  const SyncRegistration r = MakeRegistration(1, SyncType::kOneShot, "a");
  const std::string value = SyncRegistrationStore::EncodeRecord(r);
  ASSERT_TRUE(SyncRegistrationStore::DecodeRecord(SyncRegistrationStore::EncodeKey(r.key), value).ok());

  ExpectDataLoss(SyncRegistrationStore::EncodeKey({1, SyncType::kOneShot, "b"}), value, "other tag");
  ExpectDataLoss(SyncRegistrationStore::EncodeKey({1, SyncType::kOneShot, "a:"}), value, "longer tag");
  ExpectDataLoss(SyncRegistrationStore::EncodeKey({1, SyncType::kOneShot, ""}), value, "empty tag");
  ExpectDataLoss(SyncRegistrationStore::EncodeKey({2, SyncType::kOneShot, "a"}), value, "other id");
  ExpectDataLoss(SyncRegistrationStore::EncodeKey({-1, SyncType::kOneShot, "a"}), value, "negative id");
  ExpectDataLoss(SyncRegistrationStore::EncodeKey({1, SyncType::kPeriodic, "a"}), value, "other type");

  // And the same from the record's side.
  Record record = ParseRecord(value);
  record.set_tag("b");
  ExpectDataLoss(SyncRegistrationStore::EncodeKey(r.key), record.SerializeAsString(), "record tag");
  record = ParseRecord(value);
  record.set_sw_registration_id(1 + (int64_t{1} << 32));
  ExpectDataLoss(SyncRegistrationStore::EncodeKey(r.key), record.SerializeAsString(), "record id");
  record = ParseRecord(value);
  record.set_type(Record::PERIODIC);
  ExpectDataLoss(SyncRegistrationStore::EncodeKey(r.key), record.SerializeAsString(), "record type");
}

TEST(SyncRegistrationStoreTest, DecodeRejectsMalformedKeys) {
  const SyncRegistration r = MakeRegistration(1, SyncType::kOneShot, "a");
  const std::string value = SyncRegistrationStore::EncodeRecord(r);
  ExpectDataLoss("r:1:1:a", value, "short id");
  ExpectDataLoss("r:000000000000000g:1:a", value, "non-hex id");
  ExpectDataLoss("r:0000000000000001:3:a", value, "unknown type");
  ExpectDataLoss("r:0000000000000001-1:a", value, "missing separator");
  ExpectDataLoss("x:0000000000000001:1:a", value, "wrong prefix");
  ExpectDataLoss("r:0000000000000001:1", value, "no tag separator");
}

// The key layout is exact: 16 lower-case hex digits. A key spelled any other way is not the key of the record it
// holds (the engine would write and delete the canonical key, and this one would come back at every start).
TEST(SyncRegistrationStoreTest, DecodeRejectsNonCanonicalKeys) {
  SyncRegistration r = MakeRegistration(10, SyncType::kOneShot, "a");
  const std::string value = SyncRegistrationStore::EncodeRecord(r);
  ASSERT_TRUE(SyncRegistrationStore::DecodeRecord("r:000000000000000a:1:a", value).ok());
  // Regression: DecodeRecord used to parse the id with absl::SimpleHexAtoi, which also accepts upper-case digits,
  // a "0x" prefix and a sign, so these non-canonical keys decoded as id 10.
  ExpectDataLoss("r:000000000000000A:1:a", value, "upper-case hex");
  ExpectDataLoss("r:0x0000000000000a:1:a", value, "0x prefix");
  ExpectDataLoss("r:+00000000000000a:1:a", value, "sign");
}

TEST(SyncRegistrationStoreTest, DecodeRejectsABadOrigin) {
  const SyncRegistration r = MakeRegistration(1, SyncType::kOneShot, "a");
  const std::string key = SyncRegistrationStore::EncodeKey(r.key);
  for (const char* origin : {"", "not an origin", "https://mail.example/path", "https://mail.example:0"}) {
    Record record = ParseRecord(SyncRegistrationStore::EncodeRecord(r));
    record.set_origin(origin);
    ExpectDataLoss(key, record.SerializeAsString(), std::string("origin \"") + origin + "\"");
  }
}

TEST(SyncRegistrationStoreTest, DecodeRejectsAnUnknownState) {
  const SyncRegistration r = MakeRegistration(1, SyncType::kOneShot, "a");
  const std::string key = SyncRegistrationStore::EncodeKey(r.key);
  for (int state : {0, 5, 99, -1}) {
    Record record = ParseRecord(SyncRegistrationStore::EncodeRecord(r));
    record.set_state(static_cast<Record::State>(state));
    ExpectDataLoss(key, record.SerializeAsString(), "state " + std::to_string(state));
  }
}

TEST(SyncRegistrationStoreTest, DecodeRejectsCountersOutOfRange) {
  const SyncRegistration r = MakeRegistration(1, SyncType::kOneShot, "a");
  const std::string key = SyncRegistrationStore::EncodeKey(r.key);
  auto with = [&](auto edit) {
    Record record = ParseRecord(SyncRegistrationStore::EncodeRecord(r));
    edit(record);
    return record.SerializeAsString();
  };
  ExpectDataLoss(key, with([](Record& x) {
                   x.set_num_attempts(3);
                   x.set_max_attempts(3);
                 }),
                 "num_attempts == max_attempts");
  ExpectDataLoss(key, with([](Record& x) {
                   x.set_num_attempts(4);
                   x.set_max_attempts(3);
                 }),
                 "num_attempts > max_attempts");
  ExpectDataLoss(key, with([](Record& x) { x.set_num_attempts(-1); }), "negative num_attempts");
  ExpectDataLoss(key, with([](Record& x) { x.set_max_attempts(0); }), "max_attempts 0");
  ExpectDataLoss(key, with([](Record& x) { x.set_consecutive_interruptions(-1); }), "negative interruptions");
  ExpectDataLoss(key, with([](Record& x) { x.set_min_interval_ms(-1); }), "negative min_interval");

  // The boundary that is fine: one attempt left.
  absl::StatusOr<SyncRegistration> last = SyncRegistrationStore::DecodeRecord(key, with([](Record& x) {
                                                                                x.set_num_attempts(2);
                                                                                x.set_max_attempts(3);
                                                                              }));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->num_attempts, 2);
}

// ------------------------------------------------------------------------------------------------------------
// Load: schema version and quarantine.

TEST(SyncRegistrationStoreTest, LoadOnAnEmptyStoreWritesTheSchemaVersion) {
  MemoryStorageBackend backend;
  SyncRegistrationStore store(&backend);
  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(loaded->registrations, IsEmpty());
  EXPECT_THAT(loaded->quarantined, IsEmpty());
  EXPECT_EQ(Contents(backend), (std::map<std::string, std::string>{{"m:schema_version", "1"}}));

  // Loading again reads it and changes nothing.
  loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Contents(backend), (std::map<std::string, std::string>{{"m:schema_version", "1"}}));
}

TEST(SyncRegistrationStoreTest, LoadReadsWhatWasCommittedInKeyOrder) {
  MemoryStorageBackend backend;
  SyncRegistrationStore store(&backend);
  ASSERT_TRUE(store.Load().ok());

  SyncRegistration b = MakeRegistration(2, SyncType::kOneShot, "b");
  SyncRegistration a = MakeRegistration(2, SyncType::kOneShot, "a");
  a.state = SyncState::kWaiting;
  a.num_attempts = 1;
  a.next_attempt_time = absl::FromUnixSeconds(1'800'000'300);
  SyncRegistration p = MakeRegistration(1, SyncType::kPeriodic, "p");
  p.min_interval = absl::Hours(24);
  SyncRegistration gone = MakeRegistration(3, SyncType::kOneShot, "gone");
  StorageBatch batch;
  SyncRegistrationStore::AddPut(b, batch);
  SyncRegistrationStore::AddPut(gone, batch);
  SyncRegistrationStore::AddPut(a, batch);
  SyncRegistrationStore::AddPut(p, batch);
  SyncRegistrationStore::AddDelete(gone.key, batch);
  absl::Notification done;
  store.Commit(std::move(batch), Durability::kDurable, [&](absl::Status status) {
    EXPECT_TRUE(status.ok()) << status;
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));

  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(loaded->quarantined, IsEmpty());
  ASSERT_EQ(loaded->registrations.size(), 3u);
  EXPECT_TRUE(loaded->registrations[0] == p);
  EXPECT_TRUE(loaded->registrations[1] == a);
  EXPECT_TRUE(loaded->registrations[2] == b);
}

TEST(SyncRegistrationStoreTest, LoadRefusesAnUnknownSchemaVersionAndLeavesTheDataAlone) {
  for (const char* version : {"2", "0", "", "one", "1x"}) {
    SCOPED_TRACE(std::string("schema version \"") + version + "\"");
    MemoryStorageBackend backend;
    Put(backend, "m:schema_version", version);
    const SyncRegistration r = MakeRegistration(1, SyncType::kOneShot, "a");
    Put(backend, SyncRegistrationStore::EncodeKey(r.key), SyncRegistrationStore::EncodeRecord(r));
    Put(backend, "r:0000000000000001:1:junk", "garbage");
    const std::map<std::string, std::string> before = Contents(backend);

    SyncRegistrationStore store(&backend);
    absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store.Load();
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition) << loaded.status();
    EXPECT_EQ(Contents(backend), before);
  }
}

TEST(SyncRegistrationStoreTest, LoadQuarantinesCorruptRecordsAndKeepsThemOnDisk) {
  MemoryStorageBackend backend;
  SyncRegistrationStore store(&backend);
  ASSERT_TRUE(store.Load().ok());

  const SyncRegistration good1 = MakeRegistration(1, SyncType::kOneShot, "a");
  const SyncRegistration good2 = MakeRegistration(1, SyncType::kOneShot, "c");
  const SyncRegistration good3 = MakeRegistration(2, SyncType::kPeriodic, "p");
  Put(backend, SyncRegistrationStore::EncodeKey(good1.key), SyncRegistrationStore::EncodeRecord(good1));
  Put(backend, SyncRegistrationStore::EncodeKey(good2.key), SyncRegistrationStore::EncodeRecord(good2));
  Put(backend, SyncRegistrationStore::EncodeKey(good3.key), SyncRegistrationStore::EncodeRecord(good3));
  // Between the good ones: garbage, a record under another record's key, and a bad counter.
  const std::string garbage_key = SyncRegistrationStore::EncodeKey({1, SyncType::kOneShot, "b"});
  Put(backend, garbage_key, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
  const std::string moved_key = SyncRegistrationStore::EncodeKey({1, SyncType::kPeriodic, "moved"});
  Put(backend, moved_key, SyncRegistrationStore::EncodeRecord(good1));
  SyncRegistration exhausted = MakeRegistration(2, SyncType::kOneShot, "x");
  Record record = ParseRecord(SyncRegistrationStore::EncodeRecord(exhausted));
  record.set_num_attempts(3);
  const std::string exhausted_key = SyncRegistrationStore::EncodeKey(exhausted.key);
  Put(backend, exhausted_key, record.SerializeAsString());
  const std::map<std::string, std::string> before = Contents(backend);

  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->registrations.size(), 3u);
  EXPECT_TRUE(loaded->registrations[0] == good1);
  EXPECT_TRUE(loaded->registrations[1] == good2);
  EXPECT_TRUE(loaded->registrations[2] == good3);

  ASSERT_EQ(loaded->quarantined.size(), 3u);
  EXPECT_EQ(loaded->quarantined[0].key, garbage_key);
  EXPECT_EQ(loaded->quarantined[1].key, moved_key);
  EXPECT_EQ(loaded->quarantined[2].key, exhausted_key);
  for (const auto& q : loaded->quarantined)
    EXPECT_FALSE(q.reason.empty()) << q.key;
  EXPECT_THAT(loaded->quarantined[1].reason, HasSubstr("key"));

  // Nothing was deleted or rewritten.
  EXPECT_EQ(Contents(backend), before);
}

TEST(SyncRegistrationStoreTest, LoadPassesOnReadErrors) {
  class FailingReads : public MemoryStorageBackend {
   public:
    absl::StatusOr<KeyValues> ReadPrefix(const std::string&) override { return absl::InternalError("disk on fire"); }
  };
  FailingReads backend;
  SyncRegistrationStore store(&backend);
  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = store.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInternal);
  // It did not write a schema version over an unreadable store.
  EXPECT_THAT(Contents(backend), IsEmpty());
}

}  // namespace
}  // namespace bgsync
