#include "renderer/tag_encoding.h"

namespace bgsync {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentEncodeTag(absl::string_view tag) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  text.reserve(tag.size());
  for (char c : tag) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f && byte != '%') {
      text.push_back(c);
    } else {
      text.push_back('%');
      text.push_back(kHex[byte >> 4]);
      text.push_back(kHex[byte & 0xf]);
    }
  }
  return text;
}

std::optional<std::string> PercentDecodeTag(absl::string_view text) {
  std::string tag;
  tag.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      tag.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size())
      return std::nullopt;
    int high = HexValue(text[i + 1]);
    int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0)
      return std::nullopt;
    tag.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return tag;
}

}  // namespace bgsync
