// bgsync_browser's EngagementProvider: every origin is highly engaged (the default, as without a provider) unless
// the admin endpoint set another level for it. Stands in for Chromium's site engagement, which bgsync does not
// measure; a level set here spaces out (or, with "none", suspends) the origin's periodic sync events.
//
// Key layout (all keys ASCII) in the store's own database (bgsync_browser opens `<profile>/SiteEngagement`):
//   "e:origin:<serialized origin>"  -> the level's name ("none", "minimal", "low", "medium", "high")
#ifndef BROWSER_ENGAGEMENT_STORE_H_
#define BROWSER_ENGAGEMENT_STORE_H_

#include <functional>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "browser/origin_settings_store.h"
#include "components/background_sync/engagement_provider.h"
#include "components/background_sync/storage_backend.h"
#include "public/origin.h"

namespace bgsync {

// The level named `name` (as EngagementLevelName spells it), or nullopt.
std::optional<EngagementLevel> ParseEngagementLevel(absl::string_view name);

// Thread-safety: every method may be called from any thread. Set calls are serialized with each other and wait
// for the disk; reads never wait for the disk.
class EngagementStore : public EngagementProvider {
 public:
  inline static constexpr EngagementLevel kDefaultLevel = EngagementLevel::kHigh;

  // Told the origin whose level changed (the embedder passes it on to BackgroundSyncEngine::OnEngagementChanged).
  // Called on the thread that called Set, without the store's locks.
  using ChangeObserver = std::function<void(const Origin& origin)>;

  // Loads the stored levels from `storage` (owned; nullptr: nothing is persisted). Records that cannot be read are
  // left on disk and ignored (their origins keep the default). Errors: the storage's read error.
  static absl::StatusOr<std::unique_ptr<EngagementStore>> Open(std::unique_ptr<StorageBackend> storage);

  // The observer of later changes; replaces any earlier one (empty: none).
  void SetChangeObserver(ChangeObserver observer);

  // Sets `origin`'s level (nullopt: back to the default), durably, then tells the observer if the level the origin
  // has changed. Errors: the storage's write error (nothing changed).
  absl::Status Set(const Origin& origin, std::optional<EngagementLevel> level);

  // The level set for `origin`, or nullopt when it has the default.
  std::optional<EngagementLevel> GetOverride(const Origin& origin);

  // EngagementProvider.
  EngagementLevel GetEngagementLevel(const Origin& origin) override;

 private:
  explicit EngagementStore(std::unique_ptr<OriginSettingsStore> settings) : settings_(std::move(settings)) {}

  // Origin -> level name. The observer re-reads the current level, so concurrent Sets need no ordering here.
  const std::unique_ptr<OriginSettingsStore> settings_;
  absl::Mutex mu_;
  ChangeObserver observer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // BROWSER_ENGAGEMENT_STORE_H_
