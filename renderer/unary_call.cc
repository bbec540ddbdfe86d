#include "renderer/unary_call.h"

#include <grpcpp/support/status.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace bgsync {

DomException CallFailure(const grpc::Status& status) {
  std::string message = status.error_message();
  if (message.empty())
    message = absl::StrCat("Background Sync call failed (gRPC status ", static_cast<int>(status.error_code()), ")");
  return DomException{"UnknownError", std::move(message)};
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
