// The StorageBackend of the browser: a LevelDB database in the profile directory, with group commit, recovery
// from failed writes, and an open-time policy for damaged stores.
#ifndef COMPONENTS_BACKGROUND_SYNC_LEVELDB_STORAGE_BACKEND_H_
#define COMPONENTS_BACKGROUND_SYNC_LEVELDB_STORAGE_BACKEND_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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
// A kBuffered commit that finds nothing queued or being written is written as a round of its own on the calling
// thread, whose `done` then runs before Commit returns (the writer thread's wake-up would cost more than an
// unsynced write). Callbacks run in commit order.
//
// After a failed write the database is not written again as it is: LevelDB may have left part of the round in
// its log (a short write, or a write whose sync failed) and would append behind it. The next round first reopens
// the database, which ends that log, and durably restores the failed round's keys to the values they had before
// it, so that nothing of a failed round is visible to later reads (StorageBackend::Commit). While that recovery
// fails (the disk is still full), every round fails with its reason; once it succeeds the store serves again.
// (Reopening replays the log into a table: if the restore then cannot be written and the process stops, the failed
// round may be found stored at the next start. Its callers were told it failed; they may retry.)
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
    // OpenWithRecovery only: read every record, checksums verified, before serving the store. A caller that reads
    // the whole store right after opening it (the browser's start-up load, whose Scan verifies checksums) may turn
    // this off to read it once instead of twice; damage found while opening (the log, CURRENT) is still handled
    // here. That caller must then take a read error of its load (kDataLoss or kInternal) for possible damage:
    // release the store and open it again with this on, which repairs a copy or keeps the damaged store aside.
    bool verify_records_at_open = true;
  };

  // Opens (creating if missing) the database in directory `path`. Errors: kFailedPrecondition if another process
  // holds the database's lock (a second browser on the same profile), kDataLoss on corruption, kInternal on
  // other I/O errors; the message names the path and LevelDB's reason.
  static absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> Open(const std::string& path, Options options);
  static absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> Open(const std::string& path) {
    return Open(path, Options());
  }

  // How OpenWithRecovery found the store. Persistent in logs and tools: do not renumber.
  enum class OpenOutcome {
    kServed = 0,       // opened as it was, every block's checksum verified
    kRepaired = 1,     // damaged: leveldb::RepairDB salvaged a copy, which is served; the original is kept aside
    kQuarantined = 2,  // damaged beyond repair: the original is kept aside and a new, empty store is served
  };
  struct OpenResult {
    std::unique_ptr<LevelDbStorageBackend> backend;
    OpenOutcome outcome = OpenOutcome::kServed;
    std::string path;
    std::string damage;      // why the store could not be served as it was; empty when served
    std::string repair;      // kRepaired: how ("LevelDB's recovery, skipping damaged log records", "leveldb::RepairDB")
    std::string kept_aside;  // where the damaged store now is ("<path>.corrupt-<UTC time>"); empty when served
    // The counter: damaged stores kept next to this one ("<path>.corrupt-*"), this start's included. It survives
    // restarts (it counts directories), so `bgsyncctl status` can show it.
    int damaged_stores_kept = 0;

    // One line for the browser's log: what was found, what was done, where the damaged store is.
    std::string Describe() const;
  };

  // The browser's way to open its store (reliability.md P7). Opens `path` with paranoid checks and reads every
  // record with checksums verified (unless options.verify_records_at_open is off). The store is damaged if LevelDB
  // reports corruption, a table cannot be read, CURRENT names no MANIFEST, or CURRENT is missing beside tables (LevelDB
  // would start a new database there and delete the tables). A damaged store is never deleted: a copy is repaired — by
  // LevelDB's recovery without paranoid checks, which skips damaged log records, else by leveldb::RepairDB — and if the
  // repaired copy opens and verifies, the damaged original is moved to "<path>.corrupt-<UTC time>" and the copy served
  // (kRepaired); otherwise the original is moved there and a new, empty store is served (kQuarantined). Records
  // salvaged by a repair are re-validated by their reader (SyncRegistrationStore checks every record against its
  // key and the engine against its service worker's origin). Errors, with the store left where it was:
  // kFailedPrecondition if another process holds the lock; kInternal for I/O errors that are not damage
  // (permissions, a full disk) and when the damaged store could not be moved aside or no store could be served.
  static absl::StatusOr<OpenResult> OpenWithRecovery(const std::string& path, Options options);

  // Whether `error`, from the first full read of a store OpenWithRecovery opened without verify_records_at_open, may
  // be damage that a verified OpenWithRecovery would repair or keep aside (a read or corruption error).
  static bool MayBeDamage(const absl::Status& error) {
    return error.code() == absl::StatusCode::kDataLoss || error.code() == absl::StatusCode::kInternal;
  }

  // Finishes every queued commit (their callbacks run), then closes the database.
  ~LevelDbStorageBackend() override;

  absl::StatusOr<KeyValues> ReadPrefix(const std::string& prefix) override;
  // Reads with checksums verified and without filling LevelDB's block cache (a scan reads each block once).
  absl::Status Scan(const std::string& begin, const std::string& end, ScanVisitor visit) override;
  // From LevelDB's approximate sizes of the tables (what was written since the last compaction is not counted);
  // empty for ranges under 1 MiB.
  std::vector<std::string> SplitRange(const std::string& begin, const std::string& end, int parts) override;
  void Commit(StorageBatch batch, Durability durability, CommitCallback done) override;

  // Rounds written so far (one disk write, and with durability one sync, each). For tests and benchmarks.
  int64_t write_rounds() const;
  // Times the database was reopened and restored after a failed write. For tests and tools.
  int64_t write_failure_recoveries() const;

 private:
  struct PendingCommit {
    StorageBatch batch;
    Durability durability;
    CommitCallback done;
  };
  // A failed round's keys and what they held before it (nullopt: absent).
  using Undo = std::vector<std::pair<std::string, std::optional<std::string>>>;

  LevelDbStorageBackend(std::string path, Options options, std::unique_ptr<leveldb::DB> db);
  void WriterLoop();
  // Writes `round` as one batch, then calls each commit's `done`. Only by the thread that set writing_.
  void WriteRound(std::deque<PendingCommit>& round);
  // Only by the thread that set writing_. After a failed write: reopens the database and restores the failed
  // round's keys.
  absl::Status RecoverFromFailedWrite();

  const std::string path_;
  const Options options_;

  // Shared: reading or writing through db_. Exclusive: replacing it (recovery after a failed write).
  mutable absl::Mutex db_mu_;
  std::unique_ptr<leveldb::DB> db_ ABSL_GUARDED_BY(db_mu_);  // null while a reopen after a failed write fails

  // Only by the thread that set writing_: set by a failed round, cleared once recovered.
  std::optional<Undo> undo_;

  mutable absl::Mutex mu_;
  std::deque<PendingCommit> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // A round is being written, by the writer thread or by a caller of Commit (one at a time, so rounds are written
  // in order).
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t write_rounds_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t write_failure_recoveries_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread writer_;  // started last in the constructor
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_LEVELDB_STORAGE_BACKEND_H_
