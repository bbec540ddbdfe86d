// Test support: fakes of the browser's services, recording what a renderer or worker sends. Header-only.
#ifndef RENDERER_FAKE_BROWSER_SERVICES_H_
#define RENDERER_FAKE_BROWSER_SERVICES_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "public/background_sync_error.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/test_server.h"

namespace bgsync {

// One call as the fake browser saw it.
struct ReceivedCall {
  std::string method;
  std::vector<std::string> tokens;
  int64_t service_worker_registration_id = 0;
  std::string tag;
  int64_t min_interval_ms = 0;
  std::string peer;  // the connection it came on, as gRPC names it ("fd:<N>" on a channel from a descriptor)
};

// What the fakes of the two page-facing services share: every call is recorded (as ReceivedCall, with the
// method's name), Register succeeds (echoing the options) and GetRegistrations returns no tags unless told
// otherwise, and every call fails with the status SetCallStatus gave, if not OK.
template <typename Service>
class FakePageService : public Service::CallbackService {
 public:
  void SetRegisterReply(mojom::RegisterReply reply) {
    absl::MutexLock lock(&mu_);
    register_reply_ = std::move(reply);
  }
  void SetRegisterError(BackgroundSyncError error) {
    mojom::RegisterReply reply;
    reply.set_error(error);
    SetRegisterReply(std::move(reply));
  }
  void SetGetRegistrationsReply(mojom::GetRegistrationsReply reply) {
    absl::MutexLock lock(&mu_);
    get_registrations_reply_ = std::move(reply);
  }
  // Every call fails with `status` (if not OK) instead of answering.
  void SetCallStatus(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    call_status_ = std::move(status);
  }

  std::vector<ReceivedCall> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  int CountOf(const std::string& method) const {
    absl::MutexLock lock(&mu_);
    return CountOfLocked(method);
  }
  // True once `method` has been called `count` times (false after kTestTimeout).
  bool WaitForCount(const std::string& method, int count) const {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return CountOfLocked(method) >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kTestTimeout);
  }

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const mojom::RegisterRequest* request,
                                     mojom::RegisterReply* reply) override {
    absl::MutexLock lock(&mu_);
    if (register_reply_) {
      *reply = *register_reply_;
    } else {
      *reply->mutable_registration() = request->options();
    }
    return RecordAndAnswerLocked(context,
                                 {"Register", SessionTokensOf(*context), request->service_worker_registration_id(),
                                  request->options().tag(), request->options().min_interval_ms()});
  }

  grpc::ServerUnaryReactor* GetRegistrations(grpc::CallbackServerContext* context,
                                             const mojom::GetRegistrationsRequest* request,
                                             mojom::GetRegistrationsReply* reply) override {
    absl::MutexLock lock(&mu_);
    if (get_registrations_reply_)
      *reply = *get_registrations_reply_;
    else
      reply->mutable_registrations();
    return RecordAndAnswerLocked(
        context, {"GetRegistrations", SessionTokensOf(*context), request->service_worker_registration_id()});
  }

 protected:
  // Records `call` and finishes the call with the configured status.
  grpc::ServerUnaryReactor* RecordAndAnswerLocked(grpc::CallbackServerContext* context, ReceivedCall call)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    call.peer = context->peer();
    calls_.push_back(std::move(call));
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(call_status_);
    return reactor;
  }

  mutable absl::Mutex mu_;

 private:
  int CountOfLocked(const std::string& method) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int count = 0;
    for (const ReceivedCall& call : calls_)
      count += call.method == method;
    return count;
  }

  std::vector<ReceivedCall> calls_ ABSL_GUARDED_BY(mu_);
  std::optional<mojom::RegisterReply> register_reply_ ABSL_GUARDED_BY(mu_);
  std::optional<mojom::GetRegistrationsReply> get_registrations_reply_ ABSL_GUARDED_BY(mu_);
  grpc::Status call_status_ ABSL_GUARDED_BY(mu_);
};

// A OneShotBackgroundSyncService as FakePageService describes; DidResolveRegistration is recorded and answered.
class FakeSyncService final : public FakePageService<mojom::OneShotBackgroundSyncService> {
 public:
  grpc::ServerUnaryReactor* DidResolveRegistration(grpc::CallbackServerContext* context,
                                                   const mojom::DidResolveRegistrationRequest* request,
                                                   mojom::DidResolveRegistrationReply* reply) override {
    absl::MutexLock lock(&mu_);
    return RecordAndAnswerLocked(context, {"DidResolveRegistration", SessionTokensOf(*context),
                                           request->service_worker_registration_id(), request->tag()});
  }
};

// A PeriodicBackgroundSyncService as FakePageService describes; Unregister succeeds unless told otherwise.
class FakePeriodicSyncService final : public FakePageService<mojom::PeriodicBackgroundSyncService> {
 public:
  void SetUnregisterReply(mojom::UnregisterReply reply) {
    absl::MutexLock lock(&mu_);
    unregister_reply_ = std::move(reply);
  }

  grpc::ServerUnaryReactor* Unregister(grpc::CallbackServerContext* context,
                                       const mojom::UnregisterRequest* request,
                                       mojom::UnregisterReply* reply) override {
    absl::MutexLock lock(&mu_);
    if (unregister_reply_)
      *reply = *unregister_reply_;
    else
      reply->mutable_unregistered();
    return RecordAndAnswerLocked(
        context, {"Unregister", SessionTokensOf(*context), request->service_worker_registration_id(), request->tag()});
  }

 private:
  std::optional<mojom::UnregisterReply> unregister_reply_ ABSL_GUARDED_BY(mu_);
};

// The browser's end of one Connect stream: records what the worker sends, sends what the test says.
class FakeWorkerStream final : public grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage> {
 public:
  explicit FakeWorkerStream(std::vector<std::string> tokens) : tokens_(std::move(tokens)) { StartRead(&incoming_); }

  const std::vector<std::string>& tokens() const { return tokens_; }

  void SendSyncEvent(uint64_t event_id, const std::string& tag, bool last_chance, int64_t timeout_ms) {
    mojom::BrowserMessage message;
    mojom::SyncEvent* event = message.mutable_sync_event();
    event->set_event_id(event_id);
    event->set_tag(tag);
    event->set_last_chance(last_chance);
    event->set_timeout_ms(timeout_ms);
    Send(std::move(message));
  }

  void SendPeriodicSyncEvent(uint64_t event_id, const std::string& tag, int64_t timeout_ms) {
    mojom::BrowserMessage message;
    mojom::PeriodicSyncEvent* event = message.mutable_periodic_sync_event();
    event->set_event_id(event_id);
    event->set_tag(tag);
    event->set_timeout_ms(timeout_ms);
    Send(std::move(message));
  }

  // Writes `message` after the ones sent before it.
  void Send(mojom::BrowserMessage message) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_)
      return;
    queue_.push_back(std::move(message));
    StartNextLocked();
  }

  // Ends the stream with `status` once the messages sent so far are written.
  void End(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_)
      return;
    finish_requested_ = true;
    finish_status_ = std::move(status);
    StartNextLocked();
  }

  // True once the worker has sent `count` messages (false after kTestTimeout).
  bool WaitForMessages(size_t count) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kTestTimeout);
  }
  // True once the worker has closed its side of the stream.
  bool WaitForHalfClose() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&read_closed_), kTestTimeout);
  }
  std::vector<mojom::WorkerMessage> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      read_closed_ = true;
      return;
    }
    received_.push_back(incoming_);
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    StartNextLocked();
  }

  // The browser's side must still finish a cancelled stream.
  void OnCancel() override { End(grpc::Status::CANCELLED); }
  void OnDone() override {}

  // Server reactions are never run inline by Start* calls, so they may be made under mu_.
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_)
      return;
    if (!queue_.empty()) {
      outgoing_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      StartWrite(&outgoing_);
    } else if (finish_requested_) {
      finished_ = true;
      Finish(finish_status_);
    }
  }

  const std::vector<std::string> tokens_;
  mojom::WorkerMessage incoming_;

  absl::Mutex mu_;
  std::vector<mojom::WorkerMessage> received_ ABSL_GUARDED_BY(mu_);
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<mojom::BrowserMessage> queue_ ABSL_GUARDED_BY(mu_);
  mojom::BrowserMessage outgoing_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

// A ServiceWorkerHost that accepts Connect streams. Streams live as long as the host (the server is shut down
// first).
class FakeWorkerHost final : public mojom::ServiceWorkerHost::CallbackService {
 public:
  grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage>* Connect(
      grpc::CallbackServerContext* context) override {
    absl::MutexLock lock(&mu_);
    streams_.push_back(std::make_unique<FakeWorkerStream>(SessionTokensOf(*context)));
    return streams_.back().get();
  }

  // The first stream, once a worker has opened it; nullptr after kTestTimeout.
  FakeWorkerStream* WaitForStream() {
    absl::MutexLock lock(&mu_);
    auto opened = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !streams_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&opened), kTestTimeout))
      return nullptr;
    return streams_.front().get();
  }

  size_t stream_count() {
    absl::MutexLock lock(&mu_);
    return streams_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::unique_ptr<FakeWorkerStream>> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // RENDERER_FAKE_BROWSER_SERVICES_H_
