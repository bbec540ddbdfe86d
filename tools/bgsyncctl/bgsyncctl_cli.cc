#include "tools/bgsyncctl/bgsyncctl_cli.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

// Returns the default profile directory, or "" when neither $XDG_DATA_HOME nor $HOME is set.
std::string DefaultProfile() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg)
    return absl::StrCat(xdg, "/bgsync/Default");
  if (home && *home)
    return absl::StrCat(home, "/.local/share/bgsync/Default");
  return "";
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Connects to the unix socket at `path` and disconnects: "" if it accepts, else why not.
std::string ProbeSocket(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path))
    return absl::StrCat("the socket path ", path, " is too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::StrCat("socket: ", std::strerror(errno));
  int result = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  int error = errno;
  close(fd);
  if (result == 0)
    return "";
  if (error == ENOENT)
    return absl::StrCat(path, " does not exist (the browser exited?)");
  if (error == ECONNREFUSED)
    return absl::StrCat("connection to ", path, " refused (the browser exited?)");
  return absl::StrCat("cannot connect to ", path, ": ", std::strerror(error));
}

}  // namespace

bool ParseId(const std::string& text, int64_t* id) {
  return absl::SimpleAtoi(text, id) && *id > 0;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/')
    return path;
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

int Cli::Fail(absl::string_view message) const {
  std::fprintf(stderr, "bgsyncctl: %s: %s\n", command_->name, std::string(message).c_str());
  return kExitFailed;
}

int Cli::Usage(absl::string_view message) const {
  std::fprintf(stderr, "bgsyncctl: %s: %s\nusage: bgsyncctl %s %s\n(see `bgsyncctl %s --help`)\n", command_->name,
               std::string(message).c_str(), command_->name, command_->synopsis, command_->name);
  return kExitUsage;
}

int Cli::NotAPositiveInteger(absl::string_view name, absl::string_view text) const {
  return Usage(absl::StrCat(name, " must be a positive integer, not \"", text, "\""));
}

int Cli::Unreachable(absl::string_view message) const {
  std::fprintf(stderr, "bgsyncctl: cannot reach the browser: %s\n", std::string(message).c_str());
  if (globals_.admin_socket.empty()) {
    std::string profile_flag = globals_.profile.empty() ? "" : " --profile " + ShellJoin({profile_});
    std::fprintf(stderr, "bgsyncctl: is bgsync_browser running? start it with: bgsync_browser%s\n",
                 profile_flag.c_str());
  } else {
    std::fprintf(stderr, "bgsyncctl: is bgsync_browser running? start it with: bgsync_browser [--profile DIR]\n");
  }
  return kExitUnreachable;
}

int Cli::Connect() {
  if (!globals_.admin_socket.empty()) {
    admin_socket_ = globals_.admin_socket;
  } else {
    profile_ = globals_.profile.empty() ? DefaultProfile() : globals_.profile;
    if (profile_.empty())
      return Unreachable("no profile: neither $XDG_DATA_HOME nor $HOME is set (use --profile or --admin-socket)");
    const std::string file = profile_ + "/RuntimeDirectory";
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    std::string runtime(absl::StripAsciiWhitespace(text.str()));
    if (!in || runtime.empty())
      return Unreachable(absl::StrCat("no browser runs on the profile ", profile_, " (", file, " does not exist)"));
    admin_socket_ = runtime + "/admin.sock";
  }
  if (std::string error = ProbeSocket(admin_socket_); !error.empty())
    return Unreachable(error);

  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);  // a local socket: never through a proxy
  admin_channel_ = grpc::CreateCustomChannel("unix:" + admin_socket_, grpc::InsecureChannelCredentials(), arguments);
  admin_ = admin::BrowserAdmin::NewStub(admin_channel_);
  return kExitOk;
}

int Cli::Check(const grpc::Status& status, grpc::Channel& channel) const {
  if (status.ok())
    return kExitOk;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && channel.GetState(false) != GRPC_CHANNEL_READY)
    return Unreachable(absl::StrCat("lost the connection to ", admin_socket_, ": ", status.error_message()));
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
    return Fail("the browser did not answer in time");
  return Fail(status.error_message().empty() ? CodeName(status.error_code()) : status.error_message());
}

void Cli::PrintLine(absl::string_view json_value, absl::string_view text) const {
  std::printf("%s\n", std::string(json() ? json_value : text).c_str());
}

void Cli::PrintTable(absl::string_view json_value, const Table& table) const {
  if (json()) {
    std::printf("%s\n", std::string(json_value).c_str());
  } else {
    std::printf("%s", table.Render().c_str());
  }
}

void Cli::PrintLines(const std::vector<std::string>& json_values, const std::vector<std::string>& lines) const {
  if (json()) {
    std::printf("%s\n", JsonArray(json_values).c_str());
    return;
  }
  for (const std::string& line : lines)
    std::printf("%s\n", line.c_str());
}

bool ParseTagArgument(Cli& cli, const Args& args, const std::string& text, std::string* tag, int* rc) {
  if (!args.Has("--encoded")) {
    *tag = text;
    return true;
  }
  std::optional<std::string> decoded = ParseDisplayTag(text);
  if (!decoded) {
    *rc = cli.Usage(absl::StrCat("the tag \"", text, "\" is not percent-encoded (a '%' needs two hex digits)"));
    return false;
  }
  *tag = *std::move(decoded);
  return true;
}

}  // namespace bgsyncctl
}  // namespace bgsync
