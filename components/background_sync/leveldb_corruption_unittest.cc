// The corruption sweep (reliability.md P7): a store written by the real engine (two tables, a MANIFEST, CURRENT
// and a newest log holding the latest Registers) is damaged in more than a thousand ways — flipped bits, truncation,
// zeroed ranges in each file — and in the states users report after power cuts (CURRENT full of NULs, zero-length
// tables, truncated MANIFEST, ...). Every case is opened the way the browser opens its store and must end served
// (every checksum verified), repaired (from a copy) or quarantined (kept aside, never deleted), with the engine
// serving Registers afterwards and no registration ever attributed to another service worker or origin.
//
// The sweep prints its figures on one line, for docs/reliability.md.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/testing/engine_on_leveldb.h"
#include "components/background_sync/testing/fault_injection_env.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

namespace fs = std::filesystem;
using OpenOutcome = LevelDbStorageBackend::OpenOutcome;

// A case taking longer than this is a hang: the watchdog aborts the binary, naming the case.
constexpr absl::Duration kHangLimit = absl::Seconds(60);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

const char* OutcomeName(OpenOutcome outcome) {
  switch (outcome) {
    case OpenOutcome::kServed:
      return "served";
    case OpenOutcome::kRepaired:
      return "repaired";
    case OpenOutcome::kQuarantined:
      return "quarantined";
  }
  return "?";
}

// Aborts the process if a case runs longer than kHangLimit.
class Watchdog {
 public:
  Watchdog()
      : thread_([this] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!stop_) {
            if (armed_ && std::chrono::steady_clock::now() > deadline_) {
              std::fprintf(stderr, "HANG: %s ran longer than %s\n", what_.c_str(),
                           absl::FormatDuration(kHangLimit).c_str());
              std::abort();
            }
            wake_.wait_for(lock, std::chrono::milliseconds(200));
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Arm(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    what_ = what;
    armed_ = true;
    deadline_ = std::chrono::steady_clock::now() + absl::ToChronoSeconds(kHangLimit);
  }
  void Disarm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool armed_ = false;
  std::string what_;
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

// One way of damaging one file of the store.
struct Damage {
  enum Kind { kFlip, kTruncate, kZero, kReplace, kRemove };
  std::string file;  // a file name in the store
  Kind kind = kFlip;
  size_t offset = 0;     // kFlip: byte; kTruncate: new length; kZero: first byte
  size_t length = 0;     // kFlip: bit; kZero: bytes
  std::string contents;  // kReplace
  std::string name;      // for the reported states: what users see

  std::string Describe() const {
    if (!name.empty())
      return name;
    switch (kind) {
      case kFlip:
        return absl::StrCat(file, ": bit ", length, " of byte ", offset, " flipped");
      case kTruncate:
        return absl::StrCat(file, ": truncated to ", offset, " bytes");
      case kZero:
        return absl::StrCat(file, ": ", length, " bytes zeroed at ", offset);
      case kReplace:
        return absl::StrCat(file, ": replaced");
      case kRemove:
        return absl::StrCat(file, ": removed");
    }
    return file;
  }
  auto Tie() const { return std::tie(file, kind, offset, length, contents); }
  bool operator<(const Damage& other) const { return Tie() < other.Tie(); }

  // The damaged bytes, or nullopt when the file is gone.
  std::optional<std::string> Apply(const std::string& original) const {
    std::string bytes = original;
    switch (kind) {
      case kFlip:
        if (offset < bytes.size())
          bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << length));
        return bytes;
      case kTruncate:
        bytes.resize(std::min(offset, bytes.size()));
        return bytes;
      case kZero:
        for (size_t i = offset; i < std::min(bytes.size(), offset + length); ++i)
          bytes[i] = '\0';
        return bytes;
      case kReplace:
        return contents;
      case kRemove:
        return std::nullopt;
    }
    return bytes;
  }
};

// The figures of a sweep.
struct SweepTotals {
  int cases = 0;
  std::map<std::string, std::map<OpenOutcome, int>> outcomes;  // per file kind
  int refused = 0;              // OpenWithRecovery or the engine failed: the browser would not start
  int not_serving = 0;          // a Register after the start failed
  int misattributed = 0;        // must be 0
  int original_not_kept = 0;    // the damaged file is not in the kept-aside store, byte for byte: must be 0
  int scratch_left = 0;         // a repair copy left behind: must be 0
  int registrations_lost = 0;   // to the damage itself (informational)
  int quarantined_records = 0;  // records the engine quarantined at load (informational)
  absl::Duration slowest;

  std::string Describe() const {
    std::map<OpenOutcome, int> all;
    std::vector<std::string> per_kind;
    for (const auto& [kind, counts] : outcomes) {
      std::vector<std::string> parts;
      for (const auto& [outcome, n] : counts) {
        all[outcome] += n;
        parts.push_back(absl::StrCat(OutcomeName(outcome), " ", n));
      }
      per_kind.push_back(absl::StrCat(kind, ": ", absl::StrJoin(parts, ", ")));
    }
    std::vector<std::string> overall;
    for (const auto& [outcome, n] : all)
      overall.push_back(absl::StrCat(OutcomeName(outcome), " ", n));
    return absl::StrCat(cases, " cases: ", absl::StrJoin(overall, ", "), " (", absl::StrJoin(per_kind, "; "),
                        "); refused ", refused, ", not serving ", not_serving, ", misattributed ", misattributed,
                        ", damaged file not kept ", original_not_kept, ", scratch copies left ", scratch_left,
                        "; registrations lost to the damage ", registrations_lost, ", records quarantined at load ",
                        quarantined_records, "; slowest case ", absl::FormatDuration(slowest));
  }
};

class LevelDbCorruptionTest : public ::testing::Test {
 protected:
  // The store every case starts from, written once by the real engine.
  static void SetUpTestSuite() {
    std::string pattern = (fs::path(SweepScratchDirectory()) / "bgsync_corruption_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = new std::string(pattern);
    registered_ = new std::map<std::string, RegisteredTag>();
    acknowledged_ = new std::set<std::string>();
    golden_ = new std::map<std::string, std::string>();
    const std::string path = *root_ + "/golden";
    EngineOnLevelDb harness;
    // Three starts: each converts the previous log into a table, so the store ends with two tables, a MANIFEST,
    // CURRENT and a log holding the last start's Registers. Long tags make tables of several blocks.
    int n = 0;
    uint64_t seed = 1;
    for (int per_start : {60, 45, 12}) {
      ASSERT_TRUE(harness.Start(path).ok());
      for (int i = 0; i < per_start; ++i, ++n) {
        const int64_t sw = 1 + n % EngineOnLevelDb::kServiceWorkers;
        const SyncType type = n % 5 == 4 ? SyncType::kPeriodic : SyncType::kOneShot;
        // Tags that do not compress, so that the tables hold several 4 KiB blocks.
        std::string noise;
        for (int k = 0; k < 100; ++k) {
          seed = seed * 6364136223846793005ull + 1442695040888963407ull;
          absl::StrAppend(&noise, absl::Hex(seed >> 56, absl::kZeroPad2));
        }
        const std::string tag = absl::StrCat("outbox-", n, "-", noise);
        (*registered_)[tag] = {sw, type};
        if (harness.Register(sw, type, tag).ok())
          acknowledged_->insert(tag);
      }
      harness.Stop();
    }
    ASSERT_EQ(acknowledged_->size(), registered_->size());
    harness.Stop();
    for (const fs::directory_entry& entry : fs::directory_iterator(path)) {
      const std::string name = entry.path().filename().string();
      if (name != "LOCK" && name != "LOG" && name != "LOG.old")
        (*golden_)[name] = ReadFile(entry.path());
    }
  }
  static void TearDownTestSuite() {
    std::error_code error;
    fs::remove_all(*root_, error);
    delete root_;
    delete registered_;
    delete acknowledged_;
    delete golden_;
  }

  static std::vector<std::string> FilesEndingWith(const std::string& suffix) {
    std::vector<std::string> names;
    for (const auto& [name, bytes] : *golden_) {
      if (absl::EndsWith(name, suffix))
        names.push_back(name);
    }
    return names;
  }
  static std::string Manifest() {
    for (const auto& [name, bytes] : *golden_) {
      if (absl::StartsWith(name, "MANIFEST-"))
        return name;
    }
    return "";
  }
  static std::string KindOf(const std::string& file) {
    if (absl::EndsWith(file, ".log"))
      return "log";
    if (absl::EndsWith(file, ".ldb") || absl::EndsWith(file, ".sst"))
      return "table";
    if (absl::StartsWith(file, "MANIFEST-"))
      return "MANIFEST";
    if (file == "CURRENT")
      return "CURRENT";
    return "several";
  }

  // Flips, truncations and zeroed ranges spread over `file`, without repeats.
  static std::vector<Damage> SpreadDamage(const std::string& file, int flips, int truncations, int zeroings) {
    const size_t size = golden_->at(file).size();
    std::set<Damage> damage;
    for (int j = 0; j < flips; ++j) {
      Damage d;
      d.file = file;
      d.kind = Damage::kFlip;
      d.offset = (static_cast<size_t>(j) * size / flips + j * 7) % size;
      d.length = (j * 3) % 8;
      damage.insert(d);
    }
    for (int j = 0; j < truncations; ++j) {
      Damage d;
      d.file = file;
      d.kind = Damage::kTruncate;
      d.offset = static_cast<size_t>(j) * size / truncations;
      damage.insert(d);
    }
    static constexpr size_t kLengths[] = {1, 7, 64, 512, 4096};
    for (int j = 0; j < zeroings; ++j) {
      Damage d;
      d.file = file;
      d.kind = Damage::kZero;
      d.offset = (static_cast<size_t>(j) * size / zeroings + j * 13) % size;
      d.length = kLengths[j % 5];
      damage.insert(d);
    }
    return std::vector<Damage>(damage.begin(), damage.end());
  }

  // Writes the golden store with `damage` applied, opens it as the browser does, and checks the promises. Returns
  // how the store was opened, or nullopt if it could not be.
  std::optional<OpenOutcome> RunCase(const std::vector<Damage>& damage,
                                     const std::string& description,
                                     SweepTotals& totals) {
    SCOPED_TRACE(description);
    const std::string dir = absl::StrCat(*root_, "/case-", next_case_++);
    const std::string path = dir + "/BackgroundSync";
    fs::create_directories(path);
    std::map<std::string, std::optional<std::string>> damaged;
    for (const Damage& d : damage)
      damaged[d.file] = d.Apply(golden_->at(d.file));
    for (const auto& [name, bytes] : *golden_) {
      auto it = damaged.find(name);
      if (it == damaged.end()) {
        WriteFile(fs::path(path) / name, bytes);
      } else if (it->second) {
        WriteFile(fs::path(path) / name, *it->second);
      }
    }
    std::string kind = damage.size() == 1 ? KindOf(damage[0].file) : "several";
    if (!damage.empty() && !damage[0].name.empty())
      kind = "reported states";

    watchdog_.Arm(description);
    const absl::Time start = absl::Now();
    ++totals.cases;
    // The real file system without real fsyncs: durability is not under test here, and fsyncs would cost most of
    // the sweep's time.
    FaultInjectionEnv env;
    env.SetRealSyncs(false);
    EngineOnLevelDb harness;
    LevelDbStorageBackend::OpenResult opened;
    absl::Status started = harness.Start(path, &env, &opened);
    std::optional<OpenOutcome> outcome;
    if (!started.ok()) {
      ++totals.refused;
      ADD_FAILURE() << "the store could not be served: " << started;
    } else {
      ++totals.outcomes[kind][opened.outcome];
      outcome = opened.outcome;
      if (opened.outcome != OpenOutcome::kServed) {
        EXPECT_TRUE(absl::StrContains(opened.Describe(), opened.kept_aside)) << opened.Describe();
        // The damaged store is kept aside as it was: the damaged files are there, byte for byte.
        bool kept = fs::is_directory(opened.kept_aside);
        for (const auto& [name, bytes] : damaged) {
          if (bytes)
            kept = kept && fs::exists(fs::path(opened.kept_aside) / name) &&
                   ReadFile(fs::path(opened.kept_aside) / name) == *bytes;
        }
        if (!kept) {
          ++totals.original_not_kept;
          ADD_FAILURE() << "the damaged store was not kept as it was at " << opened.kept_aside;
        }
        EXPECT_GE(opened.damaged_stores_kept, 1);
      }
      for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
        if (absl::StrContains(entry.path().filename().string(), ".repair-")) {
          ++totals.scratch_left;
          ADD_FAILURE() << "scratch copy left: " << entry.path();
        }
      }
      LoadAudit audit = harness.Audit(*registered_, *acknowledged_);
      totals.misattributed += audit.misattributed + audit.unknown;
      EXPECT_EQ(audit.misattributed + audit.unknown, 0) << absl::StrJoin(audit.problems, "\n");
      totals.registrations_lost += audit.acknowledged_lost;
      totals.quarantined_records += static_cast<int>(harness.engine()->load_report().quarantined.size());
      if (!harness.Register(2, SyncType::kOneShot, "after-the-damage").ok()) {
        ++totals.not_serving;
        ADD_FAILURE() << "the store does not serve after " << OutcomeName(opened.outcome);
      }
    }
    harness.Stop();
    totals.slowest = std::max(totals.slowest, absl::Now() - start);
    watchdog_.Disarm();
    std::error_code error;
    fs::remove_all(dir, error);
    return outcome;
  }

  static std::string* root_;
  static std::map<std::string, RegisteredTag>* registered_;
  static std::set<std::string>* acknowledged_;
  static std::map<std::string, std::string>* golden_;  // file name -> bytes
  Watchdog watchdog_;
  int next_case_ = 0;
};

std::string* LevelDbCorruptionTest::root_ = nullptr;
std::map<std::string, RegisteredTag>* LevelDbCorruptionTest::registered_ = nullptr;
std::set<std::string>* LevelDbCorruptionTest::acknowledged_ = nullptr;
std::map<std::string, std::string>* LevelDbCorruptionTest::golden_ = nullptr;

TEST_F(LevelDbCorruptionTest, TheGoldenStoreHasEveryKindOfFile) {
  EXPECT_EQ(FilesEndingWith(".log").size(), 1u);
  EXPECT_EQ(FilesEndingWith(".ldb").size(), 2u);
  EXPECT_FALSE(Manifest().empty());
  EXPECT_EQ(golden_->count("CURRENT"), 1u);
  for (const std::string& table : FilesEndingWith(".ldb"))
    EXPECT_GT(golden_->at(table).size(), 8192u) << table << " should span several blocks";
  SweepTotals totals;
  RunCase({}, "the golden store itself", totals);
  EXPECT_EQ(totals.outcomes["several"][OpenOutcome::kServed], 1);
}

TEST_F(LevelDbCorruptionTest, FlippedTruncatedAndZeroedFilesEndServedRepairedOrQuarantined) {
  const absl::Time start = absl::Now();
  std::vector<Damage> cases;
  auto add = [&](std::vector<Damage> more) { cases.insert(cases.end(), more.begin(), more.end()); };
  add(SpreadDamage(FilesEndingWith(".log")[0], 120, 60, 70));
  for (const std::string& table : FilesEndingWith(".ldb"))
    add(SpreadDamage(table, 100, 45, 60));
  add(SpreadDamage(Manifest(), 120, 60, 70));
  add(SpreadDamage("CURRENT", 128, 16, 60));
  ASSERT_GE(cases.size(), 1000u);
  SweepTotals totals;
  for (const Damage& d : cases)
    RunCase({d}, d.Describe(), totals);
  std::printf("[figures] corruption sweep: %s; %.1f s\n", totals.Describe().c_str(),
              absl::ToDoubleSeconds(absl::Now() - start));
  EXPECT_EQ(totals.refused + totals.not_serving + totals.misattributed + totals.original_not_kept + totals.scratch_left,
            0);
}

// File states users have reported after power cuts and full disks.
TEST_F(LevelDbCorruptionTest, ReportedPowerLossStatesEndServedRepairedOrQuarantined) {
  const std::string log = FilesEndingWith(".log")[0];
  const std::vector<std::string> tables = FilesEndingWith(".ldb");
  const std::string manifest = Manifest();
  auto replace = [](const std::string& file, std::string contents) {
    Damage d;
    d.file = file;
    d.kind = Damage::kReplace;
    d.contents = std::move(contents);
    return d;
  };
  auto remove = [](const std::string& file) {
    Damage d;
    d.file = file;
    d.kind = Damage::kRemove;
    return d;
  };
  auto nuls = [&](const std::string& file) { return std::string(golden_->at(file).size(), '\0'); };
  const std::string half_manifest = golden_->at(manifest).substr(0, golden_->at(manifest).size() / 2);
  const std::vector<std::pair<std::string, std::vector<Damage>>> states = {
      {"CURRENT full of NULs", {replace("CURRENT", nuls("CURRENT"))}},
      {"CURRENT of NULs and a newline", {replace("CURRENT", std::string(15, '\0') + "\n")}},
      {"CURRENT empty", {replace("CURRENT", "")}},
      {"CURRENT missing", {remove("CURRENT")}},
      {"CURRENT names a missing MANIFEST", {replace("CURRENT", "MANIFEST-999999\n")}},
      {"a zero-length table", {replace(tables[0], "")}},
      {"every table zero-length", {replace(tables[0], ""), replace(tables[1], "")}},
      {"a table full of NULs", {replace(tables[1], nuls(tables[1]))}},
      {"a table missing", {remove(tables[0])}},
      {"MANIFEST truncated to half", {replace(manifest, half_manifest)}},
      {"MANIFEST empty", {replace(manifest, "")}},
      {"MANIFEST full of NULs", {replace(manifest, nuls(manifest))}},
      {"MANIFEST missing", {remove(manifest)}},
      {"newest log empty", {replace(log, "")}},
      {"newest log full of NULs", {replace(log, nuls(log))}},
      {"newest log missing", {remove(log)}},
      {"every file empty",
       {replace("CURRENT", ""), replace(manifest, ""), replace(log, ""), replace(tables[0], ""),
        replace(tables[1], "")}},
  };
  SweepTotals totals;
  std::vector<std::string> seen;
  for (const auto& [name, damage] : states) {
    std::vector<Damage> named = damage;
    for (Damage& d : named)
      d.name = name;
    const int lost_before = totals.registrations_lost;
    std::optional<OpenOutcome> outcome = RunCase(named, name, totals);
    const int lost = totals.registrations_lost - lost_before;
    seen.push_back(absl::StrCat(name, ": ", outcome ? OutcomeName(*outcome) : "refused", " (", lost, " of ",
                                acknowledged_->size(), " lost)"));
  }
  std::printf("[figures] reported power-loss states: %s; %s\n", totals.Describe().c_str(),
              absl::StrJoin(seen, "; ").c_str());
}

// ------------------------------------------------------------------------------------------------------------
// The open-time policy's other branches.

class OpenWithRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "bgsync_open_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/BackgroundSync";
  }
  void TearDown() override {
    std::error_code error;
    fs::remove_all(dir_, error);
  }
  void WriteStore(const std::string& key) {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path_);
    ASSERT_TRUE(backend.ok()) << backend.status();
    StorageBatch batch;
    batch.Put(key, "value");
    ASSERT_TRUE(CommitAndWait(**backend, std::move(batch), Durability::kDurable).ok());
  }
  static std::map<std::string, std::string> Contents(StorageBackend& backend) {
    std::map<std::string, std::string> contents;
    absl::StatusOr<StorageBackend::KeyValues> read = backend.ReadPrefix("");
    EXPECT_TRUE(read.ok()) << read.status();
    if (read.ok()) {
      for (auto& [key, value] : *read)
        contents[key] = value;
    }
    return contents;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(OpenWithRecoveryTest, AStoreThatCannotEvenBeCopiedIsQuarantinedKeptAndReplacedByAnEmptyOne) {
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    WriteStore(absl::StrCat("k", round));
    WriteFile(fs::path(path_) / "CURRENT", std::string(16, '\0'));
    // A FIFO in the store: std::filesystem::copy refuses it, so there is no copy to repair.
    ASSERT_EQ(mkfifo((fs::path(path_) / "fifo").c_str(), 0600), 0);
    absl::StatusOr<LevelDbStorageBackend::OpenResult> opened = LevelDbStorageBackend::OpenWithRecovery(path_, {});
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(opened->outcome, OpenOutcome::kQuarantined);
    EXPECT_TRUE(Contents(*opened->backend).empty());
    EXPECT_EQ(ReadFile(fs::path(opened->kept_aside) / "CURRENT"), std::string(16, '\0'));
    EXPECT_EQ(opened->damaged_stores_kept, round) << "the counter counts every store kept aside";
    EXPECT_TRUE(absl::StrContains(opened->Describe(), "beyond repair")) << opened->Describe();
    EXPECT_TRUE(absl::StrContains(opened->Describe(), opened->kept_aside)) << opened->Describe();
    // The kept store still holds its data: LevelDB's repair finds it there.
    opened->backend.reset();
    const std::string inspect = dir_ + "/inspect";
    fs::remove_all(inspect);
    fs::create_directories(inspect);
    for (const fs::directory_entry& entry : fs::directory_iterator(opened->kept_aside)) {
      if (entry.is_regular_file())
        fs::copy_file(entry.path(), fs::path(inspect) / entry.path().filename());
    }
    absl::StatusOr<LevelDbStorageBackend::OpenResult> salvaged = LevelDbStorageBackend::OpenWithRecovery(inspect, {});
    ASSERT_TRUE(salvaged.ok()) << salvaged.status();
    EXPECT_EQ(salvaged->outcome, OpenOutcome::kRepaired);
    EXPECT_EQ(Contents(*salvaged->backend).count(absl::StrCat("k", round)), 1u);
    salvaged->backend.reset();
    fs::remove_all(inspect);
    fs::remove_all(path_);
  }
}

TEST_F(OpenWithRecoveryTest, AStoreInUseIsRefusedAndLeftAlone) {
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> first = LevelDbStorageBackend::Open(path_);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<LevelDbStorageBackend::OpenResult> second = LevelDbStorageBackend::OpenWithRecovery(path_, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().string(), path_) << "nothing was copied or moved";
}

TEST_F(OpenWithRecoveryTest, AnIoErrorThatIsNotDamageIsReturnedAndTheStoreLeftAlone) {
  WriteFile(path_, "a file where the store directory should be");
  absl::StatusOr<LevelDbStorageBackend::OpenResult> opened = LevelDbStorageBackend::OpenWithRecovery(path_, {});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kInternal) << opened.status();
  EXPECT_EQ(ReadFile(path_), "a file where the store directory should be");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(OpenWithRecoveryTest, AHealthyStoreIsServedAsItIs) {
  WriteStore("k");
  absl::StatusOr<LevelDbStorageBackend::OpenResult> opened = LevelDbStorageBackend::OpenWithRecovery(path_, {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->outcome, OpenOutcome::kServed);
  EXPECT_TRUE(opened->kept_aside.empty());
  EXPECT_EQ(opened->damaged_stores_kept, 0);
  EXPECT_EQ(Contents(*opened->backend), (std::map<std::string, std::string>{{"k", "value"}}));
}

}  // namespace
}  // namespace bgsync
