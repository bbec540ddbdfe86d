// A settable EngagementProvider for tests.
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_ENGAGEMENT_PROVIDER_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_ENGAGEMENT_PROVIDER_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/engagement_provider.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread. Setting a level does not notify the engine; the test
// calls BackgroundSyncEngine::OnEngagementChanged() as the embedder would.
class FakeEngagementProvider : public EngagementProvider {
 public:
  // Origins not set are highly engaged.
  void Set(const Origin& origin, EngagementLevel level) {
    absl::MutexLock lock(&mu_);
    levels_[origin] = level;
  }
  EngagementLevel GetEngagementLevel(const Origin& origin) override {
    absl::MutexLock lock(&mu_);
    auto it = levels_.find(origin);
    return it == levels_.end() ? EngagementLevel::kHigh : it->second;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<Origin, EngagementLevel> levels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_FAKE_ENGAGEMENT_PROVIDER_H_
