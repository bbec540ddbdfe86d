// The engine's story in one process, on real time (shortened parameters) and a real LevelDB profile:
// register while offline -> getTags -> online -> event -> failure -> retry after backoff -> restart from disk
// -> lastChance on the final attempt -> success. Prints a timeline and exits 0 only if all of it happened in that
// order. Until the multi-process browser lands, the "service worker" is a handler in this process.
//
// Usage: bgsync_demo [--profile DIR]   (default: a new temporary directory, removed at exit)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/permission_controller.h"
#include "components/background_sync/system_clock.h"
#include "public/background_sync_error.h"

namespace bgsync {
namespace {

constexpr int64_t kOutboxWorker = 1;
const absl::Time kStart = absl::Now();

void Say(const std::string& line) {
  std::printf("[%7.3fs] %s\n", absl::ToDoubleSeconds(absl::Now() - kStart), line.c_str());
  std::fflush(stdout);
}

// The demo's connectivity: starts offline; the story switches it on.
class DemoNetwork : public NetworkStateProvider {
 public:
  bool IsOnline(int64_t) override {
    absl::MutexLock lock(&mu_);
    return online_;
  }
  void Set(bool online) {
    absl::MutexLock lock(&mu_);
    online_ = online;
  }

 private:
  absl::Mutex mu_;
  bool online_ ABSL_GUARDED_BY(mu_) = false;
};

// One service-worker registration with an active worker, and an open window of its origin.
class DemoRegistry : public ServiceWorkerRegistryView {
 public:
  explicit DemoRegistry(Origin origin) : origin_(std::move(origin)) {}
  std::optional<ServiceWorkerRegistrationInfo> Find(int64_t id) override {
    if (id != kOutboxWorker)
      return std::nullopt;
    return ServiceWorkerRegistrationInfo{id, origin_, true};
  }
  bool HasTopLevelWindowClient(const Origin& origin) override { return origin == origin_; }

 private:
  const Origin origin_;
};

// The outbox service worker's sync handler: the mail server is down for the first two attempts.
class OutboxWorker : public SyncEventDispatcher {
 public:
  void DispatchSyncEvent(const SyncEventRequest& event, absl::AnyInvocable<void(SyncEventOutcome)> done) override {
    SyncEventOutcome outcome;
    {
      absl::MutexLock lock(&mu_);
      ++attempts_;
      last_chances_.push_back(event.last_chance);
      outcome = attempts_ <= 2 ? SyncEventOutcome::kRejected : SyncEventOutcome::kCompleted;
    }
    Say(absl::StrFormat("sync event \"%s\" dispatched (attempt %d, lastChance=%s, deadline in %.0fs)", event.tag,
                        attempts(), event.last_chance ? "true" : "false",
                        absl::ToDoubleSeconds(event.deadline - absl::Now())));
    Say(outcome == SyncEventOutcome::kCompleted ? "  worker: 3 messages sent; waitUntil fulfilled"
                                                : "  worker: mail server answered 503; waitUntil rejected");
    done(outcome);
  }
  int attempts() {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  std::vector<bool> last_chances() {
    absl::MutexLock lock(&mu_);
    return last_chances_;
  }

 private:
  absl::Mutex mu_;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<bool> last_chances_ ABSL_GUARDED_BY(mu_);
};

struct Browser {
  std::unique_ptr<BackgroundSyncEngine> engine;
};

int Fail(const std::string& why) {
  Say("DEMO FAILED: " + why);
  return 1;
}

// Polls the registrations (every 5 ms, for at most `timeout`) until `predicate` holds.
template <typename Predicate>
bool WaitFor(BackgroundSyncEngine& engine, Predicate predicate, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!predicate(engine.GetAllRegistrations())) {
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

int Run(const std::string& profile) {
  const Origin origin = *Origin::Parse("https://mail.example");
  SystemClock clock;
  DemoNetwork network;
  DefaultPermissionController permissions;
  DemoRegistry registry(origin);
  OutboxWorker worker;

  BackgroundSyncParameters parameters;
  parameters.initial_retry_delay = absl::Seconds(1);
  parameters.retry_delay_factor = 2;
  parameters.max_sync_event_duration = absl::Seconds(10);
  parameters.min_sync_recovery_time = absl::Seconds(2);

  auto start_engine = [&]() -> absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> storage = LevelDbStorageBackend::Open(profile + "/sync");
    if (!storage.ok())
      return storage.status();
    BackgroundSyncEngine::Dependencies deps{&clock, &network, &permissions, &registry, &worker, *std::move(storage)};
    return BackgroundSyncEngine::Create(std::move(deps), parameters);
  };

  Say("browser starts with profile " + profile + " (offline)");
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine = start_engine();
  if (!engine.ok())
    return Fail(std::string(engine.status().message()));
  Say(absl::StrFormat("parameters: %d attempts, retry after %s x%d^(n-1), event limit %s", parameters.max_sync_attempts,
                      absl::FormatDuration(parameters.initial_retry_delay), parameters.retry_delay_factor,
                      absl::FormatDuration(parameters.max_sync_event_duration)));

  // The page registers while offline; its client acknowledges the resolved promise.
  constexpr ClientId kWindow = 1;
  absl::Notification registered;
  absl::Status register_status;
  (*engine)->Register({origin, kOutboxWorker, SyncType::kOneShot, "sync-messages", absl::ZeroDuration(), kWindow},
                      [&](absl::Status status) {
                        register_status = status;
                        registered.Notify();
                      });
  registered.WaitForNotification();
  if (!register_status.ok())
    return Fail("register: " + register_status.ToString());
  Say("page: registration.sync.register('sync-messages') resolved (stored durably)");
  if (!(*engine)->DidResolveRegistration(origin, kWindow, {kOutboxWorker, SyncType::kOneShot, "sync-messages"}).ok()) {
    return Fail("DidResolveRegistration");
  }

  absl::Notification got_tags;
  std::vector<std::string> tags;
  (*engine)->GetRegistrations(origin, kOutboxWorker, SyncType::kOneShot,
                              [&](absl::StatusOr<std::vector<std::string>> result) {
                                if (result.ok())
                                  tags = *result;
                                got_tags.Notify();
                              });
  got_tags.WaitForNotification();
  Say(absl::StrFormat("page: getTags() -> [%s]", tags.empty() ? "" : "\"" + tags[0] + "\""));
  if (tags != std::vector<std::string>{"sync-messages"})
    return Fail("getTags did not list the tag");
  if (worker.attempts() != 0)
    return Fail("an event fired while offline");

  Say("network: online");
  network.Set(true);
  (*engine)->OnNetworkChanged();
  auto waiting_after = [](int attempts) {
    return [attempts](const std::vector<SyncRegistration>& all) {
      return all.size() == 1 && all[0].state == SyncState::kWaiting && all[0].num_attempts == attempts;
    };
  };
  if (!WaitFor(**engine, waiting_after(1)))
    return Fail("first attempt did not fail and back off");
  SyncRegistration waiting = (*engine)->GetAllRegistrations()[0];
  Say(absl::StrFormat("engine: attempt 1 failed (%s); waiting, next attempt in %.1fs",
                      SyncEventOutcomeName(waiting.last_failure),
                      absl::ToDoubleSeconds(waiting.next_attempt_time - absl::Now())));

  Say("browser exits while the registration is waiting; restarting from disk");
  engine->reset();
  engine = start_engine();
  if (!engine.ok())
    return Fail(std::string(engine.status().message()));
  std::vector<SyncRegistration> reloaded = (*engine)->GetAllRegistrations();
  if (reloaded.size() != 1 || reloaded[0].num_attempts != 1 ||
      reloaded[0].next_attempt_time != waiting.next_attempt_time) {
    return Fail("the registration did not survive the restart unchanged");
  }
  Say(absl::StrFormat("engine: reloaded \"%s\" (%s, attempt 1 of %d, same absolute retry time)", reloaded[0].key.tag,
                      SyncStateName(reloaded[0].state), reloaded[0].max_attempts));

  if (!WaitFor(**engine, waiting_after(2)))
    return Fail("second attempt did not fail and back off");
  waiting = (*engine)->GetAllRegistrations()[0];
  Say(absl::StrFormat("engine: attempt 2 failed; waiting, next attempt in %.1fs (backoff x%d)",
                      absl::ToDoubleSeconds(waiting.next_attempt_time - absl::Now()), parameters.retry_delay_factor));

  if (!WaitFor(**engine, [](const std::vector<SyncRegistration>& all) { return all.empty(); })) {
    return Fail("final attempt did not succeed");
  }
  Say("engine: sync event completed; registration removed");

  std::vector<bool> last_chances = worker.last_chances();
  if (last_chances != std::vector<bool>{false, false, true})
    return Fail("lastChance was not set exactly on attempt 3");
  Say("verified: 3 attempts, lastChance only on the last, nothing left registered");
  return 0;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  std::string profile;
  bool temporary = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--profile" && i + 1 < argc) {
      profile = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bgsync_demo [--profile DIR]\n");
      return 2;
    }
  }
  if (profile.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-demo-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    profile = pattern;
    temporary = true;
  }
  int result = bgsync::Run(profile);
  if (temporary)
    std::filesystem::remove_all(profile);
  return result;
}
