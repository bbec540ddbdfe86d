// A worker's reply at the deadline edge, 10,000 times (reliability.md P6: a late reply is ignored, no double
// completion). ServiceWorkerHostImpl serves a real unix socket; an in-process worker answers its events while the
// test moves a fake clock across their deadline, so replies on the wire race the deadline timers on the server's
// threads. Every event must be settled exactly once. Waits are on events with generous deadlines; nothing sleeps.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "components/background_sync/testing/recording_observer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/background_sync/service_worker_host_impl.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(60);
constexpr int64_t kSw = 1;
constexpr int kRounds = 100;
constexpr int kEventsPerRound = 100;  // kRounds * kEventsPerRound = 10,000 replies at the edge

// A worker process stand-in on one Connect stream: a reader thread collects the events; the test writes replies.
class EdgeWorker {
 public:
  EdgeWorker(const std::shared_ptr<grpc::Channel>& channel, const std::string& token)
      : stub_(mojom::ServiceWorkerHost::NewStub(channel)) {
    context_.AddMetadata(kSessionMetadataKey, token);
    stream_ = stub_->Connect(&context_);
    mojom::WorkerMessage ready;
    ready.mutable_ready();
    stream_->Write(ready);
    reader_ = std::thread([this] {
      mojom::BrowserMessage message;
      while (stream_->Read(&message)) {
        absl::MutexLock lock(&mu_);
        event_ids_.push_back(message.sync_event().event_id());
      }
      absl::MutexLock lock(&mu_);
      ended_ = true;
    });
  }
  ~EdgeWorker() {
    context_.TryCancel();
    reader_.join();
  }

  // The ids of the events that arrived, once there are at least `n` (fewer if the stream ended or time ran out).
  std::vector<uint64_t> WaitForEvents(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return event_ids_.size() >= n || ended_; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kGenerous);
    return event_ids_;
  }
  // Written from one thread at a time. A write to a stream the browser closed fails quietly.
  void Reply(uint64_t event_id) {
    mojom::WorkerMessage message;
    message.mutable_sync_event_result()->set_event_id(event_id);
    message.mutable_sync_event_result()->set_status(mojom::SYNC_EVENT_STATUS_COMPLETED);
    stream_->Write(message);
  }

 private:
  std::unique_ptr<mojom::ServiceWorkerHost::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<mojom::WorkerMessage, mojom::BrowserMessage>> stream_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<uint64_t> event_ids_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class DeadlineEdgeTest : public ::testing::Test, public WorkerLauncher {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-edge-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  // Serves the worker protocol on a unix socket in dir_, with `options`.
  void StartHost(WorkerHostOptions options) {
    host_ = std::make_unique<ServiceWorkerHostImpl>(&clock_, &sessions_, &bad_messages_, this, options);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_ + "/browser.sock", grpc::InsecureServerCredentials());
    builder.RegisterService(host_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    channel_ = grpc::CreateChannel("unix:" + dir_ + "/browser.sock", grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    if (host_)
      host_->Shutdown();
    {
      absl::MutexLock lock(&mu_);
      workers_.clear();
    }
    if (server_)
      server_->Shutdown();
    host_.reset();
    std::filesystem::remove_all(dir_);
  }

  // WorkerLauncher: a fresh in-process worker on a fresh service-worker session, connecting from its own thread
  // as a process would.
  absl::Status StartWorker(int64_t sw) override {
    absl::StatusOr<SessionRegistry::Created> session = sessions_.Create(mail_, ClientType::kServiceWorker, sw, 0);
    if (!session.ok())
      return session.status();
    std::thread([this, token = session->token] {
      auto worker = std::make_unique<EdgeWorker>(channel_, token);
      absl::MutexLock lock(&mu_);
      workers_.push_back(std::move(worker));
    }).detach();
    ++starts_;
    return absl::OkStatus();
  }
  // The process "exits" at once (reported to the host right away) unless the test holds exits back.
  void StopWorker(int64_t sw) override {
    if (stop_hook_)
      stop_hook_();
    ++stops_;
    if (report_exits_)
      host_->OnWorkerProcessGone(sw);
  }

  // The newest worker once `count` workers have been started and connected.
  EdgeWorker* WaitForWorker(int count) {
    absl::MutexLock lock(&mu_);
    auto started = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return static_cast<int>(workers_.size()) >= count; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&started), kGenerous))
      return nullptr;
    return workers_.back().get();
  }

  // Replies to `ids` in order and moves the clock by `step` after the `edge`-th reply: the replies written before
  // are still on the wire, or being handled, when the deadline timers run.
  void ReplyAcrossTheDeadline(EdgeWorker* worker, const std::vector<uint64_t>& ids, size_t edge, absl::Duration step) {
    for (size_t i = 0; i <= ids.size(); ++i) {
      if (i == edge)
        clock_.Advance(step);
      if (i < ids.size())
        worker->Reply(ids[i]);
    }
  }

  const Origin mail_ = *Origin::Parse("https://mail.example");
  std::string dir_;
  FakeClock clock_;
  SessionRegistry sessions_;
  BadMessageReporter bad_messages_{&sessions_, nullptr};
  std::unique_ptr<ServiceWorkerHostImpl> host_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<int> starts_{0};
  std::atomic<int> stops_{0};
  std::atomic<bool> report_exits_{true};
  std::function<void()> stop_hook_;  // runs at the start of every StopWorker call, on the caller's thread
  absl::Mutex mu_;
  std::vector<std::unique_ptr<EdgeWorker>> workers_ ABSL_GUARDED_BY(mu_);
  std::mt19937 random_{20240611};
};

// The dispatcher alone: each event's completion callback runs exactly once, with the reply's outcome if the reply
// won, or timed out / aborted if the deadline did (the first overrun stops the worker and aborts its other events).
TEST_F(DeadlineEdgeTest, EveryEventIsSettledExactlyOnce) {
  WorkerHostOptions options;
  options.deadline_grace = absl::ZeroDuration();  // the reply races the deadline itself
  options.max_events_per_worker = kEventsPerRound;
  options.start_timeout = absl::Hours(1000);
  options.idle_timeout = absl::Hours(1000);
  StartHost(options);

  const int total = kRounds * kEventsPerRound;
  std::vector<std::atomic<int>> settled(total);
  std::vector<std::atomic<int>> outcome(total);
  std::atomic<int> settled_count{0};
  int workers_seen = 0;
  for (int round = 0; round < kRounds; ++round) {
    const absl::Time deadline = clock_.Now() + absl::Seconds(1);
    for (int i = 0; i < kEventsPerRound; ++i) {
      const int index = round * kEventsPerRound + i;
      host_->DispatchSyncEvent({kSw, mail_, SyncType::kOneShot, absl::StrCat("t", index), false, deadline},
                               [&, index](SyncEventOutcome o) {
                                 outcome[index] = static_cast<int>(o);
                                 settled[index].fetch_add(1);
                                 settled_count.fetch_add(1);
                               });
    }
    // A new worker process whenever the previous one was stopped at a deadline.
    if (starts_.load() > workers_seen)
      workers_seen = starts_.load();
    EdgeWorker* worker = WaitForWorker(workers_seen);
    ASSERT_NE(worker, nullptr) << "round " << round;
    std::vector<uint64_t> ids = worker->WaitForEvents(kEventsPerRound);
    ASSERT_EQ(ids.size(), static_cast<size_t>(kEventsPerRound)) << "round " << round;
    ReplyAcrossTheDeadline(worker, ids, random_() % (kEventsPerRound + 1), absl::Seconds(1));
    const int expected = (round + 1) * kEventsPerRound;
    const absl::Time until = absl::Now() + kGenerous;
    while (settled_count.load() < expected && absl::Now() < until)
      absl::SleepFor(absl::Milliseconds(1));
    ASSERT_EQ(settled_count.load(), expected) << "round " << round;
    // When every reply was handled before the deadline the worker was not stopped; the next round still gets a
    // fresh one, so that this round's event ids are never taken for the next round's.
    host_->OnWorkerProcessGone(kSw);
  }
  // Late replies still on the wire are handled (and must be ignored) before the host shuts down.
  host_->Shutdown();
  {
    absl::MutexLock lock(&mu_);
    workers_.clear();
  }
  int completed = 0, timed_out = 0, aborted = 0, doubles = 0;
  for (int i = 0; i < total; ++i) {
    doubles += settled[i].load() != 1 ? 1 : 0;
    switch (static_cast<SyncEventOutcome>(outcome[i].load())) {
      case SyncEventOutcome::kCompleted:
        ++completed;
        break;
      case SyncEventOutcome::kTimedOut:
        ++timed_out;
        break;
      case SyncEventOutcome::kAborted:
        ++aborted;
        break;
      default:
        ADD_FAILURE() << "event " << i << " settled as "
                      << SyncEventOutcomeName(static_cast<SyncEventOutcome>(outcome[i].load()));
    }
  }
  EXPECT_EQ(doubles, 0);
  EXPECT_EQ(completed + timed_out + aborted, total);
  // Replies to events the deadline had settled arrive on a stream the browser closed: ignored, never punished.
  EXPECT_EQ(bad_messages_.count(), 0);
  std::printf(
      "deadline edge, dispatcher: %d events: %d completed, %d timed out, %d aborted, 0 double; %d worker "
      "starts\n",
      total, completed, timed_out, aborted, starts_.load());
}

// A worker stopped at its deadline may end by itself (its stream was closed) before the host has made its
// StopWorker call. The launcher knows a worker only by its id, so the successor must not start before that call, or
// the call stops the successor: under load, the retry's process was killed at its start and the event failed as
// "worker crashed" (worker_faults_unittests' hung-worker test, 4 of 12 runs with the CPU busy).
TEST_F(DeadlineEdgeTest, TheSuccessorStartsOnlyOnceTheStopCallIsMade) {
  WorkerHostOptions options;
  options.deadline_grace = absl::ZeroDuration();
  options.max_events_per_worker = 1;  // the second event waits for the successor
  options.start_timeout = absl::Hours(1000);
  options.idle_timeout = absl::Hours(1000);
  StartHost(options);
  report_exits_ = false;
  absl::Notification stop_called;
  absl::Notification release_stop;
  std::atomic<int> starts_at_stop{-1};
  stop_hook_ = [&] {
    starts_at_stop = starts_.load();
    stop_called.Notify();
    release_stop.WaitForNotificationWithTimeout(kGenerous);  // the caller, descheduled before its call
  };
  std::atomic<int> first{-1}, second{-1};
  host_->DispatchSyncEvent({kSw, mail_, SyncType::kOneShot, "first", false, clock_.Now() + absl::Seconds(1)},
                           [&](SyncEventOutcome o) { first = static_cast<int>(o); });
  host_->DispatchSyncEvent({kSw, mail_, SyncType::kOneShot, "second", false, clock_.Now() + absl::Seconds(30)},
                           [&](SyncEventOutcome o) { second = static_cast<int>(o); });
  EdgeWorker* worker = WaitForWorker(1);
  ASSERT_NE(worker, nullptr);
  ASSERT_EQ(worker->WaitForEvents(1).size(), 1u);

  // The deadline timer stops the worker; its StopWorker call is held back while the process exits by itself.
  std::thread timers([this] { clock_.Advance(absl::Seconds(1)); });
  ASSERT_TRUE(stop_called.WaitForNotificationWithTimeout(kGenerous));
  host_->OnWorkerProcessGone(kSw);
  EXPECT_EQ(starts_.load(), 1) << "the successor started before the stop call, which would stop it";
  release_stop.Notify();
  timers.join();
  EXPECT_EQ(starts_at_stop.load(), 1);
  EXPECT_EQ(first.load(), static_cast<int>(SyncEventOutcome::kTimedOut));

  // Once the call is made, the successor starts and gets the waiting event.
  EdgeWorker* successor = WaitForWorker(2);
  ASSERT_NE(successor, nullptr);
  EXPECT_EQ(starts_.load(), 2);
  EXPECT_EQ(successor->WaitForEvents(1).size(), 1u);
  EXPECT_EQ(second.load(), -1);  // in flight in the successor
  stop_hook_ = nullptr;
}

// The engine on top: its own timeout races the reply. Each attempt is settled once: either "completed" or
// "failed" (timed out), and every reply that lost is counted as a late outcome, not applied.
TEST_F(DeadlineEdgeTest, TheEngineSettlesEachAttemptOnce) {
  WorkerHostOptions options;
  options.deadline_grace = absl::Seconds(1);  // the worker lives on past the engine's deadline; its replies arrive
  options.max_events_per_worker = kEventsPerRound;
  options.start_timeout = absl::Hours(1000);
  options.idle_timeout = absl::Hours(1000);
  StartHost(options);
  FakeServiceWorkerRegistry registry;
  registry.Add(kSw, mail_);
  FakeNetworkState network(true);
  FakePermissionController permissions;
  RecordingObserver observer;
  BackgroundSyncParameters parameters;
  parameters.max_sync_attempts = 1;  // a timed-out attempt ends the registration: one outcome per registration
  parameters.max_sync_event_duration = absl::Seconds(10);
  BackgroundSyncEngine::Dependencies deps{&clock_,   &network,    &permissions,
                                          &registry, host_.get(), std::make_unique<MemoryStorageBackend>(),
                                          nullptr,   &observer};
  std::unique_ptr<BackgroundSyncEngine> engine = *BackgroundSyncEngine::Create(std::move(deps), parameters);

  int workers_seen = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> registered{0};
    for (int i = 0; i < kEventsPerRound; ++i) {
      engine->Register({mail_, kSw, SyncType::kOneShot, absl::StrCat("r", round, "-", i)},
                       [&registered](absl::Status status) {
                         EXPECT_TRUE(status.ok()) << status;
                         registered.fetch_add(1);
                       });
    }
    if (starts_.load() > workers_seen)
      workers_seen = starts_.load();
    // The engine may run the round's first operations on the thread that finished the previous round's last one:
    // the worker can start after the loop above, so wait for at least one.
    EdgeWorker* worker = WaitForWorker(std::max(workers_seen, 1));
    ASSERT_NE(worker, nullptr) << "round " << round;
    std::vector<uint64_t> all = worker->WaitForEvents(static_cast<size_t>(kEventsPerRound));
    ASSERT_EQ(all.size(), static_cast<size_t>(kEventsPerRound)) << "round " << round;
    ReplyAcrossTheDeadline(worker, all, random_() % (kEventsPerRound + 1), parameters.max_sync_event_duration);
    // Every registration of the round settles, then the host's grace passes (stopping a worker left with
    // unanswered events, which cannot happen here: every event is answered).
    const absl::Time until = absl::Now() + kGenerous;
    while (!engine->GetAllRegistrations().empty() && absl::Now() < until)
      absl::SleepFor(absl::Milliseconds(1));
    ASSERT_TRUE(engine->GetAllRegistrations().empty()) << "round " << round;
    clock_.Advance(options.deadline_grace);
    // The next round's events go to a fresh worker, so replies of this round can never be mistaken for them.
    host_->OnWorkerProcessGone(kSw);
    {
      absl::MutexLock lock(&mu_);
      workers_.clear();
    }
    workers_seen = 0;
    starts_ = 0;
  }
  const int total = kRounds * kEventsPerRound;
  // The engine reports an outcome just after the registration is gone: wait for the last ones to be reported.
  auto reported = [&observer] {
    int count = 0;
    for (const BackgroundServiceEvent& event : observer.events())
      count += event.event_name == "sync event completed" || event.event_name == "sync event failed" ? 1 : 0;
    return count;
  };
  const absl::Time until = absl::Now() + kGenerous;
  while (reported() < total && absl::Now() < until)
    absl::SleepFor(absl::Milliseconds(1));
  int completed = 0, failed = 0;
  absl::flat_hash_map<std::string, int> outcomes_per_registration;
  for (const BackgroundServiceEvent& event : observer.events()) {
    const bool is_completed = event.event_name == "sync event completed";
    const bool is_failed = event.event_name == "sync event failed";
    completed += is_completed ? 1 : 0;
    failed += is_failed ? 1 : 0;
    if (is_completed || is_failed)
      ++outcomes_per_registration[event.instance_id];
  }
  EXPECT_EQ(completed + failed, total);
  EXPECT_EQ(outcomes_per_registration.size(), static_cast<size_t>(total));
  for (const auto& [tag, count] : outcomes_per_registration)
    EXPECT_EQ(count, 1) << tag << " was settled " << count << " times";
  EXPECT_EQ(engine->GetCounters().events_dispatched, total);
  // Each timed-out attempt got one more outcome from the host (the reply that lost, or the worker's end), and a
  // completed one may meet its timeout timer already running: all of them were ignored, none applied.
  EXPECT_GE(engine->GetCounters().late_outcomes_ignored, failed);
  EXPECT_LE(engine->GetCounters().late_outcomes_ignored, total);
  EXPECT_EQ(bad_messages_.count(), 0);
  std::printf(
      "deadline edge, engine: %d attempts: %d completed, %d timed out, 0 double; %lld late outcomes "
      "ignored\n",
      total, completed, failed, static_cast<long long>(engine->GetCounters().late_outcomes_ignored));
  engine->Shutdown();
  host_->Shutdown();
}

// A retry must not go to a worker that overran a deadline (it is about to be stopped): it waits, and goes to the
// next worker process once the stopped one has exited, instead of dying with the old one.
TEST_F(DeadlineEdgeTest, EventsForAnOverdueWorkerWaitForItsSuccessor) {
  WorkerHostOptions options;
  options.deadline_grace = absl::Seconds(5);
  options.start_timeout = absl::Hours(1000);
  options.idle_timeout = absl::Hours(1000);
  StartHost(options);
  report_exits_ = false;
  std::atomic<int> first_outcome{-1}, second_outcome{-1};
  host_->DispatchSyncEvent({kSw, mail_, SyncType::kOneShot, "hung", false, clock_.Now() + absl::Seconds(1)},
                           [&](SyncEventOutcome o) { first_outcome = static_cast<int>(o); });
  EdgeWorker* first = WaitForWorker(1);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->WaitForEvents(1).size(), 1u);
  clock_.Advance(absl::Seconds(1));  // past the deadline, within the grace: the worker is overdue
  host_->DispatchSyncEvent({kSw, mail_, SyncType::kOneShot, "retry", false, clock_.Now() + absl::Seconds(1)},
                           [&](SyncEventOutcome o) { second_outcome = static_cast<int>(o); });
  clock_.Advance(options.deadline_grace);  // the overdue worker is stopped; its exit is not reported yet
  EXPECT_EQ(first_outcome.load(), static_cast<int>(SyncEventOutcome::kTimedOut));
  EXPECT_EQ(stops_.load(), 1);
  EXPECT_EQ(first->WaitForEvents(2).size(), 1u) << "the retry was sent to the overdue worker";
  EXPECT_EQ(starts_.load(), 1) << "a second process was started before the first one exited";
  EXPECT_EQ(second_outcome.load(), -1) << "the retry was settled without running";

  host_->OnWorkerProcessGone(kSw);  // now it has exited: the retry gets a new process
  EdgeWorker* second = WaitForWorker(2);
  ASSERT_NE(second, nullptr);
  std::vector<uint64_t> ids = second->WaitForEvents(1);
  ASSERT_EQ(ids.size(), 1u);
  second->Reply(ids[0]);
  const absl::Time until = absl::Now() + kGenerous;
  while (second_outcome.load() == -1 && absl::Now() < until)
    absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(second_outcome.load(), static_cast<int>(SyncEventOutcome::kCompleted));
  EXPECT_EQ(bad_messages_.count(), 0);
}

}  // namespace
}  // namespace bgsync
