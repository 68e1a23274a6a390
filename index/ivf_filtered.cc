// IvfIndex's filtered search: a search restricted to the points of an
// AllowedSet (SearchParams::allowed), filtered inside the scan, never after
// it. Two ways to visit the index (SearchParams::filtered_scan, chosen per
// query by the database's planner, db/planner.h):
//  - kProbe: lists in centroid order until nprobe / sqrt(share) lists
//    holding allowed points have been scanned (lists without one count for
//    nothing, lists where they are rarer than in the collection for a
//    part) and they held sqrt(share) times the points of the query's
//    nprobe nearest lists (at least min_allowed): the allowed points
//    searched as a collection of their own, sized by the index's own rule
//    (ScanProbed).
//    Each list's slots are tested against the set (one bit lookup each)
//    into per-block masks; blocks without an allowed slot are skipped
//    before the kernel runs, lists without one are not scanned at all.
//  - kAllowedOnly: no coarse step: the allowed points are located through
//    the internal-id -> (list, slot) array, grouped by list, and only their
//    blocks are scanned, so the work is proportional to the allowed points,
//    not to the collection.
// Either way every candidate pushed is allowed, so the search returns k
// results whenever the lists visited hold k allowed points.
#include <algorithm>
#include <bitset>
#include <cmath>
#include <mutex>
#include <shared_mutex>

#include "index/ivf_index.h"
#include "index/prefetch.h"
#include "index/scanner.h"
#include "quant/kernels.h"

namespace tqdb {
namespace {

// Cancellation is polled every this many lists of a kAllowedOnly scan (its
// lists are short visits of a few blocks each).
constexpr size_t kCancelPollLists = 64;

// Masks of the allowed, live slots of `list`; returns how many there are.
// Without a branch on the data: at selectivities near 50% a test per slot
// mispredicted every other slot, which cost more than the scan kernel.
uint64_t BuildMasks(const InvertedList& list, const AllowedSet& allowed,
                    std::vector<uint32_t>* masks) {
  const uint32_t n = list.size();
  const uint32_t* iids = list.iids();
  const uint8_t* deleted = list.deleted();
  masks->resize(list.nblocks());
  uint64_t count = 0;
  const bool tombstones = list.tombstones() > 0;
  for (uint32_t b = 0; b < list.nblocks(); ++b) {
    const uint32_t end = std::min<uint32_t>(n, (b + 1) * kBlockSize);
    uint32_t m = 0;
    for (uint32_t slot = b * kBlockSize; slot < end; ++slot) {
      m |= allowed.Bit(iids[slot]) << (slot % kBlockSize);
    }
    if (tombstones) {
      for (uint32_t slot = b * kBlockSize; slot < end; ++slot) {
        m &=
            ~(static_cast<uint32_t>(deleted[slot] != 0) << (slot % kBlockSize));
      }
    }
    (*masks)[b] = m;
    count += static_cast<uint64_t>(std::bitset<32>(m).count());
  }
  return count;
}

uint64_t NonZero(const std::vector<uint32_t>& masks) {
  return static_cast<uint64_t>(masks.size() -
                               std::count(masks.begin(), masks.end(), 0u));
}

}  // namespace

absl::StatusOr<std::vector<Neighbor>> IvfIndex::SearchFiltered(
    const std::vector<float>& q, const SearchParams& p,
    const VectorStore* store) const {
  TopK heap(KScan(p));
  SearchStats stats;
  if (p.filtered_scan == FilteredScan::kAllowedOnly && p.rescore &&
      (store != nullptr || refine_.enabled()) &&
      p.allowed->count() <= KScan(p)) {
    // Every allowed point is a candidate the rescore reads anyway: their
    // codes need not be scored first (nor the query rotated for them).
    CandidatesAllowed(p, &heap, &stats);
  } else if (!p.allowed->empty()) {
    absl::Status s = p.filtered_scan == FilteredScan::kAllowedOnly
                         ? ScanAllowedOnly(q.data(), p, &heap, &stats)
                         : ScanProbed(q.data(), p, &heap, &stats);
    if (!s.ok()) return s;
  }
  return Finish(q.data(), p, store, &heap, &stats);
}

void IvfIndex::CandidatesAllowed(const SearchParams& p, TopK* heap,
                                 SearchStats* stats) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  p.allowed->ForEach([&](uint32_t iid) {
    if (iid >= loc_.size() || loc_[iid].list == kNoIid) return;
    const InvertedList& list = lists_[loc_[iid].list];
    const uint32_t slot = loc_[iid].slot;
    if (list.IsDeleted(slot)) return;
    const uint64_t id = list.ids()[slot];
    if (p.id_filter && !p.id_filter(id)) return;
    ++stats->allowed_seen;
    heap->Push(0.0f, id);
  });
}

absl::Status IvfIndex::ScanProbed(const float* q, const SearchParams& p,
                                  TopK* heap, SearchStats* stats) const {
  const uint32_t nprobe =
      p.nprobe == 0 || p.nprobe > nlist_ ? nlist_ : p.nprobe;
  ListScanner scanner = NewScanner(p);
  ScopedScanBuffers buffers(&scanner);
  scanner.SetQuery(q);
  const std::function<bool(uint64_t)>* id_filter =
      p.id_filter ? &p.id_filter : nullptr;
  std::vector<uint32_t> masks;
  std::shared_lock<std::shared_mutex> lock(mu_);
  // The share of the points the filter allows.
  const double share =
      where_.empty() ? 1.0
                     : std::min(1.0, static_cast<double>(p.allowed->count()) /
                                         static_cast<double>(where_.size()));
  // The lists in centroid order through the coarse step of the unfiltered
  // search (quantized, exact where it matters): first about as many as
  // the stopping rule below takes when the allowed points are spread
  // evenly, with half as many again (lists where they are rarer count for
  // less than one; a few more exact centroid distances cost less than a
  // second coarse step), then twice as many each time the search needs
  // more: the first m of the nearest 2m are the nearest m, so each call
  // extends the order it replaces.
  const double lists_target = nprobe / std::sqrt(std::max(share, 1e-9));
  uint32_t want = static_cast<uint32_t>(
      std::min<double>(nlist_, std::ceil(1.5 * lists_target)));
  std::vector<std::pair<float, uint32_t>> order;
  NearestLists(q, want, p.probe_order, &order, stats);
  // Stopping rule: the allowed points searched as a collection of their
  // own, indexed by the rule that sizes an index (lists growing as the
  // square root of the points, IvfOptions::nlist): share * n points would
  // have sqrt(share) times the lists, each of sqrt(share) times the
  // points, and a search of it at nprobe would examine sqrt(share) times
  // the points the unfiltered search examines here, in lists that hold
  // the allowed points of 1 / sqrt(share) of ours. So the search goes on
  //  - until it has seen sqrt(share) times the points of this query's own
  //    nprobe nearest lists (lists differ in size: near a dense region
  //    they are larger), at least min_allowed;
  //  - and nprobe / sqrt(share) lists, each counted by its allowed points
  //    against a list at the collection's share, at most one: a list
  //    without one counts for nothing, and where allowed points are
  //    denser than on average (a correlated filter near the query) a list
  //    still counts once, as dense points do not bring the neighbours
  //    nearer than the unfiltered search's.
  // The neighbours of a filtered search lie further out (the top 10 of a
  // 1% filter among the collection's top 1,000), which the deeper probe
  // pays for: measured (README, "Filtered search"), uniform and
  // correlated filters keep the unfiltered search's recall or more, where
  // nprobe lists alone lose up to 0.18 and nprobe lists' worth of allowed
  // points (1 / share times the lists) gains 0.01-0.16 for 2-20 times
  // the lists.
  uint64_t examined = 0;
  for (uint32_t i = 0; i < nprobe && i < order.size(); ++i) {
    examined += lists_[order[i].second].live();
  }
  const uint64_t min_allowed = std::max<uint64_t>(
      p.min_allowed, static_cast<uint64_t>(std::ceil(
                         std::sqrt(share) * static_cast<double>(examined))));
  double scanned = 0;
  for (size_t i = 0; i < nlist_; ++i) {
    if (scanned >= lists_target && stats->allowed_seen >= min_allowed) break;
    if (i == order.size()) {
      NearestLists(q, std::min<uint32_t>(nlist_, 2 * want), p.probe_order,
                   &order, stats);
      want = static_cast<uint32_t>(order.size());
    }
    if (p.cancelled && p.cancelled()) return CancelledSearch();
    const uint32_t l = order[i].second;
    const InvertedList& list = lists_[l];
    if (i + 1 < order.size()) {
      // The next list's ids are tested next; its codes come after.
      const InvertedList& next = lists_[order[i + 1].second];
      PrefetchBytes(next.iids(), next.size() * sizeof(uint32_t));
    }
    ++stats->lists_probed;
    const uint64_t here = BuildMasks(list, *p.allowed, &masks);
    if (here == 0) continue;
    scanned += std::min(1.0, static_cast<double>(here) /
                                 (share * std::max<uint32_t>(1, list.live())));
    stats->allowed_seen += here;
    const uint64_t blocks = NonZero(masks);
    stats->blocks_scanned += blocks;
    stats->codes_scanned += blocks * kBlockSize;
    scanner.SetList(l, -order[i].first);
    scanner.Scan(list, heap, id_filter, masks.data());
  }
  // The progressive layout's second pass (a no-op for the full layout).
  scanner.Finish(heap);
  stats->refined += scanner.refined();
  stats->tables_built += scanner.tables_built();
  return absl::OkStatus();
}

absl::Status IvfIndex::ScanAllowedOnly(const float* q, const SearchParams& p,
                                       TopK* heap, SearchStats* stats) const {
  ListScanner scanner = NewScanner(p);
  ScopedScanBuffers buffers(&scanner);
  scanner.SetQuery(q);
  const std::function<bool(uint64_t)>* id_filter =
      p.id_filter ? &p.id_filter : nullptr;
  std::shared_lock<std::shared_mutex> lock(mu_);
  // The slots of the allowed points grouped by list (a counting sort:
  // O(allowed + nlist)).
  std::vector<uint32_t> start(size_t{nlist_} + 1, 0);
  p.allowed->ForEach([&](uint32_t iid) {
    if (iid < loc_.size() && loc_[iid].list != kNoIid) {
      ++start[loc_[iid].list + 1];
    }
  });
  for (uint32_t l = 0; l < nlist_; ++l) start[l + 1] += start[l];
  std::vector<uint32_t> slots(start[nlist_]);
  {
    std::vector<uint32_t> at(start.begin(), start.end() - 1);
    p.allowed->ForEach([&](uint32_t iid) {
      if (iid < loc_.size() && loc_[iid].list != kNoIid) {
        slots[at[loc_[iid].list]++] = loc_[iid].slot;
      }
    });
  }
  std::vector<uint32_t> masks;
  size_t lists = 0;
  for (uint32_t l = 0; l < nlist_; ++l) {
    if (start[l] == start[l + 1]) continue;
    if (++lists % kCancelPollLists == 0 && p.cancelled && p.cancelled()) {
      return CancelledSearch();
    }
    const InvertedList& list = lists_[l];
    masks.assign(list.nblocks(), 0);
    for (uint32_t i = start[l]; i < start[l + 1]; ++i) {
      const uint32_t slot = slots[i];
      if (list.IsDeleted(slot)) continue;
      masks[slot / kBlockSize] |= 1u << (slot % kBlockSize);
      ++stats->allowed_seen;
    }
    ++stats->lists_probed;
    const uint64_t blocks = NonZero(masks);
    stats->blocks_scanned += blocks;
    stats->codes_scanned += blocks * kBlockSize;
    scanner.SetList(l);
    scanner.Scan(list, heap, id_filter, masks.data());
  }
  scanner.Finish(heap);
  stats->refined += scanner.refined();
  stats->tables_built += scanner.tables_built();
  return absl::OkStatus();
}

// O(allowed + nlist + blocks / 64): a bit per block of the index.
IvfIndex::AllowedSpread IvfIndex::Spread(
    const AllowedSet& allowed,
    const std::function<bool(const AllowedSpread&)>& go_on) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<uint64_t> first_block(size_t{nlist_} + 1, 0);
  for (uint32_t l = 0; l < nlist_; ++l) {
    first_block[l + 1] = first_block[l] + lists_[l].nblocks();
  }
  std::vector<uint64_t> seen((first_block[nlist_] + 63) / 64, 0);
  std::vector<uint8_t> list_seen(nlist_, 0);
  AllowedSpread s;
  s.complete = allowed.ForEachWhile([&](uint32_t iid) {
    if (iid >= loc_.size() || loc_[iid].list == kNoIid) return true;
    const Location loc = loc_[iid];
    const uint64_t b = first_block[loc.list] + loc.slot / kBlockSize;
    const uint64_t bit = uint64_t{1} << (b & 63);
    const bool new_block = (seen[b >> 6] & bit) == 0;
    const bool new_list = !list_seen[loc.list];
    if (!new_block && !new_list) return true;
    seen[b >> 6] |= bit;
    list_seen[loc.list] = 1;
    s.blocks += new_block;
    s.lists += new_list;
    return !go_on || go_on(s);
  });
  return s;
}

}  // namespace tqdb
