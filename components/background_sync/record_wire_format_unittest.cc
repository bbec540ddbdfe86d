// DecodeCanonicalRecord: what it accepts it decodes exactly as protobuf's parser does, and it leaves everything else
// to that parser.
#include "components/background_sync/record_wire_format.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include "components/background_sync/proto/sync_registration_record.pb.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

using Record = storage::SyncRegistrationRecord;

// The fields protobuf's parser yields for `bytes`, or nullopt if it refuses them.
std::optional<RecordFields> ParseWithProtobuf(const std::string& bytes, Record& record) {
  if (!record.ParseFromString(bytes))
    return std::nullopt;
  return FieldsOf(record);
}

void ExpectSameFields(const RecordFields& a, const RecordFields& b) {
  EXPECT_EQ(a.sw_registration_id, b.sw_registration_id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.tag, b.tag);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.num_attempts, b.num_attempts);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.next_attempt_time_unix_ns, b.next_attempt_time_unix_ns);
  EXPECT_EQ(a.min_interval_ms, b.min_interval_ms);
  EXPECT_EQ(a.consecutive_interruptions, b.consecutive_interruptions);
  EXPECT_EQ(a.last_failure, b.last_failure);
  EXPECT_EQ(a.anchor_time_unix_ns, b.anchor_time_unix_ns);
}

Record FullRecord() {
  Record record;
  record.set_sw_registration_id(-7);  // ten-byte varint
  record.set_type(Record::PERIODIC);
  record.set_tag(std::string("in\0box \xE2\x9C\x89", 10));
  record.set_origin("https://mail.example:8443");
  record.set_state(Record::REREGISTERED_WHILE_FIRING);
  record.set_num_attempts(-1);
  record.set_max_attempts(std::numeric_limits<int32_t>::max());
  record.set_next_attempt_time_unix_ns(std::numeric_limits<int64_t>::min());
  record.set_min_interval_ms(std::numeric_limits<int64_t>::max());
  record.set_consecutive_interruptions(300);
  record.set_last_failure(Record::DISPATCH_FAILED);
  record.set_anchor_time_unix_ns(0);  // present although zero
  return record;
}

TEST(RecordWireFormatTest, DecodesWhatProtobufWritesAsProtobufParsesIt) {
  Record full = FullRecord();
  Record empty;
  Record sparse;
  sparse.set_sw_registration_id(42);
  sparse.set_type(Record::ONE_SHOT);
  sparse.set_tag("outbox");
  sparse.set_origin("https://a.example");
  sparse.set_state(Record::PENDING);
  sparse.set_max_attempts(3);
  for (const Record* record : {&full, &empty, &sparse}) {
    const std::string bytes = record->SerializeAsString();
    std::optional<RecordFields> fast = DecodeCanonicalRecord(bytes);
    ASSERT_TRUE(fast.has_value()) << record->DebugString();
    Record parsed;
    std::optional<RecordFields> slow = ParseWithProtobuf(bytes, parsed);
    ASSERT_TRUE(slow.has_value());
    ExpectSameFields(*fast, *slow);
  }
}

TEST(RecordWireFormatTest, LeavesEveryOtherFormToProtobuf) {
  const std::string canonical = FullRecord().SerializeAsString();
  // Unknown field 14 (varint) after the known ones: protobuf keeps it as unknown and parses.
  EXPECT_FALSE(DecodeCanonicalRecord(canonical + std::string("\x70\x01", 2)));
  // The reserved field 8.
  EXPECT_FALSE(DecodeCanonicalRecord(std::string("\x40\x01", 2)));
  // Out of order: state (5) before id (1).
  EXPECT_FALSE(DecodeCanonicalRecord(std::string("\x28\x01\x08\x01", 4)));
  // Repeated: id twice (protobuf keeps the last).
  EXPECT_FALSE(DecodeCanonicalRecord(std::string("\x08\x01\x08\x02", 4)));
  // The wrong wire type for a known field (id as length-delimited).
  EXPECT_FALSE(DecodeCanonicalRecord(std::string("\x0a\x01\x01", 3)));
  // A non-minimal varint (1 written in two bytes).
  EXPECT_FALSE(DecodeCanonicalRecord(std::string("\x08\x81\x00", 3)));
  // An origin that is not ASCII (protobuf checks proto3 strings for UTF-8).
  EXPECT_FALSE(DecodeCanonicalRecord(std::string("\x22\x02\xC3\xA9", 4)));
  // Truncated: a varint, a length.
  EXPECT_FALSE(DecodeCanonicalRecord(std::string("\x08\x80", 2)));
  EXPECT_FALSE(
      DecodeCanonicalRecord(std::string("\x1a\x05"
                                        "ab",
                                        4)));
  // Every strict prefix of a canonical record that ends inside a field.
  size_t refused = 0;
  for (size_t length = 1; length < canonical.size(); ++length) {
    if (!DecodeCanonicalRecord(canonical.substr(0, length)))
      ++refused;
  }
  EXPECT_GT(refused, 0u);
}

// Random edits of canonical records: whatever the fast decoder accepts, protobuf accepts too, with the same fields.
TEST(RecordWireFormatTest, NeverDisagreesWithProtobufOnDamagedRecords) {
  std::mt19937 random(12345);
  const std::string canonical = FullRecord().SerializeAsString();
  int accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string bytes = canonical;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const size_t at = random() % bytes.size();
      switch (random() % 3) {
        case 0:
          bytes[at] = static_cast<char>(random());
          break;
        case 1:
          bytes.erase(at, 1);
          break;
        case 2:
          bytes.insert(at, 1, static_cast<char>(random()));
          break;
      }
    }
    std::optional<RecordFields> fast = DecodeCanonicalRecord(bytes);
    if (!fast)
      continue;
    ++accepted;
    Record parsed;
    std::optional<RecordFields> slow = ParseWithProtobuf(bytes, parsed);
    ASSERT_TRUE(slow.has_value()) << "accepted what protobuf refuses, edit " << i;
    ExpectSameFields(*fast, *slow);
    if (HasFailure())
      return;
  }
  EXPECT_GT(accepted, 100);  // the property was exercised
}

}  // namespace
}  // namespace bgsync
