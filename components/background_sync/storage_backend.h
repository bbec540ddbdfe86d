// The key-value storage under the registration store: LevelDB in the browser, memory in tests and fuzzers.
#ifndef COMPONENTS_BACKGROUND_SYNC_STORAGE_BACKEND_H_
#define COMPONENTS_BACKGROUND_SYNC_STORAGE_BACKEND_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bgsync {

// An ordered list of puts and deletes applied atomically: all of it or none of it is ever visible.
class StorageBatch {
 public:
  void Put(std::string key, std::string value) { ops_.push_back({std::move(key), std::move(value)}); }
  void Delete(std::string key) { ops_.push_back({std::move(key), std::nullopt}); }
  void Append(const StorageBatch& other) { ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end()); }

  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

  struct Op {
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

enum class Durability {
  kDurable,   // on stable storage when done runs (survives an OS crash or power loss)
  kBuffered,  // handed to the OS when done runs (survives a crash of this process, not of the OS)
};

// Thread-safety: implementations are safe to call from any thread.
class StorageBackend {
 public:
  using KeyValues = std::vector<std::pair<std::string, std::string>>;
  using CommitCallback = absl::AnyInvocable<void(absl::Status)>;

  virtual ~StorageBackend() = default;

  // Every record whose key starts with `prefix`, in key order. Reads what has been committed so far. Errors:
  // the backend's read or corruption error.
  virtual absl::StatusOr<KeyValues> ReadPrefix(const std::string& prefix) = 0;

  // Calls `visit(key, value)` for every record with begin <= key < end (an empty `end`: no upper bound), in key
  // order, without collecting them; the views are valid during the call only. Reads what has been committed so far.
  // Stops at the first error `visit` returns and returns it. Scans may run concurrently with each other (the
  // start-up load reads parts of the store in parallel). Errors: the backend's read or corruption error, or
  // visit's. The default reads the range through ReadPrefix.
  using ScanVisitor = absl::FunctionRef<absl::Status(absl::string_view key, absl::string_view value)>;
  virtual absl::Status Scan(const std::string& begin, const std::string& end, ScanVisitor visit);

  // Up to `parts - 1` keys, ascending, strictly between `begin` and `end`, splitting that range into parts that hold
  // about the same amount of data, for scanning them in parallel. Empty when the backend cannot tell (the default)
  // or the range is too small to be worth splitting.
  virtual std::vector<std::string> SplitRange(const std::string& begin, const std::string& end, int parts);

  // Applies `batch` atomically, then calls `done` exactly once with the result, from any thread, possibly before
  // Commit returns. Commits are applied in the order Commit was called. On an error nothing of the batch is
  // visible to later reads. Concurrent commits may share one disk sync (group commit).
  virtual void Commit(StorageBatch batch, Durability durability, CommitCallback done) = 0;
};

// Commits `batch` and waits for the result. Never call it from a commit callback.
absl::Status CommitAndWait(StorageBackend& backend, StorageBatch batch, Durability durability);

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_STORAGE_BACKEND_H_
