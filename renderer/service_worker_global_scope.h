// The worker side of Background Sync: a service worker's global scope, which receives `sync` and `periodicsync`
// events from the browser over ServiceWorkerHost.Connect and reports how each one settled ("Worker side" in
// public/README.md).
//
//   auto scope = ServiceWorkerGlobalScope::Connect(ConnectToBrowser(bootstrap), bootstrap.token);
//   (*scope)->AddEventListener("sync", [](SyncEvent& event) { event.WaitUntil(SendOutbox(event.tag())); });
//   (*scope)->AddEventListener("periodicsync", [](PeriodicSyncEvent& event) { event.WaitUntil(Refresh()); });
//   absl::Status status = (*scope)->Run();  // until the browser ends the stream
//
// Threading: each event runs on a thread of its own, so a slow handler or waitUntil() holds up only its own
// event. Handlers of different events run concurrently; handlers of one event run one after another, in the
// order they were added. Stop() may be called from any thread, including from a handler. A worker whose handlers
// never block may have them run inline instead (ServiceWorkerGlobalScopeOptions::run_handlers_inline).
#ifndef RENDERER_SERVICE_WORKER_GLOBAL_SCOPE_H_
#define RENDERER_SERVICE_WORKER_GLOBAL_SCOPE_H_

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace bgsync {

// What the `sync` and `periodicsync` events share (ExtendableEvent). Handlers receive an event by reference; it
// lives until its outcome is decided (every handler has returned and every promise given to WaitUntil has
// settled, or the deadline passed). Thread-safe.
class ExtendableEvent {
 public:
  ExtendableEvent(const ExtendableEvent&) = delete;
  ExtendableEvent& operator=(const ExtendableEvent&) = delete;

  // When the browser stops waiting: it counts an event unanswered by then as failed. Outcomes decided later are
  // not reported.
  absl::Time deadline() const { return deadline_; }

  // ExtendableEvent.waitUntil(): the event's outcome waits for `promise` to settle. A non-OK status, an exception
  // stored in the future, or a future without shared state rejects the event. Call it from a handler or, as the
  // spec allows, from any thread while an earlier promise of this event is still unsettled; once every promise
  // has settled the outcome is decided and later promises are ignored.
  void WaitUntil(std::shared_future<absl::Status> promise);

 protected:
  explicit ExtendableEvent(absl::Time deadline);
  ~ExtendableEvent() = default;

 private:
  friend class ServiceWorkerGlobalScope;

  // The next promise to wait for, in the order they were given; nullopt when all have been taken, after which
  // WaitUntil ignores new promises.
  std::optional<std::shared_future<absl::Status>> TakeNextPromise();
  // True if every promise not taken yet has settled: settling the event now would not wait.
  bool PromisesReady();

  const absl::Time deadline_;

  absl::Mutex mu_;
  std::vector<std::shared_future<absl::Status>> promises_ ABSL_GUARDED_BY(mu_);
  size_t next_promise_ ABSL_GUARDED_BY(mu_) = 0;
  bool settled_ ABSL_GUARDED_BY(mu_) = false;
};

// The `sync` event (SyncEvent : ExtendableEvent) of a one-shot registration.
class SyncEvent final : public ExtendableEvent {
 public:
  SyncEvent(std::string tag, bool last_chance, absl::Time deadline);

  // The registration's tag.
  const std::string& tag() const { return tag_; }
  // True if the browser will not retry when this attempt fails.
  bool last_chance() const { return last_chance_; }

 private:
  const std::string tag_;
  const bool last_chance_;
};

// The `periodicsync` event (PeriodicSyncEvent : ExtendableEvent) of a periodic registration. It has no
// lastChance: whatever the outcome the registration stays, and a failure is retried or waits for the next
// interval.
class PeriodicSyncEvent final : public ExtendableEvent {
 public:
  PeriodicSyncEvent(std::string tag, absl::Time deadline);

  // The registration's tag.
  const std::string& tag() const { return tag_; }

 private:
  const std::string tag_;
};

struct ServiceWorkerGlobalScopeOptions {
  // Handlers run on the thread that reads the worker's stream, one event after another, rather than each event on
  // a thread of its own: for handlers that never block — like a JavaScript service worker's, which return at once
  // and extend the event with waitUntil() — a burst of events then costs no thread hand-off per event. A handler
  // that blocks holds up every later event of the worker. Promises still unsettled when an event's handlers have
  // returned are waited for on a thread of the event's own either way.
  bool run_handlers_inline = false;
};

class ServiceWorkerGlobalScope {
 public:
  // Prepares a global scope on a service-worker session: `channel` leads to the browser (ConnectToBrowser) and
  // `token` is the session's. Does no I/O (Run opens the stream). Returns InvalidArgument for a null channel or
  // a token that is not 64 lower-case hex characters.
  static absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> Connect(
      std::shared_ptr<grpc::Channel> channel,
      std::string token,
      ServiceWorkerGlobalScopeOptions options = ServiceWorkerGlobalScopeOptions());
  ServiceWorkerGlobalScope(const ServiceWorkerGlobalScope&) = delete;
  ServiceWorkerGlobalScope& operator=(const ServiceWorkerGlobalScope&) = delete;
  // Precondition: Run is not running. Events still running keep what they need alive; their outcomes are
  // dropped.
  ~ServiceWorkerGlobalScope();

  // addEventListener(type, handler). "sync" events go to the SyncEvent handlers added as "sync", "periodicsync"
  // events to the PeriodicSyncEvent handlers added as "periodicsync"; listeners of other types (or of the other
  // event's type) are kept and never called. A handler that throws rejects the event (the other handlers still
  // run). Must be called before Run (aborts the process otherwise: the listener lists are read without locks once
  // events can arrive). A handler must take the event as SyncEvent& or PeriodicSyncEvent& (a generic one is
  // ambiguous).
  void AddEventListener(std::string type, std::function<void(SyncEvent&)> handler);
  void AddEventListener(std::string type, std::function<void(PeriodicSyncEvent&)> handler);

  // Opens the Connect stream, sends WorkerReady, and dispatches events until the stream ends; then returns. For
  // each event, sync or periodicsync alike, it reports COMPLETED if every handler returned normally and every
  // waitUntil promise fulfilled, else REJECTED; an event whose promises are still unsettled at its deadline is not
  // answered (the browser has already counted it as failed). Returns OK when the browser ends the stream with OK,
  // or after Stop(); else the stream's error (e.g. Unavailable when the browser is unreachable, Unauthenticated for
  // a revoked session). Returns FailedPrecondition if called twice. Events still running when Run returns finish
  // on their threads, unreported.
  absl::Status Run();

  // Gives up: reports ABORTED for every event in flight, closes the worker's side of the stream and stops
  // dispatching; Run returns once the browser ends the stream (which it does when the worker closes its side,
  // or at the latest once it finds the worker idle). Before Run, makes Run return OK at once. Idempotent.
  void Stop();

 private:
  class Core;

  explicit ServiceWorkerGlobalScope(std::shared_ptr<Core> core);

  // Runs `event`'s handlers; returns true if one threw. On the event's thread, or inline (on the stream's reaction
  // thread) with run_handlers_inline.
  template <typename Event>
  static bool RunHandlers(Event& event, const std::vector<std::function<void(Event&)>>& handlers);
  // Waits for `event`'s promises (not beyond its deadline) and reports its outcome through `core`: REJECTED if
  // `rejected` or a promise rejected, else COMPLETED; nothing once the deadline has passed.
  static void SettleEvent(Core& core, uint64_t event_id, ExtendableEvent& event, bool rejected);

  // Shared with the events in flight and, while Run runs, with the stream.
  const std::shared_ptr<Core> core_;
};

}  // namespace bgsync

#endif  // RENDERER_SERVICE_WORKER_GLOBAL_SCOPE_H_
