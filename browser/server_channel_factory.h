// The ChildChannelFactory of BackgroundSyncHost: every channel is a socketpair whose browser end its gRPC server
// serves (grpc::AddInsecureChannelFromFd), so that a launched process's calls arrive on a connection of its own
// and its session can be bound to it (docs/security.md, "Sessions bound to channels").
#ifndef BROWSER_SERVER_CHANNEL_FACTORY_H_
#define BROWSER_SERVER_CHANNEL_FACTORY_H_

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "browser/process/child_channel_factory.h"
#include "services/background_sync/session_registry.h"

namespace grpc {
class Server;
}

namespace bgsync {

// Thread-safety: every method may be called from any thread.
class ServerChannelFactory : public ChildChannelFactory {
 public:
  // `sessions` is not owned and must outlive this.
  explicit ServerChannelFactory(SessionRegistry* sessions);

  // Serves every later channel on `server`, which must have been started and must outlive Stop() (not owned).
  void Serve(grpc::Server* server);
  // Makes CreateChannel fail from now on; returns once no CreateChannel uses the server any more. Call it before
  // shutting the server down. Channels already made are the server's: its shutdown closes them.
  void Stop();

  // ChildChannelFactory. The browser's end is non-blocking (gRPC's server end must be; a blocking one hangs the
  // first call) and owned by gRPC from then on; the peer is "fd:<its number>", as gRPC names it.
  absl::StatusOr<Channel> CreateChannel() override;

 private:
  SessionRegistry* const sessions_;

  absl::Mutex mu_;
  grpc::Server* server_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace bgsync

#endif  // BROWSER_SERVER_CHANNEL_FACTORY_H_
