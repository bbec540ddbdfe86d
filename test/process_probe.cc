#include "test/process_probe.h"

#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "leveldb/db.h"

namespace bgsync {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number after "<key>:" in /proc/<pid>/status; -1 if absent.
int64_t StatusField(pid_t pid, absl::string_view key) {
  const std::string status = Slurp(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":"))
      continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    int64_t value = 0;
    return absl::SimpleAtoi(line, &value) ? value : -1;
  }
  return -1;
}

}  // namespace

int64_t ResidentKib(pid_t pid) {
  return StatusField(pid, "VmRSS");
}

int ThreadCount(pid_t pid) {
  return static_cast<int>(StatusField(pid, "Threads"));
}

int DescriptorCount(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator it(absl::StrCat("/proc/", pid, "/fd"), error);
  if (error)
    return -1;
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error))
    ++count;
  return count;
}

double CpuSeconds(pid_t pid) {
  const std::string stat = Slurp(absl::StrCat("/proc/", pid, "/stat"));
  // The command name (field 2) may contain spaces: fields are counted after its closing parenthesis.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos)
    return -1;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
  // After ")": state is field 3, utime field 14 and stime field 15 (man 5 proc), i.e. indexes 11 and 12 here.
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime))
    return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

ExitWatcher::ExitWatcher(pid_t pid) : pidfd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))) {}

ExitWatcher::~ExitWatcher() {
  if (pidfd_ >= 0)
    close(pidfd_);
}

std::optional<absl::Time> ExitWatcher::Wait(absl::Duration timeout) {
  if (pidfd_ < 0)
    return absl::Now();  // no such process: it is gone already
  pollfd fd{pidfd_, POLLIN, 0};
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int64_t left = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    const int ready = poll(&fd, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (ready > 0)
      return absl::Now();
    if (ready == 0 || absl::Now() >= deadline)
      return std::nullopt;
  }
}

absl::StatusOr<std::map<std::string, std::string>> DumpLevelDb(const std::string& path) {
  leveldb::Options options;
  options.create_if_missing = false;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status status = leveldb::DB::Open(options, path, &raw);
  if (!status.ok())
    return absl::InternalError(status.ToString());
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(read));
  std::map<std::string, std::string> all;
  for (it->SeekToFirst(); it->Valid(); it->Next())
    all.emplace(it->key().ToString(), it->value().ToString());
  if (!it->status().ok())
    return absl::InternalError(it->status().ToString());
  return all;
}

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty())
    return 0;
  std::sort(samples.begin(), samples.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::min(samples.size(), std::max<size_t>(rank, 1)) - 1];
}

int64_t MonotonicNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

}  // namespace bgsync
