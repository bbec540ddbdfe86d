#include "components/background_sync/storage_backend.h"

#include "absl/synchronization/notification.h"

namespace bgsync {

absl::Status StorageBackend::Scan(const std::string& begin, const std::string& end, ScanVisitor visit) {
  // Every key of the range starts with the longest common prefix of its bounds.
  size_t common = 0;
  if (!end.empty()) {
    while (common < begin.size() && common < end.size() && begin[common] == end[common])
      ++common;
  }
  absl::StatusOr<KeyValues> records = ReadPrefix(begin.substr(0, common));
  if (!records.ok())
    return records.status();
  for (const auto& [key, value] : *records) {
    if (key < begin || (!end.empty() && key >= end))
      continue;
    if (absl::Status status = visit(key, value); !status.ok())
      return status;
  }
  return absl::OkStatus();
}

std::vector<std::string> StorageBackend::SplitRange(const std::string&, const std::string&, int) {
  return {};
}

absl::Status CommitAndWait(StorageBackend& backend, StorageBatch batch, Durability durability) {
  absl::Notification done;
  absl::Status result;
  backend.Commit(std::move(batch), durability, [&](absl::Status status) {
    result = std::move(status);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace bgsync
