// The renderer and worker process hosts with real processes: a process whose session ends before the host has
// recorded its pid (a bad message sent at once, before posix_spawn even returned to the host) is killed by the
// host, since the bad-message reporter had no pid to kill.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "browser/process/child_channel_factory.h"
#include "browser/process/process_launcher.h"
#include "browser/process/renderer_process_host.h"
#include "browser/process/worker_process_host.h"
#include "gtest/gtest.h"
#include "services/background_sync/bad_message_reporter.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(30);

// The wait status of every child that exited, and a notification per pid.
class Exits {
 public:
  void Record(pid_t pid, int status) {
    std::shared_ptr<absl::Notification> exited;
    {
      absl::MutexLock lock(&mu_);
      statuses_[pid] = status;
      exited = NotificationLocked(pid);
    }
    exited->Notify();
  }
  // The wait status of `pid` once it exited, or -1 if it is still running after a generous wait.
  int Wait(pid_t pid) {
    std::shared_ptr<absl::Notification> exited;
    {
      absl::MutexLock lock(&mu_);
      exited = NotificationLocked(pid);
    }
    if (!exited->WaitForNotificationWithTimeout(kGenerous))
      return -1;
    absl::MutexLock lock(&mu_);
    return statuses_[pid];
  }

 private:
  std::shared_ptr<absl::Notification> NotificationLocked(pid_t pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::shared_ptr<absl::Notification>& exited = notifications_[pid];
    if (!exited)
      exited = std::make_shared<absl::Notification>();
    return exited;
  }

  absl::Mutex mu_;
  absl::flat_hash_map<pid_t, int> statuses_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<pid_t, std::shared_ptr<absl::Notification>> notifications_ ABSL_GUARDED_BY(mu_);
};

// The real launcher, with a hook that runs after each spawn and before the host learns the pid: the window in
// which a fast process could send its first message. Every exit is recorded in `exits`.
class InterposingLauncher : public ProcessLauncher {
 public:
  std::function<void(pid_t)> after_spawn;
  const std::shared_ptr<Exits> exits = std::make_shared<Exits>();

  absl::StatusOr<pid_t> Launch(const LaunchOptions& options, ExitCallback on_exit) override {
    absl::StatusOr<pid_t> pid =
        ProcessLauncher::Launch(options, [exits = exits, on_exit = std::move(on_exit)](pid_t pid, int status) {
          exits->Record(pid, status);
          on_exit(pid, status);
        });
    if (pid.ok() && after_spawn)
      after_spawn(*pid);
    return pid;
  }
};

// Channels nobody serves: the children here never talk.
class UnservedChannels : public ChildChannelFactory {
 public:
  absl::StatusOr<Channel> CreateChannel() override {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      return absl::InternalError("socketpair");
    absl::MutexLock lock(&mu_);
    browser_ends_.push_back(fds[0]);
    return Channel{fds[1], absl::StrCat("fd:test-", browser_ends_.size())};
  }
  ~UnservedChannels() override {
    for (int fd : browser_ends_)
      close(fd);
  }

 private:
  absl::Mutex mu_;
  std::vector<int> browser_ends_ ABSL_GUARDED_BY(mu_);
};

bool KilledBySigkill(int status) {
  return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

class ProcessHostsTest : public ::testing::Test {
 protected:
  // What a service does with a bad message from the newest session (the process just spawned): report it.
  void ReportBadMessageFromTheNewestSession() {
    std::vector<Session> live = sessions_.List();
    ASSERT_FALSE(live.empty());
    ASSERT_EQ(live.back().pid, 0) << "the pid is recorded only after the spawn returns";
    EXPECT_EQ(reporter_.Report(live.back(), "sent before its pid was known").code(),
              absl::StatusCode::kInvalidArgument);
  }

  const Origin mail_ = *Origin::Parse("https://mail.example");
  SessionRegistry sessions_;
  InterposingLauncher launcher_;
  UnservedChannels channels_;
  std::vector<pid_t> reporter_kills_;
  BadMessageReporter reporter_{&sessions_, [this](pid_t pid) { reporter_kills_.push_back(pid); }};
};

TEST_F(ProcessHostsTest, ARendererRevokedBeforeItsPidWasRecordedIsKilled) {
  RendererProcessHost renderers({"/bin/cat"}, &launcher_, &sessions_, &channels_);
  // Without a bad message the renderer lives (cat waits on the stdin the host keeps open).
  absl::StatusOr<RendererProcessHost::Opened> calm = renderers.Open(mail_, ClientType::kWindow, {}, "", true);
  ASSERT_TRUE(calm.ok()) << calm.status();
  EXPECT_TRUE(sessions_.IsLive(calm->session_id));

  launcher_.after_spawn = [this](pid_t) { ReportBadMessageFromTheNewestSession(); };
  absl::StatusOr<RendererProcessHost::Opened> hostile = renderers.Open(mail_, ClientType::kWindow, {}, "", true);
  ASSERT_TRUE(hostile.ok()) << hostile.status();
  EXPECT_TRUE(reporter_kills_.empty()) << "the reporter had no pid to kill";
  EXPECT_FALSE(sessions_.IsLive(hostile->session_id));
  EXPECT_TRUE(KilledBySigkill(launcher_.exits->Wait(hostile->pid))) << "the renderer outlived its session";
  EXPECT_EQ(reporter_.count(), 1);

  std::vector<pid_t> running = launcher_.Running();
  EXPECT_EQ(running, std::vector<pid_t>{calm->pid}) << "only the well-behaved renderer is left";
  EXPECT_TRUE(renderers.Close(calm->pid));
  EXPECT_TRUE(KilledBySigkill(launcher_.exits->Wait(calm->pid)));
}

TEST_F(ProcessHostsTest, AWorkerRevokedBeforeItsPidWasRecordedIsKilled) {
  WorkerProcessHost workers({/*max_workers=*/4}, &launcher_, &sessions_, &channels_,
                            [this](int64_t) -> absl::StatusOr<WorkerSpec> {
                              return WorkerSpec{mail_, {"/bin/sleep", "60"}};
                            });
  ASSERT_TRUE(workers.StartWorker(1).ok());
  const pid_t calm = workers.Running().at(1);
  ASSERT_GT(calm, 0);

  pid_t hostile = 0;
  launcher_.after_spawn = [&](pid_t pid) {
    hostile = pid;
    ReportBadMessageFromTheNewestSession();
  };
  ASSERT_TRUE(workers.StartWorker(2).ok());
  ASSERT_GT(hostile, 0);
  EXPECT_TRUE(reporter_kills_.empty()) << "the reporter had no pid to kill";
  EXPECT_TRUE(KilledBySigkill(launcher_.exits->Wait(hostile))) << "the worker outlived its session";
  EXPECT_EQ(launcher_.Running(), std::vector<pid_t>{calm}) << "only the well-behaved worker is left";

  workers.StopWorker(1);
  EXPECT_TRUE(KilledBySigkill(launcher_.exits->Wait(calm)));
}

}  // namespace
}  // namespace bgsync
