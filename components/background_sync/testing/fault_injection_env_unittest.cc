// The fault-injecting Env itself: which operations it counts and fails, and what a power cut leaves of files and
// directories under each model.
#include "components/background_sync/testing/fault_injection_env.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"

namespace bgsync {
namespace {

using Kind = FaultInjectionEnv::FileKind;
using Op = FaultInjectionEnv::FileOp;

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "bgsync_fault_env_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  std::string Path(const std::string& name) { return dir_ + "/" + name; }

  // Creates `name` through `env` with `synced` appended and synced, then `unsynced` appended.
  static void Write(FaultInjectionEnv& env,
                    const std::string& path,
                    const std::string& synced,
                    const std::string& unsynced) {
    leveldb::WritableFile* raw = nullptr;
    ASSERT_TRUE(env.NewWritableFile(path, &raw).ok());
    std::unique_ptr<leveldb::WritableFile> file(raw);
    ASSERT_TRUE(file->Append(synced).ok());
    if (!synced.empty()) {
      ASSERT_TRUE(file->Sync().ok());
    }
    ASSERT_TRUE(file->Append(unsynced).ok());
    ASSERT_TRUE(file->Close().ok());
  }

  static std::string Read(const std::string& path) {
    std::string contents;
    if (!leveldb::ReadFileToString(leveldb::Env::Default(), path, &contents).ok())
      return "<missing>";
    return contents;
  }

  std::string dir_;
};

TEST_F(FaultInjectionEnvTest, KnowsLevelDbsFileKinds) {
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/000012.log"), Kind::kLog);
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/000012.ldb"), Kind::kTable);
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/000012.sst"), Kind::kTable);
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/MANIFEST-000003"), Kind::kManifest);
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/CURRENT"), Kind::kCurrent);
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/000004.dbtmp"), Kind::kCurrent);
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/LOG"), Kind::kOther);
  EXPECT_EQ(FaultInjectionEnv::KindOf("/a/LOCK"), Kind::kOther);
}

TEST_F(FaultInjectionEnvTest, FailsTheNthMatchingOperationOnceOrFromThenOn) {
  FaultInjectionEnv env;
  FaultInjectionEnv::Fault fault;
  fault.kinds = {Kind::kLog};
  fault.ops = {Op::kWrite};
  fault.nth = 2;
  env.SetFault(fault);
  leveldb::WritableFile* raw = nullptr;
  ASSERT_TRUE(env.NewWritableFile(Path("000001.log"), &raw).ok());
  std::unique_ptr<leveldb::WritableFile> file(raw);
  EXPECT_TRUE(file->Append("a").ok());
  leveldb::Status failed = file->Append("b");
  EXPECT_TRUE(failed.IsIOError());
  EXPECT_TRUE(absl::StrContains(failed.ToString(), "No space left on device")) << failed.ToString();
  EXPECT_TRUE(file->Append("c").ok()) << "a glitch fails once";
  EXPECT_EQ(env.faults_injected(), 1);

  fault.nth = 1;
  fault.persistent = true;
  fault.error = 5;  // EIO
  env.SetFault(fault);
  leveldb::Status eio = file->Append("d");
  EXPECT_TRUE(absl::StrContains(eio.ToString(), "Input/output error")) << eio.ToString();
  EXPECT_FALSE(file->Append("e").ok()) << "a full disk stays full";
  EXPECT_TRUE(file->Sync().ok()) << "syncs were not chosen";
  env.ClearFault();
  EXPECT_TRUE(file->Append("f").ok());
  ASSERT_TRUE(file->Close().ok());
  EXPECT_EQ(Read(Path("000001.log")), "acf");
  EXPECT_EQ(env.count(Kind::kLog, Op::kWrite), 6);
  EXPECT_EQ(env.count(Kind::kLog, Op::kCreate), 1);
  EXPECT_EQ(env.count(Kind::kLog, Op::kSync), 1);
}

TEST_F(FaultInjectionEnvTest, FailedCreateCreatesNothingAndTornWriteWritesHalf) {
  FaultInjectionEnv env;
  FaultInjectionEnv::Fault fault;
  fault.kinds = {Kind::kTable};
  fault.ops = {Op::kCreate};
  env.SetFault(fault);
  leveldb::WritableFile* raw = nullptr;
  EXPECT_FALSE(env.NewWritableFile(Path("000005.ldb"), &raw).ok());
  EXPECT_EQ(raw, nullptr);
  EXPECT_FALSE(std::filesystem::exists(Path("000005.ldb")));

  fault.kinds = {Kind::kLog};
  fault.ops = {Op::kWrite};
  fault.torn = true;
  env.SetFault(fault);
  ASSERT_TRUE(env.NewWritableFile(Path("000006.log"), &raw).ok());
  std::unique_ptr<leveldb::WritableFile> file(raw);
  EXPECT_FALSE(file->Append("12345678").ok());
  ASSERT_TRUE(file->Close().ok());
  EXPECT_EQ(Read(Path("000006.log")), "1234");
}

TEST_F(FaultInjectionEnvTest, PowerLossCutsFilesBackToTheirLastSync) {
  FaultInjectionEnv env;
  Write(env, Path("000001.log"), "synced", "-lost");
  env.PowerOff();
  leveldb::WritableFile* raw = nullptr;
  EXPECT_FALSE(env.NewWritableFile(Path("000002.log"), &raw).ok()) << "nothing is written while the power is off";
  ASSERT_TRUE(env.LosePower(FaultInjectionEnv::PowerLossMode::kKeepEntries));
  EXPECT_EQ(Read(Path("000001.log")), "synced");
  EXPECT_FALSE(env.powered_off());
}

TEST_F(FaultInjectionEnvTest, DroppedEntriesBringTheDirectoryBackToItsLastSync) {
  // Before the env: a durable CURRENT and an old MANIFEST.
  ASSERT_TRUE(leveldb::WriteStringToFile(leveldb::Env::Default(), "MANIFEST-000001\n", Path("CURRENT")).ok());
  ASSERT_TRUE(leveldb::WriteStringToFile(leveldb::Env::Default(), "old manifest", Path("MANIFEST-000001")).ok());

  FaultInjectionEnv env(FaultInjectionEnv::DirSyncModel::kManifestSyncOnly);
  Write(env, Path("000003.log"), "", "never synced");
  Write(env, Path("000004.dbtmp"), "MANIFEST-000004\n", "");
  ASSERT_TRUE(env.RenameFile(Path("000004.dbtmp"), Path("CURRENT")).ok());
  ASSERT_TRUE(env.RemoveFile(Path("MANIFEST-000001")).ok());
  EXPECT_EQ(Read(Path("CURRENT")), "MANIFEST-000004\n");

  env.PowerOff();
  ASSERT_TRUE(env.LosePower(FaultInjectionEnv::PowerLossMode::kDropUnsyncedEntries));
  EXPECT_EQ(Read(Path("000003.log")), "<missing>") << "created, never in a synced directory";
  EXPECT_EQ(Read(Path("000004.dbtmp")), "<missing>");
  EXPECT_EQ(Read(Path("CURRENT")), "MANIFEST-000001\n") << "the rename is undone";
  EXPECT_EQ(Read(Path("MANIFEST-000001")), "old manifest") << "the removal is undone";
}

TEST_F(FaultInjectionEnvTest, ManifestSyncMakesTheDirectoryDurable) {
  FaultInjectionEnv env(FaultInjectionEnv::DirSyncModel::kManifestSyncOnly);
  Write(env, Path("000003.log"), "a record", "");
  Write(env, Path("MANIFEST-000002"), "edit", "");
  Write(env, Path("000005.log"), "after", "");
  env.PowerOff();
  ASSERT_TRUE(env.LosePower(FaultInjectionEnv::PowerLossMode::kDropUnsyncedEntries));
  EXPECT_EQ(Read(Path("000003.log")), "a record");
  EXPECT_EQ(Read(Path("MANIFEST-000002")), "edit");
  EXPECT_EQ(Read(Path("000005.log")), "<missing>") << "created after the last directory sync";
}

TEST_F(FaultInjectionEnvTest, UnderLevelDbsModelTheFirstSyncOfANewFileKeepsIt) {
  FaultInjectionEnv env;  // kOnNewFileSync
  Write(env, Path("000003.log"), "synced", "");
  Write(env, Path("000004.log"), "", "never synced");
  env.PowerOff();
  ASSERT_TRUE(env.LosePower(FaultInjectionEnv::PowerLossMode::kDropUnsyncedEntries));
  EXPECT_EQ(Read(Path("000003.log")), "synced");
  EXPECT_EQ(Read(Path("000004.log")), "<missing>");
}

TEST_F(FaultInjectionEnvTest, SlowSyncTakesItsTime) {
  FaultInjectionEnv env;
  env.SetSyncDelay(absl::Milliseconds(50));
  leveldb::WritableFile* raw = nullptr;
  ASSERT_TRUE(env.NewWritableFile(Path("000001.log"), &raw).ok());
  std::unique_ptr<leveldb::WritableFile> file(raw);
  ASSERT_TRUE(file->Append("x").ok());
  const absl::Time start = absl::Now();
  ASSERT_TRUE(file->Sync().ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
}

TEST_F(FaultInjectionEnvTest, LevelDbUnderPowerLossKeepsEverySyncedWrite) {
  FaultInjectionEnv env;
  leveldb::Options options;
  options.env = &env;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  const std::string db_path = Path("db");
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(options, db_path, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db->Put(sync, "durable", "1").ok());
  ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "buffered", "1").ok());
  EXPECT_GT(env.count(Kind::kLog, Op::kSync), 0);
  EXPECT_GT(env.count(Kind::kManifest, Op::kCreate), 0);
  EXPECT_GT(env.count(Kind::kCurrent, Op::kWrite), 0);
  env.PowerOff();
  db.reset();
  ASSERT_TRUE(env.LosePower(FaultInjectionEnv::PowerLossMode::kDropUnsyncedEntries));
  ASSERT_TRUE(leveldb::DB::Open(options, db_path, &raw).ok());
  db.reset(raw);
  std::string value;
  EXPECT_TRUE(db->Get(leveldb::ReadOptions(), "durable", &value).ok());
  EXPECT_TRUE(db->Get(leveldb::ReadOptions(), "buffered", &value).IsNotFound());
}

}  // namespace
}  // namespace bgsync
