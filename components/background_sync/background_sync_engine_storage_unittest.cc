// The engine and its store: restarts (spec.md decision 4), crash-interrupted events and the poison-pill bound,
// storage failures (decision 7), unregistration racing Register (decision 5), independence of service-worker
// registrations while one is blocked in storage, validation at load (reliability.md P7), and a real LevelDB.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/retry_policy.h"
#include "components/background_sync/sync_registration_store.h"
#include "components/background_sync/testing/engine_test_fixture.h"
#include "gmock/gmock.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using E = BackgroundSyncError;

constexpr absl::Duration kDeadline = absl::Seconds(30);

std::string Describe(const SyncRegistration& r) {
  return absl::StrCat(r.key.sw_registration_id, "/", SyncTypeName(r.key.type), "/\"", r.key.tag, "\" ",
                      r.origin.Serialize(), " ", SyncStateName(r.state), " attempts ", r.num_attempts, "/",
                      r.max_attempts, " next ", absl::FormatTime(r.next_attempt_time), " interval ",
                      absl::FormatDuration(r.min_interval), " interruptions ", r.consecutive_interruptions,
                      " last_failure ", SyncEventOutcomeName(r.last_failure), r.resolved ? " resolved" : " unresolved");
}

void ExpectSameRegistrations(const std::vector<SyncRegistration>& expected,
                             const std::vector<SyncRegistration>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(expected[i] == actual[i])
        << "registration " << i << "\n  expected " << Describe(expected[i]) << "\n  actual   " << Describe(actual[i]);
  }
}

class EngineStorageTest : public EngineTest {
 protected:
  // The raw stored records (schema version included).
  std::map<std::string, std::string> DiskContents() {
    absl::MutexLock lock(&disk_->mu);
    return disk_->data;
  }
  bool DiskHasPrefix(const std::string& prefix) {
    for (const auto& [key, value] : DiskContents()) {
      if (absl::StartsWith(key, prefix))
        return true;
    }
    return false;
  }
  // Creates an engine over `backend` with the fixture's fakes and parameters_ (the fixture's own engine should be
  // reset first: one engine per disk).
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> CreateEngineOn(std::unique_ptr<StorageBackend> backend) {
    return BackgroundSyncEngine::Create(MakeDependencies(std::move(backend)), parameters_);
  }
  static std::string SwKeyPrefix(int64_t sw) {
    // "r:<16 hex>:" is the first 19 characters of every key of `sw`.
    return SyncRegistrationStore::EncodeKey({sw, SyncType::kOneShot, ""}).substr(0, 19);
  }
};

// ------------------------------------------------------------------------------------------------------------
// Restarts.

TEST_F(EngineStorageTest, RestartRestoresEveryRegistrationExactly) {
  registry_.Add(2, origin_);
  // A one-shot waiting after a failure.
  ASSERT_TRUE(Register("waiting").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  ASSERT_EQ(Find("waiting")->state, SyncState::kWaiting);
  clock_.Advance(absl::Minutes(1));

  // Pending one-shots (offline), periodic ones, and the same tag in both namespaces.
  network_.SetOnline(false);
  ASSERT_TRUE(Register("pending").ok());
  ASSERT_TRUE(Register("pending-sw2", 0, 2).ok());
  ASSERT_TRUE(Register("", 0, 2).ok());
  ASSERT_TRUE(Register("periodic", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(24)).ok());
  ASSERT_TRUE(Register("periodic-0", 0, 2, SyncType::kPeriodic, std::nullopt, absl::ZeroDuration()).ok());
  ASSERT_TRUE(Register("same", 0, kSw, SyncType::kOneShot).ok());
  ASSERT_TRUE(Register("same", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(12)).ok());

  const std::vector<SyncRegistration> before = engine().GetAllRegistrations();
  ASSERT_EQ(before.size(), 8u);
  ExpectMemoryEqualsDisk();

  RestartEngine();
  ExpectSameRegistrations(before, engine().GetAllRegistrations());
  EXPECT_EQ(engine().load_report().loaded, 8);
  EXPECT_EQ(engine().load_report().interrupted, 0);
  EXPECT_EQ(engine().load_report().dropped_unregistered, 0);
  EXPECT_THAT(engine().load_report().quarantined, IsEmpty());
  EXPECT_THAT(*GetTags(kSw, SyncType::kOneShot), ElementsAre("pending", "same", "waiting"));
  EXPECT_THAT(*GetTags(2, SyncType::kOneShot), ElementsAre("", "pending-sw2"));
  EXPECT_THAT(*GetTags(kSw, SyncType::kPeriodic), ElementsAre("periodic", "same"));
  EXPECT_THAT(*GetTags(2, SyncType::kPeriodic), ElementsAre("periodic-0"));
  EXPECT_EQ(dispatcher_.count(), 1u);  // offline: nothing fired at start

  // A second restart changes nothing either.
  RestartEngine();
  ExpectSameRegistrations(before, engine().GetAllRegistrations());
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStorageTest, PendingRegistrationFiresAtStartWhenOnline) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("outbox").ok());
  network_.SetOnline(true);
  RestartEngine();
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "outbox");
  EXPECT_EQ(Find("outbox")->state, SyncState::kFiring);
  dispatcher_.SettleLast(SyncEventOutcome::kCompleted);
  EXPECT_FALSE(Find("outbox"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStorageTest, RetryTimeIsAbsoluteAcrossRestart) {
  ASSERT_TRUE(Register("outbox").ok());
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  const absl::Time retry_at = clock_.Now() + parameters_.initial_retry_delay;
  ASSERT_EQ(Find("outbox")->next_attempt_time, retry_at);

  // The browser restarts 3 minutes into the 5-minute wait: 2 minutes remain, not 5.
  clock_.Advance(absl::Minutes(3));
  RestartEngine();
  EXPECT_EQ(Find("outbox")->next_attempt_time, retry_at);
  clock_.Advance(absl::Minutes(2) - absl::Seconds(1));
  EXPECT_EQ(dispatcher_.count(), 1u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(clock_.Now(), retry_at);
  EXPECT_EQ(dispatcher_.requests()[1].deadline, retry_at + parameters_.max_sync_event_duration);
}

TEST_F(EngineStorageTest, RetryTimeKeptWhenTheBrowserStartsOneSecondBeforeIt) {
  ASSERT_TRUE(Register("outbox").ok());
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  const absl::Time retry_at = Find("outbox")->next_attempt_time;
  ASSERT_EQ(retry_at, clock_.Now() + absl::Minutes(5));

  // The browser was down; it comes back one second before the retry time.
  clock_.SetNow(retry_at - absl::Seconds(1));
  RestartEngine();
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(Find("outbox")->state, SyncState::kWaiting);
  clock_.Advance(absl::Seconds(1) - absl::Milliseconds(1));
  EXPECT_EQ(dispatcher_.count(), 1u);
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(dispatcher_.requests()[1].deadline, retry_at + parameters_.max_sync_event_duration);
}

TEST_F(EngineStorageTest, RetryOverdueAtStartFiresAtOnce) {
  ASSERT_TRUE(Register("outbox").ok());
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  clock_.SetNow(clock_.Now() + absl::Hours(5));
  RestartEngine();
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(Find("outbox")->state, SyncState::kFiring);
  EXPECT_EQ(Find("outbox")->num_attempts, 1);
}

TEST_F(EngineStorageTest, UnacknowledgedRegistrationIsResolvedAfterRestart) {
  constexpr ClientId kClient = 7;
  ASSERT_TRUE(Register("outbox", kClient).ok());
  EXPECT_EQ(dispatcher_.count(), 0u);
  EXPECT_FALSE(Find("outbox")->resolved);
  RestartEngine();
  EXPECT_TRUE(Find("outbox")->resolved);
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "outbox");
}

TEST_F(EngineStorageTest, FailedStartDeletesNothing) {
  registry_.Add(2, origin_);
  ASSERT_TRUE(Register("interrupted").ok());  // firing when the engine stops
  network_.SetOnline(false);
  ASSERT_TRUE(Register("orphan", 0, 2).ok());
  ASSERT_TRUE(Register("plain").ok());
  registry_.Remove(2);  // start-up will want to delete "orphan" and rewrite "interrupted"
  engine_.reset();
  const std::map<std::string, std::string> before = DiskContents();

  {
    auto backend = std::make_unique<ControllableStorageBackend>(std::make_unique<MemoryStorageBackend>(disk_));
    backend->controls()->FailNextCommits(1);
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine = CreateEngineOn(std::move(backend));
    EXPECT_FALSE(engine.ok()) << "the start-up write failed";
    EXPECT_EQ(DiskContents(), before);
  }
  {
    auto backend = std::make_unique<ControllableStorageBackend>(std::make_unique<MemoryStorageBackend>(disk_));
    {
      absl::MutexLock lock(&backend->controls()->mu);
      backend->controls()->fail_reads = true;
    }
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine = CreateEngineOn(std::move(backend));
    ASSERT_FALSE(engine.ok());
    EXPECT_EQ(engine.status().code(), absl::StatusCode::kInternal) << engine.status();
    EXPECT_EQ(DiskContents(), before);
  }
  {
    {
      absl::MutexLock lock(&disk_->mu);
      disk_->data["m:schema_version"] = "2";
    }
    std::map<std::string, std::string> newer = before;
    newer["m:schema_version"] = "2";
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
        CreateEngineOn(std::make_unique<MemoryStorageBackend>(disk_));
    ASSERT_FALSE(engine.ok());
    EXPECT_EQ(engine.status().code(), absl::StatusCode::kFailedPrecondition) << engine.status();
    EXPECT_EQ(DiskContents(), newer);
    absl::MutexLock lock(&disk_->mu);
    disk_->data["m:schema_version"] = "1";
  }
  EXPECT_EQ(dispatcher_.count(), 1u) << "a failed start fires nothing";

  // A start that works does what the failed ones could not.
  StartEngine();
  EXPECT_EQ(engine().load_report().interrupted, 1);
  EXPECT_EQ(engine().load_report().dropped_unregistered, 1);
  EXPECT_THAT(*GetTags(), ElementsAre("interrupted", "plain"));
  EXPECT_FALSE(DiskHasPrefix(SwKeyPrefix(2)));
  ExpectMemoryEqualsDisk();
}

// Register answers after a durable write (reliability.md P1); so do the settle and the unregistration.
TEST_F(EngineStorageTest, WritesAreDurableUnlessDurableWritesIsOff) {
  struct Log {
    absl::Mutex mu;
    std::vector<Durability> commits ABSL_GUARDED_BY(mu);
    std::vector<Durability> Take() {
      absl::MutexLock lock(&mu);
      std::vector<Durability> result;
      result.swap(commits);
      return result;
    }
  };
  class RecordingBackend : public MemoryStorageBackend {
   public:
    RecordingBackend(std::shared_ptr<Storage> storage, std::shared_ptr<Log> log)
        : MemoryStorageBackend(std::move(storage)), log_(std::move(log)) {}
    void Commit(StorageBatch batch, Durability durability, CommitCallback done) override {
      {
        absl::MutexLock lock(&log_->mu);
        log_->commits.push_back(durability);
      }
      MemoryStorageBackend::Commit(std::move(batch), durability, std::move(done));
    }

   private:
    std::shared_ptr<Log> log_;
  };

  engine_.reset();
  auto log = std::make_shared<Log>();
  network_.SetOnline(false);
  {
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
        CreateEngineOn(std::make_unique<RecordingBackend>(disk_, log));
    ASSERT_TRUE(engine.ok()) << engine.status();
    log->Take();
    Result<absl::Status> registered;
    BackgroundSyncEngine::RegisterRequest request;
    request.origin = origin_;
    request.sw_registration_id = kSw;
    request.tag = "outbox";
    (*engine)->Register(request, registered.callback());
    ASSERT_TRUE(registered.ready() && registered.value->ok());
    EXPECT_THAT(log->Take(), ElementsAre(Durability::kDurable)) << "Register";

    network_.SetOnline(true);
    (*engine)->OnNetworkChanged();
    ASSERT_EQ(dispatcher_.count(), 1u);
    log->Take();  // marking it firing may be buffered
    dispatcher_.SettleLast(SyncEventOutcome::kRejected);
    EXPECT_THAT(log->Take(), ElementsAre(Durability::kDurable)) << "settle";

    Result<absl::Status> unregistered;
    (*engine)->OnServiceWorkerUnregistered(kSw, unregistered.callback());
    ASSERT_TRUE(unregistered.ready() && unregistered.value->ok());
    EXPECT_THAT(log->Take(), ElementsAre(Durability::kDurable)) << "unregistration";
  }

  parameters_.durable_writes = false;
  network_.SetOnline(false);
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
      CreateEngineOn(std::make_unique<RecordingBackend>(disk_, log));
  ASSERT_TRUE(engine.ok()) << engine.status();
  log->Take();
  Result<absl::Status> registered;
  BackgroundSyncEngine::RegisterRequest request;
  request.origin = origin_;
  request.sw_registration_id = kSw;
  request.tag = "outbox";
  (*engine)->Register(request, registered.callback());
  ASSERT_TRUE(registered.ready() && registered.value->ok());
  EXPECT_THAT(log->Take(), ElementsAre(Durability::kBuffered));
}

// ------------------------------------------------------------------------------------------------------------
// Crash-interrupted events (decision 4).

TEST_F(EngineStorageTest, EventInterruptedByACrashFiresAgainWithoutCountingTheAttempt) {
  ASSERT_TRUE(Register("outbox").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  ASSERT_EQ(DiskRegistrations().at(0).state, SyncState::kFiring) << "firing is stored before dispatch";

  CrashAndRestartEngine();
  EXPECT_EQ(engine().load_report().interrupted, 1);
  EXPECT_EQ(engine().load_report().loaded, 1);
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(dispatcher_.requests()[1].tag, "outbox");
  EXPECT_FALSE(dispatcher_.requests()[1].last_chance);
  std::optional<SyncRegistration> r = Find("outbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kFiring);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->consecutive_interruptions, 1);
  EXPECT_EQ(r->last_failure, SyncEventOutcome::kCompleted);
  ExpectMemoryEqualsDisk();

  // The outcome of the old engine's event goes nowhere; the new event settles normally.
  dispatcher_.Settle(0, SyncEventOutcome::kCompleted);
  EXPECT_TRUE(Find("outbox"));
  dispatcher_.Settle(1, SyncEventOutcome::kCompleted);
  EXPECT_FALSE(Find("outbox"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStorageTest, PoisonPillIsDroppedAfterThreeInterruptionsWhenThatExhaustsItsAttempts) {
  ASSERT_EQ(parameters_.max_consecutive_interruptions, 3);
  ASSERT_EQ(parameters_.max_sync_attempts, 3);
  ASSERT_TRUE(Register("pill").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);

  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(Find("pill")->consecutive_interruptions, 1);
  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 3u);
  EXPECT_EQ(Find("pill")->consecutive_interruptions, 2);
  EXPECT_EQ(Find("pill")->num_attempts, 0);

  CrashAndRestartEngine();
  EXPECT_EQ(engine().load_report().interrupted, 1);
  EXPECT_FALSE(Find("pill")) << "three interruptions count as three failed attempts: none left";
  EXPECT_THAT(DiskRegistrations(), IsEmpty());
  EXPECT_EQ(dispatcher_.count(), 3u);

  clock_.Advance(absl::Hours(24));
  RestartEngine();
  EXPECT_EQ(dispatcher_.count(), 3u);
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
}

TEST_F(EngineStorageTest, ThreeInterruptionsCountAsThreeFailedAttempts) {
  parameters_.max_sync_attempts = 5;
  RestartEngine();
  ASSERT_TRUE(Register("pill").ok());
  ASSERT_EQ(Find("pill")->max_attempts, 5);
  CrashAndRestartEngine();
  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 3u);

  CrashAndRestartEngine();
  EXPECT_EQ(engine().load_report().interrupted, 1);
  EXPECT_EQ(dispatcher_.count(), 3u) << "backing off now, not fired at start";
  std::optional<SyncRegistration> r = Find("pill");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kWaiting);
  EXPECT_EQ(r->num_attempts, 3);
  EXPECT_EQ(r->consecutive_interruptions, 0);
  EXPECT_EQ(r->last_failure, SyncEventOutcome::kAborted);
  EXPECT_EQ(r->next_attempt_time, clock_.Now() + RetryDelay(parameters_, 3));
  ExpectMemoryEqualsDisk();

  // It goes on as after three failed attempts: two left, the last with lastChance.
  clock_.Advance(RetryDelay(parameters_, 3));
  ASSERT_EQ(dispatcher_.count(), 4u);
  EXPECT_FALSE(dispatcher_.requests()[3].last_chance);
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  EXPECT_EQ(Find("pill")->num_attempts, 4);
  clock_.Advance(RetryDelay(parameters_, 4));
  ASSERT_EQ(dispatcher_.count(), 5u);
  EXPECT_TRUE(dispatcher_.requests()[4].last_chance);
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  EXPECT_FALSE(Find("pill"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStorageTest, SettledEventResetsTheInterruptionCount) {
  ASSERT_TRUE(Register("outbox").ok());
  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 2u);
  ASSERT_EQ(Find("outbox")->consecutive_interruptions, 1);

  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  std::optional<SyncRegistration> r = Find("outbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kWaiting);
  EXPECT_EQ(r->num_attempts, 1);
  EXPECT_EQ(r->consecutive_interruptions, 0);
  ExpectMemoryEqualsDisk();

  // The count starts again from zero: two more crashes do not reach the bound of three.
  clock_.Advance(parameters_.initial_retry_delay);
  ASSERT_EQ(dispatcher_.count(), 3u);
  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 4u);
  EXPECT_EQ(Find("outbox")->consecutive_interruptions, 1);
  CrashAndRestartEngine();
  ASSERT_EQ(dispatcher_.count(), 5u);
  r = Find("outbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consecutive_interruptions, 2);
  EXPECT_EQ(r->num_attempts, 1);
  EXPECT_EQ(r->state, SyncState::kFiring);
}

TEST_F(EngineStorageTest, ReregisteredWhileFiringInterruptedByACrashStartsAfresh) {
  ASSERT_TRUE(Register("outbox").ok());
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  clock_.Advance(parameters_.initial_retry_delay);
  ASSERT_EQ(dispatcher_.count(), 2u);
  ASSERT_EQ(Find("outbox")->num_attempts, 1);
  ASSERT_TRUE(Register("outbox").ok());
  ASSERT_EQ(Find("outbox")->state, SyncState::kReregisteredWhileFiring);
  ASSERT_EQ(DiskRegistrations().at(0).state, SyncState::kReregisteredWhileFiring);

  network_.SetOnline(false);
  CrashAndRestartEngine();
  EXPECT_EQ(engine().load_report().interrupted, 1);
  std::optional<SyncRegistration> r = Find("outbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->num_attempts, 0);
  EXPECT_EQ(r->consecutive_interruptions, 0);
  EXPECT_EQ(r->next_attempt_time, absl::InfinitePast());
  ExpectMemoryEqualsDisk();

  network_.SetOnline(true);
  engine().OnNetworkChanged();
  ASSERT_EQ(dispatcher_.count(), 3u);
  EXPECT_FALSE(dispatcher_.requests()[2].last_chance);
}

// ------------------------------------------------------------------------------------------------------------
// Storage failures (decision 7): the one operation fails, everything stored stays.

TEST_F(EngineStorageTest, RegisterFailingInStorageChangesNothing) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("a").ok());
  ASSERT_TRUE(Register("b").ok());
  const std::vector<SyncRegistration> before = engine().GetAllRegistrations();
  const int64_t failures_before = engine().GetCounters().store_failures;

  storage_->FailNextCommits(1);
  absl::Status status = Register("c");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(ErrorOf(status), E::BACKGROUND_SYNC_ERROR_STORAGE) << status;
  EXPECT_EQ(engine().GetCounters().store_failures, failures_before + 1);
  EXPECT_FALSE(Find("c"));
  ExpectSameRegistrations(before, engine().GetAllRegistrations());
  ExpectSameRegistrations(before, DiskRegistrations());
  ExpectMemoryEqualsDisk();
  EXPECT_THAT(*GetTags(), ElementsAre("a", "b"));

  // Only that one operation failed.
  ASSERT_TRUE(Register("c").ok());
  EXPECT_THAT(*GetTags(), ElementsAre("a", "b", "c"));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStorageTest, ReregisterFailingInStorageKeepsTheBackoff) {
  ASSERT_TRUE(Register("outbox").ok());
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  const SyncRegistration waiting = *Find("outbox");
  ASSERT_EQ(waiting.state, SyncState::kWaiting);

  storage_->FailNextCommits(1);
  EXPECT_EQ(ErrorOf(Register("outbox")), E::BACKGROUND_SYNC_ERROR_STORAGE);
  EXPECT_EQ(dispatcher_.count(), 1u) << "the failed re-registration must not fire it";
  ExpectSameRegistrations({waiting}, engine().GetAllRegistrations());
  ExpectMemoryEqualsDisk();

  clock_.Advance(parameters_.initial_retry_delay);
  EXPECT_EQ(dispatcher_.count(), 2u);
}

TEST_F(EngineStorageTest, RegisterFailingInStorageLeavesNoPendingAcknowledgement) {
  constexpr ClientId kClient = 7;
  network_.SetOnline(false);
  storage_->FailNextCommits(1);
  EXPECT_EQ(ErrorOf(Register("outbox", kClient)), E::BACKGROUND_SYNC_ERROR_STORAGE);
  // Registered again by a client that needs no acknowledgement: it must fire as soon as it can.
  ASSERT_TRUE(Register("outbox").ok());
  EXPECT_TRUE(Find("outbox")->resolved);
  network_.SetOnline(true);
  engine().OnNetworkChanged();
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineStorageTest, SettleFailingInStorageKeepsFiringUntilRecovery) {
  ASSERT_TRUE(Register("outbox").ok());
  ASSERT_EQ(dispatcher_.count(), 1u);

  storage_->FailNextCommits(1);
  dispatcher_.SettleLast(SyncEventOutcome::kRejected);
  EXPECT_EQ(Find("outbox")->state, SyncState::kFiring);
  EXPECT_EQ(Find("outbox")->num_attempts, 0);
  ASSERT_EQ(DiskRegistrations().size(), 1u);
  EXPECT_EQ(DiskRegistrations()[0].state, SyncState::kFiring);
  ExpectMemoryEqualsDisk();

  clock_.Advance(parameters_.min_sync_recovery_time - absl::Seconds(1));
  EXPECT_EQ(Find("outbox")->state, SyncState::kFiring);
  EXPECT_EQ(dispatcher_.count(), 1u);
  clock_.Advance(absl::Seconds(1));
  std::optional<SyncRegistration> r = Find("outbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kWaiting);
  EXPECT_EQ(r->num_attempts, 1);
  EXPECT_EQ(r->last_failure, SyncEventOutcome::kRejected);
  EXPECT_EQ(r->next_attempt_time, clock_.Now() + parameters_.initial_retry_delay);
  ExpectMemoryEqualsDisk();
  EXPECT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(engine().GetCounters().late_outcomes_ignored, 0);
}

TEST_F(EngineStorageTest, CompletedSettleFailingInStorageIsRecordedAfterRecovery) {
  ASSERT_TRUE(Register("outbox").ok());
  storage_->FailNextCommits(1);
  dispatcher_.SettleLast(SyncEventOutcome::kCompleted);
  EXPECT_EQ(Find("outbox")->state, SyncState::kFiring);
  ExpectMemoryEqualsDisk();

  clock_.Advance(parameters_.min_sync_recovery_time);
  EXPECT_FALSE(Find("outbox"));
  EXPECT_THAT(DiskRegistrations(), IsEmpty());
  EXPECT_EQ(dispatcher_.count(), 1u);
}

TEST_F(EngineStorageTest, MarkFiringFailingInStorageStaysPendingAndRetriesAfterRecoveryTime) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("outbox").ok());
  storage_->FailNextCommits(1);
  network_.SetOnline(true);
  engine().OnNetworkChanged();

  EXPECT_EQ(dispatcher_.count(), 0u);
  std::optional<SyncRegistration> r = Find("outbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kPending);
  EXPECT_EQ(r->num_attempts, 0);
  ExpectMemoryEqualsDisk();

  clock_.Advance(parameters_.min_sync_recovery_time - absl::Seconds(1));
  EXPECT_EQ(dispatcher_.count(), 0u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "outbox");
  EXPECT_EQ(Find("outbox")->state, SyncState::kFiring);
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStorageTest, UnregisterFailingInStorageKeepsTheRegistrations) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("a").ok());
  ASSERT_TRUE(Register("p", 0, kSw, SyncType::kPeriodic, std::nullopt, absl::Hours(12)).ok());
  const std::vector<SyncRegistration> before = engine().GetAllRegistrations();

  storage_->FailNextCommits(1);
  Result<absl::Status> result;
  engine().OnServiceWorkerUnregistered(kSw, result.callback());
  ASSERT_TRUE(result.ready());
  EXPECT_EQ(ErrorOf(*result.value), E::BACKGROUND_SYNC_ERROR_STORAGE);
  ExpectSameRegistrations(before, engine().GetAllRegistrations());
  ExpectMemoryEqualsDisk();

  // The embedder retries; it works now.
  EXPECT_TRUE(UnregisterServiceWorker(kSw).ok());
  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  EXPECT_THAT(DiskRegistrations(), IsEmpty());
}

// ------------------------------------------------------------------------------------------------------------
// Concurrency with storage held back.

TEST_F(EngineStorageTest, ServiceWorkerUnregisteredDuringRegister) {
  storage_->HoldWhere([](const StorageBatch&) { return true; });
  Result<absl::Status> first;
  RegisterAsync("x", first);
  EXPECT_FALSE(first.ready());
  EXPECT_EQ(storage_->HeldCount(), 1u);
  Result<absl::Status> second;
  RegisterAsync("y", second);  // queued behind "x"

  registry_.Remove(kSw);
  Result<absl::Status> unregistered;
  engine().OnServiceWorkerUnregistered(kSw, unregistered.callback());
  EXPECT_FALSE(unregistered.ready()) << "must queue behind the Register in progress";
  EXPECT_FALSE(second.ready());

  storage_->Release();
  ASSERT_TRUE(first.ready());
  EXPECT_TRUE(first.value->ok()) << *first.value;
  ASSERT_TRUE(second.ready());
  EXPECT_EQ(ErrorOf(*second.value), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND) << *second.value;
  ASSERT_TRUE(unregistered.ready());
  EXPECT_TRUE(unregistered.value->ok()) << *unregistered.value;

  EXPECT_TRUE(engine().GetAllRegistrations().empty());
  EXPECT_THAT(DiskRegistrations(), IsEmpty());
  EXPECT_FALSE(DiskHasPrefix(SwKeyPrefix(kSw)));
  ExpectMemoryEqualsDisk();
  EXPECT_EQ(storage_->HeldCount(), 0u);
}

TEST_F(EngineStorageTest, ServiceWorkerBlockedInStorageDoesNotBlockAnother) {
  constexpr int64_t kSw2 = 2;
  registry_.Add(kSw2, origin_);
  const std::string prefix = "r:0000000000000001:";
  ASSERT_EQ(SwKeyPrefix(kSw), prefix);
  ASSERT_TRUE(absl::StartsWith(SyncRegistrationStore::EncodeKey({kSw, SyncType::kOneShot, "a"}), prefix));
  storage_->HoldWhere([prefix](const StorageBatch& batch) {
    for (const StorageBatch::Op& op : batch.ops()) {
      if (absl::StartsWith(op.key, prefix))
        return true;
    }
    return false;
  });

  Result<absl::Status> blocked;
  RegisterAsync("a", blocked, kSw);
  EXPECT_FALSE(blocked.ready());
  Result<absl::StatusOr<std::vector<std::string>>> blocked_tags;
  engine().GetRegistrations(origin_, kSw, SyncType::kOneShot, blocked_tags.callback());
  EXPECT_FALSE(blocked_tags.ready()) << "operations on one service worker run in order";

  // Service worker 2 registers, fires, settles and answers getTags meanwhile.
  ASSERT_TRUE(Register("b", 0, kSw2).ok());
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].sw_registration_id, kSw2);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "b");
  EXPECT_THAT(*GetTags(kSw2), ElementsAre("b"));
  dispatcher_.SettleLast(SyncEventOutcome::kCompleted);
  EXPECT_FALSE(Find("b", kSw2));
  EXPECT_FALSE(blocked.ready());
  EXPECT_EQ(storage_->HeldCount(), 1u);

  storage_->Release();
  ASSERT_TRUE(blocked.ready());
  EXPECT_TRUE(blocked.value->ok()) << *blocked.value;
  ASSERT_TRUE(blocked_tags.ready());
  ASSERT_TRUE(blocked_tags.value->ok()) << blocked_tags.value->status();
  EXPECT_THAT(**blocked_tags.value, ElementsAre("a"));
  ASSERT_EQ(dispatcher_.count(), 2u);
  EXPECT_EQ(dispatcher_.requests()[1].sw_registration_id, kSw);
  EXPECT_EQ(dispatcher_.requests()[1].tag, "a");
  ExpectMemoryEqualsDisk();
}

// ------------------------------------------------------------------------------------------------------------
// Validation at load (decision 5, reliability.md P7).

TEST_F(EngineStorageTest, LoadDeletesRegistrationsOfVanishedServiceWorkers) {
  registry_.Add(2, origin_);
  network_.SetOnline(false);
  ASSERT_TRUE(Register("keep").ok());
  ASSERT_TRUE(Register("gone", 0, 2).ok());
  ASSERT_TRUE(Register("gone-too", 0, 2, SyncType::kPeriodic, std::nullopt, absl::Hours(12)).ok());

  registry_.Remove(2);
  RestartEngine();
  EXPECT_EQ(engine().load_report().dropped_unregistered, 2);
  EXPECT_EQ(engine().load_report().loaded, 1);
  EXPECT_THAT(engine().load_report().quarantined, IsEmpty());
  ASSERT_EQ(engine().GetAllRegistrations().size(), 1u);
  EXPECT_EQ(engine().GetAllRegistrations()[0].key.tag, "keep");
  EXPECT_FALSE(DiskHasPrefix(SwKeyPrefix(2)));
  ExpectMemoryEqualsDisk();
}

TEST_F(EngineStorageTest, LoadQuarantinesARegistrationWhoseOriginDiffersAndLeavesItOnDisk) {
  registry_.Add(2, origin_);
  network_.SetOnline(false);
  ASSERT_TRUE(Register("keep").ok());
  ASSERT_TRUE(Register("suspect", 0, 2).ok());
  const std::string suspect_key = SyncRegistrationStore::EncodeKey({2, SyncType::kOneShot, "suspect"});
  const std::map<std::string, std::string> before = DiskContents();
  ASSERT_TRUE(before.count(suspect_key));

  // The registry now says service worker 2 belongs to another origin.
  registry_.Add(2, other_origin_);
  network_.SetOnline(true);
  RestartEngine();
  ASSERT_EQ(engine().load_report().quarantined.size(), 1u);
  EXPECT_EQ(engine().load_report().quarantined[0].key, suspect_key);
  EXPECT_THAT(engine().load_report().quarantined[0].reason, HasSubstr(origin_.Serialize()));
  EXPECT_EQ(engine().load_report().loaded, 1);
  EXPECT_EQ(engine().load_report().dropped_unregistered, 0);
  EXPECT_FALSE(Find("suspect", 2));
  EXPECT_THAT(*GetTags(2, SyncType::kOneShot, other_origin_), IsEmpty());
  // Only "keep" fired; the quarantined record is on disk byte for byte (apart from "keep" now firing).
  ASSERT_EQ(dispatcher_.count(), 1u);
  EXPECT_EQ(dispatcher_.requests()[0].tag, "keep");
  EXPECT_EQ(DiskContents().at(suspect_key), before.at(suspect_key));
}

TEST_F(EngineStorageTest, LoadQuarantinesAnUndecodableRecordAndLeavesItOnDisk) {
  network_.SetOnline(false);
  ASSERT_TRUE(Register("keep").ok());
  const std::string bad_key = SyncRegistrationStore::EncodeKey({kSw, SyncType::kOneShot, "bad"});
  {
    absl::MutexLock lock(&disk_->mu);
    disk_->data[bad_key] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  }
  RestartEngine();
  ASSERT_EQ(engine().load_report().quarantined.size(), 1u);
  EXPECT_EQ(engine().load_report().quarantined[0].key, bad_key);
  EXPECT_FALSE(engine().load_report().quarantined[0].reason.empty());
  EXPECT_EQ(engine().load_report().loaded, 1);
  EXPECT_THAT(*GetTags(), ElementsAre("keep"));
  EXPECT_EQ(DiskContents().at(bad_key), "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");

  // It stays through another restart too.
  RestartEngine();
  EXPECT_EQ(engine().load_report().quarantined.size(), 1u);
  EXPECT_TRUE(DiskContents().count(bad_key));
}

// A damaged disk (or a hostile one: reliability.md P7) holds a record under a key that is not spelled the way
// EncodeKey spells it. The engine writes and deletes only canonical keys, so such a record must not be loaded:
// it would survive its own completion and be delivered again at every start.
TEST_F(EngineStorageTest, RecordUnderANonCanonicalKeyIsNotLoaded) {
  SyncRegistration ghost;
  ghost.key = {kSw, SyncType::kOneShot, "ghost"};
  ghost.origin = origin_;
  ghost.max_attempts = parameters_.max_sync_attempts;
  const std::string canonical_key = SyncRegistrationStore::EncodeKey(ghost.key);
  const std::string odd_key = "r:0x00000000000001:1:ghost";  // one byte of the canonical key changed
  ASSERT_EQ(odd_key.size(), canonical_key.size());
  {
    absl::MutexLock lock(&disk_->mu);
    disk_->data[odd_key] = SyncRegistrationStore::EncodeRecord(ghost);
  }
  RestartEngine();
  // Regression: DecodeRecord used to parse the id with absl::SimpleHexAtoi, which accepts the "0x" id; the record
  // then loaded as kSw/"ghost", fired, and once completed only the canonical key was deleted, so the odd record
  // brought it back (and delivered it again) at every start.
  EXPECT_EQ(engine().load_report().quarantined.size(), 1u);
  EXPECT_FALSE(Find("ghost"));
  if (dispatcher_.count() == 1) {
    dispatcher_.SettleLast(SyncEventOutcome::kCompleted);
    EXPECT_FALSE(Find("ghost"));
    RestartEngine();
    EXPECT_FALSE(Find("ghost")) << "a completed registration came back after a restart";
    EXPECT_EQ(dispatcher_.count(), 1u) << "delivered again after it completed";
  }
  EXPECT_TRUE(DiskContents().count(odd_key)) << "quarantined records stay on disk";
}

// ------------------------------------------------------------------------------------------------------------
// A real LevelDB under the engine.

// A dispatcher the test can wait on: LevelDB answers on its writer thread, so events are dispatched there.
class AwaitableDispatcher : public SyncEventDispatcher {
 public:
  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
    callbacks_.push_back(std::move(done));
  }
  bool WaitForCount(size_t n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kDeadline);
  }
  std::vector<SyncEventRequest> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  absl::Mutex mu_;
  std::vector<SyncEventRequest> events_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::AnyInvocable<void(SyncEventOutcome)>> callbacks_ ABSL_GUARDED_BY(mu_);
};

class EngineStorageLevelDbTest : public EngineStorageTest {
 protected:
  void SetUp() override {
    EngineStorageTest::SetUp();
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "bgsync_engine_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    leveldb_engine_.reset();
    EngineStorageTest::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  void StartLevelDbEngine() {
    leveldb_engine_.reset();
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend =
        LevelDbStorageBackend::Open((std::filesystem::path(dir_) / "sync").string());
    ASSERT_TRUE(backend.ok()) << backend.status();
    BackgroundSyncEngine::Dependencies deps;
    deps.clock = &clock_;
    deps.network = &network_;
    deps.permissions = &permissions_;
    deps.registry = &registry_;
    deps.dispatcher = &leveldb_dispatcher_;
    deps.storage = *std::move(backend);
    absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
        BackgroundSyncEngine::Create(std::move(deps), parameters_);
    ASSERT_TRUE(engine.ok()) << engine.status();
    leveldb_engine_ = *std::move(engine);
  }

  absl::Status RegisterAndWait(const std::string& tag, SyncType type, absl::Duration min_interval) {
    BackgroundSyncEngine::RegisterRequest request;
    request.origin = origin_;
    request.sw_registration_id = kSw;
    request.type = type;
    request.tag = tag;
    request.min_interval = min_interval;
    // Shared with the callback, which runs on the store's writer thread.
    struct Answer {
      absl::Notification done;
      absl::Status status = absl::UnknownError("no answer");
    };
    auto answer = std::make_shared<Answer>();
    leveldb_engine_->Register(std::move(request), [answer](absl::Status status) {
      answer->status = std::move(status);
      answer->done.Notify();
    });
    if (!answer->done.WaitForNotificationWithTimeout(kDeadline))
      return absl::DeadlineExceededError("Register did not answer");
    return answer->status;
  }

  std::string dir_;
  AwaitableDispatcher leveldb_dispatcher_;
  std::unique_ptr<BackgroundSyncEngine> leveldb_engine_;
};

TEST_F(EngineStorageLevelDbTest, RegistrationsSurviveAnEngineRestartOnLevelDb) {
  network_.SetOnline(false);
  StartLevelDbEngine();
  ASSERT_TRUE(leveldb_engine_);
  ASSERT_TRUE(RegisterAndWait("outbox", SyncType::kOneShot, absl::ZeroDuration()).ok());
  ASSERT_TRUE(RegisterAndWait("news", SyncType::kPeriodic, absl::Hours(24)).ok());
  const std::vector<SyncRegistration> before = leveldb_engine_->GetAllRegistrations();
  ASSERT_EQ(before.size(), 2u);

  StartLevelDbEngine();  // destroys the engine (and closes the database), then opens it again
  ASSERT_TRUE(leveldb_engine_);
  EXPECT_EQ(leveldb_engine_->load_report().loaded, 2);
  ExpectSameRegistrations(before, leveldb_engine_->GetAllRegistrations());

  // Online now: the one-shot fires; a "crash" during its event makes it fire again at the next start.
  network_.SetOnline(true);
  leveldb_engine_->OnNetworkChanged();
  ASSERT_TRUE(leveldb_dispatcher_.WaitForCount(1));
  EXPECT_EQ(leveldb_dispatcher_.events()[0].tag, "outbox");

  StartLevelDbEngine();
  ASSERT_TRUE(leveldb_engine_);
  EXPECT_EQ(leveldb_engine_->load_report().interrupted, 1);
  ASSERT_TRUE(leveldb_dispatcher_.WaitForCount(2));
  EXPECT_EQ(leveldb_dispatcher_.events()[1].tag, "outbox");
  std::vector<SyncRegistration> after = leveldb_engine_->GetAllRegistrations();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].key.tag, "outbox");
  EXPECT_EQ(after[0].consecutive_interruptions, 1);
  EXPECT_EQ(after[0].num_attempts, 0);
}

TEST_F(EngineStorageLevelDbTest, SecondEngineOnTheSameProfileRefusesToStart) {
  StartLevelDbEngine();
  ASSERT_TRUE(leveldb_engine_);
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> second =
      LevelDbStorageBackend::Open((std::filesystem::path(dir_) / "sync").string());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
}

}  // namespace
}  // namespace bgsync
