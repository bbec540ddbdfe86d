// bgsync_test_worker: a service-worker process for tests. Reads its session from $BGSYNC_BOOTSTRAP_FD, opens the
// worker stream (ServiceWorkerGlobalScope) and settles every "sync" and "periodicsync" event as its flags say,
// until the browser ends the stream.
//
// Usage: bgsync_test_worker [--outcome=completed|rejected|hang|crash] [--log=FILE] [--fail-first=N]
//                           [--hold-until=FILE]
//   --outcome=O     how events settle (default completed): completed fulfils waitUntil, rejected rejects it,
//                   hang never settles it, crash calls abort() in the handler
//   --fail-first=N  the first N events (sync and periodicsync together, in arrival order) are rejected whatever
//                   --outcome says; later ones follow --outcome
//   --log=FILE      appends "event <tag> last_chance=<0|1>" for each sync event and "periodicsync <tag>" for each
//                   periodicsync event, when it arrives (before it settles or crashes); the tag is
//                   percent-encoded as in renderer/tag_encoding.h
//   --hold-until=FILE  a slow worker: each event, once logged, waits until FILE exists before it settles (or
//                   crashes) as the other flags say, so a test decides when an event ends
// Exit status: 0 when the browser ended the stream normally; 1 on a bootstrap or stream error; 2 on a bad
// argument.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "renderer/browser_channel.h"
#include "renderer/service_worker_global_scope.h"
#include "renderer/session_bootstrap.h"
#include "renderer/tag_encoding.h"

namespace bgsync {
namespace {

constexpr char kUsage[] =
    "usage: bgsync_test_worker [--outcome=completed|rejected|hang|crash] [--log=FILE] [--fail-first=N]\n"
    "                          [--hold-until=FILE]\n";

enum class Outcome { kCompleted, kRejected, kHang, kCrash };

struct Flags {
  Outcome outcome = Outcome::kCompleted;
  std::string log_path;
  int64_t fail_first = 0;
  std::string hold_path;
};

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view argument = argv[i];
    if (absl::ConsumePrefix(&argument, "--outcome=")) {
      if (argument == "completed")
        flags.outcome = Outcome::kCompleted;
      else if (argument == "rejected")
        flags.outcome = Outcome::kRejected;
      else if (argument == "hang")
        flags.outcome = Outcome::kHang;
      else if (argument == "crash")
        flags.outcome = Outcome::kCrash;
      else
        return false;
    } else if (absl::ConsumePrefix(&argument, "--log=")) {
      if (argument.empty())
        return false;
      flags.log_path = std::string(argument);
    } else if (absl::ConsumePrefix(&argument, "--hold-until=")) {
      if (argument.empty())
        return false;
      flags.hold_path = std::string(argument);
    } else if (absl::ConsumePrefix(&argument, "--fail-first=")) {
      if (!absl::SimpleAtoi(argument, &flags.fail_first) || flags.fail_first < 0)
        return false;
    } else {
      return false;
    }
  }
  return true;
}

std::shared_future<absl::Status> Settled(absl::Status status) {
  std::promise<absl::Status> promise;
  promise.set_value(std::move(status));
  return promise.get_future().share();
}

// Promises that never settle (--outcome=hang): kept alive for the life of the process, since destroying an
// unsettled std::promise settles its future with broken_promise.
class NeverSettled {
 public:
  std::shared_future<absl::Status> Make() {
    absl::MutexLock lock(&mu_);
    return promises_.emplace_back().get_future().share();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::promise<absl::Status>> promises_ ABSL_GUARDED_BY(mu_);
};

// One write per line, with O_APPEND, so that lines survive a crash right after and never interleave.
void AppendLog(const std::string& path, const std::string& line) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    std::perror(("bgsync_test_worker: " + path).c_str());
  if (fd >= 0)
    close(fd);
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  if (!bootstrap.ok()) {
    std::fprintf(stderr, "bgsync_test_worker: %s\n", bootstrap.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<ServiceWorkerGlobalScope>> scope =
      ServiceWorkerGlobalScope::Connect(ConnectToBrowser(*bootstrap), bootstrap->token);
  if (!scope.ok()) {
    std::fprintf(stderr, "bgsync_test_worker: %s\n", scope.status().ToString().c_str());
    return 1;
  }
  // Never destroyed: hanging promises must outlive every event thread, also during exit.
  static NeverSettled* const never_settled = new NeverSettled();
  auto events_seen = std::make_shared<std::atomic<int64_t>>(0);
  // Logs `log_line` (if logging) and settles `event` as the flags say.
  auto handle = [flags, events_seen](ExtendableEvent& event, const std::string& log_line) {
    int64_t index = events_seen->fetch_add(1);
    if (!flags.log_path.empty())
      AppendLog(flags.log_path, log_line);
    while (!flags.hold_path.empty() && access(flags.hold_path.c_str(), F_OK) != 0)
      absl::SleepFor(absl::Milliseconds(10));
    if (index < flags.fail_first) {
      event.WaitUntil(Settled(absl::AbortedError("--fail-first")));
      return;
    }
    switch (flags.outcome) {
      case Outcome::kCompleted:
        event.WaitUntil(Settled(absl::OkStatus()));
        return;
      case Outcome::kRejected:
        event.WaitUntil(Settled(absl::AbortedError("--outcome=rejected")));
        return;
      case Outcome::kHang:
        event.WaitUntil(never_settled->Make());
        return;
      case Outcome::kCrash:
        std::abort();
    }
  };
  (*scope)->AddEventListener("sync", [handle](SyncEvent& event) {
    handle(event,
           absl::StrCat("event ", PercentEncodeTag(event.tag()), " last_chance=", event.last_chance() ? 1 : 0, "\n"));
  });
  (*scope)->AddEventListener("periodicsync", [handle](PeriodicSyncEvent& event) {
    handle(event, absl::StrCat("periodicsync ", PercentEncodeTag(event.tag()), "\n"));
  });
  absl::Status status = (*scope)->Run();
  if (!status.ok()) {
    std::fprintf(stderr, "bgsync_test_worker: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
