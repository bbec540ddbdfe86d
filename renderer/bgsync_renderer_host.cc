// bgsync_renderer_host: a scriptable renderer process for tests and the demo.
//
// Reads its session from $BGSYNC_BOOTSTRAP_FD (renderer/session_bootstrap.h), then one command per line from
// stdin, answering each with one line on stdout (flushed):
//
//   register <sw_id> [<tag>]                          -> ok | error <DOMExceptionName> <message>
//   tags <sw_id>                                      -> tags[ <tag>]... | error <DOMExceptionName> <message>
//   periodic-register <sw_id> <tag> <min_interval_ms>  -> ok | error <DOMExceptionName> <message>
//   periodic-tags <sw_id>                             -> tags[ <tag>]... | error <DOMExceptionName> <message>
//   periodic-unregister <sw_id> [<tag>]               -> ok | error <DOMExceptionName> <message>
//   exit                                              -> (no answer) waits for outstanding calls and exits 0
//
// register/tags are ServiceWorkerRegistration.sync, the periodic-* commands ServiceWorkerRegistration.periodicSync.
// <min_interval_ms> is a decimal integer passed to the page API as is: a negative one is rejected locally with a
// TypeError, as the bindings do. In periodic-register an empty tag is an empty token (two spaces).
// Tags are percent-encoded both ways (renderer/tag_encoding.h): in a command "%20" is a space and "%25" a '%';
// in an answer every byte outside printable ASCII, and '%', is written "%XX" (an empty tag is an empty token).
// <sw_id> is sent as given (the browser validates it). A malformed command is answered with
// "error CommandError <what is wrong>". Blank lines are ignored; end of input is like exit.
//
// Usage: bgsync_renderer_host [--no-active-worker]
//   --no-active-worker   the page believes its service-worker registrations have no active worker, so register
//                        and periodic-register fail locally with InvalidStateError, periodic-tags answers "tags"
//                        and periodic-unregister "ok", all without IPC (as in Blink)
// Exit status: 0 after exit or end of input; 1 if the bootstrap could not be read; 2 on a bad argument.
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "public/background_sync_error.h"
#include "renderer/browser_channel.h"
#include "renderer/service_worker_registration.h"
#include "renderer/session_bootstrap.h"
#include "renderer/tag_encoding.h"

namespace bgsync {
namespace {

constexpr char kUsage[] =
    "usage: bgsync_renderer_host [--no-active-worker]\n"
    "commands on stdin, one answer line each on stdout (tags percent-encoded):\n"
    "  register <sw_id> [<tag>]\n"
    "  tags <sw_id>\n"
    "  periodic-register <sw_id> <tag> <min_interval_ms>\n"
    "  periodic-tags <sw_id>\n"
    "  periodic-unregister <sw_id> [<tag>]\n"
    "  exit\n";

class RendererHost {
 public:
  RendererHost(std::shared_ptr<grpc::Channel> channel, std::string token, bool has_active_worker)
      : channel_(std::move(channel)), token_(std::move(token)), has_active_worker_(has_active_worker) {}

  // Returns the answer line for a command other than exit.
  std::string Execute(absl::string_view line) {
    absl::string_view command = line.substr(0, line.find(' '));
    absl::string_view rest = command.size() < line.size() ? line.substr(command.size() + 1) : absl::string_view();
    if (command == "register")
      return Register(rest);
    if (command == "tags")
      return Tags(rest);
    if (command == "periodic-register")
      return PeriodicRegister(rest);
    if (command == "periodic-tags")
      return PeriodicTags(rest);
    if (command == "periodic-unregister")
      return PeriodicUnregister(rest);
    return CommandError(
        absl::StrCat("unknown command \"", command,
                     "\" (register, tags, periodic-register, periodic-tags, periodic-unregister, exit)"));
  }

  void WaitForPendingCalls() {
    for (auto& [id, registration] : registrations_) {
      registration->sync().WaitForPendingCalls();
      registration->periodic_sync().WaitForPendingCalls();
    }
  }

 private:
  static std::string CommandError(absl::string_view what) { return absl::StrCat("error CommandError ", what); }

  static std::string ErrorLine(const DomException& exception) {
    std::string message = absl::StrReplaceAll(exception.message, {{"\n", " "}, {"\r", " "}});
    return absl::StrCat("error ", exception.name, " ", message);
  }

  ServiceWorkerRegistration* Registration(absl::string_view sw_id) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(sw_id, &id))
      return nullptr;
    std::unique_ptr<ServiceWorkerRegistration>& registration = registrations_[id];
    if (!registration)
      registration = std::make_unique<ServiceWorkerRegistration>(channel_, token_, id, has_active_worker_);
    return registration.get();
  }

  static std::string ResultLine(const SyncResult& result) { return result.ok() ? "ok" : ErrorLine(result.exception()); }

  static std::string TagsLine(const TagsResult& result) {
    if (!result.ok())
      return ErrorLine(result.exception());
    std::string answer = "tags";
    for (const std::string& tag : result.tags())
      absl::StrAppend(&answer, " ", PercentEncodeTag(tag));
    return answer;
  }

  // "<sw_id> [<tag>]": the registration and the decoded tag (empty when absent); nullopt with `error` set if the
  // arguments are malformed.
  std::optional<std::pair<ServiceWorkerRegistration*, std::string>> RegistrationAndTag(absl::string_view arguments,
                                                                                       absl::string_view usage,
                                                                                       std::string& error) {
    absl::string_view sw_id = arguments.substr(0, arguments.find(' '));
    absl::string_view encoded_tag =
        sw_id.size() < arguments.size() ? arguments.substr(sw_id.size() + 1) : absl::string_view();
    ServiceWorkerRegistration* registration = Registration(sw_id);
    if (registration == nullptr) {
      error = CommandError(absl::StrCat("usage: ", usage));
      return std::nullopt;
    }
    std::optional<std::string> tag = PercentDecodeTag(encoded_tag);
    if (!tag) {
      error = CommandError("the tag is not percent-encoded correctly");
      return std::nullopt;
    }
    return std::make_pair(registration, *std::move(tag));
  }

  std::string Register(absl::string_view arguments) {
    std::string error;
    auto parsed = RegistrationAndTag(arguments, "register <sw_id> [<tag>]", error);
    if (!parsed)
      return error;
    return ResultLine(parsed->first->sync().RegisterAndWait(std::move(parsed->second)));
  }

  std::string Tags(absl::string_view arguments) {
    ServiceWorkerRegistration* registration = Registration(arguments);
    if (registration == nullptr)
      return CommandError("usage: tags <sw_id>");
    return TagsLine(registration->sync().GetTagsAndWait());
  }

  std::string PeriodicRegister(absl::string_view arguments) {
    constexpr absl::string_view kPeriodicRegisterUsage = "usage: periodic-register <sw_id> <tag> <min_interval_ms>";
    std::vector<absl::string_view> fields = absl::StrSplit(arguments, ' ');
    int64_t min_interval_ms = 0;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[2], &min_interval_ms))
      return CommandError(kPeriodicRegisterUsage);
    ServiceWorkerRegistration* registration = Registration(fields[0]);
    if (registration == nullptr)
      return CommandError(kPeriodicRegisterUsage);
    std::optional<std::string> tag = PercentDecodeTag(fields[1]);
    if (!tag)
      return CommandError("the tag is not percent-encoded correctly");
    return ResultLine(registration->periodic_sync().RegisterAndWait(*std::move(tag), min_interval_ms));
  }

  std::string PeriodicTags(absl::string_view arguments) {
    ServiceWorkerRegistration* registration = Registration(arguments);
    if (registration == nullptr)
      return CommandError("usage: periodic-tags <sw_id>");
    return TagsLine(registration->periodic_sync().GetTagsAndWait());
  }

  std::string PeriodicUnregister(absl::string_view arguments) {
    std::string error;
    auto parsed = RegistrationAndTag(arguments, "periodic-unregister <sw_id> [<tag>]", error);
    if (!parsed)
      return error;
    return ResultLine(parsed->first->periodic_sync().UnregisterAndWait(std::move(parsed->second)));
  }

  const std::shared_ptr<grpc::Channel> channel_;
  const std::string token_;
  const bool has_active_worker_;
  std::map<int64_t, std::unique_ptr<ServiceWorkerRegistration>> registrations_;
};

int Main(int argc, char** argv) {
  bool has_active_worker = true;
  for (int i = 1; i < argc; ++i) {
    absl::string_view argument = argv[i];
    if (argument == "--no-active-worker") {
      has_active_worker = false;
    } else if (argument == "--help" || argument == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "bgsync_renderer_host: unknown argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  absl::StatusOr<SessionBootstrap> bootstrap = ReadSessionBootstrap();
  if (!bootstrap.ok()) {
    std::fprintf(stderr, "bgsync_renderer_host: %s\n", bootstrap.status().ToString().c_str());
    return 1;
  }
  RendererHost host(ConnectToBrowser(*bootstrap), bootstrap->token, has_active_worker);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      continue;
    if (line == "exit")
      break;
    std::cout << host.Execute(line) << '\n' << std::flush;
  }
  // Let DidResolveRegistration calls finish, so that no registration waits for this process to go away.
  host.WaitForPendingCalls();
  return 0;
}

}  // namespace
}  // namespace bgsync

int main(int argc, char** argv) {
  return bgsync::Main(argc, argv);
}
