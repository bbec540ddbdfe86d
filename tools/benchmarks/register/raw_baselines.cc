#include "tools/benchmarks/register/raw_baselines.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"
#include "tools/benchmarks/register/bench_processes.h"

namespace bgsync {
namespace regbench {
namespace {

using Clock = std::chrono::steady_clock;

// Moves all `size` bytes with `io` (read or write), retrying short transfers and EINTR. False on EOF or an error.
template <typename Buffer, typename Io>
bool TransferAll(int fd, Buffer* data, size_t size, Io io) {
  while (size > 0) {
    const ssize_t n = io(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const char* data, size_t size) {
  return TransferAll(fd, data, size, [](int f, const char* d, size_t n) { return write(f, d, n); });
}

bool ReadAll(int fd, char* data, size_t size) {
  return TransferAll(fd, data, size, [](int f, char* d, size_t n) { return read(f, d, n); });
}

}  // namespace

absl::StatusOr<std::vector<double>> SocketpairRoundTrips(ProcessLauncher* launcher,
                                                         std::vector<std::string> echo_argv,
                                                         int bytes,
                                                         int warmup,
                                                         int samples) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  absl::StatusOr<std::unique_ptr<StartedProcess>> child =
      StartedProcess::Launch(launcher, std::move(echo_argv), /*channel_fd=*/fds[1]);
  close(fds[1]);
  if (!child.ok()) {
    close(fds[0]);
    return child.status();
  }
  std::vector<char> message(static_cast<size_t>(bytes), 'x');
  std::vector<char> answer(message.size());
  std::vector<double> round_trips;
  round_trips.reserve(static_cast<size_t>(samples));
  absl::Status status;
  for (int i = 0; i < warmup + samples; ++i) {
    const Clock::time_point start = Clock::now();
    if (!WriteAll(fds[0], message.data(), message.size()) || !ReadAll(fds[0], answer.data(), answer.size())) {
      status = absl::InternalError(absl::StrCat("socketpair round trip ", i, " failed"));
      break;
    }
    if (i >= warmup)
      round_trips.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  close(fds[0]);  // the child reads EOF and exits; ~StartedProcess waits for it
  if (!status.ok())
    return status;
  return round_trips;
}

absl::StatusOr<double> LevelDbSyncWriteRate(const std::string& path,
                                            int threads,
                                            absl::Duration duration,
                                            const RecordMaker& make_record) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status opened = leveldb::DB::Open(options, path, &raw);
  if (!opened.ok())
    return absl::InternalError(absl::StrCat("opening ", path, ": ", opened.ToString()));
  std::unique_ptr<leveldb::DB> db(raw);

  std::atomic<int64_t> writes{0};
  std::atomic<bool> failed{false};
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + absl::ToChronoNanoseconds(duration);
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      leveldb::WriteOptions write_options;
      write_options.sync = true;
      for (int n = 0; Clock::now() < end && !failed; ++n) {
        auto [key, value] = make_record(t, n);
        leveldb::WriteBatch batch;
        batch.Put(key, value);
        if (!db->Write(write_options, &batch).ok()) {
          failed = true;
          return;
        }
        ++writes;
      }
    });
  }
  for (std::thread& writer : writers)
    writer.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed)
    return absl::InternalError(absl::StrCat("a synced write to ", path, " failed"));
  return static_cast<double>(writes.load()) / seconds;
}

}  // namespace regbench
}  // namespace bgsync
