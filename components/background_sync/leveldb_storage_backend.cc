#include "components/background_sync/leveldb_storage_backend.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/options.h"
#include "leveldb/status.h"
#include "leveldb/write_batch.h"

namespace bgsync {
namespace {

absl::Status FromLevelDb(const std::string& what, const leveldb::Status& status) {
  if (status.ok())
    return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", status.ToString());
  if (status.IsCorruption())
    return absl::DataLossError(message);
  // LevelDB reports a LOCK file held by this process as "already held by process", and one held by another
  // process as flock()'s EAGAIN. Other I/O errors on the LOCK file (say, ENOTDIR) are plain I/O errors.
  const std::string text = status.ToString();
  if (status.IsIOError() && (absl::StrContains(text, "already held by process") ||
                             absl::StrContains(text, "Resource temporarily unavailable"))) {
    return absl::FailedPreconditionError(absl::StrCat(message, " (is another browser using this profile?)"));
  }
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> LevelDbStorageBackend::Open(const std::string& path,
                                                                                   Options options) {
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  db_options.paranoid_checks = options.paranoid_checks;
  if (options.env)
    db_options.env = options.env;
  leveldb::DB* db = nullptr;
  leveldb::Status status = leveldb::DB::Open(db_options, path, &db);
  if (!status.ok())
    return FromLevelDb(absl::StrCat("opening ", path), status);
  return std::unique_ptr<LevelDbStorageBackend>(new LevelDbStorageBackend(std::unique_ptr<leveldb::DB>(db)));
}

LevelDbStorageBackend::LevelDbStorageBackend(std::unique_ptr<leveldb::DB> db)
    : db_(std::move(db)), writer_([this] { WriterLoop(); }) {}

LevelDbStorageBackend::~LevelDbStorageBackend() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
}

absl::StatusOr<StorageBackend::KeyValues> LevelDbStorageBackend::ReadPrefix(const std::string& prefix) {
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read_options));
  KeyValues result;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    result.emplace_back(it->key().ToString(), it->value().ToString());
  }
  absl::Status status = FromLevelDb("reading the sync registration store", it->status());
  if (!status.ok())
    return status;
  return result;
}

void LevelDbStorageBackend::Commit(StorageBatch batch, Durability durability, CommitCallback done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back({std::move(batch), durability, std::move(done)});
}

int64_t LevelDbStorageBackend::write_rounds() const {
  absl::MutexLock lock(&mu_);
  return write_rounds_;
}

void LevelDbStorageBackend::WriterLoop() {
  while (true) {
    std::deque<PendingCommit> round;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty())
        return;  // stopping, and everything queued has been written
      round.swap(queue_);
      ++write_rounds_;
    }
    leveldb::WriteBatch batch;
    leveldb::WriteOptions write_options;
    for (const PendingCommit& commit : round) {
      for (const StorageBatch::Op& op : commit.batch.ops()) {
        if (op.value) {
          batch.Put(op.key, *op.value);
        } else {
          batch.Delete(op.key);
        }
      }
      if (commit.durability == Durability::kDurable)
        write_options.sync = true;
    }
    absl::Status status = FromLevelDb("writing the sync registration store", db_->Write(write_options, &batch));
    for (PendingCommit& commit : round)
      commit.done(status);
  }
}

}  // namespace bgsync
