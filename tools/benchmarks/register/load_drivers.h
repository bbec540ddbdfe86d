// How bgsync_bench_register drives a server, the same way for the baselines and for the browser: one client
// making calls one after another (latency), or many clients each keeping one call in flight (throughput).
//
// Thread-safety: the functions block the calling thread; the calls' `done` callbacks may run on any thread.
#ifndef TOOLS_BENCHMARKS_REGISTER_LOAD_DRIVERS_H_
#define TOOLS_BENCHMARKS_REGISTER_LOAD_DRIVERS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bgsync {
namespace regbench {

// One asynchronous unary call of one client: `call(done)` starts it, and `done(ok)` runs exactly once when it has
// finished (on any thread, possibly before `call` returns). `done` may start the client's next call.
using AsyncCall = std::function<void(std::function<void(bool ok)> done)>;

// Makes `warmup` + `samples` calls one after another and returns the last `samples` round trips in microseconds
// (steady clock, from starting the call to its `done`). `after_each`, if set, runs after each call outside the
// measured interval. Error: kInternal when a call failed.
absl::StatusOr<std::vector<double>> SequentialLatencies(const AsyncCall& call,
                                                        int warmup,
                                                        int samples,
                                                        const std::function<void()>& after_each = nullptr);

struct Throughput {
  int64_t calls = 0;   // completed inside the window
  double seconds = 0;  // the window
  double per_second() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
};

// A closed loop: every client in `clients` keeps exactly one call in flight, starting its next call from the
// previous one's `done`. Counts the calls completing inside a window of `window` that opens after `warmup`; the
// clients stop once it closes, and this returns when every call has finished. Error: kInternal when any call
// failed.
absl::StatusOr<Throughput> ClosedLoopThroughput(const std::vector<AsyncCall>& clients,
                                                absl::Duration warmup,
                                                absl::Duration window);

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_LOAD_DRIVERS_H_
