#include "renderer/browser_channel.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "renderer/session_bootstrap.h"

namespace bgsync {

std::shared_ptr<grpc::Channel> ConnectToBrowser(const SessionBootstrap& bootstrap) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxBrowserMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxBrowserMessageBytes);
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
