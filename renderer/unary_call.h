// What the renderer's API stubs (SyncManager, PeriodicSyncManager) share to make unary calls on the browser's
// services safely with gRPC 1.51's callback API (see "gRPC 1.51 pitfall" in renderer/README.md), and to turn the
// answers into promise results. Internal to renderer/: included by the .cc files that make calls only, so it may
// include the gRPC and generated headers its templates need.
#ifndef RENDERER_UNARY_CALL_H_
#define RENDERER_UNARY_CALL_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "public/background_sync_error.h"
#include "public/mojom/background_sync.pb.h"
#include "renderer/browser_channel.h"
#include "renderer/sync_results.h"

namespace bgsync {

// The request, reply and context of one unary call; they must outlive the call. Owned by the call's callback,
// which destroys it (and with it the context, which holds a reference to the channel) before it counts the call
// finished.
template <typename Request, typename Reply>
struct UnaryCall {
  explicit UnaryCall(const std::string& token) : context(MakeSessionContext(token)) {}

  std::unique_ptr<grpc::ClientContext> context;
  Request request;
  Reply reply;
};

// Returns the DOMException for a call that failed at the gRPC level (browser unreachable, session revoked, a
// request the browser judged malformed): nothing a page can act on, so always UnknownError, with gRPC's message.
DomException CallFailure(const grpc::Status& status);

// How a Register or Unregister call settles its promise: rejected with CallFailure if the call failed, resolved if
// `succeeded` (the reply holds its result), else rejected with `to_exception(error)` for the reply's error (also for
// a reply with neither, whose error is UNSPECIFIED).
SyncResult ToSyncResult(const grpc::Status& status,
                        bool succeeded,
                        BackgroundSyncError error,
                        DomException (*to_exception)(BackgroundSyncError));

// How a GetRegistrations call settles getTags(): rejected with CallFailure if the call failed, resolved with the
// reply's tags (in the browser's order), or rejected with `to_exception(error)` for the reply's error (also for a
// reply with neither, whose error is UNSPECIFIED).
TagsResult ToTagsResult(const grpc::Status& status,
                        const mojom::GetRegistrationsReply& reply,
                        DomException (*to_exception)(BackgroundSyncError));

// Counts the calls a stub has in flight, so that its owner can wait for them before releasing the channel.
// Thread-safety: every method may be called from any thread.
class CallCounter {
 public:
  // Before starting a call.
  void Started();
  // The call's last use of anything its owner owns; the owner may be destroyed once no call is in flight.
  void Finished();
  // Blocks until no call is in flight. Must not be called from a call's callback.
  void WaitUntilIdle();

 private:
  bool Idle() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; }

  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// The stub of one of the browser's services (`Service` is the generated class, e.g.
// mojom::PeriodicBackgroundSyncService) on one session, and the calls it has in flight. Its owner must call
// WaitUntilIdle before destroying it: until then a call may still use it.
//
// Thread-safety: Start may be called from any thread, also from a call's `on_done`.
template <typename Service>
class SessionStub {
 public:
  // The stub's asynchronous interface (Service::Stub::async, which a dependent name cannot spell).
  using Async = std::remove_pointer_t<decltype(std::declval<typename Service::Stub&>().async())>;
  // An asynchronous method of the stub, e.g. &Service::Stub::async::Register.
  template <typename Request, typename Reply>
  using AsyncMethod = void (Async::*)(grpc::ClientContext*, const Request*, Reply*, std::function<void(grpc::Status)>);

  // `token` is the session's; every call carries it.
  SessionStub(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(Service::NewStub(std::move(channel))), token_(std::move(token)) {}

  // Starts `method` with `request`. When the call has finished, `on_done(status, request, reply)` runs once on a
  // gRPC thread; then the call is destroyed (its context holds a reference to the channel), and only then counted
  // finished. `on_done` must be copyable; it may start more calls.
  template <typename Request, typename Reply, typename OnDone>
  void Start(AsyncMethod<Request, Reply> method, Request request, OnDone on_done) {
    using Call = UnaryCall<Request, Reply>;
    auto* call = new Call(token_);
    call->request = std::move(request);
    calls_.Started();
    (stub_->async()->*method)(call->context.get(), &call->request, &call->reply,
                              [this, call, on_done = std::move(on_done)](grpc::Status status) {
                                // Destroyed in reverse order: the call (and its context) first, then the count.
                                absl::Cleanup finished = [this] { calls_.Finished(); };
                                std::unique_ptr<Call> owned(call);
                                on_done(status, call->request, call->reply);
                              });
  }

  // Blocks until every call started here has finished. Must not be called from an `on_done`.
  void WaitUntilIdle() { calls_.WaitUntilIdle(); }

 private:
  const std::unique_ptr<typename Service::Stub> stub_;
  const std::string token_;
  CallCounter calls_;
};

// Runs `start(done)`, blocking until `done` has been called; returns what it was called with. For the *AndWait
// methods.
template <typename Result, typename Start>
Result WaitForResult(Start start) {
  absl::Notification settled;
  std::optional<Result> result;
  start([&](Result r) {
    result = std::move(r);
    settled.Notify();
  });
  settled.WaitForNotification();
  return *std::move(result);
}

}  // namespace bgsync

#endif  // RENDERER_UNARY_CALL_H_
