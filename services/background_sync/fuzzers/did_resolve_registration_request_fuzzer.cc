// Fuzzes DidResolveRegistrationRequest as the browser receives it: the bytes after the first are parsed as the
// message and sent to OneShotBackgroundSyncService.DidResolveRegistration from the caller the first byte picks,
// while online, so that an acknowledgement fires its registration at once. The oracles check the bad-message rules,
// that the call always succeeds for well-formed input (foreign and unknown keys alike) and changes nothing of any
// other origin's (not even whether its registrations may fire), then the invariants.
#include <cstddef>
#include <cstdint>

#include "public/mojom/background_sync.pb.h"
#include "services/background_sync/fuzzers/request_fuzzer_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bgsync::fuzzing::SilenceProtobufLogging();
  if (size == 0)
    return 0;
  bgsync::mojom::DidResolveRegistrationRequest request;
  if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1)))
    return 0;
  bgsync::fuzzing::RequestFuzzerWorld world;
  if (data[0] & 0x80) {
    // Online: an acknowledged registration fires (and its worker is started) inside the call.
    world.browser().world().network.SetOnline(true);
    world.browser().engine().OnNetworkChanged();
    world.browser().Settle();
  }
  world.browser().DidResolveRegistration(world.Caller(data[0] & 0x7f), request);
  world.browser().Settle();
  return 0;
}
