// The private channel of a process the browser launches: the browser serves one end of a socketpair, the child
// gets the other (LaunchOptions::channel_fd) and talks to the browser over it alone (public/README.md,
// "Transport and sessions"). The hosts in this directory ask for one per process; BackgroundSyncHost, which owns
// the gRPC server, makes them (browser/server_channel_factory.h).
#ifndef BROWSER_PROCESS_CHILD_CHANNEL_FACTORY_H_
#define BROWSER_PROCESS_CHILD_CHANNEL_FACTORY_H_

#include <string>

#include "absl/status/statusor.h"

namespace bgsync {

// Thread-safety: implementations may be called from any thread.
class ChildChannelFactory {
 public:
  struct Channel {
    // The child's end: a connected stream socket, close-on-exec. Owned by the caller, who passes it as
    // LaunchOptions::channel_fd and closes it after the launch (also when the launch fails: the browser then
    // sees the channel end).
    int child_fd = -1;
    // What the browser's gRPC server names the connection of a call on this channel (ServerContext::peer()):
    // bind the child's session to it (SessionRegistry::Create). Unique among the channels that are open.
    std::string peer;
  };

  virtual ~ChildChannelFactory() = default;

  // A new channel, already served by the browser. Sessions still bound to an earlier channel of the same peer
  // name are revoked first (that channel is closed, or the name would not be free). Errors: kInternal with
  // errno's text when the socketpair cannot be made; kFailedPrecondition when the browser is not serving
  // (before it starts, or while it shuts down).
  virtual absl::StatusOr<Channel> CreateChannel() = 0;
};

}  // namespace bgsync

#endif  // BROWSER_PROCESS_CHILD_CHANNEL_FACTORY_H_
