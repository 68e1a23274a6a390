// ListScanner: scans inverted lists for one query (the seam of
// faiss::InvertedListScanner). SetQuery builds the per-query state once
// (rotated query and lookup tables, quantized to uint8 with one affine
// scale per stream), SetList sets the per-list terms (and, for L2 over
// residuals coded without n' = ||r||^2 + 2 <c, r>, the list's tables of
// q - c), Scan runs the FastScan kernel over the list
// (dispatched once per list) and pushes live, filter-passing candidates into
// a bounded heap. A filtered search passes per-block masks of the slots it
// may return (index/allowed_set.h): blocks with an empty mask are skipped
// before the kernel runs, and only the slots of a mask are candidates. With
// a ProgressiveLayout (index/progressive.h) the lists hold that layout and
// Scan runs its two passes: the kernel over the prefix sub-codes, then
// RefineDot for the candidates whose bound reaches the heap's threshold
// (the same masks restrict both).
//
// Not thread-safe: use one scanner per thread. Lists must not change during
// Scan (IvfIndex holds its reader lock).
#ifndef TQDB_INDEX_SCANNER_H_
#define TQDB_INDEX_SCANNER_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "index/inverted_lists.h"
#include "index/progressive.h"
#include "index/scan_codec.h"
#include "index/scan_kernels.h"
#include "index/types.h"

namespace tqdb {

// Keeps the k largest (goodness, id) pairs.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }
  size_t k() const { return k_; }
  bool full() const { return heap_.size() >= k_; }
  // Smallest goodness kept (valid when full()).
  float threshold() const { return heap_.front().first; }
  void Push(float goodness, uint64_t id);
  // Empty, for the k largest (keeps the memory).
  void Reset(size_t k) {
    k_ = k;
    heap_.clear();
  }
  // What it holds, unordered (nothing taken).
  const std::vector<std::pair<float, uint64_t>>& entries() const {
    return heap_;
  }
  // Best first; empties the heap.
  std::vector<std::pair<float, uint64_t>> TakeSorted();

 private:
  size_t k_;
  std::vector<std::pair<float, uint64_t>> heap_;  // min-heap on goodness
};

// The k-th largest of the values pushed (a min-heap of k floats): the
// progressive scan's k-th lower bound, which needs the value alone. A push
// that displaces the smallest sifts once from the root.
class KthLargest {
 public:
  explicit KthLargest(size_t k = 0) : k_(k) { heap_.reserve(k); }
  // Empty, for the k largest (keeps the memory).
  void Reset(size_t k) {
    k_ = k;
    heap_.clear();
  }
  size_t k() const { return k_; }
  bool full() const { return heap_.size() >= k_; }
  // Valid when full().
  float threshold() const { return heap_.front(); }
  void Push(float v) {
    if (heap_.size() < k_) {
      heap_.push_back(v);
      std::push_heap(heap_.begin(), heap_.end(), std::greater<float>());
      return;
    }
    if (!(v > heap_.front())) return;
    const size_t n = heap_.size();
    size_t i = 0;
    for (size_t c = 1; c < n; c = 2 * i + 1) {
      if (c + 1 < n && heap_[c + 1] < heap_[c]) ++c;
      if (!(heap_[c] < v)) break;
      heap_[i] = heap_[c];
      i = c;
    }
    heap_[i] = v;
  }

 private:
  size_t k_;
  std::vector<float> heap_;
};

// uint8 tables of one 4-bit stream in the kernel's layout, with the affine
// map back to floats: value = scale * sum + bias.
// min_scale: the coarsest step allowed below it (stream C's tables must
// fit in uint16 at a step of at most this one's, QuantizedByteLut).
struct QuantizedLut {
  std::vector<uint8_t> lo, hi;  // npairs * 32 each
  float scale = 1.0f;
  float bias = 0.0f;
  void Build(const std::vector<float>& lut, uint32_t m, float min_scale = 0);
};

// uint16 tables of stream C (m8 LUTs of 256 floats, sub-code j's first
// 2^bits[j] in use) in the layout of scan::AccumulateBytes, value = scale *
// sum + bias. The scan adds their sums onto stream A's shifted left by
// `shift`, so their step is A's over 2^shift: as fine as uint16 tables and
// uint32 sums allow (up to 2^-16 of A's), which keeps the rounding of the
// 5-8 bit coordinates, the heaviest, far below that of the 4-bit ones.
struct QuantizedByteLut {
  std::vector<uint8_t> lut;   // m / 2 * scan::kByteLutPairBytes
  std::vector<uint8_t> ntab;  // per pair of sub-codes
  uint32_t m = 0;             // m8 rounded up to even
  uint32_t shift = 0;
  float scale = 1.0f;
  float bias = 0.0f;
  // The widest table's span (max - min over its entries in use).
  static float Span(const std::vector<float>& lut,
                    const std::vector<uint8_t>& bits);
  void Build(const std::vector<float>& lut, const std::vector<uint8_t>& bits,
             float step);
};

class ListScanner {
 public:
  // `l2`: squared-distance scoring (metric L2); otherwise inner product.
  // `residual`: codes are of x - centroid. centroids: nlist x dim.
  // `progressive`: the lists' layout, or null (the codec's full layout).
  ListScanner(const ScanCodec& codec, bool l2, bool residual,
              const float* centroids, uint32_t dim,
              const ProgressiveLayout* progressive = nullptr);
  // Progressive scan: standard deviations of the first pass's error the
  // bound allows (SearchParams::refine_sigmas); <= 0 refines every
  // candidate.
  void set_refine_sigmas(float s) { sigmas_ = s; }
  // Candidates refined so far (progressive scan).
  uint64_t refined() const { return refined_; }
  // Query tables built since construction (SearchStats::tables_built).
  uint64_t tables_built() const { return tables_built_; }

  void SetQuery(const float* query);
  void SetList(uint32_t list_no);
  // The same, with ||query - centroid||^2 as the coarse step computed it:
  // for inner products the list's term <q, c> follows from it and the
  // centroid's squared norm (set_centroid_norms) without reading c again.
  void SetList(uint32_t list_no, float dist_sq);
  // Squared norms of the centroids (nlist floats, kept by the caller).
  void set_centroid_norms(const float* norm_sq) { centroid_norm_sq_ = norm_sq; }
  // The codec's weights of the centroids (kept by the caller): with a
  // progressive layout holding pass 1's centroid correction
  // (ProgressiveLayout::center1_factor), each list's bound then comes from
  // w(q) - alpha w(c).
  void set_centroid_weights(const CentroidWeights* w) { centroid_w_ = w; }
  // Goodness is the estimated inner product, or minus the estimated squared
  // distance for L2. block_masks (optional, list.nblocks() entries): bit v
  // of block b set = slot 32 b + v may be returned; the caller clears the
  // bits of tombstones and of slots past the end. Without masks every live
  // slot is a candidate.
  void Scan(const InvertedList& list, TopK* heap,
            const std::function<bool(uint64_t)>* filter,
            const uint32_t* block_masks = nullptr);
  // Whether Scan is the FastScan kernel's sums over streams A and B of
  // tables that do not depend on the list, then their combination: the
  // full layout without 8-bit sub-codes, except L2 over residuals with
  // tables of q - c (a codec without CombineForm::centered_norm). Then a
  // caller may compute the sums itself (scan::AccumulateListMulti, with
  // lut_a() and lut_b() of the query) and call ScanSums.
  bool ScansSums() const;
  const QuantizedLut& lut_a() const { return buf_.qa; }
  const QuantizedLut& lut_b() const { return buf_.qb; }
  // Scan (no block masks) given the kernel's sums of the list: acc_a, and
  // acc_b when the codec has stream B (list.nblocks() * 32 entries each).
  // REQUIRES: ScansSums().
  void ScanSums(const InvertedList& list, const uint32_t* acc_a,
                const uint32_t* acc_b, TopK* heap,
                const std::function<bool(uint64_t)>* filter);
  // Progressive scan: Scan runs the first pass and keeps the candidates
  // whose upper bound can still reach the k-th score; Finish reads them in
  // full, best bound first, until the next bound cannot beat the heap's k-th
  // (so the threshold rises as fast as it can and few are read). Call it
  // after the last Scan of a query, with the lists unchanged since. A no-op
  // for the full layout, and for L2 over residuals with tables of q - c,
  // which belong to one list: there Scan refines each list's candidates
  // itself.
  void Finish(TopK* heap);
  // What a candidate's upper bound must exceed: the k-th refined score or
  // (progressive scan) the k-th first-pass lower bound, whichever is
  // higher; -inf before k candidates. At the bound's confidence the
  // query's final k-th score is at least this.
  float Threshold(const TopK& heap) const;
  // Starts loading what a progressive Scan of `list` (number list_no)
  // reads first and the hardware prefetcher cannot guess: the first-pass
  // codes (their first kPrefetchCodeBytes), the factors its bound reads
  // (of the blocks in kPrefetchBytes) and the code of the centroid's
  // weights SetList reads. Call it for the next list while this one is
  // scanned: a probed list is small (a few blocks),
  // so its first lines would otherwise miss one after the other (GloVe-100
  // `pca` 4 and 6 bits, nprobe 104: the first-pass kernel's cycles -35 to
  // -47%, queries 1.05-1.08x; use512 `pca` 2 and 4 bits, nprobe 48, where
  // lists are two blocks: 0.97-1.01x). A no-op for the full layout (not
  // measured there).
  void Prefetch(uint32_t list_no, const InvertedList& list) const;
  static constexpr size_t kPrefetchBytes = 8192;
  static constexpr size_t kPrefetchCodeBytes = 2048;

  // The memory a scanner fills anew for each query (the query, its tables,
  // the kernel's sums, the candidates). A caller that scans query after
  // query on a thread keeps one and swaps it in and out of each query's
  // scanner, so that the scanner allocates nothing once the sizes are
  // reached (it made a dozen allocations a query, and its candidate list
  // grew by doubling). Nothing is read from it before it is written.
  struct Buffers;
  // Exchanges the scanner's buffers with *b (a scanner made afresh holds
  // empty ones).
  void SwapBuffers(Buffers* b);

 private:
  void BuildTables(const float* u);
  // center_w_ of the list, given ip = <q, c> (and list_w_err_).
  void SetCenterWeight(uint32_t list_no, float ip);
  // The full layout: scores a block at a time from the stream sums acc_a
  // (stream C added in) and acc_b.
  void ScanBlocks(const InvertedList& list, const uint32_t* acc_a,
                  const uint32_t* acc_b, TopK* heap,
                  const std::function<bool(uint64_t)>* filter,
                  const uint32_t* block_masks);
  void ScanProgressive(const InvertedList& list, TopK* heap,
                       const std::function<bool(uint64_t)>* filter,
                       const uint32_t* block_masks);
  // A list of kLongListBlocks blocks or more (a flat index, large lists)
  // with a bound. Scanned in order against the k-th as it stands, such a
  // list sends several times the candidates that are ever refined to the
  // pending set while the heap fills (GloVe-100 flat `pca` 4 bits: 5,000 a
  // query for 710 refined). So when the heap is not yet full, SeedHeap
  // first reads in full the k largest upper bounds of the kSeedBlocks
  // blocks with the largest first-pass sums (scan::BlockMaxima): the heap
  // then holds k true scores close to the final ones (2.4% of a flat GloVe
  // query's codes have an upper bound above them, where the replaced scan
  // let 10.6% through its first pass). The list's upper bounds (not its
  // lower ones, which the seeded k-th makes moot) are then formed
  // kRangeBlocks blocks a call (scan::UpperBounds) and their candidates
  // go to the pending set. Against the scan this replaced (pass 1 kept every
  // bound and a pilot of the largest lower bounds, refined at doubling
  // stages), in one process: GloVe-100 flat `pca` 4 bits on AVX2 1.09-1.13x
  // (800 candidates a query instead of 1,100, 0.25% refined instead of
  // 0.28%), nlist 100 1.08x, nlist 200 1.02x; use512 flat 1.01-1.06x.
  // Pass 1's parameters for the current list and the factor columns its
  // bound reads (the codec's factor g1, the norm for L2, and delta1, the
  // centroid correction; -1 when absent).
  struct PassOne {
    scan::BoundParams bounds;
    uint32_t g1 = 0;
    int32_t norm = -1, center1 = -1;
  };
  PassOne PassOneFor() const;
  // Where pass 1's factor columns are in the list's blocked arrays.
  scan::BoundColumns BoundColumnsOf(const InvertedList& list,
                                    const PassOne& po) const;
  // scan::BoundMask on block blk of the list (sums in buf_.acc_a).
  scan::BoundBits BlockBounds(const scan::BoundColumns& bc, uint32_t blk,
                              const scan::BoundParams& bounds, float threshold,
                              float lb_threshold, float* ub, float* lb) const {
    const scan::BoundBlock in = scan::BlockOf(bc, blk);
    return scan::BoundMask(buf_.acc_a.data() + size_t{blk} * kBlockSize, in.g1,
                           in.g2, in.norm, in.center, bounds, threshold,
                           lb_threshold, ub, lb);
  }
  void SeedHeap(const InvertedList& list, TopK* heap,
                const std::function<bool(uint64_t)>* filter,
                const uint32_t* block_masks, const scan::BoundColumns& bc,
                const PassOne& po, uint32_t list_index);
  void ScanLongList(const InvertedList& list, TopK* heap,
                    const std::function<bool(uint64_t)>* filter,
                    const uint32_t* block_masks, const scan::BoundColumns& bc,
                    const PassOne& po, uint32_t list_index);
  static constexpr uint32_t kLongListBlocks = 16;
  static constexpr uint32_t kSeedBlocks = 16;
  static constexpr uint32_t kSampleStride = 8;
  static constexpr uint32_t kRangeBlocks = 32;
  // The slots of block blk (of a list of n slots) a scan may return: the
  // caller's mask when there is one (allowed, live slots; a block it left
  // empty was not accumulated and its sums are stale), else the block's
  // filled slots without tombstones.
  static uint32_t LiveSlots(const InvertedList& list,
                            const uint32_t* block_masks, uint32_t blk,
                            uint32_t n);
  // cand without the slots (of the block at `first`) the filter rejects.
  static uint32_t Allowed(const InvertedList& list, uint32_t first,
                          uint32_t cand,
                          const std::function<bool(uint64_t)>* filter);

  const ScanCodec& codec_;
  const ProgressiveLayout* const prog_;
  float sigmas_ = SearchParams().refine_sigmas;
  uint64_t refined_ = 0;
  uint64_t tables_built_ = 0;
  // First-pass survivors awaiting Finish: 12 bytes, which the selections
  // and cuts of RefineRound move about; the score's additive term is formed
  // when a candidate is refined (most never are), from its list's entry.
  struct Candidate {
    float ub;
    uint32_t slot;
    uint32_t list;  // index in Buffers::lists
  };
  // Appends a pending candidate field by field: a braced Candidate was
  // assembled on the stack and read back as 8 bytes over two 4-byte
  // stores, a failed store forward (16% of ScanProgressive's samples on
  // use512, 17% of ScanLongList's in a flat GloVe scan).
  void AddPending(float ub, uint32_t slot, uint32_t list) {
    Candidate& c = buf_.pending.emplace_back();
    c.ub = ub;
    c.slot = slot;
    c.list = list;
  }
  // A list scanned in this query, with its per-list terms (base_ and
  // center_w_ as they were when it was scanned).
  struct ScannedList {
    const InvertedList* list;
    float base, center_w;
  };

 public:
  struct Buffers {
    std::vector<float> query, u;
    ProgressiveQuery pq;
    // ErrorWeights of the query's weights.
    std::vector<float> error_w;
    // The k largest first-pass lower bounds seen in this query: their k-th
    // is (at the bound's confidence) below the final k-th score, so it
    // rules candidates out before any is refined.
    KthLargest lower;
    std::vector<Candidate> pending;
    std::vector<ScannedList> lists;  // of the pending candidates
    std::vector<uint8_t> prefix;     // a refined candidate's pass-1 bytes
    QueryLuts luts;
    QuantizedLut qa, qb;
    QuantizedByteLut qc;
    std::vector<uint32_t> acc_a, acc_b;
    // ScanLongList's upper bounds of a list and the slots SeedHeap sent
    // to the pending set (a mask a block); SeedHeap's block maxima, its
    // blocks (maximum << 32 | ~block; the first `seeds` best first) and
    // its pilot (upper bound, slot).
    std::vector<float> ub_all;
    std::vector<uint32_t> seeded, block_max;
    std::vector<uint64_t> seed_blocks;
    TopK pilot{0};
  };

 private:
  Buffers buf_;
  size_t pending_cap_ = 512;  // size at which buf_.pending is cut again
  void CutPending(float cut);
  bool RefineRound(TopK* heap, bool last);
  // A pending set grown to pending_cap_: cut at the k-th lower bound, a
  // refine round, and the next cap.
  void CutAndRefine(TopK* heap);
  // The additive term of c's score (its list's base, with the centroid
  // correction and for L2 the norm): goodness = offset + gain * estimate.
  // cf: codec_.combine_form(), which the caller holds.
  float CandidateOffset(const Candidate& c, const CombineForm& cf) const;
  // L2 over residuals: the query's tables with n' = ||r||^2 + 2 <c, r>
  // (CombineForm::centered_norm), or tables of q - c built for each list.
  bool PerListTables() const { return l2_ && residual_ && !shared_l2_; }
  const bool l2_, residual_, shared_l2_;
  const float* centroids_;
  const float* centroid_norm_sq_ = nullptr;
  const CentroidWeights* centroid_w_ = nullptr;
  // Pass 1's W for the current list (ProgressiveQuery::w_err, or that of
  // w(q) - alpha w(c) with centroid_w_).
  float list_w_err_ = 0;
  float error_w_norm_ = 0;  // ||buf_.error_w||
  const uint32_t dim_;
  float query_norm_sq_ = 0;
  float base_ = 0;  // per-list additive term
  // Residuals with a centroid correction factor (CombineForm::center_factor,
  // else -1; inner products, and L2 with the query's tables): its number,
  // and the list's weight on it, <q, c> / ||c||^2.
  int32_t center_ = -1;
  float center_w_ = 0;
  std::vector<uint8_t> c_bits_;  // codec_.sub8_bits(j), full layout
  // Stream A's (with C's, when both) sums to floats: scale * acc + bias.
  float a_scale_ = 1.0f, a_bias_ = 0.0f;
};

// Lends this thread's ListScanner::Buffers to `scanner` for the scope:
// consecutive queries on a thread then reuse one set of buffers. Nested
// scopes on a thread work (the inner one gets empty buffers back). A thread
// keeps what its largest query needed (a query's peak, as before, now
// held: for a flat index of n codes about 4 n bytes of sums, and as much
// again of ScanLongList's upper bounds).
class ScopedScanBuffers {
 public:
  explicit ScopedScanBuffers(ListScanner* scanner) : scanner_(scanner) {
    scanner_->SwapBuffers(&ThreadBuffers());
  }
  ~ScopedScanBuffers() { scanner_->SwapBuffers(&ThreadBuffers()); }
  ScopedScanBuffers(const ScopedScanBuffers&) = delete;
  ScopedScanBuffers& operator=(const ScopedScanBuffers&) = delete;

 private:
  static ListScanner::Buffers& ThreadBuffers() {
    thread_local ListScanner::Buffers buffers;
    return buffers;
  }
  ListScanner* const scanner_;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_SCANNER_H_
