#include "components/background_sync/engagement_provider.h"

namespace bgsync {

int EngagementPenalty(EngagementLevel level) {
  switch (level) {
    case EngagementLevel::kNone:
      return 0;
    case EngagementLevel::kMinimal:
      return 3;
    case EngagementLevel::kLow:
    case EngagementLevel::kMedium:
      return 2;
    case EngagementLevel::kHigh:
      return 1;
  }
  return 0;
}

absl::string_view EngagementLevelName(EngagementLevel level) {
  switch (level) {
    case EngagementLevel::kNone:
      return "none";
    case EngagementLevel::kMinimal:
      return "minimal";
    case EngagementLevel::kLow:
      return "low";
    case EngagementLevel::kMedium:
      return "medium";
    case EngagementLevel::kHigh:
      return "high";
  }
  return "unknown";
}

}  // namespace bgsync
