// The browser's event log (what DevTools' Background Services panel shows): a bounded, sequenced record of
// registrations, dispatches, outcomes, processes and connectivity, which the admin endpoint streams.
#ifndef BROWSER_EVENT_LOG_H_
#define BROWSER_EVENT_LOG_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace bgsync {

struct LogEntry {
  uint64_t sequence = 0;  // 1, 2, ... in append order
  absl::Time time;
  std::string origin;
  int64_t sw_registration_id = 0;
  std::string event;  // e.g. "Dispatched sync event"
  std::string tag;
  std::string detail;
};

// Thread-safety: every method may be called from any thread.
class EventLog {
 public:
  explicit EventLog(size_t capacity = 10000) : capacity_(capacity) {}

  // Appends an entry (its sequence and, if unset, time are filled in) and wakes waiting readers. Also written to
  // stderr when echo is on.
  void Append(LogEntry entry);
  void set_echo(bool echo) {
    absl::MutexLock lock(&mu_);
    echo_ = echo;
  }

  // Entries with sequence > `after` still held (the oldest are dropped beyond the capacity).
  std::vector<LogEntry> Since(uint64_t after);
  // Like Since, but waits up to `timeout` for at least one entry. Returns empty on timeout or Close().
  std::vector<LogEntry> WaitSince(uint64_t after, absl::Duration timeout);
  // Wakes every waiter for good (browser shutdown).
  void Close();

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<LogEntry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool echo_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace bgsync

#endif  // BROWSER_EVENT_LOG_H_
