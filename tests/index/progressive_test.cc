// The progressive scan (index/progressive.h): the refined estimate is the
// codec's, the first pass's error bound holds at its stated confidence (on
// synthetic data and on every shared set), and searches keep their recall.
#include "index/progressive.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "index/ivf_index.h"
#include "index/scanner.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "tests/test_util.h"

namespace tqdb {
namespace {

using testing_util::AnisotropicBlobs;

void Normalize(std::vector<float>* x, size_t d) {
  for (size_t i = 0; i < x->size() / d; ++i) {
    float* v = x->data() + i * d;
    const float s = std::sqrt(kernels::Dot(v, v, d));
    if (s > 0) {
      for (size_t j = 0; j < d; ++j) v[j] /= s;
    }
  }
}

// A code's pass-1 bytes as a block of stream A holds them (sub-codes 2p
// and 2p + 1 in the low and high nibble of byte p).
std::vector<uint8_t> PairBytes(const uint8_t* sub, size_t m4a) {
  std::vector<uint8_t> out(m4a / 2);
  for (size_t p = 0; p < out.size(); ++p) {
    out[p] = static_cast<uint8_t>((sub[2 * p] & 0xF) | (sub[2 * p + 1] << 4));
  }
  return out;
}

struct Coverage {
  double rms = 0;        // of z = error / predicted deviation
  double above[5] = {};  // P(z > 1..5), one-sided, with the tables' rounding
  double abs_above[5] = {};  // P(|z| > 1..5), the model's error alone
  size_t pairs = 0;
};

// The first pass's error against its bound over every (query, vector)
// pair: z = (refined - g1 * est1) / (g2 W) with the float tables, and the
// one-sided z with the uint8 tables and their allowance, as the scan uses
// them.
Coverage MeasureCoverage(const IvfIndex& idx, const float* base, size_t n,
                         const float* queries, size_t nq) {
  const ProgressiveLayout* lay = idx.progressive();
  const ScanShape& s = lay->shape();
  const size_t bpv = idx.bytes_per_vector(), d = idx.dim();
  std::vector<uint32_t> lists(n);
  std::vector<uint8_t> codes(n * bpv);
  EXPECT_TRUE(idx.Encode(base, n, lists.data(), codes.data()).ok());
  // With the centroid correction (IVF over residuals), what the scan
  // compares: est1 + alpha delta1 against the refined score + alpha delta,
  // alpha = <q, c> / ||c||^2, with the bound of w(q) - alpha w(c).
  const int32_t center1 = lay->center1_factor();
  const int32_t center = idx.codec().combine_form().center_factor;
  const size_t k = idx.codec().scalar_info()->width.size();
  const uint32_t nlist = idx.nlist();
  const std::vector<float>& cents = idx.centroids();
  std::vector<float> wc(center1 >= 0 ? nlist * k : 0);
  for (size_t l = 0; l < wc.size() / k; ++l) {
    idx.codec().QueryWeights(&cents[l * d], &wc[l * k]);
  }
  std::vector<std::vector<uint8_t>> sub(n), row(n);
  std::vector<std::vector<float>> f(n);
  for (size_t i = 0; i < n; ++i) {
    sub[i].resize(s.m4a);
    row[i].resize(s.m8);
    f[i].resize(s.nfactors + s.nfactors16);
    lay->Unpack(&codes[i * bpv], sub[i].data(), row[i].data(), f[i].data(),
                center1 >= 0 ? &wc[lists[i] * k] : nullptr);
  }
  const uint32_t nfc = lay->codec_factors();
  std::vector<double> alpha(nlist, 0.0);
  std::vector<float> w_err(nlist), w_perp(k);
  Coverage c;
  ProgressiveQuery pq;
  QuantizedLut ql;
  double sum_z2 = 0;
  for (size_t qi = 0; qi < nq; ++qi) {
    lay->BuildQuery(queries + qi * d, &pq);
    for (uint32_t l = 0; l < nlist; ++l) {
      w_err[l] = pq.w_err;
      if (center1 < 0) continue;
      const float* c = &cents[size_t{l} * d];
      const double cc = kernels::Dot(c, c, d);
      alpha[l] = cc > 0 ? kernels::Dot(queries + qi * d, c, d) / cc : 0.0;
      for (size_t j = 0; j < k; ++j) {
        w_perp[j] = pq.w[j] - static_cast<float>(alpha[l]) * wc[l * k + j];
      }
      w_err[l] = lay->WeightError(w_perp.data());
    }
    ql.Build(pq.lut, s.m4a);
    const double lut_err = ql.scale * std::sqrt(lay->prefix_tables() / 12.0);
    for (size_t i = 0; i < n; ++i) {
      double est1 = 0, est1q = 0;
      for (uint32_t g = 0; g < s.m4a; ++g) {
        const uint8_t v = sub[i][g];
        est1 += pq.lut[g * 16 + v];
        est1q += g % 2 == 0 ? ql.lo[(g / 2) * 32 + v] : ql.hi[(g / 2) * 32 + v];
      }
      est1q = ql.scale * est1q + ql.bias;
      double refined = lay->Scale(f[i].data()) *
                       lay->Refine(PairBytes(sub[i].data(), s.m4a).data(),
                                   row[i].data(), pq);
      const double g1 = f[i][nfc], g2 = f[i][nfc + 1];
      double shift1 = 0;  // pass 1's centroid term
      if (center1 >= 0) {
        const double a = alpha[lists[i]];
        refined += a * f[i][center];
        shift1 = a * f[i][nfc + 1 + center1];
      }
      const double sd = g2 * w_err[lists[i]];
      if (!(sd > 0) || !std::isfinite(sd)) continue;
      const double z = (refined - (g1 * est1 + shift1)) / sd;
      const double zq = (refined - (g1 * est1q + shift1)) / (sd + g1 * lut_err);
      sum_z2 += z * z;
      ++c.pairs;
      for (int t = 0; t < 5; ++t) {
        c.abs_above[t] += std::fabs(z) > t + 1;
        c.above[t] += zq > t + 1;
      }
    }
  }
  c.rms = std::sqrt(sum_z2 / c.pairs);
  for (int t = 0; t < 5; ++t) {
    c.above[t] /= c.pairs;
    c.abs_above[t] /= c.pairs;
  }
  return c;
}

// The stated confidence: the model's error is about unit normal (rms within
// 25%), and what the scan uses, est1 plus `sigmas` deviations, undershoots
// the refined estimate no more often than a normal tail allows, with slack
// for heavier tails: P(z > 3) <= 3e-3 (normal: 1.35e-3), P(z > 4) <= 2e-4
// (normal: 3.2e-5).
void ExpectCalibrated(const Coverage& c, const std::string& what) {
  std::printf(
      "%s: %zu pairs, rms z %.3f, P(z>2,3,4) %.2e %.2e %.2e, "
      "P(|z|>2,3,4) %.2e %.2e %.2e\n",
      what.c_str(), c.pairs, c.rms, c.above[1], c.above[2], c.above[3],
      c.abs_above[1], c.abs_above[2], c.abs_above[3]);
  EXPECT_GT(c.pairs, 1000u) << what;
  EXPECT_GT(c.rms, 0.75) << what;
  EXPECT_LT(c.rms, 1.25) << what;
  EXPECT_LE(c.above[2], 3e-3) << what;
  EXPECT_LE(c.above[3], 2e-4) << what;
}

std::unique_ptr<IvfIndex> Train(const std::vector<float>& x, size_t d,
                                Metric metric, const char* method,
                                uint32_t bits, uint32_t nlist,
                                bool shared = false) {
  IvfOptions o;
  o.dim = static_cast<uint32_t>(d);
  o.metric = metric;
  o.nlist = nlist;
  // "pca-w": pca with its query weighting (CodecOptions::pca_weighting),
  // whose code metric is not its importance (ScalarCodeInfo::metric).
  const bool weighted = std::string(method) == "pca-w";
  o.codec.method = weighted ? "pca" : method;
  o.codec.pca_weighting = weighted ? PcaWeighting::kOn : PcaWeighting::kOff;
  o.codec.bits = bits;
  // The layout at every dimension tested here, with a one-bit first pass.
  o.layout.prefix_bits = 1;
  o.layout.fastscan_prefix_ratio = 0;
  o.layout.prefix_sharing =
      shared ? PrefixSharing::kAlways : PrefixSharing::kNever;
  auto idx = IvfIndex::Train(o, x.data(), x.size() / d);
  EXPECT_TRUE(idx.ok()) << idx.status();
  return idx.ok() ? std::move(*idx) : nullptr;
}

// By default the prefix is shared where the chunk-wise allotment gives
// every coordinate the bits the coordinate-wise one does: mse and renorm
// (one width, even importance), not pca (its leading axes get more bits
// than whole chunks can follow).
TEST(ProgressiveLayoutTest, PrefixSharedWhereTheFirstPassLosesNothing) {
  const size_t d = 256;
  const std::vector<float> x = AnisotropicBlobs(3000, d, 6);
  for (const char* method : {"mse", "renorm", "pca"}) {
    IvfOptions o;
    o.dim = static_cast<uint32_t>(d);
    o.nlist = 8;
    o.codec.method = method;
    o.codec.bits = 4;
    o.layout.prefix_bits = 1;
    o.layout.fastscan_prefix_ratio = 0;
    auto idx = IvfIndex::Train(o, x.data(), x.size() / d);
    ASSERT_TRUE(idx.ok()) << idx.status();
    const ProgressiveLayout* prog = (*idx)->progressive();
    ASSERT_NE(prog, nullptr) << method;
    const bool pca = std::string(method) == "pca";
    EXPECT_EQ(prog->shares_prefix(), !pca) << method;
    for (PrefixSharing sharing :
         {PrefixSharing::kAlways, PrefixSharing::kNever}) {
      LayoutOptions l = o.layout;
      l.prefix_sharing = sharing;
      auto other = IvfIndex::FromTrained((*idx)->SerializeTrained(), l);
      ASSERT_TRUE(other.ok()) << other.status();
      const ProgressiveLayout* p = (*other)->progressive();
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(p->shares_prefix(), sharing == PrefixSharing::kAlways);
      // Equal allotments where shared by default, different for pca.
      EXPECT_EQ(p->prefix_bits() == prog->prefix_bits(),
                !pca || sharing == PrefixSharing::kNever)
          << method;
      // A shared prefix holds fewer bytes a vector.
      if (sharing == PrefixSharing::kAlways) {
        LayoutOptions twice = o.layout;
        twice.prefix_sharing = PrefixSharing::kNever;
        auto t = IvfIndex::FromTrained((*idx)->SerializeTrained(), twice);
        ASSERT_TRUE(t.ok());
        EXPECT_LT(p->memory_bytes_per_vector(),
                  (*t)->progressive()->memory_bytes_per_vector())
            << method;
      }
    }
  }
}

// The scan's k-th lower bound: after every push, the k-th largest value
// pushed so far (ties and repeats included), for k = 1..12.
TEST(ProgressiveLayoutTest, KthLargestTracksTheKthValue) {
  Rng rng(5);
  for (size_t k = 1; k <= 12; ++k) {
    KthLargest kth(k);
    std::vector<float> seen;
    for (int i = 0; i < 500; ++i) {
      const float v = static_cast<float>(rng.Next() % 50) - 25.0f;
      kth.Push(v);
      seen.push_back(v);
      ASSERT_EQ(kth.full(), seen.size() >= k);
      if (!kth.full()) continue;
      std::vector<float> sorted = seen;
      std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(),
                       std::greater<float>());
      ASSERT_EQ(kth.threshold(), sorted[k - 1]) << "k=" << k << " i=" << i;
    }
    kth.Reset(k);
    EXPECT_FALSE(kth.full());
  }
}

TEST(ProgressiveLayoutTest, DefaultPrefixBitsByDimension) {
  // dim, code bits, bits a dimension of the first pass (0: full layout).
  const uint64_t cases[][3] = {
      {4096, 8192, 1},
      {512, 2048, 1},
      {320, 640, 1},
      {319, 1276, 2},
      {256, 1024, 2},
      {104, 416, 2},
      {103, 618, 3},
      {100, 600, 3},
      {100, 599, 2},
      {100, 400, 2},
      {31, 186, 3},
      {30, 240, 4},
      {30, 200, 3},
      {2, 16, 4},
      // Too few bits for twice the first pass: none below two bits unless
      // one bit is the preferred width.
      {512, 1023, 0},
      {320, 639, 0},
      {256, 1023, 0},
      {100, 399, 0}};
  for (const auto& c : cases) {
    EXPECT_EQ(DefaultPrefixBits(static_cast<uint32_t>(c[0]), c[1]), c[2])
        << "dim " << c[0] << ", " << c[1] << " bits";
  }
}

// The default layout: renorm at 4 bits (a 4-bit FastScan code) takes the
// progressive one, with a one-bit first pass, only where one bit is the
// preferred width (512 dimensions); pca at 6 bits (byte sub-codes) takes
// it everywhere, its first pass widening as the dimension falls.
TEST(ProgressiveLayoutTest, DefaultLayoutByDimension) {
  for (const auto& [d, renorm_prefix, pca_prefix] :
       {std::tuple<size_t, uint32_t, uint32_t>{100, 0, 3},
        {256, 0, 2},
        {512, 1, 1}}) {
    const std::vector<float> x = AnisotropicBlobs(2000, d, 9);
    for (const auto& [method, bits, want] :
         {std::tuple<const char*, uint32_t, uint32_t>{"renorm", 4,
                                                      renorm_prefix},
          {"pca", 6, pca_prefix}}) {
      IvfOptions o;
      o.dim = static_cast<uint32_t>(d);
      o.nlist = 8;
      o.codec.method = method;
      o.codec.bits = bits;
      auto idx = IvfIndex::Train(o, x.data(), 2000);
      ASSERT_TRUE(idx.ok()) << idx.status();
      const ProgressiveLayout* prog = (*idx)->progressive();
      ASSERT_EQ(prog != nullptr, want > 0) << method << " " << d;
      if (prog == nullptr) continue;
      uint32_t prefix = 0;
      for (uint8_t t : prog->prefix_bits()) prefix += t;
      EXPECT_EQ(prefix, want * d) << method << " " << d;
      // Shared, the first pass's sub-codes fill the budget to within a
      // chunk's largest step (32 coordinates from a 2- to a 4-bit prefix),
      // a coordinate holding no more than its chunk's share.
      LayoutOptions shared;
      shared.prefix_sharing = PrefixSharing::kAlways;
      auto sh = IvfIndex::FromTrained((*idx)->SerializeTrained(), shared);
      ASSERT_TRUE(sh.ok()) << sh.status();
      const ProgressiveLayout* sp = (*sh)->progressive();
      ASSERT_NE(sp, nullptr);
      const uint32_t stream_bits = 4 * sp->shape().m4a;
      EXPECT_LE(stream_bits, want * d) << method << " " << d;
      EXPECT_GT(stream_bits + 64, want * d) << method << " " << d;
      uint32_t shared_prefix = 0;
      for (uint8_t t : sp->prefix_bits()) shared_prefix += t;
      EXPECT_LE(shared_prefix, stream_bits) << method << " " << d;
    }
  }
}

// By default a codec whose full layout is all 4-bit FastScan streams
// (mse, renorm up to 4 bits) takes the progressive layout from three times
// the first pass's bits (3 bits a coordinate with a one-bit first pass);
// one with byte sub-codes (8 bits) whenever it can.
TEST(ProgressiveLayoutTest, DefaultFromThreeBitsForFastScanCodecs) {
  const size_t d = 64;
  const std::vector<float> x = AnisotropicBlobs(3000, d, 4);
  for (const char* method : {"mse", "renorm"}) {
    for (uint32_t bits : {2u, 3u, 4u, 8u}) {
      IvfOptions o;
      o.dim = static_cast<uint32_t>(d);
      o.nlist = 16;
      o.codec.method = method;
      o.codec.bits = bits;
      o.layout.prefix_bits = 1;
      auto idx = IvfIndex::Train(o, x.data(), x.size() / d);
      ASSERT_TRUE(idx.ok()) << idx.status();
      EXPECT_EQ((*idx)->progressive() != nullptr, bits >= 3)
          << method << " " << bits;
    }
  }
}

TEST(ProgressiveLayoutTest, WhichCodecsHaveIt) {
  const size_t d = 64;
  const std::vector<float> x = AnisotropicBlobs(3000, d, 1);
  for (const char* method : {"mse", "renorm", "pca", "prod", "pq"}) {
    for (uint32_t bits : {1u, 2u, 4u, 8u}) {
      auto idx = Train(x, d, Metric::kInnerProduct, method, bits, 16);
      ASSERT_NE(idx, nullptr);
      const bool scalar = std::string(method) == "mse" ||
                          std::string(method) == "renorm" ||
                          std::string(method) == "pca";
      EXPECT_EQ(idx->progressive() != nullptr, scalar && bits >= 2)
          << method << " " << bits;
      if (idx->progressive() != nullptr) {
        // Pass 1 reads about a bit a dimension.
        EXPECT_EQ(idx->progressive()->shape().m4a % 4, 0u);
        EXPECT_LE(idx->progressive()->prefix_tables(), d / 4 + d / 8);
      }
    }
  }
}

// The refined estimate is the codec's float estimate, to the precision of
// its int16 arithmetic, for every width 2..8, both factor forms, and with
// the prefix held twice or shared.
TEST(ProgressiveLayoutTest, RefineIsTheCodecsEstimate) {
  const size_t d = 100;
  std::vector<float> x = AnisotropicBlobs(2000, d, 2);
  for (bool shared : {false, true}) {
    for (const char* method : {"mse", "renorm", "pca"}) {
      for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
        for (uint32_t bits : {2u, 3u, 5u, 8u}) {
          auto idx = Train(x, d, metric, method, bits, 8, shared);
          ASSERT_NE(idx, nullptr);
          const ProgressiveLayout* lay = idx->progressive();
          ASSERT_NE(lay, nullptr);
          const ScanCodec& codec = idx->codec();
          const ScalarCodeInfo* info = codec.scalar_info();
          const ScanShape& s = lay->shape();
          const size_t n = 300, bpv = idx->bytes_per_vector();
          std::vector<uint32_t> lists(n);
          std::vector<uint8_t> codes(n * bpv);
          ASSERT_TRUE(
              idx->Encode(x.data(), n, lists.data(), codes.data()).ok());
          ProgressiveQuery pq;
          lay->BuildQuery(&x[1999 * d], &pq);
          std::vector<uint8_t> sub(s.m4a), row(s.m8), ix(info->width.size());
          std::vector<float> f(s.nfactors + s.nfactors16),
              cf(codec.shape().nfactors);
          double err2 = 0, ref2 = 0;
          for (size_t i = 0; i < n; ++i) {
            lay->Unpack(&codes[i * bpv], sub.data(), row.data(), f.data());
            codec.UnpackIndices(&codes[i * bpv], ix.data(), cf.data());
            for (size_t j = 0; j < cf.size(); ++j) ASSERT_EQ(f[j], cf[j]);
            double ref = 0;
            for (size_t j = 0; j < ix.size(); ++j) {
              ref += double{pq.w[j]} * info->levels[info->width[j]][ix[j]];
            }
            ref *= lay->Scale(f.data());
            // The pass-1 sub-codes hold the top bits the row leaves out, in
            // the refine kernel's prefix format.
            const std::vector<uint8_t> prefix = PairBytes(sub.data(), s.m4a);
            std::vector<uint8_t> want(lay->refine_tables().prefix_bytes);
            scan::PackRefinePrefix(lay->refine_tables(), ix.data(),
                                   want.data());
            if (shared) {
              ASSERT_EQ(prefix, want) << method << " " << bits;
            }
            const double got = lay->Scale(f.data()) *
                               lay->Refine(prefix.data(), row.data(), pq);
            err2 += (got - ref) * (got - ref);
            ref2 += ref * ref;
          }
          EXPECT_LT(std::sqrt(err2 / ref2), 2e-3)
              << method << " " << bits << " bits " << MetricName(metric)
              << (shared ? " shared" : "");
          // Shared: the row holds only what pass 1 does not.
          EXPECT_EQ(lay->shares_prefix(), shared);
        }
      }
    }
  }
}

TEST(ProgressiveLayoutTest, BoundIsCalibratedOnSyntheticData) {
  for (size_t d : {size_t{64}, size_t{256}}) {
    std::vector<float> x = AnisotropicBlobs(6000, d, 3);
    const std::vector<float> queries(x.end() - 100 * d, x.end());
    x.resize(5000 * d);
    for (const char* method : {"renorm", "pca", "pca-w"}) {
      for (uint32_t bits : {2u, 4u}) {
        for (bool shared : {false, true}) {
          auto idx =
              Train(x, d, Metric::kInnerProduct, method, bits, 32, shared);
          ASSERT_NE(idx, nullptr);
          ExpectCalibrated(
              MeasureCoverage(*idx, x.data(), 2000, queries.data(), 50),
              std::string("blobs d=") + std::to_string(d) + " " + method + " " +
                  std::to_string(bits) + " bits" + (shared ? " shared" : ""));
        }
      }
    }
  }
}

// Every shared set, 2 and 4 bits, renorm and pca (also with its query
// weighting, 4 bits): the bound holds at its stated confidence on data we
// did not tune it on. Sets without enough queries of their own query with
// held-out base rows.
TEST(ProgressiveLayoutTest, BoundIsCalibratedOnSharedData) {
  struct Set {
    std::string dir, base, queries;
    Metric metric;
  };
  const std::string root = testing_util::SharedDataDir();
  const Set sets[] = {
      {"use512-debian-pkgdesc", "debdesc_use512_base_20k.fvecs",
       "debdesc_use512_query_1k.fvecs", Metric::kInnerProduct},
      {"glove100-wink", "glove100_base_100k.fvecs", "glove100_query_1k.fvecs",
       Metric::kCosine},
      {"sift5k-ngt", "sift5k_base.fvecs", "", Metric::kL2},
      {"minilm384-sap-fiori-docs", "fiori_minilm384_778.fvecs", "",
       Metric::kInnerProduct},
  };
  size_t found = 0;
  for (const Set& set : sets) {
    std::vector<float> base, queries;
    size_t n = 0, d = 0, nq = 0, dq = 0;
    if (!testing_util::ReadVecs(root + "/" + set.dir + "/" + set.base, &base,
                                &n, &d) ||
        (!set.queries.empty() &&
         !testing_util::ReadVecs(root + "/" + set.dir + "/" + set.queries,
                                 &queries, &nq, &dq))) {
      std::printf("skipping %s (not found)\n", set.dir.c_str());
      continue;
    }
    if (set.queries.empty()) {  // the last 60 rows query the others
      nq = 60;
      queries.assign(base.end() - nq * d, base.end());
      n -= nq;
      base.resize(n * d);
    }
    ++found;
    if (set.metric == Metric::kCosine) {
      Normalize(&base, d);
      Normalize(&queries, d);
    }
    const size_t ntrain = std::min<size_t>(n, 20000);
    base.resize(ntrain * d);
    const uint32_t nlist = static_cast<uint32_t>(
        std::max<size_t>(1, std::min<size_t>(128, ntrain / 100)));
    // pca also with a shared prefix (its chunk allotment differs; renorm's
    // one bit a dimension is the sign plane either way).
    for (const auto& [method, shared] :
         {std::pair<const char*, bool>{"renorm", false},
          {"pca", false},
          {"pca", true},
          {"pca-w", false}}) {
      for (uint32_t bits : {2u, 4u}) {
        // The weighting at 4 bits only (its widest deviations, rms z up
        // to 1.14 on minilm; 2 bits measured 1.02 on every set).
        if (std::string(method) == "pca-w" && bits == 2) continue;
        auto idx = Train(base, d, set.metric, method, bits, nlist, shared);
        ASSERT_NE(idx, nullptr);
        ExpectCalibrated(
            MeasureCoverage(*idx, base.data(), std::min<size_t>(ntrain, 2000),
                            queries.data(), std::min<size_t>(nq, 60)),
            set.dir + " " + method + " " + std::to_string(bits) + " bits" +
                (shared ? " shared" : ""));
      }
    }
  }
  if (found == 0) GTEST_SKIP() << "shared data not found in " << root;
}

// Searches: with every candidate refined (refine_sigmas 0) the progressive
// scan ranks by the refined estimate; with the bound it returns the same
// neighbours for nearly every query; and it keeps the full layout's recall.
// 40 lists of about 200 codes, and one of 8,000 (ListScanner::ScanLongList).
TEST(ProgressiveLayoutTest, SearchKeepsTheRefinedRanking) {
  const size_t d = 96, n = 8000;
  std::vector<float> x = AnisotropicBlobs(n + 200, d, 4);
  const std::vector<float> queries(x.end() - 200 * d, x.end());
  x.resize(n * d);
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = i;
  for (uint32_t nlist : {40u, 1u}) {
    for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
      for (const char* method : {"renorm", "pca", "mse"}) {
        auto idx = Train(x, d, metric, method, 4, nlist);
        ASSERT_NE(idx, nullptr);
        ASSERT_NE(idx->progressive(), nullptr);
        ASSERT_TRUE(idx->Add(ids.data(), x.data(), n).ok());
        LayoutOptions full_layout;
        full_layout.progressive = false;
        auto full = IvfIndex::FromTrained(idx->SerializeTrained(), full_layout);
        ASSERT_TRUE(full.ok());
        ASSERT_EQ((*full)->progressive(), nullptr);
        ASSERT_TRUE((*full)->Add(ids.data(), x.data(), n).ok());
        // The shared prefix holds the same codes: every candidate refined,
        // the same neighbours and scores.
        LayoutOptions shared_layout;
        shared_layout.prefix_bits = 1;
        shared_layout.fastscan_prefix_ratio = 0;
        shared_layout.prefix_sharing = PrefixSharing::kAlways;
        auto shared =
            IvfIndex::FromTrained(idx->SerializeTrained(), shared_layout);
        ASSERT_TRUE(shared.ok());
        ASSERT_NE((*shared)->progressive(), nullptr);
        ASSERT_TRUE((*shared)->progressive()->shares_prefix());
        ASSERT_TRUE((*shared)->Add(ids.data(), x.data(), n).ok());
        size_t same = 0, overlap_full = 0;
        uint64_t refined = 0, scanned = 0;
        for (size_t qi = 0; qi < 200; ++qi) {
          SearchParams all;
          all.k = 10;
          all.nprobe = std::min(8u, nlist);
          all.refine_sigmas = 0;
          SearchStats st;
          all.stats = &st;
          auto a = idx->Search(&queries[qi * d], all);
          ASSERT_TRUE(a.ok());
          EXPECT_EQ(st.refined, st.codes_scanned);
          SearchParams bounded = all;
          bounded.refine_sigmas = 3;
          auto b = idx->Search(&queries[qi * d], bounded);
          ASSERT_TRUE(b.ok());
          refined += st.refined;
          scanned += st.codes_scanned;
          ASSERT_EQ(a->size(), 10u);
          ASSERT_EQ(b->size(), 10u);
          bool equal = true;
          for (size_t i = 0; i < 10; ++i) {
            equal = equal && (*a)[i].id == (*b)[i].id &&
                    (*a)[i].score == (*b)[i].score;
          }
          same += equal;
          auto sh = (*shared)->Search(&queries[qi * d], all);
          ASSERT_TRUE(sh.ok());
          ASSERT_EQ(sh->size(), a->size());
          for (size_t i = 0; i < a->size(); ++i) {
            ASSERT_EQ((*sh)[i].id, (*a)[i].id) << method << " query " << qi;
            ASSERT_EQ((*sh)[i].score, (*a)[i].score)
                << method << " query " << qi;
          }
          auto c = (*full)->Search(&queries[qi * d], all);
          ASSERT_TRUE(c.ok());
          std::set<uint64_t> fa;
          for (const Neighbor& nb : *c) fa.insert(nb.id);
          for (const Neighbor& nb : *b) overlap_full += fa.count(nb.id);
        }
        const std::string what = std::string(method) + " " +
                                 MetricName(metric) + " nlist " +
                                 std::to_string(nlist);
        std::printf(
            "%s: bounded = all refined for %zu/200 queries, %.1f%% "
            "refined, overlap with the full layout %.3f\n",
            what.c_str(), same, 100.0 * refined / scanned,
            overlap_full / 2000.0);
        EXPECT_GE(same, 196u) << what;
        EXPECT_LT(refined, scanned / 2) << what;
        // (One list: the full layout's 8-bit tables span the uncentred
        // range, and it is the full layout that loses neighbours, 0.86 to
        // 0.99 here, whichever way the progressive scan goes.)
        if (nlist > 1) {
          EXPECT_GE(overlap_full, 0.95 * 2000) << what;
        }
      }
    }
  }
}

// Filtered search and deletions go through the progressive scan too (20
// lists, and one of 4,000 codes for ListScanner::ScanLongList).
TEST(ProgressiveLayoutTest, FilterAndDeletes) {
  const size_t d = 64, n = 4000;
  const std::vector<float> x = AnisotropicBlobs(n, d, 5);
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = i;
  for (uint32_t nlist : {20u, 1u}) {
    auto idx = Train(x, d, Metric::kInnerProduct, "renorm", 4, nlist);
    ASSERT_NE(idx, nullptr);
    ASSERT_TRUE(idx->Add(ids.data(), x.data(), n).ok());
    std::vector<uint64_t> gone;
    for (uint64_t i = 0; i < n; i += 3) gone.push_back(i);
    EXPECT_EQ(idx->Remove(gone.data(), gone.size()), gone.size());
    SearchParams p;
    p.k = 20;
    p.nprobe = nlist;
    p.id_filter = [](uint64_t id) { return id % 2 == 0; };
    for (size_t qi = 0; qi < 50; ++qi) {
      auto r = idx->Search(&x[(qi * 37) * d], p);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->size(), 20u);
      for (const Neighbor& nb : *r) {
        EXPECT_EQ(nb.id % 2, 0u);
        EXPECT_NE(nb.id % 3, 0u);
      }
    }
  }
}

}  // namespace
}  // namespace tqdb
