// ListScanner's progressive scan (index/scanner.h): pass 1's bounds over
// a list's prefix codes, the pending candidates, and their refinement.
#include <algorithm>
#include <limits>

#include "index/prefetch.h"
#include "index/scan_kernels.h"
#include "index/scanner.h"

namespace tqdb {

namespace {

constexpr float kNone = -std::numeric_limits<float>::infinity();

}  // namespace

ListScanner::PassOne ListScanner::PassOneFor() const {
  const bool bound = sigmas_ > 0;
  const CombineForm cf = codec_.combine_form();
  PassOne po;
  scan::BoundParams& bp = po.bounds;
  bp.lut_scale = buf_.qa.scale;
  bp.lut_bias = buf_.qa.bias;
  bp.lut_allow = bound ? sigmas_ * buf_.pq.lut_err : 0.0f;
  bp.w_err = bound ? sigmas_ * list_w_err_ : 0.0f;
  bp.base = base_;
  bp.gain = l2_ ? 2.0f : 1.0f;
  bp.l2 = l2_;
  bp.norm_squared = cf.norm_is_squared;
  bp.center = center_w_;
  po.g1 = prog_->codec_factors();
  if (l2_ && prog_->codec_factors() > cf.norm_factor) {
    po.norm = static_cast<int32_t>(cf.norm_factor);
  }
  // Pass 1's centroid correction, delta1: the layout has it whenever the
  // codec has a delta (without centroid weights, a residual-free index,
  // it is the codec's delta, rounded).
  po.center1 = center_ < 0 ? -1 : prog_->center1_factor();
  return po;
}

float ListScanner::Threshold(const TopK& heap) const {
  float t = heap.full() ? heap.threshold() : kNone;
  // (The lower bounds are sized at a query's first progressive scan: until
  // then, and in the full layout, there are none.)
  if (buf_.lower.k() > 0 && buf_.lower.full()) {
    t = std::max(t, buf_.lower.threshold());
  }
  return t;
}

uint32_t ListScanner::Allowed(const InvertedList& list, uint32_t first,
                              uint32_t cand,
                              const std::function<bool(uint64_t)>* filter) {
  if (cand == 0 || filter == nullptr || !*filter) return cand;
  const uint64_t* ids = list.ids();
  for (uint32_t rest = cand; rest != 0; rest &= rest - 1) {
    const uint32_t v = static_cast<uint32_t>(__builtin_ctz(rest));
    if (!(*filter)(ids[first + v])) cand &= ~(1u << v);
  }
  return cand;
}

void ListScanner::ScanProgressive(const InvertedList& list, TopK* heap,
                                  const std::function<bool(uint64_t)>* filter,
                                  const uint32_t* block_masks) {
  const uint32_t n = list.size();
  const size_t nblocks = list.nblocks();
  const ScanShape& s = prog_->shape();
  buf_.acc_a.resize(nblocks * kBlockSize);
  scan::AccumulateList(list.codes_a(), nblocks, s.m4a / 2, buf_.qa.lo.data(),
                       buf_.qa.hi.data(), buf_.acc_a.data(), block_masks);
  const bool bound = sigmas_ > 0;
  if (buf_.lower.k() != heap->k()) buf_.lower.Reset(heap->k());
  const PassOne po = PassOneFor();
  const uint32_t list_index = static_cast<uint32_t>(buf_.lists.size());
  buf_.lists.push_back({&list, base_, center_w_});
  const scan::BoundColumns bc = BoundColumnsOf(list, po);
  if (bound && nblocks >= kLongListBlocks) {
    ScanLongList(list, heap, filter, block_masks, bc, po, list_index);
  } else {
    float ub[kBlockSize], lb[kBlockSize];
    for (uint32_t blk = 0; blk < nblocks; ++blk) {
      const uint32_t first = blk * kBlockSize;
      const uint32_t live = LiveSlots(list, block_masks, blk, n);
      if (live == 0) continue;
      // Without a bound (refine_sigmas <= 0) every candidate is kept: ub and
      // lb are the first-pass estimate, which only orders the refinement.
      const scan::BoundBits bits = BlockBounds(
          bc, blk, po.bounds, bound ? Threshold(*heap) : kNone,
          buf_.lower.full() ? buf_.lower.threshold() : kNone, ub, lb);
      uint32_t cand =
          Allowed(list, first, bound ? live & bits.ub_above : live, filter);
      if (cand == 0) continue;
      // Lower bounds of the candidates a search may return (a candidate
      // whose upper bound is out has its lower bound out too).
      if (bound) {
        for (uint32_t rest = cand & bits.lb_above; rest != 0;
             rest &= rest - 1) {
          buf_.lower.Push(lb[__builtin_ctz(rest)]);
        }
      }
      // (Neither the heap nor the lower bounds change in this loop.)
      const float t = bound ? Threshold(*heap) : kNone;
      for (; cand != 0; cand &= cand - 1) {
        const uint32_t v = static_cast<uint32_t>(__builtin_ctz(cand));
        if (bound && ub[v] <= t) continue;
        AddPending(ub[v], first + v, list_index);
      }
      // Long scans: now and then read the best few in full, so that the
      // k-th score, not only the k-th lower bound, cuts the pending set.
      if (bound && buf_.pending.size() >= pending_cap_) CutAndRefine(heap);
    }
  }
  // Per-list tables: the query-side vector, and so the refine weights,
  // belong to this list; refine its candidates now.
  if (PerListTables()) Finish(heap);
}

void ListScanner::CutAndRefine(TopK* heap) {
  if (buf_.lower.full()) CutPending(buf_.lower.threshold());
  RefineRound(heap, false);
  pending_cap_ = std::max<size_t>(512, 2 * buf_.pending.size());
}

scan::BoundColumns ListScanner::BoundColumnsOf(const InvertedList& list,
                                               const PassOne& po) const {
  scan::BoundColumns bc;
  bc.factors = list.factors();
  bc.nfactors = prog_->shape().nfactors;
  bc.factors16 = list.BlockFactors16(0, 0);
  bc.nfactors16 = prog_->shape().nfactors16;
  bc.g1 = po.g1;
  bc.g2 = 0;
  bc.norm = po.norm;
  bc.center = po.center1;
  return bc;
}

void ListScanner::SeedHeap(const InvertedList& list, TopK* heap,
                           const std::function<bool(uint64_t)>* filter,
                           const uint32_t* block_masks,
                           const scan::BoundColumns& bc, const PassOne& po,
                           uint32_t list_index) {
  const uint32_t n = list.size();
  const uint32_t nblocks = list.nblocks();
  const size_t k = heap->k();
  // The blocks holding the largest first-pass sums, best first (ties: the
  // lower block). The seeds-th largest maximum of every kSampleStride-th
  // block is at most the list's, so only the blocks at or above it are
  // ranked (a few times seeds of them).
  const uint32_t seeds = std::min<uint32_t>(
      nblocks, std::max<uint32_t>(kSeedBlocks,
                                  static_cast<uint32_t>(4 * k / kBlockSize)));
  buf_.block_max.resize(nblocks);
  scan::BlockMaxima(buf_.acc_a.data(), nblocks, buf_.block_max.data());
  std::vector<uint64_t>& best = buf_.seed_blocks;
  best.clear();
  uint32_t floor_max = 0;
  if (nblocks / kSampleStride >= seeds) {
    for (uint32_t blk = 0; blk < nblocks; blk += kSampleStride) {
      best.push_back(buf_.block_max[blk]);
    }
    std::nth_element(best.begin(), best.begin() + (seeds - 1), best.end(),
                     std::greater<uint64_t>());
    floor_max = static_cast<uint32_t>(best[seeds - 1]);
    best.clear();
  }
  for (uint32_t blk = 0; blk < nblocks; ++blk) {
    if (buf_.block_max[blk] >= floor_max) {
      best.push_back(uint64_t{buf_.block_max[blk]} << 32 |
                     (~blk & 0xFFFFFFFFu));
    }
  }
  const size_t top = std::min<size_t>(seeds, best.size());
  std::partial_sort(best.begin(), best.begin() + top, best.end(),
                    std::greater<uint64_t>());
  best.resize(top);
  // Their k largest upper bounds are read in full: the heap holds k true
  // scores before the rest of the list is bounded.
  TopK& pilot = buf_.pilot;
  pilot.Reset(k);
  for (const uint64_t key : best) {
    const uint32_t blk = ~static_cast<uint32_t>(key);
    const uint32_t first = blk * kBlockSize;
    const uint32_t live = LiveSlots(list, block_masks, blk, n);
    if (live == 0) continue;
    uint32_t above = 0;
    scan::UpperBounds(buf_.acc_a.data(), bc, blk, 1, po.bounds, kNone,
                      buf_.ub_all.data(), &above);
    for (uint32_t rest = Allowed(list, first, live & above, filter); rest != 0;
         rest &= rest - 1) {
      const uint32_t slot = first + static_cast<uint32_t>(__builtin_ctz(rest));
      const float ub = buf_.ub_all[slot];
      if (pilot.full() && !(ub > pilot.threshold())) continue;
      pilot.Push(ub, slot);
    }
  }
  for (const auto& [ub, slot64] : pilot.entries()) {
    const uint32_t slot = static_cast<uint32_t>(slot64);
    buf_.seeded[slot / kBlockSize] |= 1u << (slot % kBlockSize);
    AddPending(ub, slot, list_index);
  }
  pilot.Reset(0);
  if (!buf_.pending.empty()) RefineRound(heap, false);
}

void ListScanner::ScanLongList(const InvertedList& list, TopK* heap,
                               const std::function<bool(uint64_t)>* filter,
                               const uint32_t* block_masks,
                               const scan::BoundColumns& bc, const PassOne& po,
                               uint32_t list_index) {
  const uint32_t n = list.size();
  const uint32_t nblocks = list.nblocks();
  buf_.ub_all.resize(size_t{nblocks} * kBlockSize);
  buf_.seeded.assign(nblocks, 0);
  if (!heap->full()) {
    SeedHeap(list, heap, filter, block_masks, bc, po, list_index);
  }
  // The upper bounds a run of blocks at a time against the k-th as it
  // stands (refinements raise it), their candidates to the pending set
  // while the run's bounds are still in cache.
  uint32_t above[kRangeBlocks];
  for (uint32_t first_blk = 0; first_blk < nblocks; first_blk += kRangeBlocks) {
    const uint32_t count = std::min(kRangeBlocks, nblocks - first_blk);
    scan::UpperBounds(buf_.acc_a.data(), bc, first_blk, count, po.bounds,
                      Threshold(*heap), buf_.ub_all.data(), above);
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t blk = first_blk + i;
      uint32_t cand = above[i] & ~buf_.seeded[blk];
      if (cand == 0) continue;
      const uint32_t first = blk * kBlockSize;
      cand = Allowed(list, first, cand & LiveSlots(list, block_masks, blk, n),
                     filter);
      const float t = Threshold(*heap);
      for (; cand != 0; cand &= cand - 1) {
        const uint32_t slot =
            first + static_cast<uint32_t>(__builtin_ctz(cand));
        if (buf_.ub_all[slot] <= t) continue;
        AddPending(buf_.ub_all[slot], slot, list_index);
      }
      if (buf_.pending.size() >= pending_cap_) CutAndRefine(heap);
    }
  }
}

float ListScanner::CandidateOffset(const Candidate& c,
                                   const CombineForm& cf) const {
  const ScannedList& sl = buf_.lists[c.list];
  const InvertedList& list = *sl.list;
  if (l2_) {
    float norm_sq = 0.0f;
    if (prog_->codec_factors() > cf.norm_factor) {
      const float x = list.FactorAt(c.slot, cf.norm_factor);
      norm_sq = cf.norm_is_squared ? x : x * x;
    }
    float offset = -(sl.base + norm_sq);
    if (center_ >= 0) {
      offset += 2.0f * (sl.center_w * list.FactorAt(c.slot, center_));
    }
    return offset;
  }
  if (center_ >= 0) {
    return sl.base + sl.center_w * list.FactorAt(c.slot, center_);
  }
  return sl.base;
}

bool ListScanner::RefineRound(TopK* heap, bool last) {
  // The best few upper bounds (a selection, then a sort) are read in full,
  // which sets the heap's k-th score; what it rules out is dropped. Once a
  // bound cannot beat the k-th, none after it can: true, nothing left.
  const bool bound = sigmas_ > 0;
  const CombineForm cf = codec_.combine_form();
  const bool scaled2 = cf.kind == CombineForm::kScaled2;
  const float gain = l2_ ? 2.0f : 1.0f;
  const size_t row_bytes = prog_->shape().m8;
  const bool shared = prog_->shares_prefix();
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.ub > b.ub || (a.ub == b.ub && a.slot < b.slot);
  };
  // The last rounds take at least a quarter of the set each: their
  // selections then cost O(n log n) in all, however little a cut removes
  // (reading stops at the first bound below the k-th anyway).
  const size_t m =
      std::min(buf_.pending.size(),
               std::max<size_t>(
                   {32, 2 * heap->k(), last ? buf_.pending.size() / 4 : 0}));
  if (m < buf_.pending.size()) {
    std::nth_element(buf_.pending.begin(), buf_.pending.begin() + m,
                     buf_.pending.end(), better);
  }
  std::sort(buf_.pending.begin(), buf_.pending.begin() + m, better);
  // The rows are cold (pass 1 read only the prefixes, and other lists came
  // since): load a few candidates ahead, so refinements do not wait on
  // misses one after the other.
  constexpr size_t kAhead = 8;
  auto prefetch_row = [&](size_t i) {
    const Candidate& c = buf_.pending[i];
    const InvertedList* list = buf_.lists[c.list].list;
    PrefetchBytes(list->codes_c() + size_t{c.slot} * row_bytes, row_bytes);
    // Its factors (the scale, and the centroid correction the offset
    // reads) and its id: columns pass 1 did not touch.
    const uint32_t blk = c.slot / kBlockSize, at = c.slot % kBlockSize;
    PrefetchBytes(list->BlockFactors(blk, 0) + at, sizeof(float));
    if (center_ >= 0) {
      PrefetchBytes(
          list->BlockFactors(blk, static_cast<uint32_t>(center_)) + at,
          sizeof(float));
    }
    PrefetchBytes(list->ids() + c.slot, sizeof(uint64_t));
  };
  for (size_t i = 0; i < std::min(m, kAhead); ++i) prefetch_row(i);
  for (size_t i = 0; i < m; ++i) {
    if (i + kAhead < m) prefetch_row(i + kAhead);
    const Candidate& c = buf_.pending[i];
    if (bound && heap->full() && c.ub <= heap->threshold()) {
      buf_.pending.clear();
      return true;
    }
    ++refined_;
    const InvertedList& list = *buf_.lists[c.list].list;
    float scale = list.FactorAt(c.slot, 0);
    if (scaled2) scale *= list.FactorAt(c.slot, 1);
    if (shared) list.StreamABytes(c.slot, buf_.prefix.data());
    const float est =
        scale * prog_->Refine(buf_.prefix.data(),
                              list.codes_c() + size_t{c.slot} * row_bytes,
                              buf_.pq);
    const float goodness = CandidateOffset(c, cf) + gain * est;
    if (heap->full() && goodness <= heap->threshold()) continue;
    heap->Push(goodness, list.ids()[c.slot]);
  }
  buf_.pending.erase(buf_.pending.begin(), buf_.pending.begin() + m);
  if (bound && heap->full()) CutPending(heap->threshold());
  return buf_.pending.empty();
}

void ListScanner::Finish(TopK* heap) {
  if (prog_ == nullptr || buf_.pending.empty()) return;
  if (sigmas_ > 0 && buf_.lower.full()) CutPending(buf_.lower.threshold());
  while (!RefineRound(heap, true)) {
  }
  buf_.pending.clear();
  buf_.lists.clear();
}

void ListScanner::CutPending(float cut) {
  buf_.pending.erase(
      std::remove_if(buf_.pending.begin(), buf_.pending.end(),
                     [&](const Candidate& c) { return c.ub <= cut; }),
      buf_.pending.end());
}

}  // namespace tqdb
