// SyncManager.register's checks (spec.md "One-shot sync", register steps 1-3, and decision 6), each with its error
// on the wire and the DOMException a page sees, and the order in which the browser applies them.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/conformance/case_run.h"
#include "test/conformance/conformance_areas.h"

namespace bgsync::conformance {
namespace {

using E = mojom::BackgroundSyncError;

constexpr size_t kMaxTagBytes = 10240;

// Registers `tags` must have produced, and nothing else, for service worker `sw`.
bool CheckStoredTags(CaseRun& run, int64_t sw, const std::vector<std::string>& tags) {
  std::vector<std::string> stored;
  for (const admin::Registration& r : run.Registrations(sw))
    stored.push_back(ShowTag(r.tag()));
  std::vector<std::string> expected;
  for (const std::string& tag : tags)
    expected.push_back(ShowTag(tag));
  std::sort(stored.begin(), stored.end());
  std::sort(expected.begin(), expected.end());
  return run.Check(stored == expected, absl::StrCat("exactly these registrations stored: ", Join(expected)),
                   Join(stored));
}

void TagLength(CaseRun& run) {
  const std::string origin = run.NewOrigin("tags");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw)
    return;
  run.EmulateOffline(sw->id, true);  // nothing fires: the registrations stay to be listed
  Page& page = run.OpenPage(origin);
  const std::string longest(kMaxTagBytes, 'a');
  const std::string too_long(kMaxTagBytes + 1, 'b');
  // Bytes of UTF-8, not characters: 5,120 two-byte characters fit, 5,121 do not.
  std::string accented;
  for (size_t i = 0; i < kMaxTagBytes / 2; ++i)
    accented += "\xc3\xa9";
  run.CheckRegistered(run.Register(page, sw->id, ""), "");
  run.CheckRegistered(run.Register(page, sw->id, longest), longest);
  run.CheckRegistered(run.Register(page, sw->id, accented), accented);
  run.CheckError(run.Register(page, sw->id, too_long), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  run.CheckError(run.Register(page, sw->id, accented + "\xc3\xa9"), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  CheckStoredTags(run, sw->id, {"", longest, accented});
}

void UnknownOrForeignServiceWorker(CaseRun& run) {
  const std::string mine = run.NewOrigin("mine");
  const std::string theirs = run.NewOrigin("theirs");
  std::optional<Worker> their_sw = run.InstallWorker(theirs, {});
  if (!their_sw)
    return;
  Page& page = run.OpenPage(mine);
  run.OpenPage(theirs);  // their origin has a window too: only the origin check can refuse
  const int64_t unknown = their_sw->id + 1000000;
  mojom::RegisterReply foreign = run.Register(page, their_sw->id, "probe");
  mojom::RegisterReply missing = run.Register(page, unknown, "probe");
  run.CheckError(foreign, E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  run.CheckError(missing, E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  run.Check(foreign.SerializeAsString() == missing.SerializeAsString(),
            "a foreign id and an unknown id to get byte-identical register replies",
            absl::StrCat(DescribeReply(foreign), " vs ", DescribeReply(missing)));
  mojom::GetRegistrationsReply foreign_tags = run.GetTags(page, their_sw->id);
  mojom::GetRegistrationsReply missing_tags = run.GetTags(page, unknown);
  run.CheckError(foreign_tags.error(), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND, "getTags (foreign id)");
  run.Check(foreign_tags.SerializeAsString() == missing_tags.SerializeAsString(),
            "a foreign id and an unknown id to get byte-identical getTags replies");
  CheckStoredTags(run, their_sw->id, {});
}

void NoActiveWorker(CaseRun& run) {
  const std::string origin = run.NewOrigin("inactive");
  std::optional<Worker> sw = run.InstallWorker(origin, {}, /*activate=*/false);
  if (!sw)
    return;
  run.EmulateOffline(sw->id, true);
  Page& page = run.OpenPage(origin);
  run.CheckError(run.Register(page, sw->id, "outbox"), E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER);
  CheckStoredTags(run, sw->id, {});

  admin::ServiceWorkerId id;
  id.set_id(sw->id);
  admin::ServiceWorkerInfo info;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  if (!run.Check(run.admin().ActivateServiceWorker(&context, id, &info).ok(), "admin ActivateServiceWorker to work"))
    return;
  run.Observe(absl::StrCat("activate sw=", sw->id));
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
}

void PermissionDenied(CaseRun& run) {
  const std::string origin = run.NewOrigin("denied");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw)
    return;
  run.EmulateOffline(sw->id, true);
  Page& page = run.OpenPage(origin);
  run.SetPermission(origin, /*periodic=*/false, admin::SetPermissionRequest::SETTING_DENIED);
  run.CheckError(run.Register(page, sw->id, "outbox"), E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  CheckStoredTags(run, sw->id, {});
  // "background-sync" is granted unless the user denies it.
  run.SetPermission(origin, /*periodic=*/false, admin::SetPermissionRequest::SETTING_DEFAULT);
  run.CheckRegistered(run.Register(page, sw->id, "outbox"), "outbox");
}

void NoTopLevelWindow(CaseRun& run) {
  const std::string origin = run.NewOrigin("framed");
  const std::string other = run.NewOrigin("other");
  std::optional<Worker> sw = run.InstallWorker(origin, {});
  if (!sw)
    return;
  run.EmulateOffline(sw->id, true);
  Page& iframe = run.OpenPage(origin, admin::CLIENT_TYPE_IFRAME);
  run.OpenPage(other);  // another origin's window does not count
  run.CheckError(run.Register(iframe, sw->id, "outbox"), E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW);
  CheckStoredTags(run, sw->id, {});
  // An iframe may register while a top-level window of its origin is open (it need not be controlled).
  Page& window = run.OpenPage(origin);
  run.CheckRegistered(run.Register(iframe, sw->id, "outbox"), "outbox");
  run.ClosePage(window);
  run.CheckError(run.Register(iframe, sw->id, "later"), E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW);
  CheckStoredTags(run, sw->id, {"outbox"});
}

void CheckOrder(CaseRun& run) {
  const std::string origin = run.NewOrigin("order");
  std::optional<Worker> inactive = run.InstallWorker(origin, {}, /*activate=*/false);
  std::optional<Worker> active = run.InstallWorker(origin, {});
  if (!inactive || !active)
    return;
  run.EmulateOffline(active->id, true);
  // Every check but the quota fails at once for some pair; the earliest in the order must answer.
  run.SetPermission(origin, /*periodic=*/false, admin::SetPermissionRequest::SETTING_DENIED);
  Page& iframe = run.OpenPage(origin, admin::CLIENT_TYPE_IFRAME);
  const std::string too_long(kMaxTagBytes + 1, 't');
  run.Observe("tag too long + unknown id + no window + permission denied:");
  run.CheckError(run.Register(iframe, active->id + 1000000, too_long), E::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG);
  run.Observe("unknown id + no window + permission denied:");
  run.CheckError(run.Register(iframe, active->id + 1000000, "t"), E::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);
  run.Observe("no active worker + permission denied + no window:");
  run.CheckError(run.Register(iframe, inactive->id, "t"), E::BACKGROUND_SYNC_ERROR_NO_ACTIVE_WORKER);
  run.Observe("permission denied + no window:");
  run.CheckError(run.Register(iframe, active->id, "t"), E::BACKGROUND_SYNC_ERROR_PERMISSION_DENIED);
  run.SetPermission(origin, /*periodic=*/false, admin::SetPermissionRequest::SETTING_DEFAULT);
  run.Observe("no window:");
  run.CheckError(run.Register(iframe, active->id, "t"), E::BACKGROUND_SYNC_ERROR_NO_TOP_LEVEL_WINDOW);
  CheckStoredTags(run, active->id, {});
}

}  // namespace

std::vector<ConformanceCase> OneShotRegisterCases() {
  return {
      {"one-shot/register/tag-length",
       "decision 6: a tag of 10,240 bytes (and the empty tag) registers; 10,241 bytes (counted in UTF-8 bytes) is "
       "TAG_TOO_LONG / InvalidAccessError (Chromium's NOT_ALLOWED path) and stores nothing",
       CaseNeeds::kAnyBrowser, TagLength},
      {"one-shot/register/unknown-or-foreign-service-worker",
       "an unknown id and another origin's id get the same SERVICE_WORKER_NOT_FOUND / InvalidStateError, "
       "byte for byte, from register and getTags",
       CaseNeeds::kAnyBrowser, UnknownOrForeignServiceWorker},
      {"one-shot/register/no-active-worker",
       "register step 1: no active worker -> NO_ACTIVE_WORKER / InvalidStateError \"Registration failed - no "
       "active Service Worker\"; registers once activated",
       CaseNeeds::kAnyBrowser, NoActiveWorker},
      {"one-shot/register/permission-denied",
       "register step 2: \"background-sync\" denied -> PERMISSION_DENIED / NotAllowedError \"Permission denied.\"; "
       "granted by default",
       CaseNeeds::kAnyBrowser, PermissionDenied},
      {"one-shot/register/no-top-level-window",
       "register step 3: no top-level window of the origin -> NO_TOP_LEVEL_WINDOW / InvalidAccessError; an iframe "
       "registers while a window of its origin is open; another origin's window does not count",
       CaseNeeds::kAnyBrowser, NoTopLevelWindow},
      {"one-shot/register/check-order",
       "register checks in order: tag length, service worker, active worker, permission, top-level window",
       CaseNeeds::kAnyBrowser, CheckOrder},
  };
}

}  // namespace bgsync::conformance
