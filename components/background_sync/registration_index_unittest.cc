// RegistrationIndex behaves as the std::map<RegistrationKey, SyncRegistration> it replaces, and shares a service
// worker's origin between its registrations.
#include "components/background_sync/registration_index.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

SyncRegistration Make(int64_t sw, SyncType type, std::string tag, int attempts = 0) {
  SyncRegistration r;
  r.key = {sw, type, std::move(tag)};
  r.origin = *Origin::Parse(absl::StrCat("https://sw", sw < 0 ? -sw : sw, ".example"));
  r.max_attempts = 3;
  r.num_attempts = attempts;
  return r;
}

std::vector<RegistrationKey> KeysOf(const RegistrationIndex& index) {
  std::vector<RegistrationKey> keys;
  for (const auto& [key, r] : index) {
    EXPECT_EQ(key, r.key);
    keys.push_back(key);
  }
  return keys;
}

std::vector<RegistrationKey> KeysOf(const std::map<RegistrationKey, SyncRegistration>& map) {
  std::vector<RegistrationKey> keys;
  for (const auto& [key, r] : map)
    keys.push_back(key);
  return keys;
}

TEST(RegistrationIndexTest, IteratesInKeyOrderAcrossServiceWorkersAndTypes) {
  RegistrationIndex index;
  for (auto [sw, type, tag] : std::vector<std::tuple<int64_t, SyncType, std::string>>{
           {7, SyncType::kPeriodic, "b"},
           {-3, SyncType::kOneShot, "z"},
           {7, SyncType::kOneShot, "b"},
           {7, SyncType::kOneShot, "a"},
           {1, SyncType::kOneShot, "\xff"},
       }) {
    EXPECT_TRUE(index.emplace({sw, type, tag}, Make(sw, type, tag)).second);
  }
  EXPECT_FALSE(index.emplace({7, SyncType::kOneShot, "a"}, Make(7, SyncType::kOneShot, "a", 2)).second);
  EXPECT_EQ(index.at({7, SyncType::kOneShot, "a"}).num_attempts, 0);  // not replaced
  const std::vector<RegistrationKey> expected = {{-3, SyncType::kOneShot, "z"},
                                                 {1, SyncType::kOneShot, "\xff"},
                                                 {7, SyncType::kOneShot, "a"},
                                                 {7, SyncType::kOneShot, "b"},
                                                 {7, SyncType::kPeriodic, "b"}};
  EXPECT_EQ(KeysOf(index), expected);
  EXPECT_EQ(index.size(), 5u);
  EXPECT_EQ(index.ServiceWorkerIds(), (std::vector<int64_t>{-3, 1, 7}));

  // lower_bound as the engine uses it: the first registration of a service worker (and type).
  auto it = index.lower_bound({7, SyncType::kPeriodic, ""});
  ASSERT_NE(it, index.end());
  EXPECT_EQ(it->first, (RegistrationKey{7, SyncType::kPeriodic, "b"}));
  it = index.lower_bound({2, SyncType::kOneShot, ""});
  ASSERT_NE(it, index.end());
  EXPECT_EQ(it->first.sw_registration_id, 7);
  EXPECT_EQ(index.lower_bound({8, SyncType::kOneShot, ""}), index.end());
  // Past the last registration of a service worker: the next service worker's first.
  it = index.lower_bound({1, SyncType::kPeriodic, ""});
  ASSERT_NE(it, index.end());
  EXPECT_EQ(it->first.sw_registration_id, 7);
}

TEST(RegistrationIndexTest, ChangesThroughIteratorsAndErases) {
  RegistrationIndex index;
  index.emplace({1, SyncType::kOneShot, "a"}, Make(1, SyncType::kOneShot, "a"));
  index.emplace({1, SyncType::kOneShot, "b"}, Make(1, SyncType::kOneShot, "b"));
  auto it = index.find({1, SyncType::kOneShot, "b"});
  ASSERT_NE(it, index.end());
  SyncRegistration changed = it->second;
  changed.num_attempts = 2;
  it->second = changed;
  EXPECT_EQ(index.at({1, SyncType::kOneShot, "b"}).num_attempts, 2);
  EXPECT_EQ(index.count({1, SyncType::kOneShot, "b"}), 1u);
  EXPECT_EQ(index.count({1, SyncType::kPeriodic, "b"}), 0u);
  index.erase(index.find({1, SyncType::kOneShot, "a"}));
  EXPECT_EQ(index.erase({1, SyncType::kOneShot, "b"}), 1u);
  EXPECT_EQ(index.erase({1, SyncType::kOneShot, "b"}), 0u);
  EXPECT_TRUE(index.empty());
  EXPECT_EQ(index.begin(), index.end());
  EXPECT_TRUE(index.ServiceWorkerIds().empty());
}

TEST(RegistrationIndexTest, AServiceWorkersRegistrationsShareOneOrigin) {
  RegistrationIndex index;
  index.emplace({1, SyncType::kOneShot, "a"}, Make(1, SyncType::kOneShot, "a"));
  index.emplace({1, SyncType::kOneShot, "b"}, Make(1, SyncType::kOneShot, "b"));  // an equal, separate Origin
  EXPECT_TRUE(index.at({1, SyncType::kOneShot, "a"}).origin.SharesWith(index.at({1, SyncType::kOneShot, "b"}).origin));
  // A different origin (impossible for one service worker in the engine) is kept as it is.
  SyncRegistration other = Make(1, SyncType::kOneShot, "c");
  other.origin = *Origin::Parse("https://elsewhere.example");
  index.emplace(other.key, other);
  EXPECT_EQ(index.at(other.key).origin.Serialize(), "https://elsewhere.example");
}

TEST(RegistrationIndexTest, AddsAServiceWorkerInOneStep) {
  RegistrationIndex index;
  std::vector<SyncRegistration> registrations = {Make(5, SyncType::kOneShot, "a"), Make(5, SyncType::kOneShot, "b"),
                                                 Make(5, SyncType::kPeriodic, "a")};
  EXPECT_TRUE(index.AddServiceWorker(5, registrations));
  EXPECT_FALSE(index.AddServiceWorker(5, {Make(5, SyncType::kOneShot, "c")}));
  EXPECT_TRUE(index.AddServiceWorker(6, {}));
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(KeysOf(index),
            (std::vector<RegistrationKey>{
                {5, SyncType::kOneShot, "a"}, {5, SyncType::kOneShot, "b"}, {5, SyncType::kPeriodic, "a"}}));
  EXPECT_NE(index.find({5, SyncType::kPeriodic, "a"}), index.end());
  EXPECT_TRUE(index.emplace({5, SyncType::kOneShot, "aa"}, Make(5, SyncType::kOneShot, "aa")).second);
  EXPECT_EQ(index.size(), 4u);
}

// Random operations, checked against std::map after each one.
TEST(RegistrationIndexTest, MatchesStdMapUnderRandomOperations) {
  std::mt19937 random(7);
  RegistrationIndex index;
  std::map<RegistrationKey, SyncRegistration> model;
  auto random_key = [&] {
    const int64_t sw = static_cast<int64_t>(random() % 9) - 2;
    const SyncType type = random() % 2 ? SyncType::kOneShot : SyncType::kPeriodic;
    return RegistrationKey{sw, type, std::string(1 + random() % 2, static_cast<char>('a' + random() % 4))};
  };
  for (int step = 0; step < 20000; ++step) {
    const RegistrationKey key = random_key();
    switch (random() % 5) {
      case 0:
      case 1: {
        SyncRegistration r = Make(key.sw_registration_id, key.type, key.tag, static_cast<int>(random() % 2));
        const bool inserted = index.emplace(key, r).second;
        EXPECT_EQ(inserted, model.emplace(key, r).second);
        break;
      }
      case 2: {
        auto it = index.find(key);
        auto model_it = model.find(key);
        ASSERT_EQ(it == index.end(), model_it == model.end());
        if (it != index.end()) {
          index.erase(it);
          model.erase(model_it);
        }
        break;
      }
      case 3: {
        auto it = index.find(key);
        if (it != index.end()) {
          ++it->second.num_attempts;
          ++model.at(key).num_attempts;
        }
        break;
      }
      case 4: {
        auto it = index.lower_bound(key);
        auto model_it = model.lower_bound(key);
        ASSERT_EQ(it == index.end(), model_it == model.end());
        if (it != index.end()) {
          EXPECT_EQ(it->first, model_it->first);
          EXPECT_EQ(it->second.num_attempts, model_it->second.num_attempts);
        }
        break;
      }
    }
    ASSERT_EQ(index.size(), model.size());
    if (step % 1000 == 0) {
      ASSERT_EQ(KeysOf(index), KeysOf(model));
    }
  }
  EXPECT_EQ(KeysOf(index), KeysOf(model));
}

}  // namespace
}  // namespace bgsync
