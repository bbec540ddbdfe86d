// bgsyncctl: the command-line tool over bgsync_browser's admin endpoint (browser/admin/admin.proto). Every
// command and flag is described in tools/bgsyncctl/README.md and by `bgsyncctl COMMAND --help`.
//
// Exit status: 0 success; 1 the operation failed ("bgsyncctl: <what>: <message>" on stderr); 2 usage error;
// 3 the browser cannot be reached (no RuntimeDirectory, or the admin socket refuses connections).
//
// This file holds the command table, help and argument parsing; the commands are in bgsyncctl_*_commands.cc.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/bgsyncctl/bgsyncctl_cli.h"
#include "tools/bgsyncctl/bgsyncctl_commands.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

constexpr char kGlobalFlagsHelp[] =
    "global flags (before or after the command's arguments):\n"
    "  --profile DIR        the browser's profile; its RuntimeDirectory file names the sockets' directory\n"
    "                       (default: $XDG_DATA_HOME/bgsync/Default, else ~/.local/share/bgsync/Default)\n"
    "  --admin-socket PATH  the admin socket itself (overrides --profile)\n"
    "  --json               machine-readable output: one JSON value (for `log`: one JSON object per line)\n"
    "  --help, -h           help for bgsyncctl or for the command\n";

// ---------------------------------------------------------------------------------------------------------------
// The commands.

constexpr size_t kAny = static_cast<size_t>(-1);

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"sw install",
       "ORIGIN SCOPE -- COMMAND...",
       "installs a service-worker registration whose worker process runs COMMAND; prints the new id",
       "  ORIGIN must be secure (https, or http on localhost) and SCOPE an absolute URL under it.\n"
       "  COMMAND is the worker's argv; a relative program path is made absolute (the browser runs it from its\n"
       "  own directory) and a bare name is looked up in the browser's PATH. The registration is not active\n"
       "  until `sw activate`.\n",
       {},
       {},
       2,
       2,
       true,
       SwInstall},
      {"sw activate", "ID", "activates an installed service-worker registration", "", {}, {}, 1, 1, false, SwActivate},
      {"sw unregister",
       "ID",
       "unregisters a service-worker registration (its sync registrations are deleted, its worker stopped)",
       "",
       {},
       {},
       1,
       1,
       false,
       SwUnregister},
      {"sw list",
       "",
       "lists service-worker registrations: id, origin, scope, active, worker pid, command",
       "",
       {},
       {},
       0,
       0,
       false,
       SwList},
      {"open-window",
       "ORIGIN [--iframe] [--keep-open] [--output FILE] [--script LINE]...",
       "launches a renderer process (bgsync_renderer_host) for ORIGIN; prints its pid and session id",
       "  --iframe       an iframe instead of a top-level window\n"
       "  --keep-open    keep the window open after the script, until `close-window`\n"
       "                 (else it closes at the end of its script)\n"
       "  --output FILE  append the renderer's answers to FILE (default: discarded)\n"
       "  --script LINE  a renderer command, e.g. \"register 1 outbox\" or \"tags 1\"; repeatable, run in order\n",
       {"--iframe", "--keep-open"},
       {"--output", "--script"},
       1,
       1,
       false,
       OpenWindow},
      {"close-window",
       "PID",
       "closes (kills) a renderer process opened with open-window",
       "",
       {},
       {},
       1,
       1,
       false,
       CloseWindow},
      {"register",
       "ORIGIN SW_ID TAG [--encoded]",
       "registers a one-shot sync as a page of ORIGIN would: prints \"ok\", or the DOMException and exits 1",
       "  Opens a top-level window session for ORIGIN, calls Register then DidResolveRegistration on the browser's\n"
       "  renderer socket, and closes the session.\n"
       "  --encoded  TAG is percent-encoded as bgsyncctl prints tags (\"%20\" is a space, `\"\"` the empty tag)\n",
       {"--encoded"},
       {},
       3,
       3,
       false,
       Register},
      {"tags",
       "ORIGIN SW_ID",
       "lists the one-shot sync tags of a service worker as a page of ORIGIN sees them (getTags()), one per line",
       "  Tags are printed percent-encoded: bytes outside printable ASCII, '%' and '\"' as %XX; the empty tag as "
       "\"\".\n"
       "  On an error prints the DOMException and exits 1.\n",
       {},
       {},
       2,
       2,
       false,
       Tags},
      {"network offline",
       "",
       "emulates the whole network offline (DevTools-style)",
       "",
       {},
       {},
       0,
       0,
       false,
       NetworkOffline},
      {"network online", "", "emulates the whole network online", "", {}, {}, 0, 0, false, NetworkOnline},
      {"network auto",
       "",
       "stops network emulation: follow the system's connectivity",
       "",
       {},
       {},
       0,
       0,
       false,
       NetworkAuto},
      {"network emulate-offline",
       "SW_ID",
       "emulates one service-worker registration offline (reference-counted, like DevTools sessions)",
       "",
       {},
       {},
       1,
       1,
       false,
       NetworkEmulateOffline},
      {"network stop-emulating",
       "SW_ID",
       "releases one `network emulate-offline` of a service-worker registration",
       "",
       {},
       {},
       1,
       1,
       false,
       NetworkStopEmulating},
      {"permission",
       "ORIGIN granted|denied|default [--periodic]",
       "sets the \"background-sync\" permission of ORIGIN (default: the browser's default policy)",
       "  --periodic  the \"periodic-background-sync\" permission instead\n",
       {"--periodic"},
       {},
       2,
       2,
       false,
       Permission},
      {"permissions get",
       "ORIGIN [--periodic]",
       "prints the \"background-sync\" permission of ORIGIN as the browser decides it now: granted or denied",
       "  --periodic  the \"periodic-background-sync\" permission instead (denied unless granted here)\n",
       {"--periodic"},
       {},
       1,
       1,
       false,
       PermissionGet},
      {"permissions set",
       "ORIGIN granted|denied|default [--periodic]",
       "sets the \"background-sync\" permission of ORIGIN (the same as `permission`)",
       "  --periodic  the \"periodic-background-sync\" permission instead\n"
       "  Denying either permission deletes the origin's periodic registrations.\n",
       {"--periodic"},
       {},
       2,
       2,
       false,
       Permission},
      {"engagement get",
       "ORIGIN",
       "prints the site engagement of ORIGIN: none, minimal, low, medium or high (\"(default)\" when not set)",
       "",
       {},
       {},
       1,
       1,
       false,
       EngagementGet},
      {"engagement set",
       "ORIGIN none|minimal|low|medium|high|default",
       "sets the site engagement of ORIGIN, which spaces out its periodic sync events (kept in the profile)",
       "  high: the minimum gap between the origin's periodic events as configured; low and medium: twice it;\n"
       "  minimal: three times; none: periodic events are suspended. default: back to high.\n",
       {},
       {},
       2,
       2,
       false,
       EngagementSet},
      {"periodic register",
       "ORIGIN SW_ID TAG [--min-interval MS] [--encoded]",
       "registers a periodic sync as a page of ORIGIN would (periodicSync.register): prints \"ok\", or the "
       "DOMException and exits 1",
       "  Runs `periodic-register` in a renderer window of ORIGIN (bgsync_renderer_host) and waits for its answer.\n"
       "  --min-interval MS  the page's minInterval in milliseconds (default 0)\n"
       "  --encoded          TAG is percent-encoded as bgsyncctl prints tags\n"
       "  The origin needs the periodic-background-sync permission (`permissions set ORIGIN granted --periodic`).\n",
       {"--encoded"},
       {"--min-interval"},
       3,
       3,
       false,
       PeriodicRegister},
      {"periodic unregister",
       "ORIGIN SW_ID TAG [--encoded]",
       "unregisters a periodic sync as a page of ORIGIN would (periodicSync.unregister)",
       "  --encoded  TAG is percent-encoded as bgsyncctl prints tags\n",
       {"--encoded"},
       {},
       3,
       3,
       false,
       PeriodicUnregister},
      {"periodic tags",
       "ORIGIN SW_ID",
       "lists the periodic sync tags of a service worker as a page of ORIGIN sees them (periodicSync.getTags())",
       "",
       {},
       {},
       2,
       2,
       false,
       PeriodicTags},
      {"registrations",
       "",
       "lists every sync registration: origin, sw id, tag, type, state, attempts, next attempt, last failure",
       "",
       {},
       {},
       0,
       0,
       false,
       Registrations},
      {"why",
       "[ORIGIN TAG] [--sw ID] [--one-shot | --periodic] [--encoded]",
       "says why registrations are (not) firing now: one sentence per registration of ORIGIN with TAG",
       "  Without ORIGIN and TAG: every registration. Exits 1 when none of ORIGIN has TAG.\n"
       "  --sw ID      only the registrations of this service worker\n"
       "  --one-shot   only one-shot registrations\n"
       "  --periodic   only periodic registrations\n"
       "  --encoded    TAG is percent-encoded as bgsyncctl prints tags\n"
       "  --json gives the registration's fields with reason (e.g. \"offline\", \"waiting-for-backoff\"),\n"
       "  until_unix_ms, explanation and sentence.\n",
       {"--one-shot", "--periodic", "--encoded"},
       {"--sw"},
       0,
       2,
       false,
       Why},
      {"metrics",
       "",
       "prints the engine's counters, named after Chromium's UMA histograms: count, sum, min, max, buckets",
       "",
       {},
       {},
       0,
       0,
       false,
       Metrics},
      {"dispatch",
       "SW_ID TAG [--last-chance | --periodic] [--encoded]",
       "fires a sync event at the worker now (registrations untouched); prints the outcome, exits 0 if completed",
       "  --last-chance  the event's lastChance is true\n"
       "  --periodic     a periodicsync event instead (DevTools' dispatchPeriodicSyncEvent)\n"
       "  --encoded      TAG is percent-encoded as bgsyncctl prints tags\n"
       "  Outcomes: completed, rejected, aborted, timed out, worker crashed, dispatch failed.\n",
       {"--last-chance", "--periodic", "--encoded"},
       {},
       2,
       2,
       false,
       Dispatch},
      {"log",
       "[--follow] [--since N]",
       "prints the browser's event log, one line per entry: time, #sequence, event, origin, sw, tag, detail",
       "  --follow   keep printing new entries until interrupted (or the browser exits: exit status 3)\n"
       "  --since N  only entries after sequence number N\n"
       "  DevTools' recorded Background Services events: `log start|stop|clear|state|show`.\n",
       {"--follow"},
       {"--since"},
       0,
       0,
       false,
       Log},
      {"log start",
       "[--service backgroundSync|periodicBackgroundSync]",
       "starts DevTools recording of Background Services events for three days (both services by default)",
       "  While a service records, its events are kept in the profile (also across restarts): `log show`.\n"
       "  Starting again restarts the three days.\n",
       {},
       {"--service"},
       0,
       0,
       false,
       LogStart},
      {"log stop",
       "[--service backgroundSync|periodicBackgroundSync]",
       "stops DevTools recording (both services by default); recorded events stay",
       "",
       {},
       {"--service"},
       0,
       0,
       false,
       LogStop},
      {"log clear",
       "[--service backgroundSync|periodicBackgroundSync]",
       "deletes the recorded events (of both services by default)",
       "",
       {},
       {"--service"},
       0,
       0,
       false,
       LogClear},
      {"log state", "", "says whether each service records, and until when", "", {}, {}, 0, 0, false, LogState},
      {"log show",
       "[--follow] [--service backgroundSync|periodicBackgroundSync]",
       "prints the recorded events in recording order: time, #sequence, service, event, origin, sw, tag, metadata",
       "  --service  only this service's events (default: both)\n"
       "  --follow   first each service's recording state, then keep printing new events and recording changes\n"
       "             until interrupted (or the browser exits: exit status 3)\n",
       {"--follow"},
       {"--service"},
       0,
       0,
       false,
       LogShow},
      {"status",
       "",
       "shows the browser's pid, profile, connectivity, emulation, running workers and counters",
       "",
       {},
       {},
       0,
       0,
       false,
       Status},
  };
  return commands;
}

std::vector<std::string> Words(absl::string_view name) {
  std::vector<std::string> words;
  std::string current;
  for (char c : name) {
    if (c == ' ') {
      words.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  words.push_back(current);
  return words;
}

void PrintOverview(FILE* out) {
  std::fprintf(out, "usage: bgsyncctl [--profile DIR | --admin-socket PATH] [--json] COMMAND [ARGS...]\n\n");
  std::fprintf(out, "Drives a running bgsync_browser through its admin socket.\n\ncommands:\n");
  for (const Command& command : Commands()) {
    std::fprintf(out, "  %s%s%s\n      %s\n", command.name, *command.synopsis ? " " : "", command.synopsis,
                 command.summary);
  }
  std::fprintf(out, "\n%s\n", kGlobalFlagsHelp);
  std::fprintf(out,
               "exit status: 0 success; 1 the operation failed; 2 usage error; 3 the browser cannot be reached.\n"
               "`bgsyncctl COMMAND --help` describes one command.\n");
}

void PrintCommandHelp(const Command& command) {
  std::printf("usage: bgsyncctl %s%s%s\n\n%s\n", command.name, *command.synopsis ? " " : "", command.synopsis,
              command.summary);
  if (*command.details)
    std::printf("\n%s", command.details);
  std::printf("\n%s", kGlobalFlagsHelp);
}

// The commands whose name starts with `group` + " " (e.g. "sw").
void PrintGroup(FILE* out, const std::string& group) {
  std::fprintf(out, "usage:\n");
  for (const Command& command : Commands()) {
    if (absl::StartsWith(command.name, group + " ")) {
      std::fprintf(out, "  bgsyncctl %s%s%s\n      %s\n", command.name, *command.synopsis ? " " : "", command.synopsis,
                   command.summary);
    }
  }
}

bool IsGroup(const std::string& word) {
  for (const Command& command : Commands()) {
    if (absl::StartsWith(command.name, word + " "))
      return true;
  }
  return false;
}

bool IsHelp(const std::string& arg) {
  return arg == "--help" || arg == "-h";
}

// Takes a global flag at argv[i] (advancing i past its value). Returns false if argv[i] is not one; sets *error
// when it is one but lacks its value.
bool TakeGlobalFlag(const std::vector<std::string>& argv, size_t& i, Globals& globals, std::string* error) {
  const std::string& arg = argv[i];
  auto take = [&](const std::string& flag, std::string* out) {
    if (arg == flag) {
      if (i + 1 >= argv.size()) {
        *error = flag + " needs a value";
        return true;
      }
      *out = argv[++i];
      return true;
    }
    if (absl::StartsWith(arg, flag + "=")) {
      *out = arg.substr(flag.size() + 1);
      return true;
    }
    return false;
  };
  if (arg == "--json") {
    globals.json = true;
    return true;
  }
  return take("--profile", &globals.profile) || take("--admin-socket", &globals.admin_socket);
}

int Main(const std::vector<std::string>& argv) {
  Globals globals;
  std::string error;
  size_t i = 0;
  // Global flags before the command.
  while (i < argv.size() && absl::StartsWith(argv[i], "-")) {
    if (IsHelp(argv[i])) {
      PrintOverview(stdout);
      return kExitOk;
    }
    if (!TakeGlobalFlag(argv, i, globals, &error)) {
      std::fprintf(stderr, "bgsyncctl: unknown flag \"%s\"\n\n", argv[i].c_str());
      PrintOverview(stderr);
      return kExitUsage;
    }
    if (!error.empty()) {
      std::fprintf(stderr, "bgsyncctl: %s\n", error.c_str());
      return kExitUsage;
    }
    ++i;
  }
  if (i == argv.size()) {
    std::fprintf(stderr, "bgsyncctl: missing command\n\n");
    PrintOverview(stderr);
    return kExitUsage;
  }
  if (argv[i] == "help") {
    PrintOverview(stdout);
    return kExitOk;
  }

  // The command: the longest name whose words come next.
  const Command* command = nullptr;
  size_t words = 0;
  for (const Command& candidate : Commands()) {
    std::vector<std::string> name = Words(candidate.name);
    if (name.size() <= words || i + name.size() > argv.size())
      continue;
    if (std::equal(name.begin(), name.end(), argv.begin() + i)) {
      command = &candidate;
      words = name.size();
    }
  }
  if (!command) {
    if (IsGroup(argv[i])) {
      if (i + 1 < argv.size() && IsHelp(argv[i + 1])) {
        PrintGroup(stdout, argv[i]);
        return kExitOk;
      }
      if (i + 1 < argv.size()) {
        std::fprintf(stderr, "bgsyncctl: unknown command \"%s %s\"\n", argv[i].c_str(), argv[i + 1].c_str());
      } else {
        std::fprintf(stderr, "bgsyncctl: \"%s\" needs a subcommand\n", argv[i].c_str());
      }
      PrintGroup(stderr, argv[i]);
      return kExitUsage;
    }
    std::fprintf(stderr, "bgsyncctl: unknown command \"%s\" (see `bgsyncctl --help`)\n", argv[i].c_str());
    return kExitUsage;
  }
  i += words;

  // The command's arguments, with its flags and the global ones mixed in.
  Cli usage_reporter(globals, command);
  Args args;
  bool options_ended = false;
  for (; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (options_ended || !absl::StartsWith(arg, "--") || arg.size() == 2) {
      if (!options_ended && arg == "--") {
        options_ended = true;
        if (command->takes_command) {
          args.command.assign(argv.begin() + i + 1, argv.end());
          break;
        }
        continue;
      }
      args.positional.push_back(arg);
      continue;
    }
    if (IsHelp(arg)) {
      PrintCommandHelp(*command);
      return kExitOk;
    }
    if (TakeGlobalFlag(argv, i, globals, &error)) {
      if (!error.empty())
        return usage_reporter.Usage(error);
      continue;
    }
    const std::string flag = arg.substr(0, arg.find('='));
    const bool has_inline_value = flag.size() < arg.size();
    if (std::find(command->switches.begin(), command->switches.end(), flag) != command->switches.end()) {
      if (has_inline_value)
        return usage_reporter.Usage(flag + " takes no value");
      args.switches.insert(flag);
    } else if (std::find(command->value_options.begin(), command->value_options.end(), flag) !=
               command->value_options.end()) {
      if (has_inline_value) {
        args.values[flag].push_back(arg.substr(flag.size() + 1));
      } else if (i + 1 < argv.size()) {
        args.values[flag].push_back(argv[++i]);
      } else {
        return usage_reporter.Usage(flag + " needs a value");
      }
    } else {
      return usage_reporter.Usage(absl::StrCat("unknown flag \"", arg, "\""));
    }
  }
  if (args.positional.size() < command->min_positional)
    return usage_reporter.Usage("missing arguments");
  if (command->max_positional != kAny && args.positional.size() > command->max_positional)
    return usage_reporter.Usage(absl::StrCat("unexpected argument \"", args.positional[command->max_positional], "\"",
                                             command->takes_command ? " (the worker command goes after \"--\")" : ""));

  Cli cli(globals, command);
  return command->run(cli, args);
}

}  // namespace
}  // namespace bgsyncctl
}  // namespace bgsync

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return bgsync::bgsyncctl::Main(args);
}
