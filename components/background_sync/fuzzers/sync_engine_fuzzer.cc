// A structure-aware fuzzer of BackgroundSyncEngine. The input decodes into up to kMaxActions actions: clients of
// an origin come and go; they Register (one-shot and periodic), acknowledge, get tags and unregister with fuzzed
// tags, ids and intervals (calls the services would refuse included: the engine must refuse them too); workers
// answer events with every outcome, crash or hang (through FakeSyncEventDispatcher); the network, service
// workers, windows, permissions, engagement and the clock change; writes fail or are held back; the engine shuts
// down, or crashes and restarts on the same in-memory disk. After every action the model (sync_model.h) checks
// that memory equals what a restart loads, that nothing is attributed to another origin or visible to it, that
// the limits hold, and that every acknowledged registration is present or legitimately gone.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/fuzzers/fuzz_check.h"
#include "components/background_sync/fuzzers/fuzz_values.h"
#include "components/background_sync/fuzzers/sync_model.h"
#include "components/background_sync/fuzzers/sync_world.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"

namespace bgsync {
namespace fuzzing {
namespace {

constexpr int kMaxActions = 128;
constexpr size_t kMaxClients = 8;
constexpr size_t kMaxRecentTags = 8;

struct Client {
  ClientId id = 0;  // 0: calls made for no client (their registrations need no acknowledgement)
  Origin origin;
};

class EngineFuzzer {
 public:
  explicit EngineFuzzer(FuzzedDataProvider& data) : data_(data) {
    engine_ = world_.StartEngine(&dispatcher_, false, 0);
    clients_.push_back({0, world_.origin(0)});
  }

  ~EngineFuzzer() {
    // Held commits must land before the engine can stop (its queues wait for them).
    world_.ReleaseCommits();
  }

  void Run() {
    for (int i = 0; i < kMaxActions && data_.remaining_bytes() > 0; ++i) {
      Step();
      world_.Check(*engine_);
    }
  }

 private:
  enum class Action {
    kRegister,
    kDidResolve,
    kGetRegistrations,
    kUnregister,
    kNewClient,
    kDisconnect,
    kSettleEvent,
    kWorkerCrash,
    kAutoReply,
    kEnvironment,
    kHoldCommits,
    kReleaseCommits,
    kCrashRestart,
    kShutdown,
    kExplain,
    kMaxValue = kExplain,
  };

  void Step() {
    switch (data_.ConsumeEnum<Action>()) {
      case Action::kRegister:
        return Register();
      case Action::kDidResolve:
        return DidResolve();
      case Action::kGetRegistrations:
        return GetRegistrations();
      case Action::kUnregister:
        return Unregister();
      case Action::kNewClient:
        if (clients_.size() < kMaxClients) {
          clients_.push_back({next_client_++, world_.ConsumeOrigin(data_)});
          FUZZ_TRACE(absl::StrCat("client ", clients_.back().id, " of ", clients_.back().origin.Serialize()));
        }
        return;
      case Action::kDisconnect: {
        // The model hears first: the engine may fire what the client held back.
        const Client& client = ConsumeClient();
        world_.model.OnClientDisconnected(client.id);
        engine_->OnClientDisconnected(client.id);
        return;
      }
      case Action::kSettleEvent:
        return SettleEvent();
      case Action::kWorkerCrash:
        return WorkerCrash();
      case Action::kAutoReply:
        if (data_.ConsumeBool()) {
          const SyncEventOutcome outcome = ConsumeOutcome(data_);
          FUZZ_TRACE(absl::StrCat("workers answer at once: ", SyncEventOutcomeName(outcome)));
          events_.SetAutoReply(outcome);
        } else {
          FUZZ_TRACE("workers answer when told");
          events_.SetAutoReply(std::nullopt);
        }
        return;
      case Action::kEnvironment:
        return world_.ApplyEnvironmentAction(data_, *engine_);
      case Action::kHoldCommits:
        FUZZ_TRACE("commits held");
        world_.storage().HoldWhere([](const StorageBatch&) { return true; });
        return;
      case Action::kReleaseCommits:
        FUZZ_TRACE("commits released");
        world_.ReleaseCommits();
        return;
      case Action::kCrashRestart:
        return CrashRestart();
      case Action::kShutdown:
        FUZZ_TRACE("engine shut down");
        world_.ReleaseCommits();
        engine_->Shutdown();
        shut_down_ = true;
        return;
      case Action::kExplain:
        return Explain();
    }
  }

  const Client& ConsumeClient() { return clients_[data_.ConsumeIntegralInRange<size_t>(0, clients_.size() - 1)]; }

  std::string ConsumeTag() {
    std::string tag = fuzzing::ConsumeTag(data_, tags_);
    if (tag.size() <= 64 && tags_.size() < kMaxRecentTags)
      tags_.push_back(tag);
    return tag;
  }

  int64_t ConsumeServiceWorker() { return ConsumeServiceWorkerId(data_, world_.service_worker_ids()); }

  // Checks that a call of `origin` changed nothing of any other origin's.
  void CheckOthersUnchanged(const Origin& origin, const std::vector<SyncRegistration>& before, const char* call) {
    FUZZ_CHECK(SyncModel::OthersOf(*engine_, origin) == before,
               absl::StrCat(call, " by ", origin.Serialize(), " changed another origin's registrations"));
  }

  void Register() {
    const Client client = ConsumeClient();
    BackgroundSyncEngine::RegisterRequest request;
    request.origin = client.origin;
    request.client = client.id;
    request.sw_registration_id = ConsumeServiceWorker();
    request.type = data_.ConsumeBool() ? SyncType::kPeriodic : SyncType::kOneShot;
    request.tag = ConsumeTag();
    // One-shot requests carry no interval, except now and then (no honest client sends one).
    const bool interval = request.type == SyncType::kPeriodic || data_.ConsumeIntegralInRange<int>(0, 7) == 0;
    request.min_interval = absl::Milliseconds(interval ? ConsumeIntervalMs(data_) : 0);

    const RegistrationKey key{request.sw_registration_id, request.type, request.tag};
    FUZZ_TRACE(absl::StrCat("client ", client.id, " of ", client.origin.Serialize(), " registers (sw ",
                            key.sw_registration_id, ", ", SyncTypeName(key.type), ", ", DescribeTag(key.tag),
                            ") interval ", absl::FormatDuration(request.min_interval)));
    const RegisterExpectation expected = world_.ExpectRegister(client.origin, request.sw_registration_id, request.type,
                                                               request.tag, request.min_interval, shut_down_);
    world_.model.OnRegisterRequested(client.origin, key);
    const std::vector<SyncRegistration> others = SyncModel::OthersOf(*engine_, client.origin);
    const absl::Duration min_interval = request.min_interval;
    auto in_call = std::make_shared<bool>(true);
    engine_->Register(std::move(request), [this, origin = client.origin, key, id = client.id, expected, min_interval,
                                           in_call](absl::Status status) {
      // An answer that comes later (its commit, or one before it in its queue, was held) saw the world as it was
      // at the call or as it is now (nothing changes while held commits are released).
      if (*in_call)
        return world_.model.OnRegisterAnswered(origin, key, id, expected, nullptr, status, true);
      const RegisterExpectation now =
          world_.ExpectRegister(origin, key.sw_registration_id, key.type, key.tag, min_interval, shut_down_);
      world_.model.OnRegisterAnswered(origin, key, id, expected, &now, status, false);
    });
    *in_call = false;
    CheckOthersUnchanged(client.origin, others, "Register");
  }

  void DidResolve() {
    const Client client = ConsumeClient();
    const RegistrationKey key{ConsumeServiceWorker(),
                              data_.ConsumeIntegralInRange<int>(0, 7) == 0 ? SyncType::kPeriodic : SyncType::kOneShot,
                              ConsumeTag()};
    FUZZ_TRACE(absl::StrCat("client ", client.id, " of ", client.origin.Serialize(), " resolves (sw ",
                            key.sw_registration_id, ", ", SyncTypeName(key.type), ", ", DescribeTag(key.tag), ")"));
    world_.model.OnDidResolve(client.id, key);
    const std::vector<SyncRegistration> others = SyncModel::OthersOf(*engine_, client.origin);
    absl::Status status = engine_->DidResolveRegistration(client.origin, client.id, key);
    world_.model.CheckDidResolve(client.origin, key.sw_registration_id, status);
    CheckOthersUnchanged(client.origin, others, "DidResolveRegistration");
  }

  void GetRegistrations() {
    const Client client = ConsumeClient();
    const int64_t sw = ConsumeServiceWorker();
    const SyncType type = data_.ConsumeBool() ? SyncType::kPeriodic : SyncType::kOneShot;
    FUZZ_TRACE(absl::StrCat(client.origin.Serialize(), " gets tags of (sw ", sw, ", ", SyncTypeName(type), ")"));
    engine_->GetRegistrations(client.origin, sw, type,
                              [model = &world_.model, engine = engine_.get(), origin = client.origin, sw, type,
                               shut_down = shut_down_](absl::StatusOr<std::vector<std::string>> tags) {
                                model->CheckGetRegistrations(origin, sw, type, shut_down, tags, *engine);
                              });
  }

  void Unregister() {
    const Client client = ConsumeClient();
    const int64_t sw = ConsumeServiceWorker();
    std::string tag = ConsumeTag();
    FUZZ_TRACE(absl::StrCat(client.origin.Serialize(), " unregisters (sw ", sw, ", ", DescribeTag(tag), ")"));
    const std::vector<SyncRegistration> others = SyncModel::OthersOf(*engine_, client.origin);
    const bool owned = world_.model.OwnerOf(sw) == client.origin;
    engine_->Unregister(
        client.origin, sw, tag,
        [model = &world_.model, engine = engine_.get(), origin = client.origin, sw, tag, shut_down = shut_down_, owned](
            absl::Status status) { model->OnUnregisterAnswered(origin, sw, tag, shut_down, owned, status, *engine); });
    CheckOthersUnchanged(client.origin, others, "Unregister");
  }

  void SettleEvent() {
    const std::vector<uint64_t> unanswered = world_.model.UnansweredDispatches();
    if (unanswered.empty())
      return;
    const uint64_t number = unanswered[data_.ConsumeIntegralInRange<size_t>(0, unanswered.size() - 1)];
    // Dispatch numbers count the fake dispatcher's events from 1.
    const SyncEventOutcome outcome = ConsumeOutcome(data_);
    FUZZ_TRACE(absl::StrCat("the worker settles dispatch ", number, ": ", SyncEventOutcomeName(outcome)));
    events_.Settle(number - 1, outcome);
  }

  // The worker process of a service worker dies: every event it holds fails.
  void WorkerCrash() {
    const std::vector<uint64_t> unanswered = world_.model.UnansweredDispatches();
    if (unanswered.empty())
      return;
    const int64_t sw =
        world_.model.DispatchedKey(unanswered[data_.ConsumeIntegralInRange<size_t>(0, unanswered.size() - 1)])
            .sw_registration_id;
    FUZZ_TRACE(absl::StrCat("the worker of service worker ", sw, " crashes"));
    for (uint64_t number : unanswered) {
      if (world_.model.DispatchedKey(number).sw_registration_id == sw)
        events_.Settle(number - 1, SyncEventOutcome::kWorkerCrashed);
    }
  }

  // kill -9 of the browser, and a new one on the same disk, perhaps with storage faults during start-up.
  void CrashRestart() {
    FUZZ_TRACE("crash");
    world_.ReleaseCommits();
    world_.Check(*engine_);  // what the released commits did, before the model forgets the engine's events
    world_.model.OnEngineStopping(*engine_);
    engine_.reset();
    shut_down_ = false;
    world_.clock.Advance(absl::Milliseconds(data_.ConsumeIntegralInRange<int>(0, 2000)));
    const bool fail_reads = data_.ConsumeIntegralInRange<int>(0, 7) == 0;
    const int fail_commits = data_.ConsumeIntegralInRange<int>(0, 7) == 0 ? 1 : 0;
    engine_ = world_.StartEngine(&dispatcher_, fail_reads, fail_commits);
  }

  void Explain() {
    const std::vector<SyncRegistration> all = engine_->GetAllRegistrations();
    const std::vector<BackgroundSyncEngine::RegistrationStatus> explained = engine_->ExplainAll();
    FUZZ_CHECK(explained.size() == all.size(),
               absl::StrCat("ExplainAll gave ", explained.size(), " of ", all.size(), " registrations"));
    for (size_t i = 0; i < all.size(); ++i) {
      FUZZ_CHECK(explained[i].registration == all[i],
                 "ExplainAll and GetAllRegistrations disagree on " + DescribeTag(all[i].key.tag));
      FUZZ_CHECK(!explained[i].explanation.empty(), "an empty explanation");
    }
  }

  FuzzedDataProvider& data_;
  SyncWorld world_;
  FakeSyncEventDispatcher events_;
  ModelDispatcher dispatcher_{&world_.model, &world_.clock, &events_};
  std::unique_ptr<BackgroundSyncEngine> engine_;
  bool shut_down_ = false;
  std::vector<Client> clients_;
  ClientId next_client_ = 1;
  std::vector<std::string> tags_;
};

}  // namespace
}  // namespace fuzzing
}  // namespace bgsync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider provider(data, size);
  bgsync::fuzzing::EngineFuzzer fuzzer(provider);
  fuzzer.Run();
  return 0;
}
