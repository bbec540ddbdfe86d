// The text form of tags in the line protocols of bgsync_renderer_host and bgsync_test_worker: a tag may hold
// any bytes, a line holds one space-separated token per tag.
//
// Thread-safety: pure functions.
#ifndef RENDERER_TAG_ENCODING_H_
#define RENDERER_TAG_ENCODING_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace bgsync {

// Percent-encodes every byte outside printable ASCII (0x21-0x7e), and '%' itself, as "%XX" (upper-case hex).
// The result holds no spaces or control characters; the empty tag encodes as "".
std::string PercentEncodeTag(absl::string_view tag);

// Reverses PercentEncodeTag: "%XX" (either case of hex) becomes the byte; every other byte stands for itself.
// Returns nullopt for a '%' not followed by two hex digits.
std::optional<std::string> PercentDecodeTag(absl::string_view text);

}  // namespace bgsync

#endif  // RENDERER_TAG_ENCODING_H_
