// bgsync_renderer_host and bgsync_test_worker as real processes, against the fake browser services: their
// command lines, bootstrap descriptor and line protocol.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/impl/codegen/grpc_types.h"
#include "gtest/gtest.h"
#include "renderer/fake_browser_services.h"
#include "renderer/test_server.h"

extern char** environ;

namespace bgsync {
namespace {

// The descriptors a child finds its bootstrap and its channel on (as the browser's launcher does).
constexpr int kChildBootstrapFd = 3;
constexpr int kChildChannelFd = 4;

std::string BinaryDirectory() {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0)
    return ".";
  std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

std::string BootstrapText(const SessionBootstrap& bootstrap, bool service_worker) {
  std::string text =
      absl::StrCat("socket=", bootstrap.socket_path, "\ntoken=", bootstrap.token, "\norigin=https://mail.example\n");
  absl::StrAppend(&text, service_worker ? "client_type=service_worker\nservice_worker_registration_id=4\n"
                                        : "client_type=window\n");
  return text;
}

// As the browser's launcher writes it: the channel at kChildChannelFd, no socket.
std::string ChannelBootstrapText(bool service_worker) {
  std::string text =
      absl::StrCat("channel_fd=", kChildChannelFd, "\ntoken=", kTestSessionToken, "\norigin=https://mail.example\n");
  absl::StrAppend(&text, service_worker ? "client_type=service_worker\nservice_worker_registration_id=4\n"
                                        : "client_type=window\n");
  return text;
}

// A child process with pipes on its stdin and stdout, its bootstrap on an inherited descriptor and, when
// `channel_fd` is set, that descriptor (which the caller still owns) as its channel at kChildChannelFd.
class ChildProcess {
 public:
  ChildProcess(const std::string& binary,
               const std::vector<std::string>& arguments,
               const std::string& bootstrap,
               int channel_fd = -1) {
    int to_child[2], from_child[2], bootstrap_pipe[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0 || pipe2(bootstrap_pipe, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2 failed";
      return;
    }
    // The text is small: it fits in the pipe, so the child can read it to end-of-file later.
    EXPECT_EQ(write(bootstrap_pipe[1], bootstrap.data(), bootstrap.size()), static_cast<ssize_t>(bootstrap.size()));
    close(bootstrap_pipe[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, bootstrap_pipe[0], kChildBootstrapFd);
    if (channel_fd >= 0)
      posix_spawn_file_actions_adddup2(&actions, channel_fd, kChildChannelFd);

    std::string path = BinaryDirectory() + "/" + binary;
    std::vector<std::string> argv_strings = {path};
    argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& argument : argv_strings)
      argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (!absl::StartsWith(*entry, "BGSYNC_BOOTSTRAP_FD="))
        env_strings.emplace_back(*entry);
    }
    env_strings.push_back(absl::StrCat("BGSYNC_BOOTSTRAP_FD=", kChildBootstrapFd));
    std::vector<char*> envp;
    for (std::string& entry : env_strings)
      envp.push_back(entry.data());
    envp.push_back(nullptr);

    int error = posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(to_child[0]);
    close(from_child[1]);
    close(bootstrap_pipe[0]);
    stdin_ = to_child[1];
    stdout_ = from_child[0];
    if (error != 0) {
      ADD_FAILURE() << "posix_spawn " << path << ": " << strerror(error);
      pid_ = -1;
    }
  }

  ~ChildProcess() {
    CloseStdin();
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0)
      close(stdout_);
  }

  bool started() const { return pid_ > 0; }

  void WriteLine(const std::string& line) {
    std::string text = line + "\n";
    EXPECT_EQ(write(stdin_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }

  void CloseStdin() {
    if (stdin_ >= 0)
      close(stdin_);
    stdin_ = -1;
  }

  // The next line on the child's stdout (without '\n'); nullopt at end-of-file or after kTestTimeout.
  std::optional<std::string> ReadLine() {
    absl::Time deadline = absl::Now() + kTestTimeout;
    while (true) {
      size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      if (!WaitReadable(deadline))
        return std::nullopt;
      char chunk[4096];
      ssize_t n = read(stdout_, chunk, sizeof(chunk));
      if (n <= 0)
        return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Waits for the child to exit (it closes stdout when it does) and returns its wait status; kills it after
  // kTestTimeout.
  int Wait() {
    absl::Time deadline = absl::Now() + kTestTimeout;
    char chunk[4096];
    while (WaitReadable(deadline) && read(stdout_, chunk, sizeof(chunk)) > 0) {
    }
    if (absl::Now() >= deadline) {
      ADD_FAILURE() << "the child did not exit";
      kill(pid_, SIGKILL);
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  bool WaitReadable(absl::Time deadline) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration())
      return false;
    pollfd fd = {stdout_, POLLIN, 0};
    return poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) > 0;
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string buffer_;
};

bool ExitedWith(int status, int code) {
  return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

class RendererHostProcessTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.started()); }

  FakeSyncService service_;
  FakePeriodicSyncService periodic_;
  TestServer server_{{&service_, &periodic_}};
};

TEST_F(RendererHostProcessTest, AnswersEachCommandWithOneLine) {
  ChildProcess host("bgsync_renderer_host", {}, BootstrapText(server_.Bootstrap(), false));
  ASSERT_TRUE(host.started());

  host.WriteLine("register 5 a%20b");
  EXPECT_EQ(host.ReadLine(), "ok");
  host.WriteLine("register 5 outbox");
  EXPECT_EQ(host.ReadLine(), "ok");

  mojom::GetRegistrationsReply tags;
  for (const char* tag : {"a b", "outbox", "100%"})
    tags.mutable_registrations()->add_registrations()->set_tag(tag);
  service_.SetGetRegistrationsReply(tags);
  host.WriteLine("tags 5");
  EXPECT_EQ(host.ReadLine(), "tags a%20b outbox 100%25");

  service_.SetRegisterError(mojom::BACKGROUND_SYNC_ERROR_QUOTA_EXCEEDED);
  host.WriteLine("register 5 more");
  EXPECT_EQ(host.ReadLine(), "error QuotaExceededError Registration failed - too many sync registrations");

  host.WriteLine("frobnicate 5");
  std::optional<std::string> line = host.ReadLine();
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StartsWith(*line, "error CommandError ")) << *line;
  host.WriteLine("register five x");
  line = host.ReadLine();
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StartsWith(*line, "error CommandError ")) << *line;

  host.WriteLine("exit");
  EXPECT_TRUE(ExitedWith(host.Wait(), 0));

  // Both successful registrations were acknowledged before the process exited.
  std::vector<ReceivedCall> calls = service_.calls();
  std::vector<std::string> acknowledged;
  for (const ReceivedCall& call : calls) {
    EXPECT_EQ(call.tokens, std::vector<std::string>{kTestSessionToken});
    EXPECT_EQ(call.service_worker_registration_id, 5);
    if (call.method == "DidResolveRegistration")
      acknowledged.push_back(call.tag);
  }
  // Acknowledgements are asynchronous: their order is not the registrations'.
  std::sort(acknowledged.begin(), acknowledged.end());
  EXPECT_EQ(acknowledged, (std::vector<std::string>{"a b", "outbox"}));
}

TEST_F(RendererHostProcessTest, NoActiveWorkerFailsRegisterLocally) {
  ChildProcess host("bgsync_renderer_host", {"--no-active-worker"}, BootstrapText(server_.Bootstrap(), false));
  ASSERT_TRUE(host.started());
  host.WriteLine("register 5 outbox");
  EXPECT_EQ(host.ReadLine(), "error InvalidStateError Registration failed - no active Service Worker");
  host.WriteLine("tags 5");
  EXPECT_EQ(host.ReadLine(), "tags");
  host.CloseStdin();
  EXPECT_TRUE(ExitedWith(host.Wait(), 0));
  EXPECT_EQ(service_.CountOf("Register"), 0);
  EXPECT_EQ(service_.CountOf("GetRegistrations"), 1);
}

TEST_F(RendererHostProcessTest, PeriodicCommandsUsePeriodicSync) {
  ChildProcess host("bgsync_renderer_host", {}, BootstrapText(server_.Bootstrap(), false));
  ASSERT_TRUE(host.started());

  host.WriteLine("periodic-register 5 a%20b 3600000");
  EXPECT_EQ(host.ReadLine(), "ok");
  host.WriteLine("periodic-register 5  0");  // the empty tag
  EXPECT_EQ(host.ReadLine(), "ok");
  // A negative interval never reaches the browser: the bindings reject it.
  host.WriteLine("periodic-register 5 news -1");
  std::optional<std::string> line = host.ReadLine();
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StartsWith(*line, "error TypeError ")) << *line;

  mojom::GetRegistrationsReply tags;
  for (const char* tag : {"a b", "news", "100%"})
    tags.mutable_registrations()->add_registrations()->set_tag(tag);
  periodic_.SetGetRegistrationsReply(tags);
  host.WriteLine("periodic-tags 5");
  EXPECT_EQ(host.ReadLine(), "tags a%20b news 100%25");
  host.WriteLine("periodic-unregister 5 a%20b");
  EXPECT_EQ(host.ReadLine(), "ok");

  mojom::UnregisterReply failed;
  failed.set_error(mojom::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  periodic_.SetUnregisterReply(failed);
  host.WriteLine("periodic-unregister 5 news");
  EXPECT_EQ(host.ReadLine(), "error UnknownError No service worker is active.");
  periodic_.SetRegisterError(mojom::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  host.WriteLine("periodic-register 5 news 0");
  EXPECT_EQ(host.ReadLine(), "error NotAllowedError Permission denied.");

  for (const char* malformed : {"periodic-register 5 news", "periodic-register 5 news ten", "periodic-register x n 1",
                                "periodic-register 5 %zz 1", "periodic-tags five", "periodic-unregister x news"}) {
    host.WriteLine(malformed);
    line = host.ReadLine();
    ASSERT_TRUE(line.has_value());
    EXPECT_TRUE(absl::StartsWith(*line, "error CommandError ")) << malformed << " -> " << *line;
  }
  host.WriteLine("exit");
  EXPECT_TRUE(ExitedWith(host.Wait(), 0));

  std::vector<ReceivedCall> calls = periodic_.calls();
  std::vector<std::string> summary;
  for (const ReceivedCall& call : calls) {
    EXPECT_EQ(call.tokens, std::vector<std::string>{kTestSessionToken});
    EXPECT_EQ(call.service_worker_registration_id, 5);
    summary.push_back(absl::StrCat(call.method, " ", call.tag, " ", call.min_interval_ms));
  }
  EXPECT_EQ(summary, (std::vector<std::string>{"Register a b 3600000", "Register  0", "GetRegistrations  0",
                                               "Unregister a b 0", "Unregister news 0", "Register news 0"}));
  EXPECT_TRUE(service_.calls().empty()) << "a periodic command reached the one-shot service";
}

TEST_F(RendererHostProcessTest, NoActiveWorkerAnswersPeriodicCommandsLocally) {
  ChildProcess host("bgsync_renderer_host", {"--no-active-worker"}, BootstrapText(server_.Bootstrap(), false));
  ASSERT_TRUE(host.started());
  host.WriteLine("periodic-register 5 news 1000");
  EXPECT_EQ(host.ReadLine(), "error InvalidStateError Registration failed - no active Service Worker");
  host.WriteLine("periodic-tags 5");
  EXPECT_EQ(host.ReadLine(), "tags");
  host.WriteLine("periodic-unregister 5 news");
  EXPECT_EQ(host.ReadLine(), "ok");
  host.CloseStdin();
  EXPECT_TRUE(ExitedWith(host.Wait(), 0));
  EXPECT_TRUE(periodic_.calls().empty());
}

TEST_F(RendererHostProcessTest, BadBootstrapOrArgumentFails) {
  ChildProcess bad_bootstrap("bgsync_renderer_host", {}, "token=short\n");
  ASSERT_TRUE(bad_bootstrap.started());
  EXPECT_TRUE(ExitedWith(bad_bootstrap.Wait(), 1));
  ChildProcess bad_argument("bgsync_renderer_host", {"--frobnicate"}, BootstrapText(server_.Bootstrap(), false));
  ASSERT_TRUE(bad_argument.started());
  EXPECT_TRUE(ExitedWith(bad_argument.Wait(), 2));
}

// The browser launches processes with a private channel instead of a socket: everything above works over it.
TEST_F(RendererHostProcessTest, TalksOverItsInheritedChannel) {
  const int channel = server_.ServeChannel();
  ASSERT_GE(channel, 0);
  ChildProcess host("bgsync_renderer_host", {}, ChannelBootstrapText(false), channel);
  close(channel);
  ASSERT_TRUE(host.started());
  host.WriteLine("register 5 outbox");
  EXPECT_EQ(host.ReadLine(), "ok");
  host.WriteLine("periodic-tags 5");
  EXPECT_EQ(host.ReadLine(), "tags");
  host.WriteLine("exit");
  EXPECT_TRUE(ExitedWith(host.Wait(), 0));
  std::vector<ReceivedCall> calls = service_.calls();
  calls.push_back(periodic_.calls().at(0));
  ASSERT_EQ(calls.size(), 3u);  // Register, DidResolveRegistration, periodic GetRegistrations
  for (const ReceivedCall& call : calls) {
    EXPECT_EQ(call.tokens, std::vector<std::string>{kTestSessionToken}) << call.method;
    EXPECT_TRUE(absl::StartsWith(call.peer, "fd:")) << call.method << " came from " << call.peer;
  }
}

TEST_F(RendererHostProcessTest, AChannelDescriptorThatIsNotOpenFailsTheBootstrap) {
  ChildProcess host("bgsync_renderer_host", {}, ChannelBootstrapText(false));  // nothing at kChildChannelFd
  ASSERT_TRUE(host.started());
  EXPECT_TRUE(ExitedWith(host.Wait(), 1));
}

// A channel from a descriptor cannot reconnect, and gRPC reads it only while someone polls: an idle renderer must
// still answer the browser's keepalive pings, or the browser closes its only connection. Here the server pings
// after 100 ms without traffic and gives up 100 ms later; the renderer stays idle for 1.5 s (seven keepalive
// rounds) between two calls. The wait is the subject of the test, not a synchronisation.
TEST(RendererHostKeepaliveTest, AnIdleRendererKeepsItsChannelThroughKeepalivePings) {
  FakeSyncService service;
  TestServer server({&service}, {{GRPC_ARG_KEEPALIVE_TIME_MS, 100},
                                 {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 100},
                                 {GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1},
                                 {GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0}});
  ASSERT_TRUE(server.started());
  const int channel = server.ServeChannel();
  ASSERT_GE(channel, 0);
  ChildProcess host("bgsync_renderer_host", {}, ChannelBootstrapText(false), channel);
  close(channel);
  ASSERT_TRUE(host.started());
  host.WriteLine("tags 5");
  EXPECT_EQ(host.ReadLine(), "tags");
  absl::SleepFor(absl::Milliseconds(1500));
  host.WriteLine("tags 5");
  EXPECT_EQ(host.ReadLine(), "tags") << "the browser dropped the idle renderer's channel";
  host.WriteLine("exit");
  EXPECT_TRUE(ExitedWith(host.Wait(), 0));
  EXPECT_EQ(service.CountOf("GetRegistrations"), 2);
}

class TestWorkerProcessTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.started());
    char directory[] = "/tmp/bgsync-worker-log-XXXXXX";
    ASSERT_NE(mkdtemp(directory), nullptr);
    log_directory_ = directory;
    log_path_ = log_directory_ + "/events.log";
  }
  void TearDown() override {
    unlink(log_path_.c_str());
    rmdir(log_directory_.c_str());
  }

  std::string Log() {
    std::ifstream file(log_path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  // Starts the worker and waits for its stream; nullptr on failure.
  FakeWorkerStream* StartWorker(ChildProcess& worker) {
    if (!worker.started())
      return nullptr;
    FakeWorkerStream* stream = host_.WaitForStream();
    if (stream == nullptr || !stream->WaitForMessages(1))
      return nullptr;
    EXPECT_TRUE(stream->received()[0].has_ready());
    EXPECT_EQ(stream->tokens(), std::vector<std::string>{kTestSessionToken});
    return stream;
  }

  FakeWorkerHost host_;
  TestServer server_{{&host_}};
  std::string log_directory_;
  std::string log_path_;
};

mojom::SyncEventStatus ResultStatus(FakeWorkerStream* stream, size_t index, uint64_t event_id) {
  if (!stream->WaitForMessages(index + 1))
    return mojom::SYNC_EVENT_STATUS_UNSPECIFIED;
  mojom::WorkerMessage message = stream->received()[index];
  EXPECT_EQ(message.sync_event_result().event_id(), event_id);
  return message.sync_event_result().status();
}

TEST_F(TestWorkerProcessTest, FailsTheFirstEventsThenCompletesAndLogsEach) {
  ChildProcess worker("bgsync_test_worker", {"--fail-first=1", "--log=" + log_path_},
                      BootstrapText(server_.Bootstrap(), true));
  FakeWorkerStream* stream = StartWorker(worker);
  ASSERT_NE(stream, nullptr);
  stream->SendSyncEvent(1, "a b", false, 60000);
  EXPECT_EQ(ResultStatus(stream, 1, 1), mojom::SYNC_EVENT_STATUS_REJECTED);
  stream->SendSyncEvent(2, "outbox", true, 60000);
  EXPECT_EQ(ResultStatus(stream, 2, 2), mojom::SYNC_EVENT_STATUS_COMPLETED);
  stream->End(grpc::Status::OK);
  EXPECT_TRUE(ExitedWith(worker.Wait(), 0));
  EXPECT_EQ(Log(), "event a%20b last_chance=0\nevent outbox last_chance=1\n");
}

TEST_F(TestWorkerProcessTest, PeriodicEventsShareFailFirstAndAreLoggedApart) {
  ChildProcess worker("bgsync_test_worker", {"--fail-first=2", "--log=" + log_path_},
                      BootstrapText(server_.Bootstrap(), true));
  FakeWorkerStream* stream = StartWorker(worker);
  ASSERT_NE(stream, nullptr);
  stream->SendPeriodicSyncEvent(1, "a b", 60000);
  EXPECT_EQ(ResultStatus(stream, 1, 1), mojom::SYNC_EVENT_STATUS_REJECTED);
  stream->SendSyncEvent(2, "outbox", false, 60000);
  EXPECT_EQ(ResultStatus(stream, 2, 2), mojom::SYNC_EVENT_STATUS_REJECTED);
  stream->SendPeriodicSyncEvent(3, "news", 60000);
  EXPECT_EQ(ResultStatus(stream, 3, 3), mojom::SYNC_EVENT_STATUS_COMPLETED);
  stream->End(grpc::Status::OK);
  EXPECT_TRUE(ExitedWith(worker.Wait(), 0));
  EXPECT_EQ(Log(), "periodicsync a%20b\nevent outbox last_chance=0\nperiodicsync news\n");
}

TEST_F(TestWorkerProcessTest, PeriodicOutcomeRejected) {
  ChildProcess rejecting("bgsync_test_worker", {"--outcome=rejected"}, BootstrapText(server_.Bootstrap(), true));
  FakeWorkerStream* stream = StartWorker(rejecting);
  ASSERT_NE(stream, nullptr);
  stream->SendPeriodicSyncEvent(9, "x", 60000);
  EXPECT_EQ(ResultStatus(stream, 1, 9), mojom::SYNC_EVENT_STATUS_REJECTED);
  stream->End(grpc::Status::OK);
  EXPECT_TRUE(ExitedWith(rejecting.Wait(), 0));
}

TEST_F(TestWorkerProcessTest, OutcomeRejected) {
  ChildProcess worker("bgsync_test_worker", {"--outcome=rejected"}, BootstrapText(server_.Bootstrap(), true));
  FakeWorkerStream* stream = StartWorker(worker);
  ASSERT_NE(stream, nullptr);
  stream->SendSyncEvent(9, "x", false, 60000);
  EXPECT_EQ(ResultStatus(stream, 1, 9), mojom::SYNC_EVENT_STATUS_REJECTED);
  stream->End(grpc::Status::OK);
  EXPECT_TRUE(ExitedWith(worker.Wait(), 0));
}

TEST_F(TestWorkerProcessTest, OutcomeCrashAbortsOnTheFirstEvent) {
  ChildProcess worker("bgsync_test_worker", {"--outcome=crash", "--log=" + log_path_},
                      BootstrapText(server_.Bootstrap(), true));
  FakeWorkerStream* stream = StartWorker(worker);
  ASSERT_NE(stream, nullptr);
  stream->SendSyncEvent(1, "x", true, 60000);
  int status = worker.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) << status;
  EXPECT_TRUE(stream->WaitForHalfClose());
  EXPECT_EQ(stream->received().size(), 1u);
  EXPECT_EQ(Log(), "event x last_chance=1\n");
}

TEST_F(TestWorkerProcessTest, OutcomeHangNeverAnswersButExitsWhenTheStreamEnds) {
  ChildProcess worker("bgsync_test_worker", {"--outcome=hang", "--log=" + log_path_},
                      BootstrapText(server_.Bootstrap(), true));
  FakeWorkerStream* stream = StartWorker(worker);
  ASSERT_NE(stream, nullptr);
  stream->SendSyncEvent(1, "x", false, 60000);
  stream->End(grpc::Status::OK);
  EXPECT_TRUE(ExitedWith(worker.Wait(), 0));
  EXPECT_EQ(stream->received().size(), 1u);
}

TEST_F(TestWorkerProcessTest, WorksOverItsInheritedChannel) {
  const int channel = server_.ServeChannel();
  ASSERT_GE(channel, 0);
  ChildProcess worker("bgsync_test_worker", {"--log=" + log_path_}, ChannelBootstrapText(true), channel);
  close(channel);
  FakeWorkerStream* stream = StartWorker(worker);
  ASSERT_NE(stream, nullptr);
  stream->SendSyncEvent(1, "outbox", false, 60000);
  EXPECT_EQ(ResultStatus(stream, 1, 1), mojom::SYNC_EVENT_STATUS_COMPLETED);
  stream->End(grpc::Status::OK);
  EXPECT_TRUE(ExitedWith(worker.Wait(), 0));
  EXPECT_EQ(Log(), "event outbox last_chance=0\n");
}

TEST_F(TestWorkerProcessTest, StreamErrorFailsTheWorker) {
  ChildProcess worker("bgsync_test_worker", {}, BootstrapText(server_.Bootstrap(), true));
  FakeWorkerStream* stream = StartWorker(worker);
  ASSERT_NE(stream, nullptr);
  stream->End(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "session revoked"));
  EXPECT_TRUE(ExitedWith(worker.Wait(), 1));
}

}  // namespace
}  // namespace bgsync
