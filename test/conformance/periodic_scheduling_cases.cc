// Periodic scheduling (spec.md "Periodic sync", its "Scheduling" bullet; chromium.md "Periodic scheduling in
// Chrome"; components/background_sync/README.md, "Periodic"): a registration's next event is its anchor plus its
// minInterval rounded up to the origin's gap (periodic-min-interval × the engagement penalty: high 1, low and
// medium 2, minimal 3, none suspends); an origin's events are a gap apart or together (a registration due within a
// gap before another is coalesced with it); fresh events of all origins start in batches at least
// periodic-batch-interval apart. Explain names what holds a registration back.
//
// Every time judged is one the browser promised (the registration table, Explain's `until`) or logged (its
// "Dispatched periodicsync event" entries): events may come late on a loaded machine, never early. The tolerances
// are fractions of the gap, so the cases need a gap of 0.5 to 5 s.
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "test/conformance/case_run.h"
#include "test/conformance/conformance_areas.h"

namespace bgsync::conformance {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

// A case's origin: one service worker (more with AddWorker), the periodic permission and a top-level window.
struct Site {
  std::string origin;
  Worker sw;
  Page* page = nullptr;
};

int64_t GapMs(CaseRun& run) {
  return absl::ToInt64Milliseconds(run.parameters().periodic_min_interval);
}

int64_t BatchMs(CaseRun& run) {
  return absl::ToInt64Milliseconds(run.parameters().periodic_batch_interval);
}

// Two events of an origin whose "Dispatched" entries are this close count as one batch (coalesced): they were
// started together. A tenth of a gap.
int64_t TogetherMs(CaseRun& run) {
  return GapMs(run) / 10;
}

// How much closer than a gap the "Dispatched" entries of two events of an origin started a gap apart may be: an
// entry is written once its event is on its way, a little after the browser started it (its anchor). A quarter of
// a gap, for a loaded machine.
int64_t SpacingSlackMs(CaseRun& run) {
  return GapMs(run) / 4;
}

// The tolerances are fractions of the gap; the waits are a few gaps.
bool NeedsShortGap(CaseRun& run) {
  const absl::Duration gap = run.parameters().periodic_min_interval;
  if (gap < absl::Milliseconds(500) || gap > absl::Seconds(5)) {
    run.Skip("needs periodic-min-interval between 0.5 and 5 s");
    return false;
  }
  return true;
}

std::optional<Site> NewSite(CaseRun& run, const std::string& label, const std::string& origin = "") {
  Site site;
  site.origin = origin.empty() ? run.NewOrigin(label) : origin;
  std::optional<Worker> sw = run.InstallWorker(site.origin, {});
  if (!sw || !run.SetPermission(site.origin, /*periodic=*/true, admin::SetPermissionRequest::SETTING_GRANTED))
    return std::nullopt;
  site.sw = *sw;
  site.page = &run.OpenPage(site.origin);
  if (!site.page->open)
    return std::nullopt;
  return site;
}

// Registers `tag` with `interval_ms` and returns it as the registration table lists it, with the times just before
// and after the call (its anchor lies between them).
struct Registered {
  admin::Registration r;
  int64_t before = 0;
  int64_t after = 0;
};

std::optional<Registered> RegisterPeriodic(CaseRun& run,
                                           Page& page,
                                           const Worker& sw,
                                           const std::string& tag,
                                           int64_t interval_ms) {
  Registered result;
  result.before = CaseRun::NowMs();
  const mojom::RegisterReply reply = run.PeriodicRegister(page, sw.id, tag, interval_ms);
  result.after = CaseRun::NowMs();
  if (!run.CheckRegistered(reply, tag))
    return std::nullopt;
  std::optional<admin::Registration> r = run.Find(sw.id, tag, "periodic");
  if (!run.Check(r.has_value(), absl::StrCat(ShowTag(tag), " listed")))
    return std::nullopt;
  run.Observe("registration: " + DescribeRegistration(*r));
  result.r = *std::move(r);
  return result;
}

// The times of the browser's "Dispatched periodicsync event" entries for `tag` of `sw`, in order.
std::vector<int64_t> Dispatches(CaseRun& run, const Worker& sw, const std::string& tag) {
  std::vector<int64_t> times;
  for (const admin::LogEntry& entry : run.BrowserLog(sw.id, "Dispatched periodicsync event")) {
    if (entry.tag() == tag)
      times.push_back(entry.unix_ms());
  }
  return times;
}

// Waits for the first dispatch of `tag` and returns its time.
std::optional<int64_t> FirstDispatch(CaseRun& run, const Worker& sw, const std::string& tag) {
  std::vector<int64_t> times;
  if (!run.Eventually(absl::StrCat("a periodicsync event for ", ShowTag(tag), " of sw=", sw.id), [&] {
        times = Dispatches(run, sw, tag);
        return !times.empty();
      })) {
    return std::nullopt;
  }
  return times.front();
}

bool WaitClockPast(CaseRun& run, const std::string& what, int64_t unix_ms) {
  return run.Eventually(what, [&] { return CaseRun::NowMs() > unix_ms; });
}

std::string Ms(int64_t ms) {
  return absl::StrCat(ms, "ms");
}

// A registration not yet due: Explain says "waiting-for-interval" until exactly its next attempt time.
void CheckWaitingForInterval(CaseRun& run, const Worker& sw, const std::string& tag) {
  std::optional<admin::Registration> listed = run.Find(sw.id, tag, "periodic");
  const admin::Registration why = run.Explain(sw, tag, /*periodic=*/true);
  if (!run.Check(listed.has_value(), absl::StrCat(ShowTag(tag), " listed")))
    return;
  run.Check(why.reason() == "waiting-for-interval" && why.until_unix_ms() == listed->next_attempt_unix_ms(),
            absl::StrCat("Explain ", ShowTag(tag), ": waiting-for-interval until its next attempt time ",
                         listed->next_attempt_unix_ms()),
            absl::StrCat(why.reason(), " until ", why.until_unix_ms()));
}

// Waits until the table lists `tag`'s next attempt at `expected_ms` (±1 ms: whole milliseconds of a time that
// need not be one).
bool WaitNextAttempt(CaseRun& run,
                     const Worker& sw,
                     const std::string& tag,
                     int64_t expected_ms,
                     const std::string& what) {
  std::optional<admin::Registration> r;
  const bool ok = run.Eventually(absl::StrCat(ShowTag(tag), " rescheduled to ", what), [&] {
    r = run.Find(sw.id, tag, "periodic");
    return r && std::abs(r->next_attempt_unix_ms() - expected_ms) <= 1;
  });
  if (r)
    run.Observe("registration: " + DescribeRegistration(*r));
  return ok;
}

// --- The interval, rounded up to the gap ---------------------------------------------------------------------

void IntervalRoundedUpToGap(CaseRun& run) {
  if (!NeedsShortGap(run))
    return;
  const int64_t gap = GapMs(run);
  if (std::optional<admin::EngagementReply> probe = run.GetEngagement(run.NewOrigin("probe")); !probe) {
    run.Skip("needs a browser whose admin endpoint sets site engagement");
    return;
  }
  struct Row {
    admin::EngagementLevel level;
    int64_t interval;
    int64_t expected;  // the delay from the anchor
    std::string what;
  };
  const std::vector<Row> rows = {
      {admin::ENGAGEMENT_LEVEL_DEFAULT, 0, gap, "high engagement: minInterval 0 -> one gap"},
      {admin::ENGAGEMENT_LEVEL_DEFAULT, gap / 2, gap, "high: half a gap -> one gap"},
      {admin::ENGAGEMENT_LEVEL_DEFAULT, 2 * gap, 2 * gap, "high: two gaps stay two gaps"},
      {admin::ENGAGEMENT_LEVEL_DEFAULT, 2 * gap + gap / 2, 3 * gap, "high: 2.5 gaps -> three gaps"},
      {admin::ENGAGEMENT_LEVEL_MEDIUM, gap / 2, 2 * gap, "medium (gap x 2): half a gap -> two gaps"},
      {admin::ENGAGEMENT_LEVEL_LOW, 3 * gap, 4 * gap, "low (gap x 2): three gaps -> four gaps"},
      {admin::ENGAGEMENT_LEVEL_MINIMAL, 4 * gap, 6 * gap, "minimal (gap x 3): four gaps -> six gaps"},
  };
  // Each registration in an origin of its own, so that no other registration of its origin moves it.
  for (const Row& row : rows) {
    const std::string origin = run.NewOrigin("rounding");
    if (row.level != admin::ENGAGEMENT_LEVEL_DEFAULT && !run.SetEngagement(origin, row.level))
      return;
    std::optional<Site> site = NewSite(run, "rounding", origin);
    if (!site)
      return;
    std::optional<Registered> reg = RegisterPeriodic(run, *site->page, site->sw, "news", row.interval);
    if (!reg)
      return;
    const int64_t next = reg->r.next_attempt_unix_ms();
    run.Check(
        next >= reg->before + row.expected - 1 && next <= reg->after + row.expected + 1,
        absl::StrCat(row.what, ": the next attempt ", Ms(row.expected), " after registering"),
        absl::StrCat(Ms(next - reg->before), " after the call began, ", Ms(next - reg->after), " after it returned"));
  }
}

// --- The origin's gap ----------------------------------------------------------------------------------------

void OriginGapSpacesEvents(CaseRun& run) {
  if (!NeedsShortGap(run) || !run.SetOnline())
    return;
  const int64_t gap = GapMs(run);
  // Two service workers of one origin, each with a registration whose interval is below the gap.
  std::optional<Site> site = NewSite(run, "spacing");
  if (!site)
    return;
  std::optional<Worker> second = run.InstallWorker(site->origin, {});
  if (!second)
    return;
  std::optional<Registered> a = RegisterPeriodic(run, *site->page, site->sw, "a", gap / 2);
  if (!a)
    return;
  CheckWaitingForInterval(run, site->sw, "a");
  // "b" registered 0.4 gap later: by its own interval it would be due 0.4 gap after "a".
  if (!WaitClockPast(run, "0.4 gap since registering \"a\"", a->before + gap * 2 / 5))
    return;
  std::optional<Registered> b = RegisterPeriodic(run, *site->page, *second, "b", gap / 2);
  if (!b)
    return;
  CheckWaitingForInterval(run, *second, "b");
  const int64_t next_a = a->r.next_attempt_unix_ms();
  const int64_t next_b = b->r.next_attempt_unix_ms();
  run.Check(next_b == next_a || std::abs(next_b - next_a) >= gap - 1,
            "the two registrations of the origin scheduled together or at least a gap apart",
            absl::StrCat("\"b\" ", Ms(next_b - next_a), " after \"a\""));
  run.Check(next_b >= b->before + gap - 1, "\"b\" no sooner than a gap after it was registered",
            Ms(next_b - b->before));

  // Three events of the origin (a, b, a again): each pair together or a gap apart.
  std::vector<int64_t> times_a;
  std::vector<int64_t> times_b;
  if (!run.Eventually("three periodicsync events of the origin", [&] {
        times_a = Dispatches(run, site->sw, "a");
        times_b = Dispatches(run, *second, "b");
        return times_a.size() + times_b.size() >= 3;
      })) {
    return;
  }
  if (!times_a.empty()) {
    run.Check(times_a.front() >= next_a, "\"a\" no earlier than its next attempt time",
              Ms(times_a.front() - next_a) + " after it");
  }
  if (!times_b.empty()) {
    run.Check(times_b.front() >= next_b, "\"b\" no earlier than its next attempt time",
              Ms(times_b.front() - next_b) + " after it");
  }
  std::vector<std::pair<int64_t, std::string>> events;
  for (int64_t t : times_a)
    events.emplace_back(t, "a");
  for (int64_t t : times_b)
    events.emplace_back(t, "b");
  std::sort(events.begin(), events.end());
  std::vector<std::string> shown;
  for (const auto& [t, tag] : events)
    shown.push_back(absl::StrCat(tag, "@+", t - a->before, "ms"));
  run.Observe("dispatched: " + Join(shown, ", "));
  for (size_t i = 1; i < events.size(); ++i) {
    const int64_t apart = events[i].first - events[i - 1].first;
    run.Check(apart <= TogetherMs(run) || apart >= gap - SpacingSlackMs(run),
              absl::StrCat("consecutive events of the origin together (within ", Ms(TogetherMs(run)), ") or a gap (",
                           Ms(gap), ", less ", Ms(SpacingSlackMs(run)), " of dispatch delay) apart"),
              absl::StrCat(events[i - 1].second, " then ", events[i].second, " ", Ms(apart), " apart"));
  }
}

void CoalescesWithLaterEvent(CaseRun& run) {
  if (!NeedsShortGap(run) || !run.SetOnline())
    return;
  const int64_t gap = GapMs(run);
  std::optional<Site> site = NewSite(run, "coalesce");
  if (!site)
    return;
  // "later" is due two gaps on; "sooner", registered 0.4 gap later with an interval below the gap, would be due
  // 0.6 gap before it: within a gap before another event of its origin, it is coalesced with it.
  std::optional<Registered> later = RegisterPeriodic(run, *site->page, site->sw, "later", 2 * gap);
  if (!later)
    return;
  const int64_t next_later = later->r.next_attempt_unix_ms();
  if (!WaitClockPast(run, "0.4 gap since registering \"later\"", later->before + gap * 2 / 5))
    return;
  std::optional<Registered> sooner = RegisterPeriodic(run, *site->page, site->sw, "sooner", gap / 2);
  if (!sooner)
    return;
  if (sooner->after + gap >= next_later) {
    // By its own interval "sooner" is not due before "later": nothing to coalesce.
    run.Skip(absl::StrCat("the machine was too slow: \"sooner\" registered only ", Ms(next_later - sooner->after),
                          " before \"later\" is due"));
    return;
  }
  run.Check(sooner->r.next_attempt_unix_ms() == next_later,
            "\"sooner\" coalesced with \"later\": scheduled at the same time",
            absl::StrCat(Ms(sooner->r.next_attempt_unix_ms() - next_later), " from it"));
  std::optional<admin::Registration> still = run.Find(site->sw.id, "later", "periodic");
  run.Check(still && still->next_attempt_unix_ms() == next_later, "\"later\" left where it was",
            still ? DescribeRegistration(*still) : "not listed");
  CheckWaitingForInterval(run, site->sw, "sooner");

  std::optional<int64_t> fired_sooner = FirstDispatch(run, site->sw, "sooner");
  std::optional<int64_t> fired_later = FirstDispatch(run, site->sw, "later");
  if (!fired_sooner || !fired_later)
    return;
  run.Check(*fired_sooner >= next_later, "\"sooner\" not fired at its own time but with \"later\"",
            absl::StrCat(Ms(next_later - *fired_sooner), " before \"later\" was due"));
  run.Check(*fired_later >= next_later, "\"later\" no earlier than its next attempt time",
            Ms(*fired_later - next_later) + " after it");
  run.Check(std::abs(*fired_sooner - *fired_later) < gap / 2, "the two fired together (less than half a gap apart)",
            absl::StrCat(Ms(std::abs(*fired_sooner - *fired_later)), " apart"));
}

void OriginMinimumHoldsDueRegistration(CaseRun& run) {
  if (!NeedsShortGap(run) || !run.SetOnline())
    return;
  const int64_t gap = GapMs(run);
  std::optional<Site> site = NewSite(run, "omin");
  if (!site)
    return;
  // "rare" is an hour away; "news" fires a gap after registering.
  std::optional<Registered> rare = RegisterPeriodic(run, *site->page, site->sw, "rare", kHourMs);
  std::optional<Registered> news = RegisterPeriodic(run, *site->page, site->sw, "news", gap / 2);
  if (!rare || !news)
    return;
  CheckWaitingForInterval(run, site->sw, "news");
  const int64_t next_news = news->r.next_attempt_unix_ms();
  std::optional<int64_t> fired_news = FirstDispatch(run, site->sw, "news");
  if (!fired_news)
    return;
  run.Check(*fired_news >= next_news, "\"news\" no earlier than its next attempt time",
            Ms(*fired_news - next_news) + " after it");
  // "rare" with an interval below the gap: rescheduled from its anchor (its registration), which makes it due at
  // once; but the origin's last event started less than a gap ago.
  std::optional<Registered> overdue = RegisterPeriodic(run, *site->page, site->sw, "rare", gap / 2);
  if (!overdue)
    return;
  run.Check(overdue->r.min_interval_ms() == gap / 2 && overdue->r.next_attempt_unix_ms() <= overdue->after,
            "\"rare\" due at once by its new interval, counted from its registration",
            DescribeRegistration(overdue->r));
  const int64_t asked = CaseRun::NowMs();
  const admin::Registration why = run.Explain(site->sw, "rare", /*periodic=*/true);
  // The browser started "news" no earlier than next_news, so the origin's minimum holds "rare" until at least
  // next_news + gap; asked later than that, "rare" may have been started already.
  std::optional<int64_t> until;
  if (asked < next_news + gap) {
    if (run.Check(why.reason() == "origin-minimum-interval",
                  "Explain \"rare\": origin-minimum-interval (the origin's last event started less than a gap ago)",
                  why.reason())) {
      until = why.until_unix_ms();
      run.Check(*until >= next_news + gap && *until <= *fired_news + gap + 1, "until a gap after \"news\" started",
                absl::StrCat(Ms(*until - *fired_news), " after \"news\" was dispatched"));
    }
  } else {
    run.Observe("asked too late to see the origin minimum hold \"rare\" (a slow machine): not judged");
  }
  std::optional<int64_t> fired_rare = FirstDispatch(run, site->sw, "rare");
  if (!fired_rare)
    return;
  if (until) {
    run.Check(*fired_rare >= *until, "\"rare\" no earlier than the time Explain gave",
              Ms(*until - *fired_rare) + " before it");
  }
  run.Check(*fired_rare - *fired_news >= gap - SpacingSlackMs(run),
            absl::StrCat("\"rare\" a gap (", Ms(gap), ", less ", Ms(SpacingSlackMs(run)),
                         " of dispatch delay) after \"news\""),
            Ms(*fired_rare - *fired_news));
}

// --- Engagement ----------------------------------------------------------------------------------------------

void NoEngagementSuspends(CaseRun& run) {
  if (!NeedsShortGap(run) || !run.SetOnline())
    return;
  const int64_t gap = GapMs(run);
  std::optional<Site> site = NewSite(run, "suspend");
  if (!site)
    return;
  if (!run.GetEngagement(site->origin)) {
    run.Skip("needs a browser whose admin endpoint sets site engagement");
    return;
  }
  std::optional<Registered> news = RegisterPeriodic(run, *site->page, site->sw, "news", gap / 2);
  if (!news)
    return;
  const int64_t anchor = news->r.next_attempt_unix_ms() - gap;  // one gap after its registration
  if (!run.SetEngagement(site->origin, admin::ENGAGEMENT_LEVEL_NONE))
    return;
  std::optional<admin::EngagementReply> level = run.GetEngagement(site->origin);
  run.Check(level && level->level_name() == "none" && !level->is_default(), "GetEngagement: none",
            level ? level->level_name() : "no answer");
  admin::Registration why = run.Explain(site->sw, "news", /*periodic=*/true);
  run.Check(why.reason() == "suspended-for-engagement" && why.until_unix_ms() == 0,
            "Explain \"news\": suspended-for-engagement, with no end time",
            absl::StrCat(why.reason(), " until ", why.until_unix_ms()));
  // Past the time even the least engaged origin's event would be due: nothing.
  if (!WaitClockPast(run, "three gaps and a quarter since registering", anchor + 3 * gap + gap / 4))
    return;
  run.Check(run.Events(site->sw).empty() && Dispatches(run, site->sw, "news").empty(), "no event while suspended",
            Join(run.Events(site->sw)));
  why = run.Explain(site->sw, "news", /*periodic=*/true);
  run.Check(why.reason() == "suspended-for-engagement", "Explain \"news\": still suspended-for-engagement",
            why.reason());
  // Engaged again: overdue by its anchor, it fires at once rather than a new interval later.
  const int64_t revived = CaseRun::NowMs();
  if (!run.SetEngagement(site->origin, admin::ENGAGEMENT_LEVEL_HIGH))
    return;
  const int64_t revived_returned = CaseRun::NowMs();
  std::optional<int64_t> fired = FirstDispatch(run, site->sw, "news");
  if (!fired)
    return;
  run.Check(*fired >= revived, "no event before engagement came back", Ms(revived - *fired) + " before");
  run.Check(*fired < revived_returned + gap, "the overdue event fired promptly (sooner than a gap after)",
            Ms(*fired - revived_returned) + " after SetEngagement returned");
}

void EngagementScalesTheGap(CaseRun& run) {
  if (!NeedsShortGap(run) || !run.SetOnline())
    return;
  const int64_t gap = GapMs(run);
  std::optional<Site> site = NewSite(run, "penalty");
  if (!site)
    return;
  if (!run.GetEngagement(site->origin)) {
    run.Skip("needs a browser whose admin endpoint sets site engagement");
    return;
  }
  std::optional<Registered> news = RegisterPeriodic(run, *site->page, site->sw, "news", gap / 2);
  if (!news)
    return;
  const int64_t anchor = news->r.next_attempt_unix_ms() - gap;  // high engagement: one gap after the anchor
  CheckWaitingForInterval(run, site->sw, "news");
  if (!run.SetEngagement(site->origin, admin::ENGAGEMENT_LEVEL_LOW) ||
      !WaitNextAttempt(run, site->sw, "news", anchor + 2 * gap, "anchor + 2 gaps (low engagement)")) {
    return;
  }
  CheckWaitingForInterval(run, site->sw, "news");
  if (!run.SetEngagement(site->origin, admin::ENGAGEMENT_LEVEL_MINIMAL) ||
      !WaitNextAttempt(run, site->sw, "news", anchor + 3 * gap, "anchor + 3 gaps (minimal engagement)")) {
    return;
  }
  CheckWaitingForInterval(run, site->sw, "news");
  std::optional<int64_t> fired = FirstDispatch(run, site->sw, "news");
  if (!fired)
    return;
  run.Check(*fired >= anchor + 3 * gap - 1, "the event no earlier than three gaps after its anchor",
            Ms(*fired - anchor) + " after it");
  run.Check(Dispatches(run, site->sw, "news").size() == 1, "one event", Join(run.Events(site->sw)));
}

// --- Batches across origins ----------------------------------------------------------------------------------

void OtherOriginWaitsForNextBatch(CaseRun& run) {
  if (!NeedsShortGap(run))
    return;
  const int64_t gap = GapMs(run);
  const int64_t batch = BatchMs(run);
  if (batch < 400) {
    run.Skip("needs periodic-batch-interval >= 0.4 s");
    return;
  }
  if (!run.SetOnline())
    return;
  // "x" of one origin starts a batch; "y" of another is due half a batch interval later, so it waits for the next
  // batch. Judged only when the machine kept up: "x" started before "y" was due (else one batch may take both) and
  // Explain was asked before the next batch could start. Fresh origins for each try.
  constexpr int kTries = 3;
  for (int attempt = 1; attempt <= kTries; ++attempt) {
    std::optional<Site> first = NewSite(run, "batchx");
    std::optional<Site> second = NewSite(run, "batchy");
    if (!first || !second)
      return;
    std::optional<Registered> x = RegisterPeriodic(run, *first->page, first->sw, "x", gap / 2);
    if (!x)
      return;
    const int64_t next_x = x->r.next_attempt_unix_ms();
    if (!WaitClockPast(run, "half a batch interval since registering \"x\"", x->before + batch / 2))
      return;
    std::optional<Registered> y = RegisterPeriodic(run, *second->page, second->sw, "y", gap / 2);
    if (!y)
      return;
    const int64_t next_y = y->r.next_attempt_unix_ms();
    std::string inconclusive;
    if (next_y <= next_x || next_y >= next_x + batch) {
      inconclusive = absl::StrCat("\"y\" due ", Ms(next_y - next_x), " after \"x\", not inside its batch interval");
    }
    std::optional<int64_t> fired_x;
    std::optional<int64_t> until;
    if (inconclusive.empty()) {
      fired_x = FirstDispatch(run, first->sw, "x");
      if (!fired_x)
        return;
      run.Check(*fired_x >= next_x, "\"x\" no earlier than its next attempt time", Ms(*fired_x - next_x) + " after it");
      if (*fired_x >= next_y)
        inconclusive = "\"x\" started after \"y\" was due (one batch may take both)";
    }
    if (inconclusive.empty()) {
      if (!WaitClockPast(run, "\"y\" due", next_y))
        return;
      const int64_t asked = CaseRun::NowMs();
      const admin::Registration why = run.Explain(second->sw, "y", /*periodic=*/true);
      if (asked >= next_x + batch) {
        inconclusive = "Explain asked after the next batch could start";
      } else if (run.Check(why.reason() == "global-minimum-interval",
                           "Explain \"y\" (due, of an origin with no recent event): global-minimum-interval",
                           why.reason())) {
        until = why.until_unix_ms();
        run.Check(*until >= next_x + batch && *until <= *fired_x + batch + 1,
                  "until the batch interval after \"x\"'s batch started",
                  absl::StrCat(Ms(*until - *fired_x), " after \"x\" was dispatched"));
      }
      std::optional<int64_t> fired_y = FirstDispatch(run, second->sw, "y");
      if (!fired_y)
        return;
      // "x"'s batch started before "y" was due and no earlier than next_x.
      run.Check(*fired_y >= next_x + batch, "\"y\" not before the batch interval after \"x\"'s batch",
                absl::StrCat(Ms(*fired_y - *fired_x), " after \"x\" (due ", Ms(next_y - next_x), " after it)"));
      if (until) {
        run.Check(*fired_y >= *until, "\"y\" no earlier than the time Explain gave",
                  Ms(*until - *fired_y) + " before it");
      }
    }
    // No more events from this try's origins.
    run.PeriodicUnregister(*first->page, first->sw.id, "x");
    run.PeriodicUnregister(*second->page, second->sw.id, "y");
    if (inconclusive.empty())
      return;
    run.Observe(absl::StrCat("try ", attempt, " not judged: ", inconclusive));
  }
  run.Skip(absl::StrCat("the machine was too slow to place an event inside a batch interval in ", kTries, " tries"));
}

}  // namespace

std::vector<ConformanceCase> PeriodicSchedulingCases() {
  return {
      {"periodic/schedule/interval-rounded-to-gap",
       "periodic scheduling: the first event is the anchor + minInterval rounded up to a whole multiple of the "
       "origin's gap = periodic-min-interval x the engagement penalty (high 1, low/medium 2, minimal 3)",
       CaseNeeds::kAnyBrowser, IntervalRoundedUpToGap},
      {"periodic/origin-gap/spaces-events",
       "periodic scheduling, origin minimum: two service workers of one origin with intervals below the gap; their "
       "events are together or at least a gap apart (table and log); Explain: waiting-for-interval until the "
       "next attempt time",
       CaseNeeds::kAnyBrowser, OriginGapSpacesEvents},
      {"periodic/origin-gap/coalesces-with-later-event",
       "periodic scheduling, coalescing: a registration due less than a gap before another of its origin is "
       "scheduled with it and fires together with it, not at its own time",
       CaseNeeds::kAnyBrowser, CoalescesWithLaterEvent},
      {"periodic/origin-gap/holds-due-registration",
       "periodic scheduling, origin minimum: a registration due (its interval changed) less than a gap after the "
       "origin's last event waits (Explain: origin-minimum-interval until a gap after it), then fires",
       CaseNeeds::kAnyBrowser, OriginMinimumHoldsDueRegistration},
      {"periodic/engagement/none-suspends",
       "engagement none suspends the origin's periodic events (none even three gaps on; Explain: "
       "suspended-for-engagement); high again: the overdue event fires at once",
       CaseNeeds::kAnyBrowser, NoEngagementSuspends},
      {"periodic/engagement/scales-the-gap",
       "engagement low -> the next attempt at anchor + 2 gaps, minimal -> anchor + 3 gaps (table and Explain); the "
       "event no earlier",
       CaseNeeds::kAnyBrowser, EngagementScalesTheGap},
      {"periodic/batch/other-origin-waits",
       "periodic scheduling, batches: another origin's event due within periodic-batch-interval of a batch waits "
       "for the next batch (Explain: global-minimum-interval until then)",
       CaseNeeds::kAnyBrowser, OtherOriginWaitsForNextBatch},
  };
}

}  // namespace bgsync::conformance
