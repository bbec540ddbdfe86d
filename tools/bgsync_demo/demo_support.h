// What the multi-process demos share: a timeline printer, waiting with a deadline, a loopback TCP server for the
// demo's "web server", and a bgsync_browser the demo starts, stops and drives through its admin endpoint.
//
// Threading: Say() may be called from any thread. LoopbackServer runs its handler on its own thread. DemoBrowser
// is used from the demo's main thread only.
#ifndef TOOLS_BGSYNC_DEMO_DEMO_SUPPORT_H_
#define TOOLS_BGSYNC_DEMO_DEMO_SUPPORT_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"
#include "grpcpp/grpcpp.h"

namespace bgsync::demo {

// How long the demos wait for anything that should happen: generous, since CI machines are slow.
constexpr absl::Duration kGenerous = absl::Seconds(60);

// Prints "[  1.234s] line" (seconds since the program started) and flushes.
void Say(const std::string& line);
// The file's contents; empty if it cannot be read.
std::string ReadFile(const std::string& path);
// The directory of the running executable (where the other demo binaries are).
std::string BinaryDirectory();

// Polls `condition` every 10 ms until it holds (true) or `timeout` passes (false).
bool Eventually(const std::function<bool()>& condition, absl::Duration timeout = kGenerous);

// A TCP server on 127.0.0.1 (an ephemeral port). For each connection, `handler` gets the bytes received so far
// and returns the reply once the request is complete, or nullopt to read more; then the connection is closed.
class LoopbackServer {
 public:
  using Handler = std::function<std::optional<std::string>(const std::string& request)>;
  explicit LoopbackServer(Handler handler) : handler_(std::move(handler)) {}
  ~LoopbackServer() { Stop(); }

  // Binds, listens and starts serving. False if the socket could not be set up.
  bool Start();
  // Stops accepting and joins the thread. Idempotent.
  void Stop();
  int port() const { return port_; }

 private:
  void Serve();

  const Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// A bgsync_browser on `profile`, started with `flags`, and its admin endpoint.
class DemoBrowser {
 public:
  DemoBrowser(std::string profile, std::vector<std::string> flags);
  ~DemoBrowser() { Stop(); }

  // Launches the browser and waits until its admin endpoint answers. False if it does not come up.
  bool Start();
  // SIGTERM and wait for the exit. Idempotent.
  void Stop();
  // SIGKILL and wait for the exit. False if it does not die.
  bool Kill();

  // Runs one admin call with a deadline; on failure prints why and returns false.
  template <typename Rpc>
  bool Call(Rpc rpc) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    return Report(rpc(*admin_, &context));
  }
  admin::BrowserAdmin::Stub& admin() { return *admin_; }
  pid_t pid() const { return pid_; }

  // Installs and activates a service worker for `origin` running `command`; returns its id, or 0 on failure.
  int64_t InstallWorker(const std::string& origin, const std::vector<std::string>& command);
  // Every sync registration (empty if the call fails).
  std::vector<admin::Registration> Registrations();
  bool SetNetwork(admin::SetNetworkEmulationRequest::Mode mode);

 private:
  bool Report(const grpc::Status& status);

  const std::string profile_;
  const std::vector<std::string> flags_;
  ProcessLauncher launcher_;
  pid_t pid_ = 0;
  std::shared_ptr<absl::Notification> exited_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

}  // namespace bgsync::demo

#endif  // TOOLS_BGSYNC_DEMO_DEMO_SUPPORT_H_
