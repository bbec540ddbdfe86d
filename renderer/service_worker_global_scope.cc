#include "renderer/service_worker_global_scope.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/notification.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "renderer/browser_channel.h"
#include "renderer/event_threads.h"
#include "renderer/session_bootstrap.h"

namespace bgsync {

using SyncHandler = std::function<void(SyncEvent&)>;
using PeriodicSyncHandler = std::function<void(PeriodicSyncEvent&)>;

// ---------------------------------------------------------------------------------------------------------------
// Events

ExtendableEvent::ExtendableEvent(absl::Time deadline) : deadline_(deadline) {}

void ExtendableEvent::WaitUntil(std::shared_future<absl::Status> promise) {
  absl::MutexLock lock(&mu_);
  if (!settled_)
    promises_.push_back(std::move(promise));
}

bool ExtendableEvent::PromisesReady() {
  absl::MutexLock lock(&mu_);
  for (size_t i = next_promise_; i < promises_.size(); ++i) {
    if (promises_[i].valid() && promises_[i].wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      return false;
  }
  return true;
}

std::optional<std::shared_future<absl::Status>> ExtendableEvent::TakeNextPromise() {
  absl::MutexLock lock(&mu_);
  if (next_promise_ == promises_.size()) {
    settled_ = true;
    return std::nullopt;
  }
  return promises_[next_promise_++];
}

SyncEvent::SyncEvent(std::string tag, bool last_chance, absl::Time deadline)
    : ExtendableEvent(deadline), tag_(std::move(tag)), last_chance_(last_chance) {}

PeriodicSyncEvent::PeriodicSyncEvent(std::string tag, absl::Time deadline)
    : ExtendableEvent(deadline), tag_(std::move(tag)) {}

// ---------------------------------------------------------------------------------------------------------------
// Core: the Connect stream (a callback-API bidi reactor) and the state events share with it.
//
// Writes are serialized through a queue: at most one StartWrite or StartWritesDone is outstanding. A hold keeps
// the reactor from finishing while a write may still be started; it is released once the write side is closed
// (the stream ended, a write failed, or Stop half-closed it) and no write is outstanding. Start* calls are made
// outside mu_: gRPC may run a reaction inline on the calling thread.
//
// Lifetime: Run keeps the reactor alive until OnDone (the caller owns the scope while Run runs); event threads
// share it. No gRPC thread ever holds a reference: the last one, and with it the stub's grpc::Channel, must never
// be released on a gRPC callback thread (a channel released there tears down the callback machinery under it).

class ServiceWorkerGlobalScope::Core final
    : public grpc::ClientBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage>,
      public std::enable_shared_from_this<Core> {
 public:
  Core(std::shared_ptr<grpc::Channel> channel, const std::string& token, ServiceWorkerGlobalScopeOptions options)
      : options_(options), stub_(mojom::ServiceWorkerHost::NewStub(std::move(channel))) {
    AddSessionMetadata(context_, token);
  }

  void AddListener(std::string type, SyncHandler handler) {
    CheckNotRunning();
    if (type == "sync")
      sync_handlers_.push_back(std::move(handler));
    else
      other_sync_handlers_.push_back(std::move(handler));
  }

  void AddListener(std::string type, PeriodicSyncHandler handler) {
    CheckNotRunning();
    if (type == "periodicsync")
      periodic_sync_handlers_.push_back(std::move(handler));
    else
      other_periodic_sync_handlers_.push_back(std::move(handler));
  }

  absl::Status Run() {
    {
      absl::MutexLock lock(&mu_);
      if (run_called_)
        return absl::FailedPreconditionError("ServiceWorkerGlobalScope::Run called twice");
      run_called_ = true;
      if (stop_requested_)
        return absl::OkStatus();
      writes_open_ = true;
      // The first write is claimed here so that a concurrent Stop() only queues until the stream is bound.
      current_write_.mutable_ready();
      write_in_flight_ = true;
    }
    stub_->async()->Connect(&context_, this);
    AddHold();
    StartWrite(&current_write_);
    StartRead(&incoming_);
    StartCall();
    finished_.WaitForNotification();
    absl::MutexLock lock(&mu_);
    return final_status_;
  }

  void Stop() {
    PendingStart next;
    {
      absl::MutexLock lock(&mu_);
      if (!run_called_) {
        stop_requested_ = true;
        return;
      }
      if (stop_requested_ || !writes_open_)
        return;
      stop_requested_ = true;
      for (uint64_t event_id : in_flight_)
        QueueResultLocked(event_id, mojom::SYNC_EVENT_STATUS_ABORTED);
      in_flight_.clear();
      writes_done_pending_ = true;
      next = TakeNextWriteLocked();
    }
    Start(next);
  }

  // Reports the outcome of an event, unless the stream can no longer carry it or the event was already
  // answered (ABORTED by Stop).
  void ReportResult(uint64_t event_id, mojom::SyncEventStatus status) {
    PendingStart next;
    {
      absl::MutexLock lock(&mu_);
      if (!writes_open_ || writes_done_pending_ || in_flight_.erase(event_id) == 0)
        return;
      QueueResultLocked(event_id, status);
      next = TakeNextWriteLocked();
    }
    Start(next);
  }

 private:
  enum class PendingStart { kNothing, kWrite, kWritesDone };

  void OnReadDone(bool ok) override {
    if (!ok) {
      bool release_hold;
      {
        absl::MutexLock lock(&mu_);
        CloseWritesLocked();
        release_hold = TakeHoldReleaseLocked();
      }
      if (release_hold)
        RemoveHold();
      return;
    }
    if (incoming_.has_sync_event()) {
      const mojom::SyncEvent& message = incoming_.sync_event();
      StartEvent(message.event_id(), message.timeout_ms(), sync_handlers_, [&message](absl::Time deadline) {
        return std::make_shared<SyncEvent>(message.tag(), message.last_chance(), deadline);
      });
    } else if (incoming_.has_periodic_sync_event()) {
      const mojom::PeriodicSyncEvent& message = incoming_.periodic_sync_event();
      StartEvent(message.event_id(), message.timeout_ms(), periodic_sync_handlers_, [&message](absl::Time deadline) {
        return std::make_shared<PeriodicSyncEvent>(message.tag(), deadline);
      });
    }
    // Other messages are from a newer browser: ignored (the browser times such an event out).
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    PendingStart next;
    bool release_hold;
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      if (!ok)
        CloseWritesLocked();
      next = TakeNextWriteLocked();
      release_hold = TakeHoldReleaseLocked();
    }
    if (release_hold)
      RemoveHold();
    Start(next);
  }

  void OnWritesDoneDone(bool ok) override {
    bool release_hold;
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      release_hold = TakeHoldReleaseLocked();
    }
    if (release_hold)
      RemoveHold();
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      if (status.ok() || (stop_requested_ && status.error_code() == grpc::StatusCode::CANCELLED))
        final_status_ = absl::OkStatus();
      else
        final_status_ = absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
    }
    // The last touch of `this`: Run returns, and its caller may destroy the scope.
    finished_.Notify();
  }

  // Makes the event (make_event(deadline)) `event_id`, runs `handlers` on it and settles it: all on a thread of its
  // own (threads_), or the handlers inline and only unsettled promises on a thread of their own.
  template <typename Event, typename MakeEvent>
  void StartEvent(uint64_t event_id,
                  int64_t timeout_ms,
                  const std::vector<std::function<void(Event&)>>& handlers,
                  MakeEvent make_event) {
    // The deadline counts from when the worker receives the event.
    absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
    {
      absl::MutexLock lock(&mu_);
      // After Stop, or once the stream is closing, the event could not be answered.
      if (!writes_open_ || writes_done_pending_)
        return;
      in_flight_.insert(event_id);
    }
    std::shared_ptr<Event> event = make_event(deadline);
    if (options_.run_handlers_inline) {
      // On the reaction's thread: `this` lives until OnDone, after this reaction. No reference to the core is
      // taken (or dropped) here unless the event must wait on a thread of its own.
      const bool rejected = ServiceWorkerGlobalScope::RunHandlers(*event, handlers);
      if (event->PromisesReady())
        return ServiceWorkerGlobalScope::SettleEvent(*this, event_id, *event, rejected);
      if (!threads_->Run([core = shared_from_this(), event, event_id, rejected] {
            ServiceWorkerGlobalScope::SettleEvent(*core, event_id, *event, rejected);
          })) {
        ReportResult(event_id, mojom::SYNC_EVENT_STATUS_ABORTED);
      }
      return;
    }
    if (!threads_->Run([core = shared_from_this(), event, event_id, &handlers] {
          const bool rejected = ServiceWorkerGlobalScope::RunHandlers(*event, handlers);
          ServiceWorkerGlobalScope::SettleEvent(*core, event_id, *event, rejected);
        })) {
      ReportResult(event_id, mojom::SYNC_EVENT_STATUS_ABORTED);
    }
  }

  void CheckNotRunning() {
    absl::MutexLock lock(&mu_);
    if (run_called_) {
      std::fprintf(stderr, "ServiceWorkerGlobalScope::AddEventListener called after Run\n");
      std::abort();
    }
  }

  void QueueResultLocked(uint64_t event_id, mojom::SyncEventStatus status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mojom::WorkerMessage& message = write_queue_.emplace_back();
    message.mutable_sync_event_result()->set_event_id(event_id);
    message.mutable_sync_event_result()->set_status(status);
  }

  // Claims the next write, if one may start now; the caller passes the result to Start() after unlocking.
  PendingStart TakeNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write_in_flight_ || !writes_open_)
      return PendingStart::kNothing;
    if (!write_queue_.empty()) {
      current_write_ = std::move(write_queue_.front());
      write_queue_.pop_front();
      write_in_flight_ = true;
      return PendingStart::kWrite;
    }
    if (writes_done_pending_) {
      writes_open_ = false;
      write_in_flight_ = true;
      return PendingStart::kWritesDone;
    }
    return PendingStart::kNothing;
  }

  void Start(PendingStart next) {
    switch (next) {
      case PendingStart::kNothing:
        return;
      case PendingStart::kWrite:
        StartWrite(&current_write_);
        return;
      case PendingStart::kWritesDone:
        StartWritesDone();
        return;
    }
  }

  void CloseWritesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writes_open_ = false;
    write_queue_.clear();
  }

  // True exactly once: when no write may start any more and none is outstanding.
  bool TakeHoldReleaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (hold_released_ || writes_open_ || write_in_flight_)
      return false;
    hold_released_ = true;
    return true;
  }

  // Constant after construction.
  const ServiceWorkerGlobalScopeOptions options_;
  const std::unique_ptr<mojom::ServiceWorkerHost::Stub> stub_;
  const std::shared_ptr<EventThreads> threads_ = EventThreads::Create();
  grpc::ClientContext context_;

  // Written only before Run.
  std::vector<SyncHandler> sync_handlers_;
  std::vector<SyncHandler> other_sync_handlers_;
  std::vector<PeriodicSyncHandler> periodic_sync_handlers_;
  std::vector<PeriodicSyncHandler> other_periodic_sync_handlers_;

  // Used only by reactions to reads, which gRPC serializes.
  mojom::BrowserMessage incoming_;

  absl::Notification finished_;

  absl::Mutex mu_;
  bool run_called_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  // Events dispatched and not yet answered.
  absl::flat_hash_set<uint64_t> in_flight_ ABSL_GUARDED_BY(mu_);
  // False before Run and once no more writes may start.
  bool writes_open_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<mojom::WorkerMessage> write_queue_ ABSL_GUARDED_BY(mu_);
  // The message being written; owned by the outstanding write while write_in_flight_.
  mojom::WorkerMessage current_write_;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------------------------------------------
// ServiceWorkerGlobalScope

absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> ServiceWorkerGlobalScope::Connect(
    std::shared_ptr<grpc::Channel> channel,
    std::string token,
    ServiceWorkerGlobalScopeOptions options) {
  if (channel == nullptr)
    return absl::InvalidArgumentError("ServiceWorkerGlobalScope: no channel");
  if (!IsWellFormedSessionToken(token))
    return absl::InvalidArgumentError("ServiceWorkerGlobalScope: malformed session token");
  return std::unique_ptr<ServiceWorkerGlobalScope>(
      new ServiceWorkerGlobalScope(std::make_shared<Core>(std::move(channel), token, options)));
}

ServiceWorkerGlobalScope::ServiceWorkerGlobalScope(std::shared_ptr<Core> core) : core_(std::move(core)) {}

ServiceWorkerGlobalScope::~ServiceWorkerGlobalScope() = default;

void ServiceWorkerGlobalScope::AddEventListener(std::string type, std::function<void(SyncEvent&)> handler) {
  core_->AddListener(std::move(type), std::move(handler));
}

void ServiceWorkerGlobalScope::AddEventListener(std::string type, std::function<void(PeriodicSyncEvent&)> handler) {
  core_->AddListener(std::move(type), std::move(handler));
}

absl::Status ServiceWorkerGlobalScope::Run() {
  return core_->Run();
}

void ServiceWorkerGlobalScope::Stop() {
  core_->Stop();
}

template <typename Event>
bool ServiceWorkerGlobalScope::RunHandlers(Event& event, const std::vector<std::function<void(Event&)>>& handlers) {
  bool rejected = false;
  for (const std::function<void(Event&)>& handler : handlers) {
    try {
      handler(event);
    } catch (...) {
      rejected = true;
    }
  }
  return rejected;
}

void ServiceWorkerGlobalScope::SettleEvent(Core& core, uint64_t event_id, ExtendableEvent& event, bool rejected) {
  const absl::Time deadline = event.deadline();
  // Waits for every promise, also after one rejected (as Chromium does), but not beyond the deadline.
  while (std::optional<std::shared_future<absl::Status>> promise = event.TakeNextPromise()) {
    if (!promise->valid()) {
      rejected = true;
      continue;
    }
    if (deadline == absl::InfiniteFuture()) {
      promise->wait();
    } else if (promise->wait_until(absl::ToChronoTime(deadline)) != std::future_status::ready) {
      // Too late: the browser has already counted the event as failed. The promises are abandoned.
      return;
    }
    try {
      if (!promise->get().ok())
        rejected = true;
    } catch (...) {
      rejected = true;
    }
  }
  core.ReportResult(event_id, rejected ? mojom::SYNC_EVENT_STATUS_REJECTED : mojom::SYNC_EVENT_STATUS_COMPLETED);
}

}  // namespace bgsync
