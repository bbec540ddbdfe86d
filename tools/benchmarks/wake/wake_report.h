// A page of counters that bgsync_bench_wake shares with the worker processes the browser launches for it: a file
// in the benchmark's temporary directory, mapped MAP_SHARED by the benchmark (which creates it) and by every
// worker given its path (--report=PATH). Workers record there the moment each sync event reaches their handler, on
// CLOCK_MONOTONIC, which every process of the machine shares; the benchmark polls the page without a syscall.
//
// Thread- and process-safety: the counters are lock-free std::atomic<int64_t> (address-free on x86-64), so any
// thread of any process mapping the page may use them.
#ifndef TOOLS_BENCHMARKS_WAKE_WAKE_REPORT_H_
#define TOOLS_BENCHMARKS_WAKE_WAKE_REPORT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace bgsync {
namespace bench {

// CLOCK_MONOTONIC in nanoseconds.
int64_t MonotonicNanos();

class WakeReport {
 public:
  // Creates (or truncates) the file at `path` with zeroed counters and maps it. Errors: kInternal with errno's
  // text.
  static absl::StatusOr<std::unique_ptr<WakeReport>> Create(const std::string& path);
  // Maps an existing report file. Errors: kInternal with errno's text (e.g. it does not exist).
  static absl::StatusOr<std::unique_ptr<WakeReport>> Open(const std::string& path);
  ~WakeReport();
  WakeReport(const WakeReport&) = delete;
  WakeReport& operator=(const WakeReport&) = delete;

  // A worker's handler saw an event at `mono_ns`: counts it and keeps the first such time.
  void RecordEvent(int64_t mono_ns);
  // Events recorded so far, by every process mapping the page.
  int64_t events() const;
  // When the first event was recorded (MonotonicNanos), 0 before any.
  int64_t first_event_ns() const;
  // Back to zero (the benchmark, between rounds, while no worker records).
  void Reset();

 private:
  struct Page {
    std::atomic<int64_t> events;
    std::atomic<int64_t> first_event_ns;
  };
  static_assert(std::atomic<int64_t>::is_always_lock_free, "the page is shared between processes");

  explicit WakeReport(Page* page) : page_(page) {}
  static absl::StatusOr<std::unique_ptr<WakeReport>> Map(const std::string& path, bool create);

  Page* const page_;  // a MAP_SHARED mapping, unmapped by the destructor
};

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_WAKE_WAKE_REPORT_H_
