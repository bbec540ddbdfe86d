// What the reliability and security tests measure of another process from outside: its memory and CPU time
// (/proc), the moment it exits (a pidfd, so it works for processes the test did not spawn), and the raw contents
// of a LevelDB store once its owner has stopped. Also small statistics helpers for the figures they print.
#ifndef TEST_PROCESS_PROBE_H_
#define TEST_PROCESS_PROBE_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bgsync {

// VmRSS of `pid` in KiB; -1 if it cannot be read (the process is gone).
int64_t ResidentKib(pid_t pid);
// Threads of `pid`; -1 if it cannot be read.
int ThreadCount(pid_t pid);
// Open descriptors of `pid`; -1 if they cannot be listed.
int DescriptorCount(pid_t pid);
// User + system CPU time `pid` has used so far, in seconds; -1 if it cannot be read.
double CpuSeconds(pid_t pid);

// Watches one process for its exit, whoever its parent is. Thread-compatible.
class ExitWatcher {
 public:
  // Opens a pidfd for `pid` now; if the process is already gone, Wait() reports an exit at once.
  explicit ExitWatcher(pid_t pid);
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // When the process exited (the time this call saw the pidfd become readable), or nullopt if it is still
  // running after `timeout`.
  std::optional<absl::Time> Wait(absl::Duration timeout);

 private:
  int pidfd_ = -1;
};

// Every key and value of the LevelDB database in `path` (which no process may hold open), in key order.
absl::StatusOr<std::map<std::string, std::string>> DumpLevelDb(const std::string& path);

// The p-th percentile (0 < p <= 100, nearest rank) of `samples`; 0 when empty.
double Percentile(std::vector<double> samples, double p);

// A monotonic clock shared by all processes of the machine (CLOCK_MONOTONIC), in nanoseconds.
int64_t MonotonicNanos();

}  // namespace bgsync

#endif  // TEST_PROCESS_PROBE_H_
