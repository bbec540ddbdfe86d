// What happens to a client that sends input no honest client can produce (reliability.md P4): the call fails
// with INVALID_ARGUMENT, the session is revoked, the process is killed if the browser launched it, and the event
// is counted.
#ifndef SERVICES_BACKGROUND_SYNC_BAD_MESSAGE_REPORTER_H_
#define SERVICES_BACKGROUND_SYNC_BAD_MESSAGE_REPORTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {

// Thread-safety: every method may be called from any thread.
class BadMessageReporter {
 public:
  // `sessions` is not owned and must outlive this. `kill_process` is called with the pid of a launched process
  // (never 0); `log` with one line per bad message. Either may be empty.
  BadMessageReporter(SessionRegistry* sessions,
                     std::function<void(pid_t)> kill_process,
                     std::function<void(const std::string&)> log = nullptr)
      : sessions_(sessions), kill_process_(std::move(kill_process)), log_(std::move(log)) {}

  // Punishes `session` and returns the INVALID_ARGUMENT status the call must fail with. The process killed is the
  // one the registry has recorded when the session is revoked (`session` may be a copy taken before its pid was
  // recorded); when none is recorded yet, SetPid fails and the process's launcher kills it.
  absl::Status Report(const Session& session, absl::string_view reason) {
    count_.fetch_add(1);
    const std::optional<Session> revoked = sessions_->Revoke(session.id);
    const pid_t pid = revoked ? revoked->pid : session.pid;
    if (log_) {
      log_(absl::StrCat("bad message from ", ClientTypeName(session.type), " session ", session.id, " (",
                        session.origin.Serialize(), ", pid ", pid, "): ", reason));
    }
    if (pid > 0 && kill_process_)
      kill_process_(pid);
    return absl::InvalidArgumentError(absl::StrCat("bad message: ", reason));
  }

  int64_t count() const { return count_.load(); }

 private:
  SessionRegistry* const sessions_;
  const std::function<void(pid_t)> kill_process_;
  const std::function<void(const std::string&)> log_;
  std::atomic<int64_t> count_{0};
};

}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_BAD_MESSAGE_REPORTER_H_
