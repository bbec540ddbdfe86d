// The commands that use the page-facing API as a page of an origin would: `register` and `tags` make the calls
// themselves on a window session opened through the admin endpoint; the `periodic` commands run one command in a
// renderer window (bgsync_renderer_host), so that the renderer's own checks apply.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "public/background_sync_error.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "public/sync_tag.h"
#include "renderer/browser_channel.h"
#include "renderer/session_bootstrap.h"
#include "renderer/tag_encoding.h"
#include "tools/bgsyncctl/bgsyncctl_commands.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

using SyncStub = mojom::OneShotBackgroundSyncService::Stub;

// A session of a top-level window of an origin, opened through the admin endpoint: this process acts as a page.
struct Page {
  uint64_t session_id = 0;
  std::string token;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<SyncStub> sync;
};

// Opens a window session for `origin`, runs `use(page)` (which returns an exit status) and ends the session.
// Failures to end it are ignored: the browser revokes it when it exits anyway.
template <typename Use>
int WithPage(Cli& cli, const std::string& origin, Use use) {
  admin::OpenSessionRequest request;
  request.set_origin(origin);
  request.set_client_type(admin::CLIENT_TYPE_WINDOW);
  admin::OpenSessionReply reply;
  if (int rc = cli.Call(&Cli::Stub::OpenSession, request, &reply))
    return rc;
  Page page;
  page.session_id = reply.session_id();
  page.token = reply.token();
  SessionBootstrap bootstrap;
  bootstrap.socket_path = reply.socket_path();
  bootstrap.token = reply.token();
  page.channel = ConnectToBrowser(bootstrap);
  page.sync = mojom::OneShotBackgroundSyncService::NewStub(page.channel);
  absl::Cleanup close_page = [&] {
    admin::CloseSessionRequest close;
    close.set_session_id(page.session_id);
    admin::Empty closed;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    cli.admin().CloseSession(&context, close, &closed).ok();
  };
  return use(page);
}

// Calls `method` of the page's OneShotBackgroundSyncService with `request`, filling `reply`: the session token in
// the metadata, and the deadline of ordinary calls.
template <typename Request, typename Reply>
int PageCall(Cli& cli,
             const Page& page,
             grpc::Status (SyncStub::*method)(grpc::ClientContext*, const Request&, Reply*),
             const Request& request,
             Reply* reply) {
  grpc::ClientContext context;
  AddSessionMetadata(context, page.token);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  return cli.Check(((*page.sync).*method)(&context, request, reply), *page.channel);
}

// Reports an exception as a page would see it: "Name: message", with " (CODE)" for a BackgroundSyncError's code;
// in --json mode, also as {"error": {"name", "message"[, "code"]}} on stdout.
int FailWithException(Cli& cli,
                      const std::string& name,
                      const std::string& message,
                      std::optional<absl::string_view> code = std::nullopt) {
  if (cli.json()) {
    JsonObject object;
    object.Add("name", name).Add("message", message);
    if (code)
      object.Add("code", *code);
    std::printf("%s\n", JsonObject().AddRaw("error", object.Serialize()).Serialize().c_str());
  }
  return cli.Fail(absl::StrCat(name, ": ", message, code ? absl::StrCat(" (", *code, ")") : ""));
}

int FailWithDomException(Cli& cli, BackgroundSyncError error) {
  DomException exception = ToDomException(error);
  return FailWithException(cli, exception.name, exception.message, SyncErrorName(error));
}

// The SW_ID and TAG arguments (after ORIGIN), checked as a page's would be. Returns an exit status.
int ParseSwIdAndTag(Cli& cli, const Args& args, int64_t* sw_id, std::string* tag) {
  if (!ParseId(args.positional[1], sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[1]);
  int rc = kExitOk;
  if (!ParseTagArgument(cli, args, args.positional[2], tag, &rc))
    return rc;
  if (!IsWellFormedUtf8(*tag))
    return cli.Usage("the tag is not well-formed UTF-8, which no page can send (the browser would revoke the session)");
  return kExitOk;
}

// Prints tags (already in DisplayTag form): a JSON array of strings, or one per line.
void PrintTags(Cli& cli, const std::vector<std::string>& tags) {
  std::vector<std::string> values;
  for (const std::string& tag : tags)
    values.push_back(JsonString(tag));
  cli.PrintLines(values, tags);
}

// Opens a window of `origin` (bgsync_renderer_host) whose script is the one renderer command `line`, and waits for
// its answer line ("ok", "tags ..." or "error <Name> <message>"). Returns an exit status.
int RunRendererCommand(Cli& cli, const std::string& origin, const std::string& line, std::string* answer) {
  if (int rc = cli.Connect())
    return rc;
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
  if (int rc = cli.Call(&Cli::Stub::OpenWindow, request, &reply))
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

// Turns a renderer's "error <Name> <message>" answer into bgsyncctl's failure.
int FailWithRendererError(Cli& cli, absl::string_view answer) {
  absl::string_view rest = answer.substr(std::min(answer.size(), absl::string_view("error ").size()));
  const size_t space = rest.find(' ');
  return FailWithException(cli, std::string(rest.substr(0, space)),
                           std::string(space == absl::string_view::npos ? "" : rest.substr(space + 1)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// One-shot sync, as a page: the calls made here.

int Register(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  std::string tag;
  if (int rc = ParseSwIdAndTag(cli, args, &sw_id, &tag))
    return rc;
  return WithPage(cli, args.positional[0], [&](const Page& page) {
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(sw_id);
    request.mutable_options()->set_tag(tag);
    mojom::RegisterReply reply;
    if (int rc = PageCall(cli, page, &SyncStub::Register, request, &reply))
      return rc;
    if (reply.has_error())
      return FailWithDomException(cli, reply.error());

    // The page has its answer: the registration may fire now.
    mojom::DidResolveRegistrationRequest resolve;
    resolve.set_service_worker_registration_id(sw_id);
    resolve.set_tag(tag);
    mojom::DidResolveRegistrationReply resolved;
    if (int rc = PageCall(cli, page, &SyncStub::DidResolveRegistration, resolve, &resolved))
      return rc;
    cli.PrintLine(JsonObject().Add("ok", true).Add("tag", DisplayTag(tag)).Serialize(), "ok");
    return kExitOk;
  });
}

int Tags(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  if (!ParseId(args.positional[1], &sw_id))
    return cli.NotAPositiveInteger("SW_ID", args.positional[1]);
  return WithPage(cli, args.positional[0], [&](const Page& page) {
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(sw_id);
    mojom::GetRegistrationsReply reply;
    if (int rc = PageCall(cli, page, &SyncStub::GetRegistrations, request, &reply))
      return rc;
    if (reply.has_error())
      return FailWithDomException(cli, reply.error());
    std::vector<std::string> tags;
    for (const mojom::SyncRegistrationOptions& registration : reply.registrations().registrations())
      tags.push_back(DisplayTag(registration.tag()));
    PrintTags(cli, tags);
    return kExitOk;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Periodic sync, as a page: one renderer command in a window of the origin.

int PeriodicRegister(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  std::string tag;
  if (int rc = ParseSwIdAndTag(cli, args, &sw_id, &tag))
    return rc;
  int64_t min_interval_ms = 0;
  if (args.Has("--min-interval") &&
      (!absl::SimpleAtoi(args.Value("--min-interval"), &min_interval_ms) || min_interval_ms < 0)) {
    return cli.Usage(absl::StrCat("--min-interval takes milliseconds (an integer >= 0), not \"",
                                  args.Value("--min-interval"), "\""));
  }
  std::string answer;
  if (int rc = RunRendererCommand(
          cli, args.positional[0],
          absl::StrCat("periodic-register ", sw_id, " ", PercentEncodeTag(tag), " ", min_interval_ms), &answer))
    return rc;
  if (answer != "ok")
    return FailWithRendererError(cli, answer);
  cli.PrintLine(
      JsonObject().Add("ok", true).Add("tag", DisplayTag(tag)).Add("min_interval_ms", min_interval_ms).Serialize(),
      "ok");
  return kExitOk;
}

int PeriodicUnregister(Cli& cli, const Args& args) {
  int64_t sw_id = 0;
  std::string tag;
  if (int rc = ParseSwIdAndTag(cli, args, &sw_id, &tag))
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
  PrintTags(cli, tags);
  return kExitOk;
}

}  // namespace bgsyncctl
}  // namespace bgsync
