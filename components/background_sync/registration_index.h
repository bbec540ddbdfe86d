// The engine's registrations in memory, ordered by RegistrationKey, with the part of std::map's interface the engine
// uses (find, lower_bound, emplace, erase, at, count, iteration with `->first` / `->second` and structured bindings).
//
// Laid out for a million registrations: one sorted vector per service-worker registration (operations are per
// service worker, and the quota caps one at 1,000), no node per registration, and a service worker's registrations
// share one Origin. An entry costs sizeof(SyncRegistration) plus its tag's heap block, against std::map's node (two
// keys, two tag copies, four pointers) per registration.
//
// Unlike std::map, inserting or erasing a registration invalidates every iterator, and pointers and references to the
// other registrations of the same service worker (references to those of other service workers stay valid). Keys
// must not be modified through an iterator: `it->second = value` requires value.key == it->first.
//
// Thread-compatible: the engine guards it with its mutex.
#ifndef COMPONENTS_BACKGROUND_SYNC_REGISTRATION_INDEX_H_
#define COMPONENTS_BACKGROUND_SYNC_REGISTRATION_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "components/background_sync/sync_registration.h"

namespace bgsync {

class RegistrationIndex {
  using ServiceWorkers = absl::btree_map<int64_t, std::vector<SyncRegistration>>;

 public:
  // What an iterator points at: the key and the registration (whose `key` it is).
  template <bool kConst>
  struct Entry {
    const RegistrationKey& first;
    std::conditional_t<kConst, const SyncRegistration&, SyncRegistration&> second;
    const Entry* operator->() const { return this; }
  };

  template <bool kConst>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Entry<kConst>;
    using difference_type = std::ptrdiff_t;
    using reference = Entry<kConst>;
    using pointer = Entry<kConst>;

    Iterator() = default;
    // iterator -> const_iterator.
    template <bool kOther, typename = std::enable_if_t<kConst && !kOther>>
    Iterator(const Iterator<kOther>& other)  // NOLINT(runtime/explicit)
        : outer_(other.outer_), outer_end_(other.outer_end_), current_(other.current_), end_(other.end_) {}

    Entry<kConst> operator*() const { return {current_->key, *current_}; }
    Entry<kConst> operator->() const { return **this; }
    Iterator& operator++() {
      if (++current_ == end_) {
        ++outer_;
        Enter();
      }
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.current_ == b.current_; }
    friend bool operator!=(const Iterator& a, const Iterator& b) { return !(a == b); }

   private:
    friend class RegistrationIndex;
    template <bool>
    friend class Iterator;
    using Outer = std::conditional_t<kConst, ServiceWorkers::const_iterator, ServiceWorkers::iterator>;
    using Registration = std::conditional_t<kConst, const SyncRegistration, SyncRegistration>;

    // At registration `index` of `outer`'s service worker (which has more than `index`), or at the end.
    Iterator(Outer outer, Outer outer_end, size_t index) : outer_(outer), outer_end_(outer_end) {
      Enter();
      if (current_)
        current_ += index;
    }
    // At the first registration of outer_'s service worker (every vector in the map is non-empty).
    void Enter() {
      if (outer_ == outer_end_) {
        current_ = end_ = nullptr;
      } else {
        current_ = outer_->second.data();
        end_ = current_ + outer_->second.size();
      }
    }

    Outer outer_{};
    Outer outer_end_{};
    Registration* current_ = nullptr;  // null at the end
    Registration* end_ = nullptr;      // of outer_'s registrations
  };

  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  RegistrationIndex() = default;
  RegistrationIndex(const RegistrationIndex&) = delete;
  RegistrationIndex& operator=(const RegistrationIndex&) = delete;

  iterator begin() { return {service_workers_.begin(), service_workers_.end(), 0}; }
  iterator end() { return {}; }
  const_iterator begin() const { return {service_workers_.begin(), service_workers_.end(), 0}; }
  const_iterator end() const { return {}; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  iterator find(const RegistrationKey& key);
  const_iterator find(const RegistrationKey& key) const;
  size_t count(const RegistrationKey& key) const { return find(key) == end() ? 0 : 1; }
  // The first registration whose key is not less than `key`.
  iterator lower_bound(const RegistrationKey& key);
  // The registration of `key`. Precondition: it exists (checked: aborts otherwise, as std::map::at throws).
  SyncRegistration& at(const RegistrationKey& key);
  const SyncRegistration& at(const RegistrationKey& key) const;

  // Inserts `registration` under `key` (which must equal registration.key) unless the key is present. Returns the
  // registration's position and whether it was inserted. The registration shares its service worker's origin when
  // the origins are equal.
  std::pair<iterator, bool> emplace(const RegistrationKey& key, SyncRegistration registration);
  // Removes the registration `it` points at. Precondition: it != end().
  void erase(iterator it);
  // Removes the registration of `key` if present; returns how many were removed (0 or 1).
  size_t erase(const RegistrationKey& key);

  // Adds every registration of one service worker that has none yet, in one step (the start-up load), as they are
  // (their origins are not shared further). They must be in key order with distinct keys, each with
  // sw_registration_id == `sw_registration_id` (as a store reads them). Returns false, adding nothing, if the service
  // worker already has registrations.
  bool AddServiceWorker(int64_t sw_registration_id, std::vector<SyncRegistration> registrations);

  // The ids of the service workers that have registrations, ascending.
  std::vector<int64_t> ServiceWorkerIds() const;

 private:
  // Position of the first registration of `registrations` not less than (type, tag).
  static size_t LowerBoundIn(const std::vector<SyncRegistration>& registrations, const RegistrationKey& key);

  ServiceWorkers service_workers_;  // no empty vectors
  size_t size_ = 0;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_REGISTRATION_INDEX_H_
