// The commands about what happened: the browser's event log (`log`), and DevTools' recording of Background
// Services events (`log start|stop|clear|state|show`).
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/bgsyncctl/bgsyncctl_commands.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

std::string LogLine(const admin::LogEntry& entry) {
  std::vector<std::string> fields = {FormatLogTime(entry.unix_ms()), absl::StrCat("#", entry.sequence()),
                                     entry.event()};
  if (!entry.origin().empty())
    fields.push_back(entry.origin());
  if (entry.service_worker_registration_id() != 0)
    fields.push_back(absl::StrCat("sw=", entry.service_worker_registration_id()));
  // Entries about sync registrations and events show their tag even when it is empty (as "").
  if (!entry.tag().empty() || absl::StrContains(absl::AsciiStrToLower(entry.event()), "sync"))
    fields.push_back("tag=" + DisplayTag(entry.tag()));
  if (!entry.detail().empty())
    fields.push_back(entry.detail());
  return absl::StrJoin(fields, "  ");
}

std::string LogJson(const admin::LogEntry& entry) {
  return JsonObject()
      .Add("sequence", entry.sequence())
      .Add("unix_ms", entry.unix_ms())
      .Add("time", FormatLogTime(entry.unix_ms()))
      .Add("event", entry.event())
      .Add("origin", entry.origin())
      .Add("service_worker_registration_id", entry.service_worker_registration_id())
      .Add("tag", DisplayTag(entry.tag()))
      .Add("detail", entry.detail())
      .Serialize();
}

std::string RecordingStateLine(const admin::RecordingState& state) {
  return FormatRecordingState(state.service_name(), state.recording(), state.expires_unix_ms(), absl::Now());
}

std::string RecordingStateJson(const admin::RecordingState& state) {
  return JsonObject()
      .Add("service", state.service_name())
      .Add("recording", state.recording())
      .Add("started_unix_ms", state.started_unix_ms())
      .Add("expires_unix_ms", state.expires_unix_ms())
      .Serialize();
}

const char* ServiceName(admin::BackgroundService service) {
  return service == admin::BACKGROUND_SERVICE_PERIODIC_BACKGROUND_SYNC ? "periodicBackgroundSync" : "backgroundSync";
}

std::vector<std::pair<std::string, std::string>> Metadata(const admin::BackgroundServiceEvent& event) {
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const admin::BackgroundServiceEventMetadata& entry : event.event_metadata())
    metadata.emplace_back(entry.key(), entry.value());
  return metadata;
}

// time, #sequence, service, event, origin, sw=ID, tag=TAG (even when empty), metadata (when there is some).
std::string BackgroundServiceEventLine(const admin::BackgroundServiceEvent& event) {
  std::vector<std::string> fields = {FormatLogTime(event.timestamp_unix_ms()),
                                     absl::StrCat("#", event.sequence()),
                                     ServiceName(event.service()),
                                     event.event_name(),
                                     event.origin(),
                                     absl::StrCat("sw=", event.service_worker_registration_id()),
                                     "tag=" + DisplayTag(event.instance_id())};
  if (std::string metadata = FormatMetadata(Metadata(event)); !metadata.empty())
    fields.push_back(metadata);
  return absl::StrJoin(fields, "  ");
}

std::string BackgroundServiceEventJson(const admin::BackgroundServiceEvent& event) {
  JsonObject metadata;
  for (const auto& [key, value] : Metadata(event))
    metadata.Add(key, value);
  return JsonObject()
      .Add("sequence", event.sequence())
      .Add("unix_ms", event.timestamp_unix_ms())
      .Add("time", FormatLogTime(event.timestamp_unix_ms()))
      .Add("service", ServiceName(event.service()))
      .Add("event", event.event_name())
      .Add("origin", event.origin())
      .Add("service_worker_registration_id", event.service_worker_registration_id())
      .Add("tag", DisplayTag(event.instance_id()))
      .AddRaw("metadata", metadata.Serialize())
      .Serialize();
}

// The services --service names (both when it is not given). Returns false after a usage error (its exit status
// in *rc).
bool ServicesArgument(Cli& cli, const Args& args, std::vector<admin::BackgroundService>* services, int* rc) {
  if (!args.Has("--service")) {
    *services = {admin::BACKGROUND_SERVICE_BACKGROUND_SYNC, admin::BACKGROUND_SERVICE_PERIODIC_BACKGROUND_SYNC};
    return true;
  }
  const std::string name = args.Value("--service");
  if (name == "backgroundSync") {
    *services = {admin::BACKGROUND_SERVICE_BACKGROUND_SYNC};
  } else if (name == "periodicBackgroundSync") {
    *services = {admin::BACKGROUND_SERVICE_PERIODIC_BACKGROUND_SYNC};
  } else {
    *rc = cli.Usage(absl::StrCat("--service must be backgroundSync or periodicBackgroundSync, not \"", name, "\""));
    return false;
  }
  return true;
}

// `log start` and `log stop`: prints each service's new recording state as its call returns (in --json mode, all
// of them as one array at the end).
int LogSetRecording(Cli& cli, const Args& args, bool start) {
  std::vector<admin::BackgroundService> services;
  int rc = kExitOk;
  if (!ServicesArgument(cli, args, &services, &rc))
    return rc;
  std::vector<std::string> json;
  for (admin::BackgroundService service : services) {
    admin::BackgroundServiceRequest request;
    request.set_service(service);
    admin::RecordingState state;
    if ((rc = cli.Call(start ? &Cli::Stub::StartRecording : &Cli::Stub::StopRecording, request, &state)))
      return rc;
    json.push_back(RecordingStateJson(state));
    if (!cli.json())
      std::printf("%s\n", RecordingStateLine(state).c_str());
  }
  if (cli.json())
    std::printf("%s\n", JsonArray(json).c_str());
  return kExitOk;
}

}  // namespace

int Log(Cli& cli, const Args& args) {
  admin::StreamLogRequest request;
  request.set_follow(args.Has("--follow"));
  if (args.Has("--since")) {
    uint64_t since = 0;
    if (!absl::SimpleAtoi(args.Value("--since"), &since))
      return cli.Usage(absl::StrCat("--since takes a sequence number, not \"", args.Value("--since"), "\""));
    request.set_since_sequence(since);
  }
  return cli.ReadStream(&Cli::Stub::StreamLog, request, request.follow(),
                        [&](const admin::LogEntry& entry) { cli.PrintLine(LogJson(entry), LogLine(entry)); });
}

int LogStart(Cli& cli, const Args& args) {
  return LogSetRecording(cli, args, true);
}
int LogStop(Cli& cli, const Args& args) {
  return LogSetRecording(cli, args, false);
}

int LogClear(Cli& cli, const Args& args) {
  std::vector<admin::BackgroundService> services;
  int rc = kExitOk;
  if (!ServicesArgument(cli, args, &services, &rc))
    return rc;
  for (admin::BackgroundService service : services) {
    admin::BackgroundServiceRequest request;
    request.set_service(service);
    admin::Empty reply;
    if ((rc = cli.Call(&Cli::Stub::ClearEvents, request, &reply)))
      return rc;
  }
  cli.PrintOk();
  return kExitOk;
}

int LogState(Cli& cli, const Args&) {
  admin::RecordingStateList states;
  if (int rc = cli.Call(&Cli::Stub::GetRecordingState, admin::Empty(), &states))
    return rc;
  std::vector<std::string> json;
  std::vector<std::string> lines;
  for (const admin::RecordingState& state : states.states()) {
    json.push_back(RecordingStateJson(state));
    lines.push_back(RecordingStateLine(state));
  }
  cli.PrintLines(json, lines);
  return kExitOk;
}

int LogShow(Cli& cli, const Args& args) {
  admin::GetBackgroundServiceEventsRequest request;
  request.set_follow(args.Has("--follow"));
  if (args.Has("--service")) {
    std::vector<admin::BackgroundService> services;
    int rc = kExitOk;
    if (!ServicesArgument(cli, args, &services, &rc))
      return rc;
    request.set_service(services[0]);
  }
  return cli.ReadStream(
      &Cli::Stub::GetBackgroundServiceEvents, request, request.follow(),
      [&](const admin::BackgroundServiceUpdate& update) {
        if (update.has_event()) {
          cli.PrintLine(BackgroundServiceEventJson(update.event()), BackgroundServiceEventLine(update.event()));
        } else if (update.has_recording_state()) {
          cli.PrintLine(
              JsonObject().AddRaw("recording_state", RecordingStateJson(update.recording_state())).Serialize(),
              RecordingStateLine(update.recording_state()));
        }
      });
}

}  // namespace bgsyncctl
}  // namespace bgsync
