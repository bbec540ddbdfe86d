// When one-shot registrations fire, retry and go away (spec.md "One-shot sync": register step 4-5, firing,
// settling; decisions 1, 2, 5 and 8).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/conformance/case_run.h"
#include "test/conformance/conformance_areas.h"

namespace bgsync::conformance {
namespace {

using E = mojom::BackgroundSyncError;

void FiresAfterAcknowledgement(CaseRun& run) {
  const std::string origin = run.NewOrigin("ack");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  if (!run.CheckRegistered(run.Register(page, sw->id, "outbox", /*acknowledge=*/false), "outbox"))
    return;
  // A witness on the same service worker: once it has fired, "outbox" would have too, were it fireable.
  run.CheckRegistered(run.Register(page, sw->id, "witness"), "witness");
  if (!run.Eventually("the acknowledged witness to fire", [&] { return HasEvent(run, *sw, "witness"); }))
    return;
  std::optional<admin::Registration> outbox = run.Find(sw->id, "outbox");
  run.Check(outbox && outbox->state() == "pending" && outbox->num_attempts() == 0 && !outbox->resolved(),
            "the unacknowledged \"outbox\" pending, unresolved, not attempted",
            outbox ? DescribeRegistration(*outbox) : "not listed");
  run.Check(!HasEvent(run, *sw, "outbox"), "no event for \"outbox\" before its acknowledgement", Join(run.Events(*sw)));
  // Only the registering page's acknowledgement counts.
  Page& other = run.OpenPage(origin);
  run.Acknowledge(other, sw->id, "outbox");
  run.CheckRegistered(run.Register(page, sw->id, "witness-2"), "witness-2");
  if (!run.Eventually("the second witness to fire", [&] { return HasEvent(run, *sw, "witness-2"); }))
    return;
  run.Check(!HasEvent(run, *sw, "outbox"), "no event for \"outbox\" after another page acknowledged it",
            Join(run.Events(*sw)));
  run.Acknowledge(page, sw->id, "outbox");
  if (!WaitGone(run, *sw, "outbox"))
    return;
  run.CheckEvents(*sw, {EventLine("witness", false), EventLine("witness-2", false), EventLine("outbox", false)});
}

void FiresWhenClientDisconnects(CaseRun& run) {
  const std::string origin = run.NewOrigin("gone");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOnline())
    return;
  Page& leaving = run.OpenPage(origin);
  Page& staying = run.OpenPage(origin);
  if (!run.CheckRegistered(run.Register(leaving, sw->id, "outbox", /*acknowledge=*/false), "outbox"))
    return;
  run.CheckRegistered(run.Register(staying, sw->id, "witness"), "witness");
  if (!run.Eventually("the acknowledged witness to fire", [&] { return HasEvent(run, *sw, "witness"); }))
    return;
  run.Check(!HasEvent(run, *sw, "outbox"), "no event for \"outbox\" while its client is there unacknowledged",
            Join(run.Events(*sw)));
  // The page goes away without acknowledging: the registration becomes fireable (decision 2).
  run.ClosePage(leaving);
  if (!WaitGone(run, *sw, "outbox"))
    return;
  run.CheckEvents(*sw, {EventLine("witness", false), EventLine("outbox", false)});
}

void SuccessRemoves(CaseRun& run) {
  const std::string origin = run.NewOrigin("done");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  if (!WaitGone(run, *sw, "outbox"))
    return;
  run.Check(TagsOf(run.GetTags(page, sw->id)).empty(), "getTags to be empty after the event completed");
  // The tag is free again: registering it anew makes a new registration that fires once more.
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  if (!WaitGone(run, *sw, "outbox"))
    return;
  run.CheckEvents(*sw, {EventLine("outbox", false), EventLine("outbox", false)});
}

void ReregisterWhilePendingIsNoop(CaseRun& run) {
  const std::string origin = run.NewOrigin("again");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOnline() || !run.EmulateOffline(sw->id, true))
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  std::optional<admin::Registration> before = run.Find(sw->id, "outbox");
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  std::optional<admin::Registration> after = run.Find(sw->id, "outbox");
  run.Check(
      before && after && before->state() == "pending" && after->SerializeAsString() == before->SerializeAsString(),
      "registering a pending tag again to change nothing",
      absl::StrCat(before ? DescribeRegistration(*before) : "not listed", " -> ",
                   after ? DescribeRegistration(*after) : "not listed"));
  run.Check(run.Registrations(sw->id).size() == 1, "one registration for the tag");
  run.EmulateOffline(sw->id, false);
  if (!WaitGone(run, *sw, "outbox"))
    return;
  run.CheckEvents(*sw, {EventLine("outbox", false)});
}

void ReregisterWhileWaitingFiresNow(CaseRun& run) {
  const BrowserParameters& p = run.parameters();
  if (p.max_attempts < 3) {
    run.Skip("needs max-attempts >= 3");
    return;
  }
  const std::string origin = run.NewOrigin("waiting");
  WorkerScript script;
  script.fail_first = 2;
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  // Two failed attempts: backing off for retry-delay * factor, and the next attempt would be the last chance.
  std::optional<admin::Registration> waiting;
  if (!run.Eventually("\"outbox\" waiting after two failed attempts", [&] {
        waiting = run.Find(sw->id, "outbox");
        return waiting && waiting->state() == "waiting" && waiting->num_attempts() == 2;
      })) {
    return;
  }
  run.Observe("registration: " + DescribeRegistration(*waiting));
  const int64_t backoff_ends = waiting->next_attempt_unix_ms();
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  const int64_t reregistered_at = CaseRun::NowMs();
  if (!run.Check(reregistered_at < backoff_ends,
                 "the second register to be answered while the backoff still ran (the machine was too slow)",
                 absl::StrCat(reregistered_at - backoff_ends, "ms after the backoff ended"))) {
    return;
  }
  if (!WaitGone(run, *sw, "outbox"))
    return;
  // Pending again with fresh attempts (decision 1): not the last chance, and not held back by the backoff.
  run.CheckEvents(*sw, {EventLine("outbox", false), EventLine("outbox", false), EventLine("outbox", false)});
  std::vector<admin::LogEntry> dispatched = run.BrowserLog(sw->id, "Dispatched sync event");
  if (run.Check(dispatched.size() == 3, "3 \"Dispatched sync event\" entries in the browser log",
                absl::StrCat(dispatched.size()))) {
    run.Check(dispatched[2].unix_ms() < backoff_ends,
              "the event after re-registering to be dispatched before the backoff would have ended",
              absl::StrCat(dispatched[2].unix_ms() - backoff_ends, "ms after it"));
  }
}

// Registered again while its event runs; the event then settles with `worker_fails`.
void ReregisterWhileFiring(CaseRun& run, bool worker_fails) {
  const std::string origin = run.NewOrigin(worker_fails ? "refail" : "refire");
  WorkerScript script;
  script.hold = true;
  script.fail_first = worker_fails ? 1 : 0;
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  if (!run.Eventually("the worker to receive the event", [&] { return run.Events(*sw).size() == 1; }))
    return;
  std::optional<admin::Registration> firing = run.Find(sw->id, "outbox");
  run.Check(firing && firing->state() == "firing", "\"outbox\" firing while its event is held",
            firing ? DescribeRegistration(*firing) : "not listed");
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  std::optional<admin::Registration> again = run.Find(sw->id, "outbox");
  run.Check(again && again->state() == "reregistered-while-firing",
            "\"outbox\" reregistered-while-firing after registering it during its event",
            again ? DescribeRegistration(*again) : "not listed");
  run.ReleaseEvents(*sw);
  if (!WaitGone(run, *sw, "outbox"))
    return;
  // Whatever the first event's outcome, the registration became pending and fired once more, with fresh attempts.
  run.CheckEvents(*sw, {EventLine("outbox", false), EventLine("outbox", false)});
  if (worker_fails) {
    std::vector<admin::LogEntry> failed = run.BrowserLog(sw->id, "sync event failed");
    std::vector<admin::LogEntry> dispatched = run.BrowserLog(sw->id, "Dispatched sync event");
    if (run.Check(failed.size() == 1 && dispatched.size() == 2, "the browser log to show 2 dispatches and 1 failure",
                  absl::StrCat(dispatched.size(), " dispatches, ", failed.size(), " failures"))) {
      const int64_t gap = dispatched[1].unix_ms() - failed[0].unix_ms();
      run.Check(gap < absl::ToInt64Milliseconds(run.parameters().retry_delay),
                "the second event without the retry backoff (pending, not waiting)",
                absl::StrCat("dispatched ", gap, "ms after the failure"));
    }
  }
}

void RetriesWithBackoffAndLastChance(CaseRun& run) {
  const BrowserParameters& p = run.parameters();
  const std::string origin = run.NewOrigin("retry");
  WorkerScript script;
  script.outcome = "rejected";
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  // Sample the registration until it is gone, keeping the first sighting of each backoff.
  std::vector<admin::Registration> backoffs;
  const absl::Time deadline = absl::Now() + kGenerous;
  std::optional<admin::Registration> r;
  while ((r = run.Find(sw->id, "outbox")) && absl::Now() < deadline) {
    if (r->state() == "waiting" && (backoffs.empty() || backoffs.back().num_attempts() != r->num_attempts())) {
      run.Observe("registration: " + DescribeRegistration(*r));
      backoffs.push_back(*r);
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (!run.Check(!r, "the registration to be removed after its last attempt failed", r ? DescribeRegistration(*r) : ""))
    return;
  std::vector<std::string> expected;
  for (int i = 1; i <= p.max_attempts; ++i)
    expected.push_back(EventLine("outbox", i == p.max_attempts));
  run.CheckEvents(*sw, expected);
  if (!run.Check(backoffs.size() == static_cast<size_t>(p.max_attempts - 1),
                 absl::StrCat(p.max_attempts - 1, " backoffs seen (waiting with 1, 2, ... attempts)"),
                 absl::StrCat(backoffs.size())))
    return;
  std::vector<admin::LogEntry> dispatched = run.BrowserLog(sw->id, "Dispatched sync event");
  if (!run.Check(dispatched.size() == static_cast<size_t>(p.max_attempts),
                 absl::StrCat(p.max_attempts, " \"Dispatched sync event\" entries in the browser log"),
                 absl::StrCat(dispatched.size())))
    return;
  absl::Duration delay = p.retry_delay;
  for (size_t n = 0; n < backoffs.size(); ++n) {
    const int64_t wait = backoffs[n].next_attempt_unix_ms() - dispatched[n].unix_ms();
    const int64_t want = absl::ToInt64Milliseconds(delay);
    // The wait runs from the failure, which follows the dispatch by the event's (short) run time.
    run.Check(
        wait >= want && wait < want + absl::ToInt64Milliseconds(p.retry_delay),
        absl::StrCat("attempt ", n + 2, " scheduled retry-delay * factor^", n, " = ", want, "ms after attempt ", n + 1),
        absl::StrCat(wait, "ms"));
    run.Check(dispatched[n + 1].unix_ms() >= backoffs[n].next_attempt_unix_ms(),
              absl::StrCat("attempt ", n + 2, " no earlier than scheduled"),
              absl::StrCat(backoffs[n].next_attempt_unix_ms() - dispatched[n + 1].unix_ms(), "ms early"));
    delay *= p.retry_factor;
  }
}

// One failed attempt whose cause is `outcome` (the worker's behaviour) counts: waiting, 1 attempt, `failure`.
void FailedAttemptCounts(CaseRun& run, const std::string& outcome, const std::string& failure) {
  const std::string origin = run.NewOrigin(outcome);
  WorkerScript script;
  script.outcome = outcome;
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  std::optional<admin::Registration> r;
  if (!run.Eventually("\"outbox\" waiting after one failed attempt (" + failure + ")", [&] {
        r = run.Find(sw->id, "outbox");
        return r && r->state() == "waiting" && r->num_attempts() == 1;
      })) {
    return;
  }
  run.Observe("registration: " + DescribeRegistration(*r));
  run.Check(r->last_failure() == failure, "the failure recorded as \"" + failure + "\"", r->last_failure());
  run.Check(r->next_attempt_unix_ms() > 0, "a retry scheduled");
  run.CheckEvents(*sw, {EventLine("outbox", false)});
  if (outcome == "hang") {
    // The browser gave the event its whole time limit before counting it as failed.
    std::vector<admin::LogEntry> dispatched = run.BrowserLog(sw->id, "Dispatched sync event");
    std::vector<admin::LogEntry> failed = run.BrowserLog(sw->id, "sync event failed");
    if (run.Check(!dispatched.empty() && !failed.empty(), "a dispatch and a failure in the browser log")) {
      const int64_t ran = failed[0].unix_ms() - dispatched[0].unix_ms();
      run.Check(ran >= absl::ToInt64Milliseconds(run.parameters().event_timeout) - 100,
                "the timeout no earlier than event-timeout after the dispatch", absl::StrCat(ran, "ms"));
    }
  }
}

void OfflineWaitsOnlineFires(CaseRun& run) {
  const std::string origin = run.NewOrigin("offline");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOffline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  run.CheckRegistered(run.Register(page, sw->id, "drafts"), "drafts");
  for (const std::string tag : {"outbox", "drafts"}) {
    std::optional<admin::Registration> r = run.Find(sw->id, tag);
    run.Check(r && r->state() == "pending" && r->num_attempts() == 0, "\"" + tag + "\" pending while offline",
              r ? DescribeRegistration(*r) : "not listed");
  }
  admin::Registration why = run.Explain(*sw, "outbox");
  // The whole browser is emulated offline: either reason says it waits for the network.
  run.Check(why.reason() == "offline" || why.reason() == "emulated-offline",
            "the browser to say \"outbox\" waits for the network (offline or emulated-offline)", why.reason());
  run.Check(run.Events(*sw).empty(), "no event while offline", Join(run.Events(*sw)));
  // Becoming online fires every pending registration.
  run.SetOnline();
  if (!WaitGone(run, *sw, "outbox") || !WaitGone(run, *sw, "drafts"))
    return;
  std::vector<std::string> events = run.Events(*sw);
  std::sort(events.begin(), events.end());
  run.Check(events == std::vector<std::string>{EventLine("drafts", false), EventLine("outbox", false)},
            "one event each for \"drafts\" and \"outbox\"", Join(events));
}

void EmulatedOfflinePerServiceWorker(CaseRun& run) {
  const std::string origin = run.NewOrigin("emulated");
  std::optional<Worker> a = run.InstallWorker(origin, {});
  std::optional<Worker> b = run.InstallWorker(origin, {});
  if (!a || !b || !run.SetOnline())
    return;
  // Reference-counted like DevTools sessions: two emulations need two stops.
  run.EmulateOffline(a->id, true);
  run.EmulateOffline(a->id, true);
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, a->id, "outbox"), "outbox");
  run.CheckRegistered(run.Register(page, b->id, "witness-1"), "witness-1");
  if (!WaitGone(run, *b, "witness-1"))
    return;
  run.Check(run.Events(*a).empty(), "no event for the emulated-offline service worker while another one fires",
            Join(run.Events(*a)));
  admin::Registration why = run.Explain(*a, "outbox");
  run.Check(why.reason() == "emulated-offline", "the browser to say \"outbox\" waits for emulated offline to end",
            why.reason());
  run.EmulateOffline(a->id, false);
  run.CheckRegistered(run.Register(page, b->id, "witness-2"), "witness-2");
  if (!WaitGone(run, *b, "witness-2"))
    return;
  run.Check(run.Events(*a).empty(), "still no event after one of two emulations stopped", Join(run.Events(*a)));
  run.EmulateOffline(a->id, false);
  if (!WaitGone(run, *a, "outbox"))
    return;
  run.CheckEvents(*a, {EventLine("outbox", false)});
}

void GetTagsInEveryState(CaseRun& run) {
  const std::string origin = run.NewOrigin("tags");
  WorkerScript script;
  script.hold = true;
  script.fail_first = 1;
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  // "zz-firing" fires and is held; "aa-pending" is never acknowledged, so it stays pending.
  run.CheckRegistered(run.Register(page, sw->id, "zz-firing"), "zz-firing");
  if (!run.Eventually("the worker to receive \"zz-firing\"", [&] { return HasEvent(run, *sw, "zz-firing"); }))
    return;
  run.CheckRegistered(run.Register(page, sw->id, "aa-pending", /*acknowledge=*/false), "aa-pending");
  auto states = [&] {
    std::vector<std::string> seen;
    for (const admin::Registration& r : run.Registrations(sw->id))
      seen.push_back(r.tag() + ":" + r.state());
    std::sort(seen.begin(), seen.end());
    return seen;
  };
  run.Check(states() == std::vector<std::string>{"aa-pending:pending", "zz-firing:firing"},
            "aa-pending pending and zz-firing firing", Join(states()));
  const std::vector<std::string> both = {"aa-pending", "zz-firing"};
  run.Check(TagsOf(run.GetTags(page, sw->id)) == both, "getTags [aa-pending, zz-firing] (sorted) while firing");
  // The held event is rejected: zz-firing backs off.
  run.ReleaseEvents(*sw);
  if (!run.Eventually("zz-firing waiting", [&] {
        std::optional<admin::Registration> r = run.Find(sw->id, "zz-firing");
        return r && r->state() == "waiting";
      })) {
    return;
  }
  run.Check(TagsOf(run.GetTags(page, sw->id)) == both, "getTags [aa-pending, zz-firing] while waiting");
  // The retry completes: only the pending one is left.
  if (!WaitGone(run, *sw, "zz-firing"))
    return;
  run.Check(TagsOf(run.GetTags(page, sw->id)) == std::vector<std::string>{"aa-pending"},
            "getTags [aa-pending] after zz-firing completed");
}

void GetTagsHasNoPermissionOrWorkerCheck(CaseRun& run) {
  const std::string origin = run.NewOrigin("tagcheck");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  std::optional<Worker> inactive = run.InstallWorker(origin, {}, /*activate=*/false);
  if (!sw || !inactive || !run.EmulateOffline(sw->id, true))
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  run.SetPermission(origin, /*periodic=*/false, admin::SetPermissionRequest::SETTING_DENIED);
  mojom::GetRegistrationsReply denied = run.GetTags(page, sw->id);
  run.Check(denied.has_registrations() && TagsOf(denied) == std::vector<std::string>{"outbox"},
            "getTags [outbox] although the permission is now denied", DescribeTags(denied));
  mojom::GetRegistrationsReply none = run.GetTags(page, inactive->id);
  run.Check(none.has_registrations() && TagsOf(none).empty(), "getTags [] (not an error) with no active worker",
            DescribeTags(none));
}

void UnregisteringServiceWorkerDeletes(CaseRun& run) {
  const std::string origin = run.NewOrigin("unreg");
  WorkerScript script;
  script.hold = true;
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline())
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.Register(page, sw->id, "firing"), "firing");
  if (!run.Eventually("the worker to receive \"firing\"", [&] { return HasEvent(run, *sw, "firing"); }))
    return;
  run.EmulateOffline(sw->id, true);
  run.CheckRegistered(run.Register(page, sw->id, "pending"), "pending");
  run.SetPermission(origin, /*periodic=*/true, admin::SetPermissionRequest::SETTING_GRANTED);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "periodic", 3600000), "periodic");
  run.Observe("registrations: " + Join(Describe(run.Registrations(sw->id))));
  const size_t registered = run.Registrations(sw->id).size();
  if (!run.UnregisterServiceWorker(sw->id))
    return;
  // The deletion may complete after the admin call returns, but all at once: every listing shows all or none.
  std::vector<std::string> partial;
  run.Eventually("the unregistered service worker's registrations to be deleted", [&] {
    std::vector<admin::Registration> left = run.Registrations(sw->id);
    if (!left.empty() && left.size() != registered)
      partial = Describe(left);
    return left.empty();
  });
  run.Check(partial.empty(), "the registrations deleted atomically (never some of them)", Join(partial));
  // An id that was just unregistered is an ordinary error, not a bad message.
  run.CheckError(run.GetTags(page, sw->id).error(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND, "getTags");
  run.CheckError(run.Register(page, sw->id, "later"), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  run.CheckError(run.PeriodicGetTags(page, sw->id).error(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND,
                 "periodic getTags");
  // The held event's late outcome brings nothing back.
  run.ReleaseEvents(*sw);
  Page& other = run.OpenPage(origin);
  run.GetTags(other, sw->id);
  run.Check(run.Registrations(sw->id).empty(), "still no registrations after the held event was released");
}

}  // namespace

std::vector<ConformanceCase> OneShotFiringCases() {
  return {
      {"one-shot/fire/after-acknowledgement",
       "register step 5 + decision 2: a new registration fires (online) only once the page that registered it "
       "acknowledged it (DidResolveRegistration; another page's does not count); completing it removes it",
       CaseNeeds::kAnyBrowser, FiresAfterAcknowledgement},
      {"one-shot/fire/when-client-disconnects",
       "decision 2 (improvement): an unacknowledged registration fires once its client goes away",
       CaseNeeds::kAnyBrowser, FiresWhenClientDisconnects},
      {"one-shot/fire/success-removes",
       "settle: waitUntil fulfilled -> removed (getTags empty); the same tag registers anew and fires again",
       CaseNeeds::kAnyBrowser, SuccessRemoves},
      {"one-shot/reregister/while-pending-is-noop",
       "register step 4: an existing pending tag is left as it is; it fires once", CaseNeeds::kAnyBrowser,
       ReregisterWhilePendingIsNoop},
      {"one-shot/reregister/while-waiting-fires-now",
       "register step 4 + decision 1: a waiting tag becomes pending with fresh attempts and fires now, not after "
       "its backoff",
       CaseNeeds::kAnyBrowser, ReregisterWhileWaitingFiresNow},
      {"one-shot/reregister/while-firing-fires-again",
       "register step 4: a firing tag becomes reregisteredWhileFiring; after its event completes it is pending "
       "and fires again",
       CaseNeeds::kAnyBrowser, [](CaseRun& run) { ReregisterWhileFiring(run, false); }},
      {"one-shot/reregister/while-firing-then-rejected",
       "settle: rejected while reregisteredWhileFiring -> pending (no backoff), fires again", CaseNeeds::kAnyBrowser,
       [](CaseRun& run) { ReregisterWhileFiring(run, true); }},
      {"one-shot/retry/backoff-and-last-chance",
       "settle: rejected -> waiting retry-delay * factor^(n-1), then pending; lastChance only on the final of "
       "max-attempts attempts; removed after it (decision 3: configurable parameters)",
       CaseNeeds::kAnyBrowser, RetriesWithBackoffAndLastChance},
      {"one-shot/retry/rejected-counts", "settle: a rejected waitUntil is a failed attempt (waiting, 1 attempt)",
       CaseNeeds::kAnyBrowser, [](CaseRun& run) { FailedAttemptCounts(run, "rejected", "rejected"); }},
      {"one-shot/retry/timeout-counts",
       "settle: an event unanswered after event-timeout (the UA's time limit) is a failed attempt",
       CaseNeeds::kAnyBrowser, [](CaseRun& run) { FailedAttemptCounts(run, "hang", "timed out"); }},
      {"one-shot/retry/crash-counts", "settle: a worker terminated mid-event (crash) is a failed attempt",
       CaseNeeds::kAnyBrowser, [](CaseRun& run) { FailedAttemptCounts(run, "crash", "worker crashed"); }},
      {"one-shot/network/offline-waits-online-fires",
       "firing: nothing fires offline; becoming online fires every pending registration", CaseNeeds::kAnyBrowser,
       OfflineWaitsOnlineFires},
      {"one-shot/network/emulated-offline-per-service-worker",
       "decision 8: one service worker emulated offline (reference-counted) waits while others fire",
       CaseNeeds::kAnyBrowser, EmulatedOfflinePerServiceWorker},
      {"one-shot/get-tags/every-state",
       "getTags: the tags of every registration whatever its state (pending, firing, waiting), sorted; gone "
       "once completed",
       CaseNeeds::kAnyBrowser, GetTagsInEveryState},
      {"one-shot/get-tags/no-permission-or-worker-check", "getTags: no permission check and no active-worker check",
       CaseNeeds::kAnyBrowser, GetTagsHasNoPermissionOrWorkerCheck},
      {"one-shot/unregister-service-worker/deletes-registrations",
       "decision 5: unregistering the service worker deletes its registrations (pending, firing, periodic); its "
       "id then gets SERVICE_WORKER_NOT_FOUND",
       CaseNeeds::kAnyBrowser, UnregisteringServiceWorkerDeletes},
  };
}

}  // namespace bgsync::conformance
