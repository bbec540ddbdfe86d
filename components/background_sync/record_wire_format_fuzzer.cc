// Differential fuzzer of the start-up load's direct record decoder (record_wire_format.h) against protobuf's own
// parser, on whatever bytes a damaged or hostile disk holds: every input DecodeCanonicalRecord accepts, protobuf must
// accept too, with every field equal; DecodeCanonicalRecord never crashes or reads outside its input (ASan).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "components/background_sync/proto/sync_registration_record.pb.h"
#include "components/background_sync/record_wire_format.h"
#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool silenced = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)silenced;
  // An exact-size heap copy, so that ASan sees any read past the end.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<bgsync::RecordFields> fast = bgsync::DecodeCanonicalRecord(bytes);
  if (!fast)
    return 0;  // left to protobuf's parser, which the store then uses
  bgsync::storage::SyncRegistrationRecord parsed;
  if (!parsed.ParseFromString(bytes) || !(*fast == bgsync::FieldsOf(parsed)))
    __builtin_trap();
  return 0;
}
