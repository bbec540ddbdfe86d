#include "tools/bgsyncctl/bgsyncctl_format.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "renderer/tag_encoding.h"

namespace bgsync {
namespace bgsyncctl {
namespace {

// The length of the well-formed UTF-8 sequence starting at text[i], or 0 if none starts there.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u; };
  auto continuation = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
    unsigned b = byte(k);
    return i + k < text.size() && b >= lo && b <= hi;
  };
  unsigned b0 = byte(0);
  if (b0 < 0x80)
    return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf)
    return continuation(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    unsigned lo = b0 == 0xe0 ? 0xa0 : 0x80;  // no overlong forms
    unsigned hi = b0 == 0xed ? 0x9f : 0xbf;  // no surrogates
    return continuation(1, lo, hi) && continuation(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    unsigned lo = b0 == 0xf0 ? 0x90 : 0x80;  // no overlong forms
    unsigned hi = b0 == 0xf4 ? 0x8f : 0xbf;  // nothing above U+10FFFF
    return continuation(1, lo, hi) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

bool NeedsShellQuoting(absl::string_view arg) {
  if (arg.empty())
    return true;
  for (char c : arg) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 absl::string_view("-_./=:,+@%").find(c) != absl::string_view::npos;
    if (!plain)
      return true;
  }
  return false;
}

}  // namespace

std::string DisplayTag(absl::string_view tag) {
  if (tag.empty())
    return "\"\"";
  return absl::StrReplaceAll(PercentEncodeTag(tag), {{"\"", "%22"}});
}

std::optional<std::string> ParseDisplayTag(absl::string_view text) {
  if (text == "\"\"")
    return std::string();
  return PercentDecodeTag(text);
}

std::string FormatShortDuration(absl::Duration duration) {
  if (duration <= absl::ZeroDuration())
    return "0s";
  if (duration < absl::Seconds(1))
    return "<1s";
  int64_t seconds = absl::ToInt64Seconds(duration);  // truncates: 4m59.9s is "4m59s"
  const int64_t days = seconds / 86400;
  const int64_t hours = seconds / 3600 % 24;
  const int64_t minutes = seconds / 60 % 60;
  seconds %= 60;
  if (days > 0)
    return absl::StrFormat("%dd%dh%dm%ds", days, hours, minutes, seconds);
  if (hours > 0)
    return absl::StrFormat("%dh%dm%ds", hours, minutes, seconds);
  if (minutes > 0)
    return absl::StrFormat("%dm%ds", minutes, seconds);
  return absl::StrFormat("%ds", seconds);
}

std::string FormatNextAttempt(int64_t next_attempt_unix_ms, absl::Time now) {
  if (next_attempt_unix_ms == 0)
    return "now";
  absl::Duration until = absl::FromUnixMillis(next_attempt_unix_ms) - now;
  if (until <= absl::ZeroDuration())
    return "now";
  return "in " + FormatShortDuration(until);
}

std::string FormatLogTime(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::FromUnixMillis(unix_ms), absl::LocalTimeZone());
}

std::string FormatMetadata(const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : metadata)
    parts.push_back(absl::StrCat(key, "=", value));
  return absl::StrJoin(parts, ", ");
}

std::string FormatRecordingState(absl::string_view service, bool recording, int64_t expires_unix_ms, absl::Time now) {
  if (!recording)
    return absl::StrCat(service, ": not recording");
  return absl::StrCat(service, ": recording until ", FormatLogTime(expires_unix_ms), " (",
                      FormatNextAttempt(expires_unix_ms, now), ")");
}

std::string FormatWhySentence(const WhyFacts& facts, absl::Time now) {
  std::string sentence =
      absl::StrCat(facts.type, " tag=", facts.display_tag, " (sw ", facts.sw_registration_id, ", ", facts.origin, ", ",
                   facts.state, ", ", facts.num_attempts, "/", facts.max_attempts, " attempts) ");
  if (facts.reason == "ready") {
    absl::StrAppend(&sentence, "is ready: ");
  } else if (facts.reason == "firing") {
    absl::StrAppend(&sentence, "is firing: ");
  } else {
    absl::StrAppend(&sentence, "is not firing: ");
  }
  absl::StrAppend(&sentence, facts.explanation);
  if (facts.until_unix_ms != 0 && absl::FromUnixMillis(facts.until_unix_ms) > now)
    absl::StrAppend(&sentence, " (", FormatNextAttempt(facts.until_unix_ms, now), ")");
  absl::StrAppend(&sentence, ".");
  return sentence;
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  words.reserve(argv.size());
  for (const std::string& arg : argv) {
    if (NeedsShellQuoting(arg)) {
      words.push_back(absl::StrCat("'", absl::StrReplaceAll(arg, {{"'", "'\\''"}}), "'"));
    } else {
      words.push_back(arg);
    }
  }
  return absl::StrJoin(words, " ");
}

Table::Table(std::vector<std::string> header) {
  rows_.push_back(std::move(header));
}

void Table::AddRow(std::vector<std::string> row) {
  rows_.push_back(std::move(row));
}

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const std::vector<std::string>& row : rows_) {
    if (widths.size() < row.size())
      widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const std::vector<std::string>& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0)
        line.append("  ");
      line.append(row[i]);
      if (i + 1 < row.size())
        line.append(widths[i] - row[i].size(), ' ');
    }
    // A short last cell leaves no trailing blanks; trim those of empty trailing cells too.
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&text, line, "\n");
  }
  return text;
}

std::string JsonString(absl::string_view text) {
  std::string json = "\"";
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      json.append("\\ufffd");
      ++i;
      continue;
    }
    if (length > 1) {
      json.append(text.data() + i, length);
      i += length;
      continue;
    }
    switch (c) {
      case '"':
        json.append("\\\"");
        break;
      case '\\':
        json.append("\\\\");
        break;
      case '\n':
        json.append("\\n");
        break;
      case '\r':
        json.append("\\r");
        break;
      case '\t':
        json.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          json.append(absl::StrFormat("\\u%04x", c));
        } else {
          json.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  json.push_back('"');
  return json;
}

std::string JsonArray(const std::vector<std::string>& values) {
  return absl::StrCat("[", absl::StrJoin(values, ","), "]");
}

JsonObject& JsonObject::Add(absl::string_view key, absl::string_view value) {
  return AddRaw(key, JsonString(value));
}

JsonObject& JsonObject::Add(absl::string_view key, int64_t value) {
  return AddRaw(key, absl::StrCat(value));
}

JsonObject& JsonObject::Add(absl::string_view key, uint64_t value) {
  return AddRaw(key, absl::StrCat(value));
}

JsonObject& JsonObject::Add(absl::string_view key, bool value) {
  return AddRaw(key, value ? "true" : "false");
}

JsonObject& JsonObject::AddRaw(absl::string_view key, absl::string_view json) {
  if (!members_.empty())
    members_.push_back(',');
  absl::StrAppend(&members_, JsonString(key), ":", json);
  return *this;
}

std::string JsonObject::Serialize() const {
  return absl::StrCat("{", members_, "}");
}

}  // namespace bgsyncctl
}  // namespace bgsync
