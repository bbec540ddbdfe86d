// The baselines bgsync_bench_register measures without gRPC: a round trip over a socketpair between two processes
// (the floor of any IPC here), and LevelDB's own rate of synced writes.
//
// Thread-safety: the functions block the calling thread and share no state.
#ifndef TOOLS_BENCHMARKS_REGISTER_RAW_BASELINES_H_
#define TOOLS_BENCHMARKS_REGISTER_RAW_BASELINES_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "browser/process/process_launcher.h"

namespace bgsync {
namespace regbench {

// Starts `echo_argv` (a process that writes back what arrives on its descriptor kChannelFd) with one end of a
// socketpair, then sends `bytes` bytes and reads them back `warmup` + `samples` times. Returns the last `samples`
// round trips in microseconds. The child ends when its end reaches EOF. Errors: kInternal for a failed launch,
// read or write.
absl::StatusOr<std::vector<double>> SocketpairRoundTrips(ProcessLauncher* launcher,
                                                         std::vector<std::string> echo_argv,
                                                         int bytes,
                                                         int warmup,
                                                         int samples);

// The key and value of the n-th write of writer `thread`.
using RecordMaker = std::function<std::pair<std::string, std::string>(int thread, int n)>;

// Opens (creating) a LevelDB database in `path` as the browser opens its store, then lets `threads` threads each
// write records back to back, one leveldb::DB::Write with sync=true per record, for `duration`. Returns writes per
// second. Errors: kInternal when the database cannot be opened or a write fails.
absl::StatusOr<double> LevelDbSyncWriteRate(const std::string& path,
                                            int threads,
                                            absl::Duration duration,
                                            const RecordMaker& make_record);

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_RAW_BASELINES_H_
