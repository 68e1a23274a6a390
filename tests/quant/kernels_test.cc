// Per-target tests of the Highway kernels (hwy/examples/skeleton_test.cc
// pattern): every test body runs once for each target that is both compiled
// and supported by this CPU, against the scalar reference.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tests/quant/kernels_test.cc"
#include "absl/strings/match.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "hwy/tests/hwy_gtest.h"
#include "quant/codebook.h"
#include "quant/coding.h"
#include "quant/kernels-inl.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "quant/rotation.h"
#include "quant/simd_targets.h"
#include "tests/out_of_line-inl.h"
#include "tests/test_util.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace kernels {
namespace HWY_NAMESPACE {

std::vector<float> RandomFloats(size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.Gaussian() * scale);
  return v;
}

using testing_util::HWY_NAMESPACE::OutOfLine;

const size_t kSizes[] = {1,  2,  3,   7,   8,   15,  16,  31,  32,
                         33, 64, 100, 127, 384, 511, 512, 1536};

// Bit-for-bit equality of floats (NaN payloads and the sign of zero too).
::testing::AssertionResult SameBits(float a, float b) {
  if (std::memcmp(&a, &b, sizeof(float)) == 0) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << std::hexfloat << a << " and " << b << " differ in their bits";
}

void TestFwhtIsBitIdentical() {
  for (size_t n : {size_t{1}, size_t{2}, size_t{4}, size_t{8}, size_t{16},
                   size_t{64}, size_t{512}, size_t{2048}}) {
    std::vector<float> a = RandomFloats(n, n), b = a;
    OutOfLine<FwhtImpl>(a.data(), n, 0.125f);
    scalar::Fwht(b.data(), n, 0.125f);
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), n * sizeof(float)))
        << "n=" << n;
  }
}

void TestPermuteSignsIsBitIdentical() {
  for (size_t n : kSizes) {
    Rng rng(n);
    const std::vector<uint32_t> perm =
        RandomPermutation(static_cast<uint32_t>(n), &rng);
    std::vector<float> signs(n);
    for (float& s : signs) s = (rng.Next() & 1) ? -1.0f : 1.0f;
    const std::vector<float> x = RandomFloats(n, 3 * n);
    std::vector<float> a(n), b(n);
    OutOfLine<PermuteSignsImpl>(x.data(), perm.data(), signs.data(), n,
                                a.data());
    scalar::PermuteSigns(x.data(), perm.data(), signs.data(), n, b.data());
    ASSERT_EQ(a, b) << "n=" << n;
  }
}

void TestQuantizeIsBitIdentical() {
  for (uint32_t bits = 1; bits <= 8; ++bits) {
    auto cb = GetCodebook(CodebookKind::kExactBeta, 128, bits);
    ASSERT_TRUE(cb.ok());
    for (size_t n : kSizes) {
      std::vector<float> y = RandomFloats(n, n + bits, 1.0 / std::sqrt(128.0));
      // Exact ties with boundaries must agree too.
      if (n > 2 && bits > 1) y[1] = (*cb)->thresholds[0];
      std::vector<uint8_t> a(n), b(n);
      OutOfLine<QuantizeImpl>(y.data(), n, (*cb)->thresholds.data(), bits,
                              a.data());
      scalar::Quantize(y.data(), n, (*cb)->thresholds.data(), bits, b.data());
      ASSERT_EQ(a, b) << "n=" << n << " bits=" << bits;
      for (size_t i = 0; i < n; ++i) ASSERT_LT(a[i], 1u << bits);
    }
  }
}

// The float sums are the scalar reference's bit for bit on every target
// (quant/kernels.h, Determinism), and the reference is the exact sum to
// float rounding.
void TestSumsAreTheReference() {
  for (size_t n : kSizes) {
    const std::vector<float> a = RandomFloats(n, n), b = RandomFloats(n, n + 1);
    const float dot = scalar::Dot(a.data(), b.data(), n);
    EXPECT_TRUE(SameBits(OutOfLine<DotImpl>(a.data(), b.data(), n), dot)) << n;
    const float l2 = scalar::L2Sqr(a.data(), b.data(), n);
    EXPECT_TRUE(SameBits(OutOfLine<L2SqrImpl>(a.data(), b.data(), n), l2)) << n;
    Rng rng(n);
    std::vector<uint8_t> idx(n), bits((n + 7) / 8, 0);
    for (auto& v : idx) v = static_cast<uint8_t>(rng.Uniform(256));
    for (auto& v : bits) v = static_cast<uint8_t>(rng.Next());
    const std::vector<float> table = RandomFloats(256, 9);
    const float lut = scalar::DotLut(a.data(), idx.data(), table.data(), n);
    EXPECT_TRUE(SameBits(
        OutOfLine<DotLutImpl>(a.data(), idx.data(), table.data(), n), lut))
        << n;
    const float ms = scalar::MaskedSum(a.data(), bits.data(), n);
    EXPECT_TRUE(
        SameBits(OutOfLine<MaskedSumImpl>(a.data(), bits.data(), n), ms))
        << n;
    double exact_dot = 0, exact_l2 = 0, exact_lut = 0, exact_ms = 0, spread = 0;
    for (size_t i = 0; i < n; ++i) {
      exact_dot += double{a[i]} * b[i];
      exact_l2 += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
      exact_lut += double{a[i]} * table[idx[i]];
      if ((bits[i / 8] >> (i % 8)) & 1) exact_ms += a[i];
      spread += std::fabs(a[i]) * (std::fabs(b[i]) + 4);
    }
    EXPECT_NEAR(dot, exact_dot, 1e-6 * spread) << n;
    EXPECT_NEAR(l2, exact_l2, 1e-6 * (spread + exact_l2)) << n;
    EXPECT_NEAR(lut, exact_lut, 1e-6 * spread) << n;
    EXPECT_NEAR(ms, exact_ms, 1e-6 * spread) << n;
  }
}

// Each product is added by a fused multiply-add, also on targets without
// an FMA instruction: the 2^-24 below survives only if a * a is not rounded
// before the add (a * a = 1 + 2^-11 + 2^-24, a tie that rounds to 1 + 2^-11).
// Terms 0 and 32 share a running sum.
void TestProductsAreFused() {
  const float a = 1.0f + std::ldexp(1.0f, -12);
  std::vector<float> x(33, 0.0f), y(33, 0.0f);
  x[0] = -(1.0f + std::ldexp(1.0f, -11));
  y[0] = 1.0f;
  x[32] = y[32] = a;
  const float want = std::ldexp(1.0f, -24);
  EXPECT_EQ(OutOfLine<DotImpl>(x.data(), y.data(), 33), want);
  EXPECT_EQ(scalar::Dot(x.data(), y.data(), 33), want);
  // MatVecF16: binary16 h = 1 + 2^-10 times x = 1 + 2^-14 is again a tie
  // (1 + 2^-10 + 2^-14 + 2^-24); row entry 0 is -1, x[0] the rounded product.
  std::vector<uint16_t> m(33, FloatToHalf(0.0f));
  std::vector<float> xm(33, 0.0f);
  m[0] = FloatToHalf(-1.0f);
  xm[0] = 1.0f + std::ldexp(1.0f, -10) + std::ldexp(1.0f, -14);
  m[32] = FloatToHalf(1.0f + std::ldexp(1.0f, -10));
  xm[32] = 1.0f + std::ldexp(1.0f, -14);
  ASSERT_EQ(HalfToFloat(m[32]), 1.0f + std::ldexp(1.0f, -10));  // exact
  float got = 0;
  OutOfLine<MatVecF16Impl>(m.data(), 1, 33, xm.data(), &got);
  EXPECT_EQ(got, want);
}

void TestMatVecF16IsTheReference() {
  for (size_t rows :
       {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{9}}) {
    for (size_t cols : kSizes) {
      const std::vector<float> x = RandomFloats(cols, cols + 3);
      const std::vector<float> v = RandomFloats(rows * cols, rows + cols);
      std::vector<uint16_t> m(rows * cols);
      for (size_t i = 0; i < m.size(); ++i) m[i] = FloatToHalf(v[i]);
      std::vector<float> got(rows + 1, -1.0f), want(rows);
      OutOfLine<MatVecF16Impl>(m.data(), rows, cols, x.data(), got.data());
      scalar::MatVecF16(m.data(), rows, cols, x.data(), want.data());
      EXPECT_EQ(got[rows], -1.0f);  // nothing written past the rows
      for (size_t r = 0; r < rows; ++r) {
        EXPECT_TRUE(SameBits(got[r], want[r])) << rows << "x" << cols;
        // The halves are the floats to binary16 precision (relative 2^-11
        // per entry, errors adding in quadrature).
        double exact = 0, spread = 0;
        for (size_t i = 0; i < cols; ++i) {
          const double t = double{v[r * cols + i]} * x[i];
          exact += t;
          spread += t * t;
        }
        EXPECT_NEAR(want[r], exact, 2e-3 * std::sqrt(spread) + 1e-5);
      }
    }
  }
}

// n int8 values, the extremes (127, -128) every fifth, the rest uniform.
std::vector<int8_t> RandomInt8(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<int8_t> c(n);
  for (size_t i = 0; i < n; ++i) {
    c[i] = static_cast<int8_t>(i % 5 == 0
                                   ? (i % 2 ? 127 : -128)
                                   : static_cast<int>(rng.Uniform(256)) - 128);
  }
  return c;
}

// DotI8 against the reference and the exact sum (every int8 value, the
// extremes included).
void TestDotI8IsTheReference() {
  for (size_t n : kSizes) {
    const std::vector<float> q = RandomFloats(n, n + 7);
    const std::vector<int8_t> c = RandomInt8(n, n + 11);
    const float want = scalar::DotI8(q.data(), c.data(), n);
    double exact = 0, spread = 0;
    for (size_t i = 0; i < n; ++i) {
      exact += double{q[i]} * c[i];
      spread += std::fabs(double{q[i]} * c[i]);
    }
    EXPECT_TRUE(SameBits(OutOfLine<DotI8Impl>(q.data(), c.data(), n), want))
        << n;
    EXPECT_NEAR(want, exact, 1e-5 * (1 + spread)) << n;
  }
}

// L2SqrI8 against the reference, and against L2Sqr of the decoded floats
// (scale * c, the grid SnapToInt8Grid puts centroids on), bit for bit.
void TestL2SqrI8IsL2SqrOfTheDecodedVector() {
  for (size_t n : kSizes) {
    const std::vector<float> q = RandomFloats(n, n + 5);
    const std::vector<int8_t> c = RandomInt8(n, n + 3);
    const float scale = 0.0123f;
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = scale * static_cast<float>(c[i]);
    const float want = scalar::L2SqrI8(q.data(), c.data(), scale, n);
    EXPECT_TRUE(SameBits(want, scalar::L2Sqr(q.data(), x.data(), n))) << n;
    EXPECT_TRUE(
        SameBits(OutOfLine<L2SqrI8Impl>(q.data(), c.data(), scale, n), want))
        << n;
    EXPECT_TRUE(SameBits(OutOfLine<L2SqrImpl>(q.data(), x.data(), n), want))
        << n;
  }
}

// DotI8Rows: each row's result is DotI8's, bit for bit, whatever the row
// count (groups of four and the rest) and the padding between rows.
void TestDotI8RowsIsDotI8PerRow() {
  for (size_t n : kSizes) {
    for (size_t rows :
         {size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{9}}) {
      const size_t stride = n + 13;
      const std::vector<float> q = RandomFloats(n, n + rows);
      Rng rng(n * 31 + rows);
      std::vector<int8_t> c(rows * stride);
      for (int8_t& v : c) {
        v = static_cast<int8_t>(static_cast<int>(rng.Uniform(256)) - 128);
      }
      std::vector<float> got(rows + 1, -1.0f), ref(rows);
      OutOfLine<DotI8RowsImpl>(q.data(), c.data(), stride, rows, n, got.data());
      scalar::DotI8Rows(q.data(), c.data(), stride, rows, n, ref.data());
      for (size_t r = 0; r < rows; ++r) {
        const float one =
            OutOfLine<DotI8Impl>(q.data(), c.data() + r * stride, n);
        EXPECT_TRUE(SameBits(got[r], one))
            << n << " rows " << rows << " row " << r;
        EXPECT_TRUE(SameBits(got[r], ref[r]));
      }
      EXPECT_EQ(got[rows], -1.0f);  // nothing written past the rows
    }
  }
}

// SecondMomentUpper: the reference's bits in every entry of the upper
// triangle (several bands of rows when d is large), rows of weight 0
// skipped even when they hold non-finite values, the lower triangle left
// as it was.
void TestSecondMomentUpperIsTheReference() {
  for (size_t d : {size_t{1}, size_t{3}, size_t{8}, size_t{33}, size_t{200}}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{40}}) {
      Rng rng(d * 31 + n);
      std::vector<float> x(n * d);
      for (float& v : x) v = static_cast<float>(rng.Gaussian());
      std::vector<double> w(n);
      for (size_t i = 0; i < n; ++i) {
        w[i] = i % 3 == 1 ? 0.0 : 0.5 + rng.UniformDouble();
        if (w[i] == 0) {
          x[i * d] = std::numeric_limits<float>::quiet_NaN();
          x[i * d + d - 1] = std::numeric_limits<float>::infinity();
        }
      }
      std::vector<double> got(d * d), ref(d * d);
      for (size_t j = 0; j < d * d; ++j) got[j] = ref[j] = rng.Gaussian();
      const std::vector<double> before = got;
      OutOfLine<SecondMomentUpperImpl>(x.data(), n, d, w.data(), got.data());
      scalar::SecondMomentUpper(x.data(), n, d, w.data(), ref.data());
      for (size_t a = 0; a < d; ++a) {
        for (size_t b = 0; b < d; ++b) {
          const size_t j = a * d + b;
          if (b < a) {
            ASSERT_EQ(std::memcmp(&got[j], &before[j], sizeof(double)), 0);
          } else {
            ASSERT_EQ(std::memcmp(&got[j], &ref[j], sizeof(double)), 0)
                << "d " << d << " n " << n << " entry " << a << ", " << b;
            ASSERT_TRUE(std::isfinite(got[j]));
          }
        }
      }
    }
  }
}

// DotI16I8Rows: the exact sums (int16 extremes within the caller's limit,
// every int8 value), whatever the row count and the padding between rows.
void TestDotI16I8RowsIsExact() {
  for (size_t n : kSizes) {
    const int32_t qlim = static_cast<int32_t>(
        std::min<size_t>(16383, size_t{0x7FFFFFFF} / (128 * n)));
    for (size_t rows :
         {size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{9}}) {
      const size_t stride = n + 13;
      Rng rng(n * 17 + rows);
      std::vector<int16_t> q(n);
      for (size_t i = 0; i < n; ++i) {
        q[i] = static_cast<int16_t>(
            i % 7 == 0
                ? (i % 2 ? qlim : -qlim)
                : static_cast<int32_t>(rng.Uniform(2 * qlim + 1)) - qlim);
      }
      std::vector<int8_t> c(rows * stride);
      for (size_t i = 0; i < c.size(); ++i) {
        c[i] = static_cast<int8_t>(
            i % 5 == 0 ? (i % 2 ? 127 : -128)
                       : static_cast<int>(rng.Uniform(256)) - 128);
      }
      std::vector<int32_t> got(rows + 1, -1), ref(rows);
      OutOfLine<DotI16I8RowsImpl>(q.data(), c.data(), stride, rows, n,
                                  got.data());
      scalar::DotI16I8Rows(q.data(), c.data(), stride, rows, n, ref.data());
      for (size_t r = 0; r < rows; ++r) {
        int64_t exact = 0;
        for (size_t i = 0; i < n; ++i)
          exact += int64_t{q[i]} * c[r * stride + i];
        EXPECT_EQ(got[r], exact) << n << " rows " << rows << " row " << r;
        EXPECT_EQ(ref[r], exact) << n << " rows " << rows << " row " << r;
      }
      EXPECT_EQ(got[rows], -1);  // nothing written past the rows
    }
  }
}

// Whole pipeline through the dispatcher, which follows the target under
// test: rotation output and codes must be the pinned bytes on every target.
void TestRotationAndCodesArePinned() {
  auto rot = HadamardRotation::Create(100, 42);
  ASSERT_TRUE(rot.ok());
  std::vector<float> x(100);
  for (int i = 0; i < 100; ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  const std::vector<float> y = rot->Apply(x);
  EXPECT_EQ(Crc32c(y.data(), y.size() * sizeof(float)), 1409614447u);
  const std::string codes = testing_util::GoldenCodeBytes();
  EXPECT_EQ(Crc32c(codes.data(), codes.size()), testing_util::kGoldenCodesCrc);
}

}  // namespace HWY_NAMESPACE
}  // namespace kernels
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tqdb {
namespace kernels {
HWY_BEFORE_TEST(KernelsTest);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestFwhtIsBitIdentical);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestPermuteSignsIsBitIdentical);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestQuantizeIsBitIdentical);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestSumsAreTheReference);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestProductsAreFused);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestMatVecF16IsTheReference);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestDotI8IsTheReference);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestDotI8RowsIsDotI8PerRow);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestL2SqrI8IsL2SqrOfTheDecodedVector);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestDotI16I8RowsIsExact);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestSecondMomentUpperIsTheReference);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestRotationAndCodesArePinned);

TEST(KernelsDispatchTest, ReportsATarget) {
  const std::string name = ActiveTargetName();
  EXPECT_NE(name, "none");
  std::printf("active target: %s\n", name.c_str());
}

// A cap holds: ActiveTargetName is itself dispatched, so it names what
// dispatch runs, and naming it does not lift the cap (in Highway 1.0.3
// hwy::SupportedTargets() re-selects among every detected target: the
// ActiveTargetName that called it put AVX-512 back after DisableTargets).
TEST(KernelsDispatchTest, LimitSimdTargetsCapsDispatch) {
  // Detected and compiled; the best is the lowest bit.
  const int64_t supported = hwy::SupportedTargets() & HWY_TARGETS;
  const std::string best = hwy::TargetName(supported & -supported);
  for (const char* cap : {"avx2", "sse4", "emu128"}) {
    ASSERT_TRUE(LimitSimdTargets(cap).ok()) << cap;
    const std::string name = ActiveTargetName();
    std::printf("cap %s: %s\n", cap, name.c_str());
    if (std::string(cap) == "avx2" && (supported & HWY_AVX2)) {
      EXPECT_EQ(name, "AVX2");
    }
    if (std::string(cap) == "sse4" && (supported & HWY_SSE4)) {
      EXPECT_EQ(name, "SSE4");
    }
    EXPECT_EQ(ActiveTargetName(), name) << "naming the target lifted the cap";
    // The kernels keep their results, bit for bit, under a cap.
    const std::vector<float> a = testing_util::RandomUnitVectors(1, 300, 1);
    const std::vector<float> b = testing_util::RandomUnitVectors(1, 300, 2);
    const float got = Dot(a.data(), b.data(), 300),
                want = scalar::Dot(a.data(), b.data(), 300);
    EXPECT_EQ(0, std::memcmp(&got, &want, sizeof(float))) << cap;
  }
  ASSERT_TRUE(LimitSimdTargets("AVX3_DL").ok());  // any case; nothing above
  hwy::DisableTargets(0);
  EXPECT_EQ(ActiveTargetName(), best);
}

TEST(KernelsDispatchTest, UnknownSimdTargetsAreNamed) {
  const absl::Status s = LimitSimdTargets("avx9");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'avx9' is not a SIMD target: one of avx3_dl, "
                             "avx3, avx2"),
            absl::string_view::npos)
      << s;
  setenv(kSimdEnvironmentVariable, "avx9", 1);
  const absl::Status env = LimitSimdTargetsFromEnvironment();
  unsetenv(kSimdEnvironmentVariable);
  EXPECT_EQ(env.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(env.message(), "TQDB_SIMD=avx9: '")) << env;
}

TEST(KernelsDispatchTest, EnvironmentWithoutCapLiftsOne) {
  const int64_t supported = hwy::SupportedTargets() & HWY_TARGETS;
  const std::string best = hwy::TargetName(supported & -supported);
  ASSERT_TRUE(LimitSimdTargets("emu128").ok());
  unsetenv(kSimdEnvironmentVariable);
  EXPECT_TRUE(LimitSimdTargetsFromEnvironment().ok());
  EXPECT_EQ(ActiveTargetName(), best);
}
}  // namespace kernels
}  // namespace tqdb
#endif  // HWY_ONCE
