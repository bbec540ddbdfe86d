// The commands about the browser's state and settings: service workers, windows, network emulation, permissions,
// site engagement, status.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/bgsyncctl/bgsyncctl_commands.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

std::string ServiceWorkerJson(const admin::ServiceWorkerInfo& info) {
  std::vector<std::string> command;
  for (const std::string& arg : info.command())
    command.push_back(JsonString(arg));
  return JsonObject()
      .Add("id", info.id())
      .Add("origin", info.origin())
      .Add("scope", info.scope())
      .Add("active", info.active())
      .Add("worker_pid", info.worker_pid())
      .AddRaw("command", JsonArray(command))
      .Serialize();
}

int SetNetworkMode(Cli& cli, admin::SetNetworkEmulationRequest::Mode mode) {
  admin::SetNetworkEmulationRequest request;
  request.set_mode(mode);
  return cli.CallAndPrintOk(&Cli::Stub::SetNetworkEmulation, request);
}

int EmulateServiceWorkerOffline(Cli& cli, const Args& args, bool offline) {
  int64_t sw_id = 0;
  if (!ParseId(args.positional[0], &sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[0]);
  admin::SetNetworkEmulationRequest request;
  request.set_service_worker_registration_id(sw_id);
  request.set_offline(offline);
  return cli.CallAndPrintOk(&Cli::Stub::SetNetworkEmulation, request);
}

std::string EngagementJson(const admin::EngagementReply& reply) {
  return JsonObject()
      .Add("origin", reply.origin())
      .Add("level", reply.level_name())
      .Add("default", reply.is_default())
      .Serialize();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Service workers.

int SwInstall(Cli& cli, const Args& args) {
  if (args.command.empty())
    return cli.Usage("missing the worker command after \"--\"");
  admin::InstallServiceWorkerRequest request;
  request.set_origin(args.positional[0]);
  request.set_scope(args.positional[1]);
  for (size_t i = 0; i < args.command.size(); ++i) {
    // The browser runs the command from its own directory: a relative program path is made absolute here.
    const std::string& arg = args.command[i];
    request.add_command(i == 0 && absl::StrContains(arg, '/') ? AbsolutePath(arg) : arg);
  }
  admin::ServiceWorkerInfo info;
  if (int rc = cli.Call(&Cli::Stub::InstallServiceWorker, request, &info))
    return rc;
  cli.PrintLine(ServiceWorkerJson(info), absl::StrCat(info.id()));
  return kExitOk;
}

int SwActivate(Cli& cli, const Args& args) {
  int64_t id = 0;
  if (!ParseId(args.positional[0], &id))
    return cli.NotAPositiveInteger("ID", args.positional[0]);
  admin::ServiceWorkerId request;
  request.set_id(id);
  admin::ServiceWorkerInfo info;
  if (int rc = cli.Call(&Cli::Stub::ActivateServiceWorker, request, &info))
    return rc;
  cli.PrintLine(ServiceWorkerJson(info), "ok");
  return kExitOk;
}

int SwUnregister(Cli& cli, const Args& args) {
  int64_t id = 0;
  if (!ParseId(args.positional[0], &id))
    return cli.NotAPositiveInteger("ID", args.positional[0]);
  admin::ServiceWorkerId request;
  request.set_id(id);
  return cli.CallAndPrintOk(&Cli::Stub::UnregisterServiceWorker, request);
}

int SwList(Cli& cli, const Args&) {
  admin::ServiceWorkerList list;
  if (int rc = cli.Call(&Cli::Stub::ListServiceWorkers, admin::Empty(), &list))
    return rc;
  std::vector<std::string> rows;
  Table table({"ID", "ORIGIN", "SCOPE", "ACTIVE", "WORKER PID", "COMMAND"});
  for (const admin::ServiceWorkerInfo& info : list.service_workers()) {
    rows.push_back(ServiceWorkerJson(info));
    table.AddRow({absl::StrCat(info.id()), info.origin(), info.scope(), info.active() ? "yes" : "no",
                  info.worker_pid() ? absl::StrCat(info.worker_pid()) : "-",
                  ShellJoin({info.command().begin(), info.command().end()})});
  }
  cli.PrintTable(JsonArray(rows), table);
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Windows.

int OpenWindow(Cli& cli, const Args& args) {
  admin::OpenWindowRequest request;
  request.set_origin(args.positional[0]);
  request.set_client_type(args.Has("--iframe") ? admin::CLIENT_TYPE_IFRAME : admin::CLIENT_TYPE_WINDOW);
  request.set_keep_open(args.Has("--keep-open"));
  if (args.Has("--output"))
    request.set_output_path(AbsolutePath(args.Value("--output")));
  for (const std::string& line : args.Values("--script")) {
    if (absl::StrContains(line, '\n'))
      return cli.Usage("a --script line may not contain a newline (give one --script per command)");
    request.add_script(line);
  }
  admin::OpenWindowReply reply;
  if (int rc = cli.Call(&Cli::Stub::OpenWindow, request, &reply))
    return rc;
  cli.PrintLine(JsonObject().Add("pid", reply.pid()).Add("session_id", reply.session_id()).Serialize(),
                absl::StrCat("pid ", reply.pid(), " session ", reply.session_id()));
  return kExitOk;
}

int CloseWindow(Cli& cli, const Args& args) {
  int32_t pid = 0;
  if (!absl::SimpleAtoi(args.positional[0], &pid) || pid <= 0)
    return cli.NotAPositiveInteger("PID", args.positional[0]);
  admin::CloseWindowRequest request;
  request.set_pid(pid);
  return cli.CallAndPrintOk(&Cli::Stub::CloseWindow, request);
}

// ---------------------------------------------------------------------------------------------------------------
// Network emulation.

int NetworkOffline(Cli& cli, const Args&) {
  return SetNetworkMode(cli, admin::SetNetworkEmulationRequest::MODE_OFFLINE);
}
int NetworkOnline(Cli& cli, const Args&) {
  return SetNetworkMode(cli, admin::SetNetworkEmulationRequest::MODE_ONLINE);
}
int NetworkAuto(Cli& cli, const Args&) {
  return SetNetworkMode(cli, admin::SetNetworkEmulationRequest::MODE_AUTO);
}

int NetworkEmulateOffline(Cli& cli, const Args& args) {
  return EmulateServiceWorkerOffline(cli, args, true);
}
int NetworkStopEmulating(Cli& cli, const Args& args) {
  return EmulateServiceWorkerOffline(cli, args, false);
}

// ---------------------------------------------------------------------------------------------------------------
// Permissions and engagement.

int Permission(Cli& cli, const Args& args) {
  admin::SetPermissionRequest request;
  request.set_origin(args.positional[0]);
  const std::string& setting = args.positional[1];
  if (setting == "granted") {
    request.set_setting(admin::SetPermissionRequest::SETTING_GRANTED);
  } else if (setting == "denied") {
    request.set_setting(admin::SetPermissionRequest::SETTING_DENIED);
  } else if (setting == "default") {
    request.set_setting(admin::SetPermissionRequest::SETTING_DEFAULT);
  } else {
    return cli.Usage(absl::StrCat("the setting must be granted, denied or default, not \"", setting, "\""));
  }
  request.set_periodic(args.Has("--periodic"));
  return cli.CallAndPrintOk(&Cli::Stub::SetPermission, request);
}

int PermissionGet(Cli& cli, const Args& args) {
  admin::GetPermissionRequest request;
  request.set_origin(args.positional[0]);
  request.set_periodic(args.Has("--periodic"));
  admin::PermissionReply reply;
  if (int rc = cli.Call(&Cli::Stub::GetPermission, request, &reply))
    return rc;
  cli.PrintLine(JsonObject()
                    .Add("origin", reply.origin())
                    .Add("permission", reply.periodic() ? "periodic-background-sync" : "background-sync")
                    .Add("status", reply.status())
                    .Serialize(),
                reply.status());
  return kExitOk;
}

int EngagementGet(Cli& cli, const Args& args) {
  admin::GetEngagementRequest request;
  request.set_origin(args.positional[0]);
  admin::EngagementReply reply;
  if (int rc = cli.Call(&Cli::Stub::GetEngagement, request, &reply))
    return rc;
  cli.PrintLine(EngagementJson(reply), absl::StrCat(reply.level_name(), reply.is_default() ? " (default)" : ""));
  return kExitOk;
}

int EngagementSet(Cli& cli, const Args& args) {
  static const std::map<std::string, admin::EngagementLevel> kLevels = {
      {"none", admin::ENGAGEMENT_LEVEL_NONE}, {"minimal", admin::ENGAGEMENT_LEVEL_MINIMAL},
      {"low", admin::ENGAGEMENT_LEVEL_LOW},   {"medium", admin::ENGAGEMENT_LEVEL_MEDIUM},
      {"high", admin::ENGAGEMENT_LEVEL_HIGH}, {"default", admin::ENGAGEMENT_LEVEL_DEFAULT},
  };
  auto level = kLevels.find(args.positional[1]);
  if (level == kLevels.end()) {
    return cli.Usage(absl::StrCat("the level must be none, minimal, low, medium, high or default, not \"",
                                  args.positional[1], "\""));
  }
  admin::SetEngagementRequest request;
  request.set_origin(args.positional[0]);
  request.set_level(level->second);
  admin::EngagementReply reply;
  if (int rc = cli.Call(&Cli::Stub::SetEngagement, request, &reply))
    return rc;
  cli.PrintLine(EngagementJson(reply), "ok");
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Status.

namespace {

// "served", "repaired" or "quarantined" (SyncStoreOutcome).
std::string SyncStoreOutcomeName(admin::SyncStoreOutcome outcome) {
  switch (outcome) {
    case admin::SYNC_STORE_SERVED:
      return "served";
    case admin::SYNC_STORE_REPAIRED:
      return "repaired";
    case admin::SYNC_STORE_QUARANTINED:
      return "quarantined";
    default:
      return "unknown";
  }
}

}  // namespace

int Status(Cli& cli, const Args&) {
  admin::BrowserStatus status;
  if (int rc = cli.Call(&Cli::Stub::GetStatus, admin::Empty(), &status))
    return rc;
  std::vector<std::string> workers;
  for (int64_t id : status.running_workers())
    workers.push_back(absl::StrCat(id));
  const std::string store = SyncStoreOutcomeName(status.sync_store_outcome());
  const int kept = status.sync_store_damaged_kept();
  Table table({"pid", absl::StrCat(status.pid())});
  table.AddRow({"profile", status.profile()});
  table.AddRow({"admin socket", cli.admin_socket_path()});
  table.AddRow({"system network", status.online() ? "online" : "offline"});
  table.AddRow({"network emulation", status.network_emulation()});
  table.AddRow({"running workers", workers.empty() ? "none" : "sw " + absl::StrJoin(workers, ", ")});
  table.AddRow({"events dispatched", absl::StrCat(status.events_dispatched())});
  table.AddRow({"bad messages", absl::StrCat(status.bad_messages())});
  table.AddRow({"stolen tokens refused", absl::StrCat(status.stolen_token_refusals())});
  table.AddRow({"rate-limited calls", absl::StrCat(status.rate_limited_calls())});
  table.AddRow({"workers killed (deadline)", absl::StrCat(status.workers_killed_for_deadline())});
  table.AddRow(
      {"sync store",
       kept == 0 ? store : absl::StrCat(store, " (", kept, " damaged ", kept == 1 ? "store" : "stores", " kept)")});
  if (!status.sync_store_recovery().empty())
    table.AddRow({"sync store recovery", status.sync_store_recovery()});
  table.AddRow({"quarantined at load", absl::StrCat(status.quarantined_at_load())});
  table.AddRow({"interrupted at load", absl::StrCat(status.interrupted_at_load())});
  cli.PrintTable(JsonObject()
                     .Add("pid", status.pid())
                     .Add("profile", status.profile())
                     .Add("admin_socket", cli.admin_socket_path())
                     .Add("online", status.online())
                     .Add("network_emulation", status.network_emulation())
                     .AddRaw("running_workers", JsonArray(workers))
                     .Add("events_dispatched", status.events_dispatched())
                     .Add("bad_messages", status.bad_messages())
                     .Add("stolen_token_refusals", status.stolen_token_refusals())
                     .Add("rate_limited_calls", status.rate_limited_calls())
                     .Add("workers_killed_for_deadline", status.workers_killed_for_deadline())
                     .Add("sync_store", store)
                     .Add("sync_store_damaged_kept", kept)
                     .Add("sync_store_recovery", status.sync_store_recovery())
                     .Add("quarantined_at_load", status.quarantined_at_load())
                     .Add("interrupted_at_load", status.interrupted_at_load())
                     .Serialize(),
                 table);
  return kExitOk;
}

}  // namespace bgsyncctl
}  // namespace bgsync
