// bgsync_fault_worker: a service-worker process for the fault and hostile-worker tests. It speaks the worker
// protocol (public/README.md, "Worker side") directly on the generated stub, without the renderer's global scope,
// so that it can also say what no honest worker says. It logs what happens with a machine-wide monotonic clock so
// a test can check, across processes, that one registration never runs twice at once.
//
// Usage: bgsync_fault_worker --log=FILE [--mode=MODE] [--work-ms=N] [--status=completed|rejected]
//                            [--foreign-log=FILE]
//   --mode=complete            (default) each event runs --work-ms, then is answered with --status
//   --mode=hold                events are never answered
//   --mode=at-deadline         each event is answered COMPLETED exactly its timeout_ms after it arrived
//   --mode=unknown-event       the first event is answered with an event id the browser never sent
//   --mode=foreign-event       the first event is answered with the event id of the first "start" line of
//                              --foreign-log (another worker's event, e.g. of another origin)
//   --mode=double-reply        each event is answered twice
//   --mode=ready-twice         WorkerReady is sent again when the first event arrives
//   --mode=unspecified-status  the first event is answered with SYNC_EVENT_STATUS_UNSPECIFIED
//   --mode=empty-message       an empty WorkerMessage is sent when the first event arrives
//   --mode=exit-at-start       exits with status 3 before connecting (a worker that fails to start)
//   --mode=leak-token          logs its session token (a token escaping its process), then holds its events
// Log lines (one write each, O_APPEND):
//   launched <pid> <mono_ns>
//   start <tag> <event_id> <pid> <mono_ns> <timeout_ms>
//   end <tag> <event_id> <pid> <mono_ns>
//   forged <event_id> <pid> <mono_ns>            (a message no honest worker sends, logged just before it;
//                                                event_id 0 for ready-twice and empty-message)
//   stream-end <pid> <grpc_code> <message>
//   token <token> <pid>                          (leak-token only)
// Tags are percent-encoded (renderer/tag_encoding.h). Exit status: 0 when the browser ended the stream, 1 on a
// bootstrap error, 2 on a bad argument, 3 for exit-at-start.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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
#include "renderer/browser_channel.h"
#include "renderer/session_bootstrap.h"
#include "renderer/tag_encoding.h"

namespace bgsync {
namespace {

struct Flags {
  std::string log_path;
  std::string mode = "complete";
  int64_t work_ms = 0;
  mojom::SyncEventStatus status = mojom::SYNC_EVENT_STATUS_COMPLETED;
  std::string foreign_log;
};

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--log=")) {
      flags.log_path = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--mode=")) {
      flags.mode = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--work-ms=")) {
      if (!absl::SimpleAtoi(arg, &flags.work_ms) || flags.work_ms < 0)
        return false;
    } else if (absl::ConsumePrefix(&arg, "--status=")) {
      if (arg == "completed")
        flags.status = mojom::SYNC_EVENT_STATUS_COMPLETED;
      else if (arg == "rejected")
        flags.status = mojom::SYNC_EVENT_STATUS_REJECTED;
      else
        return false;
    } else if (absl::ConsumePrefix(&arg, "--foreign-log=")) {
      flags.foreign_log = std::string(arg);
    } else {
      return false;
    }
  }
  return !flags.log_path.empty();
}

// CLOCK_MONOTONIC is one clock for every process of the machine: lines of different workers compare.
int64_t MonotonicNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

void AppendLog(const std::string& path, const std::string& line) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    std::perror("bgsync_fault_worker: log");
  close(fd);
}

// The event id of the first "start" line of `path`, once there is one (0 after a minute without).
uint64_t FirstStartedEventId(const std::string& path) {
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (absl::Now() < deadline) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string text;
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0)
        text.append(buffer, static_cast<size_t>(n));
      close(fd);
      for (absl::string_view line : absl::StrSplit(text, '\n')) {
        std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
        uint64_t id = 0;
        if (fields.size() >= 3 && fields[0] == "start" && absl::SimpleAtoi(fields[2], &id))
          return id;
      }
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return 0;
}

class FaultWorker {
 public:
  FaultWorker(Flags flags, const SessionBootstrap& bootstrap)
      : flags_(std::move(flags)), stub_(mojom::ServiceWorkerHost::NewStub(ConnectToBrowser(bootstrap))) {
    AddSessionMetadata(context_, bootstrap.token);
  }

  int Run() {
    stream_ = stub_->Connect(&context_);
    mojom::WorkerMessage ready;
    ready.mutable_ready();
    Write(ready);
    mojom::BrowserMessage message;
    bool first = true;
    while (stream_->Read(&message)) {
      uint64_t id = 0;
      std::string tag;
      int64_t timeout_ms = 0;
      if (message.has_sync_event()) {
        id = message.sync_event().event_id();
        tag = message.sync_event().tag();
        timeout_ms = message.sync_event().timeout_ms();
      } else if (message.has_periodic_sync_event()) {
        id = message.periodic_sync_event().event_id();
        tag = message.periodic_sync_event().tag();
        timeout_ms = message.periodic_sync_event().timeout_ms();
      } else {
        continue;  // a member from a newer browser: left unanswered
      }
      AppendLog(flags_.log_path, absl::StrCat("start ", PercentEncodeTag(tag), " ", id, " ", getpid(), " ",
                                              MonotonicNanos(), " ", timeout_ms, "\n"));
      if (first)
        Misbehave(id);
      first = false;
      Handle(id, tag, timeout_ms);
    }
    grpc::Status status = stream_->Finish();
    AppendLog(flags_.log_path, absl::StrCat("stream-end ", getpid(), " ", static_cast<int>(status.error_code()), " ",
                                            status.error_message(), "\n"));
    // Event threads may still be running (holding or sleeping): leave without waiting for them.
    std::fflush(nullptr);
    _exit(0);
  }

 private:
  void Write(const mojom::WorkerMessage& message) {
    absl::MutexLock lock(&write_mu_);
    stream_->Write(message);
  }
  void Reply(uint64_t id, mojom::SyncEventStatus status) {
    mojom::WorkerMessage message;
    message.mutable_sync_event_result()->set_event_id(id);
    message.mutable_sync_event_result()->set_status(status);
    Write(message);
  }
  void Forged(uint64_t id, mojom::SyncEventStatus status) {
    AppendLog(flags_.log_path, absl::StrCat("forged ", id, " ", getpid(), " ", MonotonicNanos(), "\n"));
    Reply(id, status);
  }

  // The hostile modes act once, on the first event.
  void Misbehave(uint64_t id) {
    const std::string& mode = flags_.mode;
    if (mode == "unknown-event") {
      Forged(id + 1'000'000, mojom::SYNC_EVENT_STATUS_COMPLETED);
    } else if (mode == "foreign-event") {
      Forged(FirstStartedEventId(flags_.foreign_log), mojom::SYNC_EVENT_STATUS_COMPLETED);
    } else if (mode == "unspecified-status") {
      Forged(id, mojom::SYNC_EVENT_STATUS_UNSPECIFIED);
    } else if (mode == "ready-twice") {
      AppendLog(flags_.log_path, absl::StrCat("forged 0 ", getpid(), " ", MonotonicNanos(), "\n"));
      mojom::WorkerMessage ready;
      ready.mutable_ready();
      Write(ready);
    } else if (mode == "empty-message") {
      AppendLog(flags_.log_path, absl::StrCat("forged 0 ", getpid(), " ", MonotonicNanos(), "\n"));
      Write(mojom::WorkerMessage());
    }
  }

  void Handle(uint64_t id, const std::string& tag, int64_t timeout_ms) {
    const std::string& mode = flags_.mode;
    if (mode == "hold" || mode == "leak-token" || mode == "unknown-event" || mode == "foreign-event" ||
        mode == "unspecified-status" || mode == "ready-twice" || mode == "empty-message") {
      return;
    }
    const int64_t delay_ms = mode == "at-deadline" ? timeout_ms : flags_.work_ms;
    std::thread([this, id, tag, delay_ms] {
      if (delay_ms > 0)
        absl::SleepFor(absl::Milliseconds(delay_ms));
      AppendLog(flags_.log_path,
                absl::StrCat("end ", PercentEncodeTag(tag), " ", id, " ", getpid(), " ", MonotonicNanos(), "\n"));
      const mojom::SyncEventStatus status =
          flags_.mode == "at-deadline" ? mojom::SYNC_EVENT_STATUS_COMPLETED : flags_.status;
      Reply(id, status);
      if (flags_.mode == "double-reply")
        Forged(id, status);
    }).detach();
  }

  const Flags flags_;
  std::unique_ptr<mojom::ServiceWorkerHost::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<mojom::WorkerMessage, mojom::BrowserMessage>> stream_;
  absl::Mutex write_mu_;
};

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    std::fputs(
        "usage: bgsync_fault_worker --log=FILE [--mode=MODE] [--work-ms=N] [--status=completed|rejected]\n"
        "                           [--foreign-log=FILE]\n",
        stderr);
    return 2;
  }
  AppendLog(flags.log_path, absl::StrCat("launched ", getpid(), " ", MonotonicNanos(), "\n"));
  if (flags.mode == "exit-at-start")
    return 3;
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  if (!bootstrap.ok()) {
    std::fprintf(stderr, "bgsync_fault_worker: %s\n", bootstrap.status().ToString().c_str());
    return 1;
  }
  if (flags.mode == "leak-token")
    AppendLog(flags.log_path, absl::StrCat("token ", bootstrap->token, " ", getpid(), "\n"));
  FaultWorker worker(std::move(flags), *bootstrap);
  return worker.Run();
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
