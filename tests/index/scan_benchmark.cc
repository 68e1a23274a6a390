// Google Benchmark: kernels of an IVF query, one thread.
//  - BM_RefineDot: the progressive scan's refine kernel (scan::RefineDot,
//    index/scan_kernels.h) on rows of 512 coordinates in several width
//    mixes. The rows (64 of them) stay in L1: this is the kernel's own
//    cost; in a search the rows come from L2 or L3.
//  - BM_AccumulateList: the FastScan first pass (scan::AccumulateList).
//  - BM_CoarseDot: the coarse step's dot products of a query with int8
//    centroid codes (565 x 512, use512's partition size; 1,265 x 100,
//    GloVe's), as float (kernels::DotI8Rows) and as int16 x int8
//    (kernels::DotI16I8Rows, what index/ivf_coarse.cc uses), the codes hot
//    in L2.
//
//   build/tests/index/scan_benchmark
//   TQDB_SIMD=avx2 build/tests/index/scan_benchmark   # cap the SIMD target
//
// items_per_second = rows refined, or centroid codes scored, per second.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <vector>

#include "index/scan_kernels.h"
#include "quant/kernels.h"
#include "quant/simd_targets.h"

namespace tqdb {
namespace {

// Widths of the 16 chunks of 32 coordinates, widest first within a chunk
// (the coordinates of a chunk split evenly among its widths).
struct WidthMix {
  const char* name;
  std::vector<std::vector<uint8_t>> chunks;
};

const std::vector<WidthMix>& Mixes() {
  static const auto* mixes = new std::vector<WidthMix>{
      // pca at 4 bits on use512-debian-pkgdesc (its chunks as trained).
      {"pca4_use512",
       {{7, 6},
        {6},
        {6, 5},
        {5},
        {5, 4},
        {4},
        {4},
        {4},
        {4},
        {4},
        {4, 3},
        {3},
        {3},
        {3},
        {3},
        {3, 2, 1}}},
      {"uniform2", std::vector<std::vector<uint8_t>>(16, {2})},
      {"uniform4", std::vector<std::vector<uint8_t>>(16, {4})},
      {"uniform5", std::vector<std::vector<uint8_t>>(16, {5})},
      {"uniform7", std::vector<std::vector<uint8_t>>(16, {7})},
      {"uniform8", std::vector<std::vector<uint8_t>>(16, {8})},
  };
  return *mixes;
}

void BM_RefineDot(benchmark::State& state) {
  const WidthMix& mix = Mixes()[static_cast<size_t>(state.range(0))];
  state.SetLabel(mix.name);
  std::vector<uint8_t> width;
  for (const auto& ws : mix.chunks) {
    for (size_t i = 0; i < ws.size(); ++i) {
      const size_t n = i + 1 < ws.size()
                           ? 32 / ws.size()
                           : 32 - (ws.size() - 1) * (32 / ws.size());
      width.insert(width.end(), n, ws[i]);
    }
  }
  // Antisymmetric levels, growing away from the middle, within int16.
  std::vector<int32_t> lq[9];
  for (uint32_t b = 1; b <= 8; ++b) {
    const uint32_t size = 1u << b;
    lq[b].resize(size);
    for (uint32_t i = 0; i < size / 2; ++i) {
      const int32_t mag = static_cast<int32_t>(16 * (size / 2 - i) + 7);
      lq[b][i] = -mag;
      lq[b][size - 1 - i] = mag;
    }
  }
  // The top bit of each chunk in the prefix (the layout's 1 bit a
  // dimension for TurboQuant codes).
  const scan::RefineTables t = scan::BuildRefineTables(
      width, lq, std::vector<uint8_t>(width.size() / scan::kRefineChunk, 1));
  constexpr size_t kRows = 64;
  std::mt19937 rng(7);
  std::vector<uint8_t> rows(kRows * t.row_bytes), idx(t.k);
  std::vector<uint8_t> prefixes(kRows * t.prefix_bytes);
  for (size_t r = 0; r < kRows; ++r) {
    for (uint32_t j = 0; j < t.k; ++j) {
      idx[j] = static_cast<uint8_t>(rng() & ((1u << width[j]) - 1));
    }
    scan::PackRefineRow(t, idx.data(), rows.data() + r * t.row_bytes);
    scan::PackRefinePrefix(t, idx.data(), prefixes.data() + r * t.prefix_bytes);
  }
  std::vector<int16_t> wq(t.k);
  for (int16_t& w : wq) w = static_cast<int16_t>(int(rng() % 1001) - 500);
  size_t r = 0;
  int64_t sum = 0;
  for (auto _ : state) {
    sum += scan::RefineDot(prefixes.data() + r * t.prefix_bytes,
                           rows.data() + r * t.row_bytes, t, wq.data());
    r = (r + 1) % kRows;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RefineDot)->DenseRange(0, 5);

void BM_CoarseDot(benchmark::State& state) {
  const bool integer = state.range(0) != 0;
  state.SetLabel(integer ? "int16 x int8" : "float x int8");
  const size_t rows = state.range(1), dim = state.range(2);
  const size_t stride = dim + 8;  // a RefineCodec int8 code's
  std::mt19937 rng(11);
  std::vector<int8_t> codes(rows * stride);
  for (int8_t& c : codes) c = static_cast<int8_t>(int(rng() % 255) - 127);
  std::vector<float> q(dim), out(rows);
  std::vector<int16_t> q16(dim);
  for (size_t i = 0; i < dim; ++i) {
    q[i] = static_cast<float>(int(rng() % 2001) - 1000) / 1000.0f;
    q16[i] = static_cast<int16_t>(q[i] * 16383.0f);
  }
  std::vector<int32_t> iout(rows);
  for (auto _ : state) {
    if (integer) {
      kernels::DotI16I8Rows(q16.data(), codes.data(), stride, rows, dim,
                            iout.data());
      benchmark::DoNotOptimize(iout.data());
    } else {
      kernels::DotI8Rows(q.data(), codes.data(), stride, rows, dim, out.data());
      benchmark::DoNotOptimize(out.data());
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_CoarseDot)
    ->Args({0, 565, 512})
    ->Args({1, 565, 512})
    ->Args({0, 1265, 100})
    ->Args({1, 1265, 100});

// The first pass: AccumulateList over nblocks blocks of npairs sub-code
// pairs (use512's 1-bit prefix: 64 pairs; GloVe's 3 bits of 100
// dimensions: 38; the full layout of renorm 2 bits on use512, a flat
// scan's: 128), codes and tables hot in L1 or L2; 2 and 4 pairs show the
// cost per block.
void BM_AccumulateList(benchmark::State& state) {
  const size_t npairs = state.range(0), nblocks = state.range(1);
  std::mt19937 rng(13);
  std::vector<uint8_t> codes(nblocks * npairs * 32), lo(npairs * 32),
      hi(npairs * 32);
  for (uint8_t& c : codes) c = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < lo.size(); ++i) {
    lo[i] = static_cast<uint8_t>(rng());
    hi[i] = static_cast<uint8_t>(rng());
  }
  std::vector<uint32_t> out(nblocks * 32);
  for (auto _ : state) {
    scan::AccumulateList(codes.data(), nblocks, npairs, lo.data(), hi.data(),
                         out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * nblocks * 32);
}
BENCHMARK(BM_AccumulateList)
    ->Args({64, 4})
    ->Args({38, 4})
    ->Args({38, 64})
    ->Args({2, 64})
    ->Args({4, 64})
    ->Args({128, 64})
    ->Args({25, 3125})  // a flat GloVe-100 of 100k, 2-bit first pass
    ->Args({50, 3125});

// The shared first pass of SearchBatch: AccumulateListMulti for nq
// queries over nblocks blocks of npairs pairs; items are (query, slot)
// pairs, so its rate against BM_AccumulateList's is the sharing's gain.
void BM_AccumulateListMulti(benchmark::State& state) {
  const size_t nq = state.range(0), npairs = state.range(1),
               nblocks = state.range(2);
  std::mt19937 rng(13);
  std::vector<uint8_t> codes(nblocks * npairs * 32);
  for (uint8_t& c : codes) c = static_cast<uint8_t>(rng());
  std::vector<std::vector<uint8_t>> lo(nq), hi(nq);
  std::vector<std::vector<uint32_t>> out(nq);
  const uint8_t* lo_p[scan::kMaxMultiQueries];
  const uint8_t* hi_p[scan::kMaxMultiQueries];
  uint32_t* out_p[scan::kMaxMultiQueries];
  for (size_t q = 0; q < nq; ++q) {
    lo[q].resize(npairs * 32);
    hi[q].resize(npairs * 32);
    for (size_t i = 0; i < lo[q].size(); ++i) {
      lo[q][i] = static_cast<uint8_t>(rng());
      hi[q][i] = static_cast<uint8_t>(rng());
    }
    out[q].resize(nblocks * 32);
    lo_p[q] = lo[q].data();
    hi_p[q] = hi[q].data();
    out_p[q] = out[q].data();
  }
  for (auto _ : state) {
    scan::AccumulateListMulti(codes.data(), nblocks, npairs, nq, lo_p, hi_p,
                              out_p);
    benchmark::DoNotOptimize(out_p[0]);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * nq * nblocks * 32);
}
BENCHMARK(BM_AccumulateListMulti)
    ->Args({1, 25, 3125})
    ->Args({2, 25, 3125})
    ->Args({4, 25, 3125})
    ->Args({4, 25, 256});

}  // namespace
}  // namespace tqdb

int main(int argc, char** argv) {
  const absl::Status simd = tqdb::kernels::LimitSimdTargetsFromEnvironment();
  if (!simd.ok()) {
    std::fprintf(stderr, "%s\n", std::string(simd.message()).c_str());
    return 2;
  }
  benchmark::AddCustomContext("simd_target", tqdb::kernels::ActiveTargetName());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
