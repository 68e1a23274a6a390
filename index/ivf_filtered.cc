// IvfIndex's filtered search: a search restricted to the points of an
// AllowedSet (SearchParams::allowed), filtered inside the scan, never after
// it. Two ways to visit the index (SearchParams::filtered_scan, chosen per
// query by the database's planner, db/planner.h):
//  - kProbe: lists in centroid order until nprobe lists holding allowed
//    points have been scanned and they held min_allowed allowed points
//    (lists without one count for nothing, lists where they are rarer than
//    in the collection for a part: the search probes nprobe lists of the
//    allowed points, as if they were a collection of their own).
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
#include <cmath>
#include <mutex>
#include <shared_mutex>

#include "index/ivf_index.h"
#include "index/scanner.h"
#include "quant/kernels.h"

namespace tqdb {
namespace {

// Cancellation is polled every this many lists of a kAllowedOnly scan (its
// lists are short visits of a few blocks each).
constexpr size_t kCancelPollLists = 64;

// Masks of the allowed, live slots of `list`; returns how many there are.
uint64_t BuildMasks(const InvertedList& list, const AllowedSet& allowed,
                    std::vector<uint32_t>* masks) {
  const uint32_t n = list.size();
  const uint32_t* iids = list.iids();
  const uint8_t* deleted = list.deleted();
  masks->assign(list.nblocks(), 0);
  uint64_t count = 0;
  for (uint32_t slot = 0; slot < n; ++slot) {
    if (!deleted[slot] && allowed.Contains(iids[slot])) {
      (*masks)[slot / kBlockSize] |= 1u << (slot % kBlockSize);
      ++count;
    }
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
  const uint32_t d = options_.dim;
  const uint32_t nprobe =
      p.nprobe == 0 || p.nprobe > nlist_ ? nlist_ : p.nprobe;
  std::vector<std::pair<float, uint32_t>> order(nlist_);
  for (uint32_t l = 0; l < nlist_; ++l) {
    order[l] = {-kernels::L2Sqr(q, &centroids_[size_t{l} * d], d), l};
  }
  // Sorted lazily: the nprobe nearest, then twice as many each time the
  // search needs more lists (most stop at nprobe).
  auto nearer = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t sorted = 0;
  ListScanner scanner = NewScanner(p);
  scanner.SetQuery(q);
  const std::function<bool(uint64_t)>* id_filter =
      p.id_filter ? &p.id_filter : nullptr;
  std::vector<uint32_t> masks;
  std::shared_lock<std::shared_mutex> lock(mu_);
  // Lists probed, each weighted by its share of allowed points against
  // the collection's (at most 1): a list where the filter's points are
  // rare counts for little. Near a query whose region the filter mostly
  // excludes (a correlated filter), its allowed neighbours lie further
  // out and the centroid order ranks their lists less well: the search
  // goes deeper there, and probes nprobe lists where matches are as
  // dense as anywhere.
  const double share = where_.empty()
                           ? 1.0
                           : static_cast<double>(p.allowed->count()) /
                                 static_cast<double>(where_.size());
  double scanned = 0;
  for (size_t i = 0; i < nlist_; ++i) {
    if (scanned >= nprobe && stats->allowed_seen >= p.min_allowed) break;
    if (i == sorted) {
      const size_t upto =
          std::min<size_t>(nlist_, std::max<size_t>(nprobe, 2 * sorted));
      std::partial_sort(order.begin() + sorted, order.begin() + upto,
                        order.end(), nearer);
      sorted = upto;
    }
    if (p.cancelled && p.cancelled()) return CancelledSearch();
    const uint32_t l = order[i].second;
    const InvertedList& list = lists_[l];
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
IvfIndex::AllowedSpread IvfIndex::Spread(const AllowedSet& allowed) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<uint64_t> first_block(size_t{nlist_} + 1, 0);
  for (uint32_t l = 0; l < nlist_; ++l) {
    first_block[l + 1] = first_block[l] + lists_[l].nblocks();
  }
  std::vector<uint64_t> seen((first_block[nlist_] + 63) / 64, 0);
  std::vector<uint8_t> list_seen(nlist_, 0);
  AllowedSpread s;
  allowed.ForEach([&](uint32_t iid) {
    if (iid >= loc_.size() || loc_[iid].list == kNoIid) return;
    const Location loc = loc_[iid];
    const uint64_t b = first_block[loc.list] + loc.slot / kBlockSize;
    const uint64_t bit = uint64_t{1} << (b & 63);
    if ((seen[b >> 6] & bit) == 0) {
      seen[b >> 6] |= bit;
      ++s.blocks;
    }
    if (!list_seen[loc.list]) {
      list_seen[loc.list] = 1;
      ++s.lists;
    }
  });
  return s;
}

}  // namespace tqdb
