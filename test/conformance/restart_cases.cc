// Persistence across browser restarts and crashes (spec.md decision 4) and the browser's default parameters
// (decision 3). Every case here restarts, kills or launches a browser, so it needs a browser the suite launched.
#include <signal.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/conformance/case_run.h"
#include "test/conformance/conformance_areas.h"

namespace bgsync::conformance {
namespace {

void KeepsRegistrationsAndRetryTime(CaseRun& run) {
  const std::string origin = run.NewOrigin("restart");
  std::optional<Worker> a = run.InstallWorker(origin, {});
  WorkerScript rejecting;
  rejecting.outcome = "rejected";
  rejecting.hold = true;
  std::optional<Worker> b = run.InstallWorker(origin, rejecting);
  if (!a || !b || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  // "waiting" on b: one failed attempt, then held back (b emulated offline) so that its retry time stays ahead.
  run.CheckRegistered(run.Register(page, b->id, "waiting"), "waiting");
  if (!run.Eventually("b's worker to receive \"waiting\"", [&] { return HasEvent(run, *b, "waiting"); }))
    return;
  run.EmulateOffline(b->id, true);
  run.ReleaseEvents(*b);
  std::optional<admin::Registration> before;
  if (!run.Eventually("\"waiting\" backing off after its first failure", [&] {
        before = run.Find(b->id, "waiting");
        return before && before->state() == "waiting" && before->num_attempts() == 1;
      })) {
    return;
  }
  run.Observe("before: " + DescribeRegistration(*before));
  // "pending" (acknowledged) and "unacknowledged" on a, which is emulated offline so neither fires yet.
  run.EmulateOffline(a->id, true);
  run.CheckRegistered(run.Register(page, a->id, "pending"), "pending");
  run.CheckRegistered(run.Register(page, a->id, "unacknowledged", /*acknowledge=*/false), "unacknowledged");
  // A periodic registration, an hour away, and its permission.
  run.SetPermission(origin, /*periodic=*/true, admin::SetPermissionRequest::SETTING_GRANTED);
  run.CheckRegistered(run.PeriodicRegister(page, a->id, "news", 3600000), "news");
  std::optional<admin::Registration> news_before = run.Find(a->id, "news", "periodic");

  // A crash: every Register answered OK must survive it.
  if (!run.RestartBrowser(SIGKILL))
    return;
  std::optional<admin::Registration> pending = run.Find(a->id, "pending");
  std::optional<admin::Registration> unacknowledged = run.Find(a->id, "unacknowledged");
  std::optional<admin::Registration> waiting = run.Find(b->id, "waiting");
  run.Observe("after: " + Join(Describe(run.Registrations(a->id))) + " | " + Join(Describe(run.Registrations(b->id))));
  run.Check(pending && pending->state() == "pending" && pending->num_attempts() == 0,
            "\"pending\" still pending after the restart", pending ? DescribeRegistration(*pending) : "lost");
  run.Check(unacknowledged.has_value(), "\"unacknowledged\" kept after the restart");
  if (run.Check(waiting.has_value(), "\"waiting\" kept after the restart")) {
    run.Check(waiting->num_attempts() == 1, "\"waiting\" to keep its 1 failed attempt", DescribeRegistration(*waiting));
    run.Check(waiting->next_attempt_unix_ms() == before->next_attempt_unix_ms(),
              absl::StrCat("\"waiting\" to keep its absolute retry time (", before->next_attempt_unix_ms(), ")"),
              absl::StrCat(waiting->next_attempt_unix_ms(), ", ",
                           waiting->next_attempt_unix_ms() - before->next_attempt_unix_ms(), "ms off"));
  }
  std::optional<admin::Registration> news = run.Find(a->id, "news", "periodic");
  run.Check(news && news_before && news->next_attempt_unix_ms() == news_before->next_attempt_unix_ms() &&
                news->min_interval_ms() == 3600000,
            "the periodic \"news\" kept with its interval and time", news ? DescribeRegistration(*news) : "lost");
  Page& fresh = run.OpenPage(origin);
  run.Check(TagsOf(run.GetTags(fresh, a->id)) == std::vector<std::string>{"pending", "unacknowledged"},
            "getTags [pending, unacknowledged] after the restart");
  run.Check(TagsOf(run.PeriodicGetTags(fresh, a->id)) == std::vector<std::string>{"news"},
            "periodic getTags [news] after the restart");

  // Online: the pending ones fire (the unacknowledged one too: its client went away with the old browser), and
  // the waiting one no earlier than its retry time, as its second attempt.
  run.SetOnline();
  if (!WaitGone(run, *a, "pending") || !WaitGone(run, *a, "unacknowledged"))
    return;
  std::vector<std::string> events = run.Events(*a);
  std::sort(events.begin(), events.end());
  run.Check(events == std::vector<std::string>{EventLine("pending", false), EventLine("unacknowledged", false)},
            "one event each for \"pending\" and \"unacknowledged\"", Join(events));
  if (!run.Eventually("\"waiting\" to fire its second attempt", [&] { return run.Events(*b).size() >= 2; }))
    return;
  run.Check(run.Events(*b)[1] == EventLine("waiting", false), "the second attempt without lastChance",
            run.Events(*b)[1]);
  std::vector<admin::LogEntry> dispatched = run.BrowserLog(b->id, "Dispatched sync event");
  if (run.Check(dispatched.size() >= 2, "2 dispatches of \"waiting\" in the browser log")) {
    run.Check(dispatched[1].unix_ms() >= before->next_attempt_unix_ms(), "the retry no earlier than its retry time",
              absl::StrCat(before->next_attempt_unix_ms() - dispatched[1].unix_ms(), "ms early"));
  }
}

void InterruptedEventFiresAgainUncounted(CaseRun& run) {
  const std::string origin = run.NewOrigin("killed");
  WorkerScript script;
  script.outcome = "hang";
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  if (!run.Eventually("the worker to receive the event", [&] { return run.Events(*sw).size() == 1; }))
    return;
  if (!run.RestartBrowser(SIGKILL))
    return;
  std::optional<admin::Registration> r = run.Find(sw->id, "outbox");
  run.Check(r && r->state() == "pending" && r->num_attempts() == 0,
            "\"outbox\" pending with no attempt counted after the crash interrupted its event",
            r ? DescribeRegistration(*r) : "lost");
  run.SetOnline();
  if (!run.Eventually("the event to fire again", [&] { return run.Events(*sw).size() == 2; }))
    return;
  run.CheckEvents(*sw, {EventLine("outbox", false), EventLine("outbox", false)});
}

void InterruptedRepeatedlyCountsAsFailed(CaseRun& run) {
  const BrowserParameters& p = run.parameters();
  const std::string origin = run.NewOrigin("poison");
  WorkerScript script;
  script.outcome = "hang";
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "poison"), "poison");
  const int n = p.max_consecutive_interruptions;
  for (int k = 1; k <= n; ++k) {
    if (!run.Eventually(absl::StrCat("event ", k, " to reach the worker"),
                        [&] { return run.Events(*sw).size() == static_cast<size_t>(k); })) {
      return;
    }
    if (!run.RestartBrowser(SIGKILL))
      return;
    std::optional<admin::Registration> r = run.Find(sw->id, "poison");
    if (k < n) {
      run.Check(r && r->state() == "pending" && r->num_attempts() == 0,
                absl::StrCat("after interruption ", k, ": pending, no attempt counted"),
                r ? DescribeRegistration(*r) : "lost");
      run.SetOnline();
    } else if (n >= p.max_attempts) {
      run.Check(!r,
                absl::StrCat(n, " interruptions in a row to count as ", n, " failed attempts, using up all ",
                             p.max_attempts, ": removed"),
                r ? DescribeRegistration(*r) : "");
    } else {
      run.Check(r && r->num_attempts() == n, absl::StrCat(n, " interruptions in a row to count as failed attempts"),
                r ? DescribeRegistration(*r) : "lost");
    }
  }
}

void DefaultsAreChromiums(CaseRun& run) {
  absl::StatusOr<std::unique_ptr<LaunchedBrowser>> own = run.context().launch_browser({});
  if (!run.Check(own.ok(), "a browser with default parameters to start", own.status().ToString()))
    return;
  run.Observe("started a browser with no parameter flags");
  ConformanceContext defaults;
  defaults.browser = own->get();
  // Chromium's parameters (chromium.md), which the case expects.
  defaults.parameters.retry_delay = absl::Minutes(5);
  defaults.parameters.retry_factor = 3;
  defaults.parameters.max_attempts = 3;
  defaults.parameters.event_timeout = absl::Minutes(3);
  defaults.parameters.periodic_min_interval = absl::Hours(12);
  defaults.parameters.periodic_batch_interval = absl::Hours(12);
  defaults.parameters.periodic_max_attempts = 3;
  defaults.worker_binary = run.context().worker_binary;
  defaults.scratch_directory = run.context().scratch_directory;
  CaseResult inner_result;
  {
    CaseRun inner(defaults, "defaults");
    const std::string origin = inner.NewOrigin("defaults");
    WorkerScript script;
    script.outcome = "rejected";
    std::optional<Worker> sw = inner.InstallWorker(origin, script);
    if (sw && inner.SetOnline()) {
      Page& page = inner.OpenPage(origin);
      inner.CheckRegistered(inner.Register(page, sw->id, "outbox"), "outbox");
      std::optional<admin::Registration> r;
      if (inner.Eventually("\"outbox\" waiting after its first failure", [&] {
            r = inner.Find(sw->id, "outbox");
            return r && r->state() == "waiting";
          })) {
        inner.Observe("registration: " + DescribeRegistration(*r));
        inner.Check(r->max_attempts() == 3, "3 attempts by default", absl::StrCat(r->max_attempts()));
        std::vector<admin::LogEntry> dispatched = inner.BrowserLog(sw->id, "Dispatched sync event");
        if (inner.Check(!dispatched.empty(), "a dispatch in the browser log")) {
          const int64_t wait = r->next_attempt_unix_ms() - dispatched[0].unix_ms();
          inner.Check(wait >= 300000 && wait < 360000, "the first retry 5 minutes after the failure",
                      absl::StrCat(wait, "ms"));
        }
      }
      inner.SetPermission(origin, /*periodic=*/true, admin::SetPermissionRequest::SETTING_GRANTED);
      const int64_t registered_at = CaseRun::NowMs();
      inner.CheckRegistered(inner.PeriodicRegister(page, sw->id, "news", 0), "news");
      std::optional<admin::Registration> news = inner.Find(sw->id, "news", "periodic");
      if (inner.Check(news.has_value(), "\"news\" listed")) {
        const int64_t delay = news->next_attempt_unix_ms() - registered_at;
        constexpr int64_t k12Hours = 12 * 3600 * 1000;
        inner.Check(delay >= k12Hours && delay < k12Hours + 60000,
                    "a periodic registration with minInterval 0 to fire no sooner than 12 hours on",
                    absl::StrCat(delay, "ms"));
      }
    }
    inner_result = inner.Finish();
  }
  run.Absorb(inner_result, "default browser");
}

}  // namespace

std::vector<ConformanceCase> RestartCases() {
  return {
      {"restart/keeps-registrations-and-retry-time",
       "decision 4: after SIGKILL and restart every registration is there (pending, unacknowledged, waiting with "
       "its attempts and absolute retry time, periodic with its interval); they fire once online, the waiting one "
       "no earlier than its time",
       CaseNeeds::kRestart, KeepsRegistrationsAndRetryTime},
      {"restart/interrupted-event-fires-again",
       "decision 4: an event interrupted by a browser kill fires again after restart without counting the attempt",
       CaseNeeds::kRestart, InterruptedEventFiresAgainUncounted},
      {"restart/interrupted-repeatedly-counts-as-failed",
       "decision 4 (improvement): consecutive interruptions (3) count as failed attempts, so a poison pill ends",
       CaseNeeds::kRestart, InterruptedRepeatedlyCountsAsFailed},
      {"defaults/chromium-parameters",
       "decision 3: without parameters the browser uses Chromium's: 3 attempts, first retry after 5 min, "
       "periodic minimum 12 h",
       CaseNeeds::kOwnBrowser, DefaultsAreChromiums},
  };
}

}  // namespace bgsync::conformance
