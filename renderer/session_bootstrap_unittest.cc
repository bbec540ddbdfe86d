#include "renderer/session_bootstrap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

constexpr char kToken[] = "3f9c0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7";

std::string WindowText() {
  return absl::StrCat("socket=/tmp/bgsync-Ab12Cd/browser.sock\n", "token=", kToken, "\n",
                      "origin=https://mail.example\n", "client_type=window\n");
}

std::string ServiceWorkerText() {
  return absl::StrCat("socket=/tmp/bgsync-Ab12Cd/browser.sock\n", "token=", kToken, "\n",
                      "origin=https://mail.example:8443\n", "client_type=service_worker\n",
                      "service_worker_registration_id=17\n");
}

// What the browser hands a process it launches: the channel, no socket.
std::string LaunchedText() {
  return absl::StrCat("channel_fd=4\n", "token=", kToken, "\n", "origin=https://mail.example\n",
                      "client_type=service_worker\n", "service_worker_registration_id=17\n");
}

// `text` with the line starting with `key=` removed.
std::string Without(const std::string& text, const std::string& key) {
  std::string result;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start + 1);
    if (line.rfind(key + "=", 0) != 0)
      result += line;
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return result;
}

TEST(SessionBootstrapTest, ParsesAWindowSession) {
  absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(WindowText());
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->socket_path, "/tmp/bgsync-Ab12Cd/browser.sock");
  EXPECT_EQ(bootstrap->token, kToken);
  EXPECT_EQ(bootstrap->origin.Serialize(), "https://mail.example");
  EXPECT_EQ(bootstrap->client_type, SessionClientType::kWindow);
  EXPECT_EQ(bootstrap->service_worker_registration_id, 0);
}

TEST(SessionBootstrapTest, ParsesAServiceWorkerSession) {
  absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(ServiceWorkerText());
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->origin.Serialize(), "https://mail.example:8443");
  EXPECT_EQ(bootstrap->client_type, SessionClientType::kServiceWorker);
  EXPECT_EQ(bootstrap->service_worker_registration_id, 17);
}

TEST(SessionBootstrapTest, AcceptsIframeBlankLinesUnknownKeysAndNoFinalNewline) {
  std::string text = absl::StrReplaceAll(WindowText(), {{"client_type=window\n", "\nclient_type=iframe"}});
  text = "future_key=whatever=it is\n" + text;
  absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(text);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->client_type, SessionClientType::kIframe);
}

TEST(SessionBootstrapTest, ValueMayContainEquals) {
  std::string text = absl::StrReplaceAll(WindowText(), {{"browser.sock", "a=b.sock"}});
  absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(text);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->socket_path, "/tmp/bgsync-Ab12Cd/a=b.sock");
}

TEST(SessionBootstrapTest, RejectsMissingKeys) {
  for (const char* key : {"socket", "token", "origin", "client_type"}) {
    absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(Without(WindowText(), key));
    EXPECT_EQ(bootstrap.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_NE(bootstrap.status().message().find(key), absl::string_view::npos) << bootstrap.status();
  }
  EXPECT_EQ(ParseSessionBootstrap(Without(ServiceWorkerText(), "service_worker_registration_id")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSessionBootstrap("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SessionBootstrapTest, RejectsBadTokens) {
  const std::string bad_tokens[] = {
      "",
      std::string(63, 'a'),
      std::string(65, 'a'),
      absl::StrReplaceAll(kToken, {{"f", "F"}}),  // upper case
      absl::StrReplaceAll(kToken, {{"a", "g"}}),  // not hex
      std::string(kToken).substr(1) + " ",
  };
  for (const std::string& token : bad_tokens) {
    std::string text = absl::StrReplaceAll(WindowText(), {{kToken, token}});
    EXPECT_EQ(ParseSessionBootstrap(text).status().code(), absl::StatusCode::kInvalidArgument) << token;
  }
}

TEST(SessionBootstrapTest, RejectsBadOrigins) {
  for (const char* origin : {"", "mail.example", "https://mail.example/path", "https://mail.example:99999"}) {
    std::string text = absl::StrReplaceAll(WindowText(), {{"https://mail.example", origin}});
    absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(text);
    EXPECT_EQ(bootstrap.status().code(), absl::StatusCode::kInvalidArgument) << origin;
    EXPECT_NE(bootstrap.status().message().find("origin"), absl::string_view::npos) << bootstrap.status();
  }
}

TEST(SessionBootstrapTest, RejectsOtherMalformedInput) {
  const std::string cases[] = {
      absl::StrReplaceAll(WindowText(), {{"/tmp/bgsync-Ab12Cd/browser.sock", ""}}),  // empty socket
      WindowText() + "socket=/elsewhere\n",                                          // repeated key
      WindowText() + "no equals sign\n",
      absl::StrReplaceAll(WindowText(), {{"client_type=window", "client_type=popup"}}),
      absl::StrReplaceAll(ServiceWorkerText(), {{"_id=17", "_id=0"}}),
      absl::StrReplaceAll(ServiceWorkerText(), {{"_id=17", "_id=-3"}}),
      absl::StrReplaceAll(ServiceWorkerText(), {{"_id=17", "_id=seventeen"}}),
  };
  for (const std::string& text : cases)
    EXPECT_EQ(ParseSessionBootstrap(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
}

TEST(SessionBootstrapTest, ParsesALaunchedProcessChannelWithoutASocket) {
  absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(LaunchedText());
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->channel_fd, 4);
  EXPECT_EQ(bootstrap->socket_path, "");
  EXPECT_EQ(bootstrap->token, kToken);
  EXPECT_EQ(bootstrap->service_worker_registration_id, 17);
}

TEST(SessionBootstrapTest, ChannelIsOptionalAndMayComeWithASocket) {
  absl::StatusOr<SessionBootstrap> socket_only = ParseSessionBootstrap(WindowText());
  ASSERT_TRUE(socket_only.ok()) << socket_only.status();
  EXPECT_EQ(socket_only->channel_fd, -1);
  absl::StatusOr<SessionBootstrap> both = ParseSessionBootstrap("channel_fd=9\n" + WindowText());
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->channel_fd, 9);
  EXPECT_EQ(both->socket_path, "/tmp/bgsync-Ab12Cd/browser.sock");
}

TEST(SessionBootstrapTest, RejectsBadChannelDescriptors) {
  for (const char* value : {"", "0", "1", "2", "-4", "+4", " 4", "4 ", "four", "4x", "0x4", "99999999999"}) {
    absl::StatusOr<SessionBootstrap> bootstrap = ParseSessionBootstrap(
        absl::StrReplaceAll(LaunchedText(), {{"channel_fd=4", absl::StrCat("channel_fd=", value)}}));
    EXPECT_EQ(bootstrap.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << value << "\"";
    EXPECT_NE(bootstrap.status().message().find("channel_fd"), absl::string_view::npos) << bootstrap.status();
  }
  EXPECT_EQ(ParseSessionBootstrap(LaunchedText() + "channel_fd=5\n").status().code(),
            absl::StatusCode::kInvalidArgument)
      << "repeated";
  // Neither a channel nor a socket: nothing to connect to.
  absl::StatusOr<SessionBootstrap> neither = ParseSessionBootstrap(Without(LaunchedText(), "channel_fd"));
  EXPECT_EQ(neither.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(neither.status().message().find("socket"), absl::string_view::npos) << neither.status();
}

TEST(SessionBootstrapTest, TokenCheck) {
  EXPECT_TRUE(IsWellFormedSessionToken(kToken));
  EXPECT_FALSE(IsWellFormedSessionToken(std::string(64, 'A')));
}

// A pipe holding `text`, write end closed; returns the read end.
int PipeWith(const std::string& text) {
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  EXPECT_EQ(write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fds[1]);
  return fds[0];
}

bool IsOpen(int fd) {
  return fcntl(fd, F_GETFD) != -1;
}

TEST(SessionBootstrapTest, ReadsTheDescriptorToEndAndClosesIt) {
  int fd = PipeWith(ServiceWorkerText());
  ASSERT_GE(fd, 0);
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrapFromFd(fd);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->service_worker_registration_id, 17);
  EXPECT_FALSE(IsOpen(fd));
}

TEST(SessionBootstrapTest, ClosesTheDescriptorAlsoWhenTheTextIsBad) {
  int fd = PipeWith("token=nope\n");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadSessionBootstrapFromFd(fd).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsOpen(fd));
}

TEST(SessionBootstrapTest, ReadsTheDescriptorNamedByTheEnvironment) {
  int fd = PipeWith(WindowText());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(setenv(kBootstrapFdEnvironmentVariable, std::to_string(fd).c_str(), 1), 0);
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  unsetenv(kBootstrapFdEnvironmentVariable);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->token, kToken);
  EXPECT_FALSE(IsOpen(fd));
}

// ReadSessionBootstrap checks the inherited channel: an open stream socket, then marked close-on-exec.
TEST(SessionBootstrapTest, TheChannelNamedByTheEnvironmentMustBeAnOpenStreamSocket) {
  int channel[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, channel), 0);
  const std::string with_channel =
      absl::StrReplaceAll(LaunchedText(), {{"channel_fd=4", absl::StrCat("channel_fd=", channel[1])}});
  int fd = PipeWith(with_channel);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(setenv(kBootstrapFdEnvironmentVariable, std::to_string(fd).c_str(), 1), 0);
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->channel_fd, channel[1]);
  EXPECT_TRUE(fcntl(channel[1], F_GETFD) & FD_CLOEXEC);

  // A descriptor that is not open, and one that is not a socket.
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  close(channel[1]);
  for (int not_a_channel : {channel[1], pipe_fds[0]}) {
    fd = PipeWith(absl::StrReplaceAll(LaunchedText(), {{"channel_fd=4", absl::StrCat("channel_fd=", not_a_channel)}}));
    ASSERT_GE(fd, 0);
    ASSERT_EQ(setenv(kBootstrapFdEnvironmentVariable, std::to_string(fd).c_str(), 1), 0);
    EXPECT_EQ(ReadSessionBootstrap().status().code(), absl::StatusCode::kFailedPrecondition) << not_a_channel;
  }
  unsetenv(kBootstrapFdEnvironmentVariable);
  close(channel[0]), close(pipe_fds[0]), close(pipe_fds[1]);
}

TEST(SessionBootstrapTest, EnvironmentErrors) {
  unsetenv(kBootstrapFdEnvironmentVariable);
  EXPECT_EQ(ReadSessionBootstrap().status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(setenv(kBootstrapFdEnvironmentVariable, "three", 1), 0);
  EXPECT_EQ(ReadSessionBootstrap().status().code(), absl::StatusCode::kInvalidArgument);
  unsetenv(kBootstrapFdEnvironmentVariable);
}

}  // namespace
}  // namespace bgsync
