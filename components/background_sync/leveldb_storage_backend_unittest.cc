// LevelDbStorageBackend on a real directory: ordering and prefix bounds of reads, deletes, atomic batches,
// durability across close and reopen, the profile lock, group commit, and the callbacks of commits queued when
// the backend is destroyed. A fault-injecting leveldb::Env holds a round in its disk sync and fails log writes,
// so the group-commit and atomicity cases are deterministic.
#include "components/background_sync/leveldb_storage_backend.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "leveldb/env.h"
#include "leveldb/status.h"

namespace bgsync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using KeyValues = StorageBackend::KeyValues;

constexpr absl::Duration kDeadline = absl::Seconds(30);

// A leveldb::Env that can make the log file's Append fail and hold the log file's Sync until released, and
// that counts log syncs. Everything else goes to the default Env.
class FaultInjectingEnv : public leveldb::EnvWrapper {
 public:
  FaultInjectingEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** result) override {
    leveldb::WritableFile* file = nullptr;
    leveldb::Status status = target()->NewWritableFile(name, &file);
    if (!status.ok())
      return status;
    *result = absl::EndsWith(name, ".log") ? new LogFile(file, this) : file;
    return status;
  }
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** result) override {
    leveldb::WritableFile* file = nullptr;
    leveldb::Status status = target()->NewAppendableFile(name, &file);
    if (!status.ok())
      return status;
    *result = absl::EndsWith(name, ".log") ? new LogFile(file, this) : file;
    return status;
  }

  void SetFailLogAppends(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_log_appends_ = fail;
  }
  void SetHoldLogSyncs(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_log_syncs_ = hold;
  }
  // Waits until `n` log syncs are being held.
  bool WaitForHeldSyncs(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_syncs_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kDeadline);
  }
  int log_syncs() {
    absl::MutexLock lock(&mu_);
    return log_syncs_;
  }

 private:
  class LogFile : public leveldb::WritableFile {
   public:
    LogFile(leveldb::WritableFile* file, FaultInjectingEnv* env) : file_(file), env_(env) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      {
        absl::MutexLock lock(&env_->mu_);
        if (env_->fail_log_appends_)
          return leveldb::Status::IOError("injected append failure");
      }
      return file_->Append(data);
    }
    leveldb::Status Close() override { return file_->Close(); }
    leveldb::Status Flush() override { return file_->Flush(); }
    leveldb::Status Sync() override {
      {
        absl::MutexLock lock(&env_->mu_);
        ++env_->log_syncs_;
        if (env_->hold_log_syncs_) {
          ++env_->held_syncs_;
          auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(env_->mu_) { return !env_->hold_log_syncs_; };
          env_->mu_.Await(absl::Condition(&released));
          --env_->held_syncs_;
        }
      }
      return file_->Sync();
    }

   private:
    std::unique_ptr<leveldb::WritableFile> file_;
    FaultInjectingEnv* const env_;
  };

  absl::Mutex mu_;
  bool fail_log_appends_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_log_syncs_ ABSL_GUARDED_BY(mu_) = false;
  int held_syncs_ ABSL_GUARDED_BY(mu_) = 0;
  int log_syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

// Collects commit results from any thread.
class CommitResults {
 public:
  StorageBackend::CommitCallback Callback(size_t index) {
    return [this, index](absl::Status status) {
      absl::MutexLock lock(&mu_);
      if (results_.size() <= index)
        results_.resize(index + 1);
      results_[index] = std::move(status);
      ++done_;
    };
  }
  bool WaitFor(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kDeadline);
  }
  int done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  absl::Status result(size_t index) {
    absl::MutexLock lock(&mu_);
    return index < results_.size() ? results_[index] : absl::UnknownError("no result");
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::Status> results_ ABSL_GUARDED_BY(mu_);
  int done_ ABSL_GUARDED_BY(mu_) = 0;
};

StorageBatch PutBatch(std::vector<std::pair<std::string, std::string>> puts) {
  StorageBatch batch;
  for (auto& [key, value] : puts)
    batch.Put(key, value);
  return batch;
}

class LevelDbStorageBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "bgsync_leveldb_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << "mkdtemp " << tmpl;
    dir_ = tmpl;
    path_ = (std::filesystem::path(dir_) / "db").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << "removing " << dir_ << ": " << ec.message();
  }

  std::unique_ptr<LevelDbStorageBackend> OpenOrDie(LevelDbStorageBackend::Options options = {}) {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path_, options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? *std::move(backend) : nullptr;
  }

  static KeyValues Read(StorageBackend& backend, const std::string& prefix) {
    absl::StatusOr<KeyValues> read = backend.ReadPrefix(prefix);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? *std::move(read) : KeyValues();
  }

  std::string dir_;
  std::string path_;
};

TEST_F(LevelDbStorageBackendTest, OpenCreatesAnEmptyDatabase) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  EXPECT_TRUE(std::filesystem::is_directory(path_));
  EXPECT_THAT(Read(*backend, ""), IsEmpty());
  EXPECT_EQ(backend->write_rounds(), 0);
}

TEST_F(LevelDbStorageBackendTest, ReadPrefixReturnsKeyOrderAndStopsAtThePrefixBounds) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  // Written out of order, over several commits.
  ASSERT_TRUE(
      CommitAndWait(*backend, PutBatch({{"r:2", "c"}, {"r:1:b", "b"}, {"q", "before"}}), Durability::kDurable).ok());
  ASSERT_TRUE(CommitAndWait(*backend, PutBatch({{"r:1:a", "a"}, {"r;", "after"}, {"r", "bare"}, {"r:1", "one"}}),
                            Durability::kBuffered)
                  .ok());
  ASSERT_TRUE(
      CommitAndWait(*backend, PutBatch({{std::string("r:\xff", 3), "high"}, {"s", "s"}}), Durability::kDurable).ok());

  EXPECT_THAT(Read(*backend, "r:"), ElementsAre(Pair("r:1", "one"), Pair("r:1:a", "a"), Pair("r:1:b", "b"),
                                                Pair("r:2", "c"), Pair(std::string("r:\xff", 3), "high")));
  EXPECT_THAT(Read(*backend, "r:1"), ElementsAre(Pair("r:1", "one"), Pair("r:1:a", "a"), Pair("r:1:b", "b")));
  EXPECT_THAT(Read(*backend, "r:1:"), ElementsAre(Pair("r:1:a", "a"), Pair("r:1:b", "b")));
  EXPECT_THAT(Read(*backend, "r:1:a"), ElementsAre(Pair("r:1:a", "a")));
  EXPECT_THAT(Read(*backend, "r:3"), IsEmpty());
  EXPECT_THAT(Read(*backend, "t"), IsEmpty());
  EXPECT_THAT(Read(*backend, "0"), IsEmpty());
  // The empty prefix is everything, in key order.
  KeyValues all = Read(*backend, "");
  std::vector<std::string> keys;
  for (const auto& [key, value] : all)
    keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("q", "r", "r:1", "r:1:a", "r:1:b", "r:2", std::string("r:\xff", 3), "r;", "s"));
}

TEST_F(LevelDbStorageBackendTest, ValuesMayHoldArbitraryBytes) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  const std::string key("k\0ey", 4);
  const std::string value("\0\x01\xff\n", 4);
  ASSERT_TRUE(CommitAndWait(*backend, PutBatch({{key, value}}), Durability::kDurable).ok());
  EXPECT_THAT(Read(*backend, "k"), ElementsAre(Pair(key, value)));
}

TEST_F(LevelDbStorageBackendTest, PutOverwritesAndDeleteRemoves) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(CommitAndWait(*backend, PutBatch({{"a", "1"}, {"b", "2"}, {"c", "3"}}), Durability::kDurable).ok());

  StorageBatch batch;
  batch.Put("a", "1'");
  batch.Delete("b");
  batch.Delete("missing");  // deleting an absent key is not an error
  ASSERT_TRUE(CommitAndWait(*backend, std::move(batch), Durability::kDurable).ok());
  EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("a", "1'"), Pair("c", "3")));
}

TEST_F(LevelDbStorageBackendTest, OpsInOneBatchApplyInOrder) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  StorageBatch batch;
  batch.Put("put-then-delete", "x");
  batch.Delete("put-then-delete");
  batch.Delete("delete-then-put");
  batch.Put("delete-then-put", "y");
  batch.Put("twice", "first");
  batch.Put("twice", "second");
  ASSERT_TRUE(CommitAndWait(*backend, std::move(batch), Durability::kDurable).ok());
  EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("delete-then-put", "y"), Pair("twice", "second")));
}

TEST_F(LevelDbStorageBackendTest, CommitsApplyInCallOrder) {
  CommitResults results;  // outlives the backend, whose writer thread calls it
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);

  constexpr int kCommits = 200;
  for (int i = 0; i < kCommits; ++i) {
    StorageBatch batch;
    if (i % 3 == 2) {
      batch.Delete("k");
    } else {
      batch.Put("k", absl::StrCat(i));
    }
    backend->Commit(std::move(batch), i % 2 ? Durability::kDurable : Durability::kBuffered, results.Callback(i));
  }
  ASSERT_TRUE(results.WaitFor(kCommits));
  for (int i = 0; i < kCommits; ++i)
    EXPECT_TRUE(results.result(i).ok()) << i << ": " << results.result(i);
  // The last commit (199: 199 % 3 == 1) was a put of "199".
  EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("k", "199")));
}

TEST_F(LevelDbStorageBackendTest, DataSurvivesCloseAndReopen) {
  {
    std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
    ASSERT_TRUE(backend);
    ASSERT_TRUE(
        CommitAndWait(*backend, PutBatch({{"m:schema_version", "1"}, {"r:a", "A"}, {"r:b", "B"}}), Durability::kDurable)
            .ok());
    StorageBatch batch;
    batch.Delete("r:a");
    batch.Put("r:c", "C");
    ASSERT_TRUE(CommitAndWait(*backend, std::move(batch), Durability::kBuffered).ok());
  }
  {
    std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
    ASSERT_TRUE(backend);
    EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("m:schema_version", "1"), Pair("r:b", "B"), Pair("r:c", "C")));
    ASSERT_TRUE(CommitAndWait(*backend, PutBatch({{"r:d", "D"}}), Durability::kDurable).ok());
  }
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  EXPECT_THAT(Read(*backend, "r:"), ElementsAre(Pair("r:b", "B"), Pair("r:c", "C"), Pair("r:d", "D")));
}

TEST_F(LevelDbStorageBackendTest, SecondOpenOfTheSameDirectoryFailsWhileTheFirstIsOpen) {
  std::unique_ptr<LevelDbStorageBackend> first = OpenOrDie();
  ASSERT_TRUE(first);
  ASSERT_TRUE(CommitAndWait(*first, PutBatch({{"k", "v"}}), Durability::kDurable).ok());

  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> second = LevelDbStorageBackend::Open(path_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(path_));

  // The first is unharmed, and once it is closed the directory opens again with the data.
  EXPECT_THAT(Read(*first, ""), ElementsAre(Pair("k", "v")));
  first.reset();
  std::unique_ptr<LevelDbStorageBackend> third = OpenOrDie();
  ASSERT_TRUE(third);
  EXPECT_THAT(Read(*third, ""), ElementsAre(Pair("k", "v")));
}

TEST_F(LevelDbStorageBackendTest, OpenFailureOtherThanTheLockIsNotFailedPrecondition) {
  // A regular file where the database directory should be.
  { std::ofstream(path_) << "not a directory"; }
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path_);
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.status().code(), absl::StatusCode::kFailedPrecondition) << backend.status();
  EXPECT_THAT(std::string(backend.status().message()), HasSubstr(path_));
}

// The header promises kFailedPrecondition only when the database's lock is held by someone else, and kInternal
// for other I/O errors. A profile path that merely contains the letters "lock" must not turn an ordinary I/O
// error into "is another browser using this profile?".
TEST_F(LevelDbStorageBackendTest, IoErrorUnderAPathContainingLockIsNotFailedPrecondition) {
  const std::string profile = (std::filesystem::path(dir_) / "clockwork").string();
  { std::ofstream(profile) << "a file where the database directory should be"; }
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(profile);
  ASSERT_FALSE(backend.ok());
  // Regression: FromLevelDb used to map any LevelDB IOError whose text contained "lock" to kFailedPrecondition;
  // the text includes the path, so this ENOTDIR error on ".../clockwork/LOCK" came back as kFailedPrecondition
  // "(is another browser using this profile?)".
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kInternal) << backend.status();
  EXPECT_THAT(std::string(backend.status().message()), HasSubstr(profile));
}

TEST_F(LevelDbStorageBackendTest, ConcurrentReadersSeeWholeBatchesOnly) {
  CommitResults results;  // outlives the backend, whose writer thread calls it
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  constexpr int kBatches = 1001;  // the last one (1000) writes
  std::atomic<bool> writer_done{false};
  std::atomic<int> torn_reads{0};
  std::atomic<int> reads{0};
  absl::Notification reader_started;
  std::thread reader([&] {
    do {
      absl::StatusOr<KeyValues> read = backend->ReadPrefix("x");
      if (!reader_started.HasBeenNotified())
        reader_started.Notify();
      if (!read.ok()) {
        ++torn_reads;
        continue;
      }
      ++reads;
      // Every batch writes the same value under x1, x2 and x3, or deletes all three.
      if (read->empty())
        continue;
      if (read->size() != 3 || (*read)[0].second != (*read)[1].second || (*read)[1].second != (*read)[2].second) {
        ++torn_reads;
      }
    } while (!writer_done.load());
  });
  reader_started.WaitForNotification();

  for (int i = 0; i < kBatches; ++i) {
    StorageBatch batch;
    for (const char* key : {"x1", "x2", "x3"}) {
      if (i % 5 == 4) {
        batch.Delete(key);
      } else {
        batch.Put(key, absl::StrCat("v", i));
      }
    }
    backend->Commit(std::move(batch), Durability::kBuffered, results.Callback(i));
  }
  const bool all_done = results.WaitFor(kBatches);
  writer_done = true;
  reader.join();
  ASSERT_TRUE(all_done);
  EXPECT_EQ(torn_reads.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_THAT(Read(*backend, "x"), ElementsAre(Pair("x1", "v1000"), Pair("x2", "v1000"), Pair("x3", "v1000")));
}

TEST_F(LevelDbStorageBackendTest, FailedRoundFailsEveryCommitOfItAndAppliesNothing) {
  FaultInjectingEnv env;
  LevelDbStorageBackend::Options options;
  options.env = &env;
  CommitResults results;  // outlives the backend, whose writer thread calls it
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie(options);
  ASSERT_TRUE(backend);
  ASSERT_TRUE(CommitAndWait(*backend, PutBatch({{"a", "old"}}), Durability::kDurable).ok());
  const int64_t rounds_before = backend->write_rounds();

  // Round 1 is held in its disk sync, so the next two commits queue up and form round 2.
  env.SetHoldLogSyncs(true);

  backend->Commit(PutBatch({{"first", "1"}}), Durability::kDurable, results.Callback(0));
  ASSERT_TRUE(env.WaitForHeldSyncs(1));
  StorageBatch overwrite;
  overwrite.Put("a", "new");
  overwrite.Put("b", "new");
  backend->Commit(std::move(overwrite), Durability::kBuffered, results.Callback(1));
  StorageBatch deletes;
  deletes.Delete("a");
  deletes.Delete("first");
  deletes.Put("c", "new");
  backend->Commit(std::move(deletes), Durability::kDurable, results.Callback(2));
  EXPECT_EQ(results.done(), 0);

  // Round 2's log write fails.
  env.SetFailLogAppends(true);
  env.SetHoldLogSyncs(false);
  ASSERT_TRUE(results.WaitFor(3));

  EXPECT_TRUE(results.result(0).ok()) << results.result(0);
  EXPECT_FALSE(results.result(1).ok());
  EXPECT_FALSE(results.result(2).ok());
  EXPECT_EQ(results.result(1), results.result(2)) << "one round, one result";
  EXPECT_EQ(results.result(1).code(), absl::StatusCode::kInternal) << results.result(1);
  EXPECT_EQ(backend->write_rounds(), rounds_before + 2);
  // Nothing of the failed round is visible; round 1 is.
  EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("a", "old"), Pair("first", "1")));
}

TEST_F(LevelDbStorageBackendTest, RoundSyncsOnlyIfOneOfItsCommitsIsDurable) {
  FaultInjectingEnv env;
  LevelDbStorageBackend::Options options;
  options.env = &env;
  CommitResults results;  // outlives the backend, whose writer thread calls it
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie(options);
  ASSERT_TRUE(backend);

  int syncs = env.log_syncs();
  ASSERT_TRUE(CommitAndWait(*backend, PutBatch({{"a", "1"}}), Durability::kBuffered).ok());
  EXPECT_EQ(env.log_syncs(), syncs) << "a buffered commit must not sync";
  ASSERT_TRUE(CommitAndWait(*backend, PutBatch({{"b", "1"}}), Durability::kDurable).ok());
  EXPECT_EQ(env.log_syncs(), syncs + 1) << "a durable commit syncs once";

  // A round of buffered commits with one durable among them syncs once for all of them.
  syncs = env.log_syncs();
  env.SetHoldLogSyncs(true);

  backend->Commit(PutBatch({{"c", "1"}}), Durability::kDurable, results.Callback(0));
  ASSERT_TRUE(env.WaitForHeldSyncs(1));
  backend->Commit(PutBatch({{"d", "1"}}), Durability::kBuffered, results.Callback(1));
  backend->Commit(PutBatch({{"e", "1"}}), Durability::kDurable, results.Callback(2));
  backend->Commit(PutBatch({{"f", "1"}}), Durability::kBuffered, results.Callback(3));
  env.SetHoldLogSyncs(false);
  ASSERT_TRUE(results.WaitFor(4));
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(results.result(i).ok()) << results.result(i);
  EXPECT_EQ(env.log_syncs(), syncs + 2) << "round {c} and round {d, e, f}: one sync each";
}

TEST_F(LevelDbStorageBackendTest, ConcurrentDurableCommitsShareRounds) {
  CommitResults results;  // outlives the backend, whose writer thread calls it
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  constexpr int kThreads = 8;
  constexpr int kCommitsPerThread = 50;
  constexpr int kTotal = kThreads * kCommitsPerThread;
  const int64_t rounds_before = backend->write_rounds();

  absl::Notification start;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.WaitForNotification();
      for (int i = 0; i < kCommitsPerThread; ++i) {
        const int index = t * kCommitsPerThread + i;
        backend->Commit(PutBatch({{absl::StrCat("t", t, ":", 1000 + i), absl::StrCat("value-", index)}}),
                        Durability::kDurable, results.Callback(index));
      }
    });
  }
  start.Notify();
  for (std::thread& thread : threads)
    thread.join();
  ASSERT_TRUE(results.WaitFor(kTotal)) << "only " << results.done() << " of " << kTotal << " commits answered";

  for (int i = 0; i < kTotal; ++i)
    EXPECT_TRUE(results.result(i).ok()) << i << ": " << results.result(i);
  KeyValues all = Read(*backend, "t");
  ASSERT_EQ(all.size(), static_cast<size_t>(kTotal));
  for (int t = 0; t < kThreads; ++t) {
    KeyValues mine = Read(*backend, absl::StrCat("t", t, ":"));
    ASSERT_EQ(mine.size(), static_cast<size_t>(kCommitsPerThread));
    for (int i = 0; i < kCommitsPerThread; ++i) {
      EXPECT_EQ(mine[i].first, absl::StrCat("t", t, ":", 1000 + i));
      EXPECT_EQ(mine[i].second, absl::StrCat("value-", t * kCommitsPerThread + i));
    }
  }
  const int64_t rounds = backend->write_rounds() - rounds_before;
  EXPECT_GE(rounds, 1);
  EXPECT_LT(rounds, kTotal) << "every commit took a round of its own: no group commit";
}

TEST_F(LevelDbStorageBackendTest, CommitsQueuedBeforeDestructionAllRunTheirCallbacks) {
  constexpr int kCommits = 1000;
  CommitResults results;
  {
    std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
    ASSERT_TRUE(backend);
    for (int i = 0; i < kCommits; ++i) {
      backend->Commit(PutBatch({{absl::StrCat("k", 10000 + i), absl::StrCat(i)}}),
                      i % 10 == 0 ? Durability::kDurable : Durability::kBuffered, results.Callback(i));
    }
    // Destroyed at once, with most of them still queued.
  }
  // The destructor finished every queued commit, so every callback has run by now (no waiting needed).
  EXPECT_EQ(results.done(), kCommits);
  for (int i = 0; i < kCommits; ++i)
    EXPECT_TRUE(results.result(i).ok()) << i << ": " << results.result(i);

  // And they were written.
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  KeyValues all = Read(*backend, "k");
  ASSERT_EQ(all.size(), static_cast<size_t>(kCommits));
  EXPECT_EQ(all.front(), std::make_pair(std::string("k10000"), std::string("0")));
  EXPECT_EQ(all.back(), std::make_pair(absl::StrCat("k", 10000 + kCommits - 1), absl::StrCat(kCommits - 1)));
}

// A buffered commit that finds the backend idle is written on the caller's thread and answered before Commit
// returns (no hand-off to the writer thread); it does not sync.
TEST_F(LevelDbStorageBackendTest, BufferedCommitOnAnIdleBackendIsAnsweredBeforeCommitReturns) {
  FaultInjectingEnv env;
  LevelDbStorageBackend::Options options;
  options.env = &env;
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie(options);
  ASSERT_TRUE(backend);
  const int syncs = env.log_syncs();
  const int64_t rounds_before = backend->write_rounds();
  std::thread::id answered_on;
  absl::Status result = absl::UnknownError("not answered");
  backend->Commit(PutBatch({{"a", "1"}}), Durability::kBuffered, [&](absl::Status status) {
    answered_on = std::this_thread::get_id();
    result = status;
  });
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_EQ(backend->write_rounds(), rounds_before + 1);
  EXPECT_EQ(env.log_syncs(), syncs);
  EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("a", "1")));
}

TEST_F(LevelDbStorageBackendTest, DurableCommitIsWrittenAndAnsweredByTheWriterThread) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  absl::Notification answered;
  std::thread::id answered_on;
  backend->Commit(PutBatch({{"a", "1"}}), Durability::kDurable, [&](absl::Status status) {
    EXPECT_TRUE(status.ok()) << status;
    answered_on = std::this_thread::get_id();
    answered.Notify();
  });
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_NE(answered_on, std::this_thread::get_id());
}

// A buffered commit made while a round is being written waits for it: rounds are written and answered in commit
// order.
TEST_F(LevelDbStorageBackendTest, BufferedCommitBehindARoundBeingWrittenWaitsItsTurn) {
  FaultInjectingEnv env;
  LevelDbStorageBackend::Options options;
  options.env = &env;
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie(options);
  ASSERT_TRUE(backend);
  absl::Mutex mu;
  std::vector<std::string> order;
  auto record = [&](std::string name) {
    return [&, name](absl::Status status) {
      EXPECT_TRUE(status.ok()) << name << ": " << status;
      absl::MutexLock lock(&mu);
      order.push_back(name);
    };
  };
  env.SetHoldLogSyncs(true);
  backend->Commit(PutBatch({{"k", "durable"}}), Durability::kDurable, record("durable"));
  ASSERT_TRUE(env.WaitForHeldSyncs(1));
  backend->Commit(PutBatch({{"k", "buffered"}}), Durability::kBuffered, record("buffered"));
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(order.empty()) << "answered while the round before it was still syncing";
  }
  env.SetHoldLogSyncs(false);
  absl::MutexLock lock(&mu);
  auto both = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return order.size() == 2; };
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&both), kDeadline));
  EXPECT_THAT(order, ElementsAre("durable", "buffered"));
  EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("k", "buffered")));
}

// A callback of a commit written on the caller's thread may commit again: that commit is queued behind it and
// answered (by the writer thread), not written inside the first one's round.
TEST_F(LevelDbStorageBackendTest, CommitFromTheCallbackOfAnInlineCommitIsAnsweredToo) {
  std::unique_ptr<LevelDbStorageBackend> backend = OpenOrDie();
  ASSERT_TRUE(backend);
  CommitResults results;
  backend->Commit(PutBatch({{"first", "1"}}), Durability::kBuffered, [&](absl::Status status) {
    results.Callback(0)(status);
    backend->Commit(PutBatch({{"second", "2"}}), Durability::kBuffered, results.Callback(1));
  });
  ASSERT_TRUE(results.WaitFor(2));
  EXPECT_TRUE(results.result(0).ok()) << results.result(0);
  EXPECT_TRUE(results.result(1).ok()) << results.result(1);
  EXPECT_THAT(Read(*backend, ""), ElementsAre(Pair("first", "1"), Pair("second", "2")));
}

}  // namespace
}  // namespace bgsync
