#include "tools/benchmarks/register/bench_clients.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "components/background_sync/sync_registration_store.h"
#include "grpcpp/grpcpp.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/browser_channel.h"
#include "renderer/sync_manager.h"
#include "tools/benchmarks/register/baseline.grpc.pb.h"

namespace bgsync {
namespace regbench {
namespace {

std::atomic<uint64_t> g_next_tag{0};

// Owns what one asynchronous call needs until it has finished.
template <typename Request, typename Reply>
struct Call {
  grpc::ClientContext context;
  Request request;
  Reply reply;
};

}  // namespace

std::shared_ptr<grpc::Channel> OwnConnection(const std::string& socket_path) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxBrowserMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxBrowserMessageBytes);
  arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), arguments);
}

std::string NextTag() {
  return absl::StrCat("t", g_next_tag++);
}

std::pair<std::string, std::string> RegistrationRecord(const std::string& origin,
                                                       int64_t sw_registration_id,
                                                       const std::string& tag) {
  SyncRegistration registration;
  registration.key = {sw_registration_id, SyncType::kOneShot, tag};
  registration.origin = Origin::Parse(origin).value();
  registration.max_attempts = 3;  // Chromium's, BackgroundSyncParameters' default
  return {SyncRegistrationStore::EncodeKey(registration.key), SyncRegistrationStore::EncodeRecord(registration)};
}

struct BaselineClient::State {
  explicit State(const std::string& socket_path)
      : channel(OwnConnection(socket_path)), stub(BaselineService::NewStub(channel)) {}

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<BaselineService::Stub> stub;
};

BaselineClient::BaselineClient(const std::string& socket_path) : state_(std::make_unique<State>(socket_path)) {}

BaselineClient::~BaselineClient() = default;

AsyncCall BaselineClient::Echo(int payload_bytes) {
  State* state = state_.get();
  return [state, payload = std::string(static_cast<size_t>(payload_bytes), 'p')](std::function<void(bool)> done) {
    auto* call = new Call<EchoMessage, EchoMessage>;
    AddSessionMetadata(call->context, std::string(64, 'a'));
    call->request.set_payload(payload);
    state->stub->async()->Echo(&call->context, &call->request, &call->reply,
                               [call, done = std::move(done)](grpc::Status status) {
                                 delete call;
                                 done(status.ok());
                               });
  };
}

AsyncCall BaselineClient::Put(const std::string& origin, int64_t sw_registration_id) {
  State* state = state_.get();
  return [state, origin, sw_registration_id](std::function<void(bool)> done) {
    auto* call = new Call<PutRequest, PutReply>;
    auto [key, value] = RegistrationRecord(origin, sw_registration_id, NextTag());
    call->request.set_key(std::move(key));
    call->request.set_value(std::move(value));
    state->stub->async()->Put(&call->context, &call->request, &call->reply,
                              [call, done = std::move(done)](grpc::Status status) {
                                delete call;
                                done(status.ok());
                              });
  };
}

bool BaselineClient::WaitUntilServing(int seconds) {
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(seconds)));
  EchoMessage request, reply;
  return state_->stub->Echo(&context, request, &reply).ok();
}

struct RendererClient::Stub {
  std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> stub;
};

RendererClient::RendererClient(const std::string& socket_path,
                               const std::string& token,
                               std::vector<int64_t> service_worker_ids)
    : token_(token),
      service_worker_ids_(std::move(service_worker_ids)),
      channel_(OwnConnection(socket_path)),
      stub_(new Stub{mojom::OneShotBackgroundSyncService::NewStub(channel_)}) {
  for (int64_t id : service_worker_ids_)
    managers_.push_back(std::make_unique<SyncManager>(channel_, token, id, /*has_active_worker=*/true));
}

RendererClient::~RendererClient() {
  managers_.clear();  // each waits for its calls
}

AsyncCall RendererClient::RegisterCallOnly() {
  return [this](std::function<void(bool)> done) {
    auto* call = new Call<mojom::RegisterRequest, mojom::RegisterReply>;
    AddSessionMetadata(call->context, token_);
    call->request.set_service_worker_registration_id(service_worker_ids_[next_++ % service_worker_ids_.size()]);
    call->request.mutable_options()->set_tag(NextTag());
    stub_->stub->async()->Register(&call->context, &call->request, &call->reply,
                                   [call, done = std::move(done)](grpc::Status status) {
                                     const bool ok = status.ok() && call->reply.has_registration();
                                     delete call;
                                     done(ok);
                                   });
  };
}

AsyncCall RendererClient::Register() {
  return [this](std::function<void(bool)> done) {
    SyncManager& manager = *managers_[next_++ % managers_.size()];
    manager.Register(NextTag(), [done = std::move(done)](SyncResult result) { done(result.ok()); });
  };
}

void RendererClient::WaitForPendingCalls() {
  for (const std::unique_ptr<SyncManager>& manager : managers_)
    manager->WaitForPendingCalls();
}

}  // namespace regbench
}  // namespace bgsync
