// bgsync_crash_client: one page of the crash harness, as a process of its own so that its log does not depend on
// the harness. It registers unique one-shot tags through a real renderer session (a window session opened through
// the browser's admin endpoint, then OneShotBackgroundSyncService.Register over browser.sock), and appends every
// registration answered OK to its log, with fdatasync, before it counts it: the log is the client's proof of what
// the browser acknowledged. After a Register it sends DidResolveRegistration, as a page does.
//
// When the browser dies it finds the next one through <profile>/RuntimeDirectory and opens a new session; a call
// that fails on the wire has an unknown outcome and is not logged (its tag is never reused).
//
// Usage: bgsync_crash_client --profile DIR --origin ORIGIN --sw ID[,ID...] --log FILE --prefix P [--pause-ms N]
//   --sw       the origin's service-worker registrations, used in turn
//   --log      appended with one line "<sw> <tag>" per acknowledged registration
//   --prefix   tags are "<prefix>-<n>", n = 0, 1, ... per Register call
//   --pause-ms a pause after each acknowledged registration (default 0)
// It stops when its stdin reaches end of file (or its parent dies), and prints a summary on stderr. Exit status 0,
// 1 when its log cannot be written, 2 on a bad argument.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "public/mojom/background_sync.grpc.pb.h"

namespace bgsync {
namespace {

constexpr char kUsage[] =
    "usage: bgsync_crash_client --profile DIR --origin ORIGIN --sw ID[,ID...] --log FILE --prefix P "
    "[--pause-ms N]\n";
constexpr char kSessionHeader[] = "bgsync-session";

struct Flags {
  std::string profile;
  std::string origin;
  std::vector<int64_t> sws;
  std::string log;
  std::string prefix;
  int pause_ms = 0;
};

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const std::string value = argv[i + 1];
    if (name == "--profile") {
      flags.profile = value;
    } else if (name == "--origin") {
      flags.origin = value;
    } else if (name == "--log") {
      flags.log = value;
    } else if (name == "--prefix") {
      flags.prefix = value;
    } else if (name == "--pause-ms") {
      if (!absl::SimpleAtoi(value, &flags.pause_ms) || flags.pause_ms < 0)
        return false;
    } else if (name == "--sw") {
      for (absl::string_view id : absl::StrSplit(value, ',')) {
        int64_t sw = 0;
        if (!absl::SimpleAtoi(id, &sw) || sw <= 0)
          return false;
        flags.sws.push_back(sw);
      }
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !flags.profile.empty() && !flags.origin.empty() && !flags.sws.empty() && !flags.log.empty() &&
         !flags.prefix.empty();
}

std::string ReadRuntimeDirectory(const std::string& profile) {
  std::string text;
  const int fd = open((profile + "/RuntimeDirectory").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return "";
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<size_t>(n));
  close(fd);
  return std::string(absl::StripAsciiWhitespace(text));
}

// A channel that retries a restarted browser quickly (gRPC's default first reconnect backoff is a second). Not
// GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the connect timeout, and a short one fails handshakes
// with a busy browser.
std::shared_ptr<grpc::Channel> Dial(const std::string& socket_path) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  // A channel of its own: a new channel must not share the failing connection of an earlier one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), args);
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

class Client {
 public:
  Client(Flags flags, int log_fd) : flags_(std::move(flags)), log_fd_(log_fd) {}

  // Registers until `stop`; false when the log cannot be written.
  bool Run(const std::atomic<bool>& stop) {
    absl::Duration backoff = absl::Milliseconds(2);
    while (!stop.load()) {
      if (!session_ && !OpenSession()) {
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Milliseconds(20));
        continue;
      }
      backoff = absl::Milliseconds(2);
      const int64_t sw = flags_.sws[sequence_ % flags_.sws.size()];
      const std::string tag = absl::StrFormat("%s-%06d", flags_.prefix, sequence_++);
      mojom::RegisterRequest request;
      request.set_service_worker_registration_id(sw);
      request.mutable_options()->set_tag(tag);
      mojom::RegisterReply reply;
      grpc::ClientContext context;
      context.AddMetadata(kSessionHeader, token_);
      context.set_deadline(In(absl::Seconds(30)));
      const grpc::Status status = session_->Register(&context, request, &reply);
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++refused_["RESOURCE_EXHAUSTED"];  // the browser's per-session rate limit (or gRPC's own limits)
        absl::SleepFor(absl::Milliseconds(10));
        continue;
      }
      if (!status.ok()) {
        ++unanswered_;  // outcome unknown: maybe stored, never acknowledged
        last_error_ = absl::StrCat("Register: ", status.error_message());
        session_.reset();
        continue;
      }
      if (!reply.has_registration()) {
        ++refused_[mojom::BackgroundSyncError_Name(reply.error())];
        if (reply.error() == mojom::BACKGROUND_SYNC_ERROR_SHUT_DOWN)
          session_.reset();
        absl::SleepFor(absl::Milliseconds(5));
        continue;
      }
      const std::string line = absl::StrCat(sw, " ", tag, "\n");
      if (write(log_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || fdatasync(log_fd_) != 0) {
        std::perror(("bgsync_crash_client: " + flags_.log).c_str());
        return false;
      }
      ++acknowledged_;
      Resolve(sw, tag, stop);
      if (flags_.pause_ms > 0)
        absl::SleepFor(absl::Milliseconds(flags_.pause_ms));
    }
    return true;
  }

  std::string Summary() const {
    std::string refused;
    for (const auto& [name, count] : refused_)
      absl::StrAppend(&refused, " ", name, "=", count);
    return absl::StrCat("bgsync_crash_client ", flags_.prefix, ": acknowledged=", acknowledged_,
                        " unanswered=", unanswered_, " sessions=", sessions_, " failed_opens=", failed_opens_,
                        " refused:", refused.empty() ? " none" : refused,
                        last_error_.empty() ? "" : "; last error: " + last_error_);
  }

 private:
  // DidResolveRegistration, as a page sends once it has the result; retried while rate-limited. A failure ends the
  // session (the browser then releases the registration as unacknowledged, which is harmless here).
  void Resolve(int64_t sw, const std::string& tag, const std::atomic<bool>& stop) {
    mojom::DidResolveRegistrationRequest resolve;
    resolve.set_service_worker_registration_id(sw);
    resolve.set_tag(tag);
    while (session_) {
      mojom::DidResolveRegistrationReply ignored;
      grpc::ClientContext context;
      context.AddMetadata(kSessionHeader, token_);
      context.set_deadline(In(absl::Seconds(30)));
      const grpc::Status status = session_->DidResolveRegistration(&context, resolve, &ignored);
      if (status.ok())
        return;
      if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED || stop.load()) {
        last_error_ = absl::StrCat("DidResolveRegistration: ", status.error_message());
        session_.reset();
        return;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  bool OpenSession() {
    const std::string runtime = ReadRuntimeDirectory(flags_.profile);
    if (runtime.empty())
      return false;
    if (runtime != runtime_ || !admin_) {
      runtime_ = runtime;
      admin_ = admin::BrowserAdmin::NewStub(Dial(runtime + "/admin.sock"));
    }
    admin::OpenSessionRequest request;
    request.set_origin(flags_.origin);
    request.set_client_type(admin::CLIENT_TYPE_WINDOW);
    admin::OpenSessionReply reply;
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(5)));
    const grpc::Status status = admin_->OpenSession(&context, request, &reply);
    if (!status.ok()) {
      ++failed_opens_;
      last_error_ = absl::StrCat("OpenSession: ", status.error_message());
      // The browser may have written RuntimeDirectory before it listens: a channel that failed to connect keeps
      // failing for a while, so the next attempt dials afresh.
      admin_.reset();
      return false;
    }
    token_ = reply.token();
    session_ = mojom::OneShotBackgroundSyncService::NewStub(Dial(reply.socket_path()));
    ++sessions_;
    return true;
  }

  const Flags flags_;
  const int log_fd_;
  std::string runtime_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
  std::string token_;
  std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> session_;
  int64_t sequence_ = 0;
  int64_t acknowledged_ = 0;
  int64_t unanswered_ = 0;
  int64_t sessions_ = 0;
  int64_t failed_opens_ = 0;
  std::string last_error_;
  std::map<std::string, int64_t> refused_;
};

int Main(int argc, char** argv) {
  // Never outlive the harness.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1)
    return 0;
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const int log_fd = open(flags.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    std::perror(("bgsync_crash_client: " + flags.log).c_str());
    return 1;
  }
  std::atomic<bool> stop{false};
  std::thread stdin_watch([&stop] {
    char buffer[256];
    while (read(0, buffer, sizeof buffer) > 0) {
    }
    stop.store(true);
  });
  stdin_watch.detach();
  Client client(flags, log_fd);
  const bool ok = client.Run(stop);
  std::fprintf(stderr, "%s\n", client.Summary().c_str());
  close(log_fd);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
