// Fuzzes RegisterRequest as the browser receives it: the bytes after the first are parsed as the message (as gRPC
// would) and sent to OneShotBackgroundSyncService.Register or PeriodicBackgroundSyncService.Register from the caller
// the first byte picks, on a browser holding registrations of two origins. The oracles (service_world.h) check
// the bad-message rules, the engine's answer, that no other origin's registration changed, then the invariants.
#include <cstddef>
#include <cstdint>

#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/fuzzers/request_fuzzer_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bgsync::fuzzing::SilenceProtobufLogging();
  if (size == 0)
    return 0;
  bgsync::mojom::RegisterRequest request;
  if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1)))
    return 0;
  bgsync::fuzzing::RequestFuzzerWorld world;
  bgsync::fuzzing::Client& caller = world.Caller(data[0] >> 1);
  const bgsync::SyncType type = data[0] & 1 ? bgsync::SyncType::kPeriodic : bgsync::SyncType::kOneShot;
  world.browser().Register(caller, type, request);
  world.browser().Settle();
  // What the caller can see afterwards.
  bgsync::mojom::GetRegistrationsRequest get;
  get.set_service_worker_registration_id(request.service_worker_registration_id());
  world.browser().GetRegistrations(caller, type, get);
  world.browser().Settle();
  return 0;
}
