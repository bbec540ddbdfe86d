#include "renderer/unary_call.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace bgsync {

DomException CallFailure(const grpc::Status& status) {
  std::string message = status.error_message();
  if (message.empty())
    message = absl::StrCat("Background Sync call failed (gRPC status ", static_cast<int>(status.error_code()), ")");
  return DomException{"UnknownError", std::move(message)};
}

SyncResult ToSyncResult(const grpc::Status& status,
                        bool succeeded,
                        BackgroundSyncError error,
                        DomException (*to_exception)(BackgroundSyncError)) {
  if (!status.ok())
    return SyncResult::Rejected(CallFailure(status));
  if (!succeeded)
    return SyncResult::Rejected(to_exception(error));
  return SyncResult::Resolved();
}

TagsResult ToTagsResult(const grpc::Status& status,
                        const mojom::GetRegistrationsReply& reply,
                        DomException (*to_exception)(BackgroundSyncError)) {
  if (!status.ok())
    return TagsResult::Rejected(CallFailure(status));
  if (!reply.has_registrations())
    return TagsResult::Rejected(to_exception(reply.error()));
  std::vector<std::string> tags;
  tags.reserve(reply.registrations().registrations_size());
  for (const mojom::SyncRegistrationOptions& registration : reply.registrations().registrations())
    tags.push_back(registration.tag());
  return TagsResult::Resolved(std::move(tags));
}

void CallCounter::Started() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
}

void CallCounter::Finished() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

void CallCounter::WaitUntilIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &CallCounter::Idle));
}

}  // namespace bgsync
