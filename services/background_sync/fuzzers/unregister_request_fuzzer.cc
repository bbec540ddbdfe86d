// Fuzzes UnregisterRequest as the browser receives it: the bytes after the first are parsed as the message and
// sent to PeriodicBackgroundSyncService.Unregister from the caller the first byte picks, perhaps with the next
// write failing. The oracles check the bad-message rules, the answer (unregistered, or the same
// SERVICE_WORKER_NOT_FOUND for unknown and foreign ids, or STORAGE with nothing removed), that only the caller's
// own periodic registration can go, then the invariants.
#include <cstddef>
#include <cstdint>

#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/fuzzers/request_fuzzer_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bgsync::fuzzing::SilenceProtobufLogging();
  if (size == 0)
    return 0;
  bgsync::mojom::UnregisterRequest request;
  if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1)))
    return 0;
  bgsync::fuzzing::RequestFuzzerWorld world;
  if (data[0] & 0x80)
    world.browser().world().storage().FailNextCommits(1);
  world.browser().Unregister(world.Caller(data[0] & 0x7f), request);
  world.browser().Settle();
  return 0;
}
