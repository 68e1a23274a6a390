// Google Benchmark: TurboQuant encode throughput (one thread) and the
// indexing-time comparison with product quantization on real data.
//
//   build/tests/quant_benchmark                       # all
//   build/tests/quant_benchmark --benchmark_filter=Encode
//
// items_per_second = vectors encoded per second.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "quant/pq.h"
#include "quant/turbo_quantizer.h"
#include "tests/test_util.h"

namespace tqdb {
namespace {

void BM_TurboEncode(benchmark::State& state) {
  const auto method = static_cast<TqMethod>(state.range(0));
  const uint32_t bits = static_cast<uint32_t>(state.range(1));
  const uint32_t d = static_cast<uint32_t>(state.range(2));
  const size_t n = 1000;
  TurboOptions o;
  o.dim = d;
  o.bits = bits;
  o.method = method;
  auto q = TurboQuantizer::Create(o);
  if (!q.ok()) {
    state.SkipWithError(std::string(q.status().message()).c_str());
    return;
  }
  const std::vector<float> x = testing_util::RandomUnitVectors(n, d, 1);
  std::vector<uint8_t> codes(n * (*q)->bytes_per_vector());
  for (auto _ : state) {
    if (!(*q)->EncodeBatch(x.data(), n, codes.data()).ok()) {
      state.SkipWithError("encode failed");
    }
    benchmark::DoNotOptimize(codes.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel(std::string(TqMethodName(method)) +
                 " bytes/vec=" + std::to_string((*q)->bytes_per_vector()));
}
BENCHMARK(BM_TurboEncode)
    ->ArgNames({"method", "bits", "d"})
    ->ArgsProduct({{static_cast<int>(TqMethod::kMse),
                    static_cast<int>(TqMethod::kRenorm),
                    static_cast<int>(TqMethod::kProd)},
                   {2, 4},
                   {100, 512, 1536}});

// Indexing time on use512 (20,000 x 512): TurboQuant needs no training (the
// codebook is data-oblivious; its one-time computation is included), PQ at
// the same bytes per vector trains k-means per sub-space.
bool LoadUse512(std::vector<float>* base, size_t* n, size_t* d) {
  return testing_util::ReadVecs(testing_util::SharedDataDir() +
                                    "/use512-debian-pkgdesc/"
                                    "debdesc_use512_base_20k.fvecs",
                                base, n, d);
}

void BM_IndexUse512_Turbo(benchmark::State& state) {
  std::vector<float> base;
  size_t n, d;
  if (!LoadUse512(&base, &n, &d)) {
    state.SkipWithError("shared data use512-debian-pkgdesc not found");
    return;
  }
  const uint32_t bits = static_cast<uint32_t>(state.range(0));
  size_t bpv = 0;
  for (auto _ : state) {
    TurboOptions o;
    o.dim = static_cast<uint32_t>(d);
    o.bits = bits;
    o.method = TqMethod::kRenorm;
    o.seed = 1000 + state.iterations();  // fresh rotation each time
    auto q = TurboQuantizer::Create(o);
    std::vector<uint8_t> codes(n * (*q)->bytes_per_vector());
    bpv = (*q)->bytes_per_vector();
    if (!(*q)->EncodeBatch(base.data(), n, codes.data()).ok()) {
      state.SkipWithError("encode failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel("renorm bytes/vec=" + std::to_string(bpv));
}
BENCHMARK(BM_IndexUse512_Turbo)
    ->ArgName("bits")
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond);

void BM_IndexUse512_Pq(benchmark::State& state) {
  std::vector<float> base;
  size_t n, d;
  if (!LoadUse512(&base, &n, &d)) {
    state.SkipWithError("shared data use512-debian-pkgdesc not found");
    return;
  }
  const uint32_t bits = static_cast<uint32_t>(state.range(0));
  // Equal bytes to renorm at `bits`: (bits*d/8 + 8) one-byte sub-codes.
  const uint32_t m = static_cast<uint32_t>(bits * d / 8 + 8);
  for (auto _ : state) {
    PqOptions o;
    o.dim = static_cast<uint32_t>(d);
    o.m = m;
    o.nbits = 8;
    auto pq = ProductQuantizer::Train(o, base.data(), n);
    if (!pq.ok()) {
      state.SkipWithError(std::string(pq.status().message()).c_str());
      break;
    }
    std::vector<uint8_t> codes(n * (*pq)->code_bytes());
    if (!(*pq)->EncodeBatch(base.data(), n, codes.data()).ok()) {
      state.SkipWithError("encode failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel("pq m=" + std::to_string(m) +
                 "x8 bytes/vec=" + std::to_string(m));
}
BENCHMARK(BM_IndexUse512_Pq)
    ->ArgName("bits")
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace tqdb

BENCHMARK_MAIN();
