#include "test/conformance/case_run.h"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "public/background_sync_error.h"

namespace bgsync::conformance {
namespace {

// The session header of the wire protocol (public/README.md).
constexpr char kSessionMetadataKey[] = "bgsync-session";
// The most browser log entries a report shows.
constexpr size_t kMaxLogLines = 200;

using E = mojom::BackgroundSyncError;

// The DOMException a page must see for each error (chromium.md's table; QuotaExceededError per spec.md decision
// 6). An empty message: the table gives none, so any message will do.
struct ExpectedDom {
  std::string name;
  std::string message;
};

ExpectedDom ExpectedDomException(E error) {
  switch (error) {
    case E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER:
      return {"InvalidStateError", "Registration failed - no active Service Worker"};
    case E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND:
      // Chromium's NO_SERVICE_WORKER row (Chromium itself answers an unknown id with STORAGE).
      return {"InvalidStateError", ""};
    case E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW:
    case E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG:
      return {"InvalidAccessError", ""};  // Chromium's NOT_ALLOWED
    case E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED:
      return {"NotAllowedError", "Permission denied."};
    case E::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED:
      return {"QuotaExceededError", ""};
    default:
      return {"UnknownError", ""};
  }
}

std::string ErrorName(E error) {
  return std::string(SyncErrorName(error));
}

std::string RpcFailure(const grpc::Status& status) {
  return absl::StrCat("RPC failed: code ", status.error_code(), " ", status.error_message());
}

std::string RunNonce() {
  static const std::string nonce = [] {
    std::random_device random;
    return absl::StrFormat("%06x", random() & 0xffffff);
  }();
  return nonce;
}

std::atomic<int> origin_counter{0};

}  // namespace

std::string ShowTag(const std::string& tag) {
  constexpr size_t kShown = 24;
  std::string shown;
  for (size_t i = 0; i < tag.size() && i < kShown; ++i) {
    const unsigned char c = tag[i];
    if (c >= 0x20 && c < 0x7f && c != '%' && c != '"')
      shown.push_back(static_cast<char>(c));
    else
      absl::StrAppendFormat(&shown, "%%%02X", c);
  }
  if (tag.size() > kShown)
    absl::StrAppend(&shown, "...(", tag.size(), " bytes)");
  return absl::StrCat("\"", shown, "\"");
}

std::string DescribeRegistration(const admin::Registration& r) {
  std::string next = "asap";
  if (r.next_attempt_unix_ms() != 0)
    next = absl::StrCat(r.next_attempt_unix_ms() - CaseRun::NowMs() >= 0 ? "+" : "",
                        r.next_attempt_unix_ms() - CaseRun::NowMs(), "ms");
  std::string text = absl::StrCat(ShowTag(r.tag()), " ", r.type(), " ", r.state(), " ", r.num_attempts(), "/",
                                  r.max_attempts(), " next=", next);
  if (!r.last_failure().empty())
    absl::StrAppend(&text, " failure=", r.last_failure());
  if (r.type() == "one-shot")
    absl::StrAppend(&text, r.resolved() ? " resolved" : " unresolved");
  if (r.min_interval_ms() != 0)
    absl::StrAppend(&text, " interval=", r.min_interval_ms(), "ms");
  return text;
}

std::string DescribeReply(const mojom::RegisterReply& reply) {
  if (reply.has_registration()) {
    std::string text = absl::StrCat("ok ", ShowTag(reply.registration().tag()));
    if (reply.registration().min_interval_ms() != 0)
      absl::StrAppend(&text, " interval=", reply.registration().min_interval_ms(), "ms");
    return text;
  }
  if (reply.result_case() == mojom::RegisterReply::kError)
    return absl::StrCat("error ", ErrorName(reply.error()));
  return "no result";
}

std::string Join(const std::vector<std::string>& lines, const std::string& separator) {
  return lines.empty() ? "(none)" : absl::StrJoin(lines, separator);
}

std::vector<std::string> Describe(const std::vector<admin::Registration>& registrations) {
  std::vector<std::string> lines;
  for (const admin::Registration& r : registrations)
    lines.push_back(DescribeRegistration(r));
  return lines;
}

std::vector<std::string> TagsOf(const mojom::GetRegistrationsReply& reply) {
  std::vector<std::string> tags;
  for (const mojom::SyncRegistrationOptions& r : reply.registrations().registrations())
    tags.push_back(r.tag());
  return tags;
}

std::string EventLine(const std::string& tag, bool last_chance) {
  return absl::StrCat("event ", tag, " last_chance=", last_chance ? 1 : 0);
}

std::string PeriodicEventLine(const std::string& tag) {
  return absl::StrCat("periodicsync ", tag);
}

bool HasEvent(CaseRun& run, const Worker& worker, const std::string& tag) {
  for (const std::string& line : run.Events(worker)) {
    if (absl::StartsWith(line, absl::StrCat("event ", tag, " ")))
      return true;
  }
  return false;
}

bool WaitGone(CaseRun& run, const Worker& worker, const std::string& tag) {
  return run.Eventually(absl::StrCat("the registration ", ShowTag(tag), " of sw=", worker.id, " to be removed"),
                        [&] { return !run.Find(worker.id, tag).has_value(); });
}

CaseRun::CaseRun(ConformanceContext& context, std::string case_name)
    : context_(context), case_name_(std::move(case_name)), start_(absl::Now()) {
  Connect();
  PullBrowserLog();  // skips what happened before this case
}

CaseRun::~CaseRun() {
  if (!finished_)
    Cleanup();
}

void CaseRun::Connect() {
  admin_ = admin::BrowserAdmin::NewStub(grpc::CreateChannel(
      "unix:" + context_.browser->runtime_directory() + "/admin.sock", grpc::InsecureChannelCredentials()));
}

std::string CaseRun::Stamp() const {
  return absl::StrFormat("+%5dms ", absl::ToInt64Milliseconds(absl::Now() - start_));
}

void CaseRun::Observe(const std::string& line) {
  absl::MutexLock lock(&mu_);
  observed_.push_back(Stamp() + line);
}

void CaseRun::Fail(const std::string& failure) {
  absl::MutexLock lock(&mu_);
  failures_.push_back(failure);
  observed_.push_back(Stamp() + "FAILED: " + failure);
}

void CaseRun::Skip(const std::string& reason) {
  skip_reason_ = reason;
  Observe("skipped: " + reason);
}

void CaseRun::Absorb(const CaseResult& inner, const std::string& label) {
  absl::MutexLock lock(&mu_);
  for (const std::string& line : inner.observed)
    observed_.push_back(absl::StrCat(Stamp(), "[", label, "] ", line));
  for (const std::string& failure : inner.failures)
    failures_.push_back(absl::StrCat("[", label, "] ", failure));
}

bool CaseRun::Check(bool ok, const std::string& expected, const std::string& observed) {
  if (!ok)
    Fail(observed.empty() ? absl::StrCat("expected ", expected)
                          : absl::StrCat("expected ", expected, "; observed ", observed));
  return ok;
}

bool CaseRun::Eventually(const std::string& what, const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) {
      Fail(absl::StrCat("expected within ", absl::FormatDuration(timeout), ": ", what, "; it did not happen"));
      return false;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Observe("saw: " + what);
  return true;
}

// --- Setup ---------------------------------------------------------------------------------------------------

std::string CaseRun::NewOrigin(const std::string& label) {
  const std::string origin =
      absl::StrCat("https://", label, "-", origin_counter.fetch_add(1), "-", RunNonce(), ".conformance.example");
  return origin;
}

std::optional<Worker> CaseRun::InstallWorker(const std::string& origin, const WorkerScript& script, bool activate) {
  const int n = origin_counter.fetch_add(1);
  Worker worker;
  worker.origin = origin;
  worker.log = absl::StrCat(context_.scratch_directory, "/worker-", n, "-", RunNonce(), ".log");
  worker.gate = absl::StrCat(context_.scratch_directory, "/worker-", n, "-", RunNonce(), ".gate");
  std::error_code ignored;
  std::filesystem::remove(worker.log, ignored);
  std::filesystem::remove(worker.gate, ignored);

  admin::InstallServiceWorkerRequest install;
  install.set_origin(origin);
  // Several service workers of one origin need scopes of their own.
  install.set_scope(absl::StrCat(origin, "/scope-", n, "/"));
  install.add_command(context_.worker_binary);
  install.add_command("--log=" + worker.log);
  install.add_command("--outcome=" + script.outcome);
  std::string description = "outcome=" + script.outcome;
  if (script.fail_first > 0) {
    install.add_command(absl::StrCat("--fail-first=", script.fail_first));
    absl::StrAppend(&description, " fail-first=", script.fail_first);
  }
  if (script.hold) {
    install.add_command("--hold-until=" + worker.gate);
    absl::StrAppend(&description, " events held");
  }
  admin::ServiceWorkerInfo info;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->InstallServiceWorker(&context, install, &info);
  if (!status.ok()) {
    Fail(absl::StrCat("admin InstallServiceWorker(", origin, ") to succeed; observed ", RpcFailure(status)));
    return std::nullopt;
  }
  worker.id = info.id();
  workers_.push_back(worker);
  if (activate) {
    admin::ServiceWorkerId id;
    id.set_id(worker.id);
    grpc::ClientContext activate_context;
    activate_context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    status = admin_->ActivateServiceWorker(&activate_context, id, &info);
    if (!status.ok()) {
      Fail(absl::StrCat("admin ActivateServiceWorker(", worker.id, ") to succeed; observed ", RpcFailure(status)));
      return std::nullopt;
    }
  }
  Observe(absl::StrCat("service worker sw=", worker.id, " of ", origin, " (", description, ")",
                       activate ? " installed and activated" : " installed, not activated"));
  return worker;
}

bool CaseRun::UnregisterServiceWorker(int64_t id) {
  admin::ServiceWorkerId request;
  request.set_id(id);
  admin::Empty empty;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->UnregisterServiceWorker(&context, request, &empty);
  Observe(absl::StrCat("unregister service worker sw=", id, " -> ", status.ok() ? "ok" : RpcFailure(status)));
  return Check(status.ok(), absl::StrCat("admin UnregisterServiceWorker(", id, ") to succeed"), RpcFailure(status));
}

bool CaseRun::SetNetwork(admin::SetNetworkEmulationRequest::Mode mode) {
  admin::SetNetworkEmulationRequest request;
  request.set_mode(mode);
  admin::Empty empty;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->SetNetworkEmulation(&context, request, &empty);
  Observe(absl::StrCat("network emulation ", admin::SetNetworkEmulationRequest::Mode_Name(mode),
                       status.ok() ? "" : " -> " + RpcFailure(status)));
  return Check(status.ok(), "admin SetNetworkEmulation to succeed", RpcFailure(status));
}

bool CaseRun::EmulateOffline(int64_t sw, bool offline) {
  admin::SetNetworkEmulationRequest request;
  request.set_service_worker_registration_id(sw);
  request.set_offline(offline);
  admin::Empty empty;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->SetNetworkEmulation(&context, request, &empty);
  if (status.ok()) {
    if (offline)
      emulated_offline_.insert(sw);
    else
      emulated_offline_.erase(sw);
  }
  Observe(absl::StrCat(offline ? "emulate offline sw=" : "stop emulating offline sw=", sw,
                       status.ok() ? "" : " -> " + RpcFailure(status)));
  return Check(status.ok(), "admin SetNetworkEmulation(service worker) to succeed", RpcFailure(status));
}

bool CaseRun::SetPermission(const std::string& origin, bool periodic, admin::SetPermissionRequest::Setting setting) {
  admin::SetPermissionRequest request;
  request.set_origin(origin);
  request.set_periodic(periodic);
  request.set_setting(setting);
  admin::Empty empty;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->SetPermission(&context, request, &empty);
  if (status.ok())
    permissions_set_.insert({origin, periodic});
  Observe(absl::StrCat("permission ", periodic ? "periodic-background-sync" : "background-sync", " of ", origin, " = ",
                       admin::SetPermissionRequest::Setting_Name(setting),
                       status.ok() ? "" : " -> " + RpcFailure(status)));
  return Check(status.ok(), "admin SetPermission to succeed", RpcFailure(status));
}

bool CaseRun::SetEngagement(const std::string& origin, admin::EngagementLevel level) {
  admin::SetEngagementRequest request;
  request.set_origin(origin);
  request.set_level(level);
  admin::EngagementReply reply;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->SetEngagement(&context, request, &reply);
  if (status.ok())
    engagements_set_.insert(origin);
  Observe(absl::StrCat("engagement of ", origin, " = ", admin::EngagementLevel_Name(level), " -> ",
                       status.ok() ? reply.level_name() : RpcFailure(status)));
  if (!Check(status.ok(), "admin SetEngagement to succeed", RpcFailure(status)))
    return false;
  return Check(level == admin::ENGAGEMENT_LEVEL_DEFAULT ? reply.is_default() : reply.level() == level,
               absl::StrCat("SetEngagement to answer with the level set, ", admin::EngagementLevel_Name(level)),
               admin::EngagementLevel_Name(reply.level()));
}

std::optional<admin::EngagementReply> CaseRun::GetEngagement(const std::string& origin) {
  admin::GetEngagementRequest request;
  request.set_origin(origin);
  admin::EngagementReply reply;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->GetEngagement(&context, request, &reply);
  Observe(absl::StrCat(
      "engagement of ", origin, " -> ",
      status.ok() ? absl::StrCat(reply.level_name(), reply.is_default() ? " (default)" : "") : RpcFailure(status)));
  if (!status.ok())
    return std::nullopt;
  return reply;
}

void CaseRun::ReleaseEvents(const Worker& worker) {
  std::ofstream(worker.gate) << "go\n";
  Observe(absl::StrCat("release the held events of sw=", worker.id));
}

// --- Pages ---------------------------------------------------------------------------------------------------

Page& CaseRun::OpenPage(const std::string& origin, admin::ClientType type) {
  Page& page = pages_.emplace_back();
  page.origin = origin;
  admin::OpenSessionRequest request;
  request.set_origin(origin);
  request.set_client_type(type);
  admin::OpenSessionReply reply;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->OpenSession(&context, request, &reply);
  const std::string kind = type == admin::CLIENT_TYPE_IFRAME ? "iframe" : "window";
  if (!Check(status.ok(), absl::StrCat("admin OpenSession(", origin, ", ", kind, ") to succeed"), RpcFailure(status))) {
    return page;
  }
  page.session_id = reply.session_id();
  page.token = reply.token();
  page.open = true;
  auto channel = grpc::CreateChannel("unix:" + reply.socket_path(), grpc::InsecureChannelCredentials());
  page.one_shot = mojom::OneShotBackgroundSyncService::NewStub(channel);
  page.periodic = mojom::PeriodicBackgroundSyncService::NewStub(channel);
  Observe(absl::StrCat("open ", kind, " session ", page.session_id, " of ", origin));
  return page;
}

bool CaseRun::ClosePage(Page& page) {
  admin::CloseSessionRequest request;
  request.set_session_id(page.session_id);
  admin::Empty empty;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status = admin_->CloseSession(&context, request, &empty);
  page.open = false;
  Observe(absl::StrCat("close session ", page.session_id, status.ok() ? "" : " -> " + RpcFailure(status)));
  return Check(status.ok(), "admin CloseSession to succeed", RpcFailure(status));
}

void CaseRun::Authenticate(grpc::ClientContext& context, const Page& page) {
  context.AddMetadata(kSessionMetadataKey, page.token);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
}

mojom::RegisterReply CaseRun::Register(Page& page, int64_t sw, const std::string& tag, bool acknowledge) {
  mojom::RegisterReply reply;
  if (!page.one_shot) {
    Fail("a page to register from (its session could not be opened)");
    return reply;
  }
  grpc::ClientContext context;
  Authenticate(context, page);
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw);
  request.mutable_options()->set_tag(tag);
  grpc::Status status = page.one_shot->Register(&context, request, &reply);
  if (!status.ok()) {
    reply.Clear();
    Observe(absl::StrCat("register ", ShowTag(tag), " sw=", sw, " -> ", RpcFailure(status)));
    return reply;
  }
  Observe(absl::StrCat("register ", ShowTag(tag), " sw=", sw, " -> ", DescribeReply(reply)));
  if (acknowledge && reply.has_registration())
    Acknowledge(page, sw, tag);
  return reply;
}

bool CaseRun::Acknowledge(Page& page, int64_t sw, const std::string& tag) {
  grpc::ClientContext context;
  Authenticate(context, page);
  mojom::DidResolveRegistrationRequest request;
  request.set_service_worker_registration_id(sw);
  request.set_tag(tag);
  mojom::DidResolveRegistrationReply reply;
  grpc::Status status = page.one_shot->DidResolveRegistration(&context, request, &reply);
  Observe(absl::StrCat("acknowledge ", ShowTag(tag), " sw=", sw, status.ok() ? "" : " -> " + RpcFailure(status)));
  return Check(status.ok(), "DidResolveRegistration to succeed (it never fails visibly)", RpcFailure(status));
}

std::string DescribeTags(const mojom::GetRegistrationsReply& reply) {
  if (reply.has_registrations()) {
    std::vector<std::string> tags;
    for (const mojom::SyncRegistrationOptions& r : reply.registrations().registrations())
      tags.push_back(ShowTag(r.tag()));
    return absl::StrCat("[", absl::StrJoin(tags, ", "), "]");
  }
  if (reply.result_case() == mojom::GetRegistrationsReply::kError)
    return absl::StrCat("error ", ErrorName(reply.error()));
  return "no result";
}

mojom::GetRegistrationsReply CaseRun::GetTags(Page& page, int64_t sw) {
  mojom::GetRegistrationsReply reply;
  if (!page.one_shot)
    return reply;
  grpc::ClientContext context;
  Authenticate(context, page);
  mojom::GetRegistrationsRequest request;
  request.set_service_worker_registration_id(sw);
  grpc::Status status = page.one_shot->GetRegistrations(&context, request, &reply);
  if (!status.ok())
    reply.Clear();
  Observe(absl::StrCat("getTags sw=", sw, " -> ", status.ok() ? DescribeTags(reply) : RpcFailure(status)));
  return reply;
}

mojom::RegisterReply CaseRun::PeriodicRegister(Page& page,
                                               int64_t sw,
                                               const std::string& tag,
                                               int64_t min_interval_ms) {
  mojom::RegisterReply reply;
  if (!page.periodic) {
    Fail("a page to register from (its session could not be opened)");
    return reply;
  }
  grpc::ClientContext context;
  Authenticate(context, page);
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw);
  request.mutable_options()->set_tag(tag);
  request.mutable_options()->set_min_interval_ms(min_interval_ms);
  grpc::Status status = page.periodic->Register(&context, request, &reply);
  if (!status.ok())
    reply.Clear();
  Observe(absl::StrCat("periodic register ", ShowTag(tag), " interval=", min_interval_ms, "ms sw=", sw, " -> ",
                       status.ok() ? DescribeReply(reply) : RpcFailure(status)));
  return reply;
}

mojom::UnregisterReply CaseRun::PeriodicUnregister(Page& page, int64_t sw, const std::string& tag) {
  mojom::UnregisterReply reply;
  if (!page.periodic)
    return reply;
  grpc::ClientContext context;
  Authenticate(context, page);
  mojom::UnregisterRequest request;
  request.set_service_worker_registration_id(sw);
  request.set_tag(tag);
  grpc::Status status = page.periodic->Unregister(&context, request, &reply);
  if (!status.ok())
    reply.Clear();
  std::string result = RpcFailure(status);
  if (status.ok()) {
    result = reply.has_unregistered()                                ? "ok"
             : reply.result_case() == mojom::UnregisterReply::kError ? absl::StrCat("error ", ErrorName(reply.error()))
                                                                     : "no result";
  }
  Observe(absl::StrCat("periodic unregister ", ShowTag(tag), " sw=", sw, " -> ", result));
  return reply;
}

mojom::GetRegistrationsReply CaseRun::PeriodicGetTags(Page& page, int64_t sw) {
  mojom::GetRegistrationsReply reply;
  if (!page.periodic)
    return reply;
  grpc::ClientContext context;
  Authenticate(context, page);
  mojom::GetRegistrationsRequest request;
  request.set_service_worker_registration_id(sw);
  grpc::Status status = page.periodic->GetRegistrations(&context, request, &reply);
  if (!status.ok())
    reply.Clear();
  Observe(absl::StrCat("periodic getTags sw=", sw, " -> ", status.ok() ? DescribeTags(reply) : RpcFailure(status)));
  return reply;
}

// --- Observation ---------------------------------------------------------------------------------------------

std::vector<admin::Registration> CaseRun::Registrations(int64_t sw) {
  admin::RegistrationTable table;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  std::vector<admin::Registration> mine;
  if (!admin_->ListRegistrations(&context, admin::Empty(), &table).ok())
    return mine;
  for (const admin::Registration& r : table.registrations()) {
    if (r.service_worker_registration_id() == sw)
      mine.push_back(r);
  }
  return mine;
}

std::optional<admin::Registration> CaseRun::Find(int64_t sw, const std::string& tag, const std::string& type) {
  for (admin::Registration& r : Registrations(sw)) {
    if (r.tag() == tag && r.type() == type)
      return std::move(r);
  }
  return std::nullopt;
}

admin::Registration CaseRun::Explain(const Worker& worker, const std::string& tag, bool periodic) {
  admin::ExplainRequest request;
  request.set_origin(worker.origin);
  request.set_tag(tag);
  request.set_type(periodic ? admin::SYNC_REGISTRATION_TYPE_PERIODIC : admin::SYNC_REGISTRATION_TYPE_ONE_SHOT);
  request.set_service_worker_registration_id(worker.id);
  admin::RegistrationTable table;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  admin::Registration found;
  if (admin_->Explain(&context, request, &table).ok() && table.registrations_size() > 0)
    found = table.registrations(0);
  Observe(absl::StrCat("explain ", ShowTag(tag), " sw=", worker.id, " -> ",
                       found.reason().empty() ? "(none)" : found.reason() + ": " + found.explanation()));
  return found;
}

std::vector<std::string> CaseRun::Events(const Worker& worker) {
  std::vector<std::string> lines = absl::StrSplit(ReadWholeFile(worker.log), '\n', absl::SkipEmpty());
  return lines;
}

void CaseRun::PullBrowserLog() {
  admin::StreamLogRequest request;
  request.set_since_sequence(context_.log_cursor);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  std::unique_ptr<grpc::ClientReader<admin::LogEntry>> reader = admin_->StreamLog(&context, request);
  admin::LogEntry entry;
  std::set<int64_t> ids;
  for (const Worker& w : workers_)
    ids.insert(w.id);
  std::set<std::string> origins;
  for (const Worker& w : workers_)
    origins.insert(w.origin);
  for (const Page& p : pages_)
    origins.insert(p.origin);
  while (reader->Read(&entry)) {
    context_.log_cursor = std::max<uint64_t>(context_.log_cursor, entry.sequence());
    if (ids.count(entry.service_worker_registration_id()) || origins.count(entry.origin()))
      log_.push_back(entry);
  }
  reader->Finish().IgnoreError();
}

std::vector<admin::LogEntry> CaseRun::BrowserLog() {
  PullBrowserLog();
  return log_;
}

std::vector<admin::LogEntry> CaseRun::BrowserLog(int64_t sw, const std::string& event) {
  std::vector<admin::LogEntry> found;
  for (const admin::LogEntry& entry : BrowserLog()) {
    if (entry.service_worker_registration_id() == sw && entry.event() == event)
      found.push_back(entry);
  }
  return found;
}

int64_t CaseRun::BadMessages() {
  admin::BrowserStatus status;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  if (!admin_->GetStatus(&context, admin::Empty(), &status).ok())
    return -1;
  return status.bad_messages();
}

// --- Judging -------------------------------------------------------------------------------------------------

bool CaseRun::CheckRegistered(const mojom::RegisterReply& reply, const std::string& tag) {
  return Check(reply.has_registration() && reply.registration().tag() == tag,
               absl::StrCat("register ", ShowTag(tag), " to succeed with the tag echoed"), DescribeReply(reply));
}

bool CaseRun::CheckError(const mojom::RegisterReply& reply, E error) {
  if (reply.result_case() != mojom::RegisterReply::kError) {
    return Check(false, absl::StrCat("the register reply to carry error ", ErrorName(error)), DescribeReply(reply));
  }
  return CheckError(reply.error(), error, "register");
}

bool CaseRun::CheckError(E actual, E error, const std::string& call) {
  bool ok =
      Check(actual == error, absl::StrCat(call, " to fail with ", ErrorName(error), " on the wire"), ErrorName(actual));
  // What the page sees: the renderer's mapping against chromium.md's table.
  const ExpectedDom expected = ExpectedDomException(error);
  const DomException dom = ToDomException(actual);
  ok &= Check(dom.name == expected.name && (expected.message.empty() || dom.message == expected.message),
              absl::StrCat("a page to see ", expected.name,
                           expected.message.empty() ? "" : absl::StrCat(" \"", expected.message, "\""), " for ",
                           ErrorName(error)),
              absl::StrCat(dom.name, " \"", dom.message, "\""));
  if (ok)
    Observe(absl::StrCat("  = ", dom.name, " \"", dom.message, "\" in the page"));
  return ok;
}

bool CaseRun::CheckEvents(const Worker& worker, const std::vector<std::string>& expected) {
  const std::vector<std::string> events = Events(worker);
  return Check(events == expected,
               absl::StrCat("the worker of sw=", worker.id, " to receive exactly: ", Join(expected)), Join(events));
}

// --- Restart -------------------------------------------------------------------------------------------------

bool CaseRun::RestartBrowser(int signal) {
  if (!context_.browser->can_restart()) {
    Fail("a browser the suite can restart (this case should have been skipped)");
    return false;
  }
  PullBrowserLog();
  Observe(absl::StrCat("restart the browser (", signal == SIGKILL ? "SIGKILL" : "SIGTERM", ")"));
  absl::Status status = context_.browser->Restart(signal);
  context_.log_cursor = 0;
  for (Page& page : pages_)
    page.open = false;
  Connect();
  if (!Check(status.ok(), "the browser to start again", status.ToString()))
    return false;
  Observe("browser up again (offline)");
  return true;
}

// --- Finish --------------------------------------------------------------------------------------------------

void CaseRun::Cleanup() {
  // Best effort: a broken browser must not fail later cases through this one's leftovers. The service workers go
  // first, taking their registrations with them, so that closing pages or ending emulations fires nothing.
  auto deadline = [](grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  };
  for (const Worker& worker : workers_) {
    admin::ServiceWorkerId request;
    request.set_id(worker.id);
    admin::Empty empty;
    grpc::ClientContext context;
    deadline(context);
    admin_->UnregisterServiceWorker(&context, request, &empty).IgnoreError();
    std::ofstream(worker.gate) << "go\n";  // lets held event threads end
  }
  for (int64_t sw : emulated_offline_) {
    admin::SetNetworkEmulationRequest request;
    request.set_service_worker_registration_id(sw);
    request.set_offline(false);
    admin::Empty empty;
    grpc::ClientContext context;
    deadline(context);
    admin_->SetNetworkEmulation(&context, request, &empty).IgnoreError();
  }
  for (const auto& [origin, periodic] : permissions_set_) {
    admin::SetPermissionRequest request;
    request.set_origin(origin);
    request.set_periodic(periodic);
    request.set_setting(admin::SetPermissionRequest::SETTING_DEFAULT);
    admin::Empty empty;
    grpc::ClientContext context;
    deadline(context);
    admin_->SetPermission(&context, request, &empty).IgnoreError();
  }
  for (const std::string& origin : engagements_set_) {
    admin::SetEngagementRequest request;
    request.set_origin(origin);
    request.set_level(admin::ENGAGEMENT_LEVEL_DEFAULT);
    admin::EngagementReply reply;
    grpc::ClientContext context;
    deadline(context);
    admin_->SetEngagement(&context, request, &reply).IgnoreError();
  }
  for (Page& page : pages_) {
    if (!page.open)
      continue;
    admin::CloseSessionRequest request;
    request.set_session_id(page.session_id);
    admin::Empty empty;
    grpc::ClientContext context;
    deadline(context);
    admin_->CloseSession(&context, request, &empty).IgnoreError();
    page.open = false;
  }
}

CaseResult CaseRun::Finish() {
  CaseResult result;
  PullBrowserLog();
  Cleanup();
  finished_ = true;
  result.duration = absl::Now() - start_;
  absl::MutexLock lock(&mu_);
  result.observed = observed_;
  for (const Worker& worker : workers_) {
    result.observed.push_back(absl::StrCat("worker sw=", worker.id, " received: ", Join(Events(worker))));
  }
  if (!log_.empty()) {
    result.observed.push_back("browser log:");
    const size_t shown = std::min(log_.size(), kMaxLogLines);
    for (size_t i = 0; i < shown; ++i) {
      const admin::LogEntry& entry = log_[i];
      std::string line = absl::StrFormat("+%5dms sw=%d %s", entry.unix_ms() - absl::ToUnixMillis(start_),
                                         entry.service_worker_registration_id(), entry.event());
      if (!entry.tag().empty())
        absl::StrAppend(&line, " ", ShowTag(entry.tag()));
      if (!entry.detail().empty())
        absl::StrAppend(&line, " (", entry.detail(), ")");
      result.observed.push_back("  " + line);
    }
    if (log_.size() > shown)
      result.observed.push_back(absl::StrCat("  ... ", log_.size() - shown, " more entries"));
  }
  result.failures = failures_;
  if (!failures_.empty()) {
    result.outcome = CaseResult::Outcome::kFailed;
  } else if (!skip_reason_.empty()) {
    result.outcome = CaseResult::Outcome::kSkipped;
    result.skip_reason = skip_reason_;
  }
  return result;
}

}  // namespace bgsync::conformance
