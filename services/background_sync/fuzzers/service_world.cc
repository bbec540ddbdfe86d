#include "services/background_sync/fuzzers/service_world.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "components/background_sync/fuzzers/fuzz_check.h"
#include "components/background_sync/fuzzers/fuzz_values.h"
#include "grpcpp/server_context.h"
#include "grpcpp/test/default_reactor_test_peer.h"
#include "public/background_sync_error.h"
#include "public/sync_tag.h"

namespace grpc {
namespace testing {

// gRPC declares this class a friend of ServerContextBase for its interop tests; its definition there is not part
// of the installed library, so nothing else in the program defines it. The fuzzers define it to hand an
// in-process call the client metadata a transport would have filled in.
class InteropServerContextInspector {
 public:
  // `key` and `value` must outlive `context`.
  static void AddClientMetadata(ServerContextBase& context, string_ref key, string_ref value) {
    context.client_metadata_.map()->emplace(key, value);
  }
};

}  // namespace testing
}  // namespace grpc

namespace bgsync {
namespace fuzzing {
namespace {

using E = BackgroundSyncError;

// One unary call without a transport: the context carries the token, and gRPC's test reactor runs `on_finish` when
// the service finishes the call.
class UnaryCall {
 public:
  UnaryCall(std::string token, std::function<void(grpc::Status)> on_finish)
      : token_(std::move(token)),
        peer_(
            &context_,
            on_finish ? std::move(on_finish) : [](grpc::Status) {}) {
    grpc::testing::InteropServerContextInspector::AddClientMetadata(context_, kSessionMetadataKey, token_);
  }

  grpc::CallbackServerContext* context() { return &context_; }

  // Everything runs synchronously here, so the service has finished the call by the time it returns.
  grpc::Status Finished(grpc::ServerUnaryReactor* reactor, const char* method) {
    FUZZ_CHECK(reactor == peer_.reactor(), absl::StrCat(method, " returned a reactor that is not the call's own"));
    FUZZ_CHECK(peer_.test_status_set(), absl::StrCat(method, " never finished its call"));
    return peer_.test_status();
  }

 private:
  const std::string token_;
  grpc::CallbackServerContext context_;
  grpc::testing::DefaultReactorTestPeer peer_;
};

std::string Describe(const grpc::Status& status) {
  return absl::StrCat("gRPC status ", status.error_code(), " \"", status.error_message(), "\"");
}

// An error reply as the engine's status; checks that it is a real error.
absl::Status ErrorReply(BackgroundSyncError error, const char* method) {
  FUZZ_CHECK(error != E::BACKGROUND_SYNC_ERROR_UNSPECIFIED && BackgroundSyncError_IsValid(error),
             absl::StrCat(method, " replied with error ", static_cast<int>(error)));
  return SyncError(error);
}

}  // namespace

bool IsBadKey(int64_t sw, const std::string& tag) {
  return sw <= 0 || !IsWellFormedUtf8ByTable(tag);
}

bool IsBadRegisterRequest(SyncType type, const mojom::RegisterRequest& request) {
  const int64_t interval = request.options().min_interval_ms();
  return IsBadKey(request.service_worker_registration_id(), request.options().tag()) ||
         (type == SyncType::kOneShot && interval != 0) || (type == SyncType::kPeriodic && interval < 0);
}

// ---------------------------------------------------------------------------------------------------------------
// FakeWorkerStream.

FakeWorkerStream::FakeWorkerStream(Reactor* reactor, const Client* client)
    : reactor_(reactor),
      session_(client ? std::optional<Session>(client->session) : std::nullopt),
      token_(client ? client->token : std::string()) {
  // Runs what the reactor asked for before it had a stream (its first read, or Finish).
  BindReactor(reactor);
}

void FakeWorkerStream::Finish(grpc::Status status) {
  FUZZ_CHECK(!finished_, "a worker stream was finished twice");
  finished_ = true;
  status_ = std::move(status);
}

void FakeWorkerStream::Read(mojom::WorkerMessage* message) {
  FUZZ_CHECK(read_ == nullptr, "two reads outstanding on a worker stream");
  FUZZ_CHECK(!finished_, "a read after Finish on a worker stream");
  read_ = message;
}

void FakeWorkerStream::Write(const mojom::BrowserMessage* message, grpc::WriteOptions options) {
  FUZZ_CHECK(!write_pending_, "two writes outstanding on a worker stream");
  FUZZ_CHECK(!finished_, "a write after Finish on a worker stream");
  write_pending_ = true;
  written_.push_back(*message);
}

void FakeWorkerStream::WriteAndFinish(const mojom::BrowserMessage* message,
                                      grpc::WriteOptions options,
                                      grpc::Status status) {
  Write(message, options);
  Finish(std::move(status));
}

void FakeWorkerStream::Deliver(const mojom::WorkerMessage& message) {
  FUZZ_CHECK(CanDeliver(), "no read outstanding");
  mojom::WorkerMessage* target = read_;
  read_ = nullptr;
  *target = message;
  reactor_->OnReadDone(true);
}

void FakeWorkerStream::Pump() {
  while (!done_) {
    if (write_pending_) {
      write_pending_ = false;
      reactor_->OnWriteDone(!disconnected_);
    } else if (read_ != nullptr && (disconnected_ || finished_)) {
      read_ = nullptr;
      reactor_->OnReadDone(false);
    } else if (finished_) {
      done_ = true;
      reactor_->OnDone();  // the reactor deletes itself
    } else {
      return;
    }
  }
}

std::vector<uint64_t> FakeWorkerStream::Outstanding() const {
  std::vector<uint64_t> ids;
  for (uint64_t id : received_) {
    if (!answered_.count(id))
      ids.push_back(id);
  }
  return ids;
}

std::vector<mojom::BrowserMessage> FakeWorkerStream::TakeWritten() {
  std::vector<mojom::BrowserMessage> written = std::move(written_);
  written_.clear();
  for (const mojom::BrowserMessage& message : written) {
    const uint64_t id =
        message.has_sync_event() ? message.sync_event().event_id() : message.periodic_sync_event().event_id();
    FUZZ_CHECK(std::find(received_.begin(), received_.end(), id) == received_.end(),
               absl::StrCat("event id ", id, " sent twice on one stream"));
    received_.push_back(id);
  }
  return written;
}

// ---------------------------------------------------------------------------------------------------------------
// FakeWorkerLauncher: what browser/process/worker_process_host.cc does.

absl::Status FakeWorkerLauncher::StartWorker(int64_t sw) {
  std::optional<ServiceWorkerRegistrationInfo> info = world_->registry.Find(sw);
  if (!info)
    return absl::NotFoundError("no such service-worker registration");
  if (!info->has_active_worker)
    return absl::FailedPreconditionError("no active worker");
  if (running.count(sw))
    return absl::OkStatus();
  if (mode == Mode::kSpawnFails)
    return absl::InternalError("spawn failed");
  if (mode == Mode::kNoSlot || running.size() >= max_processes)
    return absl::ResourceExhaustedError("every worker-process slot is taken");
  const pid_t pid = next_pid_++;
  absl::StatusOr<SessionRegistry::Created> created =
      sessions_->Create(info->origin, ClientType::kServiceWorker, sw, pid);
  if (!created.ok())
    return created.status();
  FUZZ_TRACE(
      absl::StrCat("worker process of service worker ", sw, " started: pid ", pid, ", session ", created->session.id));
  running[sw] = Process{sw, pid, Client{created->session, created->token, true}, false};
  return absl::OkStatus();
}

void FakeWorkerLauncher::StopWorker(int64_t sw) {
  auto it = running.find(sw);
  if (it != running.end())
    it->second.stop_requested = true;
}

// ---------------------------------------------------------------------------------------------------------------
// BrowserServices.

BrowserServices::BrowserServices(SyncWorld* world, bool fail_reads, int fail_commits)
    : world_(world),
      bad_messages_(&sessions_, [this](pid_t pid) { killed_.push_back(pid); }),
      launcher_(world, &sessions_) {
  WorkerHostOptions options;
  options.max_events_per_worker = 2;  // so that events queue
  worker_host_ =
      std::make_unique<ServiceWorkerHostImpl>(&world_->clock, &sessions_, &bad_messages_, &launcher_, options);
  dispatcher_ = std::make_unique<ModelDispatcher>(&world_->model, &world_->clock, worker_host_.get());
  // A burst of 12 calls, then one a second (of the fake clock): inputs reach the limit.
  RateLimit limit;
  limit.calls_per_second = 1;
  limit.burst = 12;
  limit.refusal_delay = absl::ZeroDuration();
  rate_limiter_ = std::make_unique<SessionRateLimiter>(&world_->clock, limit);
  // As BackgroundSyncHost does: a session that ends releases its unacknowledged registrations. The model hears
  // first, since the engine may fire them at once.
  sessions_.AddRevokeObserver([this](const Session& session) {
    world_->model.OnClientDisconnected(session.id);
    if (engine_)
      engine_->OnClientDisconnected(session.id);
    rate_limiter_->Forget(session.id);
  });
  engine_ = world_->StartEngine(dispatcher_.get(), fail_reads, fail_commits);
  one_shot_ = std::make_unique<OneShotBackgroundSyncServiceImpl>(engine_.get(), &sessions_, &bad_messages_, nullptr,
                                                                 rate_limiter_.get());
  periodic_ = std::make_unique<PeriodicBackgroundSyncServiceImpl>(engine_.get(), &sessions_, &bad_messages_, nullptr,
                                                                  rate_limiter_.get());
}

BrowserServices::~BrowserServices() {
  // kill -9: nothing more reaches the disk. Then the workers' streams end, as the dying process's sockets close.
  world_->model.OnEngineStopping(*engine_);
  engine_->Shutdown();
  worker_host_->Shutdown();
  for (const std::unique_ptr<FakeWorkerStream>& stream : streams_) {
    stream->Disconnect();
    stream->Pump();
    FUZZ_CHECK(stream->done(), "a worker stream did not end when its client went away");
  }
  one_shot_.reset();
  periodic_.reset();
  engine_.reset();
  worker_host_.reset();
}

Client* BrowserServices::NewClient(const Origin& origin, ClientType type, pid_t pid) {
  absl::StatusOr<SessionRegistry::Created> created = sessions_.Create(origin, type, 0, pid);
  FUZZ_CHECK(created.ok(), "cannot create a session: " + created.status().ToString());
  FUZZ_TRACE(absl::StrCat("session ", created->session.id, ": ", ClientTypeName(type), " of ", origin.Serialize(),
                          ", pid ", pid));
  clients_.push_back(std::make_unique<Client>(Client{created->session, created->token, true}));
  return clients_.back().get();
}

void BrowserServices::Disconnect(Client& client) {
  FUZZ_TRACE(absl::StrCat("session ", client.session.id, " disconnects"));
  client.live = false;
  sessions_.Revoke(client.session.id);
}

bool BrowserServices::CheckAdmission(const Admission& admission,
                                     const grpc::Status& status,
                                     Client& client,
                                     const char* method) {
  if (!admission.live) {
    FUZZ_CHECK(status.error_code() == grpc::StatusCode::UNAUTHENTICATED,
               absl::StrCat(method, " on a dead session: ", Describe(status)));
    FUZZ_CHECK(bad_messages_.count() == admission.bad_messages_before, "a dead session counted a bad message");
    return false;
  }
  if (admission.bad) {
    FUZZ_CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT,
               absl::StrCat(method, " with input no honest renderer sends: ", Describe(status)));
    FUZZ_CHECK(bad_messages_.count() == admission.bad_messages_before + 1, "the bad message was not counted");
    FUZZ_CHECK(!sessions_.Authenticate(client.token), "the session survived a bad message");
    FUZZ_CHECK(client.session.pid == 0 || std::count(killed_.begin(), killed_.end(), client.session.pid) > 0,
               "the process that sent a bad message was not killed");
    client.live = false;
    return false;
  }
  FUZZ_CHECK(bad_messages_.count() == admission.bad_messages_before, "a good call counted a bad message");
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    FUZZ_CHECK(rate_limiter_->refused() == admission.refused_before + 1,
               absl::StrCat(method, " refused for its rate, but the limiter did not count it"));
    return false;
  }
  FUZZ_CHECK(status.ok(), absl::StrCat(method, " failed: ", Describe(status)));
  FUZZ_CHECK(rate_limiter_->refused() == admission.refused_before, "the limiter counted a call it let through");
  return true;
}

void BrowserServices::Register(Client& client, SyncType type, const mojom::RegisterRequest& request) {
  const Origin origin = client.session.origin;
  const int64_t sw = request.service_worker_registration_id();
  const std::string tag = request.options().tag();
  const int64_t interval_ms = request.options().min_interval_ms();
  const RegistrationKey key{sw, type, tag};
  const Admission admission = Admit(client, IsBadRegisterRequest(type, request));
  FUZZ_TRACE(absl::StrCat("session ", client.session.id, " of ", origin.Serialize(), " calls ", SyncTypeName(type),
                          " Register(sw ", sw, ", ", DescribeTag(tag), ", interval ", interval_ms, " ms)"));
  std::optional<RegisterExpectation> expected;
  if (admission.live && !admission.bad) {
    expected = world_->ExpectRegister(origin, sw, type, tag, absl::Milliseconds(interval_ms), /*shut_down=*/false);
    world_->model.OnRegisterRequested(origin, key);
  }
  const std::vector<SyncRegistration> others = SyncModel::OthersOf(*engine_, origin);
  mojom::RegisterReply reply;
  UnaryCall call(client.token, [&](grpc::Status status) {
    if (!status.ok() || !expected)
      return;
    // The reply is complete when the call finishes, before the engine fires the registration: the model hears now.
    absl::Status result;
    if (reply.has_registration()) {
      FUZZ_CHECK(reply.registration().tag() == tag && reply.registration().min_interval_ms() == interval_ms,
                 "Register did not echo the registration");
    } else {
      FUZZ_CHECK(reply.has_error(), "Register replied with neither a registration nor an error");
      result = ErrorReply(reply.error(), "Register");
    }
    world_->model.OnRegisterAnswered(origin, key, client.session.id, *expected, nullptr, result,
                                     /*synchronous=*/true);
  });
  grpc::ServerUnaryReactor* reactor = type == SyncType::kOneShot
                                          ? one_shot_->Register(call.context(), &request, &reply)
                                          : periodic_->Register(call.context(), &request, &reply);
  const grpc::Status status = call.Finished(reactor, "Register");
  if (!CheckAdmission(admission, status, client, "Register") && expected)
    world_->model.OnRegisterNotAnswered(key);
  FUZZ_CHECK(SyncModel::OthersOf(*engine_, origin) == others, "Register changed another origin's registrations");
}

void BrowserServices::DidResolveRegistration(Client& client, const mojom::DidResolveRegistrationRequest& request) {
  const Origin origin = client.session.origin;
  const RegistrationKey key{request.service_worker_registration_id(), SyncType::kOneShot, request.tag()};
  const Admission admission = Admit(client, IsBadKey(key.sw_registration_id, key.tag));
  FUZZ_TRACE(absl::StrCat("session ", client.session.id, " of ", origin.Serialize(),
                          " calls DidResolveRegistration(sw ", key.sw_registration_id, ", ", DescribeTag(key.tag),
                          ")"));
  // The engine may fire the registration inside the call: the model hears first. (An acknowledgement for a key
  // that does not wait on this client changes nothing, in the model as in the engine.)
  ClientId cleared = 0;
  if (admission.live && !admission.bad)
    cleared = world_->model.OnDidResolve(client.session.id, key);
  const std::vector<SyncRegistration> others = SyncModel::OthersOf(*engine_, origin);
  mojom::DidResolveRegistrationReply reply;
  UnaryCall call(client.token, nullptr);
  grpc::ServerUnaryReactor* reactor = one_shot_->DidResolveRegistration(call.context(), &request, &reply);
  const grpc::Status status = call.Finished(reactor, "DidResolveRegistration");
  if (!CheckAdmission(admission, status, client, "DidResolveRegistration"))
    world_->model.UndoDidResolve(key, cleared);
  FUZZ_CHECK(SyncModel::OthersOf(*engine_, origin) == others,
             "DidResolveRegistration changed another origin's registrations");
}

void BrowserServices::GetRegistrations(Client& client, SyncType type, const mojom::GetRegistrationsRequest& request) {
  const Origin origin = client.session.origin;
  const int64_t sw = request.service_worker_registration_id();
  const Admission admission = Admit(client, sw <= 0);
  FUZZ_TRACE(absl::StrCat("session ", client.session.id, " of ", origin.Serialize(), " calls ", SyncTypeName(type),
                          " GetRegistrations(sw ", sw, ")"));
  mojom::GetRegistrationsReply reply;
  UnaryCall call(client.token, [&](grpc::Status status) {
    if (!status.ok() || !admission.live || admission.bad)
      return;
    absl::StatusOr<std::vector<std::string>> answer;
    if (reply.has_registrations()) {
      std::vector<std::string> tags;
      for (const mojom::SyncRegistrationOptions& options : reply.registrations().registrations()) {
        FUZZ_CHECK(options.min_interval_ms() == 0, "GetRegistrations filled in a min_interval_ms");
        tags.push_back(options.tag());
      }
      answer = std::move(tags);
    } else {
      FUZZ_CHECK(reply.has_error(), "GetRegistrations replied with neither tags nor an error");
      answer = ErrorReply(reply.error(), "GetRegistrations");
    }
    world_->model.CheckGetRegistrations(origin, sw, type, /*shut_down=*/false, answer, *engine_);
  });
  grpc::ServerUnaryReactor* reactor = type == SyncType::kOneShot
                                          ? one_shot_->GetRegistrations(call.context(), &request, &reply)
                                          : periodic_->GetRegistrations(call.context(), &request, &reply);
  const grpc::Status status = call.Finished(reactor, "GetRegistrations");
  CheckAdmission(admission, status, client, "GetRegistrations");
}

void BrowserServices::Unregister(Client& client, const mojom::UnregisterRequest& request) {
  const Origin origin = client.session.origin;
  const int64_t sw = request.service_worker_registration_id();
  const std::string tag = request.tag();
  const Admission admission = Admit(client, IsBadKey(sw, tag));
  FUZZ_TRACE(absl::StrCat("session ", client.session.id, " of ", origin.Serialize(), " calls Unregister(sw ", sw, ", ",
                          DescribeTag(tag), ")"));
  const std::vector<SyncRegistration> others = SyncModel::OthersOf(*engine_, origin);
  mojom::UnregisterReply reply;
  UnaryCall call(client.token, [&](grpc::Status status) {
    if (!status.ok() || !admission.live || admission.bad)
      return;
    absl::Status result;
    if (!reply.has_unregistered()) {
      FUZZ_CHECK(reply.has_error(), "Unregister replied with neither unregistered nor an error");
      result = ErrorReply(reply.error(), "Unregister");
    }
    // Synchronous: the ownership now is the ownership at the call.
    world_->model.OnUnregisterAnswered(origin, sw, tag, /*shut_down=*/false, world_->model.OwnerOf(sw) == origin,
                                       result, *engine_);
  });
  grpc::ServerUnaryReactor* reactor = periodic_->Unregister(call.context(), &request, &reply);
  const grpc::Status status = call.Finished(reactor, "Unregister");
  CheckAdmission(admission, status, client, "Unregister");
  FUZZ_CHECK(SyncModel::OthersOf(*engine_, origin) == others, "Unregister changed another origin's registrations");
}

void BrowserServices::CallWithoutSession(const std::string& token) {
  const std::vector<SyncRegistration> before = engine_->GetAllRegistrations();
  const int64_t bad_before = bad_messages_.count();
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(1);
  request.mutable_options()->set_tag("forged");
  mojom::RegisterReply reply;
  UnaryCall call(token, nullptr);
  const grpc::Status status =
      call.Finished(one_shot_->Register(call.context(), &request, &reply), "Register without a session");
  FUZZ_CHECK(status.error_code() == grpc::StatusCode::UNAUTHENTICATED,
             "a call without a live session: " + Describe(status));
  FUZZ_CHECK(engine_->GetAllRegistrations() == before && bad_messages_.count() == bad_before,
             "a call without a live session changed something");
}

// ---------------------------------------------------------------------------------------------------------------
// Workers.

FakeWorkerStream* BrowserServices::Connect(Client* client, const std::string& token) {
  FUZZ_TRACE(client ? absl::StrCat("session ", client->session.id, " connects as a worker")
                    : "a worker connects with a forged token");
  const int64_t bad_before = bad_messages_.count();
  grpc::CallbackServerContext context;
  grpc::testing::InteropServerContextInspector::AddClientMetadata(context, kSessionMetadataKey, token);
  FakeWorkerStream::Reactor* reactor = worker_host_->Connect(&context);
  const bool live = client != nullptr && client->live;
  streams_.push_back(std::make_unique<FakeWorkerStream>(reactor, live ? client : nullptr));
  FakeWorkerStream& stream = *streams_.back();
  if (!live) {
    FUZZ_CHECK(stream.finished() && stream.status().error_code() == grpc::StatusCode::UNAUTHENTICATED,
               "Connect without a live session: " + Describe(stream.status()));
  } else if (client->session.type != ClientType::kServiceWorker) {
    FUZZ_CHECK(stream.finished() && stream.status().error_code() == grpc::StatusCode::INVALID_ARGUMENT,
               "Connect on a renderer's session: " + Describe(stream.status()));
    FUZZ_CHECK(bad_messages_.count() == bad_before + 1 && !sessions_.Authenticate(client->token),
               "Connect on a renderer's session was not punished");
    client->live = false;
    return &stream;
  } else {
    FUZZ_CHECK(!stream.finished() && stream.CanDeliver(),
               "a worker's Connect was refused: " + Describe(stream.status()));
  }
  FUZZ_CHECK(bad_messages_.count() == bad_before, "Connect counted a bad message");
  return &stream;
}

void BrowserServices::SendWorkerMessage(FakeWorkerStream& stream, const mojom::WorkerMessage& message) {
  FUZZ_CHECK(stream.CanDeliver() && stream.session(), "the fuzzer sent on a stream that cannot take it");
  stream.Pump();  // writes complete first, so that a Finish is never deferred behind one
  if (!stream.CanDeliver())
    return;
  const Session& session = *stream.session();
  enum class Expect { kAccept, kIgnore, kReject } expect = Expect::kReject;
  switch (message.message_case()) {
    case mojom::WorkerMessage::kReady: {
      bool attached = false;
      for (const std::unique_ptr<FakeWorkerStream>& other : streams_) {
        attached |= other->session() &&
                    other->session()->service_worker_registration_id == session.service_worker_registration_id &&
                    other->attached();
      }
      expect = attached ? Expect::kReject : Expect::kAccept;
      stream.set_ready_sent();
      break;
    }
    case mojom::WorkerMessage::kSyncEventResult: {
      const mojom::SyncEventResult& result = message.sync_event_result();
      const bool valid_status = result.status() == mojom::SYNC_EVENT_STATUS_COMPLETED ||
                                result.status() == mojom::SYNC_EVENT_STATUS_REJECTED ||
                                result.status() == mojom::SYNC_EVENT_STATUS_ABORTED;
      const std::vector<uint64_t> outstanding = stream.Outstanding();
      if (!valid_status) {
        expect = Expect::kReject;
      } else if (!stream.attached()) {
        expect = Expect::kIgnore;  // detached (or never ready): the host drops it
      } else if (std::find(outstanding.begin(), outstanding.end(), result.event_id()) != outstanding.end()) {
        expect = Expect::kAccept;
      } else {
        expect = Expect::kReject;  // never sent, or answered already
      }
      break;
    }
    default:
      expect = Expect::kReject;  // an empty WorkerMessage
      break;
  }
  const int64_t bad_before = bad_messages_.count();
  FUZZ_TRACE(absl::StrCat("the worker of session ", session.id, " (service worker ",
                          session.service_worker_registration_id, ") sends ", message.ShortDebugString()));
  stream.Deliver(message);
  stream.Pump();
  CheckWritten(stream);
  const auto what = [&] {
    return std::string(absl::StrCat("worker message ", message.ShortDebugString(), " on the stream of service worker ",
                                    session.service_worker_registration_id));
  };
  if (expect == Expect::kReject) {
    FUZZ_CHECK(bad_messages_.count() == bad_before + 1, what() + " was not reported as a bad message");
    FUZZ_CHECK(stream.finished() && stream.status().error_code() == grpc::StatusCode::INVALID_ARGUMENT,
               what() + " did not end the stream: " + Describe(stream.status()));
    FUZZ_CHECK(!sessions_.Authenticate(stream.token()), what() + " left the worker's session alive");
    return;
  }
  FUZZ_CHECK(bad_messages_.count() == bad_before, what() + " was reported as a bad message");
  if (expect == Expect::kAccept) {
    if (message.has_ready()) {
      stream.set_ready_accepted();
    } else {
      stream.OnAnswered(message.sync_event_result().event_id());
    }
  }
}

void BrowserServices::SendUnparsable(FakeWorkerStream& stream) {
  FUZZ_TRACE("a worker stream breaks");
  stream.Disconnect();
  stream.Pump();
}

void BrowserServices::ExitWorkerProcess(int64_t sw) {
  auto it = launcher_.running.find(sw);
  if (it == launcher_.running.end())
    return;
  const pid_t pid = it->second.pid;
  FUZZ_TRACE(absl::StrCat("the worker process of service worker ", sw, " (pid ", pid, ") exits"));
  launcher_.running.erase(it);
  for (const std::unique_ptr<FakeWorkerStream>& stream : streams_) {
    if (stream->session() && stream->session()->pid == pid)
      stream->Disconnect();
  }
  sessions_.RevokeProcess(pid);
  worker_host_->OnWorkerProcessGone(sw);
}

void BrowserServices::ReapKilledProcesses() {
  std::vector<pid_t> killed = std::move(killed_);
  killed_.clear();
  for (pid_t pid : killed) {
    for (const std::unique_ptr<Client>& client : clients_) {
      if (client->session.pid == pid)
        client->live = false;
    }
    sessions_.RevokeProcess(pid);
    for (const auto& [sw, process] : launcher_.running) {
      if (process.pid == pid) {
        ExitWorkerProcess(sw);
        break;
      }
    }
  }
}

void BrowserServices::CheckWritten(FakeWorkerStream& stream) {
  for (const mojom::BrowserMessage& message : stream.TakeWritten()) {
    FUZZ_CHECK(stream.session() && stream.ready_sent(), "an event was sent to a worker that never said ready");
    const Session& session = *stream.session();
    const bool periodic = message.has_periodic_sync_event();
    FUZZ_CHECK(periodic || message.has_sync_event(), "an empty BrowserMessage");
    const std::string& tag = periodic ? message.periodic_sync_event().tag() : message.sync_event().tag();
    const int64_t timeout_ms =
        periodic ? message.periodic_sync_event().timeout_ms() : message.sync_event().timeout_ms();
    const RegistrationKey key{session.service_worker_registration_id,
                              periodic ? SyncType::kPeriodic : SyncType::kOneShot, tag};
    FUZZ_CHECK(timeout_ms > 0, "an event without time to run");
    // Events go only to the worker of their own service worker, of their own origin.
    FUZZ_CHECK(world_->model.WasRequested(key, session.origin),
               absl::StrCat("the worker of service worker ", session.service_worker_registration_id, " (",
                            session.origin.Serialize(), ") got an event for ", DescribeTag(tag),
                            ", which it never registered"));
  }
}

void BrowserServices::Settle(bool check) {
  for (int round = 0; round < 16; ++round) {
    bool busy = !killed_.empty();
    ReapKilledProcesses();
    std::vector<int64_t> stopping;
    for (const auto& [sw, process] : launcher_.running) {
      if (process.stop_requested)
        stopping.push_back(sw);
    }
    busy |= !stopping.empty();
    for (int64_t sw : stopping)
      ExitWorkerProcess(sw);
    for (size_t i = 0; i < streams_.size(); ++i) {
      FakeWorkerStream& stream = *streams_[i];
      const bool was_done = stream.done();
      stream.Pump();
      CheckWritten(stream);
      busy |= stream.done() != was_done;
    }
    if (!busy)
      break;
  }
  if (check)
    world_->Check(*engine_);
}

}  // namespace fuzzing
}  // namespace bgsync
