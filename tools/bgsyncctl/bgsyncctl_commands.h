// bgsyncctl's commands, one Handler each (bgsyncctl_cli.h), by the file that implements them. What each does is
// in the command table (bgsyncctl_main.cc) and tools/bgsyncctl/README.md. Every handler runs after the command
// line was checked against the table (flags known, positional arguments counted) and returns an exit status.
#ifndef TOOLS_BGSYNCCTL_BGSYNCCTL_COMMANDS_H_
#define TOOLS_BGSYNCCTL_BGSYNCCTL_COMMANDS_H_

#include "tools/bgsyncctl/bgsyncctl_cli.h"

namespace bgsync {
namespace bgsyncctl {

// bgsyncctl_browser_commands.cc: the browser's state and settings.
int SwInstall(Cli& cli, const Args& args);
int SwActivate(Cli& cli, const Args& args);
int SwUnregister(Cli& cli, const Args& args);
int SwList(Cli& cli, const Args& args);
int OpenWindow(Cli& cli, const Args& args);
int CloseWindow(Cli& cli, const Args& args);
int NetworkOffline(Cli& cli, const Args& args);
int NetworkOnline(Cli& cli, const Args& args);
int NetworkAuto(Cli& cli, const Args& args);
int NetworkEmulateOffline(Cli& cli, const Args& args);
int NetworkStopEmulating(Cli& cli, const Args& args);
int Permission(Cli& cli, const Args& args);
int PermissionGet(Cli& cli, const Args& args);
int EngagementGet(Cli& cli, const Args& args);
int EngagementSet(Cli& cli, const Args& args);
int Status(Cli& cli, const Args& args);

// bgsyncctl_page_commands.cc: the page-facing API, with bgsyncctl (or a renderer window) acting as a page.
int Register(Cli& cli, const Args& args);
int Tags(Cli& cli, const Args& args);
int PeriodicRegister(Cli& cli, const Args& args);
int PeriodicUnregister(Cli& cli, const Args& args);
int PeriodicTags(Cli& cli, const Args& args);

// bgsyncctl_registration_commands.cc: sync registrations, explanations, metrics, events fired by hand.
int Registrations(Cli& cli, const Args& args);
int Why(Cli& cli, const Args& args);
int Metrics(Cli& cli, const Args& args);
int Dispatch(Cli& cli, const Args& args);

// bgsyncctl_log_commands.cc: the browser's event log and DevTools recording.
int Log(Cli& cli, const Args& args);
int LogStart(Cli& cli, const Args& args);
int LogStop(Cli& cli, const Args& args);
int LogClear(Cli& cli, const Args& args);
int LogState(Cli& cli, const Args& args);
int LogShow(Cli& cli, const Args& args);

}  // namespace bgsyncctl
}  // namespace bgsync

#endif  // TOOLS_BGSYNCCTL_BGSYNCCTL_COMMANDS_H_
