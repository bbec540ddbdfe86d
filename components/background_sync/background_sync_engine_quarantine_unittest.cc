// Garbage behind valid keys (reliability.md P7): every kind of record the engine cannot have written is skipped at
// load and reported in the load report, the rest loads, and the record stays on disk as it was — also when the same
// service worker registers the same tag again.
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/proto/sync_registration_record.pb.h"
#include "components/background_sync/sync_registration_store.h"
#include "components/background_sync/testing/engine_test_fixture.h"
#include "gmock/gmock.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Record = storage::SyncRegistrationRecord;

class EngineQuarantineTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    network_.SetOnline(false);  // nothing fires: the disk changes only where a test says
  }

  std::map<std::string, std::string> DiskContents() {
    absl::MutexLock lock(&disk_->mu);
    return disk_->data;
  }
  void PutRaw(const std::string& key, const std::string& value) {
    absl::MutexLock lock(&disk_->mu);
    disk_->data[key] = value;
  }

  // A record the engine could have written for `key`, edited by `edit`.
  std::string EditedRecord(const RegistrationKey& key, const std::function<void(Record&)>& edit) {
    SyncRegistration r;
    r.key = key;
    r.origin = origin_;
    r.max_attempts = 3;
    if (key.type == SyncType::kPeriodic) {
      r.min_interval = absl::Hours(12);
      r.anchor_time = clock_.Now();
      r.next_attempt_time = clock_.Now() + absl::Hours(12);
    }
    Record record;
    EXPECT_TRUE(record.ParseFromString(SyncRegistrationStore::EncodeRecord(r)));
    edit(record);
    return record.SerializeAsString();
  }
};

struct GarbageKind {
  std::string name;
  RegistrationKey key;
  // The stored bytes, given a function that edits a valid record of `key`.
  std::function<std::string(const std::function<std::string(const std::function<void(Record&)>&)>&)> value;
  std::string reason;  // a part of the reported reason
};

TEST_F(EngineQuarantineTest, EachKindOfGarbageBehindAValidKeyIsSkippedReportedAndKept) {
  ASSERT_TRUE(Register("good-before").ok());
  ASSERT_TRUE(Register("good-periodic", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(12)).ok());
  ASSERT_TRUE(Register("zz-good-after").ok());

  auto one_shot = [](const std::string& tag) { return RegistrationKey{kSw, SyncType::kOneShot, tag}; };
  auto periodic = [](const std::string& tag) { return RegistrationKey{kSw, SyncType::kPeriodic, tag}; };
  using Edit = std::function<void(Record&)>;
  using Make = std::function<std::string(const Edit&)>;
  const std::vector<GarbageKind> kinds = {
      {"bad protobuf", one_shot("bad-protobuf"), [](const Make&) { return std::string(11, '\xff'); }, "does not parse"},
      {"truncated protobuf", one_shot("truncated"),
       [](const Make& make) {
         std::string bytes = make([](Record&) {});
         return bytes.substr(0, bytes.size() - 3);
       },
       ""},
      {"negative interval", periodic("negative-interval"),
       [](const Make& make) { return make([](Record& r) { r.set_min_interval_ms(-1); }); }, "out of range"},
      {"negative attempts", one_shot("negative-attempts"),
       [](const Make& make) { return make([](Record& r) { r.set_num_attempts(-2); }); }, "out of range"},
      {"attempts beyond the maximum", one_shot("exhausted"),
       [](const Make& make) { return make([](Record& r) { r.set_num_attempts(3); }); }, "out of range"},
      {"no attempts allowed", one_shot("no-attempts"),
       [](const Make& make) { return make([](Record& r) { r.set_max_attempts(0); }); }, "out of range"},
      {"negative interruptions", one_shot("negative-interruptions"),
       [](const Make& make) { return make([](Record& r) { r.set_consecutive_interruptions(-1); }); }, "out of range"},
      // Found by engine_load_fuzzer: a firing record with INT32_MAX interruptions overflowed the restart count.
      {"interruptions at INT32_MAX", one_shot("endless-interruptions"),
       [](const Make& make) {
         return make([](Record& r) {
           r.set_state(Record::FIRING);
           r.set_consecutive_interruptions(std::numeric_limits<int32_t>::max());
         });
       },
       "out of range"},
      {"attempts allowed at INT32_MAX", one_shot("endless-attempts"),
       [](const Make& make) {
         return make([](Record& r) { r.set_max_attempts(std::numeric_limits<int32_t>::max()); });
       },
       "out of range"},
      {"unknown state", one_shot("unknown-state"),
       [](const Make& make) { return make([](Record& r) { r.set_state(static_cast<Record::State>(9)); }); },
       "unknown state"},
      {"unspecified state", one_shot("unspecified-state"),
       [](const Make& make) { return make([](Record& r) { r.set_state(Record::STATE_UNSPECIFIED); }); },
       "unknown state"},
      {"unknown type", one_shot("unknown-type"),
       [](const Make& make) { return make([](Record& r) { r.set_type(static_cast<Record::Type>(7)); }); },
       "does not match its key"},
      {"unknown last failure", one_shot("unknown-failure"),
       [](const Make& make) { return make([](Record& r) { r.set_last_failure(static_cast<Record::Outcome>(42)); }); },
       "unknown last_failure"},
      {"one-shot with an interval", one_shot("one-shot-interval"),
       [](const Make& make) { return make([](Record& r) { r.set_min_interval_ms(1000); }); }, "min_interval"},
      {"origin that does not parse", one_shot("bad-origin"),
       [](const Make& make) { return make([](Record& r) { r.set_origin("not an origin"); }); }, ""},
      {"another service worker's id", one_shot("other-id"),
       [](const Make& make) { return make([](Record& r) { r.set_sw_registration_id(2); }); }, "does not match its key"},
      {"another tag", one_shot("other-tag"),
       [](const Make& make) { return make([](Record& r) { r.set_tag("good-before"); }); }, "does not match its key"},
      {"empty value", one_shot("empty"), [](const Make&) { return std::string(); }, "does not match its key"},
      {"tag that is not UTF-8", one_shot("bad-\xc3\x28-utf8"), [](const Make& make) { return make([](Record&) {}); },
       "UTF-8"},
      {"tag beyond the limit", one_shot(std::string(10241, 't')), [](const Make& make) { return make([](Record&) {}); },
       "too long"},
  };
  std::map<std::string, std::string> garbage;  // key -> bytes
  for (const GarbageKind& kind : kinds) {
    const std::string key = SyncRegistrationStore::EncodeKey(kind.key);
    garbage[key] = kind.value([&](const Edit& edit) { return EditedRecord(kind.key, edit); });
    PutRaw(key, garbage[key]);
  }

  RestartEngine();
  const BackgroundSyncEngine::LoadReport& report = engine().load_report();
  EXPECT_EQ(report.loaded, 3);
  EXPECT_THAT(*GetTags(), ElementsAre("good-before", "zz-good-after"));
  EXPECT_THAT(*GetTags(kSw, SyncType::kPeriodic), ElementsAre("good-periodic"));
  std::map<std::string, std::string> reported;
  for (const auto& q : report.quarantined)
    reported[q.key] = q.reason;
  for (const GarbageKind& kind : kinds) {
    SCOPED_TRACE(kind.name);
    const std::string key = SyncRegistrationStore::EncodeKey(kind.key);
    ASSERT_TRUE(reported.count(key)) << "not reported";
    EXPECT_FALSE(reported[key].empty());
    EXPECT_THAT(reported[key], HasSubstr(kind.reason));
    EXPECT_EQ(DiskContents().at(key), garbage[key]) << "not kept as it was";
  }
  EXPECT_EQ(report.quarantined.size(), kinds.size());
}

// Issue 2's leftover: a record quarantined for an origin mismatch is kept on disk; the same service worker
// registering the same tag again must not overwrite it.
TEST_F(EngineQuarantineTest, RegisterDoesNotOverwriteAQuarantinedRecord) {
  registry_.Add(2, origin_);
  ASSERT_TRUE(Register("suspect", 0, 2).ok());
  const std::string suspect_key = SyncRegistrationStore::EncodeKey({2, SyncType::kOneShot, "suspect"});
  const std::string suspect_bytes = DiskContents().at(suspect_key);
  const std::string garbage_key = SyncRegistrationStore::EncodeKey({kSw, SyncType::kOneShot, "garbage"});
  PutRaw(garbage_key, std::string(9, '\xff'));

  // Service worker 2 now belongs to another origin; its page registers the same tag.
  registry_.Add(2, other_origin_);
  RestartEngine();
  ASSERT_EQ(engine().load_report().quarantined.size(), 2u);
  absl::Status again = Register("suspect", 0, 2, SyncType::kOneShot, other_origin_);
  EXPECT_EQ(ErrorOf(again), BackgroundSyncError::BACKGROUND_SYNC_ERROR_STORAGE) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr("kept for inspection"));
  EXPECT_THAT(std::string(again.message()), HasSubstr(origin_.Serialize()));
  absl::Status over_garbage = Register("garbage");
  EXPECT_EQ(ErrorOf(over_garbage), BackgroundSyncError::BACKGROUND_SYNC_ERROR_STORAGE) << over_garbage;
  EXPECT_EQ(DiskContents().at(suspect_key), suspect_bytes);
  EXPECT_EQ(DiskContents().at(garbage_key), std::string(9, '\xff'));

  // Other tags and the other type under the same service worker work.
  EXPECT_TRUE(Register("fresh", 0, 2, SyncType::kOneShot, other_origin_).ok());
  EXPECT_TRUE(Register("suspect", 0, 2, SyncType::kPeriodic, other_origin_, absl::Hours(12)).ok());

  // Still refused after another restart: the record is still there.
  RestartEngine();
  EXPECT_EQ(ErrorOf(Register("suspect", 0, 2, SyncType::kOneShot, other_origin_)),
            BackgroundSyncError::BACKGROUND_SYNC_ERROR_STORAGE);
  EXPECT_EQ(DiskContents().at(suspect_key), suspect_bytes);
}

// After a repair lost the block holding the schema version, the version is restored for the records that survived;
// nothing is written anywhere else.
TEST(RestoreSchemaVersionAfterRepairTest, RewritesAMissingVersionOnlyWhenRecordsSurvived) {
  MemoryStorageBackend empty;
  EXPECT_FALSE(*SyncRegistrationStore::RestoreSchemaVersionAfterRepair(empty));
  EXPECT_TRUE(empty.ReadPrefix("")->empty());

  MemoryStorageBackend versioned;
  ASSERT_TRUE(SyncRegistrationStore(&versioned).Load().ok());
  EXPECT_FALSE(*SyncRegistrationStore::RestoreSchemaVersionAfterRepair(versioned));

  MemoryStorageBackend salvaged;
  SyncRegistration r;
  r.key = {1, SyncType::kOneShot, "outbox"};
  r.origin = *Origin::Parse("https://mail.example");
  r.max_attempts = 3;
  StorageBatch batch;
  SyncRegistrationStore::AddPut(r, batch);
  ASSERT_TRUE(CommitAndWait(salvaged, std::move(batch), Durability::kDurable).ok());
  EXPECT_EQ(SyncRegistrationStore(&salvaged).Load().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(*SyncRegistrationStore::RestoreSchemaVersionAfterRepair(salvaged));
  absl::StatusOr<SyncRegistrationStore::LoadResult> loaded = SyncRegistrationStore(&salvaged).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->registrations.size(), 1u);
  EXPECT_EQ(loaded->registrations[0].key.tag, "outbox");
}

}  // namespace
}  // namespace bgsync
