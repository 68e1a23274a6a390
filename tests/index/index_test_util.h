// Helpers shared by the index tests (they link the index layer; the
// quant-layer helpers are in tests/test_util.h).
#ifndef TQDB_TESTS_INDEX_INDEX_TEST_UTIL_H_
#define TQDB_TESTS_INDEX_INDEX_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "index/ivf_index.h"

namespace tqdb {
namespace testing_util {

// An index trained with `o` on the rows of x (o.dim floats each), holding
// them all with ids 0..n-1; null, with a test failure, if training fails.
inline std::unique_ptr<IvfIndex> TrainAndAddAll(const IvfOptions& o,
                                                const std::vector<float>& x) {
  const size_t n = x.size() / o.dim;
  auto idx = IvfIndex::Train(o, x.data(), n);
  EXPECT_TRUE(idx.ok()) << idx.status();
  if (!idx.ok()) return nullptr;
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = i;
  EXPECT_TRUE((*idx)->Add(ids.data(), x.data(), n).ok());
  return std::move(*idx);
}

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_INDEX_INDEX_TEST_UTIL_H_
