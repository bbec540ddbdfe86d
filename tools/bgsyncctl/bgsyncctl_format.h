// Text and JSON output of bgsyncctl: tags, relative times, tables, JSON values. Kept apart from the commands so
// that the unit test can check them without a browser.
//
// Thread-safety: pure functions; Table and JsonObject are plain values.
#ifndef TOOLS_BGSYNCCTL_BGSYNCCTL_FORMAT_H_
#define TOOLS_BGSYNCCTL_BGSYNCCTL_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bgsync {
namespace bgsyncctl {

// The printed form of a tag: renderer/tag_encoding.h's percent-encoding (every byte outside printable ASCII, and
// '%', as "%XX"), with '"' also encoded as "%22" so that the empty tag can be shown unambiguously as `""`.
std::string DisplayTag(absl::string_view tag);

// Reverses DisplayTag (and accepts anything PercentDecodeTag accepts): `""` is the empty tag. Returns nullopt
// for a '%' not followed by two hex digits.
std::optional<std::string> ParseDisplayTag(absl::string_view text);

// "4m59s", "2h0m3s", "1d3h0m0s", "12s", "<1s" (for a positive duration under a second), "0s" for zero or less.
std::string FormatShortDuration(absl::Duration duration);

// The "next attempt" column: "now" when `next_attempt_unix_ms` is 0 (as soon as possible) or not after `now`,
// else "in " + FormatShortDuration(...), e.g. "in 4m59s".
std::string FormatNextAttempt(int64_t next_attempt_unix_ms, absl::Time now);

// A timestamp for log lines, in the local time zone: "2024-05-01 12:00:00.123".
std::string FormatLogTime(int64_t unix_ms);

// DevTools event metadata for a line: "Key=value, Key=value" ("" when there is none).
std::string FormatMetadata(const std::vector<std::pair<std::string, std::string>>& metadata);

// A DevTools recording state: "backgroundSync: recording until 2026-11-27 08:23:57.480 (in 2d23h59m59s)" or
// "periodicBackgroundSync: not recording".
std::string FormatRecordingState(absl::string_view service, bool recording, int64_t expires_unix_ms, absl::Time now);

// What `bgsyncctl why` says about one registration.
struct WhyFacts {
  std::string origin;
  int64_t sw_registration_id = 0;
  std::string type;         // "one-shot" | "periodic"
  std::string display_tag;  // DisplayTag form
  std::string state;        // "pending", ...
  int num_attempts = 0;
  int max_attempts = 0;
  std::string reason;         // BlockedReasonName: "ready", "firing", "offline", ...
  std::string explanation;    // the engine's sentence
  int64_t until_unix_ms = 0;  // 0: no known end
};
// One sentence, e.g. "one-shot tag=outbox (sw 1, https://mail.example, pending, 0/3 attempts) is not firing:
// offline: waiting for the network." A known end in the future adds " (in 4m59s)" before the period.
std::string FormatWhySentence(const WhyFacts& facts, absl::Time now);

// Joins argv for display, single-quoting the arguments that need it for a POSIX shell.
std::string ShellJoin(const std::vector<std::string>& argv);

// A text table: the first row is the header. Columns are left-aligned and separated by two spaces; the last
// column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A JSON string literal, quotes included. Bytes that are not well-formed UTF-8 become U+FFFD.
std::string JsonString(absl::string_view text);

// A JSON array of already-serialized values.
std::string JsonArray(const std::vector<std::string>& values);

// A JSON object built member by member, in order, serialized on one line.
class JsonObject {
 public:
  JsonObject& Add(absl::string_view key, absl::string_view value);
  JsonObject& Add(absl::string_view key, const char* value) { return Add(key, absl::string_view(value)); }
  JsonObject& Add(absl::string_view key, int32_t value) { return Add(key, static_cast<int64_t>(value)); }
  JsonObject& Add(absl::string_view key, int64_t value);
  JsonObject& Add(absl::string_view key, uint64_t value);
  JsonObject& Add(absl::string_view key, bool value);
  // `json` is an already-serialized value (an object, an array, null).
  JsonObject& AddRaw(absl::string_view key, absl::string_view json);
  std::string Serialize() const;

 private:
  std::string members_;
};

}  // namespace bgsyncctl
}  // namespace bgsync

#endif  // TOOLS_BGSYNCCTL_BGSYNCCTL_FORMAT_H_
