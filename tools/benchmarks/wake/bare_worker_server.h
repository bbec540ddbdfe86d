// The bare "browser" of bgsync_bench_wake's baselines: a gRPC server (callback API, as the browser's) serving
// ServiceWorkerHost.Connect and nothing else — no sessions, engine, storage or timers. Each child gets a private
// channel, one end of a socketpair the server serves, as the browser's children do. It pushes SyncEvents down the
// workers' streams (one write outstanding per stream, the rest queued, as the browser does) and counts the
// answers.
//
// Thread-safety: every method may be called from any thread; stream reactions run on gRPC's threads.
#ifndef TOOLS_BENCHMARKS_WAKE_BARE_WORKER_SERVER_H_
#define TOOLS_BENCHMARKS_WAKE_BARE_WORKER_SERVER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "public/mojom/background_sync.grpc.pb.h"

namespace bgsync {
namespace bench {

class BareWorkerServer final : public mojom::ServiceWorkerHost::CallbackService {
 public:
  // Errors: kInternal when the server cannot be built.
  static absl::StatusOr<std::unique_ptr<BareWorkerServer>> Start();
  // Ends every stream and shuts the server down.
  ~BareWorkerServer() override;

  // A new channel, already served: returns the child's end (close-on-exec; the caller passes it as
  // LaunchOptions::channel_fd and closes it after the launch). Errors: kInternal with errno's text.
  absl::StatusOr<int> NewChannel();

  // Waits until `count` WorkerReady messages have arrived since Start. Returns when each arrived (MonotonicNanos,
  // in arrival order), or kDeadlineExceeded after `timeout`.
  absl::StatusOr<std::vector<int64_t>> WaitForReady(size_t count, absl::Duration timeout);

  // Pushes `per_worker` SyncEvents down every open stream that has said WorkerReady and waits until every one is
  // answered. Returns the time from the first push to the last answer, or kDeadlineExceeded after `timeout`.
  absl::StatusOr<absl::Duration> PushAndWait(int per_worker, absl::Duration timeout);

  // Ends every open stream with OK (the trivial workers then exit).
  void EndStreams();

  // ServiceWorkerHost.
  grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage>* Connect(
      grpc::CallbackServerContext* context) override;

  class Stream;

 private:
  BareWorkerServer() = default;

  // Stream callbacks (never with the stream's lock held).
  void OnReady(Stream* stream);
  void OnResult();
  void OnStreamDone(Stream* stream);

  std::unique_ptr<grpc::Server> server_;  // set by Start, before any call can arrive

  absl::Mutex mu_;
  std::vector<int64_t> ready_times_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Stream*> ready_streams_ ABSL_GUARDED_BY(mu_);  // open and ready
  int64_t answers_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t answers_wanted_ ABSL_GUARDED_BY(mu_) = -1;  // -1: not pushing
  int64_t last_answer_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_WAKE_BARE_WORKER_SERVER_H_
