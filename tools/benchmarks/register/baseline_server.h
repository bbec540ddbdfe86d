// The bare gRPC servers bgsync_bench_register measures the browser against: a callback-API BaselineService
// (baseline.proto) on a unix socket with the browser's gRPC settings, and nothing of bgsync in its path.
//
// Thread-safety: Start may be called from any thread; a BaselineServer is destroyed by its owner alone.
#ifndef TOOLS_BENCHMARKS_REGISTER_BASELINE_SERVER_H_
#define TOOLS_BENCHMARKS_REGISTER_BASELINE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace bgsync {
namespace regbench {

struct BaselineServerOptions {
  // Served as "unix:" + socket_path (an existing file there is replaced).
  std::string socket_path;
  // The LevelDB directory Put writes to (created if missing). Empty: Put answers UNIMPLEMENTED (an echo server).
  std::string db_path;
  // How Put runs its write (always one leveldb::DB::Write with sync=true per call):
  //   0  in the gRPC handler itself, blocking the gRPC thread that runs it;
  //   1  through one global FIFO queue on one thread, one write at a time: Chromium's global operation queue;
  //   N  on N writer threads taking Puts from one queue (LevelDB groups concurrent writers' writes and syncs).
  int write_threads = 0;
};

class BaselineServer {
 public:
  // Opens the database and serves. Errors: kInvalidArgument for a negative write_threads, kInternal when LevelDB
  // cannot open the database, kUnavailable when gRPC cannot serve on the socket.
  static absl::StatusOr<std::unique_ptr<BaselineServer>> Start(const BaselineServerOptions& options);

  // Stops serving (calls in flight are cancelled), stops the writer threads and closes the database.
  ~BaselineServer();

  BaselineServer(const BaselineServer&) = delete;
  BaselineServer& operator=(const BaselineServer&) = delete;

 private:
  struct State;
  explicit BaselineServer(std::unique_ptr<State> state);

  const std::unique_ptr<State> state_;
};

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_BASELINE_SERVER_H_
