// The engine on LevelDB under disk faults (reliability.md P1, P2, P7): ENOSPC and EIO on creating, writing and
// syncing each kind of LevelDB file at every point of a workload of Registers and restarts, each followed by a
// power cut and a restart on the surviving files. Also: what LevelDbStorageBackend does after a failed write, and
// slow syncs.
//
// The sweep prints its figures (fault points, Registers acknowledged and failed, what the restarts found) on one
// line per test, for docs/reliability.md.
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/testing/engine_on_leveldb.h"
#include "components/background_sync/testing/fault_injection_env.h"
#include "gtest/gtest.h"
#include "public/background_sync_error.h"

namespace bgsync {
namespace {

using Kind = FaultInjectionEnv::FileKind;
using Op = FaultInjectionEnv::FileOp;
using Fault = FaultInjectionEnv::Fault;
using PowerLossMode = FaultInjectionEnv::PowerLossMode;
using DirSyncModel = FaultInjectionEnv::DirSyncModel;
using OpenOutcome = LevelDbStorageBackend::OpenOutcome;

constexpr int kEnospc = 28;
constexpr int kEio = 5;

// The workload: kPhases starts of the engine, each registering kPerPhase tags (the last one periodic) on service
// workers 1..3. Every start converts the previous log into a table and writes a new MANIFEST and CURRENT, so
// every kind of file is created, written and synced along the way.
constexpr int kPhases = 4;
constexpr int kPerPhase = 4;
// Registers after the first injected fault, before the power is cut.
constexpr int kRegistersAfterFault = 2;

std::string KindList(const std::set<Kind>& kinds) {
  std::vector<std::string> names;
  for (Kind kind : kinds)
    names.push_back(FaultInjectionEnv::KindName(kind));
  return absl::StrJoin(names, "+");
}

std::string OpList(const std::set<Op>& ops) {
  std::vector<std::string> names;
  for (Op op : ops)
    names.push_back(FaultInjectionEnv::OpName(op));
  return absl::StrJoin(names, "+");
}

struct FaultCase {
  Fault fault;
  PowerLossMode mode = PowerLossMode::kKeepEntries;
  DirSyncModel model = DirSyncModel::kOnNewFileSync;

  std::string Describe() const {
    return absl::StrCat(fault.error == kEnospc ? "ENOSPC" : "EIO", fault.persistent ? " (persistent)" : " (once)",
                        fault.torn ? " torn" : "", " at the ", fault.nth, "th ", OpList(fault.ops), " of ",
                        KindList(fault.kinds), ", then power loss ",
                        mode == PowerLossMode::kKeepEntries ? "(unsynced data)" : "(unsynced data and entries)",
                        model == DirSyncModel::kManifestSyncOnly ? " [strict directory syncs]" : "");
  }
};

// What one case saw.
struct CaseResult {
  bool fault_fired = false;
  int acknowledged = 0;
  int failed = 0;              // Registers answered with an error
  int failed_not_storage = 0;  // ... with another error than STORAGE: must be 0
  int ok_despite_fault = 0;    // a log write or sync failed during the Register, yet it was answered OK: must be 0
  int open_failures = 0;       // starts during the fault that failed (cleanly)
  OpenOutcome restart = OpenOutcome::kServed;
  LoadAudit audit;
  bool serves_after = false;                      // a Register after the restart succeeded and survived another restart
  std::string failure;                            // a start after the power cut failed
  std::map<std::pair<Kind, Op>, int64_t> counts;  // operations seen (for the baseline)
};

// Totals over a sweep, printed as the test's figures.
struct Totals {
  int cases = 0;
  int fired = 0;
  int acknowledged = 0;
  int failed = 0;
  int open_failures = 0;
  int acknowledged_lost = 0;
  int unacknowledged_present = 0;
  int misattributed = 0;
  int failed_not_storage = 0;
  int ok_despite_fault = 0;
  int not_serving = 0;
  std::map<OpenOutcome, int> restarts;

  void Add(const CaseResult& r) {
    ++cases;
    fired += r.fault_fired;
    acknowledged += r.acknowledged;
    failed += r.failed;
    open_failures += r.open_failures;
    acknowledged_lost += r.audit.acknowledged_lost;
    unacknowledged_present += r.audit.unacknowledged_present;
    misattributed += r.audit.misattributed + r.audit.unknown;
    failed_not_storage += r.failed_not_storage;
    ok_despite_fault += r.ok_despite_fault;
    not_serving += !r.serves_after;
    ++restarts[r.restart];
  }
  std::string Describe() const {
    return absl::StrCat(
        cases, " fault points (the fault fired in ", fired, "); Registers: ", acknowledged, " acknowledged, ", failed,
        " failed (", failed_not_storage, " not STORAGE, ", ok_despite_fault,
        " answered OK despite a failed log write/sync); starts refused during the fault: ", open_failures,
        "; after the power cut: ", acknowledged_lost, " acknowledged lost, ", misattributed, " misattributed, ",
        unacknowledged_present, " failed Registers found stored; restarts served ",
        restarts.count(OpenOutcome::kServed) ? restarts.at(OpenOutcome::kServed) : 0, ", repaired ",
        restarts.count(OpenOutcome::kRepaired) ? restarts.at(OpenOutcome::kRepaired) : 0, ", quarantined ",
        restarts.count(OpenOutcome::kQuarantined) ? restarts.at(OpenOutcome::kQuarantined) : 0,
        "; not serving afterwards: ", not_serving);
  }
};

class LevelDbFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(SweepScratchDirectory()) / "bgsync_fault_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  // A fresh directory for one case.
  std::string CaseDir() {
    const std::string dir = absl::StrCat(dir_, "/case-", next_case_++);
    std::filesystem::create_directories(dir);
    return dir;
  }
  void RemoveCaseDir(const std::string& dir) {
    std::error_code error;
    std::filesystem::remove_all(dir, error);
  }

  CaseResult RunCase(const FaultCase& c) {
    CaseResult result;
    const std::string dir = CaseDir();
    const std::string path = dir + "/BackgroundSync";
    FaultInjectionEnv env(c.model);
    env.SetRealSyncs(false);  // the power cut is the env's: it knows what each sync made durable
    env.SetFault(c.fault);
    const bool foreground_only = c.fault.kinds == std::set<Kind>{Kind::kLog} && !c.fault.ops.count(Op::kCreate);
    std::map<std::string, RegisteredTag> registered;
    std::set<std::string> acknowledged;
    {
      EngineOnLevelDb harness;
      int after_fault = 0;
      bool cut = false;
      for (int phase = 0; phase < kPhases && !cut; ++phase) {
        if (!harness.Start(path, &env).ok()) {
          ++result.open_failures;  // a start during the fault: refused, nothing served
          break;
        }
        for (int i = 0; i < kPerPhase && !cut; ++i) {
          const std::string tag = absl::StrCat("phase", phase, "-tag", i);
          const RegisteredTag what{1 + (phase + i) % EngineOnLevelDb::kServiceWorkers,
                                   i == kPerPhase - 1 ? SyncType::kPeriodic : SyncType::kOneShot};
          registered[tag] = what;
          const int64_t faults_before = env.faults_injected();
          absl::Status status = harness.Register(what.sw, what.type, tag);
          const bool fault_during = env.faults_injected() > faults_before;
          if (status.ok()) {
            acknowledged.insert(tag);
            if (fault_during && foreground_only)
              ++result.ok_despite_fault;
          } else {
            ++result.failed;
            if (GetSyncError(status) != BackgroundSyncError::BACKGROUND_SYNC_ERROR_STORAGE)
              ++result.failed_not_storage;
          }
          cut = env.faults_injected() > 0 && ++after_fault >= kRegistersAfterFault;
        }
        if (!cut && phase + 1 < kPhases)
          harness.Stop();
      }
      // The power fails with the engine running (or refused), then the process is gone.
      env.PowerOff();
      harness.Stop();
    }
    result.fault_fired = env.faults_injected() > 0;
    for (Kind kind : {Kind::kLog, Kind::kTable, Kind::kManifest, Kind::kCurrent}) {
      for (Op op : {Op::kCreate, Op::kWrite, Op::kSync})
        result.counts[{kind, op}] = env.count(kind, op);
    }
    std::string error;
    if (!env.LosePower(c.mode, &error)) {
      result.failure = "power loss: " + error;
      RemoveCaseDir(dir);
      return result;
    }

    // The disk works again: restart on what survived.
    result.acknowledged = static_cast<int>(acknowledged.size());
    EngineOnLevelDb harness;
    LevelDbStorageBackend::OpenResult opened;
    absl::Status started = harness.Start(path, &env, &opened);
    if (!started.ok()) {
      result.failure = absl::StrCat("restart after the power cut: ", started.ToString());
      RemoveCaseDir(dir);
      return result;
    }
    result.restart = opened.outcome;
    result.audit = harness.Audit(registered, acknowledged);
    registered["after-restart"] = {1, SyncType::kOneShot};
    if (harness.Register(1, SyncType::kOneShot, "after-restart").ok()) {
      acknowledged.insert("after-restart");
      harness.Stop();
      result.serves_after = harness.Start(path).ok() && harness.Audit(registered, acknowledged).acknowledged_lost == 0;
    }
    harness.Stop();
    RemoveCaseDir(dir);
    return result;
  }

  // Runs every case, checks the promises on each, and returns the totals.
  Totals Sweep(const std::vector<FaultCase>& cases) {
    Totals totals;
    for (const FaultCase& c : cases) {
      CaseResult r = RunCase(c);
      totals.Add(r);
      SCOPED_TRACE(c.Describe());
      EXPECT_EQ(r.failure, "");
      EXPECT_EQ(r.audit.acknowledged_lost, 0) << absl::StrJoin(r.audit.problems, "\n");
      EXPECT_EQ(r.audit.misattributed + r.audit.unknown, 0) << absl::StrJoin(r.audit.problems, "\n");
      EXPECT_EQ(r.failed_not_storage, 0);
      EXPECT_EQ(r.ok_despite_fault, 0);
      EXPECT_TRUE(r.serves_after);
    }
    return totals;
  }

  // Operation counts of the workload without faults.
  std::map<std::pair<Kind, Op>, int64_t> Baseline() {
    FaultCase none;
    none.fault.nth = int64_t{1} << 40;
    CaseResult r = RunCase(none);
    EXPECT_FALSE(r.fault_fired);
    EXPECT_EQ(r.acknowledged, kPhases * kPerPhase);
    return r.counts;
  }

  std::string dir_;
  int next_case_ = 0;
};

// Every operation of the workload, in order, fails in turn: ENOSPC that stays (a full disk) and EIO that happens
// once (a glitch), short writes, both power-loss models.
TEST_F(LevelDbFaultTest, AFaultAtEveryOperationThenPowerLossLosesNoAcknowledgedRegistration) {
  const absl::Time start = absl::Now();
  std::map<std::pair<Kind, Op>, int64_t> counts = Baseline();
  int64_t total = 0;
  for (const auto& [key, n] : counts)
    total += n;
  ASSERT_GT(total, 50);

  struct Variant {
    int error;
    bool persistent;
    bool torn;
    PowerLossMode mode;
    DirSyncModel model;
  };
  const Variant variants[] = {
      {kEnospc, true, false, PowerLossMode::kKeepEntries, DirSyncModel::kOnNewFileSync},
      {kEio, false, false, PowerLossMode::kDropUnsyncedEntries, DirSyncModel::kOnNewFileSync},
      {kEnospc, false, true, PowerLossMode::kDropUnsyncedEntries, DirSyncModel::kOnNewFileSync},
      {kEio, true, false, PowerLossMode::kDropUnsyncedEntries, DirSyncModel::kManifestSyncOnly},
  };
  std::vector<FaultCase> cases;
  for (const Variant& v : variants) {
    for (int64_t nth = 1; nth <= total; ++nth) {
      FaultCase c;
      c.fault.nth = nth;
      c.fault.error = v.error;
      c.fault.persistent = v.persistent;
      c.fault.torn = v.torn;
      c.mode = v.mode;
      c.model = v.model;
      cases.push_back(c);
    }
  }
  Totals totals = Sweep(cases);
  std::printf("[figures] any-operation sweep: %s; %lld operations per workload; %.1f s\n", totals.Describe().c_str(),
              static_cast<long long>(total), absl::ToDoubleSeconds(absl::Now() - start));
  EXPECT_GE(totals.cases, 4 * 50);
}

// Each kind of file and operation on its own: the nth create, write or sync of the log, a table, the MANIFEST or
// CURRENT, for every n the workload reaches.
TEST_F(LevelDbFaultTest, AFaultAtEachOperationOfEachFileKindThenPowerLossLosesNothingAcknowledged) {
  const absl::Time start = absl::Now();
  std::map<std::pair<Kind, Op>, int64_t> counts = Baseline();
  std::vector<FaultCase> cases;
  std::map<std::string, int> per_kind;
  for (const auto& [key, n] : counts) {
    for (int64_t nth = 1; nth <= n; ++nth) {
      for (int variant = 0; variant < 2; ++variant) {
        FaultCase c;
        c.fault.kinds = {key.first};
        c.fault.ops = {key.second};
        c.fault.nth = nth;
        c.fault.error = variant == 0 ? kEnospc : kEio;
        c.fault.persistent = variant == 0;
        c.fault.torn = variant == 1 && key.second == Op::kWrite;
        c.mode = variant == 0 ? PowerLossMode::kKeepEntries : PowerLossMode::kDropUnsyncedEntries;
        cases.push_back(c);
        ++per_kind[absl::StrCat(FaultInjectionEnv::KindName(key.first), " ", FaultInjectionEnv::OpName(key.second))];
      }
    }
  }
  for (const char* kind : {"log", "table", "MANIFEST", "CURRENT"}) {
    for (const char* op : {"create", "write", "sync"})
      EXPECT_GT(per_kind[absl::StrCat(kind, " ", op)], 0) << kind << " " << op << " never happens in the workload";
  }
  Totals totals = Sweep(cases);
  std::vector<std::string> breakdown;
  for (const auto& [name, n] : per_kind)
    breakdown.push_back(absl::StrCat(name, " ", n));
  std::printf("[figures] per-file-kind sweep: %s; points by kind: %s; %.1f s\n", totals.Describe().c_str(),
              absl::StrJoin(breakdown, ", ").c_str(), absl::ToDoubleSeconds(absl::Now() - start));
}

// ------------------------------------------------------------------------------------------------------------
// LevelDbStorageBackend after a failed write.

class BackendAfterFailedWriteTest : public LevelDbFaultTest {
 protected:
  std::unique_ptr<LevelDbStorageBackend> Open(FaultInjectionEnv* env) {
    LevelDbStorageBackend::Options options;
    options.env = env;
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path_, options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? *std::move(backend) : nullptr;
  }
  static absl::Status Put(LevelDbStorageBackend& backend, const std::string& key, const std::string& value) {
    StorageBatch batch;
    batch.Put(key, value);
    return CommitAndWait(backend, std::move(batch), Durability::kDurable);
  }
  static std::map<std::string, std::string> Contents(LevelDbStorageBackend& backend) {
    absl::StatusOr<StorageBackend::KeyValues> read = backend.ReadPrefix("");
    EXPECT_TRUE(read.ok()) << read.status();
    std::map<std::string, std::string> contents;
    if (read.ok()) {
      for (auto& [key, value] : *read)
        contents[key] = value;
    }
    return contents;
  }

  void SetUp() override {
    LevelDbFaultTest::SetUp();
    path_ = dir_ + "/db";
  }

  std::string path_;
};

// A sync that fails leaves the round in LevelDB's log; a reopen would bring it back although its callers were told
// it failed. The next round reopens and puts the old values back first.
TEST_F(BackendAfterFailedWriteTest, ARoundWhoseSyncFailedStaysInvisibleAfterTheStoreRecovers) {
  FaultInjectionEnv env;
  std::unique_ptr<LevelDbStorageBackend> backend = Open(&env);
  ASSERT_TRUE(backend);
  ASSERT_TRUE(Put(*backend, "a", "old").ok());

  Fault fault;
  fault.kinds = {Kind::kLog};
  fault.ops = {Op::kSync};
  fault.error = kEio;
  env.SetFault(fault);
  StorageBatch failed;
  failed.Put("a", "new");
  failed.Put("b", "new");
  absl::Status status = CommitAndWait(*backend, std::move(failed), Durability::kDurable);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(Contents(*backend), (std::map<std::string, std::string>{{"a", "old"}}));

  ASSERT_TRUE(Put(*backend, "c", "1").ok()) << "the glitch is over: the store recovers and serves";
  EXPECT_EQ(backend->write_failure_recoveries(), 1);
  EXPECT_EQ(Contents(*backend), (std::map<std::string, std::string>{{"a", "old"}, {"c", "1"}}));
  backend.reset();
  backend = Open(&env);
  ASSERT_TRUE(backend);
  EXPECT_EQ(Contents(*backend), (std::map<std::string, std::string>{{"a", "old"}, {"c", "1"}}));
}

// A short write leaves a torn record in the log. Without a reopen LevelDB would append the next rounds behind it,
// and a restart would drop them with the torn block: acknowledged data lost.
TEST_F(BackendAfterFailedWriteTest, RoundsAfterATornLogWriteSurvivePowerLoss) {
  FaultInjectionEnv env;
  std::unique_ptr<LevelDbStorageBackend> backend = Open(&env);
  ASSERT_TRUE(backend);
  ASSERT_TRUE(Put(*backend, "before", "1").ok());
  Fault fault;
  fault.kinds = {Kind::kLog};
  fault.ops = {Op::kWrite};
  fault.nth = 2;  // the record's payload, after its header
  fault.torn = true;
  env.SetFault(fault);
  EXPECT_FALSE(Put(*backend, "torn", std::string(300, 'x')).ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(Put(*backend, absl::StrCat("after", i), "1").ok());
  env.PowerOff();
  backend.reset();
  ASSERT_TRUE(env.LosePower(PowerLossMode::kDropUnsyncedEntries));
  backend = Open(&env);
  ASSERT_TRUE(backend);
  std::map<std::string, std::string> contents = Contents(*backend);
  EXPECT_EQ(contents.count("torn"), 0u);
  EXPECT_EQ(contents.size(), 21u);
}

TEST_F(BackendAfterFailedWriteTest, AFullDiskFailsEveryRoundUntilSpaceIsFreed) {
  FaultInjectionEnv env;
  std::unique_ptr<LevelDbStorageBackend> backend = Open(&env);
  ASSERT_TRUE(backend);
  Fault full;
  full.persistent = true;  // every create, write and sync of every LevelDB file
  env.SetFault(full);
  for (int i = 0; i < 5; ++i) {
    absl::Status status = Put(*backend, absl::StrCat("k", i), "v");
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  }
  env.ClearFault();
  ASSERT_TRUE(Put(*backend, "k", "v").ok());
  EXPECT_EQ(Contents(*backend), (std::map<std::string, std::string>{{"k", "v"}}));
}

// ------------------------------------------------------------------------------------------------------------
// Slow syncs.

TEST_F(LevelDbFaultTest, WithASlowDiskRegisterIsAnsweredOnlyAfterTheSyncAndRegistersShareSyncs) {
  FaultInjectionEnv env;
  const std::string path = CaseDir() + "/BackgroundSync";
  EngineOnLevelDb harness;
  ASSERT_TRUE(harness.Start(path, &env).ok());
  env.SetSyncDelay(absl::Milliseconds(40));
  const int64_t syncs_before = env.count(Kind::kLog, Op::kSync);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(harness.Register(1, SyncType::kOneShot, "slow").ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(40)) << "answered before the write was durable";

  constexpr int kThreads = 8;
  constexpr int kEach = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!harness.Register(1 + t % 3, SyncType::kOneShot, absl::StrCat("t", t, "-", i)).ok())
          ++failures;
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  const int64_t syncs = env.count(Kind::kLog, Op::kSync) - syncs_before;
  EXPECT_LT(syncs, 1 + kThreads * kEach) << "concurrent Registers share syncs";
  std::printf("[figures] slow disk (40 ms per sync): %d concurrent Registers took %lld log syncs\n", kThreads * kEach,
              static_cast<long long>(syncs - 1));
}

// The power fails while Registers wait in a slow sync, at 25 moments: every Register answered OK survives, the
// ones in flight may or may not.
TEST_F(LevelDbFaultTest, PowerLossDuringSlowSyncsLosesNoAcknowledgedRegistration) {
  int acknowledged_total = 0;
  int lost_total = 0;
  for (int round = 0; round < 25; ++round) {
    FaultInjectionEnv env;
    const std::string path = CaseDir() + "/BackgroundSync";
    std::map<std::string, RegisteredTag> registered;
    std::set<std::string> acknowledged;
    {
      EngineOnLevelDb harness;
      ASSERT_TRUE(harness.Start(path, &env).ok());
      env.SetSyncDelay(absl::Milliseconds(5));
      absl::Mutex mu;
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0;; ++i) {
            const std::string tag = absl::StrCat("t", t, "-", i);
            {
              absl::MutexLock lock(&mu);
              registered[tag] = {1 + t % 3, SyncType::kOneShot};
            }
            absl::Status status = harness.Register(1 + t % 3, SyncType::kOneShot, tag);
            if (!status.ok())
              return;  // the power is off
            absl::MutexLock lock(&mu);
            acknowledged.insert(tag);
          }
        });
      }
      absl::SleepFor(absl::Milliseconds(10 + 3 * round));
      env.PowerOff();
      for (std::thread& thread : threads)
        thread.join();
      harness.Stop();
    }
    ASSERT_TRUE(env.LosePower(round % 2 ? PowerLossMode::kDropUnsyncedEntries : PowerLossMode::kKeepEntries));
    EngineOnLevelDb harness;
    ASSERT_TRUE(harness.Start(path, &env).ok());
    LoadAudit audit = harness.Audit(registered, acknowledged);
    EXPECT_EQ(audit.acknowledged_lost, 0) << absl::StrJoin(audit.problems, "\n");
    EXPECT_EQ(audit.misattributed + audit.unknown, 0) << absl::StrJoin(audit.problems, "\n");
    EXPECT_TRUE(harness.Register(1, SyncType::kOneShot, "after").ok());
    acknowledged_total += static_cast<int>(acknowledged.size());
    lost_total += audit.acknowledged_lost;
  }
  std::printf("[figures] power cut during slow syncs: 25 cuts, %d Registers acknowledged, %d lost\n",
              acknowledged_total, lost_total);
}

}  // namespace
}  // namespace bgsync
