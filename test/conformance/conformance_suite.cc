#include "test/conformance/conformance_suite.h"

#include <stdlib.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "browser/admin/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace bgsync::conformance {
namespace {

std::unique_ptr<admin::BrowserAdmin::Stub> AdminOf(const std::string& runtime_directory) {
  return admin::BrowserAdmin::NewStub(
      grpc::CreateChannel("unix:" + runtime_directory + "/admin.sock", grpc::InsecureChannelCredentials()));
}

}  // namespace

absl::Status ConformanceSuite::Prepare(SuiteOptions& options) {
  if (options.worker_binary.empty())
    options.worker_binary = ExecutableDirectory() + "/bgsync_test_worker";
  if (options.browser_binary.empty())
    options.browser_binary = ExecutableDirectory() + "/bgsync_browser";
  if (!std::filesystem::exists(options.worker_binary))
    return absl::NotFoundError(
        absl::StrCat("no test worker at ", options.worker_binary, " (build bgsync_test_worker)"));
  std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-conformance-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    return absl::InternalError("mkdtemp failed");
  scratch_ = pattern;
  options_ = options;
  context_.parameters = options.parameters;
  context_.worker_binary = options.worker_binary;
  context_.scratch_directory = scratch_;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ConformanceSuite>> ConformanceSuite::Launch(SuiteOptions options) {
  std::unique_ptr<ConformanceSuite> suite(new ConformanceSuite());
  if (absl::Status status = suite->Prepare(options); !status.ok())
    return status;
  const std::string profile = suite->scratch_ + "/browser/profile";
  absl::StatusOr<std::unique_ptr<LaunchedBrowser>> browser =
      LaunchedBrowser::Start(options.browser_binary, profile, options.parameters.ToBrowserFlags());
  if (!browser.ok())
    return browser.status();
  suite->description_ = absl::StrCat("a bgsync_browser launched by the suite (profile ", profile, ")");
  suite->browser_ = *std::move(browser);
  suite->context_.browser = suite->browser_.get();
  ConformanceSuite* self = suite.get();
  suite->context_.launch_browser = [self](std::vector<std::string> flags) {
    const std::string profile = absl::StrCat(self->scratch_, "/own-", ++self->launched_, "/profile");
    return LaunchedBrowser::Start(self->options_.browser_binary, profile, std::move(flags));
  };
  return suite;
}

absl::StatusOr<std::unique_ptr<ConformanceSuite>> ConformanceSuite::Attach(std::string runtime_directory,
                                                                           SuiteOptions options) {
  std::unique_ptr<ConformanceSuite> suite(new ConformanceSuite());
  if (!std::filesystem::exists(runtime_directory + "/admin.sock")) {
    return absl::NotFoundError(absl::StrCat("no admin.sock in ", runtime_directory,
                                            " (pass the directory named in <profile>/RuntimeDirectory)"));
  }
  admin::BrowserStatus status;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::Status answered = AdminOf(runtime_directory)->GetStatus(&context, admin::Empty(), &status);
  if (!answered.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the admin endpoint in ", runtime_directory, " does not answer: ", answered.error_message()));
  }
  if (absl::Status prepared = suite->Prepare(options); !prepared.ok())
    return prepared;
  suite->restore_emulation_ = status.network_emulation();
  suite->description_ = absl::StrCat("the browser at ", runtime_directory, " (pid ", status.pid(), ")");
  suite->browser_ = std::make_unique<RunningBrowser>(std::move(runtime_directory));
  suite->context_.browser = suite->browser_.get();
  return suite;
}

ConformanceSuite::~ConformanceSuite() {
  if (browser_ && !restore_emulation_.empty()) {
    admin::SetNetworkEmulationRequest request;
    request.set_mode(restore_emulation_ == "offline"  ? admin::SetNetworkEmulationRequest::MODE_OFFLINE
                     : restore_emulation_ == "online" ? admin::SetNetworkEmulationRequest::MODE_ONLINE
                                                      : admin::SetNetworkEmulationRequest::MODE_AUTO);
    admin::Empty empty;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    AdminOf(browser_->runtime_directory())->SetNetworkEmulation(&context, request, &empty).IgnoreError();
  }
  browser_.reset();  // kills a launched browser before its profile goes
  if (!scratch_.empty() && !options_.keep_scratch) {
    std::error_code ignored;
    std::filesystem::remove_all(scratch_, ignored);
  }
}

}  // namespace bgsync::conformance
