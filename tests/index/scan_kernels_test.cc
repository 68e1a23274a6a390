// Per-target test of the FastScan kernel against its scalar reference.
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tests/index/scan_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "index/scan_kernels-inl.h"
#include "index/scan_kernels.h"
#include "quant/random.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace scan {
namespace HWY_NAMESPACE {

void TestAccumulateMatchesScalar() {
  Rng rng(5);
  // npairs up to 400 (800 sub-quantizers) crosses several uint16 flushes.
  for (size_t npairs : {size_t{2}, size_t{4}, size_t{6}, size_t{64},
                        size_t{130}, size_t{258}, size_t{400}}) {
    for (size_t nblocks : {size_t{1}, size_t{3}}) {
      std::vector<uint8_t> codes(nblocks * npairs * 32);
      for (auto& c : codes) c = static_cast<uint8_t>(rng.Next());
      std::vector<uint8_t> lo(npairs * 32), hi(npairs * 32);
      for (size_t p = 0; p < npairs; ++p) {
        for (int c = 0; c < 16; ++c) {
          // Extreme tables (all 255) check that no accumulator overflows.
          const uint8_t a =
              npairs == 400 ? 255 : static_cast<uint8_t>(rng.Next());
          const uint8_t b =
              npairs == 400 ? 255 : static_cast<uint8_t>(rng.Next());
          lo[p * 32 + c] = lo[p * 32 + 16 + c] = a;
          hi[p * 32 + c] = hi[p * 32 + 16 + c] = b;
        }
      }
      std::vector<uint32_t> got(nblocks * 32), want(nblocks * 32);
      AccumulateListImpl(codes.data(), nblocks, npairs, lo.data(), hi.data(),
                         got.data(), nullptr);
      scalar::AccumulateList(codes.data(), nblocks, npairs, lo.data(),
                             hi.data(), want.data());
      ASSERT_EQ(got, want) << "npairs=" << npairs << " nblocks=" << nblocks;
      if (npairs == 400) {
        EXPECT_EQ(want[0], 400u * 2 * 255);
      }
    }
  }
}

// Blocks whose mask is 0 are skipped (their outputs untouched), the others
// computed exactly as without masks, on every target.
void TestMaskedBlocksAreSkipped() {
  Rng rng(9);
  const size_t npairs = 64, nblocks = 5;
  std::vector<uint8_t> codes(nblocks * npairs * 32);
  for (auto& c : codes) c = static_cast<uint8_t>(rng.Next());
  std::vector<uint8_t> lo(npairs * 32), hi(npairs * 32);
  for (size_t p = 0; p < npairs; ++p) {
    for (int c = 0; c < 16; ++c) {
      lo[p * 32 + c] = lo[p * 32 + 16 + c] = static_cast<uint8_t>(rng.Next());
      hi[p * 32 + c] = hi[p * 32 + 16 + c] = static_cast<uint8_t>(rng.Next());
    }
  }
  const std::vector<uint32_t> masks = {0, 1u << 7, 0, 0xFFFFFFFFu, 0};
  const uint32_t kSentinel = 0xDEADBEEF;
  std::vector<uint32_t> got(nblocks * 32, kSentinel), want(nblocks * 32);
  AccumulateListImpl(codes.data(), nblocks, npairs, lo.data(), hi.data(),
                     got.data(), masks.data());
  scalar::AccumulateList(codes.data(), nblocks, npairs, lo.data(), hi.data(),
                         want.data());
  for (size_t b = 0; b < nblocks; ++b) {
    for (size_t v = 0; v < 32; ++v) {
      if (masks[b] == 0) {
        ASSERT_EQ(got[b * 32 + v], kSentinel) << "block " << b;
      } else {
        ASSERT_EQ(got[b * 32 + v], want[b * 32 + v]) << "block " << b;
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tqdb {
namespace scan {
HWY_BEFORE_TEST(ScanKernelsTest);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestAccumulateMatchesScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestMaskedBlocksAreSkipped);
}  // namespace scan
}  // namespace tqdb
#endif
