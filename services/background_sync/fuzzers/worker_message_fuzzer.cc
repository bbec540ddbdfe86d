// Fuzzes the worker reply path: WorkerMessages as ServiceWorkerHost.Connect receives them. A worker process is
// connected and ready: service worker 1's (origin 0), holding one-shot events 1 and 2 with event 3 queued behind
// them; service worker 3 (origin 1) has event 4 waiting for connectivity. The input is a sequence of chunks, each
// parsed as a WorkerMessage (as gRPC would; bytes that do not parse break the stream) and delivered on the stream
// a byte picks, with now and then the clock moved past the deadlines (a hung worker), a crash, a reconnect, or
// service worker 3 online with a second worker process. The
// oracles (service_world.h) check every message: answers for events in flight are taken, anything else (unknown
// or already answered ids, another worker's ids, statuses outside the enum, empty messages, a second ready) ends
// the stream as a bad message; each event completes exactly once; events go only to their own worker; and after
// every message the engine's invariants hold.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "components/background_sync/fuzzers/fuzz_values.h"
#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/fuzzers/request_fuzzer_support.h"
#include "services/background_sync/fuzzers/service_world.h"

namespace bgsync {
namespace fuzzing {
namespace {

constexpr int kMaxMessages = 16;

class WorkerMessageFuzzer {
 public:
  explicit WorkerMessageFuzzer(FuzzedDataProvider& data) : data_(data) {
    // Registered and acknowledged before this browser started: it fires them as it starts. Service worker 1's
    // first, so that event ids do not depend on hash order: its events are 1-3, then service worker 3's is 4.
    for (const char* tag : {"a1", "a2", "a3"})
      Seed(0, 1, tag);
    Seed(1, 3, "b1");
    world_.network.SetServiceWorkerOffline(3, true);
    browser_ = std::make_unique<BrowserServices>(&world_, false, 0);
    ConnectReady(1);
    browser_->Settle();
  }

  ~WorkerMessageFuzzer() { browser_.reset(); }

  void Run() {
    for (int i = 0; i < kMaxMessages && data_.remaining_bytes() > 0; ++i) {
      Step();
      browser_->Settle();
    }
  }

 private:
  void Seed(size_t origin, int64_t sw, const char* tag) {
    SyncRegistration r;
    r.key = {sw, SyncType::kOneShot, tag};
    r.origin = world_.origin(origin);
    r.max_attempts = world_.model.parameters().max_sync_attempts;
    world_.Seed(r);
  }

  void ConnectReady(int64_t sw) {
    browser_->Settle(/*check=*/false);
    auto it = browser_->launcher().running.find(sw);
    if (it == browser_->launcher().running.end())
      return;
    Client* client = &it->second.client;
    FakeWorkerStream* stream = browser_->Connect(client, client->token);
    if (stream->CanDeliver()) {
      mojom::WorkerMessage ready;
      ready.mutable_ready();
      browser_->SendWorkerMessage(*stream, ready);
    }
    browser_->Settle(/*check=*/false);
  }

  void Step() {
    const uint8_t control = data_.ConsumeIntegral<uint8_t>();
    switch (control >> 5) {
      case 0:
        // A hang: time passes (the deadline, the grace, idle workers).
        world_.clock.Advance(ConsumeClockStep(data_));
        return;
      case 1:
        if (control & 1) {
          browser_->ExitWorkerProcess(control & 2 ? 3 : 1);
        } else if (control & 4) {
          // Service worker 3 comes online: its event goes to a second worker process.
          world_.network.SetServiceWorkerOffline(3, false);
          browser_->engine().OnNetworkChanged();
          ConnectReady(3);
        } else {
          ConnectReady(control & 2 ? 3 : 1);
        }
        return;
      default:
        break;
    }
    std::vector<FakeWorkerStream*> open;
    for (const std::unique_ptr<FakeWorkerStream>& stream : browser_->streams()) {
      if (stream->CanDeliver() && stream->session())
        open.push_back(stream.get());
    }
    const std::string bytes = data_.ConsumeRandomLengthString(64);
    if (open.empty())
      return;
    FakeWorkerStream& stream = *open[control % open.size()];
    mojom::WorkerMessage message;
    if (message.ParseFromString(bytes)) {
      browser_->SendWorkerMessage(stream, message);
    } else {
      browser_->SendUnparsable(stream);
    }
  }

  FuzzedDataProvider& data_;
  SyncWorld world_;
  std::unique_ptr<BrowserServices> browser_;
};

}  // namespace
}  // namespace fuzzing
}  // namespace bgsync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bgsync::fuzzing::SilenceProtobufLogging();
  FuzzedDataProvider provider(data, size);
  bgsync::fuzzing::WorkerMessageFuzzer fuzzer(provider);
  fuzzer.Run();
  return 0;
}
