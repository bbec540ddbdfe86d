#include "components/background_sync/fuzzers/fuzz_values.h"

#include <algorithm>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "public/sync_tag.h"

namespace bgsync {
namespace fuzzing {
namespace {

constexpr const char* kMalformedUtf8[] = {
    "\xff",                  // never valid
    "\x80",                  // a lone continuation byte
    "\xc0\x80",              // overlong NUL
    "\xc1\xbf",              // overlong
    "\xe0\x80\xaf",          // overlong '/'
    "\xed\xa0\x80",          // a surrogate (U+D800)
    "\xed\xbf\xbf",          // a surrogate (U+DFFF)
    "\xf4\x90\x80\x80",      // above U+10FFFF
    "\xf5\x80\x80\x80",      // lead byte above U+10FFFF
    "\xe2\x82",              // truncated
    "ok\xc3",                // truncated at the end
    "\xf8\x88\x80\x80\x80",  // five-byte form
};

constexpr const char* kWellFormed[] = {
    "\xc3\xa9",          // é
    "\xe2\x82\xac",      // €
    "\xf0\x9f\x98\x80",  // U+1F600
    "\xef\xbf\xbf",      // U+FFFF
    "\xf4\x8f\xbf\xbf",  // U+10FFFF
    "\xee\x80\x80",      // U+E000, just above the surrogates
    "sync-messages",
};

template <size_t N>
std::string Pick(FuzzedDataProvider& data, const char* const (&table)[N]) {
  return table[data.ConsumeIntegralInRange<size_t>(0, N - 1)];
}

}  // namespace

std::string ConsumeTag(FuzzedDataProvider& data, const std::vector<std::string>& recent) {
  const char fill = static_cast<char>(data.ConsumeIntegralInRange<int>('a', 'z'));
  switch (data.ConsumeIntegralInRange<int>(0, 11)) {
    case 0:
    case 1:
    case 2:
      if (!recent.empty())
        return recent[data.ConsumeIntegralInRange<size_t>(0, recent.size() - 1)];
      return std::string(1, fill);
    case 3:
      return data.ConsumeRandomLengthString(24);
    case 4:
      return "";
    case 5:
      return std::string(std::string::size_type{kMaxTagLengthBytes}, fill);
    case 6:
      return std::string(std::string::size_type{kMaxTagLengthBytes + 1}, fill);
    case 7: {
      // Ends in a two-byte character: 10,240 or 10,241 bytes.
      const bool over = data.ConsumeBool();
      return std::string(kMaxTagLengthBytes - (over ? 1 : 2), fill) + "\xc3\xa9";
    }
    case 8:
      return std::string(1, fill) + Pick(data, kMalformedUtf8);
    case 9:
      return Pick(data, kWellFormed) + std::string(data.ConsumeIntegralInRange<size_t>(0, 2), fill);
    case 10:
      // Too long and malformed: the UTF-8 check comes first.
      return std::string(kMaxTagLengthBytes, fill) + Pick(data, kMalformedUtf8);
    default:
      // An embedded NUL.
      return std::string("a\0b", 3);
  }
}

int64_t ConsumeServiceWorkerId(FuzzedDataProvider& data, const std::vector<int64_t>& known) {
  switch (data.ConsumeIntegralInRange<int>(0, 9)) {
    case 0:
      return 0;
    case 1:
      return -1;
    case 2:
      return std::numeric_limits<int64_t>::min();
    case 3:
      return std::numeric_limits<int64_t>::max();
    case 4: {
      int64_t highest = 0;
      for (int64_t id : known)
        highest = std::max(highest, id);
      return highest + 1;
    }
    case 5:
      return data.ConsumeIntegral<int64_t>();
    default:
      if (known.empty())
        return 1;
      return known[data.ConsumeIntegralInRange<size_t>(0, known.size() - 1)];
  }
}

int64_t ConsumeIntervalMs(FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange<int>(0, 9)) {
    case 0:
    case 1:
      return 0;
    case 2:
      return 1;
    case 3:
      return 1000;
    case 4:
      return 12 * 3600 * 1000;
    case 5:
      return 36 * 3600 * 1000;
    case 6:
      return -1;
    case 7:
      return std::numeric_limits<int64_t>::min();
    case 8:
      return std::numeric_limits<int64_t>::max();
    default:
      return data.ConsumeIntegral<int64_t>();
  }
}

absl::Duration ConsumeClockStep(FuzzedDataProvider& data) {
  constexpr int64_t kStepsMs[] = {
      0,
      1,
      1000,
      30 * 1000,
      60 * 1000,
      3 * 60 * 1000,                 // the engine's event limit
      3 * 60 * 1000 + 5 * 1000 + 1,  // and the worker host's grace after it
      5 * 60 * 1000,                 // the first backoff
      6 * 60 * 1000,                 // the recovery delay
      10 * 1000 + 1,                 // the worker start timeout
      30 * 1000 + 1,                 // the worker idle timeout
      15 * 60 * 1000,                // the second backoff
      3600 * 1000,
      12 * 3600 * 1000,  // the periodic minimums
      24 * 3600 * 1000,
      3 * 24 * 3600 * 1000,
  };
  const size_t n = sizeof(kStepsMs) / sizeof(kStepsMs[0]);
  const size_t choice = data.ConsumeIntegralInRange<size_t>(0, n);
  if (choice < n)
    return absl::Milliseconds(kStepsMs[choice]);
  return absl::Milliseconds(data.ConsumeIntegralInRange<int64_t>(0, int64_t{7} * 24 * 3600 * 1000));
}

SyncEventOutcome ConsumeOutcome(FuzzedDataProvider& data) {
  constexpr SyncEventOutcome kOutcomes[] = {
      SyncEventOutcome::kCompleted,      SyncEventOutcome::kCompleted, SyncEventOutcome::kRejected,
      SyncEventOutcome::kAborted,        SyncEventOutcome::kTimedOut,  SyncEventOutcome::kWorkerCrashed,
      SyncEventOutcome::kDispatchFailed,
  };
  return kOutcomes[data.ConsumeIntegralInRange<size_t>(0, sizeof(kOutcomes) / sizeof(kOutcomes[0]) - 1)];
}

bool IsWellFormedUtf8ByTable(absl::string_view text) {
  // Table 3-7: the first byte decides the ranges of the following ones.
  auto in = [](unsigned char c, unsigned char low, unsigned char high) { return c >= low && c <= high; };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char b0 = static_cast<unsigned char>(text[i]);
    size_t length;
    unsigned char low1 = 0x80;
    unsigned char high1 = 0xBF;
    if (b0 <= 0x7F) {
      length = 1;
    } else if (in(b0, 0xC2, 0xDF)) {
      length = 2;
    } else if (b0 == 0xE0) {
      length = 3, low1 = 0xA0;
    } else if (in(b0, 0xE1, 0xEC) || in(b0, 0xEE, 0xEF)) {
      length = 3;
    } else if (b0 == 0xED) {
      length = 3, high1 = 0x9F;
    } else if (b0 == 0xF0) {
      length = 4, low1 = 0x90;
    } else if (in(b0, 0xF1, 0xF3)) {
      length = 4;
    } else if (b0 == 0xF4) {
      length = 4, high1 = 0x8F;
    } else {
      return false;
    }
    if (text.size() - i < length)
      return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char b = static_cast<unsigned char>(text[i + k]);
      if (k == 1 ? !in(b, low1, high1) : !in(b, 0x80, 0xBF))
        return false;
    }
    i += length;
  }
  return true;
}

std::string DescribeTag(absl::string_view tag) {
  if (tag.size() <= 40)
    return absl::StrCat("\"", absl::CHexEscape(tag), "\"");
  return absl::StrCat("\"", absl::CHexEscape(tag.substr(0, 16)), "...\" (", tag.size(), " bytes)");
}

void SilenceProtobufLogging() {
  static const bool silenced = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)silenced;
}

}  // namespace fuzzing
}  // namespace bgsync
