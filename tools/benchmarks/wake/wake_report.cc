#include "tools/benchmarks/wake/wake_report.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace bgsync {
namespace bench {

int64_t MonotonicNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

absl::StatusOr<std::unique_ptr<WakeReport>> WakeReport::Create(const std::string& path) {
  return Map(path, /*create=*/true);
}

absl::StatusOr<std::unique_ptr<WakeReport>> WakeReport::Open(const std::string& path) {
  return Map(path, /*create=*/false);
}

absl::StatusOr<std::unique_ptr<WakeReport>> WakeReport::Map(const std::string& path, bool create) {
  const int flags = create ? O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDWR | O_CLOEXEC;
  const int fd = open(path.c_str(), flags, 0600);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  if (create && ftruncate(fd, sizeof(Page)) != 0) {
    const int error = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("ftruncate ", path, ": ", strerror(error)));
  }
  void* mapped = mmap(nullptr, sizeof(Page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int error = errno;
  close(fd);
  if (mapped == MAP_FAILED)
    return absl::InternalError(absl::StrCat("mmap ", path, ": ", strerror(error)));
  // A new file reads as zeros, which is what a zeroed std::atomic<int64_t> holds.
  return std::unique_ptr<WakeReport>(new WakeReport(static_cast<Page*>(mapped)));
}

WakeReport::~WakeReport() {
  munmap(page_, sizeof(Page));
}

void WakeReport::RecordEvent(int64_t mono_ns) {
  int64_t none = 0;
  page_->first_event_ns.compare_exchange_strong(none, mono_ns);
  page_->events.fetch_add(1);
}

int64_t WakeReport::events() const {
  return page_->events.load();
}

int64_t WakeReport::first_event_ns() const {
  return page_->first_event_ns.load();
}

void WakeReport::Reset() {
  page_->events.store(0);
  page_->first_event_ns.store(0);
}

}  // namespace bench
}  // namespace bgsync
