#include "components/background_sync/record_wire_format.h"

#include <cstddef>
#include <cstring>

namespace bgsync {
namespace {

// The tag byte of a field: its number and wire type (0 varint, 2 length-delimited). Every field of the record has a
// number below 16, so its tag is one byte.
constexpr uint8_t VarintTag(int field) {
  return static_cast<uint8_t>(field << 3);
}
constexpr uint8_t BytesTag(int field) {
  return static_cast<uint8_t>(field << 3 | 2);
}

class Reader {
 public:
  explicit Reader(absl::string_view bytes)
      : next_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(next_ + bytes.size()) {}

  bool done() const { return next_ == end_; }

  // True, having read it, if the next byte is `tag`.
  bool Take(uint8_t tag) {
    if (next_ == end_ || *next_ != tag)
      return false;
    ++next_;
    return true;
  }

  // A varint as protobuf writes them: at most 10 bytes, the value fits 64 bits (a tenth byte is 1), and no
  // superfluous trailing zero byte. False otherwise.
  bool ReadVarint(uint64_t& value) {
    if (next_ != end_ && *next_ < 0x80) {
      value = *next_++;
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (next_ == end_)
        return false;
      const uint8_t byte = *next_++;
      if ((shift == 63 && byte > 1) || (shift > 0 && byte == 0))
        return false;
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        value = result;
        return true;
      }
    }
    return false;
  }

  // A length-delimited payload that fits in what is left.
  bool ReadBytes(absl::string_view& bytes) {
    uint64_t length = 0;
    if (!ReadVarint(length) || length > static_cast<uint64_t>(end_ - next_))
      return false;
    bytes = absl::string_view(reinterpret_cast<const char*>(next_), static_cast<size_t>(length));
    next_ += length;
    return true;
  }

 private:
  const uint8_t* next_;
  const uint8_t* const end_;
};

// An int64 field: the varint's 64 bits.
bool Int64Field(Reader& reader, int field, int64_t& out) {
  if (!reader.Take(VarintTag(field)))
    return true;  // absent: stays as it is
  uint64_t value = 0;
  if (!reader.ReadVarint(value))
    return false;
  out = static_cast<int64_t>(value);
  return true;
}

// An int32 or enum field: the varint's low 32 bits, as protobuf's parser keeps them.
bool Int32Field(Reader& reader, int field, int32_t& out) {
  if (!reader.Take(VarintTag(field)))
    return true;
  uint64_t value = 0;
  if (!reader.ReadVarint(value))
    return false;
  out = static_cast<int32_t>(static_cast<uint32_t>(value));
  return true;
}

bool OptionalInt64Field(Reader& reader, int field, std::optional<int64_t>& out) {
  if (!reader.Take(VarintTag(field)))
    return true;
  uint64_t value = 0;
  if (!reader.ReadVarint(value))
    return false;
  out = static_cast<int64_t>(value);
  return true;
}

bool BytesField(Reader& reader, int field, absl::string_view& out) {
  return !reader.Take(BytesTag(field)) || reader.ReadBytes(out);
}

// DecodeCanonicalRecord, into `fields`; false if `bytes` are not in the canonical form. Each field is either next
// in field-number order or absent, so fields out of order, repeated, unknown or of another wire type are left over
// at the end, and rejected.
bool Decode(absl::string_view bytes, RecordFields& fields) {
  fields.sw_registration_id = 0;
  fields.type = 0;
  fields.tag = absl::string_view();
  fields.origin = absl::string_view();
  fields.state = 0;
  fields.num_attempts = 0;
  fields.max_attempts = 0;
  fields.next_attempt_time_unix_ns.reset();
  fields.min_interval_ms = 0;
  fields.consecutive_interruptions = 0;
  fields.last_failure = 0;
  fields.anchor_time_unix_ns.reset();
  Reader reader(bytes);
  return Int64Field(reader, 1, fields.sw_registration_id) && Int32Field(reader, 2, fields.type) &&
         BytesField(reader, 3, fields.tag) && BytesField(reader, 4, fields.origin) &&
         // A proto3 string: protobuf checks UTF-8. ASCII needs no check; anything else goes to protobuf.
         IsAscii(fields.origin) && Int32Field(reader, 5, fields.state) && Int32Field(reader, 6, fields.num_attempts) &&
         Int32Field(reader, 7, fields.max_attempts) && Int64Field(reader, 9, fields.min_interval_ms) &&
         Int32Field(reader, 10, fields.consecutive_interruptions) && Int32Field(reader, 11, fields.last_failure) &&
         OptionalInt64Field(reader, 12, fields.next_attempt_time_unix_ns) &&
         OptionalInt64Field(reader, 13, fields.anchor_time_unix_ns) && reader.done();
}

}  // namespace

bool IsAscii(absl::string_view text) {
  // Eight bytes at a time: the load checks a million origins and tags.
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, sizeof(word));
    any |= word;
  }
  for (; i < text.size(); ++i)
    any |= static_cast<unsigned char>(text[i]);
  return (any & 0x8080808080808080ULL) == 0;
}

std::optional<RecordFields> DecodeCanonicalRecord(absl::string_view bytes) {
  RecordFields fields;  // every member is set by Decode
  if (!Decode(bytes, fields))
    return std::nullopt;
  return fields;
}

RecordFields FieldsOf(const storage::SyncRegistrationRecord& record) {
  RecordFields fields;
  fields.sw_registration_id = record.sw_registration_id();
  fields.type = record.type();
  fields.tag = record.tag();
  fields.origin = record.origin();
  fields.state = record.state();
  fields.num_attempts = record.num_attempts();
  fields.max_attempts = record.max_attempts();
  if (record.has_next_attempt_time_unix_ns())
    fields.next_attempt_time_unix_ns = record.next_attempt_time_unix_ns();
  fields.min_interval_ms = record.min_interval_ms();
  fields.consecutive_interruptions = record.consecutive_interruptions();
  fields.last_failure = record.last_failure();
  if (record.has_anchor_time_unix_ns())
    fields.anchor_time_unix_ns = record.anchor_time_unix_ns();
  return fields;
}

bool operator==(const RecordFields& a, const RecordFields& b) {
  return a.sw_registration_id == b.sw_registration_id && a.type == b.type && a.tag == b.tag && a.origin == b.origin &&
         a.state == b.state && a.num_attempts == b.num_attempts && a.max_attempts == b.max_attempts &&
         a.next_attempt_time_unix_ns == b.next_attempt_time_unix_ns && a.min_interval_ms == b.min_interval_ms &&
         a.consecutive_interruptions == b.consecutive_interruptions && a.last_failure == b.last_failure &&
         a.anchor_time_unix_ns == b.anchor_time_unix_ns;
}

}  // namespace bgsync
