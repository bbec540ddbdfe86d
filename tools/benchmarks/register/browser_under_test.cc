#include "tools/benchmarks/register/browser_under_test.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"

namespace bgsync {
namespace regbench {
namespace {

constexpr absl::Duration kAdminDeadline = absl::Seconds(60);

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status FromGrpc(const std::string& what, const grpc::Status& status) {
  if (status.ok())
    return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", status.error_message()));
}

std::unique_ptr<grpc::ClientContext> AdminContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kAdminDeadline));
  return context;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrowserUnderTest>> BrowserUnderTest::Start(ProcessLauncher* launcher,
                                                                          const std::string& browser_binary,
                                                                          const std::string& profile,
                                                                          const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {browser_binary, "--profile", profile};
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<StartedProcess>> process = StartedProcess::Launch(launcher, std::move(argv));
  if (!process.ok())
    return process.status();
  const absl::Time deadline = absl::Now() + kAdminDeadline;
  while (absl::Now() < deadline && !(*process)->exited()) {
    const std::string runtime(absl::StripAsciiWhitespace(ReadWholeFile(profile + "/RuntimeDirectory")));
    std::error_code error;
    if (!runtime.empty() && std::filesystem::exists(runtime + "/admin.sock", error)) {
      // ListRegistrations of a large profile exceeds gRPC's default 4 MB for a received message.
      grpc::ChannelArguments arguments;
      arguments.SetMaxReceiveMessageSize(-1);
      auto admin = admin::BrowserAdmin::NewStub(
          grpc::CreateCustomChannel("unix:" + runtime + "/admin.sock", grpc::InsecureChannelCredentials(), arguments));
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      admin::BrowserStatus status;
      if (admin->GetStatus(&context, admin::Empty(), &status).ok())
        return std::unique_ptr<BrowserUnderTest>(new BrowserUnderTest(*std::move(process), std::move(admin)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat(browser_binary, " did not come up on ", profile));
}

BrowserUnderTest::~BrowserUnderTest() = default;

absl::StatusOr<int64_t> BrowserUnderTest::InstallServiceWorker(const std::string& origin,
                                                               const std::string& scope,
                                                               const std::vector<std::string>& command) {
  admin::InstallServiceWorkerRequest install;
  install.set_origin(origin);
  install.set_scope(scope);
  for (const std::string& arg : command)
    install.add_command(arg);
  admin::ServiceWorkerInfo info;
  if (absl::Status s =
          FromGrpc("InstallServiceWorker", admin_->InstallServiceWorker(AdminContext().get(), install, &info));
      !s.ok()) {
    return s;
  }
  admin::ServiceWorkerId id;
  id.set_id(info.id());
  if (absl::Status s =
          FromGrpc("ActivateServiceWorker", admin_->ActivateServiceWorker(AdminContext().get(), id, &info));
      !s.ok()) {
    return s;
  }
  return info.id();
}

absl::StatusOr<BrowserUnderTest::Session> BrowserUnderTest::OpenWindowSession(const std::string& origin) {
  admin::OpenSessionRequest request;
  request.set_origin(origin);
  request.set_client_type(admin::CLIENT_TYPE_WINDOW);
  admin::OpenSessionReply reply;
  if (absl::Status s = FromGrpc("OpenSession", admin_->OpenSession(AdminContext().get(), request, &reply)); !s.ok())
    return s;
  return Session{reply.token(), reply.socket_path()};
}

absl::StatusOr<int> BrowserUnderTest::CountRegistrations() {
  admin::RegistrationTable table;
  if (absl::Status s =
          FromGrpc("ListRegistrations", admin_->ListRegistrations(AdminContext().get(), admin::Empty(), &table));
      !s.ok()) {
    return s;
  }
  return table.registrations_size();
}

}  // namespace regbench
}  // namespace bgsync
