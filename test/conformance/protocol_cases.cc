// Errors as a page sees them (the browser's own renderer, chromium.md's table), the registration quota (spec.md
// decision 6) and the wire protocol's session rules (public/README.md: sessions, bad messages).
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "public/background_sync_error.h"
#include "test/conformance/case_run.h"
#include "test/conformance/conformance_areas.h"

namespace bgsync::conformance {
namespace {

using E = mojom::BackgroundSyncError;

// Opens a renderer window (or iframe) of `origin` through the admin endpoint, running `script`; returns its
// answer lines once there is one per command.
std::vector<std::string> RunRenderer(CaseRun& run,
                                     const std::string& origin,
                                     admin::ClientType type,
                                     const std::vector<std::string>& script) {
  static std::atomic<int> windows{0};
  const std::string output =
      absl::StrCat(run.context().scratch_directory, "/renderer-", ::getpid(), "-", windows.fetch_add(1), ".out");
  std::filesystem::remove(output);
  admin::OpenWindowRequest request;
  request.set_origin(origin);
  request.set_client_type(type);
  for (const std::string& line : script)
    request.add_script(line);
  request.set_output_path(output);
  admin::OpenWindowReply reply;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = run.admin().OpenWindow(&context, request, &reply);
  if (!run.Check(status.ok(), "admin OpenWindow to launch a renderer", status.error_message()))
    return {};
  run.Observe(absl::StrCat("renderer ", type == admin::CLIENT_TYPE_IFRAME ? "iframe" : "window", " of ", origin,
                           " (pid ", reply.pid(), ") runs ", script.size(), " commands"));
  std::vector<std::string> lines;
  run.Eventually("the renderer to answer every command", [&] {
    lines = absl::StrSplit(ReadWholeFile(output), '\n', absl::SkipEmpty());
    return lines.size() >= script.size();
  });
  for (const std::string& line : lines)
    run.Observe("  renderer: " + (line.size() > 120 ? line.substr(0, 120) + "..." : line));
  return lines;
}

// The renderer's answer to a command the browser refused with `error`: "error <Name> <message>" as chromium.md's
// table says.
void CheckPageError(CaseRun& run, const std::vector<std::string>& lines, size_t i, E error) {
  const DomException dom = ToDomException(error);
  const std::string expected = absl::StrCat("error ", dom.name, " ", dom.message);
  if (!run.Check(i < lines.size(), absl::StrCat("an answer to command ", i + 1)))
    return;
  run.Check(lines[i] == expected,
            absl::StrCat("the page to see ", dom.name, " \"", dom.message, "\" for ", SyncErrorName(error)), lines[i]);
  // And the renderer's mapping is chromium.md's (CheckError compares ToDomException with the table).
  run.CheckError(error, error, "the renderer mapping");
}

void PageSeesDomExceptions(CaseRun& run) {
  const std::string origin = run.NewOrigin("page");
  const std::string denied = run.NewOrigin("pagedenied");
  const std::string framed = run.NewOrigin("pageframed");
  std::optional<Worker> inactive = run.InstallWorker(origin, {}, /*activate=*/false);
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  std::optional<Worker> denied_sw = run.InstallWorker(denied, {});
  std::optional<Worker> framed_sw = run.InstallWorker(framed, {});
  if (!inactive || !sw || !denied_sw || !framed_sw)
    return;
  run.EmulateOffline(sw->id, true);
  run.SetPermission(denied, /*periodic=*/false, admin::SetPermissionRequest::SETTING_DENIED);
  const std::string id = absl::StrCat(sw->id);
  std::vector<std::string> lines = RunRenderer(
      run, origin, admin::CLIENT_TYPE_WINDOW,
      {absl::StrCat("register ", inactive->id, " outbox"), absl::StrCat("register ", sw->id + 1000000, " outbox"),
       absl::StrCat("register ", id, " ", std::string(10241, 'a')),
       absl::StrCat("periodic-register ", id, " news 1000"), absl::StrCat("register ", id, " outbox")});
  CheckPageError(run, lines, 0, E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER);
  CheckPageError(run, lines, 1, E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  CheckPageError(run, lines, 2, E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  CheckPageError(run, lines, 3, E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  run.Check(lines.size() > 4 && lines[4] == "ok", "the page's valid register to succeed",
            lines.size() > 4 ? lines[4] : "no answer");
  lines = RunRenderer(run, denied, admin::CLIENT_TYPE_WINDOW, {absl::StrCat("register ", denied_sw->id, " outbox")});
  CheckPageError(run, lines, 0, E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  lines = RunRenderer(run, framed, admin::CLIENT_TYPE_IFRAME, {absl::StrCat("register ", framed_sw->id, " outbox")});
  CheckPageError(run, lines, 0, E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW);
}

void QuotaPerServiceWorker(CaseRun& run) {
  const int quota = run.parameters().max_registrations_per_service_worker;
  const std::string origin = run.NewOrigin("quota");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.EmulateOffline(sw->id, true))
    return;
  Page& page = run.OpenPage(origin);
  // Fill the quota from several threads (unacknowledged: nothing may fire).
  constexpr int kThreads = 8;
  std::atomic<int> next{0};
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = next.fetch_add(1); i < quota; i = next.fetch_add(1)) {
        grpc::ClientContext context;
        run.Authenticate(context, page);
        mojom::RegisterRequest request;
        request.set_service_worker_registration_id(sw->id);
        request.mutable_options()->set_tag(absl::StrCat("q-", i));
        mojom::RegisterReply reply;
        if (page.one_shot->Register(&context, request, &reply).ok() && reply.has_registration())
          succeeded.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  run.Observe(absl::StrCat("registered ", succeeded.load(), " of ", quota, " tags from ", kThreads, " threads"));
  if (!run.Check(succeeded.load() == quota, absl::StrCat("all ", quota, " registers within the quota to succeed"),
                 absl::StrCat(succeeded.load())))
    return;
  run.CheckError(run.Register(page, sw->id, "one-more", /*acknowledge=*/false),
                 E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  run.CheckRegistered(run.Register(page, sw->id, "q-0", /*acknowledge=*/false), "q-0");
  run.SetPermission(origin, /*periodic=*/true, admin::SetPermissionRequest::SETTING_GRANTED);
  run.CheckError(run.PeriodicRegister(page, sw->id, "news", 3600000), E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  const size_t tags = TagsOf(run.GetTags(page, sw->id)).size();
  run.Check(tags == static_cast<size_t>(quota), absl::StrCat("getTags to list the ", quota, " registrations"),
            absl::StrCat(tags));
}

grpc::StatusCode RegisterCode(CaseRun& run, Page& page, mojom::RegisterRequest request, bool periodic) {
  grpc::ClientContext context;
  run.Authenticate(context, page);
  mojom::RegisterReply reply;
  grpc::Status status = periodic ? page.periodic->Register(&context, request, &reply)
                                 : page.one_shot->Register(&context, request, &reply);
  run.Observe(absl::StrCat("  -> ", status.ok() ? DescribeReply(reply) : absl::StrCat("code ", status.error_code())));
  return status.error_code();
}

void BadMessagesEndTheSession(CaseRun& run) {
  const std::string origin = run.NewOrigin("bad");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.EmulateOffline(sw->id, true))
    return;
  const int64_t before = run.BadMessages();
  struct Bad {
    std::string what;
    mojom::RegisterRequest request;
    bool periodic;
  };
  std::vector<Bad> bad(4);
  bad[0].what = "a tag that is not UTF-8";
  bad[0].request.set_service_worker_registration_id(sw->id);
  bad[0].request.mutable_options()->set_tag("\xff\xfe");
  bad[1].what = "a one-shot register with a min_interval_ms";
  bad[1].request.set_service_worker_registration_id(sw->id);
  bad[1].request.mutable_options()->set_tag("outbox");
  bad[1].request.mutable_options()->set_min_interval_ms(1000);
  bad[2].what = "a service-worker registration id of 0";
  bad[2].request.mutable_options()->set_tag("outbox");
  bad[3].what = "a periodic register with a negative interval";
  bad[3].request.set_service_worker_registration_id(sw->id);
  bad[3].request.mutable_options()->set_tag("news");
  bad[3].request.mutable_options()->set_min_interval_ms(-1);
  bad[3].periodic = true;
  for (size_t i = 0; i < bad.size(); ++i) {
    Page& page = run.OpenPage(origin);
    run.Observe("send " + bad[i].what);
    run.Check(RegisterCode(run, page, bad[i].request, bad[i].periodic) == grpc::StatusCode::INVALID_ARGUMENT,
              "INVALID_ARGUMENT for " + bad[i].what);
    run.Check(run.BadMessages() == before + static_cast<int64_t>(i) + 1, "the bad message counted",
              absl::StrCat(run.BadMessages() - before, " counted"));
    mojom::RegisterRequest honest;
    honest.set_service_worker_registration_id(sw->id);
    honest.mutable_options()->set_tag("outbox");
    run.Observe("then an honest register on the same session");
    run.Check(RegisterCode(run, page, honest, false) == grpc::StatusCode::UNAUTHENTICATED,
              "UNAUTHENTICATED after " + bad[i].what + " (the session was revoked)");
  }
  run.Check(run.Registrations(sw->id).empty(), "nothing stored", Join(Describe(run.Registrations(sw->id))));
}

void CallsNeedASession(CaseRun& run) {
  const std::string origin = run.NewOrigin("nosession");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw || !run.EmulateOffline(sw->id, true))
    return;
  Page& page = run.OpenPage(origin);
  if (!page.one_shot)
    return;
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw->id);
  request.mutable_options()->set_tag("outbox");
  auto code = [&](const std::string& token, bool with_token) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    if (with_token)
      context.AddMetadata("bgsync-session", token);
    mojom::RegisterReply reply;
    return page.one_shot->Register(&context, request, &reply).error_code();
  };
  run.Check(code("", false) == grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED without a session token");
  run.Check(code(std::string(64, '0'), true) == grpc::StatusCode::UNAUTHENTICATED,
            "UNAUTHENTICATED with a token the browser never minted");
  const std::string token = page.token;
  run.ClosePage(page);
  run.Check(code(token, true) == grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED with a closed session's token");
  run.Check(run.Registrations(sw->id).empty(), "nothing stored");
}

}  // namespace

std::vector<ConformanceCase> ProtocolCases() {
  return {
      {"errors/page-sees-dom-exceptions",
       "chromium.md's error table end to end: the browser's renderer shows each refusal as its DOMException "
       "(InvalidStateError, InvalidAccessError, NotAllowedError \"Permission denied.\")",
       CaseNeeds::kAnyBrowser, PageSeesDomExceptions},
      {"quota/per-service-worker",
       "decision 6: beyond the per-service-worker quota (one-shot and periodic together) register fails with "
       "QUOTA_EXCEEDED / QuotaExceededError; an existing tag still re-registers",
       CaseNeeds::kAnyBrowser, QuotaPerServiceWorker},
      {"protocol/bad-messages-end-the-session",
       "public/README.md: input no honest renderer sends is INVALID_ARGUMENT, counted, and revokes the session",
       CaseNeeds::kAnyBrowser, BadMessagesEndTheSession},
      {"protocol/calls-need-a-session",
       "public/README.md: calls without a live session token fail with UNAUTHENTICATED", CaseNeeds::kAnyBrowser,
       CallsNeedASession},
  };
}

}  // namespace bgsync::conformance
