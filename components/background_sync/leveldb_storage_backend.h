// The StorageBackend of the browser: a LevelDB database in the profile directory, with group commit.
#ifndef COMPONENTS_BACKGROUND_SYNC_LEVELDB_STORAGE_BACKEND_H_
#define COMPONENTS_BACKGROUND_SYNC_LEVELDB_STORAGE_BACKEND_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/storage_backend.h"

namespace leveldb {
class DB;
class Env;
}  // namespace leveldb

namespace bgsync {

// Commits are queued to one writer thread. While it writes (and syncs) one group, later commits queue up; the
// next round writes all of them as one leveldb::WriteBatch with one sync, in call order (group commit). The
// round syncs if any of its commits asked for kDurable. If the write fails, every commit of that round fails;
// LevelDB applies none of it.
//
// Thread-safety: every method may be called from any thread.
class LevelDbStorageBackend : public StorageBackend {
 public:
  struct Options {
    // Not owned; must outlive the backend. nullptr: the real file system (leveldb::Env::Default()). Tests pass
    // a fault-injecting Env.
    leveldb::Env* env = nullptr;
    // Check every block and the log strictly when opening and reading (reliability.md P7).
    bool paranoid_checks = true;
  };

  // Opens (creating if missing) the database in directory `path`. Errors: kFailedPrecondition if another process
  // holds the database's lock (a second browser on the same profile), kDataLoss on corruption, kInternal on
  // other I/O errors; the message names the path and LevelDB's reason.
  static absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> Open(const std::string& path, Options options);
  static absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> Open(const std::string& path) {
    return Open(path, Options());
  }

  // Finishes every queued commit (their callbacks run), then closes the database.
  ~LevelDbStorageBackend() override;

  absl::StatusOr<KeyValues> ReadPrefix(const std::string& prefix) override;
  void Commit(StorageBatch batch, Durability durability, CommitCallback done) override;

  // Rounds written so far (one disk write, and with durability one sync, each). For tests and benchmarks.
  int64_t write_rounds() const;

 private:
  struct PendingCommit {
    StorageBatch batch;
    Durability durability;
    CommitCallback done;
  };

  explicit LevelDbStorageBackend(std::unique_ptr<leveldb::DB> db);
  void WriterLoop();

  const std::unique_ptr<leveldb::DB> db_;

  mutable absl::Mutex mu_;
  std::deque<PendingCommit> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t write_rounds_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread writer_;  // started last in the constructor
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_LEVELDB_STORAGE_BACKEND_H_
