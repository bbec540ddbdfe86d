// A fast decoder for the stored form of a SyncRegistrationRecord (proto/sync_registration_record.proto), for the
// start-up load of a million records: it reads the form protobuf itself writes and leaves anything else to
// protobuf's parser. Internal to the registration store.
//
// Thread-safety: the functions are stateless.
#ifndef COMPONENTS_BACKGROUND_SYNC_RECORD_WIRE_FORMAT_H_
#define COMPONENTS_BACKGROUND_SYNC_RECORD_WIRE_FORMAT_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "components/background_sync/proto/sync_registration_record.pb.h"

namespace bgsync {

// A SyncRegistrationRecord's fields as protobuf's parser would set them (enums as their numbers, unvalidated).
// Every member is set by whoever makes one (no default member initializers: the decoder of a million records sets
// each once instead of zeroing the struct first).
struct RecordFields {
  int64_t sw_registration_id;
  int32_t type;
  absl::string_view tag;     // into the decoded bytes (or the parsed message)
  absl::string_view origin;  // into the decoded bytes (or the parsed message)
  int32_t state;
  int32_t num_attempts;
  int32_t max_attempts;
  std::optional<int64_t> next_attempt_time_unix_ns;
  int64_t min_interval_ms;
  int32_t consecutive_interruptions;
  int32_t last_failure;
  std::optional<int64_t> anchor_time_unix_ns;
};

// Decodes `bytes` if they are in the form protobuf serializes a SyncRegistrationRecord in: known fields only, each
// at most once, in field-number order, with their declared wire types, minimal varints, and an origin of ASCII
// bytes only. Returns nullopt for anything else, which protobuf's parser must then judge (it may accept it, e.g.
// with unknown fields, or reject it). For every input it accepts, the fields equal what protobuf's parser yields.
std::optional<RecordFields> DecodeCanonicalRecord(absl::string_view bytes);

// The fields of a record protobuf's parser has read (the slow path, and what DecodeCanonicalRecord must agree
// with). The string views point into `record`, which must outlive the result.
RecordFields FieldsOf(const storage::SyncRegistrationRecord& record);

// Field by field; the views compare by content.
bool operator==(const RecordFields& a, const RecordFields& b);

// True if every byte of `text` is below 0x80.
bool IsAscii(absl::string_view text);

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_RECORD_WIRE_FORMAT_H_
