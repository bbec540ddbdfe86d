// What the single-request fuzzers share: a browser (service_world.h) holding registrations of two origins, the
// callers a request can come from, and the entry-point boilerplate.
#ifndef SERVICES_BACKGROUND_SYNC_FUZZERS_REQUEST_FUZZER_SUPPORT_H_
#define SERVICES_BACKGROUND_SYNC_FUZZERS_REQUEST_FUZZER_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "components/background_sync/fuzzers/fuzz_values.h"
#include "components/background_sync/fuzzers/sync_world.h"
#include "services/background_sync/fuzzers/service_world.h"

namespace bgsync {
namespace fuzzing {

class RequestFuzzerWorld {
 public:
  // Origin 0 (service workers 1 and 2) has one-shot "a" (not yet acknowledged) and "a-done", periodic "p" on
  // service worker 1; origin 1 (service worker 3) has one-shot "b" and periodic "p". Offline, so nothing fires.
  RequestFuzzerWorld();
  ~RequestFuzzerWorld();

  // The caller `selector` picks: a launched window of origin 0 (the one that registered "a"), an iframe of origin 0
  // opened for a tool (no process), a window of origin 1, a window of origin 2 (no registrations), or a session
  // already revoked.
  Client& Caller(uint8_t selector);

  BrowserServices& browser() { return *browser_; }

 private:
  SyncWorld world_;
  std::unique_ptr<BrowserServices> browser_;
  std::vector<Client*> callers_;
};

}  // namespace fuzzing
}  // namespace bgsync

#endif  // SERVICES_BACKGROUND_SYNC_FUZZERS_REQUEST_FUZZER_SUPPORT_H_
