#include "services/background_sync/service_worker_host_impl.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/background_sync/authenticate_call.h"

namespace bgsync {

// ---------------------------------------------------------------------------------------------------------------
// One worker's Connect stream. Writes are queued (one outstanding at a time, as gRPC requires); Finish waits for
// the queue to drain. Lock order: the host's mu_ may be held while calling Queue/Close; the stream never calls
// the host while holding its own mu_. gRPC may write to the socket inside StartWrite, so the host starts writes
// after releasing its lock (StartQueuedWrite).

class ServiceWorkerHostImpl::Stream : public grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage> {
 public:
  Stream(ServiceWorkerHostImpl* host, Session session) : host_(host), session_(std::move(session)) { StartRead(&in_); }

  const Session& session() const { return session_; }

  // Queues `message`. Returns true when the caller has claimed the write chain and must call StartQueuedWrite():
  // until then the stream cannot finish (Finish waits for the claimed write), so it stays alive.
  bool Queue(mojom::BrowserMessage message) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_)
      return false;
    out_.push_back(std::move(message));
    if (writing_)
      return false;
    writing_ = true;
    return true;
  }

  // Starts the write claimed by Queue(); the rest of the queue follows from OnWriteDone.
  void StartQueuedWrite() {
    const mojom::BrowserMessage* start;
    {
      absl::MutexLock lock(&mu_);
      start = &out_.front();
    }
    StartWrite(start);
  }

  // Ends the stream with `status` once pending writes are done. Idempotent.
  void Close(grpc::Status status) {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_)
        return;
      finish_requested_ = true;
      finish_status_ = std::move(status);
      finish_now = !writing_;
      if (finish_now)
        finished_ = true;
    }
    if (finish_now)
      Finish(finish_status_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      host_->OnStreamClosed(this, session_.service_worker_registration_id);
      Close(grpc::Status::OK);
      return;
    }
    switch (in_.message_case()) {
      case mojom::WorkerMessage::kReady:
        host_->OnReady(this, session_);
        break;
      case mojom::WorkerMessage::kSyncEventResult:
        host_->OnResult(this, session_, in_.sync_event_result());
        break;
      default:
        Reject("empty WorkerMessage");
        return;
    }
    bool closing;
    {
      absl::MutexLock lock(&mu_);
      closing = finish_requested_;
    }
    if (!closing)
      StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    const mojom::BrowserMessage* next = nullptr;
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      out_.pop_front();
      if (!ok)
        out_.clear();  // the stream is broken; OnReadDone(false) will follow
      if (!out_.empty() && !finish_requested_) {
        next = &out_.front();
      } else {
        writing_ = false;
        if (finish_requested_ && !finished_)
          finish_now = finished_ = true;
      }
    }
    if (next)
      StartWrite(next);
    if (finish_now)
      Finish(finish_status_);
  }

  void OnDone() override {
    host_->OnStreamClosed(this, session_.service_worker_registration_id);
    delete this;
  }

  // A bad message: punish the session and end the stream.
  void Reject(absl::string_view reason) {
    host_->OnStreamClosed(this, session_.service_worker_registration_id);
    absl::Status status = host_->bad_messages_->Report(session_, reason);
    Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(status.message())));
  }

 private:
  ServiceWorkerHostImpl* const host_;
  const Session session_;
  mojom::WorkerMessage in_;  // only touched by the read chain

  absl::Mutex mu_;
  std::deque<mojom::BrowserMessage> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_;  // written once, before finished_ is set
};

// ---------------------------------------------------------------------------------------------------------------

ServiceWorkerHostImpl::ServiceWorkerHostImpl(Clock* clock,
                                             SessionRegistry* sessions,
                                             BadMessageReporter* bad_messages,
                                             WorkerLauncher* launcher,
                                             WorkerHostOptions options)
    : clock_(clock), sessions_(sessions), bad_messages_(bad_messages), launcher_(launcher), options_(options) {}

ServiceWorkerHostImpl::~ServiceWorkerHostImpl() {
  guard_->Invalidate();
  Shutdown();
}

void ServiceWorkerHostImpl::Shutdown() {
  std::vector<Completion> completions;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [id, worker] : workers_) {
      FailAllLocked(worker, SyncEventOutcome::kAborted, completions);
      if (worker.stop_timer)
        clock_->Cancel(worker.stop_timer);
      if (worker.stream)
        worker.stream->Close(grpc::Status::OK);
    }
    workers_.clear();
  }
  for (auto& [done, outcome] : completions)
    done(outcome);
}

TimerId ServiceWorkerHostImpl::PostGuarded(absl::Time when, absl::AnyInvocable<void()> task) {
  return clock_->PostAt(when, [guard = guard_, task = std::move(task)]() mutable { RunIfAlive(guard, task); });
}

grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage>* ServiceWorkerHostImpl::Connect(
    grpc::CallbackServerContext* context) {
  std::optional<Session> session = AuthenticateCall(*sessions_, *context);
  if (!session || session->type != ClientType::kServiceWorker) {
    // Not a live service-worker session: refuse without a stream of our own.
    class Refused : public grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage> {
     public:
      explicit Refused(grpc::Status status) { Finish(std::move(status)); }
      void OnDone() override { delete this; }
    };
    if (session) {
      absl::Status status = bad_messages_->Report(*session, "Connect on a session that is not a service worker's");
      return new Refused(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(status.message())));
    }
    return new Refused(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no live service-worker session"));
  }
  return new Stream(this, *session);
}

void ServiceWorkerHostImpl::OnReady(Stream* stream, const Session& session) {
  const int64_t id = session.service_worker_registration_id;
  bool duplicate = false;
  bool unwanted = false;
  bool start_write = false;
  TimerId cancel = 0;
  {
    absl::MutexLock lock(&mu_);
    Worker& worker = workers_[id];
    if (worker.stream != nullptr) {
      duplicate = true;
    } else if (worker.stopping) {
      unwanted = true;  // the process being stopped connected before the stop reached it
      ++worker.stop_calls_owed;
    } else {
      worker.stream = stream;
      worker.starting = false;
      cancel = worker.start_timer;
      worker.start_timer = 0;
      start_write = PumpLocked(id, worker);
      if (worker.in_flight.empty())
        ArmIdleTimerLocked(id, worker);
    }
  }
  if (start_write)
    stream->StartQueuedWrite();
  if (cancel)
    clock_->Cancel(cancel);
  if (duplicate)
    stream->Reject("a second WorkerReady for the same service worker");
  if (unwanted) {
    stream->Close(grpc::Status(grpc::StatusCode::CANCELLED, "the worker is being stopped"));
    StopProcess(id);
  }
}

void ServiceWorkerHostImpl::OnResult(Stream* stream, const Session& session, const mojom::SyncEventResult& result) {
  const int64_t id = session.service_worker_registration_id;
  SyncEventOutcome outcome;
  switch (result.status()) {
    case mojom::SYNC_EVENT_STATUS_COMPLETED:
      outcome = SyncEventOutcome::kCompleted;
      break;
    case mojom::SYNC_EVENT_STATUS_REJECTED:
      outcome = SyncEventOutcome::kRejected;
      break;
    case mojom::SYNC_EVENT_STATUS_ABORTED:
      outcome = SyncEventOutcome::kAborted;
      break;
    default:
      return stream->Reject("SyncEventResult with an invalid status");
  }
  PendingEvent event;
  bool stop_self = false;
  bool start_write = false;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end() || worker->second.stream != stream)
      return;  // already detached
    auto it = worker->second.in_flight.find(result.event_id());
    if (it == worker->second.in_flight.end()) {
      // Never sent, or answered already. (An answer after the deadline cannot get here: the event is failed
      // and forgotten at the deadline.)
      event.id = 0;
    } else {
      event = std::move(it->second);
      worker->second.in_flight.erase(it);
      EraseDeadline(worker->second, event);
      start_write = PumpLocked(id, worker->second);
      if (worker->second.in_flight.empty() && worker->second.queued.empty()) {
        if (AnyWaitingForSlotLocked()) {
          // Another service worker waits for a process slot: hand this one's over now, not after the idle time.
          stop_self = true;
          BeginStopLocked(id, worker->second, grpc::Status::OK);
        } else {
          ArmIdleTimerLocked(id, worker->second);
        }
      }
    }
  }
  if (start_write)
    stream->StartQueuedWrite();
  if (event.id == 0)
    return stream->Reject(absl::StrCat("result for unknown event ", result.event_id()));
  event.done(outcome);
  if (stop_self)
    StopProcess(id);
}

bool ServiceWorkerHostImpl::AnyWaitingForSlotLocked() {
  for (const auto& [id, worker] : workers_) {
    if (worker.waiting_for_slot)
      return true;
  }
  return false;
}

void ServiceWorkerHostImpl::OnStreamClosed(Stream* stream, int64_t id) {
  std::vector<Completion> completions;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end() || worker->second.stream != stream)
      return;
    // The worker went away: whatever it was doing failed (the engine retries). Its process, if it still runs, is
    // of no use without its stream: it is stopped, and a later event gets a new one once it has exited. The stream
    // is ending by itself (this is its own callback): it is detached, not closed.
    FailAllLocked(worker->second, SyncEventOutcome::kWorkerCrashed, completions);
    worker->second.stream = nullptr;
    BeginStopLocked(id, worker->second, grpc::Status::OK);
  }
  StopProcess(id);
  for (auto& [done, outcome] : completions)
    done(outcome);
}

void ServiceWorkerHostImpl::OnWorkerProcessGone(int64_t id) {
  std::vector<Completion> completions;
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker != workers_.end() && worker->second.stopping) {
      // The exit the host asked for: events queued meanwhile get a new process — once the StopWorker call still
      // owed is made (StopProcess), or that call would stop the new process.
      if (worker->second.stop_calls_owed > 0) {
        worker->second.exited_while_owed = true;
      } else {
        start = FinishStopLocked(id, worker->second);
      }
    } else if (worker != workers_.end() && !worker->second.waiting_for_slot) {
      // It crashed (or failed to start).
      Stream* stream = worker->second.stream;
      FailAllLocked(worker->second, SyncEventOutcome::kWorkerCrashed, completions);
      workers_.erase(worker);
      if (stream)
        stream->Close(grpc::Status(grpc::StatusCode::CANCELLED, "worker process exited"));
    }
  }
  for (auto& [done, outcome] : completions)
    done(outcome);
  if (start)
    StartWorker(id);
  // Its process slot is free: a worker waiting for one may start.
  StartWaitingWorker();
}

void ServiceWorkerHostImpl::DispatchSyncEvent(const SyncEventRequest& request,
                                              absl::AnyInvocable<void(SyncEventOutcome)> done) {
  std::vector<SyncEventDispatch> events;
  events.push_back({request, std::move(done)});
  DispatchSyncEvents(std::move(events));
}

void ServiceWorkerHostImpl::DispatchSyncEvents(std::vector<SyncEventDispatch> events) {
  if (events.empty())
    return;
  const int64_t id = events.front().request.sw_registration_id;
  bool start = false;
  bool shut = false;
  Stream* start_write = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      shut = true;
    } else {
      Worker& worker = workers_[id];
      for (SyncEventDispatch& dispatch : events) {
        PendingEvent event;
        event.id = next_event_id_++;
        event.request = std::move(dispatch.request);
        event.done = std::move(dispatch.done);
        worker.queued.push_back(std::move(event));
      }
      if (worker.idle_timer) {
        clock_->Cancel(worker.idle_timer);
        worker.idle_timer = 0;
      }
      if (worker.stream) {
        if (PumpLocked(id, worker))
          start_write = worker.stream;
      } else if (!worker.starting && !worker.waiting_for_slot && !worker.stopping) {
        worker.starting = true;
        start = true;
        worker.start_timer = PostGuarded(clock_->Now() + options_.start_timeout, [this, id] { OnStartTimeout(id); });
      }
    }
  }
  if (start_write)
    start_write->StartQueuedWrite();
  if (shut) {
    // Moved-from above only when not shutting down: every callback is still here.
    for (SyncEventDispatch& dispatch : events)
      dispatch.done(SyncEventOutcome::kAborted);
    return;
  }
  if (start)
    StartWorker(id);
}

void ServiceWorkerHostImpl::StartWorker(int64_t id) {
  absl::Status started = launcher_->StartWorker(id);
  if (started.ok())
    return;
  std::vector<Completion> completions;
  int64_t evict = 0;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end() || worker->second.stream)
      return;
    clock_->Cancel(worker->second.start_timer);
    worker->second.start_timer = 0;
    worker->second.starting = false;
    if (started.code() == absl::StatusCode::kResourceExhausted) {
      // Every worker-process slot is taken. The events wait (no attempt is spent on a capacity limit) and an
      // idle worker, if there is one, makes room; the next worker exit starts this one.
      worker->second.waiting_for_slot = true;
      for (auto& [other_id, other] : workers_) {
        if (other.stream && other.in_flight.empty() && other.queued.empty()) {
          evict = other_id;
          BeginStopLocked(other_id, other, grpc::Status::OK);
          break;
        }
      }
    } else {
      FailAllLocked(worker->second, SyncEventOutcome::kDispatchFailed, completions);
      workers_.erase(worker);
    }
  }
  if (evict)
    StopProcess(evict);
  for (auto& [fail, outcome] : completions)
    fail(outcome);
}

void ServiceWorkerHostImpl::StartWaitingWorker() {
  int64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [worker_id, worker] : workers_) {
      if (worker.waiting_for_slot) {
        id = worker_id;
        worker.waiting_for_slot = false;
        worker.starting = true;
        worker.start_timer =
            PostGuarded(clock_->Now() + options_.start_timeout, [this, id = worker_id] { OnStartTimeout(id); });
        break;
      }
    }
  }
  if (id)
    StartWorker(id);
}

bool ServiceWorkerHostImpl::PumpLocked(int64_t id, Worker& worker) {
  const absl::Time now = clock_->Now();
  if (!worker.deadlines.empty() && worker.deadlines.begin()->first <= now)
    return false;  // overran a deadline: it is about to be stopped, unless it answers after all
  bool start_write = false;
  while (!worker.queued.empty() && static_cast<int>(worker.in_flight.size()) < options_.max_events_per_worker) {
    PendingEvent event = std::move(worker.queued.front());
    worker.queued.pop_front();
    // One-shot events go out as SyncEvents, periodic ones as PeriodicSyncEvents; both share the event-id space
    // and are answered by a SyncEventResult.
    const int64_t timeout_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(event.request.deadline - now));
    mojom::BrowserMessage message;
    if (event.request.type == SyncType::kPeriodic) {
      mojom::PeriodicSyncEvent* periodic = message.mutable_periodic_sync_event();
      periodic->set_event_id(event.id);
      periodic->set_tag(event.request.tag);
      periodic->set_timeout_ms(timeout_ms);
    } else {
      mojom::SyncEvent* sync = message.mutable_sync_event();
      sync->set_event_id(event.id);
      sync->set_tag(event.request.tag);
      sync->set_last_chance(event.request.last_chance);
      sync->set_timeout_ms(timeout_ms);
    }
    start_write |= worker.stream->Queue(std::move(message));
    worker.deadlines.emplace(event.request.deadline, event.id);
    const uint64_t event_id = event.id;
    worker.in_flight.emplace(event_id, std::move(event));
  }
  ArmDeadlineTimerLocked(id, worker);
  return start_write;
}

void ServiceWorkerHostImpl::EraseDeadline(Worker& worker, const PendingEvent& event) {
  auto [first, last] = worker.deadlines.equal_range(event.request.deadline);
  for (auto it = first; it != last; ++it) {
    if (it->second == event.id) {
      worker.deadlines.erase(it);
      return;
    }
  }
}

void ServiceWorkerHostImpl::ArmDeadlineTimerLocked(int64_t id, Worker& worker) {
  if (worker.deadlines.empty())
    return;  // a timer still armed finds nothing overdue and lapses
  const absl::Time at = worker.deadlines.begin()->first + options_.deadline_grace;
  if (worker.deadline_timer && worker.deadline_timer_at <= at)
    return;  // it runs first, and re-arms for what is left
  if (worker.deadline_timer)
    clock_->Cancel(worker.deadline_timer);
  worker.deadline_timer_at = at;
  worker.deadline_timer = PostGuarded(at, [this, id] { OnDeadlineTimer(id); });
}

void ServiceWorkerHostImpl::CancelDeadlineTimerLocked(Worker& worker) {
  if (worker.deadline_timer)
    clock_->Cancel(worker.deadline_timer);
  worker.deadline_timer = 0;
  worker.deadline_timer_at = absl::InfiniteFuture();
}

void ServiceWorkerHostImpl::FailAllLocked(Worker& worker,
                                          SyncEventOutcome outcome,
                                          std::vector<Completion>& completions) {
  for (auto& [event_id, event] : worker.in_flight)
    completions.emplace_back(std::move(event.done), outcome);
  worker.in_flight.clear();
  worker.deadlines.clear();
  CancelDeadlineTimerLocked(worker);
  for (PendingEvent& event : worker.queued)
    completions.emplace_back(std::move(event.done), outcome);
  worker.queued.clear();
  if (worker.start_timer)
    clock_->Cancel(worker.start_timer);
  if (worker.idle_timer)
    clock_->Cancel(worker.idle_timer);
  worker.start_timer = worker.idle_timer = 0;
}

void ServiceWorkerHostImpl::ArmIdleTimerLocked(int64_t id, Worker& worker) {
  if (worker.idle_timer)
    clock_->Cancel(worker.idle_timer);
  worker.idle_timer = PostGuarded(clock_->Now() + options_.idle_timeout, [this, id] { OnIdle(id); });
}

void ServiceWorkerHostImpl::OnStartTimeout(int64_t id) {
  std::vector<Completion> completions;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end() || worker->second.stream || worker->second.stopping)
      return;
    worker->second.start_timer = 0;
    FailAllLocked(worker->second, SyncEventOutcome::kDispatchFailed, completions);
    BeginStopLocked(id, worker->second, grpc::Status::OK);
  }
  StopProcess(id);
  for (auto& [done, outcome] : completions)
    done(outcome);
}

void ServiceWorkerHostImpl::OnDeadlineTimer(int64_t id) {
  // A worker whose earliest event in flight overran its deadline and the grace is stopped. Its events fail (the
  // engine has already counted the overdue one as timed out and ignores the late outcome).
  std::vector<Completion> completions;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end())
      return;
    const absl::Time now = clock_->Now();
    if (worker->second.deadline_timer_at <= now) {
      // This is (or replaces) the armed timer.
      worker->second.deadline_timer = 0;
      worker->second.deadline_timer_at = absl::InfiniteFuture();
    }
    if (worker->second.deadlines.empty())
      return;
    const auto [deadline, event_id] = *worker->second.deadlines.begin();
    if (deadline + options_.deadline_grace > now) {
      ArmDeadlineTimerLocked(id, worker->second);
      return;
    }
    auto overdue = worker->second.in_flight.find(event_id);
    completions.emplace_back(std::move(overdue->second.done), SyncEventOutcome::kTimedOut);
    worker->second.in_flight.erase(overdue);
    // Its other events in flight end with the process; queued ones (never sent) wait for its successor.
    for (auto& [other_id, other] : worker->second.in_flight)
      completions.emplace_back(std::move(other.done), SyncEventOutcome::kAborted);
    worker->second.in_flight.clear();
    worker->second.deadlines.clear();
    BeginStopLocked(id, worker->second,
                    grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "sync event deadline passed"));
  }
  deadline_stops_.fetch_add(1);
  StopProcess(id);
  for (auto& [done, outcome] : completions)
    done(outcome);
}

void ServiceWorkerHostImpl::OnIdle(int64_t id) {
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end() || worker->second.stopping || !worker->second.in_flight.empty() ||
        !worker->second.queued.empty()) {
      return;
    }
    worker->second.idle_timer = 0;
    BeginStopLocked(id, worker->second, grpc::Status::OK);
  }
  StopProcess(id);
}

void ServiceWorkerHostImpl::BeginStopLocked(int64_t id, Worker& worker, grpc::Status status) {
  if (worker.stream) {
    worker.stream->Close(std::move(status));
    worker.stream = nullptr;
  }
  for (TimerId* timer : {&worker.idle_timer, &worker.start_timer, &worker.stop_timer}) {
    if (*timer)
      clock_->Cancel(*timer);
    *timer = 0;
  }
  CancelDeadlineTimerLocked(worker);
  worker.starting = false;
  worker.stopping = true;
  ++worker.stop_calls_owed;  // every caller makes the call (StopProcess) once it has released the lock
  worker.stop_timer = PostGuarded(clock_->Now() + options_.start_timeout, [this, id] { OnStopTimeout(id); });
}

bool ServiceWorkerHostImpl::FinishStopLocked(int64_t id, Worker& worker) {
  worker.exited_while_owed = false;
  if (worker.stop_timer)
    clock_->Cancel(worker.stop_timer);
  worker.stop_timer = 0;
  worker.stopping = false;
  if (worker.queued.empty()) {
    workers_.erase(id);
    return false;
  }
  worker.starting = true;
  worker.start_timer = PostGuarded(clock_->Now() + options_.start_timeout, [this, id] { OnStartTimeout(id); });
  return true;
}

void ServiceWorkerHostImpl::StopProcess(int64_t id) {
  launcher_->StopWorker(id);
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end() || worker->second.stop_calls_owed == 0)
      return;
    if (--worker->second.stop_calls_owed == 0 && worker->second.exited_while_owed && worker->second.stopping)
      start = FinishStopLocked(id, worker->second);
  }
  if (start)
    StartWorker(id);
}

void ServiceWorkerHostImpl::OnStopTimeout(int64_t id) {
  // The exit was never reported: go on as if it had been.
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    auto worker = workers_.find(id);
    if (worker == workers_.end() || !worker->second.stopping)
      return;
    worker->second.stop_timer = 0;
    start = FinishStopLocked(id, worker->second);
  }
  if (start)
    StartWorker(id);
}

std::vector<int64_t> ServiceWorkerHostImpl::ConnectedWorkers() {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> ids;
  for (const auto& [id, worker] : workers_) {
    if (worker.stream)
      ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace bgsync
