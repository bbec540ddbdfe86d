// The browser side of the worker protocol (ServiceWorkerHost.Connect), and the engine's SyncEventDispatcher:
// events for a service-worker registration go to its connected worker process, which is launched on demand.
#ifndef SERVICES_BACKGROUND_SYNC_SERVICE_WORKER_HOST_IMPL_H_
#define SERVICES_BACKGROUND_SYNC_SERVICE_WORKER_HOST_IMPL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/clock.h"
#include "components/background_sync/lifetime_guard.h"
#include "components/background_sync/sync_event_dispatcher.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "services/background_sync/bad_message_reporter.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {

// Starts and stops worker processes; the browser's worker process host implements it.
// Thread-safety: called from any thread, never with the ServiceWorkerHostImpl's lock held.
class WorkerLauncher {
 public:
  virtual ~WorkerLauncher() = default;
  // Starts the worker process of the service-worker registration unless it is running or starting; the process
  // then connects on a service-worker session. Errors: the registration is unknown or has no active worker, or
  // the process could not be spawned.
  virtual absl::Status StartWorker(int64_t sw_registration_id) = 0;
  // Stops the worker process (idle, hung past its deadline, or misbehaving). Unknown ids are ignored.
  virtual void StopWorker(int64_t sw_registration_id) = 0;
};

struct WorkerHostOptions {
  // A worker that has not said WorkerReady this long after it was asked to start fails its queued events. Also how
  // long a stopped worker's exit is awaited before its successor starts anyway.
  absl::Duration start_timeout = absl::Seconds(10);
  // After an event's deadline the worker gets this long before it is stopped (its late answer is ignored).
  absl::Duration deadline_grace = absl::Seconds(5);
  // A worker with no event in flight for this long is stopped.
  absl::Duration idle_timeout = absl::Seconds(30);
  // Events in flight at once per worker; more wait in order.
  int max_events_per_worker = 16;
};

// Thread-safety: every method may be called from any thread; stream reactions arrive on gRPC threads, timers on
// the clock's thread. Outcomes are reported outside the lock. The pointers are not owned and must outlive this.
class ServiceWorkerHostImpl final : public mojom::ServiceWorkerHost::CallbackService, public SyncEventDispatcher {
 public:
  ServiceWorkerHostImpl(Clock* clock,
                        SessionRegistry* sessions,
                        BadMessageReporter* bad_messages,
                        WorkerLauncher* launcher,
                        WorkerHostOptions options = {});
  ~ServiceWorkerHostImpl() override;

  // ServiceWorkerHost: one stream per worker process, on a service-worker session.
  grpc::ServerBidiReactor<mojom::WorkerMessage, mojom::BrowserMessage>* Connect(
      grpc::CallbackServerContext* context) override;

  // SyncEventDispatcher. A batch goes to its worker under one lock, its messages written back to back.
  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override;
  void DispatchSyncEvents(std::vector<SyncEventDispatch> events) override;

  // The worker process of `sw_registration_id` exited (or was never started). If it crashed, its events fail at
  // once; if the host had stopped it, events queued since start a new process.
  void OnWorkerProcessGone(int64_t sw_registration_id);

  // Ends every worker stream (the workers exit) and aborts their events; later events are aborted at once.
  // Call before shutting the gRPC server down, which otherwise waits for the open streams.
  void Shutdown();

  // Service-worker registrations with a connected worker, for tools.
  std::vector<int64_t> ConnectedWorkers();

  // Worker processes stopped (the launcher kills them) because an event overran its deadline and the grace, since
  // this host was made.
  int64_t deadline_stops() const { return deadline_stops_.load(); }

  class Stream;

 private:
  struct PendingEvent {
    uint64_t id = 0;
    SyncEventRequest request;
    absl::AnyInvocable<void(SyncEventOutcome)> done;
  };
  struct Worker {
    Stream* stream = nullptr;  // set once the worker said WorkerReady
    bool starting = false;
    bool waiting_for_slot = false;  // every worker-process slot was taken; starts when one frees up
    // Its process is being stopped (idle, overdue, misbehaving, or its stream ended). The launcher runs one process
    // per service-worker registration, so events that arrive meanwhile wait for the exit, then get a new process.
    bool stopping = false;
    TimerId start_timer = 0;
    TimerId idle_timer = 0;
    TimerId stop_timer = 0;  // gives up waiting for a stopping process's exit
    // StopWorker calls decided under the lock and not made yet (StopProcess). The launcher knows a worker only by
    // its id: while a call is owed, the successor must not start, or the call would stop it instead.
    int stop_calls_owed = 0;
    bool exited_while_owed = false;   // the stopping process exited by itself before the owed call was made
    std::deque<PendingEvent> queued;  // not sent yet
    absl::flat_hash_map<uint64_t, PendingEvent> in_flight;  // sent, unanswered
    // The events in flight by deadline, and one timer at the earliest deadline + the grace (not one per event).
    std::multimap<absl::Time, uint64_t> deadlines;
    TimerId deadline_timer = 0;
    absl::Time deadline_timer_at = absl::InfiniteFuture();
  };
  using Completion = std::pair<absl::AnyInvocable<void(SyncEventOutcome)>, SyncEventOutcome>;

  // Stream callbacks.
  void OnReady(Stream* stream, const Session& session);
  void OnResult(Stream* stream, const Session& session, const mojom::SyncEventResult& result);
  void OnStreamClosed(Stream* stream, int64_t sw_registration_id);

  // Sends queued events while the worker has room and no event past its deadline (a worker that overran one is
  // about to be stopped: later events wait for its successor). The worker must have a stream. Returns true when
  // the caller must call worker.stream->StartQueuedWrite() once it has released the lock.
  bool PumpLocked(int64_t id, Worker& worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the deadline of `event`, which was in flight.
  static void EraseDeadline(Worker& worker, const PendingEvent& event);
  // Makes sure a deadline timer runs by the earliest deadline in flight + the grace.
  void ArmDeadlineTimerLocked(int64_t id, Worker& worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelDeadlineTimerLocked(Worker& worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fails every event of `worker` with `outcome` and forgets it.
  void FailAllLocked(Worker& worker, SyncEventOutcome outcome, std::vector<Completion>& completions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmIdleTimerLocked(int64_t id, Worker& worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Detaches the worker's stream (ending it with `status`) and marks it stopping; the caller asks the launcher to
  // stop the process, outside the lock. In-flight events must have been settled already; queued ones stay.
  void BeginStopLocked(int64_t id, Worker& worker, grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stopping worker's process is gone: forgets the worker, or, if events were queued meanwhile, marks it
  // starting. Returns whether the caller must start it (outside the lock). Erases `worker` when it returns false.
  bool FinishStopLocked(int64_t id, Worker& worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AnyWaitingForSlotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks the launcher for the worker of `id`; on a full house it waits for a slot (evicting an idle worker).
  void StartWorker(int64_t id);
  // Starts one worker that is waiting for a process slot, if any.
  void StartWaitingWorker();
  void OnStartTimeout(int64_t id);
  // The worker's deadline timer: stops it if its earliest event in flight is overdue, else re-arms.
  void OnDeadlineTimer(int64_t id);
  void OnIdle(int64_t id);
  // Makes a StopWorker call that BeginStopLocked (or a stopping worker's late stream) owed, outside the lock, then
  // starts the successor if the process exited before the call and events wait for it.
  void StopProcess(int64_t id);
  void OnStopTimeout(int64_t id);
  TimerId PostGuarded(absl::Time when, absl::AnyInvocable<void()> task);

  Clock* const clock_;
  SessionRegistry* const sessions_;
  BadMessageReporter* const bad_messages_;
  WorkerLauncher* const launcher_;
  const WorkerHostOptions options_;
  // Timers reach this only while it is alive.
  const std::shared_ptr<LifetimeGuard> guard_ = std::make_shared<LifetimeGuard>();
  std::atomic<int64_t> deadline_stops_{0};

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_event_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<int64_t, Worker> workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_SERVICE_WORKER_HOST_IMPL_H_
