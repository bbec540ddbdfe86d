#include "tools/benchmarks/scale/leveldb_scan.h"

#include <time.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "leveldb/db.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"

namespace bgsync {
namespace bench {
namespace {

absl::Duration ThreadCpu() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return absl::DurationFromTimespec(t);
}

}  // namespace

absl::StatusOr<ScanResult> ScanLevelDb(const std::string& path) {
  const absl::Duration cpu_start = ThreadCpu();
  const absl::Time start = absl::Now();
  leveldb::DB* raw = nullptr;
  leveldb::Status status = leveldb::DB::Open(leveldb::Options(), path, &raw);
  if (!status.ok())
    return absl::InternalError(absl::StrCat("opening ", path, ": ", status.ToString()));
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  read_options.fill_cache = false;
  ScanResult result;
  {
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(read_options));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      // The block holding them has been read, checksummed and decompressed; key() and value() point into it.
      ++result.records;
      result.bytes += static_cast<int64_t>(it->key().size() + it->value().size());
    }
    if (!it->status().ok())
      return absl::DataLossError(absl::StrCat("scanning ", path, ": ", it->status().ToString()));
  }
  result.elapsed = absl::Now() - start;
  result.cpu = ThreadCpu() - cpu_start;
  db.reset();
  return result;
}

}  // namespace bench
}  // namespace bgsync
