#include "browser/background_sync_host.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "grpcpp/grpcpp.h"
#include "grpcpp/resource_quota.h"
#include "public/background_sync_error.h"

namespace bgsync {
namespace {

int Milliseconds(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), std::numeric_limits<int>::max()));
}

}  // namespace

void BackgroundSyncHost::ApplyServerLimits(const Config& config, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, config.max_metadata_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(config.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Milliseconds(config.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // The browser's own keepalive pings must not stop after two without data (gRPC's default).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Milliseconds(config.min_client_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, config.max_ping_strikes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Milliseconds(config.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, Milliseconds(config.handshake_timeout));
  grpc::ResourceQuota quota("bgsync-browser");
  quota.Resize(config.max_grpc_memory_bytes);
  quota.SetMaxThreads(config.max_grpc_threads);
  builder.SetResourceQuota(quota);
}

BackgroundSyncHost::BackgroundSyncHost(Config config, Embedder& embedder)
    : config_(std::move(config)),
      storage_opening_(embedder.storage_opening),
      launcher_(embedder.launcher),
      bad_messages_(
          &sessions_,
          [this](pid_t pid) { launcher_->Kill(pid); },
          [this](const std::string& line) {
            log_.Append({0, absl::Time(), "", 0, "Bad message", "", line});
          }) {}

absl::StatusOr<std::unique_ptr<BackgroundSyncHost>> BackgroundSyncHost::Start(Config config, Embedder embedder) {
  std::unique_ptr<BackgroundSyncHost> host(new BackgroundSyncHost(std::move(config), embedder));
  BackgroundSyncHost& h = *host;
  h.channels_ = std::make_unique<ServerChannelFactory>(&h.sessions_);
  h.worker_processes_ =
      std::make_unique<WorkerProcessHost>(WorkerProcessHost::Options{h.config_.max_worker_processes}, embedder.launcher,
                                          &h.sessions_, h.channels_.get(), embedder.worker_spec);
  h.worker_host_ = std::make_unique<ServiceWorkerHostImpl>(embedder.clock, &h.sessions_, &h.bad_messages_,
                                                           h.worker_processes_.get(), h.config_.worker_options);
  h.worker_processes_->SetHost(h.worker_host_.get());
  h.dispatcher_ = std::make_unique<LoggingEventDispatcher>(h.worker_host_.get(), &h.log_);

  h.observer_ = std::make_unique<LoggingObserver>(&h.log_, embedder.observer);

  // The engine dispatches to the workers directly: its events reach the log through the observer.
  BackgroundSyncEngine::Dependencies deps{embedder.clock,      embedder.network,     embedder.permissions,
                                          embedder.registry,   h.worker_host_.get(), std::move(embedder.storage),
                                          embedder.engagement, h.observer_.get()};
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
      BackgroundSyncEngine::Create(std::move(deps), h.config_.parameters);
  if (!engine.ok())
    return engine.status();
  h.engine_ = *std::move(engine);
  const BackgroundSyncEngine::LoadReport& report = h.engine_->load_report();
  h.log_.Append({0, absl::Time(), "", 0, "Loaded registrations", "",
                 absl::StrCat("loaded=", report.loaded, " interrupted=", report.interrupted,
                              " dropped=", report.dropped_unregistered, " quarantined=", report.quarantined.size())});

  h.rate_limiter_ = std::make_unique<SessionRateLimiter>(
      embedder.clock, h.config_.rate_limit, [log = &h.log_](const std::string& line) {
        log->Append({0, absl::Time(), "", 0, "Rate limited", "", line});
      });
  // A session that ends (process exit, bad message, admin) releases its unacknowledged registrations and its
  // rate-limit bucket.
  // Sessions are revoked on other threads (process exits) until the very end: the observer reaches the engine and
  // the limiter only while the destructor has not taken them away.
  {
    absl::MutexLock lock(&h.revoke_mu_);
    h.revoke_targets_ = {h.engine_.get(), h.rate_limiter_.get()};
  }
  h.sessions_.AddRevokeObserver([host = &h](const Session& s) {
    RevokeTargets targets;
    {
      absl::MutexLock lock(&host->revoke_mu_);
      if (!host->revoke_targets_.engine)
        return;
      targets = host->revoke_targets_;
      ++host->revoke_calls_;
    }
    // Not under the lock: the engine may launch a process, whose channel may revoke another session (this again).
    targets.engine->OnClientDisconnected(s.id);
    targets.limiter->Forget(s.id);
    absl::MutexLock lock(&host->revoke_mu_);
    --host->revoke_calls_;
  });

  h.one_shot_ = std::make_unique<OneShotBackgroundSyncServiceImpl>(
      h.engine_.get(), &h.sessions_, &h.bad_messages_,
      [log = &h.log_](const Session& session, int64_t sw, const std::string& tag, const absl::Status& result) {
        // A success is logged by the engine ("Registered sync").
        if (!result.ok()) {
          log->Append({0, absl::Time(), session.origin.Serialize(), sw, "Registration failed", tag,
                       std::string(SyncErrorName(GetSyncError(result)))});
        }
      },
      h.rate_limiter_.get());
  h.periodic_ = std::make_unique<PeriodicBackgroundSyncServiceImpl>(
      h.engine_.get(), &h.sessions_, &h.bad_messages_,
      [log = &h.log_](const Session& session, int64_t sw, const std::string& tag, const absl::Status& result) {
        // A success is logged by the engine ("Registered periodicsync").
        if (!result.ok()) {
          log->Append({0, absl::Time(), session.origin.Serialize(), sw, "Registration failed", tag,
                       std::string(SyncErrorName(GetSyncError(result)))});
        }
      },
      h.rate_limiter_.get());
  unlink(h.config_.socket_path.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + h.config_.socket_path, grpc::InsecureServerCredentials());
  ApplyServerLimits(h.config_, builder);
  builder.RegisterService(h.one_shot_.get());
  builder.RegisterService(h.periodic_.get());
  builder.RegisterService(h.worker_host_.get());
  h.server_ = builder.BuildAndStart();
  if (!h.server_)
    return absl::UnavailableError("cannot serve on unix:" + h.config_.socket_path);
  h.channels_->Serve(h.server_.get());
  return host;
}

BackgroundSyncHost::~BackgroundSyncHost() {
  // 0. Launch no process any more: its channel would outlive the server.
  // 1. End the workers' streams and abort their events (they fire again at the next start).
  // 2. Stop the engine: Registers already writing finish and are answered OK; later ones are answered SHUT_DOWN.
  //    Answer the refusals the rate limiter holds back.
  // 3. Shut the server down with a short grace for those answers to reach the wire. gRPC 1.51 waits for the whole
  //    deadline while any client connection stays open, so the grace is kept short; every call that matters has
  //    been answered by then.
  if (channels_)
    channels_->Stop();
  if (worker_host_)
    worker_host_->Shutdown();
  if (engine_)
    engine_->Shutdown();
  // Refused calls held back by the rate limiter are answered now, before their server goes.
  if (rate_limiter_)
    rate_limiter_->StopDelaying();
  if (server_)
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  log_.Close();
  {
    // Waits for revoke observers still using them (a process that exited just now).
    absl::MutexLock lock(&revoke_mu_);
    revoke_targets_ = {};
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(revoke_mu_) { return revoke_calls_ == 0; };
    revoke_mu_.Await(absl::Condition(&idle));
  }
  engine_.reset();
  worker_host_.reset();
}

BackgroundSyncHost::StatusCounters BackgroundSyncHost::status_counters() {
  StatusCounters counters;
  counters.events_dispatched = engine_->GetCounters().events_dispatched;
  counters.bad_messages = bad_messages_.count();
  counters.stolen_token_refusals = sessions_.stolen_token_refusals();
  counters.rate_limited_calls = rate_limiter_->refused();
  counters.workers_killed_for_deadline = worker_host_->deadline_stops();
  counters.storage = storage_opening_;
  const BackgroundSyncEngine::LoadReport& report = engine_->load_report();
  counters.quarantined_at_load = static_cast<int>(report.quarantined.size());
  counters.interrupted_at_load = report.interrupted;
  return counters;
}

void BackgroundSyncHost::OnServiceWorkerUnregistered(int64_t sw_registration_id) {
  engine_->OnServiceWorkerUnregistered(sw_registration_id, [](absl::Status) {});
  worker_processes_->StopWorker(sw_registration_id);
}

}  // namespace bgsync
