// CaseRun: what a conformance case's body uses to drive the browser, wait and judge. It talks only to the public
// endpoints: the admin endpoint (admin.sock) and, on sessions the admin endpoint opens, the renderer-facing
// services (browser.sock). Service workers are bgsync_test_worker processes the browser launches, each scripted
// by the case (outcome, failures first, held events) and logging every event it receives.
//
// Every call is recorded in the observed sequence with its time since the case started. Checks record a failure
// ("expected ...; observed ...") and return whether they held, so a body can stop where going on makes no sense:
//
//   if (!run.CheckRegistered(run.Register(page, sw.id, "outbox"), "outbox")) return;
//
// Each case gets its own origins (unique per run), so cases never see each other's service workers or windows;
// the service workers, sessions, permissions and engagement levels a case creates are removed when it ends.
//
// Thread-safety: one thread, except Register and the admin calls, which may be made concurrently.
#ifndef TEST_CONFORMANCE_CASE_RUN_H_
#define TEST_CONFORMANCE_CASE_RUN_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "public/mojom/background_sync.grpc.pb.h"
#include "test/conformance/conformance_case.h"

namespace bgsync::conformance {

// Every wait of the suite: long enough for a loaded machine; only a broken browser makes a case wait this long.
inline constexpr absl::Duration kGenerous = absl::Seconds(60);

// How a case's service worker (a bgsync_test_worker) settles the events it receives.
struct WorkerScript {
  std::string outcome = "completed";  // completed | rejected | hang | crash
  int fail_first = 0;                 // the first N events of each worker process are rejected
  bool hold = false;                  // every event waits for CaseRun::ReleaseEvents before settling
};

struct Worker {
  int64_t id = 0;  // the service-worker registration id
  std::string origin;
  std::string log;   // one line per event received: "event <tag> last_chance=<0|1>" or "periodicsync <tag>"
  std::string gate;  // created by ReleaseEvents
};

// A page: a window (or iframe) session of an origin, opened through the admin endpoint.
struct Page {
  std::string origin;
  uint64_t session_id = 0;
  std::string token;
  bool open = false;
  std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> one_shot;
  std::unique_ptr<mojom::PeriodicBackgroundSyncService::Stub> periodic;
};

class CaseRun {
 public:
  CaseRun(ConformanceContext& context, std::string case_name);
  CaseRun(const CaseRun&) = delete;
  CaseRun& operator=(const CaseRun&) = delete;
  ~CaseRun();

  const BrowserParameters& parameters() const { return context_.parameters; }
  ConformanceContext& context() { return context_; }
  admin::BrowserAdmin::Stub& admin() { return *admin_; }

  // --- Setup through the admin endpoint ---

  // A fresh secure origin, unique to this case and run: "https://<label>-<n>-<nonce>.conformance.example".
  std::string NewOrigin(const std::string& label);
  // Installs a service worker for `origin` (a scope of its own under the origin) running bgsync_test_worker as `script`
  // says, and activates it unless `activate` is false. Returns nullopt (with a failure recorded) if the admin call
  // fails.
  std::optional<Worker> InstallWorker(const std::string& origin, const WorkerScript& script, bool activate = true);
  bool UnregisterServiceWorker(int64_t id);
  // Whole-browser connectivity emulation.
  bool SetNetwork(admin::SetNetworkEmulationRequest::Mode mode);
  bool SetOnline() { return SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE); }
  bool SetOffline() { return SetNetwork(admin::SetNetworkEmulationRequest::MODE_OFFLINE); }
  // DevTools-style offline emulation of one service-worker registration (reference-counted by the browser).
  bool EmulateOffline(int64_t sw, bool offline);
  bool SetPermission(const std::string& origin, bool periodic, admin::SetPermissionRequest::Setting setting);
  // Site engagement, which spaces out the origin's periodic events ("none" suspends them); set back to the default
  // when the case ends. SetEngagement checks that the browser took the level.
  bool SetEngagement(const std::string& origin, admin::EngagementLevel level);
  // The origin's engagement as the admin endpoint reports it; nullopt (observed, not a failure) when the call fails,
  // e.g. UNIMPLEMENTED from a browser without an engagement store.
  std::optional<admin::EngagementReply> GetEngagement(const std::string& origin);
  // Lets every held event of `worker` settle (and every later one run without waiting).
  void ReleaseEvents(const Worker& worker);

  // --- Pages ---

  // Opens a session of `origin` as a top-level window (or an iframe). The returned page lives as long as this.
  Page& OpenPage(const std::string& origin, admin::ClientType type = admin::CLIENT_TYPE_WINDOW);
  // The page goes away (the browser revokes its session).
  bool ClosePage(Page& page);

  // SyncManager.register(tag); with `acknowledge`, a success is acknowledged (DidResolveRegistration) as a page
  // does once it has the result. An RPC failure is recorded and gives a reply with neither member set.
  mojom::RegisterReply Register(Page& page, int64_t sw, const std::string& tag, bool acknowledge = true);
  bool Acknowledge(Page& page, int64_t sw, const std::string& tag);
  mojom::GetRegistrationsReply GetTags(Page& page, int64_t sw);
  // PeriodicSyncManager.register / unregister / getTags.
  mojom::RegisterReply PeriodicRegister(Page& page, int64_t sw, const std::string& tag, int64_t min_interval_ms);
  mojom::UnregisterReply PeriodicUnregister(Page& page, int64_t sw, const std::string& tag);
  mojom::GetRegistrationsReply PeriodicGetTags(Page& page, int64_t sw);
  // A client context carrying `page`'s session and a generous deadline, for raw calls.
  void Authenticate(grpc::ClientContext& context, const Page& page);

  // --- Observation ---

  // The registrations of service worker `sw` (both types) as the admin endpoint lists them.
  std::vector<admin::Registration> Registrations(int64_t sw);
  // The registration `tag` of `sw` of `type` ("one-shot" or "periodic"), if listed.
  std::optional<admin::Registration> Find(int64_t sw, const std::string& tag, const std::string& type = "one-shot");
  // The browser's explanation of why `tag` is (not) firing; its `reason` is "" when there is no such registration.
  admin::Registration Explain(const Worker& worker, const std::string& tag, bool periodic = false);
  // The lines `worker` has logged so far (one per event received, by every process of that service worker).
  std::vector<std::string> Events(const Worker& worker);
  // The browser's event log entries of this case's service workers, so far.
  std::vector<admin::LogEntry> BrowserLog();
  // The log entries of `sw` named `event` (e.g. "Dispatched sync event"), in order.
  std::vector<admin::LogEntry> BrowserLog(int64_t sw, const std::string& event);
  int64_t BadMessages();
  // Milliseconds since the Unix epoch, now (comparable with the browser's times: same machine).
  static int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

  // --- Waiting and judging ---

  // Polls `condition` until it holds (returns true) or `timeout` passes (records a failure naming `what` and
  // returns false).
  bool Eventually(const std::string& what, const std::function<bool()>& condition, absl::Duration timeout = kGenerous);
  // Records `expected` as a failure unless `ok`; `observed` says what was seen instead.
  bool Check(bool ok, const std::string& expected, const std::string& observed = "");
  bool CheckRegistered(const mojom::RegisterReply& reply, const std::string& tag);
  // The reply carries `error` on the wire, and a page sees the DOMException chromium.md's table gives for it
  // (ToDomException in public/background_sync_error.h).
  bool CheckError(const mojom::RegisterReply& reply, mojom::BackgroundSyncError error);
  bool CheckError(mojom::BackgroundSyncError actual, mojom::BackgroundSyncError error, const std::string& call);
  // Checks that `events` (a worker's log) is exactly `expected`.
  bool CheckEvents(const Worker& worker, const std::vector<std::string>& expected);
  // Adds a line to the observed sequence.
  void Observe(const std::string& line);
  // Marks the case skipped (the body should return).
  void Skip(const std::string& reason);
  // Takes in the failures and observations of a case run on another browser (`label` prefixes its lines).
  void Absorb(const CaseResult& inner, const std::string& label);

  // --- The browser itself (CaseNeeds::kRestart) ---

  // Stops the browser with `signal`, starts it again on its profile (offline) and reconnects. Every page's session
  // is gone afterwards. Records a failure and returns false if it cannot.
  bool RestartBrowser(int signal);

  // Ends the case: cleans up and returns the result. Called once, by RunConformanceCase.
  CaseResult Finish();

 private:
  void Connect();
  void PullBrowserLog();
  void Cleanup();
  std::string Stamp() const;
  void Fail(const std::string& failure);

  ConformanceContext& context_;
  const std::string case_name_;
  const absl::Time start_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;

  absl::Mutex mu_;
  std::vector<std::string> observed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
  std::string skip_reason_;

  std::vector<Worker> workers_;
  std::set<int64_t> emulated_offline_;
  std::set<std::pair<std::string, bool>> permissions_set_;
  std::set<std::string> engagements_set_;
  std::deque<Page> pages_;
  // The browser log: entries of this case's service workers collected so far.
  std::vector<admin::LogEntry> log_;
  bool finished_ = false;
};

// A tag for reports: printable ASCII as is, other bytes "%XX", long tags shortened ("aaaa…(10241 bytes)").
std::string ShowTag(const std::string& tag);
// One registration for reports: "outbox one-shot waiting 1/3 next=+980ms failure=rejected resolved".
std::string DescribeRegistration(const admin::Registration& r);
std::string DescribeReply(const mojom::RegisterReply& reply);
std::string DescribeTags(const mojom::GetRegistrationsReply& reply);
std::vector<std::string> Describe(const std::vector<admin::Registration>& registrations);
std::string Join(const std::vector<std::string>& lines, const std::string& separator = " | ");

// The tags of a getTags reply, in the order given (empty for an error).
std::vector<std::string> TagsOf(const mojom::GetRegistrationsReply& reply);
// The line bgsync_test_worker logs for a sync event (for tags that need no percent-encoding).
std::string EventLine(const std::string& tag, bool last_chance);
// ... and for a periodicsync event.
std::string PeriodicEventLine(const std::string& tag);
// Whether `worker` has received a sync event for `tag`.
bool HasEvent(CaseRun& run, const Worker& worker, const std::string& tag);
// Waits until the one-shot registration `tag` of `worker` is no longer listed.
bool WaitGone(CaseRun& run, const Worker& worker, const std::string& tag);

}  // namespace bgsync::conformance

#endif  // TEST_CONFORMANCE_CASE_RUN_H_
