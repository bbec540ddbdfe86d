#include "browser/event_log.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace bgsync {

void EventLog::Append(LogEntry entry) {
  absl::MutexLock lock(&mu_);
  entry.sequence = next_sequence_++;
  if (entry.time == absl::Time())
    entry.time = absl::Now();
  if (echo_) {
    std::string line =
        absl::StrCat(absl::FormatTime("%H:%M:%E3S", entry.time, absl::LocalTimeZone()), " ", entry.event);
    if (!entry.origin.empty())
      absl::StrAppend(&line, " origin=", entry.origin);
    if (entry.sw_registration_id)
      absl::StrAppend(&line, " sw=", entry.sw_registration_id);
    if (!entry.tag.empty())
      absl::StrAppend(&line, " tag=", entry.tag);
    if (!entry.detail.empty())
      absl::StrAppend(&line, " ", entry.detail);
    std::fprintf(stderr, "[bgsync_browser] %s\n", line.c_str());
  }
  entries_.push_back(std::move(entry));
  while (entries_.size() > capacity_)
    entries_.pop_front();
}

std::vector<LogEntry> EventLog::Since(uint64_t after) {
  absl::MutexLock lock(&mu_);
  std::vector<LogEntry> result;
  for (const LogEntry& entry : entries_) {
    if (entry.sequence > after)
      result.push_back(entry);
  }
  return result;
}

std::vector<LogEntry> EventLog::WaitSince(uint64_t after, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this, after]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || next_sequence_ - 1 > after; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<LogEntry> result;
  for (const LogEntry& entry : entries_) {
    if (entry.sequence > after)
      result.push_back(entry);
  }
  return result;
}

void EventLog::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace bgsync
