#include "components/background_sync/leveldb_storage_backend.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/status.h"
#include "leveldb/write_batch.h"

namespace bgsync {
namespace {

bool IsLockHeldElsewhere(const leveldb::Status& status) {
  // LevelDB reports a LOCK file held by this process as "already held by process", and one held by another
  // process as flock()'s EAGAIN. Other I/O errors on the LOCK file (say, ENOTDIR) are plain I/O errors.
  const std::string text = status.ToString();
  return status.IsIOError() && (absl::StrContains(text, "already held by process") ||
                                absl::StrContains(text, "Resource temporarily unavailable"));
}

absl::Status FromLevelDb(const std::string& what, const leveldb::Status& status) {
  if (status.ok())
    return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", status.ToString());
  if (status.IsCorruption())
    return absl::DataLossError(message);
  if (IsLockHeldElsewhere(status))
    return absl::FailedPreconditionError(absl::StrCat(message, " (is another browser using this profile?)"));
  return absl::InternalError(message);
}

leveldb::Options DbOptions(const LevelDbStorageBackend::Options& options, bool create_if_missing) {
  leveldb::Options db_options;
  db_options.create_if_missing = create_if_missing;
  db_options.paranoid_checks = options.paranoid_checks;
  if (options.env)
    db_options.env = options.env;
  return db_options;
}

absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenDb(const std::string& path,
                                                    const LevelDbStorageBackend::Options& options,
                                                    bool create_if_missing = true) {
  leveldb::DB* db = nullptr;
  leveldb::Status status = leveldb::DB::Open(DbOptions(options, create_if_missing), path, &db);
  if (!status.ok())
    return FromLevelDb(absl::StrCat("opening ", path), status);
  return std::unique_ptr<leveldb::DB>(db);
}

// Reads every record with its checksum verified: every block of every table and what the log recovered. The
// database opened, so a table it cannot read (a zero-length table fails to map with EINVAL) is damage too.
absl::Status VerifyAll(leveldb::DB& db, const std::string& path) {
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  read_options.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db.NewIterator(read_options));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
  }
  if (it->status().ok())
    return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("verifying ", path, ": ", it->status().ToString()));
}

absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenAndVerify(const std::string& path,
                                                           const LevelDbStorageBackend::Options& options) {
  absl::StatusOr<std::unique_ptr<leveldb::DB>> db = OpenDb(path, options);
  if (!db.ok())
    return db.status();
  absl::Status verified = VerifyAll(**db, path);
  if (!verified.ok())
    return verified;
  return db;
}

// LevelDB reports a CURRENT file that names no MANIFEST inconsistently: as corruption, or, when what it names is
// the directory itself (a CURRENT of NULs and a newline), as an I/O error. A damaged CURRENT is damage.
bool CurrentIsDamaged(const std::string& path) {
  std::string current;
  leveldb::Status read = leveldb::ReadFileToString(leveldb::Env::Default(), path + "/CURRENT", &current);
  if (!read.ok())
    return false;  // missing or unreadable: LevelDB's own error says which
  if (!absl::StartsWith(current, "MANIFEST-") || !absl::EndsWith(current, "\n"))
    return true;
  const std::string number = current.substr(9, current.size() - 10);
  if (number.empty())
    return true;
  for (char c : number) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)))
      return true;
  }
  return false;
}

// LevelDB takes a directory without CURRENT for a new database: it writes a new MANIFEST, replays the logs it
// finds, and deletes every table as obsolete. Tables without CURRENT are a damaged store, not a missing one. (A
// MANIFEST or logs alone are what a crash during the store's creation leaves: nothing is lost by starting anew.)
bool CurrentIsMissing(const std::string& path) {
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::path(path) / "CURRENT", error))
    return false;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".ldb") || absl::EndsWith(name, ".sst"))
      return true;
  }
  return false;
}

// "<path><infix><UTC time>", with "-2", "-3", ... appended if that exists already.
std::string FreeSibling(const std::string& path, const std::string& infix) {
  const std::string base =
      absl::StrCat(path, infix, absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()));
  std::error_code error;
  std::string candidate = base;
  for (int n = 2; std::filesystem::exists(candidate, error); ++n)
    candidate = absl::StrCat(base, "-", n);
  return candidate;
}

// A key between `low` and `high` (low < high): their average as base-256 numbers padded to one length; `low`
// itself when there is none at that length.
std::string MiddleKey(const std::string& low, const std::string& high) {
  const size_t length = std::max(low.size(), high.size()) + 1;
  std::vector<unsigned> sum(length, 0);
  for (size_t i = length; i-- > 0;) {
    const unsigned a = i < low.size() ? static_cast<unsigned char>(low[i]) : 0;
    const unsigned b = i < high.size() ? static_cast<unsigned char>(high[i]) : 0;
    sum[i] = a + b;
  }
  // Carry, then halve from the most significant digit.
  unsigned carry = 0;
  for (size_t i = length; i-- > 0;) {
    sum[i] += carry;
    carry = sum[i] >> 8;
    sum[i] &= 0xff;
  }
  std::string middle(length, '\0');
  unsigned remainder = carry;
  for (size_t i = 0; i < length; ++i) {
    const unsigned value = (remainder << 8) | sum[i];
    middle[i] = static_cast<char>(value >> 1);
    remainder = value & 1;
  }
  while (middle.size() > low.size() && middle.back() == '\0')
    middle.pop_back();
  return middle < high && low < middle ? middle : low;
}

int CountKeptAside(const std::string& path) {
  const std::filesystem::path self(path);
  const std::string prefix = self.filename().string() + ".corrupt-";
  std::error_code error;
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(self.parent_path(), error)) {
    if (absl::StartsWith(entry.path().filename().string(), prefix))
      ++count;
  }
  return count;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> LevelDbStorageBackend::Open(const std::string& path,
                                                                                   Options options) {
  absl::StatusOr<std::unique_ptr<leveldb::DB>> db = OpenDb(path, options);
  if (!db.ok())
    return db.status();
  return std::unique_ptr<LevelDbStorageBackend>(new LevelDbStorageBackend(path, options, *std::move(db)));
}

absl::StatusOr<LevelDbStorageBackend::OpenResult> LevelDbStorageBackend::OpenWithRecovery(const std::string& path,
                                                                                          Options options) {
  OpenResult result;
  result.path = path;
  absl::StatusOr<std::unique_ptr<leveldb::DB>> db =
      CurrentIsMissing(path) ? absl::DataLossError(absl::StrCat(path, ": CURRENT is missing beside its tables"))
      : options.verify_records_at_open ? OpenAndVerify(path, options)
                                       : OpenDb(path, options);
  if (db.ok()) {
    result.backend.reset(new LevelDbStorageBackend(path, options, *std::move(db)));
    result.damaged_stores_kept = CountKeptAside(path);
    return result;
  }
  if (db.status().code() != absl::StatusCode::kDataLoss && !CurrentIsDamaged(path))
    return db.status();  // not damage: a full disk, permissions, another browser. Leave the store alone.
  result.damage = std::string(db.status().message());

  // Keep other processes out while the store is worked on (LevelDB released its lock when the open failed).
  leveldb::Env* env = options.env ? options.env : leveldb::Env::Default();
  leveldb::FileLock* lock = nullptr;
  leveldb::Status locked = env->LockFile(path + "/LOCK", &lock);
  if (!locked.ok() && IsLockHeldElsewhere(locked))
    return FromLevelDb(absl::StrCat("locking ", path), locked);
  auto unlock = [&] {
    if (lock)
      env->UnlockFile(lock);
    lock = nullptr;
  };

  // Repair a copy; the original stays as it is until the copy has proved itself.
  std::error_code error;
  const std::string copy = FreeSibling(path, ".repair-");
  bool repaired = false;
  std::filesystem::copy(path, copy, std::filesystem::copy_options::recursive, error);
  if (!error) {
    // First LevelDB's own recovery without paranoid checks: it verifies the checksum of every log record and skips
    // a damaged one (with the rest of its block). RepairDB reads logs without checksums, so it would carry damaged
    // records into the repaired store; it is the second choice, for a damaged MANIFEST, CURRENT or table.
    Options lenient = options;
    lenient.paranoid_checks = false;
    bool recovered = false;
    {
      absl::StatusOr<std::unique_ptr<leveldb::DB>> db = OpenDb(copy, lenient, /*create_if_missing=*/false);
      recovered = db.ok() && VerifyAll(**db, copy).ok();
    }
    if (recovered && OpenAndVerify(copy, options).ok()) {
      repaired = true;
      result.repair = "LevelDB's recovery, skipping damaged log records";
    } else {
      leveldb::Options repair_options;
      repair_options.env = env;
      // With checksums verified, RepairDB skips damaged table blocks; without, it copies their garbage out of key
      // order, which fails an assertion in LevelDB's TableBuilder.
      repair_options.paranoid_checks = true;
      if (leveldb::RepairDB(copy, repair_options).ok() && OpenAndVerify(copy, options).ok()) {
        repaired = true;
        result.repair = "leveldb::RepairDB";
      }
    }
  }
  if (!repaired)
    std::filesystem::remove_all(copy, error);  // our own scratch copy, not the user's data

  result.kept_aside = FreeSibling(path, ".corrupt-");
  std::filesystem::rename(path, result.kept_aside, error);
  if (error) {
    unlock();
    std::filesystem::remove_all(copy, error);
    return absl::InternalError(absl::StrCat(path, " is damaged (", result.damage, ") and could not be moved aside"));
  }
  if (repaired) {
    std::filesystem::rename(copy, path, error);
    if (error) {
      repaired = false;
      std::filesystem::remove_all(copy, error);
    }
  }
  unlock();
  result.outcome = repaired ? OpenOutcome::kRepaired : OpenOutcome::kQuarantined;

  db = OpenAndVerify(path, options);
  if (!db.ok()) {
    // Nothing can be served: put the damaged store back where it was, so that nothing looks lost.
    std::filesystem::remove_all(path, error);
    std::filesystem::rename(result.kept_aside, path, error);
    return absl::InternalError(absl::StrCat(path, " is damaged (", result.damage,
                                            ") and no store could be served in its place: ", db.status().message()));
  }
  result.backend.reset(new LevelDbStorageBackend(path, options, *std::move(db)));
  result.damaged_stores_kept = CountKeptAside(path);
  return result;
}

std::string LevelDbStorageBackend::OpenResult::Describe() const {
  const std::string kept = absl::StrCat("the damaged store is kept at ", kept_aside, " (", damaged_stores_kept,
                                        " damaged ", damaged_stores_kept == 1 ? "store" : "stores", " kept)");
  switch (outcome) {
    case OpenOutcome::kServed:
      return absl::StrCat(path, ": opened, every checksum verified",
                          damaged_stores_kept ? absl::StrCat(" (", damaged_stores_kept, " damaged stores kept)") : "");
    case OpenOutcome::kRepaired:
      return absl::StrCat(path, " was damaged (", damage, "): repaired a copy (", repair, ") and serving it; ", kept);
    case OpenOutcome::kQuarantined:
      return absl::StrCat(path, " was damaged beyond repair (", damage, "): serving a new, empty store; ", kept);
  }
  return path;
}

LevelDbStorageBackend::LevelDbStorageBackend(std::string path, Options options, std::unique_ptr<leveldb::DB> db)
    : path_(std::move(path)), options_(options), db_(std::move(db)), writer_([this] { WriterLoop(); }) {}

LevelDbStorageBackend::~LevelDbStorageBackend() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
}

absl::StatusOr<StorageBackend::KeyValues> LevelDbStorageBackend::ReadPrefix(const std::string& prefix) {
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (!db_) {
    return absl::InternalError(
        absl::StrCat("reading the sync registration store: ", path_, " is closed after a failed write"));
  }
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

absl::Status LevelDbStorageBackend::Scan(const std::string& begin, const std::string& end, ScanVisitor visit) {
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (!db_) {
    return absl::InternalError(
        absl::StrCat("reading the sync registration store: ", path_, " is closed after a failed write"));
  }
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  read_options.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read_options));
  const leveldb::Slice limit(end);
  for (it->Seek(begin); it->Valid(); it->Next()) {
    const leveldb::Slice key = it->key();
    if (!end.empty() && key.compare(limit) >= 0)
      break;
    const leveldb::Slice value = it->value();
    absl::Status status =
        visit(absl::string_view(key.data(), key.size()), absl::string_view(value.data(), value.size()));
    if (!status.ok())
      return status;
  }
  return FromLevelDb("reading the sync registration store", it->status());
}

std::vector<std::string> LevelDbStorageBackend::SplitRange(const std::string& begin,
                                                           const std::string& end,
                                                           int parts) {
  constexpr uint64_t kMinBytesToSplit = 1 << 20;
  if (parts < 2 || end.empty() || !(begin < end))
    return {};
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (!db_)
    return {};
  auto size_between = [this](const std::string& from, const std::string& to) ABSL_SHARED_LOCKS_REQUIRED(db_mu_) {
    leveldb::Range range(from, to);
    uint64_t size = 0;
    db_->GetApproximateSizes(&range, 1, &size);
    return size;
  };
  const uint64_t total = size_between(begin, end);
  if (total < kMinBytesToSplit)
    return {};
  // Bisect the keys for each split: the sizes tell on which side of a key the wanted amount of data lies. Keys
  // often share a long prefix (the store's, then an id's leading zeros), which takes a bit per step to get through
  // before the sizes change; stop once the two sides are within 1/64 of a part of each other.
  const uint64_t tolerance = std::max<uint64_t>(total / static_cast<uint64_t>(parts) / 64, 1);
  std::vector<std::string> splits;
  for (int part = 1; part < parts; ++part) {
    const uint64_t target = total / static_cast<uint64_t>(parts) * static_cast<uint64_t>(part);
    std::string low = splits.empty() ? begin : splits.back();
    std::string high = end;
    uint64_t low_size = size_between(begin, low);
    uint64_t high_size = total;
    for (int step = 0; step < 1024 && high_size - low_size > tolerance; ++step) {
      std::string middle = MiddleKey(low, high);
      if (middle == low)
        break;
      const uint64_t middle_size = size_between(begin, middle);
      if (middle_size < target) {
        low = std::move(middle);
        low_size = middle_size;
      } else {
        high = std::move(middle);
        high_size = middle_size;
      }
    }
    if (high < end && (splits.empty() ? begin < high : splits.back() < high))
      splits.push_back(std::move(high));
  }
  return splits;
}

void LevelDbStorageBackend::Commit(StorageBatch batch, Durability durability, CommitCallback done) {
  {
    absl::MutexLock lock(&mu_);
    // A buffered commit that finds no round being written and none waiting is written here and now: it would be
    // that round alone anyway, and the writer thread's wake-up would cost more than the write (an unsynced write
    // is a copy into the OS). A durable one always goes to the writer thread: its fsync must not block the caller,
    // and whatever queues behind it while it syncs shares the next one.
    if (durability == Durability::kDurable || stopping_ || writing_ || !queue_.empty()) {
      queue_.push_back({std::move(batch), durability, std::move(done)});
      return;
    }
    writing_ = true;
    ++write_rounds_;
  }
  std::deque<PendingCommit> round;
  round.push_back({std::move(batch), durability, std::move(done)});
  WriteRound(round);
  absl::MutexLock lock(&mu_);
  writing_ = false;  // commits queued meanwhile go to the writer thread
}

int64_t LevelDbStorageBackend::write_rounds() const {
  absl::MutexLock lock(&mu_);
  return write_rounds_;
}

int64_t LevelDbStorageBackend::write_failure_recoveries() const {
  absl::MutexLock lock(&mu_);
  return write_failure_recoveries_;
}

absl::Status LevelDbStorageBackend::RecoverFromFailedWrite() {
  absl::WriterMutexLock db_lock(&db_mu_);
  if (!undo_)
    return absl::OkStatus();
  // Closing ends the log that may hold part of the failed round; the reopened database writes a new one.
  db_.reset();
  absl::StatusOr<std::unique_ptr<leveldb::DB>> db = OpenDb(path_, options_, /*create_if_missing=*/false);
  if (!db.ok()) {
    return absl::InternalError(absl::StrCat("the sync registration store could not be reopened after a failed write: ",
                                            db.status().message()));
  }
  // The reopened log may have recovered the failed round: put back what its keys held before it.
  leveldb::WriteBatch restore;
  for (const auto& [key, value] : *undo_) {
    if (value) {
      restore.Put(key, *value);
    } else {
      restore.Delete(key);
    }
  }
  leveldb::WriteOptions write_options;
  write_options.sync = true;
  absl::Status status =
      FromLevelDb("restoring the sync registration store after a failed write", (*db)->Write(write_options, &restore));
  if (!status.ok())
    return status;  // db closes here; the next round tries again
  db_ = *std::move(db);
  undo_.reset();
  absl::MutexLock lock(&mu_);
  ++write_failure_recoveries_;
  return absl::OkStatus();
}

void LevelDbStorageBackend::WriterLoop() {
  while (true) {
    std::deque<PendingCommit> round;
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !writing_ && (stopping_ || !queue_.empty()); };
      mu_.Await(absl::Condition(&ready));
      stop = queue_.empty();  // stopping, and everything queued has been written
      round.swap(queue_);
      if (!stop) {
        writing_ = true;
        ++write_rounds_;
      }
    }
    if (stop) {
      // Best effort: leave the disk as the failed round's callers were told.
      RecoverFromFailedWrite().IgnoreError();
      return;
    }
    WriteRound(round);
    absl::MutexLock lock(&mu_);
    writing_ = false;
  }
}

void LevelDbStorageBackend::WriteRound(std::deque<PendingCommit>& round) {
  absl::Status status = RecoverFromFailedWrite();
  if (status.ok()) {
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
    absl::ReaderMutexLock db_lock(&db_mu_);
    status = FromLevelDb("writing the sync registration store", db_->Write(write_options, &batch));
    if (!status.ok()) {
      // LevelDB applied none of the round to the open database, so it still reads the values from before.
      Undo undo;
      leveldb::ReadOptions read_options;
      for (const PendingCommit& commit : round) {
        for (const StorageBatch::Op& op : commit.batch.ops()) {
          std::string value;
          leveldb::Status read = db_->Get(read_options, op.key, &value);
          if (read.ok()) {
            undo.emplace_back(op.key, std::move(value));
          } else if (read.IsNotFound()) {
            undo.emplace_back(op.key, std::nullopt);
          }
          // A key that cannot be read now is not restored: deleting it could lose what it held.
        }
      }
      // Only the first value seen for a key is the one from before the round; later ones repeat it.
      undo_ = std::move(undo);
    }
  }
  for (PendingCommit& commit : round)
    commit.done(status);
}

}  // namespace bgsync
