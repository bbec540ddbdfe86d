// The commands about sync registrations: the table, why they are (not) firing, the engine's metrics, and events
// fired by hand.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/bgsyncctl/bgsyncctl_commands.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

// DispatchSyncEvent waits for the worker, to which the browser gives the event up to three minutes.
constexpr absl::Duration kDispatchTimeout = absl::Minutes(5);

// The fields of a registration that every JSON listing of registrations has; callers may add more.
JsonObject RegistrationJson(const admin::Registration& r, absl::Time now) {
  JsonObject object;
  object.Add("origin", r.origin())
      .Add("service_worker_registration_id", r.service_worker_registration_id())
      .Add("tag", DisplayTag(r.tag()))
      .Add("type", r.type())
      .Add("state", r.state())
      .Add("num_attempts", r.num_attempts())
      .Add("max_attempts", r.max_attempts())
      .Add("next_attempt_unix_ms", r.next_attempt_unix_ms())
      .Add("next_attempt", FormatNextAttempt(r.next_attempt_unix_ms(), now))
      .Add("last_failure", r.last_failure())
      .Add("resolved", r.resolved());
  return object;
}

std::string WhySentence(const admin::Registration& r, absl::Time now) {
  WhyFacts facts;
  facts.origin = r.origin();
  facts.sw_registration_id = r.service_worker_registration_id();
  facts.type = r.type();
  facts.display_tag = DisplayTag(r.tag());
  facts.state = r.state();
  facts.num_attempts = r.num_attempts();
  facts.max_attempts = r.max_attempts();
  facts.reason = r.reason();
  facts.explanation = r.explanation();
  facts.until_unix_ms = r.until_unix_ms();
  return FormatWhySentence(facts, now);
}

}  // namespace

int Registrations(Cli& cli, const Args&) {
  admin::RegistrationTable registrations;
  if (int rc = cli.Call(&Cli::Stub::ListRegistrations, admin::Empty(), &registrations))
    return rc;
  const absl::Time now = absl::Now();
  std::vector<std::string> rows;
  Table table({"ORIGIN", "SW", "TAG", "TYPE", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST FAILURE"});
  for (const admin::Registration& r : registrations.registrations()) {
    rows.push_back(RegistrationJson(r, now).Serialize());
    table.AddRow({r.origin(), absl::StrCat(r.service_worker_registration_id()), DisplayTag(r.tag()), r.type(),
                  r.state(), absl::StrCat(r.num_attempts(), "/", r.max_attempts()),
                  FormatNextAttempt(r.next_attempt_unix_ms(), now), r.last_failure().empty() ? "-" : r.last_failure()});
  }
  cli.PrintTable(JsonArray(rows), table);
  return kExitOk;
}

int Why(Cli& cli, const Args& args) {
  if (args.positional.size() == 1)
    return cli.Usage("give both ORIGIN and TAG, or neither (every registration)");
  if (args.Has("--periodic") && args.Has("--one-shot"))
    return cli.Usage("--periodic and --one-shot exclude each other");
  admin::ExplainRequest request;
  const bool all = args.positional.empty();
  if (!all) {
    request.set_origin(args.positional[0]);
    std::string tag;
    int rc = kExitOk;
    if (!ParseTagArgument(cli, args, args.positional[1], &tag, &rc))
      return rc;
    request.set_tag(tag);
  }
  if (args.Has("--sw")) {
    int64_t sw_id = 0;
    if (!ParseId(args.Value("--sw"), &sw_id))
      return cli.NotAPositiveInteger("--sw", args.Value("--sw"));
    request.set_service_worker_registration_id(sw_id);
  }
  if (args.Has("--periodic"))
    request.set_type(admin::SYNC_REGISTRATION_TYPE_PERIODIC);
  if (args.Has("--one-shot"))
    request.set_type(admin::SYNC_REGISTRATION_TYPE_ONE_SHOT);
  admin::RegistrationTable table;
  if (int rc = all ? cli.Call(&Cli::Stub::ExplainAll, admin::Empty(), &table)
                   : cli.Call(&Cli::Stub::Explain, request, &table))
    return rc;
  const absl::Time now = absl::Now();
  std::vector<std::string> values;
  std::vector<std::string> sentences;
  for (const admin::Registration& r : table.registrations()) {
    if (all &&
        ((request.service_worker_registration_id() != 0 &&
          r.service_worker_registration_id() != request.service_worker_registration_id()) ||
         (args.Has("--periodic") && r.type() != "periodic") || (args.Has("--one-shot") && r.type() != "one-shot"))) {
      continue;
    }
    sentences.push_back(WhySentence(r, now));
    values.push_back(RegistrationJson(r, now)
                         .Add("min_interval_ms", r.min_interval_ms())
                         .Add("reason", r.reason())
                         .Add("until_unix_ms", r.until_unix_ms())
                         .Add("explanation", r.explanation())
                         .Add("sentence", sentences.back())
                         .Serialize());
  }
  cli.PrintLines(values, sentences);
  if (sentences.empty() && !all) {
    return cli.Fail(absl::StrCat("no registration of ", request.origin(), " has the tag ", DisplayTag(request.tag()),
                                 args.Has("--sw") || args.Has("--periodic") || args.Has("--one-shot")
                                     ? " (with the given --sw/--periodic/--one-shot)"
                                     : ""));
  }
  return kExitOk;
}

int Metrics(Cli& cli, const Args&) {
  admin::MetricsReply reply;
  if (int rc = cli.Call(&Cli::Stub::GetMetrics, admin::Empty(), &reply))
    return rc;
  std::vector<std::string> values;
  Table table({"NAME", "COUNT", "SUM", "MIN", "MAX", "BUCKETS"});
  for (const admin::Histogram& h : reply.histograms()) {
    std::vector<std::string> json_buckets;
    std::vector<std::string> text_buckets;
    for (const admin::HistogramBucket& b : h.buckets()) {
      json_buckets.push_back(JsonObject().Add("label", b.label()).Add("count", b.count()).Serialize());
      text_buckets.push_back(absl::StrCat(b.label(), "=", b.count()));
    }
    values.push_back(JsonObject()
                         .Add("name", h.name())
                         .Add("kind", h.kind())
                         .Add("count", h.count())
                         .Add("sum", h.sum())
                         .Add("min", h.min())
                         .Add("max", h.max())
                         .AddRaw("buckets", JsonArray(json_buckets))
                         .Serialize());
    const bool value = h.kind() == "value";
    table.AddRow({h.name(), absl::StrCat(h.count()), value ? absl::StrCat(h.sum()) : "-",
                  value ? absl::StrCat(h.min()) : "-", value ? absl::StrCat(h.max()) : "-",
                  absl::StrJoin(text_buckets, " ")});
  }
  cli.PrintTable(JsonArray(values), table);
  return kExitOk;
}

int Dispatch(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  if (!ParseId(args.positional[0], &sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[0]);
  admin::DispatchSyncEventRequest request;
  request.set_service_worker_registration_id(sw_id);
  std::string tag;
  int rc = kExitOk;
  if (!ParseTagArgument(cli, args, args.positional[1], &tag, &rc))
    return rc;
  request.set_tag(tag);
  request.set_last_chance(args.Has("--last-chance"));
  request.set_periodic(args.Has("--periodic"));
  if (request.periodic() && request.last_chance())
    return cli.Usage("a periodicsync event has no last chance: --periodic and --last-chance exclude each other");
  admin::DispatchSyncEventReply reply;
  if ((rc = cli.Call(&Cli::Stub::DispatchSyncEvent, request, &reply, kDispatchTimeout)))
    return rc;
  const bool completed = reply.outcome() == "completed";
  cli.PrintLine(JsonObject().Add("outcome", reply.outcome()).Add("completed", completed).Serialize(), reply.outcome());
  if (!completed)
    return cli.Fail(absl::StrCat("the ", request.periodic() ? "periodicsync" : "sync",
                                 " event did not complete: ", reply.outcome()));
  return kExitOk;
}

}  // namespace bgsyncctl
}  // namespace bgsync
