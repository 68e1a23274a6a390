// The "pca" codec (index/pca_codec.h): recall against TurboQuant renorm
// on isotropic and anisotropic Gaussian data, equal bytes, serialization,
// the query weighting and its choice (index/codec_choice.h).
#include "index/pca_codec.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "index/codec_choice.h"
#include "index/scan_codec.h"
#include "quant/coding.h"
#include "quant/random.h"

namespace tqdb {
namespace {

// n rows of N(0, diag(scale_j^2)) (axis-aligned: pca must find the axes,
// renorm rotates anyway).
std::vector<float> GaussianRows(size_t n, uint32_t d,
                                const std::vector<double>& scale,
                                uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < d; ++j) {
      x[i * d + j] = static_cast<float>(scale[j] * rng.Gaussian());
    }
  }
  return x;
}

// Scales whose squares decay over two decades along the d axes.
std::vector<double> TwoDecades(uint32_t d) {
  std::vector<double> decay(d);
  for (uint32_t j = 0; j < d; ++j) decay[j] = std::pow(0.01, 0.5 * j / d);
  return decay;
}

std::unique_ptr<ScanCodec> MakeCodec(
    const char* method, uint32_t bits, bool single, uint32_t d,
    const std::vector<float>& train,
    PcaWeighting weighting = PcaWeighting::kOff) {
  CodecOptions o;
  o.method = method;
  o.bits = bits;
  o.single_factor = single;
  o.pca_weighting = weighting;
  auto c = ScanCodec::Create(o, d, train.data(), train.size() / d);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

// Estimated <u, x_i> for every coded row, through the scan layout.
std::vector<float> Estimates(const ScanCodec& c,
                             const std::vector<uint8_t>& codes, size_t n,
                             const float* u) {
  QueryLuts luts;
  c.BuildLuts(u, false, &luts);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = EstimateFromLuts(c, luts, &codes[i * c.code_bytes()]);
  }
  return out;
}

// 10-recall@10 of maximum inner product search over the coded base.
double Recall10(const ScanCodec& c, const std::vector<float>& base,
                const std::vector<float>& queries, uint32_t d) {
  const size_t n = base.size() / d, nq = queries.size() / d;
  std::vector<uint8_t> codes(n * c.code_bytes());
  EXPECT_TRUE(c.EncodeBatch(base.data(), n, codes.data()).ok());
  size_t hits = 0;
  std::vector<size_t> truth(n), est(n);
  for (size_t q = 0; q < nq; ++q) {
    const float* u = &queries[q * d];
    std::vector<double> exact(n);
    for (size_t i = 0; i < n; ++i) {
      for (uint32_t j = 0; j < d; ++j)
        exact[i] += double{u[j]} * base[i * d + j];
    }
    const std::vector<float> e = Estimates(c, codes, n, u);
    for (size_t i = 0; i < n; ++i) truth[i] = est[i] = i;
    std::partial_sort(truth.begin(), truth.begin() + 10, truth.end(),
                      [&](size_t x, size_t y) { return exact[x] > exact[y]; });
    std::partial_sort(est.begin(), est.begin() + 10, est.end(),
                      [&](size_t x, size_t y) { return e[x] > e[y]; });
    for (int a = 0; a < 10; ++a) {
      hits += std::count(est.begin(), est.begin() + 10, truth[a]);
    }
  }
  return hits / (10.0 * nq);
}

TEST(PcaCodecTest, BytesEqualRenormAtEveryWidth) {
  const uint32_t d = 40;
  const auto x = GaussianRows(500, d, std::vector<double>(d, 1.0), 1);
  for (bool single : {true, false}) {
    for (uint32_t bits = 1; bits <= 8; ++bits) {
      auto pca = MakeCodec("pca", bits, single, d, x);
      auto renorm = MakeCodec("renorm", bits, single, d, x);
      ASSERT_TRUE(pca && renorm);
      // At 8 bits every axis is full (8 bits is the widest code) and the
      // bytes the float16 factors save are left unused.
      if (bits < 8) {
        EXPECT_EQ(pca->code_bytes(), renorm->code_bytes())
            << bits << " bits, single " << single;
      } else {
        EXPECT_EQ(pca->code_bytes(), d + (single ? 2u : 4u));
      }
    }
  }
}

// Isotropic data: every axis gets the same width, so pca is TurboQuant
// renorm with another random rotation and a Gaussian codebook (and 16 more
// index bits bought by float16 factors): it must not lose.
TEST(PcaCodecTest, IsotropicDataMatchesRenorm) {
  const uint32_t d = 64;
  const std::vector<double> flat(d, 1.0);
  const auto base = GaussianRows(4000, d, flat, 2);
  const auto queries = GaussianRows(200, d, flat, 3);
  for (uint32_t bits : {2u, 3u, 4u}) {
    auto pca = MakeCodec("pca", bits, true, d, base);
    auto renorm = MakeCodec("renorm", bits, true, d, base);
    ASSERT_TRUE(pca && renorm);
    const double rp = Recall10(*pca, base, queries, d);
    const double rr = Recall10(*renorm, base, queries, d);
    std::printf("isotropic d=%u %u bits: pca %.3f renorm %.3f\n", d, bits, rp,
                rr);
    EXPECT_GE(rp, rr - 0.02) << bits << " bits";
  }
}

// Anisotropic data (eigenvalues decaying over two decades): water-filling
// puts the bits where the variance is and must beat the uniform code.
TEST(PcaCodecTest, AnisotropicDataBeatsRenorm) {
  const uint32_t d = 64;
  const auto base = GaussianRows(4000, d, TwoDecades(d), 4);
  const auto queries = GaussianRows(200, d, TwoDecades(d), 5);
  for (uint32_t bits : {2u, 4u}) {
    auto pca = MakeCodec("pca", bits, true, d, base);
    auto renorm = MakeCodec("renorm", bits, true, d, base);
    ASSERT_TRUE(pca && renorm);
    const double rp = Recall10(*pca, base, queries, d);
    const double rr = Recall10(*renorm, base, queries, d);
    std::printf("anisotropic d=%u %u bits: pca %.3f renorm %.3f\n", d, bits, rp,
                rr);
    EXPECT_GT(rp, rr + 0.02) << bits << " bits";
  }
}

// The query weighting (CodecOptions::pca_weighting): where queries are
// drawn like the data, coding y = A r (A^2 the data's second moment) ranks
// better than coding r at the same bytes (an accuracy check, left out of
// the ASan stage as the comparisons with renorm above are).
TEST(PcaCodecTest, WeightedDataRanksBetterThanUnweighted) {
  const uint32_t d = 64;
  const auto base = GaussianRows(4000, d, TwoDecades(d), 14);
  const auto queries = GaussianRows(200, d, TwoDecades(d), 15);
  for (uint32_t bits : {2u, 4u}) {
    auto plain = MakeCodec("pca", bits, true, d, base, PcaWeighting::kOff);
    auto weighted = MakeCodec("pca", bits, true, d, base, PcaWeighting::kOn);
    ASSERT_TRUE(plain && weighted);
    const double rp = Recall10(*plain, base, queries, d);
    const double rw = Recall10(*weighted, base, queries, d);
    std::printf("anisotropic d=%u %u bits: unweighted %.3f weighted %.3f\n", d,
                bits, rp, rw);
    EXPECT_GT(rw, rp) << bits << " bits";
  }
}

// The weighted codec's contract: the same bytes, the factor makes the
// estimate exact along the vector itself, a codec created alone takes
// kAuto as kOff, the weighted parameters survive serialization, truncated
// or non-positive weights are corrupt, and version 4's general weighting
// is refused clearly.
TEST(PcaCodecTest, QueryWeightingKeepsTheCodecsContract) {
  const uint32_t d = 64;
  const auto base = GaussianRows(1000, d, TwoDecades(d), 14);
  const auto queries = GaussianRows(20, d, TwoDecades(d), 15);
  for (uint32_t bits : {2u, 4u}) {
    auto plain = MakeCodec("pca", bits, true, d, base, PcaWeighting::kOff);
    auto weighted = MakeCodec("pca", bits, true, d, base, PcaWeighting::kOn);
    auto automatic = MakeCodec("pca", bits, true, d, base, PcaWeighting::kAuto);
    ASSERT_TRUE(plain && weighted && automatic);
    EXPECT_EQ(weighted->code_bytes(), plain->code_bytes());
    EXPECT_NE(weighted->Describe().find("weighted"), std::string::npos);
    EXPECT_EQ(automatic->Describe(), plain->Describe());
    EXPECT_EQ(automatic->options().pca_weighting, PcaWeighting::kOff);
    EXPECT_EQ(weighted->options().pca_weighting, PcaWeighting::kOn);
    // <x, x> is estimated as ||x||^2 (float16 factor precision).
    std::vector<uint8_t> codes(50 * weighted->code_bytes());
    ASSERT_TRUE(weighted->EncodeBatch(base.data(), 50, codes.data()).ok());
    for (size_t i = 0; i < 50; ++i) {
      const float* x = &base[i * d];
      double nsq = 0;
      for (uint32_t j = 0; j < d; ++j) nsq += double{x[j]} * x[j];
      QueryLuts luts;
      weighted->BuildLuts(x, false, &luts);
      EXPECT_NEAR(
          EstimateFromLuts(*weighted, luts, &codes[i * weighted->code_bytes()]),
          nsq, 0.01 * nsq)
          << "row " << i;
    }
  }
  auto a = MakeCodec("pca", 3, true, d, base, PcaWeighting::kOn);
  ASSERT_TRUE(a);
  const std::string blob = a->Serialize();
  auto b = ScanCodec::Deserialize(blob);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->Serialize(), blob);
  EXPECT_EQ((*b)->options().pca_weighting, PcaWeighting::kOn);
  std::vector<uint8_t> ca(300 * a->code_bytes()), cb(ca.size());
  ASSERT_TRUE(a->EncodeBatch(base.data(), 300, ca.data()).ok());
  ASSERT_TRUE((*b)->EncodeBatch(base.data(), 300, cb.data()).ok());
  EXPECT_EQ(ca, cb);
  EXPECT_EQ(Estimates(*a, ca, 300, &queries[0]),
            Estimates(**b, cb, 300, &queries[0]));
  // The weights' metric: a level step along coordinate i moves A^-1 y_hat
  // by sigma_i rows_i.
  const ScalarCodeInfo* info = a->scalar_info();
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), info->width.size());
  Decoder outer(blob);
  uint32_t kind = 0;
  absl::string_view inner, payload;
  ASSERT_TRUE(outer.GetFixed32(&kind) && outer.GetBytes(&inner));
  ASSERT_TRUE(CheckCrcTrailer(inner, &payload));
  auto load = [&](std::string p) {
    PutCrcTrailer(&p);
    std::string out;
    PutFixed32(&out, kind);
    PutBytes(&out, p);
    return ScanCodec::Deserialize(out).status().code();
  };
  // Truncated weights are corrupt, not a smaller codec; so is a rest
  // weight of 0 (the last float).
  EXPECT_EQ(load(std::string(payload.substr(0, payload.size() - 4))),
            absl::StatusCode::kDataLoss);
  std::string zero(payload);
  EncodeFixed32(reinterpret_cast<uint8_t*>(&zero[zero.size() - 4]), 0);
  EXPECT_EQ(load(zero), absl::StatusCode::kDataLoss);
  std::string v4(payload);
  EncodeFixed32(reinterpret_cast<uint8_t*>(&v4[4]), 4);
  EXPECT_EQ(load(v4), absl::StatusCode::kFailedPrecondition);
}

// Factors are float16 relative to the training RMS norm: the norm scale of
// the data does not matter.
TEST(PcaCodecTest, ScaleInvariant) {
  const uint32_t d = 32;
  const std::vector<double> flat(d, 1.0);
  const auto base = GaussianRows(2000, d, flat, 6);
  const auto queries = GaussianRows(100, d, flat, 7);
  std::vector<float> big = base;
  for (float& v : big) v *= 1e6f;
  auto small = MakeCodec("pca", 3, true, d, base);
  auto large = MakeCodec("pca", 3, true, d, big);
  ASSERT_TRUE(small && large);
  const double rs = Recall10(*small, base, queries, d);
  const double rl = Recall10(*large, big, queries, d);
  std::printf("scale 1: %.3f, scale 1e6: %.3f\n", rs, rl);
  EXPECT_NEAR(rl, rs, 0.03);
  EXPECT_GT(rl, 0.5);
}

// The query projection (QueryWeights) in fixed point: weights scale with
// the query exactly for power-of-two scales; queries too small for the
// fixed-point step (denormal coordinates) take the float rows and agree
// with the fixed-point weights to their rounding; a zero query weighs 0.
TEST(PcaCodecTest, QueryWeightsAtEveryScale) {
  const uint32_t d = 64;
  std::vector<double> decay(d);
  for (uint32_t j = 0; j < d; ++j) decay[j] = 4.0 / (1 + j);
  const auto x = GaussianRows(3000, d, decay, 9);
  auto c = MakeCodec("pca", 4, true, d, x);  // 5-8-bit rows and 1-4-bit ones
  ASSERT_TRUE(c);
  const ScalarCodeInfo* info = c->scalar_info();
  ASSERT_NE(info, nullptr);
  const size_t k = info->width.size();
  ASSERT_GE(info->width.front(), 5);
  ASSERT_LE(info->width.back(), 4);
  const std::vector<float> u(x.begin() + d, x.begin() + 2 * d);
  std::vector<float> w(k), ws(k), us(d);
  c->QueryWeights(u.data(), w.data());
  float wmax = 0;
  for (float v : w) wmax = std::max(wmax, std::fabs(v));
  ASSERT_GT(wmax, 0);
  for (int e : {-100, -20, 0, 20, 60}) {
    for (uint32_t j = 0; j < d; ++j) us[j] = std::ldexp(u[j], e);
    c->QueryWeights(us.data(), ws.data());
    for (size_t i = 0; i < k; ++i) {
      EXPECT_EQ(ws[i], std::ldexp(w[i], e)) << "2^" << e << " weight " << i;
    }
  }
  // 2^-135: every coordinate below FLT_MIN (the float rows).
  for (uint32_t j = 0; j < d; ++j) us[j] = std::ldexp(u[j], -135);
  c->QueryWeights(us.data(), ws.data());
  for (size_t i = 0; i < k; ++i) {
    EXPECT_NEAR(std::ldexp(ws[i], 135), w[i], 0.02f * wmax) << "weight " << i;
  }
  std::fill(us.begin(), us.end(), 0.0f);
  c->QueryWeights(us.data(), ws.data());
  for (size_t i = 0; i < k; ++i) EXPECT_EQ(ws[i], 0.0f) << "weight " << i;
}

TEST(PcaCodecTest, SerializationRoundTrip) {
  const uint32_t d = 24;
  std::vector<double> decay(d);
  for (uint32_t j = 0; j < d; ++j) decay[j] = 1.0 / (1 + j);
  const auto x = GaussianRows(600, d, decay, 8);
  for (bool single : {true, false}) {
    auto a = MakeCodec("pca", 3, single, d, x);
    ASSERT_TRUE(a);
    const std::string blob = a->Serialize();
    auto b = ScanCodec::Deserialize(blob);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((*b)->Serialize(), blob);
    EXPECT_EQ((*b)->code_bytes(), a->code_bytes());
    EXPECT_EQ((*b)->Describe(), a->Describe());
    EXPECT_EQ((*b)->options().single_factor, single);
    std::vector<uint8_t> ca(600 * a->code_bytes()), cb(ca.size());
    ASSERT_TRUE(a->EncodeBatch(x.data(), 600, ca.data()).ok());
    ASSERT_TRUE((*b)->EncodeBatch(x.data(), 600, cb.data()).ok());
    EXPECT_EQ(ca, cb);
    EXPECT_EQ(Estimates(*a, ca, 600, &x[0]), Estimates(**b, cb, 600, &x[0]));
    if (!single) {  // ||r||^2 is kept, to float16 precision
      const ScanShape& s = a->shape();
      std::vector<uint8_t> s4(s.m4a), s4b(s.m4b), s8(s.m8);
      std::vector<float> f(s.nfactors);
      a->Unpack(ca.data(), s4.data(), s4b.data(), s8.data(), f.data());
      double nsq = 0;
      for (uint32_t j = 0; j < d; ++j) nsq += double{x[j]} * x[j];
      EXPECT_NEAR(a->NormSq(f.data()), nsq, 1e-3 * nsq);
    }
    std::string bad = blob;
    bad[bad.size() / 2] ^= 1;
    EXPECT_EQ(ScanCodec::Deserialize(bad).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

// CodecOptions::center_factor: one more factor (float16 for pca, float32
// for mse and renorm) that EncodeBatch leaves 0 and SetCenterFactor sets,
// kept by serialization; the codes' other contents do not change. prod has
// none.
TEST(CenterFactorTest, EveryScalarCodecKeepsIt) {
  const uint32_t d = 24;
  std::vector<double> decay(d);
  for (uint32_t j = 0; j < d; ++j) decay[j] = 1.0 / (1 + j);
  const auto x = GaussianRows(300, d, decay, 9);
  for (const char* method : {"pca", "renorm", "mse", "prod"}) {
    for (bool single : {true, false}) {
      CodecOptions o;
      o.method = method;
      o.bits = 3;
      o.single_factor = single;
      auto plain = ScanCodec::Create(o, d, x.data(), 300);
      o.center_factor = true;
      auto centered = ScanCodec::Create(o, d, x.data(), 300);
      ASSERT_TRUE(plain.ok() && centered.ok()) << method;
      const ScanCodec& a = **plain;
      const ScanCodec& c = **centered;
      const std::string what = std::string(method) + (single ? " 1" : " 2");
      if (std::string(method) == "prod") {
        EXPECT_FALSE(c.options().center_factor) << what;
        EXPECT_EQ(c.combine_form().center_factor, -1) << what;
        EXPECT_EQ(c.code_bytes(), a.code_bytes()) << what;
        continue;
      }
      const uint32_t nf = c.shape().nfactors;
      EXPECT_EQ(nf, a.shape().nfactors + 1) << what;
      EXPECT_EQ(c.combine_form().center_factor, static_cast<int32_t>(nf - 1));
      EXPECT_EQ(a.combine_form().center_factor, -1) << what;
      const bool pca = std::string(method) == "pca";
      EXPECT_EQ(c.code_bytes(), a.code_bytes() + (pca ? 2u : 4u)) << what;
      // Round trip of the parameters.
      const std::string blob = c.Serialize();
      auto back = ScanCodec::Deserialize(blob);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE((*back)->options().center_factor) << what;
      if (std::string(method) != "mse") {  // mse has one factor either way
        EXPECT_EQ((*back)->options().single_factor, single) << what;
      }
      EXPECT_EQ((*back)->Serialize(), blob) << what;
      EXPECT_EQ((*back)->code_bytes(), c.code_bytes()) << what;
      // Codes: the correction starts at 0 and takes the value set; the
      // estimates (which do not read it) are those of the codec without it.
      std::vector<uint8_t> ca(300 * a.code_bytes()), cc(300 * c.code_bytes());
      ASSERT_TRUE(a.EncodeBatch(x.data(), 300, ca.data()).ok());
      ASSERT_TRUE(c.EncodeBatch(x.data(), 300, cc.data()).ok());
      if (!pca) {  // same rotation and codebook: the same estimates
        EXPECT_EQ(Estimates(a, ca, 300, &x[d]), Estimates(c, cc, 300, &x[d]))
            << what;
      }
      const std::vector<float> before = Estimates(c, cc, 300, &x[d]);
      const ScanShape& s = c.shape();
      std::vector<uint8_t> s4(s.m4a), s4b(s.m4b), s8(s.m8);
      std::vector<float> f(nf);
      for (size_t i = 0; i < 300; ++i) {
        uint8_t* code = &cc[i * c.code_bytes()];
        c.Unpack(code, s4.data(), s4b.data(), s8.data(), f.data());
        ASSERT_EQ(f[nf - 1], 0.0f) << what << " row " << i;
        c.SetCenterFactor(code, 0.01f * static_cast<float>(i) - 1.5f);
      }
      for (size_t i = 0; i < 300; ++i) {
        c.Unpack(&cc[i * c.code_bytes()], s4.data(), s4b.data(), s8.data(),
                 f.data());
        const float want = 0.01f * static_cast<float>(i) - 1.5f;
        EXPECT_NEAR(f[nf - 1], want, pca ? 2e-3 * std::abs(want) + 1e-6 : 0)
            << what << " row " << i;
      }
      EXPECT_EQ(Estimates(c, cc, 300, &x[d]), before) << what;
    }
  }
}

// CodecOptions::centered_norm (L2 over residuals): n' = ||r||^2 + 2 <c, r>
// in the norm factor's place, which SetCenteredNorm sets and NormSq reads,
// kept apart from the centroid correction and by serialization. pca puts it
// in the place of ||r||^2 (no byte more; not with a single factor);
// TurboQuant adds a float32 (renorm with a single scale factor); prod has
// neither.
TEST(CenteredNormTest, EveryScalarCodecKeepsIt) {
  const uint32_t d = 24;
  std::vector<double> decay(d);
  for (uint32_t j = 0; j < d; ++j) decay[j] = 1.0 / (1 + j);
  const auto x = GaussianRows(300, d, decay, 11);
  for (const char* method : {"pca", "renorm", "mse", "prod"}) {
    for (bool single : {true, false}) {
      const std::string m = method;
      const std::string what = m + (single ? " 1" : " 2");
      CodecOptions o;
      o.method = method;
      o.bits = 3;
      o.single_factor = single;
      o.center_factor = true;
      auto plain = ScanCodec::Create(o, d, x.data(), 300);
      o.centered_norm = true;
      auto with = ScanCodec::Create(o, d, x.data(), 300);
      ASSERT_TRUE(plain.ok() && with.ok()) << what;
      const ScanCodec& a = **plain;
      const ScanCodec& c = **with;
      const CombineForm cf = c.combine_form();
      if (m == "prod" || (m == "pca" && single)) {
        EXPECT_FALSE(c.options().centered_norm) << what;
        EXPECT_FALSE(cf.centered_norm) << what;
        EXPECT_EQ(c.code_bytes(), a.code_bytes()) << what;
        continue;
      }
      const bool pca = m == "pca";
      ASSERT_TRUE(cf.centered_norm) << what;
      EXPECT_TRUE(cf.norm_is_squared) << what;
      const uint32_t nf = c.shape().nfactors;
      EXPECT_EQ(nf, a.shape().nfactors + (pca ? 0u : 1u)) << what;
      EXPECT_EQ(c.code_bytes(), a.code_bytes() + (pca ? 0u : 4u)) << what;
      ASSERT_GE(cf.center_factor, 0) << what;
      ASSERT_NE(static_cast<uint32_t>(cf.center_factor), cf.norm_factor);
      const std::string blob = c.Serialize();
      auto back = ScanCodec::Deserialize(blob);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE((*back)->options().centered_norm) << what;
      EXPECT_TRUE((*back)->options().center_factor) << what;
      EXPECT_EQ((*back)->Serialize(), blob) << what;
      if (!pca) {  // TurboQuant's flags word: an unknown bit is corrupt
        Decoder outer(blob);
        uint32_t kind = 0;
        absl::string_view inner;
        ASSERT_TRUE(outer.GetFixed32(&kind) && outer.GetBytes(&inner));
        std::string bad(inner);
        bad[0] = static_cast<char>(bad[0] | 8);
        std::string bad_blob;
        PutFixed32(&bad_blob, kind);
        PutBytes(&bad_blob, bad);
        EXPECT_EQ(ScanCodec::Deserialize(bad_blob).status().code(),
                  absl::StatusCode::kDataLoss)
            << what;
      }
      // Each value read back from its own factor, whichever is set first.
      std::vector<uint8_t> cc(300 * c.code_bytes());
      ASSERT_TRUE(c.EncodeBatch(x.data(), 300, cc.data()).ok());
      const ScanShape& s = c.shape();
      std::vector<uint8_t> s4(s.m4a), s4b(s.m4b), s8(s.m8);
      std::vector<float> f(nf);
      auto norm_of = [](size_t i) {
        return 0.37f * static_cast<float>(i) - 40;
      };
      auto delta_of = [](size_t i) {
        return 1.0f - 0.01f * static_cast<float>(i);
      };
      for (size_t i = 0; i < 300; ++i) {
        uint8_t* code = &cc[i * c.code_bytes()];
        if (i % 2) c.SetCenterFactor(code, delta_of(i));
        c.SetCenteredNorm(code, norm_of(i));
        if (i % 2 == 0) c.SetCenterFactor(code, delta_of(i));
      }
      for (size_t i = 0; i < 300; ++i) {
        c.Unpack(&cc[i * c.code_bytes()], s4.data(), s4b.data(), s8.data(),
                 f.data());
        const float n = norm_of(i), delta = delta_of(i);
        EXPECT_NEAR(f[cf.norm_factor], n, pca ? 2e-3 * std::abs(n) + 1e-5 : 0)
            << what << " row " << i;
        EXPECT_EQ(c.NormSq(f.data()), f[cf.norm_factor]) << what;
        EXPECT_NEAR(f[cf.center_factor], delta,
                    pca ? 2e-3 * std::abs(delta) + 1e-6 : 0)
            << what << " row " << i;
      }
    }
  }
}

// Parameters of format version 2 (before the flags word) still load, as a
// codec without the centroid correction.
TEST(PcaCodecTest, FormatVersion2StillLoads) {
  const uint32_t d = 16;
  const auto x = GaussianRows(200, d, std::vector<double>(d, 1.0), 4);
  for (bool single : {true, false}) {
    auto a = MakeCodec("pca", 2, single, d, x);
    ASSERT_TRUE(a);
    // The same parameters with version 2 in the header (the flags word then
    // holds single_factor as 0 or 1, as version 2 wrote it).
    const std::string v3 = a->Serialize();
    Decoder outer(v3);
    uint32_t kind = 0;
    absl::string_view inner;
    ASSERT_TRUE(outer.GetFixed32(&kind) && outer.GetBytes(&inner));
    absl::string_view payload;
    ASSERT_TRUE(CheckCrcTrailer(inner, &payload));
    std::string v2(payload);
    EncodeFixed32(reinterpret_cast<uint8_t*>(&v2[4]), 2);
    PutCrcTrailer(&v2);
    std::string blob;
    PutFixed32(&blob, kind);
    PutBytes(&blob, v2);
    auto b = ScanCodec::Deserialize(blob);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((*b)->options().single_factor, single);
    EXPECT_FALSE((*b)->options().center_factor);
    EXPECT_EQ((*b)->code_bytes(), a->code_bytes());
    EXPECT_EQ((*b)->Serialize(), a->Serialize());
    // A version 2 header with a flags value it never wrote is corrupt.
    std::string bad(payload);
    EncodeFixed32(reinterpret_cast<uint8_t*>(&bad[4]), 2);
    EncodeFixed32(reinterpret_cast<uint8_t*>(&bad[24]), 3);
    PutCrcTrailer(&bad);
    std::string bad_blob;
    PutFixed32(&bad_blob, kind);
    PutBytes(&bad_blob, bad);
    EXPECT_EQ(ScanCodec::Deserialize(bad_blob).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(PcaCodecTest, OldFormatVersionIsRefusedClearly) {
  std::string inner;
  PutFixed32(&inner, 0x31414350);  // "PCA1"
  PutFixed32(&inner, 1);           // format version 1
  PutFixed32(&inner, 8);
  PutCrcTrailer(&inner);
  std::string blob;
  PutFixed32(&blob, 2);  // kind: pca
  PutBytes(&blob, inner);
  const auto r = ScanCodec::Deserialize(blob);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("version 1"), std::string::npos)
      << r.status();
}

// The training-time choice of the query weighting (index/codec_choice.h):
// left out where the sample cannot tell (or is too small to say), kOn and
// kOff obeyed (where the weighting is kept: IvfIndexTest.RecallOnUse512).
bool IsWeighted(const ScanCodec& c) {
  return c.Describe().find("weighted") != std::string::npos;
}

absl::StatusOr<std::unique_ptr<ScanCodec>> TrainChoosing(
    const std::vector<float>& x, uint32_t d, PcaWeighting w, Metric metric) {
  CodecOptions o;
  o.method = "pca";
  o.bits = 2;
  o.single_factor = metric != Metric::kL2;
  o.pca_weighting = w;
  ValidationSample s;
  s.x = x.data();
  s.n = x.size() / d;
  s.d = d;
  s.metric = metric;
  return TrainPcaCodec(o, x.data(), s, 7);
}

TEST(CodecChoiceTest, LeavesItOutWhereTheSampleCannotTell) {
  const uint32_t d = 48;
  // Isotropic: A is the identity up to sampling noise, the two codecs rank
  // alike, and a difference within the noise keeps the unweighted one.
  const auto iso = GaussianRows(6000, d, std::vector<double>(d, 1.0), 4);
  auto c = TrainChoosing(iso, d, PcaWeighting::kAuto, Metric::kInnerProduct);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(IsWeighted(**c));
  // Too few rows to hold 10 queries and 100 others.
  std::vector<double> decay(d);
  for (uint32_t j = 0; j < d; ++j) decay[j] = std::pow(0.003, 0.5 * j / d);
  const auto small = GaussianRows(105, d, decay, 5);
  c = TrainChoosing(small, d, PcaWeighting::kAuto, Metric::kInnerProduct);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(IsWeighted(**c));
}

TEST(CodecChoiceTest, OnAndOffAreObeyed) {
  const uint32_t d = 16;
  const auto iso = GaussianRows(500, d, std::vector<double>(d, 1.0), 6);
  auto on = TrainChoosing(iso, d, PcaWeighting::kOn, Metric::kInnerProduct);
  auto off = TrainChoosing(iso, d, PcaWeighting::kOff, Metric::kInnerProduct);
  ASSERT_TRUE(on.ok() && off.ok());
  EXPECT_TRUE(IsWeighted(**on));
  EXPECT_FALSE(IsWeighted(**off));
}

}  // namespace
}  // namespace tqdb
