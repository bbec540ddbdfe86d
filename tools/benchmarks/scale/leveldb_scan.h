// The baseline of the start-up figure: a raw LevelDB forward scan of a store, as any program reading every record
// of it would do.
//
// Thread-compatible; the function keeps no state.
#ifndef TOOLS_BENCHMARKS_SCALE_LEVELDB_SCAN_H_
#define TOOLS_BENCHMARKS_SCALE_LEVELDB_SCAN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bgsync {
namespace bench {

struct ScanResult {
  absl::Duration elapsed;  // DB::Open through the last record
  absl::Duration cpu;      // CPU time of the scanning thread over the same span
  int64_t records = 0;
  int64_t bytes = 0;  // keys and values
};

// Opens the LevelDB database in `path` (which no process may hold open) and reads every key and value in order
// with checksums verified (the browser verifies them too), then closes it. Errors: LevelDB's.
absl::StatusOr<ScanResult> ScanLevelDb(const std::string& path);

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_SCALE_LEVELDB_SCAN_H_
