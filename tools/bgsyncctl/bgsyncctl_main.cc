// bgsyncctl: the command-line tool over bgsync_browser's admin endpoint (browser/admin/admin.proto). Every
// command and flag is described in tools/bgsyncctl/README.md and by `bgsyncctl COMMAND --help`.
//
// Exit status: 0 success; 1 the operation failed ("bgsyncctl: <what>: <message>" on stderr); 2 usage error;
// 3 the browser cannot be reached (no RuntimeDirectory, or the admin socket refuses connections).
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "public/background_sync_error.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "public/origin.h"
#include "public/sync_tag.h"
#include "renderer/browser_channel.h"
#include "renderer/session_bootstrap.h"
#include "renderer/tag_encoding.h"
#include "tools/bgsyncctl/bgsyncctl_format.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

// How long an ordinary admin call may take. DispatchSyncEvent waits for the worker (the browser gives the event
// up to three minutes), and a followed log has no deadline.
constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr absl::Duration kDispatchTimeout = absl::Minutes(5);

constexpr char kGlobalFlagsHelp[] =
    "global flags (before or after the command's arguments):\n"
    "  --profile DIR        the browser's profile; its RuntimeDirectory file names the sockets' directory\n"
    "                       (default: $XDG_DATA_HOME/bgsync/Default, else ~/.local/share/bgsync/Default)\n"
    "  --admin-socket PATH  the admin socket itself (overrides --profile)\n"
    "  --json               machine-readable output: one JSON value (for `log`: one JSON object per line)\n"
    "  --help, -h           help for bgsyncctl or for the command\n";

// ---------------------------------------------------------------------------------------------------------------
// Command table and argument parsing.

class Cli;
struct Args;
using Handler = int (*)(Cli& cli, const Args& args);

struct Command {
  const char* name;                        // the command words, e.g. "sw install"
  const char* synopsis;                    // what follows them, e.g. "ORIGIN SCOPE -- COMMAND..."
  const char* summary;                     // one line
  const char* details;                     // flags and notes; "" when none
  std::vector<std::string> switches;       // boolean flags, e.g. "--iframe"
  std::vector<std::string> value_options;  // flags that take a value, e.g. "--output"
  size_t min_positional;
  size_t max_positional;
  bool takes_command;  // "-- COMMAND..." holds an argv (sw install)
  Handler run;
};

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> command;  // after "--", for commands that take one
  std::set<std::string> switches;
  std::map<std::string, std::vector<std::string>> values;

  bool Has(const std::string& flag) const { return switches.count(flag) > 0 || values.count(flag) > 0; }
  // The last value given for `flag`, or "" when it was not given.
  std::string Value(const std::string& flag) const {
    auto it = values.find(flag);
    return it == values.end() || it->second.empty() ? std::string() : it->second.back();
  }
  std::vector<std::string> Values(const std::string& flag) const {
    auto it = values.find(flag);
    return it == values.end() ? std::vector<std::string>() : it->second;
  }
};

struct Globals {
  std::string profile;
  std::string admin_socket;
  bool json = false;
};

// Returns the default profile directory, or "" when neither $XDG_DATA_HOME nor $HOME is set.
std::string DefaultProfile() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg)
    return absl::StrCat(xdg, "/bgsync/Default");
  if (home && *home)
    return absl::StrCat(home, "/.local/share/bgsync/Default");
  return "";
}

bool ParseId(const std::string& text, int64_t* id) {
  return absl::SimpleAtoi(text, id) && *id > 0;
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// A relative path means the caller's working directory, not the browser's: make it absolute.
std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/')
    return path;
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

// ---------------------------------------------------------------------------------------------------------------
// The connection to the browser and the helpers every command uses.

class Cli {
 public:
  Cli(Globals globals, const Command* command) : globals_(std::move(globals)), command_(command) {}

  bool json() const { return globals_.json; }
  const std::string& admin_socket_path() const { return admin_socket_; }
  admin::BrowserAdmin::Stub& admin() { return *admin_; }

  // "bgsyncctl: <command>: <message>" on stderr; returns kExitFailed.
  int Fail(absl::string_view message) const {
    std::fprintf(stderr, "bgsyncctl: %s: %s\n", command_->name, std::string(message).c_str());
    return kExitFailed;
  }

  // A usage error of the current command: the message, then its synopsis. Returns kExitUsage.
  // The usage error for an argument NAME that had to be a positive integer but was `text`.
  int NotAPositiveInteger(absl::string_view name, absl::string_view text) const {
    return Usage(absl::StrCat(name, " must be a positive integer, not \"", text, "\""));
  }

  int Usage(absl::string_view message) const {
    std::fprintf(stderr, "bgsyncctl: %s: %s\nusage: bgsyncctl %s %s\n(see `bgsyncctl %s --help`)\n", command_->name,
                 std::string(message).c_str(), command_->name, command_->synopsis, command_->name);
    return kExitUsage;
  }

  // Says the browser cannot be reached and how to start it. Returns kExitUnreachable.
  int Unreachable(absl::string_view message) const {
    std::fprintf(stderr, "bgsyncctl: cannot reach the browser: %s\n", std::string(message).c_str());
    if (globals_.admin_socket.empty()) {
      std::string profile_flag = globals_.profile.empty() ? "" : " --profile " + ShellJoin({profile_});
      std::fprintf(stderr, "bgsyncctl: is bgsync_browser running? start it with: bgsync_browser%s\n",
                   profile_flag.c_str());
    } else {
      std::fprintf(stderr, "bgsyncctl: is bgsync_browser running? start it with: bgsync_browser [--profile DIR]\n");
    }
    return kExitUnreachable;
  }

  // Finds the admin socket (--admin-socket, or <profile>/RuntimeDirectory), checks that it accepts connections
  // and makes the stub. Returns kExitOk, or kExitUnreachable after saying why.
  int Connect() {
    if (!globals_.admin_socket.empty()) {
      admin_socket_ = globals_.admin_socket;
    } else {
      profile_ = globals_.profile.empty() ? DefaultProfile() : globals_.profile;
      if (profile_.empty())
        return Unreachable("no profile: neither $XDG_DATA_HOME nor $HOME is set (use --profile or --admin-socket)");
      const std::string file = profile_ + "/RuntimeDirectory";
      std::ifstream in(file);
      std::stringstream text;
      text << in.rdbuf();
      std::string runtime(absl::StripAsciiWhitespace(text.str()));
      if (!in || runtime.empty())
        return Unreachable(absl::StrCat("no browser runs on the profile ", profile_, " (", file, " does not exist)"));
      admin_socket_ = runtime + "/admin.sock";
    }
    if (std::string error = ProbeSocket(admin_socket_); !error.empty())
      return Unreachable(error);

    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);  // a local socket: never through a proxy
    admin_channel_ = grpc::CreateCustomChannel("unix:" + admin_socket_, grpc::InsecureChannelCredentials(), arguments);
    admin_ = admin::BrowserAdmin::NewStub(admin_channel_);
    return kExitOk;
  }

  // Runs `call` on a fresh context with a deadline `timeout` away (none when infinite) and turns its status into
  // an exit code, having reported a failure.
  template <typename Call>
  int Rpc(Call call, absl::Duration timeout = kCallTimeout) {
    grpc::ClientContext context;
    if (timeout != absl::InfiniteDuration())
      context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return Check(call(&context), *admin_channel_);
  }

  // Turns a finished call's status into an exit code, reporting a failure. UNAVAILABLE on a channel that is no
  // longer connected means the browser went away (kExitUnreachable); every other error is the operation's.
  int Check(const grpc::Status& status, grpc::Channel& channel) const {
    if (status.ok())
      return kExitOk;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && channel.GetState(false) != GRPC_CHANNEL_READY)
      return Unreachable(absl::StrCat("lost the connection to ", admin_socket_, ": ", status.error_message()));
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      return Fail("the browser did not answer in time");
    return Fail(status.error_message().empty() ? CodeName(status.error_code()) : status.error_message());
  }

  // Reports a DOMException as a page would see it; in --json mode, also as {"error": {...}} on stdout.
  int FailWithDomException(BackgroundSyncError error) const {
    DomException exception = ToDomException(error);
    if (json()) {
      JsonObject object;
      object.Add("name", exception.name).Add("message", exception.message).Add("code", SyncErrorName(error));
      std::printf("%s\n", JsonObject().AddRaw("error", object.Serialize()).Serialize().c_str());
    }
    return Fail(absl::StrCat(exception.name, ": ", exception.message, " (", SyncErrorName(error), ")"));
  }

  // A session of a top-level window of an origin, opened through the admin endpoint: this process acts as a page.
  struct Page {
    uint64_t session_id = 0;
    std::string token;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> sync;
  };

  // Opens a window session for `origin`. Returns an exit code (having reported a failure).
  int OpenPage(const std::string& origin, Page* page) {
    admin::OpenSessionRequest request;
    request.set_origin(origin);
    request.set_client_type(admin::CLIENT_TYPE_WINDOW);
    admin::OpenSessionReply reply;
    if (int rc = Rpc([&](grpc::ClientContext* c) { return admin().OpenSession(c, request, &reply); }))
      return rc;
    page->session_id = reply.session_id();
    page->token = reply.token();
    SessionBootstrap bootstrap;
    bootstrap.socket_path = reply.socket_path();
    bootstrap.token = reply.token();
    page->channel = ConnectToBrowser(bootstrap);
    page->sync = mojom::OneShotBackgroundSyncService::NewStub(page->channel);
    return kExitOk;
  }

  // Ends a session opened with OpenPage. Failures are ignored: the browser revokes it when it exits anyway.
  void ClosePage(const Page& page) {
    admin::CloseSessionRequest request;
    request.set_session_id(page.session_id);
    admin::Empty reply;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    admin().CloseSession(&context, request, &reply).ok();
  }

  // A call on a page's session: the session token in the metadata, and the deadline of ordinary calls.
  template <typename Call>
  int PageRpc(const Page& page, Call call) {
    grpc::ClientContext context;
    AddSessionMetadata(context, page.token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    return Check(call(&context), *page.channel);
  }

  // Prints "ok" (or {"ok":true}) for a command that has nothing else to say.
  void PrintOk() const { std::printf("%s\n", json() ? "{\"ok\":true}" : "ok"); }

 private:
  // Connects to the unix socket at `path` and disconnects: "" if it accepts, else why not.
  static std::string ProbeSocket(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path))
      return absl::StrCat("the socket path ", path, " is too long");
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return absl::StrCat("socket: ", std::strerror(errno));
    int result = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    int error = errno;
    close(fd);
    if (result == 0)
      return "";
    if (error == ENOENT)
      return absl::StrCat(path, " does not exist (the browser exited?)");
    if (error == ECONNREFUSED)
      return absl::StrCat("connection to ", path, " refused (the browser exited?)");
    return absl::StrCat("cannot connect to ", path, ": ", std::strerror(error));
  }

  Globals globals_;
  const Command* command_;
  std::string profile_;
  std::string admin_socket_;
  std::shared_ptr<grpc::Channel> admin_channel_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

// Reads a TAG argument: literal bytes, or with --encoded the printed form (percent-encoding, `""` for empty).
bool ParseTagArgument(Cli& cli, const Args& args, const std::string& text, std::string* tag, int* rc) {
  if (!args.Has("--encoded")) {
    *tag = text;
    return true;
  }
  std::optional<std::string> decoded = ParseDisplayTag(text);
  if (!decoded) {
    *rc = cli.Usage(absl::StrCat("the tag \"", text, "\" is not percent-encoded (a '%' needs two hex digits)"));
    return false;
  }
  *tag = *std::move(decoded);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Service workers.

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
  if (int rc = cli.Connect())
    return rc;
  admin::ServiceWorkerInfo info;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().InstallServiceWorker(c, request, &info); }))
    return rc;
  if (cli.json()) {
    std::printf("%s\n", ServiceWorkerJson(info).c_str());
  } else {
    std::printf("%lld\n", static_cast<long long>(info.id()));
  }
  return kExitOk;
}

int SwActivate(Cli& cli, const Args& args) {
  admin::ServiceWorkerId request;
  int64_t id = 0;
  if (!ParseId(args.positional[0], &id))
    return cli.NotAPositiveInteger("ID", args.positional[0]);
  request.set_id(id);
  if (int rc = cli.Connect())
    return rc;
  admin::ServiceWorkerInfo info;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().ActivateServiceWorker(c, request, &info); }))
    return rc;
  if (cli.json()) {
    std::printf("%s\n", ServiceWorkerJson(info).c_str());
  } else {
    cli.PrintOk();
  }
  return kExitOk;
}

int SwUnregister(Cli& cli, const Args& args) {
  admin::ServiceWorkerId request;
  int64_t id = 0;
  if (!ParseId(args.positional[0], &id))
    return cli.NotAPositiveInteger("ID", args.positional[0]);
  request.set_id(id);
  if (int rc = cli.Connect())
    return rc;
  admin::Empty reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().UnregisterServiceWorker(c, request, &reply); }))
    return rc;
  cli.PrintOk();
  return kExitOk;
}

int SwList(Cli& cli, const Args&) {
  if (int rc = cli.Connect())
    return rc;
  admin::ServiceWorkerList list;
  if (int rc =
          cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().ListServiceWorkers(c, admin::Empty(), &list); }))
    return rc;
  if (cli.json()) {
    std::vector<std::string> rows;
    for (const admin::ServiceWorkerInfo& info : list.service_workers())
      rows.push_back(ServiceWorkerJson(info));
    std::printf("%s\n", JsonArray(rows).c_str());
    return kExitOk;
  }
  Table table({"ID", "ORIGIN", "SCOPE", "ACTIVE", "WORKER PID", "COMMAND"});
  for (const admin::ServiceWorkerInfo& info : list.service_workers()) {
    table.AddRow({absl::StrCat(info.id()), info.origin(), info.scope(), info.active() ? "yes" : "no",
                  info.worker_pid() ? absl::StrCat(info.worker_pid()) : "-",
                  ShellJoin({info.command().begin(), info.command().end()})});
  }
  std::printf("%s", table.Render().c_str());
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Windows and pages.

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
  if (int rc = cli.Connect())
    return rc;
  admin::OpenWindowReply reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().OpenWindow(c, request, &reply); }))
    return rc;
  if (cli.json()) {
    std::printf("%s\n", JsonObject().Add("pid", reply.pid()).Add("session_id", reply.session_id()).Serialize().c_str());
  } else {
    std::printf("pid %d session %llu\n", reply.pid(), static_cast<unsigned long long>(reply.session_id()));
  }
  return kExitOk;
}

int CloseWindow(Cli& cli, const Args& args) {
  int32_t pid = 0;
  if (!absl::SimpleAtoi(args.positional[0], &pid) || pid <= 0)
    return cli.NotAPositiveInteger("PID", args.positional[0]);
  admin::CloseWindowRequest request;
  request.set_pid(pid);
  if (int rc = cli.Connect())
    return rc;
  admin::Empty reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().CloseWindow(c, request, &reply); }))
    return rc;
  cli.PrintOk();
  return kExitOk;
}

int Register(Cli& cli, const Args& args) {
  const std::string& origin = args.positional[0];
  int64_t sw_id = 0;
  if (!ParseId(args.positional[1], &sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[1]);
  std::string tag;
  int rc = kExitOk;
  if (!ParseTagArgument(cli, args, args.positional[2], &tag, &rc))
    return rc;
  if (!IsWellFormedUtf8(tag))
    return cli.Usage("the tag is not well-formed UTF-8, which no page can send (the browser would revoke the session)");
  if ((rc = cli.Connect()))
    return rc;

  Cli::Page page;
  if ((rc = cli.OpenPage(origin, &page)))
    return rc;
  absl::Cleanup close_page = [&] { cli.ClosePage(page); };

  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw_id);
  request.mutable_options()->set_tag(tag);
  mojom::RegisterReply reply;
  if ((rc = cli.PageRpc(page, [&](grpc::ClientContext* c) { return page.sync->Register(c, request, &reply); })))
    return rc;
  if (reply.has_error())
    return cli.FailWithDomException(reply.error());

  // The page has its answer: the registration may fire now.
  mojom::DidResolveRegistrationRequest resolve;
  resolve.set_service_worker_registration_id(sw_id);
  resolve.set_tag(tag);
  mojom::DidResolveRegistrationReply resolved;
  if ((rc = cli.PageRpc(
           page, [&](grpc::ClientContext* c) { return page.sync->DidResolveRegistration(c, resolve, &resolved); })))
    return rc;
  if (cli.json()) {
    std::printf("%s\n", JsonObject().Add("ok", true).Add("tag", DisplayTag(tag)).Serialize().c_str());
  } else {
    std::printf("ok\n");
  }
  return kExitOk;
}

int Tags(Cli& cli, const Args& args) {
  const std::string& origin = args.positional[0];
  int64_t sw_id = 0;
  if (!ParseId(args.positional[1], &sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[1]);
  int rc = cli.Connect();
  if (rc)
    return rc;

  Cli::Page page;
  if ((rc = cli.OpenPage(origin, &page)))
    return rc;
  absl::Cleanup close_page = [&] { cli.ClosePage(page); };

  mojom::GetRegistrationsRequest request;
  request.set_service_worker_registration_id(sw_id);
  mojom::GetRegistrationsReply reply;
  if ((rc = cli.PageRpc(page, [&](grpc::ClientContext* c) { return page.sync->GetRegistrations(c, request, &reply); })))
    return rc;
  if (reply.has_error())
    return cli.FailWithDomException(reply.error());
  std::vector<std::string> tags;
  for (const mojom::SyncRegistrationOptions& registration : reply.registrations().registrations())
    tags.push_back(DisplayTag(registration.tag()));
  if (cli.json()) {
    std::vector<std::string> values;
    for (const std::string& tag : tags)
      values.push_back(JsonString(tag));
    std::printf("%s\n", JsonArray(values).c_str());
  } else {
    for (const std::string& tag : tags)
      std::printf("%s\n", tag.c_str());
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Network, permissions.

int SetNetworkMode(Cli& cli, admin::SetNetworkEmulationRequest::Mode mode) {
  admin::SetNetworkEmulationRequest request;
  request.set_mode(mode);
  if (int rc = cli.Connect())
    return rc;
  admin::Empty reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().SetNetworkEmulation(c, request, &reply); }))
    return rc;
  cli.PrintOk();
  return kExitOk;
}

int NetworkOffline(Cli& cli, const Args&) {
  return SetNetworkMode(cli, admin::SetNetworkEmulationRequest::MODE_OFFLINE);
}
int NetworkOnline(Cli& cli, const Args&) {
  return SetNetworkMode(cli, admin::SetNetworkEmulationRequest::MODE_ONLINE);
}
int NetworkAuto(Cli& cli, const Args&) {
  return SetNetworkMode(cli, admin::SetNetworkEmulationRequest::MODE_AUTO);
}

int EmulateServiceWorkerOffline(Cli& cli, const Args& args, bool offline) {
  int64_t sw_id = 0;
  if (!ParseId(args.positional[0], &sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[0]);
  admin::SetNetworkEmulationRequest request;
  request.set_service_worker_registration_id(sw_id);
  request.set_offline(offline);
  if (int rc = cli.Connect())
    return rc;
  admin::Empty reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().SetNetworkEmulation(c, request, &reply); }))
    return rc;
  cli.PrintOk();
  return kExitOk;
}

int NetworkEmulateOffline(Cli& cli, const Args& args) {
  return EmulateServiceWorkerOffline(cli, args, true);
}
int NetworkStopEmulating(Cli& cli, const Args& args) {
  return EmulateServiceWorkerOffline(cli, args, false);
}

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
  if (int rc = cli.Connect())
    return rc;
  admin::Empty reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().SetPermission(c, request, &reply); }))
    return rc;
  cli.PrintOk();
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Registrations, events, the log, status.

int Registrations(Cli& cli, const Args&) {
  if (int rc = cli.Connect())
    return rc;
  admin::RegistrationTable registrations;
  if (int rc = cli.Rpc(
          [&](grpc::ClientContext* c) { return cli.admin().ListRegistrations(c, admin::Empty(), &registrations); }))
    return rc;
  const absl::Time now = absl::Now();
  if (cli.json()) {
    std::vector<std::string> rows;
    for (const admin::Registration& r : registrations.registrations()) {
      rows.push_back(JsonObject()
                         .Add("origin", r.origin())
                         .Add("service_worker_registration_id", r.service_worker_registration_id())
                         .Add("tag", DisplayTag(r.tag()))
                         .Add("type", r.type())
                         .Add("state", r.state())
                         .Add("num_attempts", r.num_attempts())
                         .Add("max_attempts", r.max_attempts())
                         .Add("next_attempt_unix_ms", r.next_attempt_unix_ms())
                         .Add("next_attempt", FormatNextAttempt(r.next_attempt_unix_ms(), now))
                         .Add("last_failure", r.last_failure())
                         .Add("resolved", r.resolved())
                         .Serialize());
    }
    std::printf("%s\n", JsonArray(rows).c_str());
    return kExitOk;
  }
  Table table({"ORIGIN", "SW", "TAG", "TYPE", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST FAILURE"});
  for (const admin::Registration& r : registrations.registrations()) {
    table.AddRow({r.origin(), absl::StrCat(r.service_worker_registration_id()), DisplayTag(r.tag()), r.type(),
                  r.state(), absl::StrCat(r.num_attempts(), "/", r.max_attempts()),
                  FormatNextAttempt(r.next_attempt_unix_ms(), now), r.last_failure().empty() ? "-" : r.last_failure()});
  }
  std::printf("%s", table.Render().c_str());
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
  if ((rc = cli.Connect()))
    return rc;
  admin::DispatchSyncEventReply reply;
  if ((rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().DispatchSyncEvent(c, request, &reply); },
                    kDispatchTimeout)))
    return rc;
  const bool completed = reply.outcome() == "completed";
  if (cli.json()) {
    std::printf("%s\n", JsonObject().Add("outcome", reply.outcome()).Add("completed", completed).Serialize().c_str());
  } else {
    std::printf("%s\n", reply.outcome().c_str());
  }
  if (!completed)
    return cli.Fail(absl::StrCat("the ", request.periodic() ? "periodicsync" : "sync",
                                 " event did not complete: ", reply.outcome()));
  return kExitOk;
}

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

int Log(Cli& cli, const Args& args) {
  admin::StreamLogRequest request;
  request.set_follow(args.Has("--follow"));
  if (args.Has("--since")) {
    uint64_t since = 0;
    if (!absl::SimpleAtoi(args.Value("--since"), &since))
      return cli.Usage(absl::StrCat("--since takes a sequence number, not \"", args.Value("--since"), "\""));
    request.set_since_sequence(since);
  }
  if (int rc = cli.Connect())
    return rc;
  return cli.Rpc(
      [&](grpc::ClientContext* c) {
        std::unique_ptr<grpc::ClientReader<admin::LogEntry>> reader = cli.admin().StreamLog(c, request);
        admin::LogEntry entry;
        while (reader->Read(&entry)) {
          std::printf("%s\n", (cli.json() ? LogJson(entry) : LogLine(entry)).c_str());
          std::fflush(stdout);
        }
        return reader->Finish();
      },
      request.follow() ? absl::InfiniteDuration() : kCallTimeout);
}

int Status(Cli& cli, const Args&) {
  if (int rc = cli.Connect())
    return rc;
  admin::BrowserStatus status;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().GetStatus(c, admin::Empty(), &status); }))
    return rc;
  std::vector<std::string> workers;
  for (int64_t id : status.running_workers())
    workers.push_back(absl::StrCat(id));
  if (cli.json()) {
    std::printf("%s\n", JsonObject()
                            .Add("pid", status.pid())
                            .Add("profile", status.profile())
                            .Add("admin_socket", cli.admin_socket_path())
                            .Add("online", status.online())
                            .Add("network_emulation", status.network_emulation())
                            .AddRaw("running_workers", JsonArray(workers))
                            .Add("events_dispatched", status.events_dispatched())
                            .Add("bad_messages", status.bad_messages())
                            .Serialize()
                            .c_str());
    return kExitOk;
  }
  Table table({"pid", absl::StrCat(status.pid())});
  table.AddRow({"profile", status.profile()});
  table.AddRow({"admin socket", cli.admin_socket_path()});
  table.AddRow({"system network", status.online() ? "online" : "offline"});
  table.AddRow({"network emulation", status.network_emulation()});
  table.AddRow({"running workers", workers.empty() ? "none" : "sw " + absl::StrJoin(workers, ", ")});
  table.AddRow({"events dispatched", absl::StrCat(status.events_dispatched())});
  table.AddRow({"bad messages", absl::StrCat(status.bad_messages())});
  std::printf("%s", table.Render().c_str());
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting of the DevTools messages (over bgsyncctl_format.h).

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

std::string RecordingStateLine(const admin::RecordingState& state) {
  return FormatRecordingState(state.service_name(), state.recording(), state.expires_unix_ms(), absl::Now());
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

// ---------------------------------------------------------------------------------------------------------------
// Permissions and engagement.

int PermissionGet(Cli& cli, const Args& args) {
  admin::GetPermissionRequest request;
  request.set_origin(args.positional[0]);
  request.set_periodic(args.Has("--periodic"));
  if (int rc = cli.Connect())
    return rc;
  admin::PermissionReply reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().GetPermission(c, request, &reply); }))
    return rc;
  if (cli.json()) {
    std::printf("%s\n", JsonObject()
                            .Add("origin", reply.origin())
                            .Add("permission", reply.periodic() ? "periodic-background-sync" : "background-sync")
                            .Add("status", reply.status())
                            .Serialize()
                            .c_str());
  } else {
    std::printf("%s\n", reply.status().c_str());
  }
  return kExitOk;
}

std::string EngagementJson(const admin::EngagementReply& reply) {
  return JsonObject()
      .Add("origin", reply.origin())
      .Add("level", reply.level_name())
      .Add("default", reply.is_default())
      .Serialize();
}

int EngagementGet(Cli& cli, const Args& args) {
  admin::GetEngagementRequest request;
  request.set_origin(args.positional[0]);
  if (int rc = cli.Connect())
    return rc;
  admin::EngagementReply reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().GetEngagement(c, request, &reply); }))
    return rc;
  if (cli.json()) {
    std::printf("%s\n", EngagementJson(reply).c_str());
  } else {
    std::printf("%s%s\n", reply.level_name().c_str(), reply.is_default() ? " (default)" : "");
  }
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
  if (int rc = cli.Connect())
    return rc;
  admin::EngagementReply reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().SetEngagement(c, request, &reply); }))
    return rc;
  if (cli.json()) {
    std::printf("%s\n", EngagementJson(reply).c_str());
  } else {
    cli.PrintOk();
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Periodic sync, as a page: one renderer command in a window of the origin.

// Opens a window of `origin` (bgsync_renderer_host) whose script is the one renderer command `line`, and waits for
// its answer line ("ok", "tags ..." or "error <Name> <message>"). Returns an exit code, having reported a failure.
int RunRendererCommand(Cli& cli, const std::string& origin, const std::string& line, std::string* answer) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string output = absl::StrCat(tmpdir && *tmpdir ? tmpdir : "/tmp", "/bgsyncctl-page-XXXXXX");
  const int fd = mkstemp(output.data());
  if (fd < 0)
    return cli.Fail(absl::StrCat("cannot create a temporary file: ", std::strerror(errno)));
  close(fd);
  absl::Cleanup remove_output = [&] { std::remove(output.c_str()); };

  admin::OpenWindowRequest request;
  request.set_origin(origin);
  request.set_client_type(admin::CLIENT_TYPE_WINDOW);
  request.add_script(line);
  request.set_output_path(output);
  admin::OpenWindowReply reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().OpenWindow(c, request, &reply); }))
    return rc;

  // The renderer answers, then exits at the end of its script. Its output may also hold diagnostics (stderr).
  auto find_answer = [&]() {
    std::ifstream in(output);
    std::string text;
    while (std::getline(in, text)) {
      const std::string first = text.substr(0, text.find(' '));
      if (first == "ok" || first == "tags" || first == "error") {
        *answer = text;
        return true;
      }
    }
    return false;
  };
  const absl::Time deadline = absl::Now() + kCallTimeout;
  while (!find_answer()) {
    if (kill(reply.pid(), 0) != 0 && errno == ESRCH) {
      if (find_answer())
        break;
      return cli.Fail(absl::StrCat("the renderer (pid ", reply.pid(), ") exited without answering"));
    }
    if (absl::Now() > deadline)
      return cli.Fail(absl::StrCat("the renderer (pid ", reply.pid(), ") did not answer in time"));
    absl::SleepFor(absl::Milliseconds(10));
  }
  return kExitOk;
}

// Turns a renderer's "error <Name> <message>" answer into bgsyncctl's failure (and its JSON form).
int FailWithRendererError(Cli& cli, absl::string_view answer) {
  absl::string_view rest = answer.substr(std::min(answer.size(), absl::string_view("error ").size()));
  const size_t space = rest.find(' ');
  const std::string name(rest.substr(0, space));
  const std::string message(space == absl::string_view::npos ? "" : rest.substr(space + 1));
  if (cli.json()) {
    std::printf("%s\n", JsonObject()
                            .AddRaw("error", JsonObject().Add("name", name).Add("message", message).Serialize())
                            .Serialize()
                            .c_str());
  }
  return cli.Fail(absl::StrCat(name, ": ", message));
}

// The SW_ID and TAG arguments of the periodic commands, checked as `register` checks them.
int PeriodicTarget(Cli& cli, const Args& args, int64_t* sw_id, std::string* tag) {
  if (!ParseId(args.positional[1], sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[1]);
  int rc = kExitOk;
  if (!ParseTagArgument(cli, args, args.positional[2], tag, &rc))
    return rc;
  if (!IsWellFormedUtf8(*tag))
    return cli.Usage("the tag is not well-formed UTF-8, which no page can send (the browser would revoke the session)");
  return kExitOk;
}

int PeriodicRegister(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  std::string tag;
  if (int rc = PeriodicTarget(cli, args, &sw_id, &tag))
    return rc;
  int64_t min_interval_ms = 0;
  if (args.Has("--min-interval") &&
      (!absl::SimpleAtoi(args.Value("--min-interval"), &min_interval_ms) || min_interval_ms < 0)) {
    return cli.Usage(absl::StrCat("--min-interval takes milliseconds (an integer >= 0), not \"",
                                  args.Value("--min-interval"), "\""));
  }
  if (int rc = cli.Connect())
    return rc;
  std::string answer;
  if (int rc = RunRendererCommand(
          cli, args.positional[0],
          absl::StrCat("periodic-register ", sw_id, " ", PercentEncodeTag(tag), " ", min_interval_ms), &answer))
    return rc;
  if (answer != "ok")
    return FailWithRendererError(cli, answer);
  if (cli.json()) {
    std::printf("%s\n", JsonObject()
                            .Add("ok", true)
                            .Add("tag", DisplayTag(tag))
                            .Add("min_interval_ms", min_interval_ms)
                            .Serialize()
                            .c_str());
  } else {
    std::printf("ok\n");
  }
  return kExitOk;
}

int PeriodicUnregister(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  std::string tag;
  if (int rc = PeriodicTarget(cli, args, &sw_id, &tag))
    return rc;
  if (int rc = cli.Connect())
    return rc;
  std::string answer;
  if (int rc = RunRendererCommand(cli, args.positional[0],
                                  absl::StrCat("periodic-unregister ", sw_id, " ", PercentEncodeTag(tag)), &answer))
    return rc;
  if (answer != "ok")
    return FailWithRendererError(cli, answer);
  cli.PrintOk();
  return kExitOk;
}

int PeriodicTags(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  if (!ParseId(args.positional[1], &sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[1]);
  if (int rc = cli.Connect())
    return rc;
  std::string answer;
  if (int rc = RunRendererCommand(cli, args.positional[0], absl::StrCat("periodic-tags ", sw_id), &answer))
    return rc;
  if (answer != "tags" && !absl::StartsWith(answer, "tags "))
    return FailWithRendererError(cli, answer);
  std::vector<std::string> tags;
  // "tags" then one token per tag; an empty tag is an empty token.
  std::vector<std::string> tokens = absl::StrSplit(answer, ' ');
  for (size_t i = 1; i < tokens.size(); ++i) {
    std::optional<std::string> tag = PercentDecodeTag(tokens[i]);
    if (!tag)
      return cli.Fail(absl::StrCat("the renderer answered a malformed tag: \"", tokens[i], "\""));
    tags.push_back(DisplayTag(*tag));
  }
  if (cli.json()) {
    std::vector<std::string> values;
    for (const std::string& tag : tags)
      values.push_back(JsonString(tag));
    std::printf("%s\n", JsonArray(values).c_str());
  } else {
    for (const std::string& tag : tags)
      std::printf("%s\n", tag.c_str());
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Why (explanations) and metrics.

std::string RegistrationJson(const admin::Registration& r, absl::Time now) {
  return JsonObject()
      .Add("origin", r.origin())
      .Add("service_worker_registration_id", r.service_worker_registration_id())
      .Add("tag", DisplayTag(r.tag()))
      .Add("type", r.type())
      .Add("state", r.state())
      .Add("num_attempts", r.num_attempts())
      .Add("max_attempts", r.max_attempts())
      .Add("next_attempt_unix_ms", r.next_attempt_unix_ms())
      .Add("next_attempt", FormatNextAttempt(r.next_attempt_unix_ms(), now))
      .Add("last_failure", r.last_failure())
      .Add("resolved", r.resolved())
      .Add("min_interval_ms", r.min_interval_ms())
      .Serialize();
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
  if (int rc = cli.Connect())
    return rc;
  admin::RegistrationTable table;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) {
        return all ? cli.admin().ExplainAll(c, admin::Empty(), &table) : cli.admin().Explain(c, request, &table);
      }))
    return rc;
  const absl::Time now = absl::Now();
  std::vector<admin::Registration> rows;
  for (const admin::Registration& r : table.registrations()) {
    if (all &&
        ((request.service_worker_registration_id() != 0 &&
          r.service_worker_registration_id() != request.service_worker_registration_id()) ||
         (args.Has("--periodic") && r.type() != "periodic") || (args.Has("--one-shot") && r.type() != "one-shot"))) {
      continue;
    }
    rows.push_back(r);
  }
  if (cli.json()) {
    std::vector<std::string> values;
    for (const admin::Registration& r : rows) {
      std::string object = RegistrationJson(r, now);
      object.pop_back();  // extend the object
      values.push_back(absl::StrCat(object, ",",
                                    JsonObject()
                                        .Add("reason", r.reason())
                                        .Add("until_unix_ms", r.until_unix_ms())
                                        .Add("explanation", r.explanation())
                                        .Add("sentence", WhySentence(r, now))
                                        .Serialize()
                                        .substr(1)));
    }
    std::printf("%s\n", JsonArray(values).c_str());
  } else {
    for (const admin::Registration& r : rows)
      std::printf("%s\n", WhySentence(r, now).c_str());
  }
  if (rows.empty() && !all) {
    return cli.Fail(absl::StrCat("no registration of ", request.origin(), " has the tag ", DisplayTag(request.tag()),
                                 args.Has("--sw") || args.Has("--periodic") || args.Has("--one-shot")
                                     ? " (with the given --sw/--periodic/--one-shot)"
                                     : ""));
  }
  return kExitOk;
}

int Metrics(Cli& cli, const Args&) {
  if (int rc = cli.Connect())
    return rc;
  admin::MetricsReply reply;
  if (int rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().GetMetrics(c, admin::Empty(), &reply); }))
    return rc;
  if (cli.json()) {
    std::vector<std::string> values;
    for (const admin::Histogram& h : reply.histograms()) {
      std::vector<std::string> buckets;
      for (const admin::HistogramBucket& b : h.buckets())
        buckets.push_back(JsonObject().Add("label", b.label()).Add("count", b.count()).Serialize());
      values.push_back(JsonObject()
                           .Add("name", h.name())
                           .Add("kind", h.kind())
                           .Add("count", h.count())
                           .Add("sum", h.sum())
                           .Add("min", h.min())
                           .Add("max", h.max())
                           .AddRaw("buckets", JsonArray(buckets))
                           .Serialize());
    }
    std::printf("%s\n", JsonArray(values).c_str());
    return kExitOk;
  }
  Table table({"NAME", "COUNT", "SUM", "MIN", "MAX", "BUCKETS"});
  for (const admin::Histogram& h : reply.histograms()) {
    std::vector<std::string> buckets;
    for (const admin::HistogramBucket& b : h.buckets())
      buckets.push_back(absl::StrCat(b.label(), "=", b.count()));
    const bool value = h.kind() == "value";
    table.AddRow({h.name(), absl::StrCat(h.count()), value ? absl::StrCat(h.sum()) : "-",
                  value ? absl::StrCat(h.min()) : "-", value ? absl::StrCat(h.max()) : "-",
                  absl::StrJoin(buckets, " ")});
  }
  std::printf("%s", table.Render().c_str());
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// DevTools recording (BackgroundService): log start|stop|clear|state|show.

// The services --service names (both when it is not given). Returns false after a usage error.
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

std::string RecordingStateJson(const admin::RecordingState& state) {
  return JsonObject()
      .Add("service", state.service_name())
      .Add("recording", state.recording())
      .Add("started_unix_ms", state.started_unix_ms())
      .Add("expires_unix_ms", state.expires_unix_ms())
      .Serialize();
}

int LogSetRecording(Cli& cli, const Args& args, bool start) {
  std::vector<admin::BackgroundService> services;
  int rc = kExitOk;
  if (!ServicesArgument(cli, args, &services, &rc))
    return rc;
  if ((rc = cli.Connect()))
    return rc;
  std::vector<std::string> json;
  for (admin::BackgroundService service : services) {
    admin::BackgroundServiceRequest request;
    request.set_service(service);
    admin::RecordingState state;
    if ((rc = cli.Rpc([&](grpc::ClientContext* c) {
          return start ? cli.admin().StartRecording(c, request, &state) : cli.admin().StopRecording(c, request, &state);
        })))
      return rc;
    json.push_back(RecordingStateJson(state));
    if (!cli.json())
      std::printf("%s\n", RecordingStateLine(state).c_str());
  }
  if (cli.json())
    std::printf("%s\n", JsonArray(json).c_str());
  return kExitOk;
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
  if ((rc = cli.Connect()))
    return rc;
  for (admin::BackgroundService service : services) {
    admin::BackgroundServiceRequest request;
    request.set_service(service);
    admin::Empty reply;
    if ((rc = cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().ClearEvents(c, request, &reply); })))
      return rc;
  }
  cli.PrintOk();
  return kExitOk;
}

int LogState(Cli& cli, const Args&) {
  if (int rc = cli.Connect())
    return rc;
  admin::RecordingStateList states;
  if (int rc =
          cli.Rpc([&](grpc::ClientContext* c) { return cli.admin().GetRecordingState(c, admin::Empty(), &states); }))
    return rc;
  if (cli.json()) {
    std::vector<std::string> json;
    for (const admin::RecordingState& state : states.states())
      json.push_back(RecordingStateJson(state));
    std::printf("%s\n", JsonArray(json).c_str());
    return kExitOk;
  }
  for (const admin::RecordingState& state : states.states())
    std::printf("%s\n", RecordingStateLine(state).c_str());
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
  if (int rc = cli.Connect())
    return rc;
  return cli.Rpc(
      [&](grpc::ClientContext* c) {
        std::unique_ptr<grpc::ClientReader<admin::BackgroundServiceUpdate>> reader =
            cli.admin().GetBackgroundServiceEvents(c, request);
        admin::BackgroundServiceUpdate update;
        while (reader->Read(&update)) {
          if (update.has_event()) {
            std::printf("%s\n", (cli.json() ? BackgroundServiceEventJson(update.event())
                                            : BackgroundServiceEventLine(update.event()))
                                    .c_str());
          } else if (update.has_recording_state()) {
            if (cli.json()) {
              std::printf("%s\n", JsonObject()
                                      .AddRaw("recording_state", RecordingStateJson(update.recording_state()))
                                      .Serialize()
                                      .c_str());
            } else {
              std::printf("%s\n", RecordingStateLine(update.recording_state()).c_str());
            }
          }
          std::fflush(stdout);
        }
        return reader->Finish();
      },
      request.follow() ? absl::InfiniteDuration() : kCallTimeout);
}

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
