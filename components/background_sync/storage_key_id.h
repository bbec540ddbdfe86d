// Service-worker registration ids in storage keys: exactly 16 lower-case hex digits (two's complement), so the
// keys of one id sort together. Shared by every store that keys records by id.
#ifndef COMPONENTS_BACKGROUND_SYNC_STORAGE_KEY_ID_H_
#define COMPONENTS_BACKGROUND_SYNC_STORAGE_KEY_ID_H_

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace bgsync {

inline constexpr size_t kStorageKeyIdDigits = 16;

// "000000000000002a" for 42, "ffffffffffffffff" for -1.
inline std::string EncodeStorageKeyId(int64_t id) {
  return absl::StrFormat("%016" PRIx64, static_cast<uint64_t>(id));
}

// The id spelled by `digits`, or nullopt unless it is exactly kStorageKeyIdDigits lower-case hex digits (any other
// spelling is not a key a store writes, so it must never be taken for one).
inline std::optional<int64_t> DecodeStorageKeyId(absl::string_view digits) {
  if (digits.size() != kStorageKeyIdDigits)
    return std::nullopt;
  uint64_t id = 0;
  for (char c : digits) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    id = (id << 4) | static_cast<uint64_t>(digit);
  }
  return static_cast<int64_t>(id);
}

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_STORAGE_KEY_ID_H_
