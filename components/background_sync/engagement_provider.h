// The embedder's measure of how much the user engages with an origin (Chromium's site engagement), which spaces
// out periodic sync events: the less engagement, the rarer the events; none suspends them.
#ifndef COMPONENTS_BACKGROUND_SYNC_ENGAGEMENT_PROVIDER_H_
#define COMPONENTS_BACKGROUND_SYNC_ENGAGEMENT_PROVIDER_H_

#include "absl/strings/string_view.h"
#include "public/origin.h"

namespace bgsync {

enum class EngagementLevel { kNone, kMinimal, kLow, kMedium, kHigh };

// The multiplier of the origin's minimum periodic interval: kHigh 1, kLow and kMedium 2, kMinimal 3; kNone 0,
// meaning suspended until the origin is engaged again (chromium.md, periodic scheduling).
int EngagementPenalty(EngagementLevel level);
absl::string_view EngagementLevelName(EngagementLevel level);  // "none", "minimal", "low", "medium", "high"

// Thread-safety: implementations must be callable from any thread. When a level may have changed, the embedder
// calls BackgroundSyncEngine::OnEngagementChanged(origin).
class EngagementProvider {
 public:
  virtual ~EngagementProvider() = default;
  virtual EngagementLevel GetEngagementLevel(const Origin& origin) = 0;
};

// For embedders without an engagement signal: every origin is highly engaged (penalty 1).
class DefaultEngagementProvider : public EngagementProvider {
 public:
  EngagementLevel GetEngagementLevel(const Origin&) override { return EngagementLevel::kHigh; }
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_ENGAGEMENT_PROVIDER_H_
