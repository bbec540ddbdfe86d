// Fuzzes GetRegistrationsRequest as the browser receives it: the bytes after the first are parsed as the message
// and sent to the one-shot or periodic GetRegistrations from the caller the first byte picks. The oracles check
// the bad-message rules and the answer: exactly the caller's own tags of that type, or the same
// SERVICE_WORKER_NOT_FOUND for unknown and foreign ids.
#include <cstddef>
#include <cstdint>

#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/fuzzers/request_fuzzer_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bgsync::fuzzing::SilenceProtobufLogging();
  if (size == 0)
    return 0;
  bgsync::mojom::GetRegistrationsRequest request;
  if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1)))
    return 0;
  bgsync::fuzzing::RequestFuzzerWorld world;
  const bgsync::SyncType type = data[0] & 1 ? bgsync::SyncType::kPeriodic : bgsync::SyncType::kOneShot;
  world.browser().GetRegistrations(world.Caller(data[0] >> 1), type, request);
  world.browser().Settle();
  return 0;
}
