// The browser's services in-process, for the service fuzzers: OneShotBackgroundSyncServiceImpl,
// PeriodicBackgroundSyncServiceImpl and ServiceWorkerHostImpl over a BackgroundSyncEngine on the fuzzers'
// SyncWorld, called the way gRPC calls them but without a server or sockets:
// - unary calls get a CallbackServerContext whose default reactor is gRPC's test reactor and whose client metadata
//   carries the session token;
// - worker streams are Connect's reactor bound to FakeWorkerStream, which plays gRPC's part (reads, writes,
//   Finish, OnDone in gRPC's order) on the fuzzer's thread;
// - worker processes are FakeWorkerLauncher's, which does what the browser's WorkerProcessHost does.
// Every call is checked against an oracle: the bad-message rules of public/mojom/background_sync.proto, the
// engine's answers (sync_model.h), and "a call of one origin changes nothing of another's".
//
// Thread-safety: none; everything runs on the fuzzer's thread.
#ifndef SERVICES_BACKGROUND_SYNC_FUZZERS_SERVICE_WORLD_H_
#define SERVICES_BACKGROUND_SYNC_FUZZERS_SERVICE_WORLD_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/fuzzers/sync_world.h"
#include "grpcpp/support/server_callback.h"
#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/bad_message_reporter.h"
#include "services/background_sync/one_shot_background_sync_service_impl.h"
#include "services/background_sync/periodic_background_sync_service_impl.h"
#include "services/background_sync/service_worker_host_impl.h"
#include "services/background_sync/session_rate_limiter.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {
namespace fuzzing {

// A renderer's (or a worker's) session, as the fuzzer holds it.
struct Client {
  Session session;
  std::string token;
  bool live = true;  // the fuzzer's own account: false once revoked by anyone
};

// Input no honest renderer sends (public/mojom/background_sync.proto), decided independently of the services.
bool IsBadRegisterRequest(SyncType type, const mojom::RegisterRequest& request);
bool IsBadKey(int64_t sw, const std::string& tag);

// gRPC's side of one ServiceWorkerHost.Connect stream.
class FakeWorkerStream final : public grpc::ServerCallbackReaderWriter<mojom::WorkerMessage, mojom::BrowserMessage> {
 public:
  using Reactor = grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage>;

  // Binds `reactor`, which Connect returned for a caller that presented `client` (nullptr: no valid session).
  FakeWorkerStream(Reactor* reactor, const Client* client);

  // grpc::ServerCallbackReaderWriter.
  void Finish(grpc::Status status) override;
  void SendInitialMetadata() override {}
  void Read(mojom::WorkerMessage* message) override;
  void Write(const mojom::BrowserMessage* message, grpc::WriteOptions options) override;
  void WriteAndFinish(const mojom::BrowserMessage* message, grpc::WriteOptions options, grpc::Status status) override;

  // A read is outstanding: a worker message can be delivered.
  bool CanDeliver() const { return read_ != nullptr && !done_; }
  // Delivers `message` as the read's result.
  void Deliver(const mojom::WorkerMessage& message);
  // The worker's end went away (its process exited or it closed the stream): reads and writes fail from now on.
  void Disconnect() { disconnected_ = true; }
  // Runs the reactions gRPC owes: write completions, the failed read of a finished or broken stream, OnDone.
  void Pump();

  bool finished() const { return finished_; }
  bool done() const { return done_; }
  const grpc::Status& status() const { return status_; }
  const std::optional<Session>& session() const { return session_; }
  const std::string& token() const { return token_; }

  // The worker's view: events received and not answered yet, in arrival order.
  std::vector<uint64_t> Outstanding() const;
  void OnAnswered(uint64_t event_id) { answered_.insert(event_id); }
  // The host took this stream's WorkerReady (and the stream has not ended since).
  bool attached() const { return ready_accepted_ && !finished_; }
  void set_ready_accepted() { ready_accepted_ = true; }
  bool ready_sent() const { return ready_sent_; }
  void set_ready_sent() { ready_sent_ = true; }
  // Messages written since the last call (for the oracle's checks).
  std::vector<mojom::BrowserMessage> TakeWritten();

 private:
  grpc::internal::ServerReactor* reactor() override { return reactor_; }
  void CallOnDone() override {}

  Reactor* const reactor_;  // deleted by its own OnDone
  const std::optional<Session> session_;
  const std::string token_;
  mojom::WorkerMessage* read_ = nullptr;
  bool write_pending_ = false;
  bool finished_ = false;
  bool disconnected_ = false;
  bool done_ = false;
  bool ready_sent_ = false;
  bool ready_accepted_ = false;
  grpc::Status status_;
  std::vector<mojom::BrowserMessage> written_;
  std::vector<uint64_t> received_;
  std::set<uint64_t> answered_;
};

// Starts "worker processes" as the browser's WorkerProcessHost does: a service-worker session per process; the
// process connects when the fuzzer says so. Stopping one asks for its exit, which the fuzzer delivers.
class FakeWorkerLauncher : public WorkerLauncher {
 public:
  enum class Mode { kLaunch, kSpawnFails, kNoSlot };
  struct Process {
    int64_t sw = 0;
    pid_t pid = 0;
    Client client;
    bool stop_requested = false;
  };

  FakeWorkerLauncher(SyncWorld* world, SessionRegistry* sessions) : world_(world), sessions_(sessions) {}

  absl::Status StartWorker(int64_t sw_registration_id) override;
  void StopWorker(int64_t sw_registration_id) override;

  Mode mode = Mode::kLaunch;
  size_t max_processes = 3;
  std::map<int64_t, Process> running;  // by service-worker registration

 private:
  SyncWorld* const world_;
  SessionRegistry* const sessions_;
  pid_t next_pid_ = 5000;
};

// One browser process: sessions, bad-message reporter, per-session rate limiter (small, on the fake clock, refusals
// answered at once), worker host, engine and services. Destroying it is a crash: the engine stops first (nothing
// more is written), then the workers' streams end.
class BrowserServices {
 public:
  // Starts the engine on `world`'s disk, with start-up storage faults (see SyncWorld::StartEngine).
  BrowserServices(SyncWorld* world, bool fail_reads, int fail_commits);
  ~BrowserServices();

  BackgroundSyncEngine& engine() { return *engine_; }
  SyncWorld& world() { return *world_; }

  // --- Renderers.
  Client* NewClient(const Origin& origin, ClientType type, pid_t pid);
  const std::vector<std::unique_ptr<Client>>& clients() const { return clients_; }
  // The renderer closes its connection: the session ends.
  void Disconnect(Client& client);

  // The four renderer-facing unary calls, each checked against the oracles.
  void Register(Client& client, SyncType type, const mojom::RegisterRequest& request);
  void DidResolveRegistration(Client& client, const mojom::DidResolveRegistrationRequest& request);
  void GetRegistrations(Client& client, SyncType type, const mojom::GetRegistrationsRequest& request);
  void Unregister(Client& client, const mojom::UnregisterRequest& request);
  // A call with a token that names no session: UNAUTHENTICATED, nothing changes.
  void CallWithoutSession(const std::string& token);

  // --- Workers.
  FakeWorkerLauncher& launcher() { return launcher_; }
  // ServiceWorkerHost.Connect with `client`'s token (nullptr: `token` alone, e.g. a forged one).
  FakeWorkerStream* Connect(Client* client, const std::string& token);
  const std::vector<std::unique_ptr<FakeWorkerStream>>& streams() const { return streams_; }
  // The worker sends `message` on `stream` (which must be able to take it); checked against the oracle.
  void SendWorkerMessage(FakeWorkerStream& stream, const mojom::WorkerMessage& message);
  // The worker sends bytes gRPC could not parse as a WorkerMessage: the stream breaks.
  void SendUnparsable(FakeWorkerStream& stream);
  // The process of `sw` exits (crash, kill, or the end of a stop the host asked for).
  void ExitWorkerProcess(int64_t sw);

  // Runs everything owed: stream reactions, processes the host or the bad-message reporter killed, until quiet.
  // Then checks the engine's invariants, unless `check` is false (a fuzzer's fixed set-up, checked once at its end).
  void Settle(bool check = true);

  int64_t bad_messages() const { return bad_messages_.count(); }

 private:
  // What every renderer-facing call shares: no live session: UNAUTHENTICATED; input no honest renderer sends:
  // INVALID_ARGUMENT, the session revoked, its process killed, one more bad message; otherwise OK.
  struct Admission {
    bool live;
    bool bad;
    int64_t bad_messages_before;
    int64_t refused_before;
  };
  Admission Admit(const Client& client, bool bad) const {
    return {client.live, bad, bad_messages_.count(), rate_limiter_->refused()};
  }
  // Returns whether the call reached the engine (it was not refused for its session, its input or its rate).
  bool CheckAdmission(const Admission& admission, const grpc::Status& status, Client& client, const char* method);
  void CheckWritten(FakeWorkerStream& stream);
  void ReapKilledProcesses();

  SyncWorld* const world_;
  SessionRegistry sessions_;
  std::vector<pid_t> killed_;
  BadMessageReporter bad_messages_;
  FakeWorkerLauncher launcher_;
  std::unique_ptr<SessionRateLimiter> rate_limiter_;
  std::unique_ptr<ServiceWorkerHostImpl> worker_host_;
  std::unique_ptr<ModelDispatcher> dispatcher_;
  std::unique_ptr<BackgroundSyncEngine> engine_;
  std::unique_ptr<OneShotBackgroundSyncServiceImpl> one_shot_;
  std::unique_ptr<PeriodicBackgroundSyncServiceImpl> periodic_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::unique_ptr<FakeWorkerStream>> streams_;
};

}  // namespace fuzzing
}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_FUZZERS_SERVICE_WORLD_H_
