#include "browser/process/process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

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

// A child that lists its own descriptors (ls -l /proc/self/fd, its stdout a file): what each one is.
class ListingChild {
 public:
  explicit ListingChild(const std::string& dir) : out_(dir + "/fds") {}

  // Launches with `channel_fd` (the child's end, or -1) and waits for the child; false on failure.
  bool Run(ProcessLauncher& launcher, int channel_fd) {
    const int output = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (output < 0)
      return false;
    absl::Notification exited;
    LaunchOptions options;
    options.argv = {"/bin/ls", "-l", "/proc/self/fd"};
    options.bootstrap = "channel_fd=4\n";
    options.stdout_fd = output;
    options.channel_fd = channel_fd;
    const bool launched = launcher
                              .Launch(options,
                                      [&](pid_t, int s) {
                                        status_ = s;
                                        exited.Notify();
                                      })
                              .ok();
    close(output);
    return launched && exited.WaitForNotificationWithTimeout(kGenerous);
  }

  int status() const { return status_; }

  // Descriptor -> what it is ("socket:[inode]", a path), as the child saw them; without the directory ls read
  // and without those this test process lets every child inherit (the environment's: a test runner may leave
  // some open without close-on-exec, and the launcher does not close what it did not open).
  std::map<int, std::string> Descriptors() const {
    std::map<int, std::string> result;
    std::stringstream listing(ReadFile(out_));
    for (std::string line; std::getline(listing, line);) {
      const size_t arrow = line.find(" -> ");
      const size_t space = arrow == std::string::npos ? std::string::npos : line.rfind(' ', arrow - 1);
      if (space == std::string::npos)
        continue;
      const int fd = std::stoi(line.substr(space + 1, arrow - space - 1));
      const std::string target = line.substr(arrow + 4);
      if (target.rfind("/proc/", 0) == 0)
        continue;  // ls's own directory
      const int flags = fd > kChannelFd ? fcntl(fd, F_GETFD) : -1;
      if (flags != -1 && !(flags & FD_CLOEXEC))
        continue;  // inherited from the environment
      result[fd] = target;
    }
    return result;
  }

 private:
  const std::string out_;
  int status_ = -1;
};

// "socket:[inode]", as /proc shows a socket descriptor.
std::string SocketName(int fd) {
  struct stat info;
  if (fstat(fd, &info) != 0)
    return "";
  return "socket:[" + std::to_string(info.st_ino) + "]";
}

std::vector<int> Numbers(const std::map<int, std::string>& descriptors) {
  std::vector<int> numbers;
  for (const auto& [fd, target] : descriptors)
    numbers.push_back(fd);
  return numbers;
}

TEST_F(ProcessLauncherTest, TheChannelArrivesAtDescriptor4AndNothingElseLeaks) {
  int channel[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel), 0);
  ProcessLauncher launcher;
  ListingChild child(dir_);
  ASSERT_TRUE(child.Run(launcher, channel[1]));
  EXPECT_TRUE(WIFEXITED(child.status()) && WEXITSTATUS(child.status()) == 0) << child.status();
  const std::map<int, std::string> descriptors = child.Descriptors();
  EXPECT_EQ(Numbers(descriptors), (std::vector<int>{0, 1, 2, kBootstrapFd, kChannelFd}));
  EXPECT_EQ(descriptors.count(kChannelFd) ? descriptors.at(kChannelFd) : "", SocketName(channel[1]));
  // The caller's end is still its own and open.
  EXPECT_NE(fcntl(channel[1], F_GETFD), -1);
  close(channel[0]), close(channel[1]);
}

TEST_F(ProcessLauncherTest, WithoutAChannelDescriptor4IsNotInherited) {
  ProcessLauncher launcher;
  ListingChild child(dir_);
  ASSERT_TRUE(child.Run(launcher, -1));
  EXPECT_EQ(Numbers(child.Descriptors()), (std::vector<int>{0, 1, 2, kBootstrapFd}));
}

// A caller whose channel is descriptor 3, the bootstrap's number in the child: neither clobbers the other.
TEST_F(ProcessLauncherTest, AChannelOnDescriptor3IsNotClobberedByTheBootstrap) {
  int channel[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel), 0);
  const std::string channel_name = SocketName(channel[1]);
  // Park whatever this process has on 3, put the channel there, and restore 3 afterwards.
  const int parked = fcntl(3, F_DUPFD_CLOEXEC, 100);
  ASSERT_EQ(dup3(channel[1], 3, O_CLOEXEC), 3);
  close(channel[1]);
  ProcessLauncher launcher;
  ListingChild child(dir_);
  const bool ran = child.Run(launcher, 3);
  if (parked >= 0) {
    dup3(parked, 3, O_CLOEXEC);
    close(parked);
  } else {
    close(3);
  }
  close(channel[0]);
  ASSERT_TRUE(ran);
  const std::map<int, std::string> descriptors = child.Descriptors();
  EXPECT_EQ(Numbers(descriptors), (std::vector<int>{0, 1, 2, kBootstrapFd, kChannelFd}));
  EXPECT_EQ(descriptors.count(kChannelFd) ? descriptors.at(kChannelFd) : "", channel_name);
  ASSERT_TRUE(descriptors.count(kBootstrapFd));
  EXPECT_NE(descriptors.at(kBootstrapFd), channel_name) << "the channel was copied over the bootstrap";
  EXPECT_EQ(descriptors.at(kBootstrapFd).rfind("socket:[", 0), 0u);
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
