#include "renderer/browser_channel.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <mutex>
#include <thread>

#include "renderer/session_bootstrap.h"

namespace bgsync {
namespace {

// A channel made from a descriptor is a bare transport: unlike a channel to a socket path, nothing of gRPC's
// polls it between calls, so a ping from the browser would wait unread until the next call, and the browser's
// keepalive would close the connection of a process idle for longer than its timeout. A thread blocked for the
// process's life on an empty completion queue is one of gRPC's pollers (with the default epoll engine, any
// poller serves every descriptor of the process). The queue is never shut down and never freed: the thread
// ends with the process.
void KeepPollingForever() {
  static std::once_flag started;
  std::call_once(started, [] {
    auto* queue = new grpc::CompletionQueue();
    std::thread([queue] {
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) {
      }
    }).detach();
  });
}

}  // namespace

std::shared_ptr<grpc::Channel> ConnectToBrowser(const SessionBootstrap& bootstrap) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxBrowserMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxBrowserMessageBytes);
  if (bootstrap.channel_fd >= 0) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomInsecureChannelFromFd("browser", bootstrap.channel_fd, arguments);
    KeepPollingForever();
    return channel;
  }
  // The browser is on a local socket: an http_proxy in the environment must never apply.
  arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  return grpc::CreateCustomChannel("unix:" + bootstrap.socket_path, grpc::InsecureChannelCredentials(), arguments);
}

void AddSessionMetadata(grpc::ClientContext& context, const std::string& token) {
  context.AddMetadata(kSessionMetadataKey, token);
}

std::unique_ptr<grpc::ClientContext> MakeSessionContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  AddSessionMetadata(*context, token);
  return context;
}

}  // namespace bgsync
