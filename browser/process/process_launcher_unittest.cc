#include "browser/process/process_launcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(30);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ProcessLauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-launch-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ProcessLauncherTest, BootstrapArrivesOnTheInheritedDescriptorNotTheCommandLine) {
  ProcessLauncher launcher;
  absl::Notification exited;
  int status = -1;
  const std::string out = dir_ + "/out";
  LaunchOptions options;
  // The child copies its bootstrap descriptor and its command line to files.
  options.argv = {"/bin/sh", "-c",
                  "cat <&\"$BGSYNC_BOOTSTRAP_FD\" > " + out + "; echo \"$0 $*\" > " + out +
                      ".argv; ls /proc/self/fd > " + out + ".fds"};
  options.bootstrap = "token=secret-token\n";
  ASSERT_TRUE(launcher
                  .Launch(options,
                          [&](pid_t, int s) {
                            status = s;
                            exited.Notify();
                          })
                  .ok());
  ASSERT_TRUE(exited.WaitForNotificationWithTimeout(kGenerous));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadFile(out), "token=secret-token\n");
  EXPECT_EQ(ReadFile(out + ".argv").find("secret-token"), std::string::npos);
  // Only 0-2, the bootstrap descriptor and whatever `ls` itself opens: nothing of the test process leaks.
  std::string fds = ReadFile(out + ".fds");
  EXPECT_EQ(fds.find("\n5\n"), std::string::npos) << fds;
}

TEST_F(ProcessLauncherTest, KillReportsTheSignal) {
  ProcessLauncher launcher;
  absl::Notification exited;
  int status = 0;
  absl::StatusOr<pid_t> pid = launcher.Launch({{"sleep", "1000"}, "", {}, -1, -1, -1}, [&](pid_t, int s) {
    status = s;
    exited.Notify();
  });
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(launcher.Running(), std::vector<pid_t>{*pid});
  launcher.Kill(*pid);
  ASSERT_TRUE(exited.WaitForNotificationWithTimeout(kGenerous));
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_TRUE(launcher.Running().empty());
  launcher.Kill(*pid);  // gone: ignored
}

TEST_F(ProcessLauncherTest, MissingProgramIsAnError) {
  ProcessLauncher launcher;
  absl::StatusOr<pid_t> pid = launcher.Launch({{"/nonexistent/bgsync-worker"}, "", {}, -1, -1, -1}, nullptr);
  EXPECT_FALSE(pid.ok());
  EXPECT_FALSE(launcher.Launch({{}, "", {}, -1, -1, -1}, nullptr).ok());
}

TEST_F(ProcessLauncherTest, DestructionKillsRunningChildren) {
  absl::Notification exited;
  {
    ProcessLauncher launcher;
    ASSERT_TRUE(launcher.Launch({{"sleep", "1000"}, "", {}, -1, -1, -1}, [&](pid_t, int) { exited.Notify(); }).ok());
  }
  EXPECT_TRUE(exited.HasBeenNotified());
}

}  // namespace
}  // namespace bgsync
