#include "components/background_sync/registration_index.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <tuple>

namespace bgsync {
namespace {

// Order within one service worker: RegistrationKey's order without the id.
bool KeyLess(const RegistrationKey& a, const RegistrationKey& b) {
  return std::tie(a.type, a.tag) < std::tie(b.type, b.tag);
}

bool SameKey(const RegistrationKey& a, const RegistrationKey& b) {
  return a.type == b.type && a.tag == b.tag;
}

[[noreturn]] void MissingKey(const RegistrationKey& key) {
  std::fprintf(stderr, "RegistrationIndex::at: no registration %lld/%d/%s\n",
               static_cast<long long>(key.sw_registration_id), static_cast<int>(key.type), key.tag.c_str());
  std::abort();
}

}  // namespace

size_t RegistrationIndex::LowerBoundIn(const std::vector<SyncRegistration>& registrations, const RegistrationKey& key) {
  auto it = std::lower_bound(registrations.begin(), registrations.end(), key,
                             [](const SyncRegistration& r, const RegistrationKey& k) { return KeyLess(r.key, k); });
  return static_cast<size_t>(it - registrations.begin());
}

RegistrationIndex::iterator RegistrationIndex::find(const RegistrationKey& key) {
  auto outer = service_workers_.find(key.sw_registration_id);
  if (outer == service_workers_.end())
    return end();
  const size_t index = LowerBoundIn(outer->second, key);
  if (index == outer->second.size() || !SameKey(outer->second[index].key, key))
    return end();
  return {outer, service_workers_.end(), index};
}

RegistrationIndex::const_iterator RegistrationIndex::find(const RegistrationKey& key) const {
  auto outer = service_workers_.find(key.sw_registration_id);
  if (outer == service_workers_.end())
    return end();
  const size_t index = LowerBoundIn(outer->second, key);
  if (index == outer->second.size() || !SameKey(outer->second[index].key, key))
    return end();
  return {outer, service_workers_.end(), index};
}

RegistrationIndex::iterator RegistrationIndex::lower_bound(const RegistrationKey& key) {
  auto outer = service_workers_.lower_bound(key.sw_registration_id);
  if (outer == service_workers_.end() || outer->first != key.sw_registration_id)
    return {outer, service_workers_.end(), 0};
  const size_t index = LowerBoundIn(outer->second, key);
  if (index == outer->second.size())
    return {++outer, service_workers_.end(), 0};
  return {outer, service_workers_.end(), index};
}

SyncRegistration& RegistrationIndex::at(const RegistrationKey& key) {
  iterator it = find(key);
  if (it == end())
    MissingKey(key);
  return it->second;
}

const SyncRegistration& RegistrationIndex::at(const RegistrationKey& key) const {
  const_iterator it = find(key);
  if (it == end())
    MissingKey(key);
  return it->second;
}

std::pair<RegistrationIndex::iterator, bool> RegistrationIndex::emplace(const RegistrationKey& key,
                                                                        SyncRegistration registration) {
  auto outer = service_workers_.find(key.sw_registration_id);
  if (outer == service_workers_.end())
    outer = service_workers_.emplace(key.sw_registration_id, std::vector<SyncRegistration>()).first;
  std::vector<SyncRegistration>& registrations = outer->second;
  const size_t index = LowerBoundIn(registrations, key);
  if (index < registrations.size() && SameKey(registrations[index].key, key))
    return {{outer, service_workers_.end(), index}, false};
  if (!registrations.empty() && registrations.front().origin == registration.origin)
    registration.origin = registrations.front().origin;
  registration.key = key;
  registrations.insert(registrations.begin() + static_cast<std::ptrdiff_t>(index), std::move(registration));
  ++size_;
  return {{outer, service_workers_.end(), index}, true};
}

void RegistrationIndex::erase(iterator it) {
  std::vector<SyncRegistration>& registrations = it.outer_->second;
  registrations.erase(registrations.begin() + (it.current_ - registrations.data()));
  if (registrations.empty())
    service_workers_.erase(it.outer_);
  --size_;
}

size_t RegistrationIndex::erase(const RegistrationKey& key) {
  iterator it = find(key);
  if (it == end())
    return 0;
  erase(it);
  return 1;
}

bool RegistrationIndex::AddServiceWorker(int64_t sw_registration_id, std::vector<SyncRegistration> registrations) {
  if (registrations.empty())
    return true;
  auto [outer, inserted] = service_workers_.emplace(sw_registration_id, std::vector<SyncRegistration>());
  if (!inserted)
    return false;
  size_ += registrations.size();
  outer->second = std::move(registrations);
  return true;
}

std::vector<int64_t> RegistrationIndex::ServiceWorkerIds() const {
  std::vector<int64_t> ids;
  ids.reserve(service_workers_.size());
  for (const auto& [id, registrations] : service_workers_)
    ids.push_back(id);
  return ids;
}

}  // namespace bgsync
