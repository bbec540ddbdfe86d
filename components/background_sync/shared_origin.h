// An Origin held by reference: copies share one immutable Origin instead of copying its strings. The engine keeps
// one per registration, and a service worker's registrations all share its origin, so a million registrations cost
// a pointer each (8 bytes) rather than an Origin (72 bytes, and often a heap string) each.
//
// Value type: behaves as the Origin it holds (converts to `const Origin&`, compares and hashes as that Origin).
// Immutable once made; copies may be made, used and destroyed on any threads at once (the count is atomic).
#ifndef COMPONENTS_BACKGROUND_SYNC_SHARED_ORIGIN_H_
#define COMPONENTS_BACKGROUND_SYNC_SHARED_ORIGIN_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "public/origin.h"

namespace bgsync {

class SharedOrigin {
 public:
  // The empty Origin.
  SharedOrigin() = default;
  // Implicit: wherever a registration takes an Origin, it takes one of these.
  SharedOrigin(Origin origin)  // NOLINT(runtime/explicit)
      : rep_(new Rep{std::move(origin), {1}}) {}
  SharedOrigin(const SharedOrigin& other) : rep_(other.rep_) { Ref(); }
  SharedOrigin(SharedOrigin&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  SharedOrigin& operator=(const SharedOrigin& other) {
    if (rep_ != other.rep_) {
      other.Ref();
      Unref();
      rep_ = other.rep_;
    }
    return *this;
  }
  SharedOrigin& operator=(SharedOrigin&& other) noexcept {
    if (this != &other) {
      Unref();
      rep_ = std::exchange(other.rep_, nullptr);
    }
    return *this;
  }
  ~SharedOrigin() { Unref(); }

  const Origin& get() const { return rep_ ? rep_->origin : Empty(); }
  operator const Origin&() const { return get(); }  // NOLINT(runtime/explicit)
  const Origin* operator->() const { return &get(); }

  // Origin's accessors, so that `registration.origin.Serialize()` reads as before.
  const std::string& scheme() const { return get().scheme(); }
  const std::string& host() const { return get().host(); }
  uint16_t port() const { return get().port(); }
  std::string Serialize() const { return get().Serialize(); }
  bool IsPotentiallyTrustworthy() const { return get().IsPotentiallyTrustworthy(); }

  // True if both hold the very same Origin object (then they are equal; equal origins need not be the same).
  bool SharesWith(const SharedOrigin& other) const { return rep_ == other.rep_; }

  friend bool operator==(const SharedOrigin& a, const SharedOrigin& b) { return a.SharesWith(b) || a.get() == b.get(); }
  friend bool operator==(const SharedOrigin& a, const Origin& b) { return a.get() == b; }
  friend bool operator==(const Origin& a, const SharedOrigin& b) { return a == b.get(); }
  friend bool operator!=(const SharedOrigin& a, const SharedOrigin& b) { return !(a == b); }
  friend bool operator!=(const SharedOrigin& a, const Origin& b) { return !(a == b); }
  friend bool operator!=(const Origin& a, const SharedOrigin& b) { return !(a == b); }
  friend bool operator<(const SharedOrigin& a, const SharedOrigin& b) { return a.get() < b.get(); }
  template <typename H>
  friend H AbslHashValue(H h, const SharedOrigin& o) {
    return H::combine(std::move(h), o.get());
  }

 private:
  struct Rep {
    const Origin origin;
    std::atomic<int32_t> references;
  };

  static const Origin& Empty() {
    static const Origin* const empty = new Origin();
    return *empty;
  }
  void Ref() const {
    if (rep_)
      rep_->references.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref() {
    if (rep_ && rep_->references.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete rep_;
  }

  Rep* rep_ = nullptr;  // null: the empty Origin
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_SHARED_ORIGIN_H_
