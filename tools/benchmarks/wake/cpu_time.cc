#include "tools/benchmarks/wake/cpu_time.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace bgsync {
namespace bench {

double CpuMillis(pid_t pid) {
  // The scheduler's nanosecond count per thread (/proc/<pid>/task/<tid>/schedstat, first field): the tick-sampled
  // utime and stime of /proc/<pid>/stat miss most of a process that runs in bursts of microseconds.
  std::error_code error;
  double nanos = 0;
  for (const auto& task : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error)) {
    std::ifstream in(task.path() / "schedstat");
    double on_cpu = 0;
    if (in >> on_cpu)
      nanos += on_cpu;
  }
  return nanos / 1e6;
}

double CpuMillis(const std::vector<pid_t>& pids) {
  double total = 0;
  for (pid_t pid : pids)
    total += CpuMillis(pid);
  return total;
}

}  // namespace bench
}  // namespace bgsync
