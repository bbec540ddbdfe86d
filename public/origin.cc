#include "public/origin.h"

#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace bgsync {
namespace {

uint16_t DefaultPort(absl::string_view scheme) {
  if (scheme == "http" || scheme == "ws")
    return 80;
  if (scheme == "https" || scheme == "wss")
    return 443;
  return 0;
}

bool IsSchemeChar(char c, bool first) {
  if (absl::ascii_isalpha(static_cast<unsigned char>(c)))
    return true;
  return !first && (absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.');
}

// Registered names and IPv4 literals: letters, digits, '-', '.', '_'. No percent-encoding: origins reach us
// already canonicalized by the URL parser of whoever serialized them.
bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6Literal(absl::string_view inner) {
  if (inner.empty())
    return false;
  for (char c : inner) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
      return false;
  }
  return absl::StrContains(inner, ':');
}

bool IsLoopbackIpv4(absl::string_view host) {
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() != 4)
    return false;
  for (absl::string_view part : parts) {
    int value = 0;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &value) || value > 255)
      return false;
  }
  return parts[0] == "127";
}

}  // namespace

absl::StatusOr<Origin> Origin::Parse(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid origin \"", text, "\": ", why));
  };
  size_t sep = text.find("://");
  if (sep == absl::string_view::npos || sep == 0)
    return invalid("expected scheme://host");
  std::string scheme = absl::AsciiStrToLower(text.substr(0, sep));
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (!IsSchemeChar(scheme[i], i == 0))
      return invalid("bad scheme");
  }
  absl::string_view rest = text.substr(sep + 3);
  if (rest.empty())
    return invalid("empty host");

  absl::string_view host_part = rest;
  absl::string_view port_part;
  bool has_port = false;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos)
      return invalid("unterminated IPv6 literal");
    host_part = rest.substr(0, close + 1);
    absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return invalid("unexpected characters after host");
      port_part = after.substr(1);
      has_port = true;
    }
    if (!IsIpv6Literal(host_part.substr(1, host_part.size() - 2)))
      return invalid("bad IPv6 literal");
  } else {
    size_t colon = rest.find(':');
    if (colon != absl::string_view::npos) {
      host_part = rest.substr(0, colon);
      port_part = rest.substr(colon + 1);
      has_port = true;
    }
    if (host_part.empty())
      return invalid("empty host");
    for (char c : host_part) {
      if (!IsHostChar(c))
        return invalid("bad character in host");
    }
  }

  uint16_t port = 0;
  if (has_port) {
    int value = 0;
    if (port_part.empty() || port_part.size() > 5 || !absl::SimpleAtoi(port_part, &value) || value < 1 ||
        value > 65535 || !absl::ascii_isdigit(static_cast<unsigned char>(port_part.front()))) {
      return invalid("bad port");
    }
    port = static_cast<uint16_t>(value);
    if (port == DefaultPort(scheme))
      port = 0;
  }
  return Origin(std::move(scheme), absl::AsciiStrToLower(host_part), port);
}

std::string Origin::Serialize() const {
  if (scheme_.empty())
    return "";
  if (port_ == 0)
    return absl::StrCat(scheme_, "://", host_);
  return absl::StrCat(scheme_, "://", host_, ":", port_);
}

bool Origin::IsPotentiallyTrustworthy() const {
  if (scheme_ == "https" || scheme_ == "wss")
    return true;
  if (scheme_ != "http" && scheme_ != "ws")
    return false;
  if (host_ == "localhost" || absl::EndsWith(host_, ".localhost"))
    return true;
  if (host_ == "[::1]")
    return true;
  return IsLoopbackIpv4(host_);
}

}  // namespace bgsync
