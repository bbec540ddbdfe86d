// Sync registration tags: the page-chosen names of sync registrations.
//
// Thread-safety: pure functions, callable from any thread.
#ifndef PUBLIC_SYNC_TAG_H_
#define PUBLIC_SYNC_TAG_H_

#include <cstddef>
#include "absl/strings/string_view.h"

namespace bgsync {

// The longest tag accepted, in bytes of UTF-8 (Chromium's limit). The empty tag is valid.
inline constexpr size_t kMaxTagLengthBytes = 10240;

// True if `tag` is no longer than kMaxTagLengthBytes.
inline bool IsTagLengthValid(absl::string_view tag) {
  return tag.size() <= kMaxTagLengthBytes;
}

// True if `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). A renderer
// converts the page's DOMString to UTF-8, so a tag that is not well-formed can only come from a forged message.
bool IsWellFormedUtf8(absl::string_view text);

}  // namespace bgsync

#endif  // PUBLIC_SYNC_TAG_H_
