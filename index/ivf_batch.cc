// IvfIndex::SearchBatch (index/ivf_index.h): the shared scan of a batch's
// queries, list by list, and the per-query fallback.
#include <algorithm>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "index/ivf_index.h"
#include "index/scan_kernels.h"
#include "index/scanner.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

// Sums a chunk of queries keeps (uint32 each) before it combines them:
// a chunk's probed lists are all read before any query combines, so that
// each query meets its lists in its own order. Sized to stay in the L2
// cache (written by the kernel, read back by the combine).
constexpr size_t kChunkSums = size_t{1} << 18;  // 1 MB
constexpr size_t kMaxChunk = 256;
// Code bytes a tile of blocks holds (see SearchChunk): they stay in the
// L1 or L2 cache while every group of queries probing the list reads them.
constexpr size_t kTileBytes = 32 << 10;
// The mean slots of a list below which SearchBatch searches query by query
// (see BatchScans).
constexpr size_t kMinMeanSlots = 128;

// One query's probe of a list, in the order the lists are read.
struct Probe {
  uint32_t list;
  uint32_t query;  // within the chunk
  size_t sums;     // offset of its sums in the chunk's arrays
};

}  // namespace

bool IvfIndex::BatchScans(const SearchParams& p) const {
  // The progressive layout runs Search per query: its first pass shared
  // by groups of 4 queries (the sums then per query as Search forms them;
  // built and measured in 1d7fee5, reverted) was slower, GloVe-100 `pca`
  // 4 bits, tqdb bench --batch 1000 against 1: nlist 100 nprobe 8 and 16
  // 0.78-0.85x on AVX2 and AVX-512, flat 0.90-1.0x. The multi-query kernel
  // saves only a code vector's load and nibble split (scan_benchmark
  // BM_AccumulateListMulti at 25 pairs: AVX2 the one-query rate, AVX-512
  // 1.27x), and the group's sums leave the L2 cache before each query's
  // bounds read them, where Search reads them at once.
  if (p.exact || p.allowed != nullptr || prog_ != nullptr) return false;
  const ScanShape& s = codec_->shape();
  // L2 over residuals shares the query's tables only with n' in the codes.
  if (s.m8 != 0 || s.m4a == 0 ||
      (options_.metric == Metric::kL2 && options_.residual &&
       !codec_->combine_form().centered_norm)) {
    return false;
  }
  // A group of queries reads its tables (64 bytes a pair each) for every
  // list, the list's codes once (a pair: 1 byte a slot): the shared scan
  // pays when the lists hold many more slots than 64. Measured (tqdb
  // bench --batch 1000, renorm full layout, nlist 565): GloVe-100's lists
  // of about 180 codes 1.1-1.2x the one-query rate with AVX-512, use512's
  // lists of 35 codes 0.8-1.1x; flat scans 1.1-1.5x.
  size_t slots = 0;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const InvertedList& l : lists_) slots += l.nblocks() * kBlockSize;
  }
  return slots >= kMinMeanSlots * nlist_;
}

void IvfIndex::SearchChunk(const float* queries, size_t first, size_t count,
                           const SearchParams& p,
                           std::vector<std::vector<Neighbor>>* out,
                           std::vector<absl::Status>* st,
                           std::vector<SearchStats>* stats) const {
  const uint32_t d = options_.dim;
  const uint32_t nprobe =
      p.nprobe == 0 || p.nprobe > nlist_ ? nlist_ : p.nprobe;
  const ScanShape& shape = codec_->shape();
  // The coarse step and the tables, per query (as Search does them).
  std::vector<std::vector<float>> q(count);
  std::vector<std::vector<std::pair<float, uint32_t>>> order(count);
  std::vector<SearchStats> qstats(count);
  std::vector<ListScanner> scanners;
  scanners.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Prepare(queries + (first + i) * d, 1, &q[i]);
    NearestLists(q[i].data(), nprobe, p.probe_order, &order[i], &qstats[i]);
    scanners.push_back(NewScanner(p));
    scanners.back().SetQuery(q[i].data());
  }
  std::vector<TopK> heaps(count, TopK(KScan(p)));
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    // Each probe's sums, in query then probe order; the probes sorted by
    // list, so a list is read once for every group of queries probing it.
    std::vector<size_t> at(count + 1);
    std::vector<Probe> probes;
    probes.reserve(count * nprobe);
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
      at[i] = probes.size();
      for (const auto& [score, l] : order[i]) {
        probes.push_back({l, static_cast<uint32_t>(i), total});
        total += lists_[l].nblocks() * kBlockSize;
      }
    }
    at[count] = probes.size();
    // Uninitialized: the kernel writes every sum.
    std::unique_ptr<uint32_t[]> sums_a(new uint32_t[total]);
    std::unique_ptr<uint32_t[]> sums_b(shape.m4b ? new uint32_t[total]
                                                 : nullptr);
    std::vector<Probe> by_list = probes;
    std::stable_sort(
        by_list.begin(), by_list.end(),
        [](const Probe& a, const Probe& b) { return a.list < b.list; });
    // A list's probes run over it a tile of blocks at a time (codes read
    // from memory once, then from cache for each group of queries), a
    // group of up to kMaxMultiQueries per kernel call.
    const size_t pairs[2] = {shape.m4a / 2, shape.m4b / 2};
    const size_t block_bytes = (pairs[0] + pairs[1]) * kBlockSize;
    const size_t tile = std::max<size_t>(1, kTileBytes / block_bytes);
    const uint8_t* lo[scan::kMaxMultiQueries];
    const uint8_t* hi[scan::kMaxMultiQueries];
    uint32_t* dst[scan::kMaxMultiQueries];
    for (size_t g = 0; g < by_list.size();) {
      const uint32_t l = by_list[g].list;
      size_t end = g;
      while (end < by_list.size() && by_list[end].list == l) ++end;
      const InvertedList& list = lists_[l];
      const size_t nblocks = list.nblocks();
      for (size_t b0 = 0; b0 < nblocks; b0 += tile) {
        const size_t nb = std::min(tile, nblocks - b0);
        for (size_t first = g; first < end; first += scan::kMaxMultiQueries) {
          const size_t n = std::min(end - first, scan::kMaxMultiQueries);
          for (int stream = 0; stream < (shape.m4b ? 2 : 1); ++stream) {
            for (size_t j = 0; j < n; ++j) {
              const Probe& pr = by_list[first + j];
              const ListScanner& sc = scanners[pr.query];
              const QuantizedLut& lut = stream == 0 ? sc.lut_a() : sc.lut_b();
              lo[j] = lut.lo.data();
              hi[j] = lut.hi.data();
              dst[j] = (stream == 0 ? sums_a : sums_b).get() + pr.sums +
                       b0 * kBlockSize;
            }
            const uint8_t* codes =
                stream == 0 ? list.codes_a() : list.codes_b();
            scan::AccumulateListMulti(codes + b0 * pairs[stream] * kBlockSize,
                                      nb, pairs[stream], n, lo, hi, dst);
          }
        }
      }
      g = end;
    }
    // Each query combines its lists' sums in its probe order.
    // (Adaptive probing skips a list's combination, not its sums, which
    // were computed for the group; the results are Search's.)
    std::vector<float> reach;
    for (size_t i = 0; i < count; ++i) {
      ListScanner& sc = scanners[i];
      ProbeReach(q[i].data(), p, order[i], &reach);
      for (size_t j = at[i]; j < at[i + 1]; ++j) {
        if (p.cancelled && p.cancelled()) {
          (*st)[first + i] = CancelledSearch();
          break;
        }
        if (!reach.empty() && reach[j - at[i]] < sc.Threshold(heaps[i])) {
          ++qstats[i].lists_skipped;
          continue;
        }
        const auto& [score, l] = order[i][j - at[i]];
        sc.SetList(l, -score);
        sc.ScanSums(lists_[l], sums_a.get() + probes[j].sums,
                    shape.m4b ? sums_b.get() + probes[j].sums : nullptr,
                    &heaps[i], p.id_filter ? &p.id_filter : nullptr);
        qstats[i].codes_scanned += lists_[l].size();
      }
    }
  }
  for (size_t i = 0; i < count; ++i) {
    if (!(*st)[first + i].ok()) continue;
    qstats[i].lists_probed =
        static_cast<uint32_t>(order[i].size()) - qstats[i].lists_skipped;
    qstats[i].refined = scanners[i].refined();
    qstats[i].tables_built = scanners[i].tables_built();
    SearchParams pi = p;
    pi.stats = stats->empty() ? nullptr : &(*stats)[first + i];
    (*out)[first + i] = Finish(q[i].data(), pi, p.store, &heaps[i], &qstats[i]);
  }
}

absl::StatusOr<std::vector<std::vector<Neighbor>>> IvfIndex::SearchBatch(
    const float* queries, size_t nq, const SearchParams& p,
    ThreadPool* pool) const {
  std::vector<std::vector<Neighbor>> out(nq);
  std::vector<absl::Status> st(nq);
  // Each query its own stats, summed at the end.
  std::vector<SearchStats> stats(p.stats != nullptr ? nq : 0);
  if (nq > 0 && BatchScans(p)) {
    TQ_RETURN_IF_ERROR(CheckSearchParams(p)) << "query 0";
    for (size_t i = 0; i < nq; ++i) {
      TQ_RETURN_IF_ERROR(CheckVectors(queries + i * options_.dim, 1, "query"))
          << "query " << i;
    }
    // Chunks of about kChunkSums sums (an estimate: the lists' mean size
    // times nprobe a query), one a thread at least.
    size_t slots = 0;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (const InvertedList& l : lists_) slots += l.nblocks() * kBlockSize;
    }
    const uint32_t nprobe =
        p.nprobe == 0 || p.nprobe > nlist_ ? nlist_ : p.nprobe;
    const size_t streams = codec_->shape().m4b ? 2 : 1;
    const size_t per_query =
        std::max<size_t>(1, slots / nlist_ * nprobe * streams);
    // A multiple of the kernel's group size, so that flat scans (every
    // query probing every list) fill every group.
    constexpr size_t kGroup = scan::kMaxMultiQueries;
    size_t chunk = std::clamp<size_t>(kChunkSums / per_query / kGroup * kGroup,
                                      kGroup, kMaxChunk);
    const size_t threads = pool != nullptr ? pool->size() : 1;
    chunk = std::min(chunk, (nq + threads - 1) / threads);
    const size_t nchunks = (nq + chunk - 1) / chunk;
    auto run = [&](size_t c) {
      const size_t lo = c * chunk;
      SearchChunk(queries, lo, std::min(chunk, nq - lo), p, &out, &st, &stats);
    };
    if (pool != nullptr && nchunks > 1) {
      pool->ParallelFor(nchunks, run);
    } else {
      for (size_t c = 0; c < nchunks; ++c) run(c);
    }
  } else {
    auto one = [&](size_t i) {
      SearchParams pi = p;
      if (p.stats != nullptr) pi.stats = &stats[i];
      auto r = Search(queries + i * options_.dim, pi);
      if (r.ok()) {
        out[i] = std::move(*r);
      } else {
        st[i] = r.status();
      }
    };
    if (pool) {
      pool->ParallelFor(nq, one);
    } else {
      for (size_t i = 0; i < nq; ++i) one(i);
    }
  }
  for (size_t i = 0; i < nq; ++i) {
    TQ_RETURN_IF_ERROR(st[i]) << "query " << i;
  }
  if (p.stats != nullptr) *p.stats = SumStats(stats);
  return out;
}

}  // namespace tqdb
