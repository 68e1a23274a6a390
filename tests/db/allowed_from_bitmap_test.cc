// AllowedFromBitmap (db/allowed_from_bitmap.h) against the ids one by one,
// over every kind of roaring container and a universe that cuts one.
#include "db/allowed_from_bitmap.h"

#include <cstdint>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "quant/random.h"

namespace tqdb {
namespace dbimpl {
namespace {

// The kinds of container the bitmap holds (CRoaring's type codes).
std::set<int> Kinds(const Roaring& ids) {
  std::set<int> kinds;
  const roaring_array_t& ra = ids.roaring.high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) kinds.insert(ra.typecodes[i]);
  return kinds;
}

void ExpectSameAsOneByOne(const Roaring& ids, uint32_t universe) {
  const AllowedSet a = AllowedFromBitmap(ids, universe);
  AllowedSet want(universe);
  for (uint32_t id : ids) {
    if (id < universe) want.Add(id);
  }
  ASSERT_EQ(a.universe(), universe);
  ASSERT_EQ(a.count(), want.count()) << "universe " << universe;
  std::vector<uint32_t> got, expected;
  a.ForEach([&](uint32_t id) { got.push_back(id); });
  want.ForEach([&](uint32_t id) { expected.push_back(id); });
  EXPECT_EQ(got, expected) << "universe " << universe;
}

TEST(AllowedFromBitmapTest, EveryContainerKindAndAUniverseThatCutsOne) {
  Rng rng(3);
  Roaring ids;
  // Container 0: dense (a bitset container), 1: sparse (an array), 2 and
  // 3: ranges (runs once optimized), one of them across 2 and 3; 5: a
  // bitset again, past a container with nothing.
  for (uint32_t i = 0; i < 65536; ++i) {
    if (rng.Uniform(2) == 0) ids.add(i);
  }
  for (uint32_t i = 0; i < 300; ++i) {
    ids.add(65536 + static_cast<uint32_t>(rng.Uniform(65536)));
  }
  ids.addRange(2 * 65536 + 17, 2 * 65536 + 4000);
  ids.addRange(3 * 65536 - 100, 3 * 65536 + 5000);
  for (uint32_t i = 5 * 65536; i < 6 * 65536; ++i) {
    if (rng.Uniform(3) != 0) ids.add(i);
  }
  ids.runOptimize();
  EXPECT_EQ(Kinds(ids), (std::set<int>{BITSET_CONTAINER_TYPE_CODE,
                                       ARRAY_CONTAINER_TYPE_CODE,
                                       RUN_CONTAINER_TYPE_CODE}));
  for (uint32_t universe :
       {0u, 1u, 63u, 64u, 65536u, 65536u + 1000u, 2u * 65536u + 100u,
        3u * 65536u + 64u, 3u * 65536u + 5001u, 4u * 65536u, 5u * 65536u + 777u,
        6u * 65536u, 7u * 65536u + 3u}) {
    ExpectSameAsOneByOne(ids, universe);
  }
}

TEST(AllowedFromBitmapTest, CopiesAndEmptyBitmaps) {
  Roaring empty;
  ExpectSameAsOneByOne(empty, 1000);
  // A copy-on-write copy shares its containers (shared containers).
  Roaring a;
  a.addRange(10, 200000);
  a.setCopyOnWrite(true);
  Roaring b(a);
  b.setCopyOnWrite(true);
  EXPECT_TRUE(Kinds(b).count(SHARED_CONTAINER_TYPE_CODE));
  ExpectSameAsOneByOne(b, 150000);
}

}  // namespace
}  // namespace dbimpl
}  // namespace tqdb
