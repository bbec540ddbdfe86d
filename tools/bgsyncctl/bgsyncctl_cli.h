// What every bgsyncctl command uses: exit statuses, the parsed command line, the connection to the browser's admin
// endpoint (browser/admin/admin.proto), failure reporting, and output in text or --json form.
//
// Thread-safety: bgsyncctl is single-threaded; none of this is thread-safe.
#ifndef TOOLS_BGSYNCCTL_BGSYNCCTL_CLI_H_
#define TOOLS_BGSYNCCTL_BGSYNCCTL_CLI_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tools/bgsyncctl/bgsyncctl_format.h"

namespace bgsync {
namespace bgsyncctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// How long an ordinary admin call may take.
inline constexpr absl::Duration kCallTimeout = absl::Seconds(30);

class Cli;
struct Args;
using Handler = int (*)(Cli& cli, const Args& args);

struct Command {
  const char* name;                        // the command words, e.g. "sw install"
  const char* synopsis;                    // what follows them, e.g. "ORIGIN SCOPE -- COMMAND..."
  const char* summary;                     // one line
  const char* details;                     // flags and notes; "" when none
  std::vector<std::string> switches;       // boolean flags, e.g. "--iframe"
  std::vector<std::string> value_options;  // flags that take a value, e.g. "--output"
  size_t min_positional;
  size_t max_positional;
  bool takes_command;  // "-- COMMAND..." holds an argv (sw install)
  Handler run;
};

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> command;  // after "--", for commands that take one
  std::set<std::string> switches;
  std::map<std::string, std::vector<std::string>> values;

  bool Has(const std::string& flag) const { return switches.count(flag) > 0 || values.count(flag) > 0; }
  // The last value given for `flag`, or "" when it was not given.
  std::string Value(const std::string& flag) const {
    auto it = values.find(flag);
    return it == values.end() || it->second.empty() ? std::string() : it->second.back();
  }
  std::vector<std::string> Values(const std::string& flag) const {
    auto it = values.find(flag);
    return it == values.end() ? std::vector<std::string>() : it->second;
  }
};

struct Globals {
  std::string profile;
  std::string admin_socket;
  bool json = false;
};

// True if `text` is a positive integer; stores it in *id.
bool ParseId(const std::string& text, int64_t* id);

// A relative path means the caller's working directory, not the browser's: returns it made absolute.
std::string AbsolutePath(const std::string& path);

// The connection to the browser and the helpers every command uses. Every method that returns an int returns an
// exit status, having reported a failure on stderr.
class Cli {
 public:
  using Stub = admin::BrowserAdmin::Stub;
  // A unary method of the admin stub, e.g. &Cli::Stub::GetStatus.
  template <typename Request, typename Reply>
  using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Reply*);
  // A server-streaming method of the admin stub, e.g. &Cli::Stub::StreamLog.
  template <typename Request, typename Item>
  using StreamMethod = std::unique_ptr<grpc::ClientReader<Item>> (Stub::*)(grpc::ClientContext*, const Request&);

  Cli(Globals globals, const Command* command) : globals_(std::move(globals)), command_(command) {}

  bool json() const { return globals_.json; }
  const std::string& admin_socket_path() const { return admin_socket_; }
  // Precondition: connected (by Connect or by a call).
  Stub& admin() { return *admin_; }

  // "bgsyncctl: <command>: <message>" on stderr; returns kExitFailed.
  int Fail(absl::string_view message) const;
  // A usage error of the current command: the message, then its synopsis. Returns kExitUsage.
  int Usage(absl::string_view message) const;
  // The usage error for an argument NAME that had to be a positive integer but was `text`.
  int NotAPositiveInteger(absl::string_view name, absl::string_view text) const;
  // Says the browser cannot be reached and how to start it. Returns kExitUnreachable.
  int Unreachable(absl::string_view message) const;

  // Finds the admin socket (--admin-socket, or <profile>/RuntimeDirectory), checks that it accepts connections
  // and makes the stub. Returns kExitOk, or kExitUnreachable after saying why. The calls below connect first if
  // nothing has.
  int Connect();

  // Runs `call` on a fresh context with a deadline `timeout` away (none when infinite) and turns its status into
  // an exit status.
  template <typename Call>
  int Rpc(Call call, absl::Duration timeout = kCallTimeout) {
    if (!admin_) {
      if (int rc = Connect())
        return rc;
    }
    grpc::ClientContext context;
    if (timeout != absl::InfiniteDuration())
      context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return Check(call(&context), *admin_channel_);
  }

  // Calls `method` with `request`, filling `reply`.
  template <typename Request, typename Reply>
  int Call(Method<Request, Reply> method, const Request& request, Reply* reply, absl::Duration timeout = kCallTimeout) {
    return Rpc([&](grpc::ClientContext* context) { return (admin().*method)(context, request, reply); }, timeout);
  }

  // Calls `method`, which has nothing to answer, and prints "ok" (PrintOk) when it succeeded.
  template <typename Request>
  int CallAndPrintOk(Method<Request, admin::Empty> method, const Request& request) {
    admin::Empty reply;
    if (int rc = Call(method, request, &reply))
      return rc;
    PrintOk();
    return kExitOk;
  }

  // Calls `method` with `request` and runs `print(item)` for every item it streams, flushing stdout after each;
  // without a deadline when `follow`.
  template <typename Request, typename Item, typename Print>
  int ReadStream(StreamMethod<Request, Item> method, const Request& request, bool follow, Print print) {
    return Rpc(
        [&](grpc::ClientContext* context) {
          std::unique_ptr<grpc::ClientReader<Item>> reader = (admin().*method)(context, request);
          Item item;
          while (reader->Read(&item)) {
            print(item);
            std::fflush(stdout);
          }
          return reader->Finish();
        },
        follow ? absl::InfiniteDuration() : kCallTimeout);
  }

  // Turns a finished call's status into an exit status, reporting a failure. UNAVAILABLE on a channel that is no
  // longer connected means the browser went away (kExitUnreachable); every other error is the operation's.
  int Check(const grpc::Status& status, grpc::Channel& channel) const;

  // Prints `json_value` in --json mode, else `text`; then a newline.
  void PrintLine(absl::string_view json_value, absl::string_view text) const;
  // Prints "ok" (or {"ok":true}) for a command that has nothing else to say.
  void PrintOk() const { PrintLine("{\"ok\":true}", "ok"); }
  // Prints `json_value` and a newline in --json mode, else `table`.
  void PrintTable(absl::string_view json_value, const Table& table) const;
  // Prints the JSON array of `json_values` in --json mode, else `lines`, one per line.
  void PrintLines(const std::vector<std::string>& json_values, const std::vector<std::string>& lines) const;

 private:
  Globals globals_;
  const Command* command_;
  std::string profile_;
  std::string admin_socket_;
  std::shared_ptr<grpc::Channel> admin_channel_;
  std::unique_ptr<Stub> admin_;
};

// Reads a TAG argument: literal bytes, or with --encoded the printed form (percent-encoding, `""` for empty).
// Returns false after a usage error (its exit status in *rc).
bool ParseTagArgument(Cli& cli, const Args& args, const std::string& text, std::string* tag, int* rc);

}  // namespace bgsyncctl
}  // namespace bgsync

#endif  // TOOLS_BGSYNCCTL_BGSYNCCTL_CLI_H_
