// Values the fuzzers put into calls, decoded from the input: the ones that matter (reused tags, the exact tag
// length limit, malformed UTF-8, foreign and impossible ids, negative intervals) are a few bytes away.
#ifndef COMPONENTS_BACKGROUND_SYNC_FUZZERS_FUZZ_VALUES_H_
#define COMPONENTS_BACKGROUND_SYNC_FUZZERS_FUZZ_VALUES_H_

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "components/background_sync/sync_registration.h"

namespace bgsync {
namespace fuzzing {

// A tag: one of `recent` (so registrations get re-registered, resolved and unregistered), a short one from the
// input, the empty one, one of exactly 10,239 / 10,240 / 10,241 bytes (also ending in a multi-byte character),
// malformed UTF-8, or well-formed characters the checks must not trip on.
std::string ConsumeTag(FuzzedDataProvider& data, const std::vector<std::string>& recent);

// A service-worker registration id: one of `known` (live, foreign or unregistered, as the caller keeps them),
// 0, -1, the int64 extremes, the next id nobody has, or any int64.
int64_t ConsumeServiceWorkerId(FuzzedDataProvider& data, const std::vector<int64_t>& known);

// A periodic min_interval_ms: 0, small, Chromium-like, negative, the int64 extremes or any int64.
int64_t ConsumeIntervalMs(FuzzedDataProvider& data);

// How far to move the fake clock: around the engine's and the worker host's deadlines, backoffs and periodic
// intervals, or an arbitrary step of up to a week.
absl::Duration ConsumeClockStep(FuzzedDataProvider& data);

SyncEventOutcome ConsumeOutcome(FuzzedDataProvider& data);

// Well-formed UTF-8 by the byte ranges of the Unicode standard's table 3-7: an oracle for the validation code
// that is written differently from public/sync_tag.cc's decoder.
bool IsWellFormedUtf8ByTable(absl::string_view text);

// A tag for a failure message: printable, and shortened when long.
std::string DescribeTag(absl::string_view tag);

// Silences the protobuf runtime's logging (malformed UTF-8 in string fields logs), once per process.
void SilenceProtobufLogging();

}  // namespace fuzzing
}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_FUZZERS_FUZZ_VALUES_H_
