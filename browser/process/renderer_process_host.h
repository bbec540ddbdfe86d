// Launches renderer processes for an origin as a top-level window or an iframe, each on its own session bound to
// its own channel, and ends the session when the process exits (its unacknowledged registrations then become
// fireable).
#ifndef BROWSER_PROCESS_RENDERER_PROCESS_HOST_H_
#define BROWSER_PROCESS_RENDERER_PROCESS_HOST_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "browser/process/child_channel_factory.h"
#include "browser/process/process_launcher.h"
#include "components/background_sync/lifetime_guard.h"
#include "services/background_sync/session_registry.h"

namespace bgsync {

// Thread-safety: every method may be called from any thread. Pointers are not owned and must outlive this.
class RendererProcessHost {
 public:
  struct Options {
    std::string renderer_binary;  // the renderer host program (bgsync_renderer_host)
  };
  struct Opened {
    pid_t pid = 0;
    uint64_t session_id = 0;
  };

  // Every renderer gets a channel of `channels` and a session bound to it. `on_exit` is told about every
  // renderer that exits (for the event log); may be empty.
  RendererProcessHost(Options options,
                      ProcessLauncher* launcher,
                      SessionRegistry* sessions,
                      ChildChannelFactory* channels,
                      std::function<void(pid_t, const Origin&)> on_exit = nullptr);
  ~RendererProcessHost();

  // Launches a renderer for `origin` as `type` (kWindow or kIframe). Its stdin gets `script` (one command per
  // line) and is then closed unless `keep_open`; its stdout and stderr append to `output_path` ("" = /dev/null).
  // Errors: kInvalidArgument for a service-worker type or an origin that is not potentially trustworthy; the
  // channel factory's, the launcher's or the file's error.
  absl::StatusOr<Opened> Open(const Origin& origin,
                              ClientType type,
                              const std::vector<std::string>& script,
                              const std::string& output_path,
                              bool keep_open);

  // Kills a renderer this host launched. Returns false (and does nothing) for any other pid.
  bool Close(pid_t pid);

 private:
  void OnExit(pid_t pid, uint64_t session_id);

  const Options options_;
  ProcessLauncher* const launcher_;
  SessionRegistry* const sessions_;
  ChildChannelFactory* const channels_;
  const std::function<void(pid_t, const Origin&)> on_exit_;
  // Exit callbacks run on the launcher's reaper threads, possibly after this is gone.
  const std::shared_ptr<LifetimeGuard> guard_ = std::make_shared<LifetimeGuard>();

  absl::Mutex mu_;
  struct Renderer {
    Origin origin;
    int stdin_fd = -1;  // held open for keep_open renderers
  };
  absl::flat_hash_map<pid_t, Renderer> renderers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_PROCESS_RENDERER_PROCESS_HOST_H_
