// bgsync_flood_client: a hostile renderer process that floods the browser on one session, for
// renderer_flood_test.cc. It keeps --in-flight calls going (callback API) until --seconds have passed or
// --max-calls were made or SIGTERM came, then waits for the calls in flight and writes its counts to --out as one
// line:
//   calls=<n> ok=<n> rate_limited=<n> quota_exceeded=<n> unauthenticated=<n> other=<n> seconds=<s>
// (seconds: from the first call to the last answer, including any time the process was stopped with SIGSTOP).
//
// Usage: bgsync_flood_client --socket=PATH --token=HEX --mode=get-tags|new-tags --sw=ID[,ID...] --out=FILE
//                            [--in-flight=N] [--max-calls=N] [--seconds=S] [--channels=N]
//   get-tags   GetRegistrations of the first --sw, again and again
//   new-tags   Register of a new tag each time ("flood-<n>"), on the --sw ids in turn
// Exit status: 0 after writing the counts, 2 on a bad argument.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "public/mojom/background_sync.grpc.pb.h"

namespace bgsync {
namespace {

constexpr char kSessionMetadataKey[] = "bgsync-session";

// Set by SIGTERM: issue no more calls.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void OnTerminate(int) {
  g_stop_requested.store(true);
}

struct Flags {
  std::string socket;
  std::string token;
  std::string mode;
  std::vector<int64_t> sws;
  std::string out;
  int in_flight = 256;
  int channels = 4;
  int64_t max_calls = std::numeric_limits<int64_t>::max();
  double seconds = 5;
};

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--socket=")) {
      flags.socket = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--token=")) {
      flags.token = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--mode=")) {
      flags.mode = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--out=")) {
      flags.out = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--sw=")) {
      for (absl::string_view id : absl::StrSplit(arg, ',')) {
        int64_t sw = 0;
        if (!absl::SimpleAtoi(id, &sw))
          return false;
        flags.sws.push_back(sw);
      }
    } else if (absl::ConsumePrefix(&arg, "--in-flight=")) {
      if (!absl::SimpleAtoi(arg, &flags.in_flight) || flags.in_flight < 1)
        return false;
    } else if (absl::ConsumePrefix(&arg, "--channels=")) {
      if (!absl::SimpleAtoi(arg, &flags.channels) || flags.channels < 1)
        return false;
    } else if (absl::ConsumePrefix(&arg, "--max-calls=")) {
      if (!absl::SimpleAtoi(arg, &flags.max_calls) || flags.max_calls < 1)
        return false;
    } else if (absl::ConsumePrefix(&arg, "--seconds=")) {
      if (!absl::SimpleAtod(arg, &flags.seconds) || flags.seconds <= 0)
        return false;
    } else {
      return false;
    }
  }
  return !flags.socket.empty() && !flags.token.empty() && !flags.out.empty() && !flags.sws.empty() &&
         (flags.mode == "get-tags" || flags.mode == "new-tags");
}

// One call in flight: its context, request and reply live until its callback has run.
struct Call {
  grpc::ClientContext context;
  mojom::GetRegistrationsRequest get_request;
  mojom::GetRegistrationsReply get_reply;
  mojom::RegisterRequest register_request;
  mojom::RegisterReply register_reply;
};

class Flood {
 public:
  explicit Flood(const Flags& flags) : flags_(flags), stop_at_(absl::Now() + absl::Seconds(flags.seconds)) {
    for (int i = 0; i < flags.channels; ++i) {
      grpc::ChannelArguments arguments;
      arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per channel
      arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
      stubs_.push_back(mojom::OneShotBackgroundSyncService::NewStub(
          grpc::CreateCustomChannel("unix:" + flags.socket, grpc::InsecureChannelCredentials(), arguments)));
    }
  }

  // Runs the flood to its end and returns the counts line.
  std::string Run() {
    const absl::Time start = absl::Now();
    for (int i = 0; i < flags_.in_flight; ++i)
      Next();
    {
      absl::MutexLock lock(&mu_);
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
      mu_.Await(absl::Condition(&idle));
    }
    return absl::StrCat("calls=", calls_.load(), " ok=", ok_.load(), " rate_limited=", rate_limited_.load(),
                        " quota_exceeded=", quota_exceeded_.load(), " unauthenticated=", unauthenticated_.load(),
                        " other=", other_.load(), " seconds=", absl::ToDoubleSeconds(absl::Now() - start), "\n");
  }

 private:
  void Next() {
    int64_t n;
    Call* call;
    std::vector<std::unique_ptr<Call>> released;
    {
      absl::MutexLock lock(&mu_);
      // Calls whose callbacks have returned are released here, never inside their own callback (a call in
      // flight may be held by the browser far longer than the calls after it).
      released.swap(done_);
      if (issued_ >= flags_.max_calls || absl::Now() >= stop_at_ || g_stop_requested.load())
        return;
      n = issued_++;
      ++running_;
      auto owned = std::make_unique<Call>();
      call = owned.get();
      in_flight_.emplace(call, std::move(owned));
    }
    released.clear();
    call->context.AddMetadata(kSessionMetadataKey, flags_.token);
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(1)));
    mojom::OneShotBackgroundSyncService::Stub& stub = *stubs_[n % stubs_.size()];
    if (flags_.mode == "get-tags") {
      call->get_request.set_service_worker_registration_id(flags_.sws[0]);
      stub.async()->GetRegistrations(
          &call->context, &call->get_request, &call->get_reply,
          [this, call](grpc::Status status) { Count(call, status, mojom::BACKGROUND_SYNC_ERROR_UNSPECIFIED); });
    } else {
      call->register_request.set_service_worker_registration_id(flags_.sws[n % flags_.sws.size()]);
      call->register_request.mutable_options()->set_tag(absl::StrCat("flood-", n));
      stub.async()->Register(&call->context, &call->register_request, &call->register_reply,
                             [this, call](grpc::Status status) {
                               Count(call, status,
                                     call->register_reply.has_registration() ? mojom::BACKGROUND_SYNC_ERROR_UNSPECIFIED
                                                                             : call->register_reply.error());
                             });
    }
  }

  // The callback of `call`: counts its answer, makes the next call, and retires it (its last use of `call`).
  void Count(Call* call, const grpc::Status& status, mojom::BackgroundSyncError error) {
    ++calls_;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
      ++rate_limited_;
    else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED)
      ++unauthenticated_;
    else if (status.ok() && error == mojom::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED)
      ++quota_exceeded_;
    else if (status.ok() && error == mojom::BACKGROUND_SYNC_ERROR_UNSPECIFIED)
      ++ok_;
    else
      ++other_;
    Next();
    absl::MutexLock lock(&mu_);
    --running_;
    auto it = in_flight_.find(call);
    done_.push_back(std::move(it->second));
    in_flight_.erase(it);
  }

  const Flags flags_;
  const absl::Time stop_at_;
  std::vector<std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub>> stubs_;
  std::atomic<int64_t> calls_{0}, ok_{0}, rate_limited_{0}, quota_exceeded_{0}, unauthenticated_{0}, other_{0};
  absl::Mutex mu_;
  int64_t issued_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<Call*, std::unique_ptr<Call>> in_flight_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Call>> done_ ABSL_GUARDED_BY(mu_);  // callbacks returned (or returning)
};

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    std::fputs(
        "usage: bgsync_flood_client --socket=PATH --token=HEX --mode=get-tags|new-tags --sw=ID[,ID...]\n"
        "                           --out=FILE [--in-flight=N] [--max-calls=N] [--seconds=S] [--channels=N]\n",
        stderr);
    return 2;
  }
  struct sigaction terminate = {};
  terminate.sa_handler = OnTerminate;
  sigemptyset(&terminate.sa_mask);
  sigaction(SIGTERM, &terminate, nullptr);
  const std::string counts = Flood(flags).Run();
  FILE* out = std::fopen(flags.out.c_str(), "w");
  if (out == nullptr)
    return 1;
  std::fputs(counts.c_str(), out);
  std::fclose(out);
  return 0;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
