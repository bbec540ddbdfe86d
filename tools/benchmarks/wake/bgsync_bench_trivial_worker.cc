// bgsync_bench_trivial_worker: the trivial gRPC worker of bgsync_bench_wake's baselines. Nothing but gRPC and the
// generated ServiceWorkerHost stub: over the channel it inherited on descriptor 4 it opens the Connect stream,
// sends WorkerReady, and answers every SyncEvent COMPLETED the moment it reads it (synchronous API, one thread).
// No bootstrap, no session, no global scope, no thread per event.
//
// Usage: bgsync_bench_trivial_worker   (exit status 0 when the server ends the stream, 1 otherwise)
#include <memory>

#include "grpcpp/create_channel_posix.h"
#include "grpcpp/grpcpp.h"
#include "public/mojom/background_sync.grpc.pb.h"

int main() {
  constexpr int kChannelFd = 4;
  std::unique_ptr<bgsync::mojom::ServiceWorkerHost::Stub> stub =
      bgsync::mojom::ServiceWorkerHost::NewStub(grpc::CreateInsecureChannelFromFd("bench", kChannelFd));
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<bgsync::mojom::WorkerMessage, bgsync::mojom::BrowserMessage>> stream =
      stub->Connect(&context);
  bgsync::mojom::WorkerMessage ready;
  ready.mutable_ready();
  if (!stream->Write(ready))
    return 1;
  bgsync::mojom::BrowserMessage in;
  bgsync::mojom::WorkerMessage out;
  while (stream->Read(&in)) {
    out.mutable_sync_event_result()->set_event_id(in.sync_event().event_id());
    out.mutable_sync_event_result()->set_status(bgsync::mojom::SYNC_EVENT_STATUS_COMPLETED);
    if (!stream->Write(out))
      break;
  }
  return stream->Finish().ok() ? 0 : 1;
}
