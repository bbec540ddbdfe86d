#include "tools/benchmarks/register/load_drivers.h"

#include <atomic>
#include <chrono>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace bgsync {
namespace regbench {
namespace {

using Clock = std::chrono::steady_clock;

// The state of one ClosedLoopThroughput run, shared by its clients' callbacks.
class ClosedLoop {
 public:
  ClosedLoop(const std::vector<AsyncCall>& clients, Clock::time_point open, Clock::time_point close)
      : clients_(clients), open_(open), close_(close), running_(static_cast<int>(clients.size())) {}

  void StartAll() {
    for (size_t i = 0; i < clients_.size(); ++i)
      Next(i);
  }
  void WaitUntilAllStopped() {
    absl::MutexLock lock(&mu_);
    auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
    mu_.Await(absl::Condition(&stopped));
  }
  int64_t in_window() const { return in_window_.load(); }
  int64_t failed() const { return failed_.load(); }

 private:
  void Next(size_t client) {
    clients_[client]([this, client](bool ok) {
      const Clock::time_point now = Clock::now();
      if (!ok) {
        ++failed_;
      } else if (now >= open_ && now <= close_) {
        ++in_window_;
      }
      if (ok && now <= close_) {
        Next(client);
        return;
      }
      absl::MutexLock lock(&mu_);
      --running_;
    });
  }

  const std::vector<AsyncCall>& clients_;
  const Clock::time_point open_;
  const Clock::time_point close_;
  std::atomic<int64_t> in_window_{0};
  std::atomic<int64_t> failed_{0};
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::vector<double>> SequentialLatencies(const AsyncCall& call,
                                                        int warmup,
                                                        int samples,
                                                        const std::function<void()>& after_each) {
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(samples));
  for (int i = 0; i < warmup + samples; ++i) {
    absl::Notification finished;
    bool succeeded = false;
    const Clock::time_point start = Clock::now();
    Clock::time_point end;
    call([&](bool ok) {
      end = Clock::now();
      succeeded = ok;
      finished.Notify();
    });
    finished.WaitForNotification();
    if (!succeeded)
      return absl::InternalError(absl::StrCat("call ", i, " failed"));
    if (i >= warmup)
      latencies.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    if (after_each)
      after_each();
  }
  return latencies;
}

absl::StatusOr<Throughput> ClosedLoopThroughput(const std::vector<AsyncCall>& clients,
                                                absl::Duration warmup,
                                                absl::Duration window) {
  const Clock::time_point open = Clock::now() + absl::ToChronoNanoseconds(warmup);
  const Clock::time_point close = open + absl::ToChronoNanoseconds(window);
  ClosedLoop loop(clients, open, close);
  loop.StartAll();
  loop.WaitUntilAllStopped();
  if (loop.failed() > 0)
    return absl::InternalError(absl::StrCat(loop.failed(), " calls failed"));
  Throughput result;
  result.calls = loop.in_window();
  result.seconds = absl::ToDoubleSeconds(window);
  return result;
}

}  // namespace regbench
}  // namespace bgsync
