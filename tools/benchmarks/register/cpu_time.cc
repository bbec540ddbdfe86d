#include "tools/benchmarks/register/cpu_time.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bgsync {
namespace regbench {

std::optional<std::map<pid_t, int64_t>> ThreadRunNanos(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator tasks(absl::StrCat("/proc/", pid, "/task"), error);
  if (error)
    return std::nullopt;
  std::map<pid_t, int64_t> run;
  for (const std::filesystem::directory_entry& task : tasks) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(task.path().filename().string(), &tid))
      continue;
    // "<run ns> <wait ns> <timeslices>"; a thread that ended since the listing is skipped.
    std::ifstream in(task.path() / "schedstat");
    int64_t nanos = 0;
    if (in >> nanos)
      run[tid] = nanos;
  }
  if (run.empty())
    return std::nullopt;
  return run;
}

std::optional<double> CpuSecondsBetween(const std::map<pid_t, int64_t>& before, const std::map<pid_t, int64_t>& after) {
  if (before.size() != after.size())
    return std::nullopt;
  int64_t nanos = 0;
  for (const auto& [tid, start] : before) {
    auto it = after.find(tid);
    if (it == after.end())
      return std::nullopt;
    nanos += it->second - start;
  }
  return static_cast<double>(nanos) / 1e9;
}

}  // namespace regbench
}  // namespace bgsync
