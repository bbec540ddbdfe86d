// NetlinkNetworkMonitor against the real kernel, in a network namespace each test creates for itself: a veth
// pair v0/v1 (v0 is the link under test, v1 gives it carrier) and a sentinel veth pair s0/s1. Needs root and
// iproute2; without them every test skips with the reason.
//
// No sleeps: each expected change is awaited with a generous deadline. A callback only reports a flip, so
// "nothing changed" is proven by ExpectStillOffline(): the sentinel gets a default route and loses it again,
// which must produce exactly one flip to online and one back — impossible if the monitor wrongly believed the
// machine online, and, since the kernel delivers messages in order, proof that everything before was processed.
#include "browser/connectivity/netlink_network_monitor.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

extern char** environ;

namespace bgsync {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(30);

struct CommandResult {
  int exit_code;       // -1 if it did not exit normally
  std::string output;  // stdout and stderr
};

// Runs argv[0] (a path) with stdout and stderr captured. Errors: the process could not be started.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    return absl::ErrnoToStatus(errno, "pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int spawn_error = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawn_error != 0) {
    close(pipe_fds[0]);
    return absl::ErrnoToStatus(spawn_error, absl::StrCat("posix_spawn ", argv[0]));
  }
  CommandResult result{-1, ""};
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n > 0) {
      result.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return absl::ErrnoToStatus(errno, "waitpid");
  }
  if (WIFEXITED(status))
    result.exit_code = WEXITSTATUS(status);
  return result;
}

// The `ip` binary; /usr/sbin is not on every PATH. Empty if iproute2 is missing.
std::string FindIp() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0)
      return path;
  }
  return "";
}

// What the monitor reported, in order. Optionally holds the monitor's thread inside the callback.
class ChangeLog {
 public:
  void Record(bool online) {
    absl::MutexLock lock(&mu_);
    changes_.push_back(online);
    auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hold_; };
    mu_.Await(absl::Condition(&released));
  }
  // Waits until `count` changes have been recorded; false after kDeadline.
  bool WaitForCount(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changes_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kDeadline);
  }
  std::vector<bool> changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }
  // While held, the callback returns only when released: the monitor reads nothing meanwhile.
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hold_ = false;
  }

 private:
  absl::Mutex mu_;
  std::vector<bool> changes_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
};

std::string Describe(const std::vector<bool>& changes) {
  return absl::StrCat(
      "[",
      absl::StrJoin(changes, ", ", [](std::string* out, bool online) { out->append(online ? "online" : "offline"); }),
      "]");
}

class NetlinkNetworkMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "creating a network namespace needs root; netlink monitor tests not run";
    ip_ = FindIp();
    if (ip_.empty())
      GTEST_SKIP() << "`ip` (Debian package iproute2) not found; netlink monitor tests not run";
    static int next = 0;
    const std::string name = absl::StrFormat("bgsync-test-%d-%d", getpid(), next++);
    absl::StatusOr<CommandResult> added = RunCommand({ip_, "netns", "add", name});
    if (!added.ok() || added->exit_code != 0) {
      GTEST_SKIP() << "cannot create a network namespace: " << (added.ok() ? added->output : added.status().ToString());
    }
    namespace_ = name;
    namespace_fd_ = open(("/var/run/netns/" + namespace_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(namespace_fd_, 0) << "open /var/run/netns/" << namespace_ << ": " << std::strerror(errno);
    // Entering a namespace needs CAP_SYS_ADMIN, which root in a container may lack.
    int setns_error = 0;
    std::thread([&] {
      if (setns(namespace_fd_, CLONE_NEWNET) != 0)
        setns_error = errno;
    }).join();
    if (setns_error == EPERM)
      GTEST_SKIP() << "setns(CLONE_NEWNET) is not permitted here; netlink monitor tests not run";
    ASSERT_EQ(setns_error, 0) << std::strerror(setns_error);

    absl::StatusOr<CommandResult> veth =
        RunCommand({ip_, "-n", namespace_, "link", "add", "v0", "type", "veth", "peer", "name", "v1"});
    if (!veth.ok() || veth->exit_code != 0)
      GTEST_SKIP() << "cannot create a veth pair: " << (veth.ok() ? veth->output : veth.status().ToString());
    Ip("link add s0 type veth peer name s1");
    Ip("link set v1 up");
    Ip("link set s1 up");
    Ip("link set s0 up");
    Ip("addr add 198.51.100.2/24 dev s0");
  }

  void TearDown() override {
    log_.Release();
    monitor_.reset();
    if (namespace_fd_ >= 0)
      close(namespace_fd_);
    if (!namespace_.empty()) {
      absl::StatusOr<CommandResult> deleted = RunCommand({ip_, "netns", "del", namespace_});
      EXPECT_TRUE(deleted.ok() && deleted->exit_code == 0)
          << "ip netns del " << namespace_ << ": " << (deleted.ok() ? deleted->output : deleted.status().ToString());
    }
  }

  // Runs `ip -n <namespace> <command>` and fails the test unless it succeeds; returns its output.
  std::string Ip(const std::string& command) {
    if (HasFatalFailure())
      return "";
    std::vector<std::string> argv = {ip_, "-n", namespace_};
    for (absl::string_view word : absl::StrSplit(command, ' ', absl::SkipEmpty()))
      argv.emplace_back(word);
    absl::StatusOr<CommandResult> result = RunCommand(argv);
    if (!result.ok()) {
      ADD_FAILURE() << "ip " << command << ": " << result.status();
      return "";
    }
    EXPECT_EQ(result->exit_code, 0) << "ip " << command << ": " << result->output;
    return result->output;
  }

  // Starts the monitor from a thread inside the namespace.
  void StartMonitor() {
    if (HasFatalFailure())
      return;
    absl::StatusOr<std::unique_ptr<NetlinkNetworkMonitor>> monitor = absl::UnknownError("not started");
    std::thread([&] {
      if (setns(namespace_fd_, CLONE_NEWNET) != 0) {
        monitor = absl::ErrnoToStatus(errno, "setns");
        return;
      }
      monitor = NetlinkNetworkMonitor::Start([this](bool online) { log_.Record(online); });
    }).join();
    ASSERT_TRUE(monitor.ok()) << monitor.status();
    monitor_ = std::move(*monitor);
  }

  // Waits for the next flip, to `online`, and checks every flip so far.
  void ExpectChange(bool online) {
    if (HasFatalFailure())
      return;
    expected_.push_back(online);
    ASSERT_TRUE(log_.WaitForCount(expected_.size()))
        << "no flip to " << (online ? "online" : "offline") << " within " << kDeadline
        << "; flips so far: " << Describe(log_.changes()) << ", expected " << Describe(expected_);
    ASSERT_EQ(log_.changes(), expected_) << "flips: " << Describe(log_.changes()) << ", expected "
                                         << Describe(expected_);
    EXPECT_EQ(monitor_->IsOnline(), online);
  }

  // Proves that the monitor has processed everything so far and believes the machine offline (see the top).
  void ExpectStillOffline() {
    if (HasFatalFailure())
      return;
    Ip("route add default via 198.51.100.1 dev s0 metric 100");
    ExpectChange(true);
    Ip("route del default via 198.51.100.1 dev s0 metric 100");
    ExpectChange(false);
  }

  // Link v0 up with 192.0.2.2/24 and a default route through 192.0.2.1.
  void ConnectV0() {
    Ip("link set v0 up");
    Ip("addr add 192.0.2.2/24 dev v0");
    Ip("route add default via 192.0.2.1 dev v0");
  }

  // Notifications the kernel has dropped on the namespace's NETLINK_ROUTE sockets (/proc/net/netlink, "Drops").
  uint64_t NetlinkDrops() {
    uint64_t drops = 0;
    std::thread([&] {
      if (setns(namespace_fd_, CLONE_NEWNET) != 0)
        return;
      std::ifstream table("/proc/thread-self/net/netlink");
      std::string line;
      std::getline(table, line);  // column names
      while (std::getline(table, line)) {
        // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
        std::istringstream fields(line);
        std::string sk, dump;
        int protocol;
        uint64_t pid, groups, rmem, wmem, locks, dropped;
        if (fields >> sk >> protocol >> pid >> std::hex >> groups >> std::dec >> rmem >> wmem >> dump >> locks >>
                dropped &&
            protocol == NETLINK_ROUTE) {
          drops += dropped;
        }
      }
    }).join();
    return drops;
  }

  std::string ip_;
  std::string namespace_;  // empty until created
  int namespace_fd_ = -1;
  ChangeLog log_;
  std::unique_ptr<NetlinkNetworkMonitor> monitor_;
  std::vector<bool> expected_;
};

TEST_F(NetlinkNetworkMonitorTest, FollowsLinksAddressesAndDefaultRoutes) {
  StartMonitor();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_FALSE(monitor_->IsOnline());
  ExpectStillOffline();

  // Everything a link needs to be online, in three steps: one flip.
  ConnectV0();
  ExpectChange(true);

  Ip("route del default via 192.0.2.1 dev v0");
  ExpectChange(false);
  Ip("route add default via 192.0.2.1 dev v0");
  ExpectChange(true);

  // Link down: the kernel flushes the default route without RTM_DELROUTE, and link up does not restore it.
  Ip("link set v0 down");
  ExpectChange(false);
  EXPECT_EQ(Ip("-4 route show default dev v0"), "");
  Ip("link set v0 up");
  ExpectStillOffline();
  EXPECT_EQ(Ip("-4 route show default dev v0"), "");
  Ip("route add default via 192.0.2.1 dev v0");
  ExpectChange(true);

  Ip("addr del 192.0.2.2/24 dev v0");
  ExpectChange(false);

  // Link-local addresses only, each family with a default route: offline.
  Ip("addr add 169.254.7.2/16 dev v0");
  Ip("route add default dev v0");
  Ip("-6 addr add fe80::7:2/64 dev v0 nodad");
  Ip("-6 route add default via fe80::1 dev v0");
  ExpectStillOffline();

  // A global IPv6 address makes the same link online.
  Ip("-6 addr add 2001:db8::2/64 dev v0 nodad");
  ExpectChange(true);
  Ip("-6 addr del 2001:db8::2/64 dev v0");
  ExpectChange(false);
  ExpectStillOffline();
}

TEST_F(NetlinkNetworkMonitorTest, StartsOnlineWithoutACallback) {
  ConnectV0();
  StartMonitor();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(monitor_->IsOnline());

  Ip("link set v0 down");
  ExpectChange(false);  // the first callback
}

TEST_F(NetlinkNetworkMonitorTest, CarrierLossKeepsTheDefaultRoute) {
  StartMonitor();
  ConnectV0();
  ExpectChange(true);

  // v0 stays IFF_UP but loses IFF_RUNNING and IFF_LOWER_UP; the kernel keeps (and does not announce) its routes.
  Ip("link set v1 down");
  ExpectChange(false);
  EXPECT_NE(Ip("-4 route show default dev v0"), "");

  Ip("link set v1 up");
  ExpectChange(true);  // without re-adding the route
}

TEST_F(NetlinkNetworkMonitorTest, RemovingTheLastIpv4AddressFlushesTheDefaultRoute) {
  StartMonitor();
  ConnectV0();
  ExpectChange(true);

  Ip("addr del 192.0.2.2/24 dev v0");
  ExpectChange(false);
  Ip("addr add 192.0.2.2/24 dev v0");
  ExpectStillOffline();
  EXPECT_EQ(Ip("-4 route show default dev v0"), "");

  Ip("route add default via 192.0.2.1 dev v0");
  ExpectChange(true);
}

TEST_F(NetlinkNetworkMonitorTest, AddressAndDefaultRouteMustShareAFamily) {
  StartMonitor();
  Ip("link set v0 up");
  Ip("addr add 192.0.2.2/24 dev v0");
  Ip("-6 route add default via fe80::1 dev v0");
  ExpectStillOffline();

  Ip("route add default via 192.0.2.1 dev v0");
  ExpectChange(true);
}

TEST_F(NetlinkNetworkMonitorTest, DumpsAgainWhenTheKernelDropsNotifications) {
  StartMonitor();
  log_.Hold();
  ConnectV0();
  ExpectChange(true);  // the monitor's thread is now held inside the callback

  // Queue an announced change, overflow the socket with route notifications, then undo the change and remove
  // v0's default route: those two notifications are lost, and the first alone would say "online".
  Ip("route add default via 198.51.100.1 dev s0 metric 100");
  const std::string batch = ::testing::TempDir() + "/bgsync_netlink_routes_" + namespace_;
  {
    std::ofstream file(batch);
    for (int i = 0; i < 20000; ++i)
      file << "route add 10." << i / 256 << "." << i % 256 << ".0/24 dev v0\n";
  }
  Ip("-batch " + batch);
  std::remove(batch.c_str());
  Ip("route del default via 198.51.100.1 dev s0 metric 100");
  Ip("route del default via 192.0.2.1 dev v0");
  log_.Release();

  ExpectChange(false);
  ExpectStillOffline();
  Ip("route add default via 192.0.2.1 dev v0");
  ExpectChange(true);

  const uint64_t drops = NetlinkDrops();
  RecordProperty("netlink_drops", std::to_string(drops));
  if (!HasFailure() && drops == 0)
    GTEST_SKIP() << "the socket never overflowed (net.core.rmem_max too large?): the re-dump was not exercised";
}

}  // namespace
}  // namespace bgsync
