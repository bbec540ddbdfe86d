// A structure-aware fuzzer of the browser's Background Sync services, in-process (service_world.h): the input
// decodes into up to kMaxActions actions. Renderers of an origin (windows and iframes, launched or not) connect and
// disconnect, call Register / DidResolveRegistration / GetRegistrations of both services and Unregister with fuzzed
// ids, tags and intervals, or call with forged tokens; worker processes start (or fail to), connect (also on the
// wrong session), say ready, answer events with every status, answer events they were never sent, send empty or
// unparsable messages, hang, drop their stream or crash; the environment changes (network, service workers,
// windows, permissions, engagement, clock, failing writes); the browser crashes and restarts on the same disk.
// After every action the oracles and the model check: the bad-message rules, no cross-origin reads or writes,
// limits, memory equals what a restart loads, every acknowledged registration is present or legitimately gone.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "components/background_sync/fuzzers/fuzz_values.h"
#include "components/background_sync/fuzzers/sync_world.h"
#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/fuzzers/service_world.h"

namespace bgsync {
namespace fuzzing {
namespace {

constexpr int kMaxActions = 96;
constexpr size_t kMaxClients = 10;
constexpr size_t kMaxStreams = 12;
constexpr size_t kMaxRecentTags = 8;

class ServiceFuzzer {
 public:
  explicit ServiceFuzzer(FuzzedDataProvider& data) : data_(data) {
    world_.on_service_worker_unregistered = [this](int64_t sw) {
      // As BackgroundSyncHost does: the service worker's process is stopped.
      if (browser_)
        browser_->launcher().StopWorker(sw);
    };
    StartBrowser(false, 0);
  }

  void Run() {
    for (int i = 0; i < kMaxActions && data_.remaining_bytes() > 0; ++i) {
      Step();
      browser_->Settle();
    }
  }

 private:
  enum class Action {
    kNewClient,
    kRegister,
    kDidResolve,
    kGetRegistrations,
    kUnregister,
    kDisconnect,
    kForgedToken,
    kWorkerConnect,
    kWorkerReady,
    kWorkerAnswer,
    kWorkerForgedAnswer,
    kWorkerRawMessage,
    kWorkerExit,
    kWorkerDropStream,
    kLauncherMode,
    kEnvironment,
    kCrashRestart,
    kMaxValue = kCrashRestart,
  };

  void StartBrowser(bool fail_reads, int fail_commits) {
    browser_ = std::make_unique<BrowserServices>(&world_, fail_reads, fail_commits);
    // Each origin with a window has one open at start.
    browser_->NewClient(world_.origin(0), ClientType::kWindow, next_pid_++);
    browser_->NewClient(world_.origin(1), ClientType::kWindow, next_pid_++);
    browser_->Settle();
  }

  void Step() {
    switch (data_.ConsumeEnum<Action>()) {
      case Action::kNewClient:
        if (browser_->clients().size() < kMaxClients) {
          const Origin& origin = world_.ConsumeOrigin(data_);
          const ClientType type = data_.ConsumeBool() ? ClientType::kWindow : ClientType::kIframe;
          // pid 0: a session opened for a tool, with no process to kill.
          browser_->NewClient(origin, type, data_.ConsumeIntegralInRange<int>(0, 3) == 0 ? 0 : next_pid_++);
        }
        return;
      case Action::kRegister: {
        Client& client = ConsumeClient();
        const SyncType type = ConsumeType();
        mojom::RegisterRequest request;
        request.set_service_worker_registration_id(ConsumeServiceWorker());
        request.mutable_options()->set_tag(ConsumeTag());
        // A one-shot request carries no interval, except now and then (a bad message).
        if (type == SyncType::kPeriodic || data_.ConsumeIntegralInRange<int>(0, 15) == 0)
          request.mutable_options()->set_min_interval_ms(ConsumeIntervalMs(data_));
        return browser_->Register(client, type, request);
      }
      case Action::kDidResolve: {
        Client& client = ConsumeClient();
        mojom::DidResolveRegistrationRequest request;
        request.set_service_worker_registration_id(ConsumeServiceWorker());
        request.set_tag(ConsumeTag());
        return browser_->DidResolveRegistration(client, request);
      }
      case Action::kGetRegistrations: {
        Client& client = ConsumeClient();
        const SyncType type = ConsumeType();
        mojom::GetRegistrationsRequest request;
        request.set_service_worker_registration_id(ConsumeServiceWorker());
        return browser_->GetRegistrations(client, type, request);
      }
      case Action::kUnregister: {
        Client& client = ConsumeClient();
        mojom::UnregisterRequest request;
        request.set_service_worker_registration_id(ConsumeServiceWorker());
        request.set_tag(ConsumeTag());
        return browser_->Unregister(client, request);
      }
      case Action::kDisconnect: {
        Client& client = ConsumeClient();
        if (client.live)
          browser_->Disconnect(client);
        return;
      }
      case Action::kForgedToken:
        return browser_->CallWithoutSession(ConsumeForgedToken());
      case Action::kWorkerConnect:
        return WorkerConnect();
      case Action::kWorkerReady:
        if (FakeWorkerStream* stream = ConsumeStream()) {
          mojom::WorkerMessage message;
          message.mutable_ready();
          browser_->SendWorkerMessage(*stream, message);
        }
        return;
      case Action::kWorkerAnswer:
        return WorkerAnswer();
      case Action::kWorkerForgedAnswer:
        return WorkerForgedAnswer();
      case Action::kWorkerRawMessage:
        return WorkerRawMessage();
      case Action::kWorkerExit: {
        std::vector<int64_t> running;
        for (const auto& [sw, process] : browser_->launcher().running)
          running.push_back(sw);
        if (!running.empty())
          browser_->ExitWorkerProcess(running[data_.ConsumeIntegralInRange<size_t>(0, running.size() - 1)]);
        return;
      }
      case Action::kWorkerDropStream:
        if (FakeWorkerStream* stream = ConsumeStream())
          browser_->SendUnparsable(*stream);
        return;
      case Action::kLauncherMode:
        switch (data_.ConsumeIntegralInRange<int>(0, 3)) {
          case 0:
            browser_->launcher().mode = FakeWorkerLauncher::Mode::kSpawnFails;
            break;
          case 1:
            browser_->launcher().mode = FakeWorkerLauncher::Mode::kNoSlot;
            break;
          default:
            browser_->launcher().mode = FakeWorkerLauncher::Mode::kLaunch;
            break;
        }
        return;
      case Action::kEnvironment:
        return world_.ApplyEnvironmentAction(data_, browser_->engine());
      case Action::kCrashRestart: {
        browser_.reset();
        world_.clock.Advance(absl::Milliseconds(data_.ConsumeIntegralInRange<int>(0, 2000)));
        const bool fail_reads = data_.ConsumeIntegralInRange<int>(0, 7) == 0;
        const int fail_commits = data_.ConsumeIntegralInRange<int>(0, 7) == 0 ? 1 : 0;
        return StartBrowser(fail_reads, fail_commits);
      }
    }
  }

  Client& ConsumeClient() {
    const auto& clients = browser_->clients();
    return *clients[data_.ConsumeIntegralInRange<size_t>(0, clients.size() - 1)];
  }

  SyncType ConsumeType() { return data_.ConsumeBool() ? SyncType::kPeriodic : SyncType::kOneShot; }

  int64_t ConsumeServiceWorker() { return ConsumeServiceWorkerId(data_, world_.service_worker_ids()); }

  std::string ConsumeTag() {
    std::string tag = fuzzing::ConsumeTag(data_, tags_);
    if (tag.size() <= 64 && tags_.size() < kMaxRecentTags)
      tags_.push_back(tag);
    return tag;
  }

  std::string ConsumeForgedToken() {
    switch (data_.ConsumeIntegralInRange<int>(0, 2)) {
      case 0:
        return "";
      case 1:
        return std::string(64, '0');
      default:
        return data_.ConsumeRandomLengthString(80);
    }
  }

  // A stream that can take a message now, or nullptr.
  FakeWorkerStream* ConsumeStream() {
    std::vector<FakeWorkerStream*> open;
    for (const std::unique_ptr<FakeWorkerStream>& stream : browser_->streams()) {
      if (stream->CanDeliver() && stream->session())
        open.push_back(stream.get());
    }
    if (open.empty())
      return nullptr;
    return open[data_.ConsumeIntegralInRange<size_t>(0, open.size() - 1)];
  }

  void WorkerConnect() {
    if (browser_->streams().size() >= kMaxStreams)
      return;
    std::vector<Client*> workers;
    for (auto& [sw, process] : browser_->launcher().running)
      workers.push_back(&process.client);
    FakeWorkerStream* stream = nullptr;
    switch (data_.ConsumeIntegralInRange<int>(0, 7)) {
      case 0: {
        // A renderer pretends to be a worker.
        Client& client = ConsumeClient();
        browser_->Connect(&client, client.token);
        return;
      }
      case 1:
        browser_->Connect(nullptr, ConsumeForgedToken());
        return;
      default:
        if (workers.empty())
          return;
        // Usually a process that is not connected yet; sometimes a second stream of a connected one.
        Client* client = workers[data_.ConsumeIntegralInRange<size_t>(0, workers.size() - 1)];
        stream = browser_->Connect(client, client->token);
        break;
    }
    if (stream && stream->CanDeliver() && data_.ConsumeIntegralInRange<int>(0, 3) != 0) {
      mojom::WorkerMessage ready;
      ready.mutable_ready();
      browser_->SendWorkerMessage(*stream, ready);
    }
  }

  mojom::SyncEventStatus ConsumeStatus() {
    switch (data_.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
        return mojom::SYNC_EVENT_STATUS_UNSPECIFIED;
      case 1:
        // A value outside the enum (proto3 keeps unknown enum values).
        return static_cast<mojom::SyncEventStatus>(data_.ConsumeIntegralInRange<int>(4, 1000));
      case 2:
      case 3:
        return mojom::SYNC_EVENT_STATUS_REJECTED;
      case 4:
        return mojom::SYNC_EVENT_STATUS_ABORTED;
      default:
        return mojom::SYNC_EVENT_STATUS_COMPLETED;
    }
  }

  void WorkerAnswer() {
    FakeWorkerStream* stream = ConsumeStream();
    if (!stream)
      return;
    const std::vector<uint64_t> outstanding = stream->Outstanding();
    if (outstanding.empty())
      return;
    mojom::WorkerMessage message;
    message.mutable_sync_event_result()->set_event_id(
        outstanding[data_.ConsumeIntegralInRange<size_t>(0, outstanding.size() - 1)]);
    message.mutable_sync_event_result()->set_status(ConsumeStatus());
    browser_->SendWorkerMessage(*stream, message);
  }

  // An answer for an event this worker was never sent, or already answered.
  void WorkerForgedAnswer() {
    FakeWorkerStream* stream = ConsumeStream();
    if (!stream)
      return;
    uint64_t id = 0;
    switch (data_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
        id = 0;
        break;
      case 1:
        // Another stream's event (perhaps another origin's).
        for (const std::unique_ptr<FakeWorkerStream>& other : browser_->streams()) {
          for (uint64_t event : other->Outstanding())
            id = event;
        }
        break;
      case 2:
        id = std::numeric_limits<uint64_t>::max();
        break;
      default:
        id = data_.ConsumeIntegral<uint64_t>();
        break;
    }
    mojom::WorkerMessage message;
    message.mutable_sync_event_result()->set_event_id(id);
    message.mutable_sync_event_result()->set_status(ConsumeStatus());
    browser_->SendWorkerMessage(*stream, message);
  }

  // Bytes from the input as a WorkerMessage: gRPC breaks the stream on bytes that do not parse.
  void WorkerRawMessage() {
    FakeWorkerStream* stream = ConsumeStream();
    if (!stream)
      return;
    mojom::WorkerMessage message;
    if (message.ParseFromString(data_.ConsumeRandomLengthString(48))) {
      browser_->SendWorkerMessage(*stream, message);
    } else {
      browser_->SendUnparsable(*stream);
    }
  }

  FuzzedDataProvider& data_;
  SyncWorld world_;
  std::unique_ptr<BrowserServices> browser_;
  pid_t next_pid_ = 100;
  std::vector<std::string> tags_;
};

}  // namespace
}  // namespace fuzzing
}  // namespace bgsync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bgsync::fuzzing::SilenceProtobufLogging();
  FuzzedDataProvider provider(data, size);
  bgsync::fuzzing::ServiceFuzzer fuzzer(provider);
  fuzzer.Run();
  return 0;
}
