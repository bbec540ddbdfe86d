#include "tools/benchmarks/wake/bare_worker_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/server_posix.h"
#include "tools/benchmarks/wake/wake_report.h"

namespace bgsync {
namespace bench {

// One worker's Connect stream: writes queued with one outstanding at a time; Finish once the queue is empty. The
// server's lock may be held while calling Queue or End; the stream never calls the server with its own lock held.
class BareWorkerServer::Stream : public grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage> {
 public:
  explicit Stream(BareWorkerServer* server) : server_(server) { StartRead(&in_); }

  // Queues `messages`. Returns true when the caller has claimed the write chain and must call StartQueuedWrite()
  // (outside the server's lock: gRPC may run reactions inside StartWrite); until then the stream cannot finish.
  bool Queue(std::vector<mojom::BrowserMessage> messages) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_ || messages.empty())
      return false;
    for (mojom::BrowserMessage& message : messages)
      out_.push_back(std::move(message));
    if (writing_)
      return false;
    writing_ = true;
    return true;
  }

  void StartQueuedWrite() {
    const mojom::BrowserMessage* start;
    {
      absl::MutexLock lock(&mu_);
      start = &out_.front();
    }
    StartWrite(start);
  }

  // Ends the stream with OK once the queued writes are done. Idempotent.
  void End() {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_)
        return;
      finish_requested_ = true;
      finish_now = !writing_;
    }
    if (finish_now)
      Finish(grpc::Status::OK);
  }

  void OnReadDone(bool ok) override {
    if (!ok)
      return End();
    if (in_.has_ready())
      server_->OnReady(this);
    else if (in_.has_sync_event_result())
      server_->OnResult();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    const mojom::BrowserMessage* next = nullptr;
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      out_.pop_front();
      if (!ok)
        out_.clear();
      if (!out_.empty()) {
        next = &out_.front();
      } else {
        writing_ = false;
        finish_now = finish_requested_;
      }
    }
    if (next)
      StartWrite(next);
    if (finish_now)
      Finish(grpc::Status::OK);
  }

  void OnDone() override {
    server_->OnStreamDone(this);
    delete this;
  }

 private:
  BareWorkerServer* const server_;
  mojom::WorkerMessage in_;  // only touched by the read chain

  absl::Mutex mu_;
  std::deque<mojom::BrowserMessage> out_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<BareWorkerServer>> BareWorkerServer::Start() {
  std::unique_ptr<BareWorkerServer> server(new BareWorkerServer());
  grpc::ServerBuilder builder;
  builder.RegisterService(server.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_)
    return absl::InternalError("cannot start the bare worker server");
  return server;
}

BareWorkerServer::~BareWorkerServer() {
  EndStreams();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // Shutdown cancels what is left; the reactors are gone once their OnDone has run.
  absl::MutexLock lock(&mu_);
  auto closed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_streams_ == 0; };
  mu_.AwaitWithTimeout(absl::Condition(&closed), absl::Seconds(5));
}

absl::StatusOr<int> BareWorkerServer::NewChannel() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  // gRPC's server end must be non-blocking, or the first call hangs (toolchain.md).
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  grpc::AddInsecureChannelFromFd(server_.get(), fds[0]);
  return fds[1];
}

grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage>* BareWorkerServer::Connect(
    grpc::CallbackServerContext*) {
  {
    absl::MutexLock lock(&mu_);
    ++open_streams_;
  }
  return new Stream(this);
}

void BareWorkerServer::OnReady(Stream* stream) {
  const int64_t now = MonotonicNanos();
  absl::MutexLock lock(&mu_);
  ready_times_.push_back(now);
  ready_streams_.insert(stream);
}

void BareWorkerServer::OnResult() {
  const int64_t now = MonotonicNanos();
  absl::MutexLock lock(&mu_);
  if (++answers_ == answers_wanted_)
    last_answer_ns_ = now;
}

void BareWorkerServer::OnStreamDone(Stream* stream) {
  absl::MutexLock lock(&mu_);
  ready_streams_.erase(stream);
  --open_streams_;
}

absl::StatusOr<std::vector<int64_t>> BareWorkerServer::WaitForReady(size_t count, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ready_times_.size() >= count; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&enough), timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(ready_times_.size(), " of ", count, " trivial workers ready after ",
                                                    absl::FormatDuration(timeout)));
  }
  return ready_times_;
}

absl::StatusOr<absl::Duration> BareWorkerServer::PushAndWait(int per_worker, absl::Duration timeout) {
  std::vector<Stream*> claimed;
  int64_t start;
  {
    absl::MutexLock lock(&mu_);
    answers_ = 0;
    answers_wanted_ = static_cast<int64_t>(per_worker) * static_cast<int64_t>(ready_streams_.size());
    start = MonotonicNanos();
    uint64_t event_id = 1;
    for (Stream* stream : ready_streams_) {
      std::vector<mojom::BrowserMessage> messages(per_worker);
      for (int i = 0; i < per_worker; ++i) {
        mojom::SyncEvent* event = messages[i].mutable_sync_event();
        event->set_event_id(event_id++);
        event->set_tag(absl::StrCat("sync-", i));
        event->set_timeout_ms(180'000);
      }
      if (stream->Queue(std::move(messages)))
        claimed.push_back(stream);
    }
  }
  // Alive until their claimed writes have started (Queue).
  for (Stream* stream : claimed)
    stream->StartQueuedWrite();
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return answers_ >= answers_wanted_; };
  const bool answered = mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  const int64_t answers = answers_;
  const int64_t wanted = answers_wanted_;
  answers_wanted_ = -1;
  if (!answered)
    return absl::DeadlineExceededError(absl::StrCat(answers, " of ", wanted, " events answered"));
  return absl::Nanoseconds(last_answer_ns_ - start);
}

void BareWorkerServer::EndStreams() {
  absl::MutexLock lock(&mu_);
  for (Stream* stream : ready_streams_)
    stream->End();
}

}  // namespace bench
}  // namespace bgsync
