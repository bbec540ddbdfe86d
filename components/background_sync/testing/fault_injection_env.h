// A leveldb::Env for tests that makes the disk misbehave: ENOSPC or EIO on creating, writing or syncing a file
// of a given kind, slow syncs, and power loss.
//
// Power loss follows the model of LevelDB's own db/fault_injection_test.cc: the env remembers, for every file
// written through it, how much of it was synced, and which directory entries were created (or renamed or removed)
// since their directory was last synced. PowerOff() freezes the disk (every later write fails and changes nothing);
// after the database is closed, LosePower() puts back what a real power cut may leave: each file cut back to its
// last synced size and, in kDropUnsyncedEntries mode, each directory as of its last sync (new files gone, renamed
// and removed files back under their old names).
//
// When is a directory synced? LevelDB's POSIX Env fsyncs the directory when it syncs a MANIFEST file; following
// LevelDB's fault-injection test (and ext4), the kOnNewFileSync model also counts the first fsync of a newly
// created file as making its directory's entries durable. kManifestSyncOnly is the strict POSIX reading.
//
// Thread-safety: every method may be called from any thread; files created through the env may be used from any
// thread, like the default Env's. The env must outlive every database opened with it.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_FAULT_INJECTION_ENV_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_FAULT_INJECTION_ENV_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "leveldb/env.h"

namespace bgsync {

class FaultInjectionEnv : public leveldb::EnvWrapper {
 public:
  // What LevelDB keeps in a file, from its name.
  enum class FileKind {
    kLog,       // NNNNNN.log: the write-ahead log
    kTable,     // NNNNNN.ldb / NNNNNN.sst
    kManifest,  // MANIFEST-NNNNNN
    kCurrent,   // CURRENT, and NNNNNN.dbtmp, the file LevelDB writes and renames to CURRENT
    kOther,     // anything else written through the env
  };
  enum class FileOp { kCreate, kWrite, kSync };
  static FileKind KindOf(const std::string& path);
  static const char* KindName(FileKind kind);  // "log", "table", "MANIFEST", "CURRENT", "other"
  static const char* OpName(FileOp op);        // "create", "write", "sync"

  // A failure of the nth operation matching `kinds` and `ops` (counted from SetFault), and, when persistent, of
  // every later matching operation until ClearFault.
  struct Fault {
    std::set<FileKind> kinds = {FileKind::kLog, FileKind::kTable, FileKind::kManifest, FileKind::kCurrent};
    std::set<FileOp> ops = {FileOp::kCreate, FileOp::kWrite, FileOp::kSync};
    int64_t nth = 1;          // >= 1
    int error = 28;           // an errno: ENOSPC (28) or EIO (5); the failed call returns an IOError naming it
    bool persistent = false;  // the disk stays bad until ClearFault (a full disk), or fails once (a glitch)
    bool torn = false;        // a failed write first writes half of its data, as a short write(2) does
  };

  enum class DirSyncModel { kOnNewFileSync, kManifestSyncOnly };
  enum class PowerLossMode {
    kKeepEntries,          // unsynced data is lost; every file stays where it is
    kDropUnsyncedEntries,  // also: directories go back to their state at their last sync
  };

  explicit FaultInjectionEnv(DirSyncModel model = DirSyncModel::kOnNewFileSync);
  ~FaultInjectionEnv() override;

  // Faults. Operations are counted from SetFault on; one fault at a time.
  void SetFault(Fault fault);
  void ClearFault();
  // How many operations the current or last fault has failed.
  int64_t faults_injected();
  // Every sync sleeps this long before it syncs (a slow disk).
  void SetSyncDelay(absl::Duration delay);
  // Whether a sync also reaches the real disk (default true). The power-loss model does not depend on it (what a
  // sync made durable is tracked by the env), so sweeps that run thousands of cases turn it off to save the time of
  // real fsyncs.
  void SetRealSyncs(bool real);

  // Operations seen since construction (or ResetCounts), whatever the fault; for choosing fault points.
  int64_t count(FileKind kind, FileOp op);
  int64_t total_count();  // of the kinds and ops a default Fault matches
  void ResetCounts();

  // Power loss. PowerOff freezes the disk: from then on every create, write, sync, rename and remove fails and
  // changes nothing. Close every database opened with the env, then call LosePower, which rewrites the files as
  // the power cut leaves them and turns the power back on (faults are cleared too). Returns false, with `error`
  // set, if the env could not rewrite a file.
  void PowerOff();
  bool LosePower(PowerLossMode mode, std::string* error = nullptr);
  bool powered_off();

  // leveldb::Env.
  leveldb::Status NewWritableFile(const std::string& path, leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& path, leveldb::WritableFile** result) override;
  leveldb::Status RemoveFile(const std::string& path) override;
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override;

 private:
  class File;
  friend class File;

  // A file written through the env.
  struct FileState {
    uint64_t size = 0;    // bytes appended
    uint64_t synced = 0;  // bytes on stable storage
  };
  // A directory entry changed since the directory was last synced: what the directory held under that name at
  // its last sync (nullopt: nothing).
  struct EntryBefore {
    std::optional<std::string> contents;
  };

  // Decides whether the operation fails; counts it either way. On failure returns the status to give.
  std::optional<leveldb::Status> Check(const std::string& path, FileOp op) ABSL_LOCKS_EXCLUDED(mu_);
  leveldb::Status Open(const std::string& path, bool append, leveldb::WritableFile** result);
  // The file's contents as the last sync left them (the whole file when not written through the env).
  std::string DurableContents(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RememberEntry(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DirectorySynced(const std::string& dir) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Called by File.
  void Appended(const std::string& path, uint64_t bytes);
  void Synced(const std::string& path);
  absl::Duration sync_delay();
  bool real_syncs();

  const DirSyncModel model_;

  absl::Mutex mu_;
  std::optional<Fault> fault_ ABSL_GUARDED_BY(mu_);
  int64_t fault_matches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t faults_injected_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration sync_delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  bool powered_off_ ABSL_GUARDED_BY(mu_) = false;
  bool real_syncs_ ABSL_GUARDED_BY(mu_) = true;
  std::map<std::pair<FileKind, FileOp>, int64_t> counts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  // Per path, its directory entry as of the last sync of its directory, for every entry changed since.
  std::map<std::string, EntryBefore> unsynced_entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_FAULT_INJECTION_ENV_H_
