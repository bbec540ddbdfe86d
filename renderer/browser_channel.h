// The gRPC channel from a renderer or worker process to the browser, and the session metadata every call carries
// (see "Transport and sessions" in public/README.md).
//
// gRPC types are only forward-declared here so that this header stays cheap to include; the .cc files that make
// calls include <grpcpp/...> themselves.
//
// Thread-safety: the functions are stateless and may be called from any thread; a grpc::Channel may be shared
// by any number of threads and stubs.
#ifndef RENDERER_BROWSER_CHANNEL_H_
#define RENDERER_BROWSER_CHANNEL_H_

#include <memory>
#include <string>

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace bgsync {

struct SessionBootstrap;

// The metadata key that carries the session token on every call.
inline constexpr char kSessionMetadataKey[] = "bgsync-session";

// The largest message either side accepts (public/README.md, "Limits").
inline constexpr int kMaxBrowserMessageBytes = 64 * 1024;

// Returns a channel to the browser with insecure credentials, send and receive messages capped at 64 KiB:
//   - over the inherited descriptor bootstrap.channel_fd when it is set (a process the browser launched: its
//     session is accepted on that connection only). The channel takes the descriptor over (gRPC closes it) and
//     cannot reconnect: once the browser closes the connection every call fails UNAVAILABLE. Call this once per
//     descriptor. A background thread, started once per process, keeps gRPC reading the connection while the
//     process makes no call, so that the browser's keepalive pings are answered (otherwise the browser drops an
//     idle process's channel after its keepalive timeout).
//   - else to "unix:" + bootstrap.socket_path (a session an admin opened for a tool; the socket lives in a 0700
//     directory), with no proxy; it connects lazily and reconnects: a browser that is not there shows up as
//     UNAVAILABLE on the first call.
// Never null.
std::shared_ptr<grpc::Channel> ConnectToBrowser(const SessionBootstrap& bootstrap);

// Adds the "bgsync-session: <token>" metadata to `context`, which must not have started a call yet.
void AddSessionMetadata(grpc::ClientContext& context, const std::string& token);

// A fresh ClientContext carrying the session metadata, for one call. The caller owns it and must keep it alive
// until the call has finished.
std::unique_ptr<grpc::ClientContext> MakeSessionContext(const std::string& token);

}  // namespace bgsync

#endif  // RENDERER_BROWSER_CHANNEL_H_
