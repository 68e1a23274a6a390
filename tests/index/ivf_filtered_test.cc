// IvfIndex's filtered search (index/ivf_filtered.cc): restricted to an
// AllowedSet of internal ids, inside the scan, in both ways of visiting the
// index; k results whenever k points are allowed; deletes, compaction and
// reused internal ids. Every case runs on both in-memory layouts: the
// codec's full one and the progressive two-pass scan (index/progressive.h),
// whose first pass and refinement honour the same per-block masks.
#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "index/allowed_set.h"
#include "index/ivf_index.h"
#include "quant/kernels.h"
#include "quant/random.h"

namespace tqdb {
namespace {

constexpr size_t kD = 32;

std::vector<float> Blobs(size_t n, size_t clusters, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> centers(clusters * kD);
  for (float& c : centers) c = static_cast<float>(rng.Gaussian());
  std::vector<float> x(n * kD);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng.Uniform(clusters);
    for (size_t j = 0; j < kD; ++j) {
      x[i * kD + j] =
          centers[c * kD + j] + 0.35f * static_cast<float>(rng.Gaussian());
    }
  }
  return x;
}

class ArrayStore : public VectorStore {
 public:
  explicit ArrayStore(const std::vector<float>* x) : x_(x) {}
  // Point ids are 1000 + row (Build).
  bool GetVector(uint64_t id, float* out) const override {
    if (id < 1000 || (id - 1000 + 1) * kD > x_->size()) return false;
    const float* v = x_->data() + (id - 1000) * kD;
    std::copy(v, v + kD, out);
    return true;
  }

 private:
  const std::vector<float>* x_;
};

// The layout under test: the progressive one is forced, with a one-bit
// first pass, where the default would not take it (kD is small to keep the
// tests fast).
LayoutOptions Layout(bool progressive) {
  LayoutOptions l;
  l.progressive = progressive;
  l.prefix_bits = 1;
  l.fastscan_prefix_ratio = 0;
  return l;
}

// Point i has id 1000 + i and internal id i.
std::unique_ptr<IvfIndex> Build(const std::vector<float>& x, Metric m,
                                uint32_t nlist, bool progressive) {
  IvfOptions o;
  o.dim = kD;
  o.metric = m;
  o.nlist = nlist;
  o.codec.method = "renorm";
  o.codec.bits = 4;
  o.threads = 1;
  o.layout = Layout(progressive);
  const size_t n = x.size() / kD;
  auto idx = IvfIndex::Train(o, x.data(), n);
  EXPECT_TRUE(idx.ok()) << idx.status();
  EXPECT_EQ((*idx)->progressive() != nullptr, progressive);
  std::vector<uint32_t> lists(n), iids(n);
  std::vector<uint8_t> codes(n * (*idx)->bytes_per_vector());
  EXPECT_TRUE((*idx)->Encode(x.data(), n, lists.data(), codes.data()).ok());
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = 1000 + i;
    iids[i] = static_cast<uint32_t>(i);
  }
  EXPECT_TRUE(
      (*idx)
          ->AddEncoded(ids.data(), lists.data(), codes.data(), n, iids.data())
          .ok());
  return std::move(*idx);
}

// The exact top k of the allowed rows, as ids.
std::vector<uint64_t> Exact(const std::vector<float>& x, const float* q,
                            const AllowedSet& a, size_t k) {
  std::vector<std::pair<float, uint64_t>> s;
  for (size_t i = 0; i < x.size() / kD; ++i) {
    if (!a.Contains(static_cast<uint32_t>(i))) continue;
    s.push_back({kernels::Dot(q, &x[i * kD], kD), 1000 + i});
  }
  std::sort(s.begin(), s.end(),
            [](const auto& u, const auto& v) { return u.first > v.first; });
  std::vector<uint64_t> out;
  for (size_t i = 0; i < std::min(k, s.size()); ++i) out.push_back(s[i].second);
  return out;
}

double Recall(const std::vector<Neighbor>& got,
              const std::vector<uint64_t>& want) {
  std::set<uint64_t> w(want.begin(), want.end());
  size_t hit = 0;
  for (const Neighbor& n : got) hit += w.count(n.id);
  return want.empty() ? 1.0 : static_cast<double>(hit) / want.size();
}

AllowedSet EveryNth(size_t n, size_t step, size_t offset) {
  AllowedSet a(static_cast<uint32_t>(n));
  for (size_t i = offset; i < n; i += step) a.Add(static_cast<uint32_t>(i));
  return a;
}

class IvfFilteredTest : public ::testing::TestWithParam<bool> {};

TEST(AllowedSetTest, CountsMembersOnceAndIteratesInOrder) {
  AllowedSet a(200);
  for (uint32_t i : {5u, 64u, 199u, 5u, 0u}) a.Add(i);
  EXPECT_EQ(a.count(), 4u);
  EXPECT_TRUE(a.Contains(64));
  EXPECT_FALSE(a.Contains(63));
  EXPECT_FALSE(a.Contains(200));  // outside the universe
  EXPECT_FALSE(a.Contains(kNoIid));
  std::vector<uint32_t> seen;
  a.ForEach([&](uint32_t i) { seen.push_back(i); });
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 5, 64, 199}));
  seen.clear();
  EXPECT_FALSE(a.ForEachWhile([&](uint32_t i) {
    seen.push_back(i);
    return i < 64;
  }));
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 5, 64}));
  EXPECT_TRUE(a.ForEachWhile([](uint32_t) { return true; }));
}

// The spread's count stops when go_on says so, and only then; go_on sees
// the counts each time one grows.
TEST_P(IvfFilteredTest, SpreadStopsWhenToldOnly) {
  const auto x = Blobs(4000, 8, 21);
  auto idx = Build(x, Metric::kInnerProduct, 16, GetParam());
  const AllowedSet a = EveryNth(4000, 5, 2);  // spread over every block
  const double w = 3.5;
  const IvfIndex::AllowedSpread full = idx->Spread(a);
  EXPECT_TRUE(full.complete);
  EXPECT_EQ(full.lists, 16u);
  EXPECT_GE(full.blocks, 4000u / 32);
  for (double limit : {0.0, 10.0, 0.5 * full.Cost(w), full.Cost(w) - 1}) {
    uint64_t calls = 0, last_blocks = 0;
    const IvfIndex::AllowedSpread s =
        idx->Spread(a, [&](const IvfIndex::AllowedSpread& c) {
          ++calls;
          EXPECT_GE(c.blocks, last_blocks);
          last_blocks = c.blocks;
          return c.Cost(w) <= limit;
        });
    EXPECT_FALSE(s.complete) << limit;
    EXPECT_GT(s.Cost(w), limit);
    // One more point adds a block and a list at most.
    EXPECT_LE(s.Cost(w), limit + 1 + w) << limit;
    EXPECT_EQ(calls, s.blocks);  // every new block, and only those
  }
  for (double limit : {full.Cost(w), 2 * full.Cost(w)}) {
    const IvfIndex::AllowedSpread s = idx->Spread(
        a,
        [&](const IvfIndex::AllowedSpread& c) { return c.Cost(w) <= limit; });
    EXPECT_TRUE(s.complete) << limit;
    EXPECT_EQ(s.blocks, full.blocks);
    EXPECT_EQ(s.lists, full.lists);
  }
}

TEST_P(IvfFilteredTest, EveryResultIsAllowedAndThePageIsFull) {
  const auto x = Blobs(3000, 12, 1);
  auto idx = Build(x, Metric::kInnerProduct, 24, GetParam());
  for (FilteredScan how : {FilteredScan::kProbe, FilteredScan::kAllowedOnly}) {
    for (size_t step : {2, 13, 151}) {
      const AllowedSet a = EveryNth(3000, step, 1);
      SearchParams p;
      p.k = 10;
      p.nprobe = 2;
      p.allowed = &a;
      p.filtered_scan = how;
      p.min_allowed = 10;
      SearchStats st;
      p.stats = &st;
      for (size_t qi = 0; qi < 3000; qi += 437) {
        auto r = idx->Search(&x[qi * kD], p);
        ASSERT_TRUE(r.ok()) << r.status();
        ASSERT_EQ(r->size(), 10u) << "step " << step;
        for (const Neighbor& nb : *r) {
          ASSERT_TRUE(a.Contains(static_cast<uint32_t>(nb.id - 1000)));
        }
        EXPECT_GE(st.allowed_seen, 10u);
        EXPECT_LE(st.blocks_scanned, (3000 + 31) / 32 + 24);
        EXPECT_EQ(st.codes_scanned, st.blocks_scanned * 32);
        // Only allowed points reach the second pass.
        EXPECT_LE(st.refined, st.allowed_seen);
        if (!GetParam()) {
          EXPECT_EQ(st.refined, 0u);
        }
      }
    }
  }
}

TEST_P(IvfFilteredTest, ProbeRaisesNprobeUntilEnoughAllowedPoints) {
  const auto x = Blobs(4000, 16, 2);
  auto idx = Build(x, Metric::kInnerProduct, 32, GetParam());
  const AllowedSet a = EveryNth(4000, 40, 3);  // 100 points, everywhere
  SearchParams p;
  p.k = 10;
  p.nprobe = 1;
  p.allowed = &a;
  p.min_allowed = 60;
  SearchStats st;
  p.stats = &st;
  auto r = idx->Search(&x[0], p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 10u);
  EXPECT_GE(st.allowed_seen, 60u);
  EXPECT_GT(st.lists_probed, 1u);
  // More than exist: every list.
  p.min_allowed = 1000;
  r = idx->Search(&x[0], p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(st.lists_probed, 32u);
  EXPECT_EQ(st.allowed_seen, 100u);
}

TEST_P(IvfFilteredTest, MatchesFarFromTheQueryAreStillFound) {
  // The allowed points all sit in one blob; queries come from the others
  // (a filter correlated with the vectors, the hard case for IVF).
  const auto x = Blobs(3000, 10, 3);
  auto idx = Build(x, Metric::kInnerProduct, 20, GetParam());
  AllowedSet a(3000);
  const float* anchor = &x[0];
  std::vector<std::pair<float, uint32_t>> near;
  for (uint32_t i = 0; i < 3000; ++i) {
    near.push_back({kernels::L2Sqr(anchor, &x[size_t{i} * kD], kD), i});
  }
  std::sort(near.begin(), near.end());
  for (size_t i = 0; i < 40; ++i) a.Add(near[i].second);
  ArrayStore store(&x);
  for (FilteredScan how : {FilteredScan::kProbe, FilteredScan::kAllowedOnly}) {
    SearchParams p;
    p.k = 10;
    p.nprobe = 1;
    p.allowed = &a;
    p.filtered_scan = how;
    p.min_allowed = 40;
    p.rescore = true;
    p.store = &store;
    for (size_t qi = 1; qi < 3000; qi += 211) {
      auto r = idx->Search(&x[qi * kD], p);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->size(), 10u);
      EXPECT_EQ(Recall(*r, Exact(x, &x[qi * kD], a, 10)), 1.0);
    }
  }
}

TEST_P(IvfFilteredTest, AllowedOnlyEqualsAFullProbeOfTheSameSet) {
  const auto x = Blobs(2500, 8, 4);
  auto idx = Build(x, Metric::kL2, 16, GetParam());
  const AllowedSet a = EveryNth(2500, 7, 2);
  SearchParams p;
  p.k = 15;
  p.nprobe = 0;  // every list
  p.allowed = &a;
  for (size_t qi = 0; qi < 2500; qi += 333) {
    p.filtered_scan = FilteredScan::kProbe;
    auto probe = idx->Search(&x[qi * kD], p);
    p.filtered_scan = FilteredScan::kAllowedOnly;
    auto only = idx->Search(&x[qi * kD], p);
    ASSERT_TRUE(probe.ok() && only.ok());
    ASSERT_EQ(probe->size(), only->size());
    for (size_t i = 0; i < probe->size(); ++i) {
      EXPECT_EQ((*probe)[i].id, (*only)[i].id);
      EXPECT_FLOAT_EQ((*probe)[i].score, (*only)[i].score);
    }
  }
}

TEST_P(IvfFilteredTest, EveryPointAllowedEqualsTheUnfilteredSearch) {
  const auto x = Blobs(2000, 8, 5);
  auto idx = Build(x, Metric::kInnerProduct, 16, GetParam());
  AllowedSet all(2000);
  for (uint32_t i = 0; i < 2000; ++i) all.Add(i);
  SearchParams p;
  p.k = 10;
  p.nprobe = 4;
  auto plain = idx->Search(&x[kD * 7], p);
  p.allowed = &all;
  auto filtered = idx->Search(&x[kD * 7], p);
  ASSERT_TRUE(plain.ok() && filtered.ok());
  ASSERT_EQ(plain->size(), filtered->size());
  for (size_t i = 0; i < plain->size(); ++i) {
    EXPECT_EQ((*plain)[i].id, (*filtered)[i].id);
    EXPECT_EQ((*plain)[i].score, (*filtered)[i].score);
  }
}

TEST_P(IvfFilteredTest, EmptySetReturnsNothing) {
  const auto x = Blobs(500, 4, 6);
  auto idx = Build(x, Metric::kInnerProduct, 8, GetParam());
  AllowedSet none(500);
  SearchParams p;
  p.nprobe = 0;
  p.allowed = &none;
  for (FilteredScan how : {FilteredScan::kProbe, FilteredScan::kAllowedOnly}) {
    p.filtered_scan = how;
    auto r = idx->Search(&x[0], p);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
  }
}

TEST_P(IvfFilteredTest, DeletesCompactionAndReusedInternalIds) {
  const auto x = Blobs(2000, 4, 7);
  auto idx = Build(x, Metric::kInnerProduct, 4, GetParam());
  // Delete most points (lists compact), keeping every 10th.
  std::vector<uint64_t> gone;
  for (uint64_t i = 0; i < 2000; ++i) {
    if (i % 10 != 0) gone.push_back(1000 + i);
  }
  EXPECT_EQ(idx->Remove(gone.data(), gone.size()), gone.size());
  // Internal id 5 (point 1005, deleted) is reused by a new point 7777 with
  // the vector of row 5.
  std::vector<uint32_t> list(1);
  std::vector<uint8_t> code(idx->bytes_per_vector());
  ASSERT_TRUE(idx->Encode(&x[5 * kD], 1, list.data(), code.data()).ok());
  const uint64_t id = 7777;
  const uint32_t iid = 5;
  ASSERT_TRUE(idx->AddEncoded(&id, list.data(), code.data(), 1, &iid).ok());
  AllowedSet a(2000);
  for (uint32_t i = 0; i < 2000; ++i) a.Add(i);  // deleted ones included
  for (FilteredScan how : {FilteredScan::kProbe, FilteredScan::kAllowedOnly}) {
    SearchParams p;
    p.k = 500;
    p.nprobe = 0;
    p.allowed = &a;
    p.filtered_scan = how;
    auto r = idx->Search(&x[5 * kD], p);
    ASSERT_TRUE(r.ok());
    std::set<uint64_t> ids;
    for (const Neighbor& nb : *r) ids.insert(nb.id);
    EXPECT_EQ(ids.size(), 201u);  // 200 survivors + the new point
    EXPECT_TRUE(ids.count(7777));
    EXPECT_FALSE(ids.count(1005));
    for (uint64_t i : ids) {
      EXPECT_TRUE(i == 7777 || (i - 1000) % 10 == 0) << i;
    }
  }
  const IvfIndex::AllowedSpread s = idx->Spread(a);
  EXPECT_GE(s.lists, 1u);
  EXPECT_LE(s.lists, 4u);
  EXPECT_GE(s.blocks, (201 + 31) / 32);
  EXPECT_LE(s.blocks, (201 + 31) / 32 + 4);
}

TEST_P(IvfFilteredTest, PointsWithoutInternalIdsAreNeverAllowed) {
  const auto x = Blobs(300, 3, 8);
  IvfOptions o;
  o.dim = kD;
  o.metric = Metric::kInnerProduct;
  o.nlist = 4;
  o.codec.method = "renorm";
  o.codec.bits = 4;
  o.layout = Layout(GetParam());
  auto idx = IvfIndex::Train(o, x.data(), 300);
  ASSERT_TRUE(idx.ok());
  std::vector<uint64_t> ids(300);
  for (size_t i = 0; i < 300; ++i) ids[i] = i;
  ASSERT_TRUE((*idx)->Add(ids.data(), x.data(), 300).ok());
  AllowedSet a(300);
  for (uint32_t i = 0; i < 300; ++i) a.Add(i);
  SearchParams p;
  p.nprobe = 0;
  p.allowed = &a;
  auto r = (*idx)->Search(&x[0], p);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

INSTANTIATE_TEST_SUITE_P(Layouts, IvfFilteredTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "progressive" : "full";
                         });

}  // namespace
}  // namespace tqdb
