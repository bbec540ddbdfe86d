// SharedOrigin behaves as the Origin it holds, and copies share it.
#include "components/background_sync/shared_origin.h"

#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"

namespace bgsync {
namespace {

TEST(SharedOriginTest, BehavesAsItsOrigin) {
  const Origin mail = *Origin::Parse("https://mail.example:8443");
  SharedOrigin shared = mail;
  EXPECT_EQ(shared, mail);
  EXPECT_EQ(mail, shared);
  EXPECT_EQ(shared.Serialize(), "https://mail.example:8443");
  EXPECT_EQ(shared.host(), "mail.example");
  EXPECT_EQ(shared.port(), 8443);
  EXPECT_TRUE(shared.IsPotentiallyTrustworthy());
  const Origin& as_origin = shared;
  EXPECT_EQ(as_origin, mail);

  SharedOrigin empty;
  EXPECT_EQ(empty, Origin());
  EXPECT_EQ(empty.Serialize(), "");
  EXPECT_NE(empty, shared);

  // Equal origins made separately are equal without being shared; they hash alike.
  SharedOrigin again = *Origin::Parse("https://mail.example:8443");
  EXPECT_EQ(again, shared);
  EXPECT_FALSE(again.SharesWith(shared));
  absl::flat_hash_map<Origin, int> counts;
  ++counts[shared];
  ++counts[again];
  EXPECT_EQ(counts[mail], 2);
  EXPECT_FALSE(shared < again);
}

TEST(SharedOriginTest, CopiesShareAndOutliveTheOriginal) {
  auto original = std::make_unique<SharedOrigin>(*Origin::Parse("https://a.example"));
  SharedOrigin copy = *original;
  EXPECT_TRUE(copy.SharesWith(*original));
  SharedOrigin moved = std::move(copy);
  EXPECT_TRUE(moved.SharesWith(*original));
  original.reset();
  EXPECT_EQ(moved.Serialize(), "https://a.example");
  SharedOrigin assigned;
  assigned = moved;
  SharedOrigin& alias = assigned;
  assigned = alias;  // self-assignment keeps it
  EXPECT_EQ(assigned.Serialize(), "https://a.example");
  assigned = SharedOrigin();
  EXPECT_EQ(assigned.Serialize(), "");
  EXPECT_EQ(moved.Serialize(), "https://a.example");
}

TEST(SharedOriginTest, CopiesMayBeMadeAndDroppedOnManyThreadsAtOnce) {
  const SharedOrigin origin = *Origin::Parse("https://a.example");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&origin] {
      for (int i = 0; i < 20000; ++i) {
        SharedOrigin copy = origin;
        SharedOrigin other = copy;
        EXPECT_TRUE(other.SharesWith(origin));
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(origin.Serialize(), "https://a.example");
}

}  // namespace
}  // namespace bgsync
