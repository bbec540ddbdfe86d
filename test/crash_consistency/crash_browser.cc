#include "test/crash_consistency/crash_browser.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"

namespace bgsync {
namespace {

constexpr char kSessionHeader[] = "bgsync-session";
constexpr char kReadyLine[] = "bgsync_browser: ready";

// Reconnects quickly (not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the connect timeout).
std::shared_ptr<grpc::Channel> Dial(const std::string& socket_path) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
  args.SetMaxReceiveMessageSize(-1);  // the registration table of a big store
  return grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), args);
}

std::chrono::system_clock::time_point Within(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CrashBrowser::CrashBrowser(Options options) : options_(std::move(options)) {}

CrashBrowser::~CrashBrowser() {
  if (process_.running())
    Kill();
}

absl::StatusOr<CrashBrowser::StartTimes> CrashBrowser::Start() {
  if (process_.running())
    return absl::FailedPreconditionError("the browser is running");
  std::error_code ignored;
  std::filesystem::remove(options_.profile + "/RuntimeDirectory", ignored);
  const int stderr_fd = open(options_.stderr_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (stderr_fd < 0)
    return absl::InternalError("cannot open " + options_.stderr_path);
  absl::StatusOr<Pipe> out = MakePipe();
  if (!out.ok()) {
    close(stderr_fd);
    return out.status();
  }
  ChildOptions child;
  child.argv = {options_.binary, "--profile", options_.profile};
  child.argv.insert(child.argv.end(), options_.flags.begin(), options_.flags.end());
  child.stdout_fd = out->write_fd;
  child.stderr_fd = stderr_fd;

  const absl::Time start = absl::Now();
  const absl::Time deadline = start + kHarnessDeadline;
  absl::StatusOr<ChildProcess> spawned = ChildProcess::Spawn(child);
  close(out->write_fd);
  close(stderr_fd);
  if (!spawned.ok()) {
    close(out->read_fd);
    return spawned.status();
  }
  process_ = *std::move(spawned);
  stdout_fd_ = out->read_fd;
  if (absl::Status ready = WaitUntilReady(stdout_fd_, deadline); !ready.ok())
    return ready;

  runtime_dir_ = std::string(absl::StripAsciiWhitespace(ReadWholeFile(options_.profile + "/RuntimeDirectory")));
  if (runtime_dir_.empty())
    return absl::InternalError("the browser is ready but wrote no RuntimeDirectory");
  admin_ = admin::BrowserAdmin::NewStub(Dial(runtime_dir_ + "/admin.sock"));
  StartTimes times;
  while (true) {
    admin::BrowserStatus status;
    grpc::ClientContext context;
    context.set_deadline(Within(absl::Seconds(5)));
    if (admin_->GetStatus(&context, admin::Empty(), &status).ok())
      break;
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError("the admin endpoint does not answer");
    absl::SleepFor(absl::Milliseconds(1));
  }
  times.admin = absl::Now() - start;
  times.serving = times.admin;
  if (probe_sw_ != 0) {
    if (absl::Status probe = RegisterProbe(deadline); !probe.ok())
      return probe;
    times.serving = absl::Now() - start;
  }
  return times;
}

absl::Status CrashBrowser::WaitUntilReady(int stdout_fd, absl::Time deadline) {
  std::string output;
  while (output.find(kReadyLine) == std::string::npos) {
    const int64_t remaining_ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    pollfd readable{stdout_fd, POLLIN, 0};
    const int polled = poll(&readable, 1, static_cast<int>(std::min<int64_t>(remaining_ms, 1000)));
    if (polled < 0 && errno != EINTR)
      return absl::InternalError("poll on the browser's stdout failed");
    if (polled <= 0) {
      if (absl::Now() > deadline)
        return absl::DeadlineExceededError("the browser did not print that it is ready");
      continue;
    }
    char buffer[4096];
    const ssize_t n = read(stdout_fd, buffer, sizeof buffer);
    if (n > 0) {
      output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      const int status = process_.Wait();
      return absl::InternalError(absl::StrCat("the browser exited before it was ready (wait status ", status, "); see ",
                                              options_.stderr_path));
    }
  }
  return absl::OkStatus();
}

absl::Status CrashBrowser::RegisterProbe(absl::Time deadline) {
  std::string token;
  std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> session;
  std::string last_error;
  while (absl::Now() <= deadline) {
    if (!session) {
      admin::OpenSessionRequest request;
      request.set_origin(probe_origin_);
      request.set_client_type(admin::CLIENT_TYPE_WINDOW);
      admin::OpenSessionReply reply;
      grpc::ClientContext context;
      context.set_deadline(Within(absl::Seconds(5)));
      const grpc::Status status = admin_->OpenSession(&context, request, &reply);
      if (!status.ok()) {
        last_error = "OpenSession: " + status.error_message();
        absl::SleepFor(absl::Milliseconds(1));
        continue;
      }
      token = reply.token();
      session = mojom::OneShotBackgroundSyncService::NewStub(Dial(reply.socket_path()));
    }
    const std::string tag = absl::StrCat("probe-", probe_tags_.size());
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(probe_sw_);
    request.mutable_options()->set_tag(tag);
    mojom::RegisterReply reply;
    grpc::ClientContext context;
    context.AddMetadata(kSessionHeader, token);
    context.set_deadline(Within(absl::Seconds(5)));
    const grpc::Status status = session->Register(&context, request, &reply);
    if (status.ok() && reply.has_registration()) {
      probe_tags_.push_back(tag);
      if (probe_resolve_) {
        mojom::DidResolveRegistrationRequest resolve;
        resolve.set_service_worker_registration_id(probe_sw_);
        resolve.set_tag(tag);
        mojom::DidResolveRegistrationReply ignored;
        grpc::ClientContext resolve_context;
        resolve_context.AddMetadata(kSessionHeader, token);
        resolve_context.set_deadline(Within(absl::Seconds(5)));
        session->DidResolveRegistration(&resolve_context, resolve, &ignored);
      }
      return absl::OkStatus();
    }
    last_error = status.ok() ? "Register: " + mojom::BackgroundSyncError_Name(reply.error())
                             : "Register: " + status.error_message();
    if (!status.ok())
      session.reset();
    absl::SleepFor(absl::Milliseconds(1));
  }
  return absl::DeadlineExceededError("no probe Register was answered OK; last: " + last_error);
}

void CrashBrowser::Kill(bool* lingering) {
  process_.Signal(SIGKILL);
  WaitForExit(lingering);
}

void CrashBrowser::Stop() {
  process_.Signal(SIGTERM);
  WaitForExit(nullptr);
}

void CrashBrowser::WaitForExit(bool* lingering) {
  process_.Wait();
  // The worker processes notice that the browser is gone and exit; until then their logs may still grow.
  const bool all_exited = process_.WaitForGroup(kHarnessDeadline);
  if (lingering)
    *lingering = !all_exited;
  process_ = ChildProcess();  // SIGKILLs and reaps what is left of the group
  if (stdout_fd_ >= 0)
    close(stdout_fd_);
  stdout_fd_ = -1;
  admin_.reset();
  std::error_code ignored;
  if (!runtime_dir_.empty())
    std::filesystem::remove_all(runtime_dir_, ignored);
  runtime_dir_.clear();
  std::filesystem::remove(options_.profile + "/RuntimeDirectory", ignored);
}

void CrashBrowser::SetProbe(const std::string& origin, int64_t sw, bool resolve) {
  probe_origin_ = origin;
  probe_sw_ = sw;
  probe_resolve_ = resolve;
}

absl::StatusOr<int64_t> CrashBrowser::InstallWorker(const std::string& origin,
                                                    const std::string& scope,
                                                    const std::vector<std::string>& command) {
  admin::InstallServiceWorkerRequest install;
  install.set_origin(origin);
  install.set_scope(scope);
  for (const std::string& arg : command)
    install.add_command(arg);
  admin::ServiceWorkerInfo info;
  grpc::ClientContext context;
  context.set_deadline(Within(kHarnessDeadline));
  grpc::Status status = admin_->InstallServiceWorker(&context, install, &info);
  if (!status.ok())
    return absl::InternalError("InstallServiceWorker " + scope + ": " + status.error_message());
  admin::ServiceWorkerId id;
  id.set_id(info.id());
  grpc::ClientContext activate_context;
  activate_context.set_deadline(Within(kHarnessDeadline));
  status = admin_->ActivateServiceWorker(&activate_context, id, &info);
  if (!status.ok())
    return absl::InternalError("ActivateServiceWorker " + scope + ": " + status.error_message());
  return info.id();
}

absl::StatusOr<std::vector<admin::Registration>> CrashBrowser::ListRegistrations() {
  admin::RegistrationTable table;
  grpc::ClientContext context;
  context.set_deadline(Within(kHarnessDeadline));
  const grpc::Status status = admin_->ListRegistrations(&context, admin::Empty(), &table);
  if (!status.ok())
    return absl::InternalError("ListRegistrations: " + status.error_message());
  return std::vector<admin::Registration>(table.registrations().begin(), table.registrations().end());
}

absl::StatusOr<CrashBrowser::LoadReport> CrashBrowser::LoadedRegistrations() {
  admin::StreamLogRequest request;
  request.set_since_sequence(0);
  request.set_follow(false);
  grpc::ClientContext context;
  context.set_deadline(Within(kHarnessDeadline));
  std::unique_ptr<grpc::ClientReader<admin::LogEntry>> reader = admin_->StreamLog(&context, request);
  admin::LogEntry entry;
  std::string detail;
  bool found = false;
  while (!found && reader->Read(&entry)) {
    if (entry.event() == "Loaded registrations") {
      detail = entry.detail();
      found = true;
    }
  }
  if (found)
    context.TryCancel();
  reader->Finish();
  if (!found)
    return absl::NotFoundError("no \"Loaded registrations\" line in the browser's log");
  LoadReport report;
  for (absl::string_view field : absl::StrSplit(detail, ' ', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
    int64_t value = 0;
    if (!absl::SimpleAtoi(kv.second, &value))
      continue;
    if (kv.first == "loaded")
      report.loaded = value;
    else if (kv.first == "interrupted")
      report.interrupted = value;
    else if (kv.first == "dropped")
      report.dropped = value;
    else if (kv.first == "quarantined")
      report.quarantined = value;
  }
  return report;
}

}  // namespace bgsync
