// How the promises of the page-facing Background Sync API settle: SyncManager and PeriodicSyncManager answer with
// these. A rejection carries the DOMException (or, for an argument the bindings refuse, the TypeError) a page sees.
//
// Thread-safety: immutable values; safe to share once constructed.
#ifndef RENDERER_SYNC_RESULTS_H_
#define RENDERER_SYNC_RESULTS_H_

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "public/background_sync_error.h"

namespace bgsync {

// How register() or unregister() settled: resolved, or rejected with a DOMException.
class SyncResult {
 public:
  static SyncResult Resolved() { return SyncResult(std::nullopt); }
  static SyncResult Rejected(DomException exception) { return SyncResult(std::move(exception)); }

  bool ok() const { return !exception_.has_value(); }
  // The rejection. Precondition: !ok().
  const DomException& exception() const { return *exception_; }

 private:
  explicit SyncResult(std::optional<DomException> exception) : exception_(std::move(exception)) {}

  std::optional<DomException> exception_;
};

// How getTags() settled: resolved with the tags (sorted by byte order, as the browser sends them), or rejected
// with a DOMException.
class TagsResult {
 public:
  static TagsResult Resolved(std::vector<std::string> tags) { return TagsResult(std::move(tags)); }
  static TagsResult Rejected(DomException exception) { return TagsResult(std::move(exception)); }

  bool ok() const { return std::holds_alternative<std::vector<std::string>>(value_); }
  // Precondition: ok().
  const std::vector<std::string>& tags() const { return std::get<std::vector<std::string>>(value_); }
  // Precondition: !ok().
  const DomException& exception() const { return std::get<DomException>(value_); }

 private:
  explicit TagsResult(std::variant<std::vector<std::string>, DomException> value) : value_(std::move(value)) {}

  std::variant<std::vector<std::string>, DomException> value_;
};

}  // namespace bgsync

#endif  // RENDERER_SYNC_RESULTS_H_
