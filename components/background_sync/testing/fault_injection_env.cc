#include "components/background_sync/testing/fault_injection_env.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace bgsync {
namespace {

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

leveldb::Status PoweredOff(const std::string& path) {
  return leveldb::Status::IOError(path, "the power is off");
}

}  // namespace

// Reports appends and syncs to the env and fails them when the env says so.
class FaultInjectionEnv::File : public leveldb::WritableFile {
 public:
  File(FaultInjectionEnv* env, std::string path, leveldb::WritableFile* target)
      : env_(env), path_(std::move(path)), target_(target) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    std::optional<leveldb::Status> failure = env_->Check(path_, FileOp::kWrite);
    if (failure) {
      if (torn_writes_ && !env_->powered_off() && data.size() > 1) {
        // A short write: half of the data reaches the file before the error.
        leveldb::Slice half(data.data(), data.size() / 2);
        if (target_->Append(half).ok() && target_->Flush().ok())
          env_->Appended(path_, half.size());
      }
      return *failure;
    }
    leveldb::Status status = target_->Append(data);
    if (status.ok())
      env_->Appended(path_, data.size());
    return status;
  }

  leveldb::Status Flush() override { return target_->Flush(); }
  leveldb::Status Close() override { return target_->Close(); }

  leveldb::Status Sync() override {
    absl::Duration delay = env_->sync_delay();
    if (delay > absl::ZeroDuration())
      absl::SleepFor(delay);
    if (std::optional<leveldb::Status> failure = env_->Check(path_, FileOp::kSync))
      return *failure;
    leveldb::Status status = env_->real_syncs() ? target_->Sync() : target_->Flush();
    if (status.ok())
      env_->Synced(path_);
    return status;
  }

  void set_torn_writes(bool torn) { torn_writes_ = torn; }

 private:
  FaultInjectionEnv* const env_;
  const std::string path_;
  const std::unique_ptr<leveldb::WritableFile> target_;
  bool torn_writes_ = false;
};

FaultInjectionEnv::FaultInjectionEnv(DirSyncModel model)
    : leveldb::EnvWrapper(leveldb::Env::Default()), model_(model) {}

FaultInjectionEnv::~FaultInjectionEnv() = default;

FaultInjectionEnv::FileKind FaultInjectionEnv::KindOf(const std::string& path) {
  const std::string name = Basename(path);
  if (name == "CURRENT" || absl::EndsWith(name, ".dbtmp"))
    return FileKind::kCurrent;
  if (absl::StartsWith(name, "MANIFEST-"))
    return FileKind::kManifest;
  if (absl::EndsWith(name, ".log"))
    return FileKind::kLog;
  if (absl::EndsWith(name, ".ldb") || absl::EndsWith(name, ".sst"))
    return FileKind::kTable;
  return FileKind::kOther;
}

const char* FaultInjectionEnv::KindName(FileKind kind) {
  switch (kind) {
    case FileKind::kLog:
      return "log";
    case FileKind::kTable:
      return "table";
    case FileKind::kManifest:
      return "MANIFEST";
    case FileKind::kCurrent:
      return "CURRENT";
    case FileKind::kOther:
      return "other";
  }
  return "?";
}

const char* FaultInjectionEnv::OpName(FileOp op) {
  switch (op) {
    case FileOp::kCreate:
      return "create";
    case FileOp::kWrite:
      return "write";
    case FileOp::kSync:
      return "sync";
  }
  return "?";
}

void FaultInjectionEnv::SetFault(Fault fault) {
  absl::MutexLock lock(&mu_);
  fault_ = std::move(fault);
  fault_matches_ = 0;
  faults_injected_ = 0;
}

void FaultInjectionEnv::ClearFault() {
  absl::MutexLock lock(&mu_);
  fault_.reset();
}

int64_t FaultInjectionEnv::faults_injected() {
  absl::MutexLock lock(&mu_);
  return faults_injected_;
}

void FaultInjectionEnv::SetSyncDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  sync_delay_ = delay;
}

void FaultInjectionEnv::SetRealSyncs(bool real) {
  absl::MutexLock lock(&mu_);
  real_syncs_ = real;
}

bool FaultInjectionEnv::real_syncs() {
  absl::MutexLock lock(&mu_);
  return real_syncs_;
}

absl::Duration FaultInjectionEnv::sync_delay() {
  absl::MutexLock lock(&mu_);
  return sync_delay_;
}

int64_t FaultInjectionEnv::count(FileKind kind, FileOp op) {
  absl::MutexLock lock(&mu_);
  auto it = counts_.find({kind, op});
  return it == counts_.end() ? 0 : it->second;
}

int64_t FaultInjectionEnv::total_count() {
  absl::MutexLock lock(&mu_);
  int64_t total = 0;
  for (const auto& [key, n] : counts_) {
    if (key.first != FileKind::kOther)
      total += n;
  }
  return total;
}

void FaultInjectionEnv::ResetCounts() {
  absl::MutexLock lock(&mu_);
  counts_.clear();
}

void FaultInjectionEnv::PowerOff() {
  absl::MutexLock lock(&mu_);
  powered_off_ = true;
}

bool FaultInjectionEnv::powered_off() {
  absl::MutexLock lock(&mu_);
  return powered_off_;
}

std::optional<leveldb::Status> FaultInjectionEnv::Check(const std::string& path, FileOp op) {
  absl::MutexLock lock(&mu_);
  if (powered_off_)
    return PoweredOff(path);
  const FileKind kind = KindOf(path);
  ++counts_[{kind, op}];
  if (!fault_ || !fault_->kinds.count(kind) || !fault_->ops.count(op))
    return std::nullopt;
  ++fault_matches_;
  if (fault_matches_ < fault_->nth || (fault_matches_ > fault_->nth && !fault_->persistent))
    return std::nullopt;
  ++faults_injected_;
  return leveldb::Status::IOError(path, absl::StrCat(std::strerror(fault_->error), " (injected at the ", OpName(op),
                                                     " of a ", KindName(kind), " file)"));
}

leveldb::Status FaultInjectionEnv::Open(const std::string& path, bool append, leveldb::WritableFile** result) {
  *result = nullptr;
  if (std::optional<leveldb::Status> failure = Check(path, FileOp::kCreate))
    return *failure;
  bool torn = false;
  leveldb::WritableFile* file = nullptr;
  leveldb::Status status;
  {
    absl::MutexLock lock(&mu_);
    torn = fault_ && fault_->torn;
    const bool existed = target()->FileExists(path);
    uint64_t size = 0;
    if (existed && append && !files_.count(path))
      target()->GetFileSize(path, &size);
    if (!existed || !append)
      RememberEntry(path);
    status = append ? target()->NewAppendableFile(path, &file) : target()->NewWritableFile(path, &file);
    if (!status.ok())
      return status;
    if (!append) {
      files_[path] = FileState{};
    } else if (!files_.count(path)) {
      files_[path] = FileState{size, size};  // what was there before the env saw it counts as synced
    }
  }
  auto* wrapped = new File(this, path, file);
  wrapped->set_torn_writes(torn);
  *result = wrapped;
  return status;
}

leveldb::Status FaultInjectionEnv::NewWritableFile(const std::string& path, leveldb::WritableFile** result) {
  return Open(path, /*append=*/false, result);
}

leveldb::Status FaultInjectionEnv::NewAppendableFile(const std::string& path, leveldb::WritableFile** result) {
  return Open(path, /*append=*/true, result);
}

leveldb::Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (powered_off_)
    return PoweredOff(path);
  RememberEntry(path);
  leveldb::Status status = target()->RemoveFile(path);
  if (status.ok())
    files_.erase(path);
  return status;
}

leveldb::Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  absl::MutexLock lock(&mu_);
  if (powered_off_)
    return PoweredOff(to);
  RememberEntry(from);
  RememberEntry(to);
  leveldb::Status status = target()->RenameFile(from, to);
  if (!status.ok())
    return status;
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  } else {
    files_.erase(to);
  }
  return status;
}

void FaultInjectionEnv::Appended(const std::string& path, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  files_[path].size += bytes;
}

void FaultInjectionEnv::Synced(const std::string& path) {
  absl::MutexLock lock(&mu_);
  FileState& state = files_[path];
  state.synced = state.size;
  // LevelDB's POSIX Env fsyncs the directory along with a MANIFEST; in the lenient model the first sync of a new
  // file makes its directory's entries durable too.
  if (KindOf(path) == FileKind::kManifest ||
      (model_ == DirSyncModel::kOnNewFileSync && unsynced_entries_.count(path))) {
    DirectorySynced(Dirname(path));
  }
}

std::string FaultInjectionEnv::DurableContents(const std::string& path) {
  std::string contents;
  if (!leveldb::ReadFileToString(target(), path, &contents).ok())
    return std::string();
  auto it = files_.find(path);
  if (it != files_.end() && contents.size() > it->second.synced)
    contents.resize(it->second.synced);
  return contents;
}

void FaultInjectionEnv::RememberEntry(const std::string& path) {
  if (unsynced_entries_.count(path))
    return;  // the first change since the last sync decides what the directory held
  EntryBefore before;
  if (target()->FileExists(path))
    before.contents = DurableContents(path);
  unsynced_entries_.emplace(path, std::move(before));
}

void FaultInjectionEnv::DirectorySynced(const std::string& dir) {
  // Paths sort by directory first: the entries of `dir` start at "<dir>/".
  const std::string prefix = dir + "/";
  for (auto it = unsynced_entries_.lower_bound(prefix);
       it != unsynced_entries_.end() && absl::StartsWith(it->first, prefix);) {
    it = Dirname(it->first) == dir ? unsynced_entries_.erase(it) : std::next(it);
  }
}

bool FaultInjectionEnv::LosePower(PowerLossMode mode, std::string* error) {
  absl::MutexLock lock(&mu_);
  auto fail = [&](const std::string& what) {
    if (error)
      *error = what;
    return false;
  };
  for (const auto& [path, state] : files_) {
    uint64_t size = 0;
    if (!target()->GetFileSize(path, &size).ok())
      continue;  // gone
    if (size > state.synced && ::truncate(path.c_str(), static_cast<off_t>(state.synced)) != 0)
      return fail(absl::StrCat("truncate ", path, ": ", std::strerror(errno)));
  }
  if (mode == PowerLossMode::kDropUnsyncedEntries) {
    for (const auto& [path, before] : unsynced_entries_) {
      if (before.contents) {
        leveldb::Status status = leveldb::WriteStringToFile(target(), *before.contents, path);
        if (!status.ok())
          return fail(status.ToString());
      } else if (target()->FileExists(path)) {
        leveldb::Status status = target()->RemoveFile(path);
        if (!status.ok())
          return fail(status.ToString());
      }
    }
  }
  // What survived is what the disk holds now.
  files_.clear();
  unsynced_entries_.clear();
  fault_.reset();
  powered_off_ = false;
  return true;
}

}  // namespace bgsync
