// CPU time of processes, for bgsync_bench_wake's notes: where a figure's CPU went (the browser or its workers, the
// bare server or the trivial workers), which on a 2-vCPU machine is what bounds a drain. Measured between two
// moments, a thread that exits in between loses its time: the drains' threads all outlive them.
#ifndef TOOLS_BENCHMARKS_WAKE_CPU_TIME_H_
#define TOOLS_BENCHMARKS_WAKE_CPU_TIME_H_

#include <sys/types.h>

#include <vector>

namespace bgsync {
namespace bench {

// CPU time the threads `pid` has now have used, in milliseconds (threads that have exited are not counted); 0 if it
// cannot be read.
double CpuMillis(pid_t pid);
// The sum over `pids`.
double CpuMillis(const std::vector<pid_t>& pids);

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_WAKE_CPU_TIME_H_
