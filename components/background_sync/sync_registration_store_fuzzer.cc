// Fuzzes the storage decoder: whatever bytes a damaged or hostile disk holds, DecodeRecord either returns a
// registration that re-encodes to an equal one, or an error; it never crashes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "components/background_sync/sync_registration_store.h"
#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool silenced = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)silenced;
  // The first byte splits the input into a key and a value.
  if (size == 0)
    return 0;
  size_t split = data[0] % size;
  std::string key(reinterpret_cast<const char*>(data + 1), split > 0 ? split - 1 : 0);
  std::string value(reinterpret_cast<const char*>(data + (split > 0 ? split : 1)), size - (split > 0 ? split : 1));
  absl::StatusOr<bgsync::SyncRegistration> decoded = bgsync::SyncRegistrationStore::DecodeRecord(key, value);
  if (decoded.ok()) {
    std::string again = bgsync::SyncRegistrationStore::EncodeRecord(*decoded);
    absl::StatusOr<bgsync::SyncRegistration> round_trip =
        bgsync::SyncRegistrationStore::DecodeRecord(bgsync::SyncRegistrationStore::EncodeKey(decoded->key), again);
    if (!round_trip.ok() || !(*round_trip == *decoded))
      __builtin_trap();
  }
  return 0;
}
