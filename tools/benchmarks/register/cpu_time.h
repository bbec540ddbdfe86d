// CPU time another process has used, precisely: the sum of its threads' run times from /proc/<pid>/task/*/schedstat
// (nanoseconds, unlike /proc/<pid>/stat's 10 ms ticks).
//
// Thread-safety: stateless.
#ifndef TOOLS_BENCHMARKS_REGISTER_CPU_TIME_H_
#define TOOLS_BENCHMARKS_REGISTER_CPU_TIME_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>

namespace bgsync {
namespace regbench {

// Run time so far of each live thread of `pid`, in nanoseconds, by thread id; nullopt if the process is gone.
std::optional<std::map<pid_t, int64_t>> ThreadRunNanos(pid_t pid);

// The CPU time the process used between two ThreadRunNanos readings, in seconds, if the same threads were there at
// both (a thread that ended in between took its time with it); nullopt otherwise.
std::optional<double> CpuSecondsBetween(const std::map<pid_t, int64_t>& before, const std::map<pid_t, int64_t>& after);

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_CPU_TIME_H_
