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

namespace {

bool SameFields(const bgsync::RecordFields& fast, const bgsync::storage::SyncRegistrationRecord& parsed) {
  auto optional_of = [](bool has, int64_t value) { return has ? std::optional<int64_t>(value) : std::nullopt; };
  return fast.sw_registration_id == parsed.sw_registration_id() && fast.type == parsed.type() &&
         fast.tag == parsed.tag() && fast.origin == parsed.origin() && fast.state == parsed.state() &&
         fast.num_attempts == parsed.num_attempts() && fast.max_attempts == parsed.max_attempts() &&
         fast.next_attempt_time_unix_ns ==
             optional_of(parsed.has_next_attempt_time_unix_ns(), parsed.next_attempt_time_unix_ns()) &&
         fast.min_interval_ms == parsed.min_interval_ms() &&
         fast.consecutive_interruptions == parsed.consecutive_interruptions() &&
         fast.last_failure == parsed.last_failure() &&
         fast.anchor_time_unix_ns == optional_of(parsed.has_anchor_time_unix_ns(), parsed.anchor_time_unix_ns());
}

}  // namespace

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
  if (!parsed.ParseFromString(bytes) || !SameFields(*fast, parsed))
    __builtin_trap();
  return 0;
}
