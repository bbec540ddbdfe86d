// Periodic Background Sync (spec.md "Periodic sync"): the permission, register's checks, scheduling (never on
// registration, no earlier than the interval, only online), re-registering, unregister, getTags, permission
// revocation and retries.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "public/background_sync_error.h"
#include "test/conformance/case_run.h"
#include "test/conformance/conformance_areas.h"

namespace bgsync::conformance {
namespace {

using E = mojom::BackgroundSyncError;

constexpr int64_t kHourMs = 3600 * 1000;

// How far before its "Dispatched periodicsync event" log entry the browser may take an event's time (the anchor of
// the next interval): the entry is written once the event is on its way.
constexpr int64_t kDispatchSlackMs = 100;

int64_t IntervalMs(CaseRun& run) {
  return absl::ToInt64Milliseconds(run.parameters().periodic_min_interval);
}

size_t CountEvents(CaseRun& run, const Worker& worker, const std::string& tag) {
  size_t n = 0;
  for (const std::string& line : run.Events(worker))
    n += line == PeriodicEventLine(tag);
  return n;
}

bool Grant(CaseRun& run, const std::string& origin) {
  return run.SetPermission(origin, /*periodic=*/true, admin::SetPermissionRequest::SETTING_GRANTED);
}

void PermissionDeniedByDefault(CaseRun& run) {
  const std::string origin = run.NewOrigin("periodic");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw)
    return;
  Page& page = run.OpenPage(origin);
  admin::GetPermissionRequest request;
  request.set_origin(origin);
  request.set_periodic(true);
  admin::PermissionReply permission;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  if (run.Check(run.admin().GetPermission(&context, request, &permission).ok(), "admin GetPermission to work"))
    run.Check(permission.status() == "denied", "\"periodic-background-sync\" denied by default", permission.status());
  run.CheckError(run.PeriodicRegister(page, sw->id, "news", IntervalMs(run)),
                 E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  run.Check(run.Registrations(sw->id).empty(), "nothing stored while denied");
  Grant(run, origin);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", kHourMs), "news");
  run.Check(TagsOf(run.PeriodicGetTags(page, sw->id)) == std::vector<std::string>{"news"},
            "periodic getTags [news] once granted");
}

void RegisterChecks(CaseRun& run) {
  const std::string origin = run.NewOrigin("pchecks");
  const std::string framed = run.NewOrigin("pframed");
  std::optional<Worker> inactive = run.InstallWorker(origin, {}, /*activate=*/false);
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  std::optional<Worker> framed_sw = run.InstallWorker(framed, {});
  if (!inactive || !sw || !framed_sw)
    return;
  Page& page = run.OpenPage(origin);
  run.Observe("no active worker + permission not granted:");
  run.CheckError(run.PeriodicRegister(page, inactive->id, "news", kHourMs), E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER);
  Grant(run, origin);
  Grant(run, framed);
  const int64_t unknown = framed_sw->id + 1000000;
  mojom::RegisterReply foreign = run.PeriodicRegister(page, framed_sw->id, "news", kHourMs);
  mojom::RegisterReply missing = run.PeriodicRegister(page, unknown, "news", kHourMs);
  run.CheckError(foreign, E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  run.Check(foreign.SerializeAsString() == missing.SerializeAsString(),
            "a foreign id and an unknown id to get byte-identical replies");
  run.CheckError(run.PeriodicRegister(page, sw->id, std::string(10241, 'x'), kHourMs),
                 E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, std::string(10240, 'x'), kHourMs), std::string(10240, 'x'));
  Page& iframe = run.OpenPage(framed, admin::CLIENT_TYPE_IFRAME);
  run.CheckError(run.PeriodicRegister(iframe, framed_sw->id, "news", kHourMs),
                 E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW);
  run.Check(run.Registrations(framed_sw->id).empty() && run.Registrations(inactive->id).empty(),
            "nothing stored by the refused registers");
}

void FiresAfterIntervalAndStays(CaseRun& run) {
  const int64_t interval = IntervalMs(run);
  const std::string origin = run.NewOrigin("interval");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOnline() || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  const int64_t registered_at = CaseRun::NowMs();
  mojom::RegisterReply reply = run.PeriodicRegister(page, sw->id, "news", interval);
  if (!run.CheckRegistered(reply, "news"))
    return;
  run.Check(reply.registration().min_interval_ms() == interval, "the reply to echo the interval", DescribeReply(reply));
  std::optional<admin::Registration> r = run.Find(sw->id, "news", "periodic");
  if (!run.Check(r.has_value(), "\"news\" listed"))
    return;
  run.Observe("registration: " + DescribeRegistration(*r));
  run.Check(r->next_attempt_unix_ms() >= registered_at + interval, "the first event scheduled an interval away",
            absl::StrCat(r->next_attempt_unix_ms() - registered_at, "ms after registering"));
  const int64_t first_scheduled = r->next_attempt_unix_ms();
  run.Check(run.Events(*sw).empty(), "no event on registration", Join(run.Events(*sw)));
  if (!run.Eventually("two periodicsync events", [&] { return CountEvents(run, *sw, "news") >= 2; }))
    return;
  std::vector<admin::LogEntry> dispatched = run.BrowserLog(sw->id, "Dispatched periodicsync event");
  if (run.Check(dispatched.size() >= 2, "2 \"Dispatched periodicsync event\" entries in the browser log")) {
    run.Check(dispatched[0].unix_ms() >= registered_at + interval, "the first event no earlier than the interval",
              absl::StrCat(dispatched[0].unix_ms() - registered_at, "ms after registering"));
    // The interval counts from the first event's start, when the browser fired it: no earlier than its scheduled
    // time, and earlier than its "Dispatched" entry by the worker's start-up (which a slow machine stretches).
    run.Check(dispatched[1].unix_ms() >= first_scheduled + interval - kDispatchSlackMs,
              "the next event an interval after the last",
              absl::StrCat(dispatched[1].unix_ms() - dispatched[0].unix_ms(), "ms after the first was dispatched, ",
                           dispatched[1].unix_ms() - first_scheduled, "ms after it was due"));
  }
  r = run.Find(sw->id, "news", "periodic");
  run.Check(r.has_value() && r->last_failure().empty(), "\"news\" still registered after completed events",
            r ? DescribeRegistration(*r) : "gone");
}

void OnlyWhenOnline(CaseRun& run) {
  const int64_t interval = IntervalMs(run);
  const std::string origin = run.NewOrigin("poffline");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOnline() || !run.EmulateOffline(sw->id, true) || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", interval), "news");
  std::optional<admin::Registration> r = run.Find(sw->id, "news", "periodic");
  if (!run.Check(r.has_value(), "\"news\" listed"))
    return;
  const int64_t due = r->next_attempt_unix_ms();
  if (!run.Eventually("the clock to pass the event's time", [&] { return CaseRun::NowMs() > due + 200; }))
    return;
  run.Check(run.Events(*sw).empty(), "no event while emulated offline, although due", Join(run.Events(*sw)));
  admin::Registration why = run.Explain(*sw, "news", /*periodic=*/true);
  run.Check(why.reason() == "emulated-offline", "the browser to say \"news\" waits for the network", why.reason());
  run.EmulateOffline(sw->id, false);
  run.Eventually("the event once online", [&] { return CountEvents(run, *sw, "news") >= 1; });
}

void ReregisterWithNewInterval(CaseRun& run) {
  const int64_t interval = IntervalMs(run);
  const std::string origin = run.NewOrigin("reinterval");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.SetOnline() || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  // The same interval again changes nothing.
  const int64_t registered_at = CaseRun::NowMs();
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "long", kHourMs), "long");
  std::optional<admin::Registration> first = run.Find(sw->id, "long", "periodic");
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "long", kHourMs), "long");
  std::optional<admin::Registration> second = run.Find(sw->id, "long", "periodic");
  if (!run.Check(first && second, "\"long\" listed"))
    return;
  run.Check(first->next_attempt_unix_ms() >= registered_at + kHourMs, "\"long\" first due an hour away",
            DescribeRegistration(*first));
  run.Check(second->next_attempt_unix_ms() == first->next_attempt_unix_ms() && second->min_interval_ms() == kHourMs,
            "registering with the same interval to leave it as it was", DescribeRegistration(*second));
  // Another interval updates it.
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", kHourMs), "news");
  mojom::RegisterReply updated = run.PeriodicRegister(page, sw->id, "news", interval);
  run.Check(updated.has_registration() && updated.registration().min_interval_ms() == interval,
            absl::StrCat("the reply to carry the new interval ", interval, "ms"), DescribeReply(updated));
  std::optional<admin::Registration> news = run.Find(sw->id, "news", "periodic");
  if (!run.Check(news.has_value(), "\"news\" listed"))
    return;
  run.Check(news->min_interval_ms() == interval && news->next_attempt_unix_ms() < CaseRun::NowMs() + kHourMs / 2,
            "\"news\" rescheduled for its new interval", DescribeRegistration(*news));
  if (!run.Eventually("\"news\" to fire at its new interval", [&] { return CountEvents(run, *sw, "news") >= 1; }))
    return;
  run.Check(CountEvents(run, *sw, "long") == 0, "no event for \"long\"", Join(run.Events(*sw)));
  run.Check(run.Registrations(sw->id).size() == 2, "one registration per tag");
}

void ReregisterWhileFiring(CaseRun& run) {
  const int64_t interval = IntervalMs(run);
  const std::string origin = run.NewOrigin("prefire");
  WorkerScript script;
  script.hold = true;
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline() || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", interval), "news");
  if (!run.Eventually("the worker to receive \"news\"", [&] { return CountEvents(run, *sw, "news") == 1; }))
    return;
  // The same interval while firing: reregistered-while-firing.
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", interval), "news");
  std::optional<admin::Registration> r = run.Find(sw->id, "news", "periodic");
  run.Check(r && r->state() == "reregistered-while-firing",
            "\"news\" reregistered-while-firing after registering it again during its event",
            r ? DescribeRegistration(*r) : "not listed");
  // Another interval while firing: the interval is updated.
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", 2 * interval), "news");
  r = run.Find(sw->id, "news", "periodic");
  run.Check(r && r->min_interval_ms() == 2 * interval, "the new interval taken while firing",
            r ? DescribeRegistration(*r) : "not listed");
  run.ReleaseEvents(*sw);
  if (!run.Eventually("\"news\" pending for its next event after the held one settled", [&] {
        r = run.Find(sw->id, "news", "periodic");
        return !r || (r->state() == "pending" && r->num_attempts() == 0);
      })) {
    return;
  }
  if (!run.Check(r.has_value(), "\"news\" still registered"))
    return;
  run.Observe("registration: " + DescribeRegistration(*r));
  std::vector<admin::LogEntry> dispatched = run.BrowserLog(sw->id, "Dispatched periodicsync event");
  if (run.Check(!dispatched.empty(), "a dispatch in the browser log")) {
    run.Check(r->next_attempt_unix_ms() >= dispatched[0].unix_ms() + 2 * interval - kDispatchSlackMs,
              "the next event scheduled by the new interval",
              absl::StrCat(r->next_attempt_unix_ms() - dispatched[0].unix_ms(), "ms after the last event"));
  }
}

void UnregisterAlwaysSucceeds(CaseRun& run) {
  const int64_t interval = IntervalMs(run);
  const std::string origin = run.NewOrigin("punreg");
  WorkerScript script;
  script.hold = true;
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  std::optional<Worker> inactive = run.InstallWorker(origin, {}, /*activate=*/false);
  if (!sw || !inactive || !run.SetOnline() || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  auto unregistered = [&](int64_t id, const std::string& tag, const std::string& what) {
    mojom::UnregisterReply reply = run.PeriodicUnregister(page, id, tag);
    run.Check(reply.has_unregistered(), "unregister to succeed " + what,
              reply.result_case() == mojom::UnregisterReply::kError ? std::string(SyncErrorName(reply.error()))
                                                                    : "no result");
  };
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "idle", kHourMs), "idle");
  unregistered(sw->id, "idle", "for a registered tag");
  run.Check(!run.Find(sw->id, "idle", "periodic"), "\"idle\" gone");
  unregistered(sw->id, "never", "for a tag that was never registered");
  unregistered(inactive->id, "news", "with no active worker");
  // While its event runs: the registration goes at once and the event's outcome is ignored.
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "firing", interval), "firing");
  if (!run.Eventually("the worker to receive \"firing\"", [&] { return CountEvents(run, *sw, "firing") == 1; }))
    return;
  std::optional<admin::Registration> r = run.Find(sw->id, "firing", "periodic");
  run.Check(r && r->state() == "firing", "\"firing\" firing while its event is held",
            r ? DescribeRegistration(*r) : "not listed");
  unregistered(sw->id, "firing", "while its event runs");
  run.Check(!run.Find(sw->id, "firing", "periodic"), "\"firing\" gone at once");
  run.ReleaseEvents(*sw);
  // A witness fires an interval later; by then the released event has long settled.
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "witness", interval), "witness");
  if (!run.Eventually("the witness to fire", [&] { return CountEvents(run, *sw, "witness") >= 1; }))
    return;
  run.Check(!run.Find(sw->id, "firing", "periodic"), "\"firing\" still gone after its event settled");
  run.Check(CountEvents(run, *sw, "firing") == 1, "no further event for \"firing\"", Join(run.Events(*sw)));
}

void SeparateNamespaceAndGetTags(CaseRun& run) {
  const std::string origin = run.NewOrigin("namespaces");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  std::optional<Worker> inactive = run.InstallWorker(origin, {}, /*activate=*/false);
  if (!sw || !inactive || !run.EmulateOffline(sw->id, true) || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "shared", kHourMs), "shared");
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "p-only", kHourMs), "p-only");
  run.CheckRegistered(run.Register(page, sw->id, "shared"), "shared");
  run.CheckRegistered(run.Register(page, sw->id, "o-only"), "o-only");
  run.Check(TagsOf(run.PeriodicGetTags(page, sw->id)) == std::vector<std::string>{"p-only", "shared"},
            "periodic getTags [p-only, shared]", DescribeTags(run.PeriodicGetTags(page, sw->id)));
  run.Check(TagsOf(run.GetTags(page, sw->id)) == std::vector<std::string>{"o-only", "shared"},
            "one-shot getTags [o-only, shared]", DescribeTags(run.GetTags(page, sw->id)));
  run.PeriodicUnregister(page, sw->id, "shared");
  run.Check(TagsOf(run.GetTags(page, sw->id)) == std::vector<std::string>{"o-only", "shared"},
            "the one-shot \"shared\" untouched by unregistering the periodic one");
  mojom::GetRegistrationsReply none = run.PeriodicGetTags(page, inactive->id);
  run.Check(none.has_registrations() && TagsOf(none).empty(), "periodic getTags [] with no active worker",
            DescribeTags(none));
}

void PermissionRevokedRemoves(CaseRun& run) {
  const std::string origin = run.NewOrigin("revoked");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.EmulateOffline(sw->id, true) || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", kHourMs), "news");
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "weather", kHourMs), "weather");
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
  run.SetPermission(origin, /*periodic=*/true, admin::SetPermissionRequest::SETTING_DENIED);
  std::vector<std::string> left;
  for (const admin::Registration& r : run.Registrations(sw->id))
    left.push_back(r.type() + ":" + r.tag());
  run.Check(left == std::vector<std::string>{"one-shot:outbox"},
            "the periodic registrations removed, the one-shot one kept", Join(left));
  run.Check(TagsOf(run.PeriodicGetTags(page, sw->id)).empty(), "periodic getTags [] after the revocation");
  run.CheckError(run.PeriodicRegister(page, sw->id, "news", kHourMs), E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
}

void RetriesThenNextInterval(CaseRun& run) {
  const BrowserParameters& p = run.parameters();
  if (p.periodic_max_attempts < 2) {
    run.Skip("needs periodic-max-attempts >= 2");
    return;
  }
  const std::string origin = run.NewOrigin("pretry");
  WorkerScript script;
  script.outcome = "rejected";
  std::optional<Worker> sw = run.InstallWorker(origin, script);
  if (!sw || !run.SetOnline() || !Grant(run, origin))
    return;
  Page& page = run.OpenPage(origin);
  run.CheckRegistered(run.PeriodicRegister(page, sw->id, "news", IntervalMs(run)), "news");
  std::optional<admin::Registration> r;
  if (!run.Eventually("\"news\" waiting for a retry after a failed event", [&] {
        r = run.Find(sw->id, "news", "periodic");
        return r && r->state() == "waiting" && r->num_attempts() == 1 && r->last_failure() == "rejected";
      })) {
    return;
  }
  run.Observe("registration: " + DescribeRegistration(*r));
  // Out of attempts: not removed, but back to its next interval with fresh attempts.
  if (!run.Eventually("\"news\" pending for its next interval after its last attempt failed", [&] {
        r = run.Find(sw->id, "news", "periodic");
        return !r || (r->state() == "pending" && r->num_attempts() == 0 && r->last_failure() == "rejected");
      })) {
    return;
  }
  if (!run.Check(r.has_value(), "\"news\" still registered after all its attempts failed"))
    return;
  run.Observe("registration: " + DescribeRegistration(*r));
  run.Check(CountEvents(run, *sw, "news") >= static_cast<size_t>(p.periodic_max_attempts),
            absl::StrCat(p.periodic_max_attempts, " events (the attempts of one interval)"), Join(run.Events(*sw)));
}

}  // namespace

std::vector<ConformanceCase> PeriodicCases() {
  return {
      {"periodic/register/permission-denied-by-default",
       "periodic register: \"periodic-background-sync\" not granted (the default) -> PERMISSION_DENIED / "
       "NotAllowedError; registers once granted through the admin endpoint",
       CaseNeeds::kAnyBrowser, PermissionDeniedByDefault},
      {"periodic/register/checks",
       "periodic register: no active worker (checked before the permission) -> NO_ACTIVE_WORKER; unknown or "
       "foreign id; 10,240 / 10,241-byte tags; no top-level window -> NO_TOP_LEVEL_WINDOW",
       CaseNeeds::kAnyBrowser, RegisterChecks},
      {"periodic/fire/after-interval-and-stays",
       "periodic scheduling: not fired on registration; fires no earlier than minInterval, again an interval "
       "later; completing never removes it",
       CaseNeeds::kAnyBrowser, FiresAfterIntervalAndStays},
      {"periodic/fire/only-when-online",
       "periodic scheduling: fires only when online (a due registration of an emulated-offline service worker "
       "waits)",
       CaseNeeds::kAnyBrowser, OnlyWhenOnline},
      {"periodic/reregister/new-interval",
       "periodic register of an existing tag: another minInterval updates it, the same one changes nothing",
       CaseNeeds::kAnyBrowser, ReregisterWithNewInterval},
      {"periodic/reregister/while-firing",
       "periodic register of an existing tag while its event runs: the same minInterval -> "
       "reregistered-while-firing; another one is taken; it stays and is scheduled by the new interval",
       CaseNeeds::kAnyBrowser, ReregisterWhileFiring},
      {"periodic/unregister/always-succeeds",
       "unregister: removes the tag; succeeds for an unknown tag, with no active worker, and while the event runs "
       "(its outcome ignored)",
       CaseNeeds::kAnyBrowser, UnregisterAlwaysSucceeds},
      {"periodic/get-tags/separate-namespace",
       "periodic getTags lists every periodic tag; one-shot and periodic are separate namespaces",
       CaseNeeds::kAnyBrowser, SeparateNamespaceAndGetTags},
      {"periodic/permission/revoked-removes",
       "permission revoked -> every periodic registration of the origin is removed", CaseNeeds::kAnyBrowser,
       PermissionRevokedRemoves},
      {"periodic/retry/then-next-interval",
       "periodic retries: a failed event is retried (periodic-max-attempts), then waits for its next interval; "
       "never removed",
       CaseNeeds::kAnyBrowser, RetriesThenNextInterval},
  };
}

}  // namespace bgsync::conformance
