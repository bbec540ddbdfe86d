// What the renderer's API stubs (SyncManager, PeriodicSyncManager) share to make unary calls on the browser's
// services safely with gRPC 1.51's callback API (see "gRPC 1.51 pitfall" in renderer/README.md). Internal to
// renderer/: included by the .cc files that make calls, which include the gRPC headers themselves.
#ifndef RENDERER_UNARY_CALL_H_
#define RENDERER_UNARY_CALL_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "public/background_sync_error.h"
#include "renderer/browser_channel.h"

namespace grpc {
class Status;
}  // namespace grpc

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

}  // namespace bgsync

#endif  // RENDERER_UNARY_CALL_H_
