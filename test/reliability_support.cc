#include "test/reliability_support.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "test/browser_test_fixture.h"

namespace bgsync {

std::vector<admin::LogEntry> ReadEventLog(admin::BrowserAdmin::Stub& admin) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  admin::StreamLogRequest request;
  std::unique_ptr<grpc::ClientReader<admin::LogEntry>> reader = admin.StreamLog(&context, request);
  std::vector<admin::LogEntry> entries;
  admin::LogEntry entry;
  while (reader->Read(&entry))
    entries.push_back(entry);
  reader->Finish().ok();  // a partial log is still a log
  return entries;
}

int CountEvents(const std::vector<admin::LogEntry>& log, const std::string& event, const std::string* tag) {
  int count = 0;
  for (const admin::LogEntry& entry : log) {
    if (entry.event() == event && (!tag || entry.tag() == *tag))
      ++count;
  }
  return count;
}

admin::BrowserStatus GetBrowserStatus(admin::BrowserAdmin::Stub& admin) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  admin::BrowserStatus status;
  admin.GetStatus(&context, admin::Empty(), &status).ok();
  return status;
}

std::string RegistrationsOf(admin::BrowserAdmin::Stub& admin, const std::string& origin) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  admin::RegistrationTable table;
  if (!admin.ListRegistrations(&context, admin::Empty(), &table).ok())
    return "(ListRegistrations failed)";
  admin::RegistrationTable mine;
  for (const admin::Registration& r : table.registrations()) {
    if (r.origin() == origin)
      *mine.add_registrations() = r;
  }
  return mine.SerializeAsString();
}

RendererSession OpenRendererSession(admin::BrowserAdmin::Stub& admin, const std::string& origin) {
  admin::OpenSessionRequest request;
  request.set_origin(origin);
  request.set_client_type(admin::CLIENT_TYPE_WINDOW);
  admin::OpenSessionReply reply;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  RendererSession session;
  if (!admin.OpenSession(&context, request, &reply).ok())
    return session;
  session.id = reply.session_id();
  session.token = reply.token();
  session.socket_path = reply.socket_path();
  // A channel of its own: distinct channel arguments keep gRPC from sharing one connection between sessions.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  session.channel =
      grpc::CreateCustomChannel("unix:" + session.socket_path, grpc::InsecureChannelCredentials(), arguments);
  session.one_shot = mojom::OneShotBackgroundSyncService::NewStub(session.channel);
  session.periodic = mojom::PeriodicBackgroundSyncService::NewStub(session.channel);
  return session;
}

void CloseRendererSession(admin::BrowserAdmin::Stub& admin, uint64_t session_id) {
  admin::CloseSessionRequest request;
  request.set_session_id(session_id);
  admin::Empty empty;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  admin.CloseSession(&context, request, &empty).ok();
}

int64_t InstallServiceWorker(admin::BrowserAdmin::Stub& admin,
                             const std::string& origin,
                             const std::string& scope,
                             const std::vector<std::string>& command) {
  admin::InstallServiceWorkerRequest install;
  install.set_origin(origin);
  install.set_scope(scope);
  for (const std::string& arg : command)
    install.add_command(arg);
  admin::ServiceWorkerInfo info;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  if (!admin.InstallServiceWorker(&context, install, &info).ok())
    return 0;
  admin::ServiceWorkerId id;
  id.set_id(info.id());
  grpc::ClientContext activate_context;
  activate_context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  if (!admin.ActivateServiceWorker(&activate_context, id, &info).ok())
    return 0;
  return info.id();
}

std::vector<std::string> FaultWorkerCommand(const std::string& log, const std::vector<std::string>& flags) {
  std::vector<std::string> command = {BinaryDirectory() + "/bgsync_fault_worker", "--log=" + log};
  command.insert(command.end(), flags.begin(), flags.end());
  return command;
}

std::vector<FaultWorkerLine> ReadFaultWorkerLog(const std::string& path) {
  std::vector<FaultWorkerLine> lines;
  for (absl::string_view text : absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(text, absl::MaxSplits(' ', 6));
    FaultWorkerLine line;
    line.kind = fields[0];
    // A field that is missing or not a number reads as 0.
    auto number = [&](size_t i, auto& out) {
      if (i >= fields.size() || !absl::SimpleAtoi(fields[i], &out))
        out = 0;
    };
    if (line.kind == "launched") {
      number(1, line.pid);
      number(2, line.mono_ns);
    } else if (line.kind == "start" || line.kind == "end") {
      if (fields.size() > 1)
        line.tag = fields[1];
      number(2, line.event_id);
      number(3, line.pid);
      number(4, line.mono_ns);
      number(5, line.timeout_ms);
    } else if (line.kind == "forged") {
      number(1, line.event_id);
      number(2, line.pid);
      number(3, line.mono_ns);
    } else if (line.kind == "token") {
      if (fields.size() > 1)
        line.rest = fields[1];
      number(2, line.pid);
    } else if (line.kind == "stream-end") {
      number(1, line.pid);
      std::vector<std::string> rest = absl::StrSplit(text, absl::MaxSplits(' ', 2));
      if (rest.size() > 2)
        line.rest = rest[2];
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<FaultWorkerLine> LinesOf(const std::vector<FaultWorkerLine>& lines, const std::string& kind) {
  std::vector<FaultWorkerLine> result;
  for (const FaultWorkerLine& line : lines) {
    if (line.kind == kind)
      result.push_back(line);
  }
  return result;
}

}  // namespace bgsync
