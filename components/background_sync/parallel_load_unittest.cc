// The start-up load read in parallel key ranges (LevelDbStorageBackend::SplitRange and Scan,
// SyncRegistrationStore::LoadByServiceWorker, the engine's Load) gives exactly what one reader of the whole store
// gives: the same registrations in the same order, the same quarantined records, the same engine state.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/retry_policy.h"
#include "components/background_sync/sync_registration_store.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

constexpr int kServiceWorkers = 400;
constexpr int kPerServiceWorker = 150;

Origin OriginOf(int64_t sw) {
  return *Origin::Parse(absl::StrCat("https://site-", sw, ".example"));
}

// Enough records (with random tags, so that they do not compress away) for LevelDB's tables to be split, and some
// of every kind the load treats specially: undecodable records, foreign origins, records found firing, periodic
// registrations, and records of service workers that the registry no longer has (ids above kServiceWorkers).
StorageBatch Contents() {
  std::mt19937 random(99);
  StorageBatch batch;
  batch.Put("m:schema_version", "1");
  for (int64_t sw = 1; sw <= kServiceWorkers + 5; ++sw) {
    for (int i = 0; i < kPerServiceWorker; ++i) {
      SyncRegistration r;
      const bool periodic = i % 37 == 5;
      r.key = {sw, periodic ? SyncType::kPeriodic : SyncType::kOneShot,
               absl::StrCat("tag-", i, "-", random(), "-", random())};
      r.origin = OriginOf(sw);
      r.max_attempts = 3;
      if (periodic)
        r.min_interval = absl::Hours(24);
      if (i % 53 == 7)
        r.state = SyncState::kFiring;
      if (i % 61 == 9)
        r.origin = *Origin::Parse("https://foreign.example");
      const std::string key = SyncRegistrationStore::EncodeKey(r.key);
      batch.Put(key, i % 71 == 3 ? std::string("not a record") : SyncRegistrationStore::EncodeRecord(r));
    }
  }
  return batch;
}

class ParallelLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::path(::testing::TempDir()) /
             absl::StrCat("parallel_load_", ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    std::filesystem::remove_all(path_);
    {
      absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path_);
      ASSERT_TRUE(backend.ok()) << backend.status();
      ASSERT_TRUE(CommitAndWait(**backend, Contents(), Durability::kBuffered).ok());
    }
    // Reopened, the log is written into a table, which SplitRange sees.
    memory_ = std::make_shared<MemoryStorageBackend::Storage>();
    MemoryStorageBackend memory(memory_);
    ASSERT_TRUE(CommitAndWait(memory, Contents(), Durability::kBuffered).ok());
  }
  void TearDown() override { std::filesystem::remove_all(path_); }

  std::unique_ptr<LevelDbStorageBackend> OpenLevelDb() {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path_);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? *std::move(backend) : nullptr;
  }

  std::string path_;
  std::shared_ptr<MemoryStorageBackend::Storage> memory_;
};

TEST_F(ParallelLoadTest, SplitRangeCutsTheStoreIntoOrderedRangesAndScanReadsExactlyThem) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenLevelDb();
  ASSERT_NE(backend, nullptr);
  const std::vector<std::string> splits = backend->SplitRange("r:", "r;", 4);
  ASSERT_FALSE(splits.empty());
  EXPECT_LE(splits.size(), 3u);
  std::vector<std::string> bounds = {"r:"};
  bounds.insert(bounds.end(), splits.begin(), splits.end());
  bounds.push_back("r;");
  for (size_t i = 0; i + 1 < bounds.size(); ++i)
    EXPECT_LT(bounds[i], bounds[i + 1]);

  absl::StatusOr<StorageBackend::KeyValues> all = backend->ReadPrefix("r:");
  ASSERT_TRUE(all.ok());
  StorageBackend::KeyValues scanned;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    size_t in_range = 0;
    ASSERT_TRUE(backend
                    ->Scan(bounds[i], bounds[i + 1],
                           [&](absl::string_view key, absl::string_view value) {
                             EXPECT_GE(key, bounds[i]);
                             EXPECT_LT(key, bounds[i + 1]);
                             scanned.emplace_back(std::string(key), std::string(value));
                             ++in_range;
                             return absl::OkStatus();
                           })
                    .ok());
    EXPECT_GT(in_range, 0u) << "range " << i << " is empty";
  }
  EXPECT_EQ(scanned, *all);

  // A visitor's error stops the scan and is returned.
  int visited = 0;
  absl::Status stopped = backend->Scan("r:", "", [&](absl::string_view, absl::string_view) {
    ++visited;
    return absl::CancelledError("enough");
  });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(visited, 1);
  // Small ranges are not split.
  EXPECT_TRUE(backend->SplitRange("m:", "m;", 4).empty());
}

TEST_F(ParallelLoadTest, TheStoreLoadsTheSameInParallelAsInOneRead) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenLevelDb();
  ASSERT_NE(backend, nullptr);
  SyncRegistrationStore store(backend.get());
  absl::StatusOr<SyncRegistrationStore::LoadResult> serial = store.Load();
  ASSERT_TRUE(serial.ok()) << serial.status();
  std::atomic<int> groups_seen{0};
  absl::StatusOr<SyncRegistrationStore::LoadByServiceWorkerResult> parallel =
      store.LoadByServiceWorker(4, [&](SyncRegistrationStore::LoadedServiceWorker& group) {
        ++groups_seen;
        for (const SyncRegistration& r : group.registrations)
          EXPECT_EQ(r.key.sw_registration_id, group.sw_registration_id);
      });
  ASSERT_TRUE(parallel.ok()) << parallel.status();
  EXPECT_GE(groups_seen.load(), kServiceWorkers + 5);

  std::vector<SyncRegistration> flattened;
  for (SyncRegistrationStore::LoadedServiceWorker& group : parallel->service_workers) {
    EXPECT_FALSE(group.registrations.empty());
    for (SyncRegistration& r : group.registrations)
      flattened.push_back(std::move(r));
  }
  ASSERT_EQ(flattened.size(), serial->registrations.size());
  for (size_t i = 0; i < flattened.size(); ++i)
    ASSERT_EQ(flattened[i], serial->registrations[i]) << i;
  ASSERT_EQ(parallel->quarantined.size(), serial->quarantined.size());
  for (size_t i = 0; i < parallel->quarantined.size(); ++i) {
    EXPECT_EQ(parallel->quarantined[i].key, serial->quarantined[i].key);
    EXPECT_EQ(parallel->quarantined[i].reason, serial->quarantined[i].reason);
  }
  EXPECT_FALSE(serial->quarantined.empty());
}

// The engine on LevelDB (read in parallel ranges) and on the same contents in memory (one read) ends up the same.
TEST_F(ParallelLoadTest, TheEngineLoadsTheSameInParallelAsInOneRead) {
  struct Started {
    FakeClock clock;
    FakeNetworkState network{false};
    FakePermissionController permissions;
    FakeServiceWorkerRegistry registry;
    FakeSyncEventDispatcher dispatcher;
    std::unique_ptr<BackgroundSyncEngine> engine;
  };
  auto start = [](Started& s, std::unique_ptr<StorageBackend> backend) {
    for (int64_t sw = 1; sw <= kServiceWorkers; ++sw)
      s.registry.Add(sw, OriginOf(sw));
    BackgroundSyncEngine::Dependencies deps;
    deps.clock = &s.clock;
    deps.network = &s.network;
    deps.permissions = &s.permissions;
    deps.registry = &s.registry;
    deps.dispatcher = &s.dispatcher;
    deps.storage = std::move(backend);
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
        BackgroundSyncEngine::Create(std::move(deps), BackgroundSyncParameters());
    ASSERT_TRUE(engine.ok()) << engine.status();
    s.engine = *std::move(engine);
  };
  Started on_leveldb;
  start(on_leveldb, OpenLevelDb());
  Started in_memory;
  start(in_memory, std::make_unique<MemoryStorageBackend>(memory_));
  ASSERT_NE(on_leveldb.engine, nullptr);
  ASSERT_NE(in_memory.engine, nullptr);

  const BackgroundSyncEngine::LoadReport& a = on_leveldb.engine->load_report();
  const BackgroundSyncEngine::LoadReport& b = in_memory.engine->load_report();
  EXPECT_EQ(a.loaded, b.loaded);
  EXPECT_EQ(a.interrupted, b.interrupted);
  EXPECT_EQ(a.dropped_unregistered, b.dropped_unregistered);
  EXPECT_GT(a.interrupted, 0);
  EXPECT_EQ(a.dropped_unregistered, 5 * kPerServiceWorker - 5 * 3);  // their undecodable records stay quarantined
  ASSERT_EQ(a.quarantined.size(), b.quarantined.size());
  for (size_t i = 0; i < a.quarantined.size(); ++i) {
    EXPECT_EQ(a.quarantined[i].key, b.quarantined[i].key);
    EXPECT_EQ(a.quarantined[i].reason, b.quarantined[i].reason);
  }
  EXPECT_EQ(on_leveldb.engine->GetAllRegistrations(), in_memory.engine->GetAllRegistrations());
}

// After a load the engine sets its wake-up timer from what the load noted instead of another pass over every
// registration: the earliest next attempt in the future of a pending or waiting registration, including those found
// firing once recovered, and none for registrations that are not pending or waiting.
TEST(WakeUpAfterLoadTest, IsTheEarliestFutureAttemptOfAPendingOrWaitingRegistration) {
  FakeClock clock;
  const absl::Time now = clock.Now();
  BackgroundSyncParameters parameters;
  auto make = [&](int64_t sw, SyncType type, const std::string& tag, SyncState state, absl::Time next) {
    SyncRegistration r;
    r.key = {sw, type, tag};
    r.origin = OriginOf(sw);
    r.state = state;
    r.max_attempts = 3;
    r.num_attempts = state == SyncState::kWaiting ? 1 : 0;
    r.next_attempt_time = next;
    if (type == SyncType::kPeriodic)
      r.min_interval = absl::Hours(12);
    return r;
  };
  struct Case {
    std::string name;
    std::vector<SyncRegistration> registrations;
    absl::Time expected;
  };
  SyncRegistration interrupted = make(3, SyncType::kOneShot, "crashy", SyncState::kFiring, now - absl::Hours(1));
  // Its next interruption counts as that many failed attempts, which leaves it waiting for a retry.
  interrupted.consecutive_interruptions = parameters.max_consecutive_interruptions - 1;
  interrupted.max_attempts = parameters.max_consecutive_interruptions + 2;
  const std::vector<Case> cases = {
      {"nothing in the future",
       {make(1, SyncType::kOneShot, "a", SyncState::kPending, absl::InfinitePast())},
       absl::InfiniteFuture()},
      {"waiting one-shots and a periodic",
       {make(1, SyncType::kOneShot, "a", SyncState::kWaiting, now + absl::Minutes(9)),
        make(2, SyncType::kOneShot, "b", SyncState::kWaiting, now + absl::Minutes(5)),
        make(2, SyncType::kPeriodic, "p", SyncState::kPending, now + absl::Minutes(7)),
        make(1, SyncType::kOneShot, "past", SyncState::kWaiting, now - absl::Minutes(1))},
       now + absl::Minutes(5)},
      {"a periodic at the latest storable time",
       {make(1, SyncType::kPeriodic, "far", SyncState::kPending, LatestStorableTime())},
       LatestStorableTime()},
      {"recovered after its interruptions",
       {interrupted, make(1, SyncType::kOneShot, "a", SyncState::kWaiting, now + absl::Hours(5))},
       NextAttemptTime(parameters, now, parameters.max_consecutive_interruptions)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeNetworkState network(false);
    FakePermissionController permissions;
    FakeServiceWorkerRegistry registry;
    FakeSyncEventDispatcher dispatcher;
    FakeClock case_clock(now);
    for (int64_t sw = 1; sw <= 3; ++sw)
      registry.Add(sw, OriginOf(sw));
    auto backend = std::make_unique<MemoryStorageBackend>();
    StorageBatch batch;
    batch.Put("m:schema_version", "1");
    for (const SyncRegistration& r : c.registrations)
      SyncRegistrationStore::AddPut(r, batch);
    ASSERT_TRUE(CommitAndWait(*backend, std::move(batch), Durability::kDurable).ok());
    BackgroundSyncEngine::Dependencies deps;
    deps.clock = &case_clock;
    deps.network = &network;
    deps.permissions = &permissions;
    deps.registry = &registry;
    deps.dispatcher = &dispatcher;
    deps.storage = std::move(backend);
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
        BackgroundSyncEngine::Create(std::move(deps), parameters);
    ASSERT_TRUE(engine.ok()) << engine.status();
    EXPECT_EQ(case_clock.NextTimerTime(), c.expected);
  }
}

// The browser opens its store without reading every record (verify_records_at_open off) because the load reads them
// all; damage in a table then surfaces as the load's error, and the verified open repairs or keeps aside the store.
TEST_F(ParallelLoadTest, DamageFoundByTheLoadIsLeftToTheVerifiedOpen) {
  {
    // Reopened once so that every record sits in a table.
    ASSERT_NE(OpenLevelDb(), nullptr);
  }
  std::filesystem::path largest;
  uintmax_t largest_size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path_)) {
    if (entry.path().extension() == ".ldb" && entry.file_size() > largest_size) {
      largest = entry.path();
      largest_size = entry.file_size();
    }
  }
  ASSERT_GT(largest_size, 0u);
  {
    std::fstream table(largest, std::ios::in | std::ios::out | std::ios::binary);
    table.seekp(static_cast<std::streamoff>(largest_size / 3));
    const char garbage[16] = {'\x5a', '\xa5', '\x5a', '\xa5', '\x5a', '\xa5', '\x5a', '\xa5',
                              '\x5a', '\xa5', '\x5a', '\xa5', '\x5a', '\xa5', '\x5a', '\xa5'};
    table.write(garbage, sizeof(garbage));
  }

  LevelDbStorageBackend::Options fast;
  fast.verify_records_at_open = false;
  absl::Status load_error;
  {
    absl::StatusOr<LevelDbStorageBackend::OpenResult> opened = LevelDbStorageBackend::OpenWithRecovery(path_, fast);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(opened->outcome, LevelDbStorageBackend::OpenOutcome::kServed);
    SyncRegistrationStore store(opened->backend.get());
    absl::StatusOr<SyncRegistrationStore::LoadByServiceWorkerResult> loaded = store.LoadByServiceWorker(4);
    ASSERT_FALSE(loaded.ok());
    load_error = loaded.status();
  }
  EXPECT_TRUE(LevelDbStorageBackend::MayBeDamage(load_error)) << load_error;

  absl::StatusOr<LevelDbStorageBackend::OpenResult> verified = LevelDbStorageBackend::OpenWithRecovery(path_, {});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_NE(verified->outcome, LevelDbStorageBackend::OpenOutcome::kServed);
  EXPECT_FALSE(verified->kept_aside.empty());
  EXPECT_TRUE(std::filesystem::exists(verified->kept_aside));
  if (verified->outcome == LevelDbStorageBackend::OpenOutcome::kRepaired) {
    ASSERT_TRUE(SyncRegistrationStore::RestoreSchemaVersionAfterRepair(*verified->backend).ok());
  }
  SyncRegistrationStore store(verified->backend.get());
  EXPECT_TRUE(store.LoadByServiceWorker(4).ok());
  std::filesystem::remove_all(verified->kept_aside);
}

}  // namespace
}  // namespace bgsync
