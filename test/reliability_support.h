// Shared by the worker-fault and hostile-renderer tests (worker_faults_test.cc, hostile_renderer_test.cc,
// renderer_flood_test.cc): reading the browser's event log and status through the admin endpoint, the command
// line and the log of bgsync_fault_worker, and the renderer-facing stubs on an admin-opened session.
#ifndef TEST_RELIABILITY_SUPPORT_H_
#define TEST_RELIABILITY_SUPPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "browser/admin/admin.grpc.pb.h"
#include "public/mojom/background_sync.grpc.pb.h"

namespace bgsync {

// True in AddressSanitizer builds, which slow everything down and keep freed memory in quarantine: tests print
// their timing, CPU and memory figures there but assert them only in normal builds.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// The browser's event log, whole (non-following StreamLog).
std::vector<admin::LogEntry> ReadEventLog(admin::BrowserAdmin::Stub& admin);
// Entries named `event` (and with `tag`, when given).
int CountEvents(const std::vector<admin::LogEntry>& log, const std::string& event, const std::string* tag = nullptr);

admin::BrowserStatus GetBrowserStatus(admin::BrowserAdmin::Stub& admin);
// The registrations of `origin`, as ListRegistrations returns them, serialized: equal strings mean equal state.
std::string RegistrationsOf(admin::BrowserAdmin::Stub& admin, const std::string& origin);

// A session opened through the admin endpoint, as a tool or a test acting as a renderer does: the token and
// stubs of both renderer-facing services on a channel of its own (its own connection).
struct RendererSession {
  uint64_t id = 0;
  std::string token;
  std::string socket_path;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> one_shot;
  std::unique_ptr<mojom::PeriodicBackgroundSyncService::Stub> periodic;
};
// Opens a window session of `origin`. Returns a session with an empty token if the admin call fails.
RendererSession OpenRendererSession(admin::BrowserAdmin::Stub& admin, const std::string& origin);
void CloseRendererSession(admin::BrowserAdmin::Stub& admin, uint64_t session_id);

// Installs and activates a service worker of `origin` for `scope` (an origin has one registration per scope)
// whose process runs `command`. Returns its registration id, or 0 if the admin endpoint refused.
int64_t InstallServiceWorker(admin::BrowserAdmin::Stub& admin,
                             const std::string& origin,
                             const std::string& scope,
                             const std::vector<std::string>& command);

// The argv of bgsync_fault_worker (next to the test binary) logging to `log` with `flags`.
std::vector<std::string> FaultWorkerCommand(const std::string& log, const std::vector<std::string>& flags);

// One line of a bgsync_fault_worker log (see test/bgsync_fault_worker.cc).
struct FaultWorkerLine {
  std::string kind;  // "launched", "start", "end", "forged", "stream-end", "token"
  std::string tag;   // percent-encoded, as logged
  uint64_t event_id = 0;
  pid_t pid = 0;
  int64_t mono_ns = 0;
  int64_t timeout_ms = 0;
  std::string rest;  // stream-end: "<code> <message>"; token: the token
};
std::vector<FaultWorkerLine> ReadFaultWorkerLog(const std::string& path);
// The lines of `kind`.
std::vector<FaultWorkerLine> LinesOf(const std::vector<FaultWorkerLine>& lines, const std::string& kind);

}  // namespace bgsync

#endif  // TEST_RELIABILITY_SUPPORT_H_
