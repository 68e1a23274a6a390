// In-memory rescoring codes (index/refine_codes.h, LayoutOptions::refine):
// the int8 code's error stays inside its bound, f32 codes rescore exactly as
// the raw vectors do, codes follow their vectors through deletes and
// compaction, and an index that keeps them rescores without a store.
#include "index/refine_codes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "index/ivf_index.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "tests/index/index_test_util.h"

namespace tqdb {
namespace {

constexpr uint32_t kD = 64;

std::vector<float> Gaussian(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n * kD);
  for (float& v : x) v = static_cast<float>(rng.Gaussian());
  return x;
}

class ArrayStore : public VectorStore {
 public:
  explicit ArrayStore(const std::vector<float>* x) : x_(x) {}
  bool GetVector(uint64_t id, float* out) const override {
    if ((id + 1) * kD > x_->size()) return false;
    std::copy(x_->begin() + id * kD, x_->begin() + (id + 1) * kD, out);
    return true;
  }

 private:
  const std::vector<float>* x_;
};

std::unique_ptr<IvfIndex> Build(const std::vector<float>& x, Metric m,
                                RefineKind refine) {
  IvfOptions o;
  o.dim = kD;
  o.metric = m;
  o.nlist = 8;
  o.codec.method = "renorm";
  o.codec.bits = 2;
  o.threads = 1;
  o.layout.refine = refine;
  return testing_util::TrainAndAddAll(o, x);
}

TEST(RefineCodecTest, NamesParse) {
  for (RefineVocabulary v :
       {RefineVocabulary::kCodes, RefineVocabulary::kRescoreSource}) {
    for (RefineKind k :
         {RefineKind::kNone, RefineKind::kInt8, RefineKind::kFloat32}) {
      auto parsed = ParseRefineKind(RefineKindName(k, v), v);
      ASSERT_TRUE(parsed.ok());
      EXPECT_EQ(*parsed, k);
    }
  }
  // The vocabularies differ in kNone only, and neither takes the other's.
  EXPECT_STREQ(RefineKindName(RefineKind::kNone), "none");
  EXPECT_STREQ(
      RefineKindName(RefineKind::kNone, RefineVocabulary::kRescoreSource),
      "raw");
  EXPECT_FALSE(ParseRefineKind("raw").ok());
  EXPECT_FALSE(ParseRefineKind("none", RefineVocabulary::kRescoreSource).ok());
  EXPECT_FALSE(ParseRefineKind("sq8").ok());
  EXPECT_EQ(RefineCodec(RefineKind::kInt8, 5).code_bytes(), 16u);
  EXPECT_EQ(RefineCodec(RefineKind::kFloat32, 5).code_bytes(), 24u);
  EXPECT_EQ(RefineCodec(RefineKind::kNone, 5).code_bytes(), 0u);
}

TEST(RefineCodecTest, Int8ErrorWithinItsBoundAndF32Exact) {
  for (uint32_t d : {1u, 3u, 64u, 100u, 512u}) {
    Rng rng(d);
    const RefineCodec i8(RefineKind::kInt8, d), f32(RefineKind::kFloat32, d);
    std::vector<float> x(d), q(d), c8(i8.code_words()), c32(f32.code_words());
    for (int trial = 0; trial < 50; ++trial) {
      for (uint32_t i = 0; i < d; ++i) {
        x[i] = static_cast<float>(rng.Gaussian()) * (trial == 0 ? 0.0f : 1.0f);
        q[i] = static_cast<float>(rng.Gaussian());
      }
      i8.Encode(x.data(), c8.data());
      f32.Encode(x.data(), c32.data());
      double exact = 0, q1 = 0, amax = 0, nsq = 0;
      for (uint32_t i = 0; i < d; ++i) {
        exact += double{q[i]} * x[i];
        q1 += std::fabs(q[i]);
        amax = std::max(amax, std::fabs(double{x[i]}));
        nsq += double{x[i]} * x[i];
      }
      const double s = amax / 127;
      EXPECT_NEAR(i8.Dot(q.data(), c8.data()), exact,
                  q1 * s / 2 * 1.001 + 1e-4 * (1 + std::fabs(exact)))
          << "d=" << d;
      // ||x^||^2 within the rounding of every coordinate.
      EXPECT_NEAR(i8.NormSq(c8.data()), nsq,
                  2 * std::sqrt(nsq) * std::sqrt(d) * s / 2 + d * s * s + 1e-6);
      EXPECT_EQ(f32.Dot(q.data(), c32.data()),
                kernels::Dot(q.data(), x.data(), d));
      EXPECT_NEAR(f32.NormSq(c32.data()), nsq, 1e-5 * (1 + nsq));
    }
  }
}

// SnapToInt8Grid: the snapped vector is its int8 code's decoding, bit for
// bit (so RefineCodec::L2Sqr of the code is kernels::L2Sqr of it), each
// coordinate moved by at most half the code's scale; a vector on the grid
// stays where it is.
TEST(RefineCodecTest, SnappedVectorsAreTheirCodes) {
  size_t off_grid = 0;
  for (uint32_t d : {1u, 3u, 64u, 100u, 512u}) {
    Rng rng(d + 1);
    const RefineCodec i8(RefineKind::kInt8, d);
    std::vector<float> x(d), y(d), q(d), code(i8.code_words()), back(d);
    for (int trial = 0; trial < 200; ++trial) {
      const float magnitude = trial % 3 == 0   ? 1e-3f
                              : trial % 3 == 1 ? 1
                                               : 1e4f;
      for (uint32_t i = 0; i < d; ++i) {
        x[i] = static_cast<float>(rng.Gaussian()) * magnitude;
        q[i] = static_cast<float>(rng.Gaussian()) * magnitude;
      }
      float amax = 0;
      for (float v : x) amax = std::max(amax, std::fabs(v));
      y = x;
      SnapToInt8Grid(y.data(), d);
      for (uint32_t i = 0; i < d; ++i) {
        EXPECT_LE(std::fabs(y[i] - x[i]), amax / 127 * 0.5001f) << d;
      }
      i8.Encode(y.data(), code.data());
      i8.Decode(code.data(), back.data());
      if (back != y) {
        ++off_grid;
        continue;
      }
      const float direct = kernels::L2Sqr(q.data(), y.data(), d);
      const float from_code = i8.L2Sqr(q.data(), code.data());
      EXPECT_EQ(std::memcmp(&direct, &from_code, sizeof(float)), 0) << d;
      const std::vector<float> before = y;
      SnapToInt8Grid(y.data(), d);
      EXPECT_EQ(y, before);
    }
  }
  // 1,000 vectors: every one reached the grid.
  EXPECT_EQ(off_grid, 0u);
}

// An index trained with the quantized coarse step (the default) has its
// centroids on their int8 grid.
TEST(RefineCodecTest, TrainedCentroidsAreOnTheirInt8Grid) {
  const std::vector<float> x = Gaussian(4000, 5);
  const auto idx = Build(x, Metric::kL2, RefineKind::kNone);
  ASSERT_NE(idx, nullptr);
  ASSERT_TRUE(idx->options().layout.quantized_coarse);
  const RefineCodec i8(RefineKind::kInt8, kD);
  std::vector<float> code(i8.code_words()), back(kD);
  for (uint32_t l = 0; l < idx->nlist(); ++l) {
    const float* c = &idx->centroids()[size_t{l} * kD];
    i8.Encode(c, code.data());
    i8.Decode(code.data(), back.data());
    EXPECT_TRUE(std::equal(back.begin(), back.end(), c)) << l;
  }
}

// Rescoring from f32 codes returns what rescoring from the raw vectors
// returns; int8 codes nearly so; neither needs a store.
TEST(RefineCodesTest, RescoreWithoutAStoreMatchesTheRawVectors) {
  const auto x = Gaussian(3000, 1);
  const auto queries = Gaussian(20, 2);
  ArrayStore store(&x);
  for (Metric m : {Metric::kInnerProduct, Metric::kCosine, Metric::kL2}) {
    auto plain = Build(x, m, RefineKind::kNone);
    auto f32 = Build(x, m, RefineKind::kFloat32);
    auto i8 = Build(x, m, RefineKind::kInt8);
    EXPECT_EQ(f32->refine_bytes_per_vector(), 4u * kD + 4);
    EXPECT_EQ(i8->refine_bytes_per_vector(), kD + 8u);
    EXPECT_EQ(i8->MemoryBytesPerVector(),
              plain->MemoryBytesPerVector() + kD + 8);
    SearchParams p;
    p.k = 10;
    p.nprobe = 3;
    p.rescore = true;
    p.oversampling = 4;
    size_t same = 0, total = 0;
    for (size_t qi = 0; qi < 20; ++qi) {
      const float* q = &queries[qi * kD];
      p.store = &store;
      auto want = plain->Search(q, p);
      p.store = nullptr;  // the codes suffice
      auto got32 = f32->Search(q, p);
      auto got8 = i8->Search(q, p);
      ASSERT_TRUE(want.ok() && got32.ok() && got8.ok()) << got8.status();
      ASSERT_EQ(got32->size(), want->size());
      for (size_t i = 0; i < want->size(); ++i) {
        EXPECT_EQ((*got32)[i].id, (*want)[i].id);
        EXPECT_NEAR((*got32)[i].score, (*want)[i].score,
                    1e-5 * (1 + std::fabs((*want)[i].score)));
      }
      std::set<uint64_t> w;
      for (const Neighbor& nb : *want) w.insert(nb.id);
      for (const Neighbor& nb : *got8) same += w.count(nb.id);
      total += want->size();
    }
    EXPECT_GE(same, total * 97 / 100) << MetricName(m);
    // Without rescoring codes the store is still required.
    p.store = nullptr;
    EXPECT_EQ(plain->Search(&queries[0], p).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

TEST(RefineCodesTest, CodesFollowTheirVectorsThroughCompaction) {
  const auto x = Gaussian(2000, 3);
  auto idx = Build(x, Metric::kInnerProduct, RefineKind::kFloat32);
  std::vector<uint64_t> gone;
  for (uint64_t i = 0; i < 2000; ++i) {
    if (i % 3 != 0) gone.push_back(i);
  }
  ASSERT_EQ(idx->Remove(gone.data(), gone.size()), gone.size());
  SearchParams p;
  p.k = 50;
  p.nprobe = 0;
  p.rescore = true;
  auto r = idx->Search(&x[7 * kD], p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 50u);
  for (const Neighbor& nb : *r) {
    ASSERT_EQ(nb.id % 3, 0u);
    EXPECT_EQ(nb.score, kernels::Dot(&x[7 * kD], &x[nb.id * kD], kD));
  }
}

TEST(RefineCodesTest, EncodedVectorsNeedTheirRawVectors) {
  const auto x = Gaussian(500, 4);
  auto idx = Build(x, Metric::kInnerProduct, RefineKind::kInt8);
  std::vector<uint32_t> list(1);
  std::vector<uint8_t> code(idx->bytes_per_vector());
  ASSERT_TRUE(idx->Encode(&x[0], 1, list.data(), code.data()).ok());
  const uint64_t id = 9999;
  auto st = idx->AddEncoded(&id, list.data(), code.data(), 1);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_FALSE(idx->Contains(id));
  EXPECT_TRUE(
      idx->AddEncoded(&id, list.data(), code.data(), 1, nullptr, &x[0]).ok());
  EXPECT_TRUE(idx->Contains(id));
}

}  // namespace
}  // namespace tqdb
