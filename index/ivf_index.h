// IVF index over TurboQuant (or PQ) codes: the search engine of tqdb.
//
// Structure (split as FAISS does it, faiss/IndexIVF.h):
//  - a coarse quantizer: nlist k-means centroids (L2), trained on a sample;
//  - inverted lists held in memory in a SIMD-friendly blocked layout (blocks
//    of 32 vectors, 4-bit sub-codes interleaved per pair of sub-quantizers,
//    per-vector factors and ids in side arrays), see index/inverted_lists.h;
//  - a list scanner (SetQuery / SetList / Scan) that builds the per-query
//    lookup tables once and scans each probed list with a Highway kernel
//    dispatched once per list, see index/scanner.h.
// Every vector is encoded as its residual x - c (c its nearest centroid in
// L2), so anisotropic embeddings are centred before quantization; a query
// probes the nprobe lists with the nearest centroids.
//
// Scores: as Metric says (index/types.h, with SearchParams, Neighbor and
// ListStats); results are always ordered best first.
//
// Thread-safety: all const methods (Search, SearchBatch, stats) may run
// concurrently with each other and with Add/Remove/Compact: a reader-writer
// lock guards the lists, so a search never sees a half-written block.
// Writers are serialized.
//
// Errors: InvalidArgument (naming the value) for wrong dimensions, NaN/Inf
// input, k = 0, nprobe > nlist, untrained use; no exception escapes. The
// entry points for input its caller validated already (SearchValidated,
// Encode: the database's path, db/query.h) check nothing again.
#ifndef TQDB_INDEX_IVF_INDEX_H_
#define TQDB_INDEX_IVF_INDEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/allowed_set.h"
#include "index/inverted_lists.h"
#include "index/progressive.h"
#include "index/refine_codes.h"
#include "index/scan_codec.h"
#include "index/thread_pool.h"
#include "index/types.h"
#include "quant/kmeans.h"

namespace tqdb {

// How the lists hold codes in memory; not persisted (the database and
// FromTrained choose it when an index is loaded).
struct LayoutOptions {
  // The progressive layout and two-pass scan (index/progressive.h) when
  // the codec supports it (mse, renorm, pca with at least twice the
  // prefix's bits); false: the codec's full layout.
  bool progressive = true;
  // Bits per dimension of the progressive scan's first pass; 0: by the
  // dimension and the code's bits (DefaultPrefixBits: one bit from 320
  // dimensions, two from 104, three from 31, one less where the code
  // cannot hold twice that, and the full layout rather than a one-bit
  // first pass below 320 dimensions). Below 256 dimensions one bit errs
  // too much (on GloVe-100 it leaves 6-25% of the candidates to read in
  // full and is 1.4-5x slower than the full layout); two or three leave
  // 0.3-6% (GloVe, SIFT) and are 1.1-4x faster than a full layout of
  // byte sub-codes (pca and renorm at 5-6 bits; README, "A wider first
  // pass").
  float prefix_bits = 0.0f;
  // Whether the progressive layout holds a code's first-pass bits once: the
  // refine row then keeps only the bits below each chunk's prefix, and a
  // refinement gathers the rest from the first pass's block
  // (index/progressive.h). By default where the first pass loses nothing
  // by it (mse, renorm): use512 renorm 4 bits 276 instead of 340 bytes a
  // vector in memory at 0.96-0.99x the queries a second (IVF 565 lists,
  // nprobe 48). kAlways also for pca, whose prefix is then allotted more
  // coarsely: use512 pca 4 bits 292 instead of 356 bytes at 0.89-0.93x,
  // GloVe-100 pca 6 bits 99 instead of 149 at 0.90-0.94x (README, "A
  // shared prefix").
  PrefixSharing prefix_sharing = PrefixSharing::kWhereExact;
  // Codecs whose full layout is a 4-bit FastScan throughout (mse and
  // renorm up to 4 bits a coordinate) take the progressive layout only
  // from this many times the first pass's bits a coordinate: with half of
  // the code in the first pass the full scan is faster (renorm 2 bits on
  // use512, IVF with 20k and 1M vectors, codes only and rescoring,
  // 1.1-1.9x, README "The default layout"; renorm 4 bits against a 2-bit
  // first pass on GloVe-100 and SIFT, 1.2-1.5x). 0: whenever the codec
  // allows.
  float fastscan_prefix_ratio = 3.0f;
  // In-memory rescoring codes (index/refine_codes.h): with kInt8 or
  // kFloat32 a rescore (SearchParams::rescore) reads them instead of the
  // store's raw vectors; every vector added must then come with its raw
  // vector (Add, or AddEncoded's raw).
  RefineKind refine = RefineKind::kNone;
  // The coarse step (the nprobe nearest centroids) first scores every
  // centroid on int8 codes (index/refine_codes.h: d + 8 bytes a centroid,
  // a quarter of the float centroids' memory traffic) with a bound on each
  // estimate's error, then computes exact distances only for the centroids
  // whose bound can reach the nprobe-th best: the lists probed, and their
  // order, are those of the exact step. Training then puts each centroid on
  // the grid of its int8 code (c = s c8 exactly, each coordinate moved by at
  // most s / 2, 0.4% of its largest), so that the code holds the centroid
  // itself: the bound has no centroid term and an exact distance reads the
  // d-byte code, not 4d bytes of floats. false: every centroid exactly.
  bool quantized_coarse = true;
};

struct IvfOptions {
  uint32_t dim = 0;
  Metric metric = Metric::kCosine;
  // Number of lists; 0 = round(4 * sqrt(n)) of the training set, at most
  // n / 39 (FAISS's minimum of 39 points per centroid), at least 1.
  uint32_t nlist = 0;
  // How vectors are coded (see index/scan_codec.h): TurboQuant mse, prod or
  // renorm at 1..8 bits per coordinate, or PQ at equal bytes.
  CodecOptions codec;
  // Encode x - c (true) or x itself (false, for the ablation).
  bool residual = true;
  // For ip and cosine, TurboQuant renorm keeps one 4-byte factor per vector
  // instead of two (CodecOptions::single_factor); false for the ablation.
  bool compact_factors = true;
  // Over residuals, mse, renorm and pca store the centroid correction
  // (CodecOptions::center_factor: 4 bytes a vector, 2 for pca, whose index
  // bits stay at renorm's bytes) and, for L2, ||r||^2 + 2 <c, r>
  // (CodecOptions::centered_norm: tables built once a query, not once a
  // probed list; 4 bytes more for mse, none for renorm and pca); false for
  // the ablation.
  bool center_factors = true;
  LayoutOptions layout;
  // k-means of the coarse quantizer.
  uint32_t kmeans_iters = 20;
  uint32_t max_points_per_centroid = 256;
  uint64_t seed = 1234;
  // Threads for training and batch adds (0 = all cores).
  uint32_t threads = 0;
  // Optional: polled during the coarse k-means (KMeansOptions::cancelled);
  // when it returns true, Train stops with Cancelled. Not kept by the
  // trained index (nor serialized).
  std::function<bool()> cancelled;
};

class ListScanner;  // index/scanner.h
class TopK;

// Cancelled, for a search whose SearchParams::cancelled returned true.
absl::Status CancelledSearch();
// Candidates a search keeps before rescoring: k, or k * oversampling.
size_t KScan(const SearchParams& p);

class IvfIndex {
 public:
  // Trains the coarse quantizer (and PQ codebooks) on the n rows of x and
  // returns an empty index. InvalidArgument for bad options or data.
  static absl::StatusOr<std::unique_ptr<IvfIndex>> Train(
      const IvfOptions& options, const float* x, size_t n);
  // Restores an empty index from SerializeTrained() bytes, with the given
  // in-memory layout.
  static absl::StatusOr<std::unique_ptr<IvfIndex>> FromTrained(
      absl::string_view bytes, const LayoutOptions& layout = {});
  // Options, centroids and codec parameters (rotation, codebooks, PQ
  // centroids): everything needed to interpret stored codes.
  std::string SerializeTrained() const;

  const IvfOptions& options() const { return options_; }
  uint32_t dim() const { return options_.dim; }
  uint32_t nlist() const { return nlist_; }
  // Persisted code bytes per vector (codes + per-vector factors, ids
  // excluded).
  size_t bytes_per_vector() const { return codec_->code_bytes(); }
  const ScanCodec& codec() const { return *codec_; }
  // The progressive layout the lists hold, or null (the codec's layout).
  const ProgressiveLayout* progressive() const { return prog_.get(); }
  // Bytes one vector's code takes in the lists (codes and factors of the
  // in-memory layout, ids excluded).
  size_t memory_bytes_per_code() const;
  // Bytes of one vector's in-memory rescoring code (0 without).
  size_t refine_bytes_per_vector() const { return refine_.code_bytes(); }
  const std::vector<float>& centroids() const { return centroids_; }

  // Adds (or replaces: upsert) n vectors with the given 64-bit ids. All or
  // nothing: a bad row rejects the batch with a message naming the row.
  absl::Status Add(const uint64_t* ids, const float* x, size_t n);
  // Encoded form of Add for callers that persist codes (db/): assigns and
  // encodes without inserting. list_ids[n], codes[n * bytes_per_vector()].
  // The rows must be finite: the caller checked them (Add does; the
  // database checks points on upsert), they are not scanned again.
  absl::Status Encode(const float* x, size_t n, uint32_t* list_ids,
                      uint8_t* codes) const;
  // Inserts already-encoded vectors (e.g. read back from storage); replaces
  // existing ids. iids (optional, n entries): the points' internal ids, dense
  // and unique among the points of the index (db/ assigns them), which a
  // filtered search tests (SearchParams::allowed); without them the points
  // are never allowed. raw (n x dim, optional): the vectors, required
  // when the index keeps rescoring codes (LayoutOptions::refine).
  absl::Status AddEncoded(const uint64_t* ids, const uint32_t* list_ids,
                          const uint8_t* codes, size_t n,
                          const uint32_t* iids = nullptr,
                          const float* raw = nullptr);
  // Removes ids (tombstones); unknown ids are ignored. Returns how many
  // were removed. Lists whose tombstones exceed a quarter of their slots
  // are compacted.
  size_t Remove(const uint64_t* ids, size_t n);
  bool Contains(uint64_t id) const;
  size_t size() const;
  ListStats stats() const;
  // Bytes held in memory: the lists (codes, factors, ids, flags), the id
  // map, the centroids (with their int8 codes and, for the progressive
  // layout's centroid correction, their weights).
  size_t MemoryBytes() const;
  // Memory one more vector adds (MemoryBytes() grows by about this much a
  // vector, amortized): its code, rescoring code, id, flag and id-map entry.
  size_t MemoryBytesPerVector() const;
  // Bytes of memory a search (or a batch: stats summed) read, from what its
  // stats counted and the layout's sizes: the coarse step (the int8 codes
  // of the centroids scored on them, 4 * dim bytes a centroid scored
  // exactly), the
  // codes the scan ran over (the prefix and the two factors of the
  // progressive layout, memory_bytes_per_code() in full), the rows the
  // progressive scan refined, a rescored candidate's in-memory code
  // (4 * dim bytes a raw vector without), the codec's state each table
  // build read (ScanCodec::query_bytes: pca's projection, a rotation,
  // codebooks; the progressive layout's table levels) and the centroid weights
  // of each probed list (the progressive first pass's bound). Ids and heaps are
  // left out.
  double BytesRead(const SearchStats& s) const;

  // Checks the query (finite coordinates) and p (k >= 1, nprobe <= nlist,
  // oversampling >= 1 and a store when exact or rescoring), then searches.
  absl::StatusOr<std::vector<Neighbor>> Search(const float* query,
                                               const SearchParams& p) const;
  // Search for a caller that validated the query already (the database,
  // db/query.h): finite coordinates, k >= 1, oversampling >= 1 when
  // rescoring, `store` non-null when exact or rescoring. Nothing is checked
  // again; nprobe 0 or above nlist probes every list. `store` is used
  // instead of p.store.
  absl::StatusOr<std::vector<Neighbor>> SearchValidated(
      const float* query, const SearchParams& p,
      const VectorStore* store) const;
  // Where the allowed points sit (the planner's cost of scoring just them,
  // FilteredScan::kAllowedOnly, and of the lists the IVF plan meets): lists
  // and 32-slot blocks holding at least one. O(allowed points) at most:
  // `go_on`, if set, sees the counts each time one grows, and counting
  // stops when it returns false (then `complete` is false and the counts
  // are those seen so far): a caller weighing them against another cost
  // need not visit every point once the answer is certain.
  struct AllowedSpread {
    uint32_t lists = 0;
    uint64_t blocks = 0;
    bool complete = true;
    double Cost(double list_weight) const {
      return static_cast<double>(blocks) + list_weight * lists;
    }
  };
  AllowedSpread Spread(
      const AllowedSet& allowed,
      const std::function<bool(const AllowedSpread&)>& go_on = nullptr) const;

  // nq queries over `pool` (nullptr = the calling thread only), each with
  // the results and stats (summed into p.stats) Search gives it; an error
  // names the first query that failed. Implementation (index/ivf_batch.cc):
  // queries are taken in chunks (one per pool thread at least); for a
  // chunk the coarse step runs per query, then every list probed is read
  // once per group of up to scan::kMaxMultiQueries queries that probe it
  // (the multi-query FastScan kernel), and each query combines its sums
  // list by list in its own probe order, as Search does: the same
  // candidates, heap and rescoring, so the same results. This shared scan
  // covers unfiltered searches (p.id_filter allowed) over the full layout
  // of codecs without 8-bit sub-codes (TurboQuant up to 4 bits a
  // coordinate, 4-bit PQ) for ip, cosine and L2 (over residuals when the
  // codes keep n', CodecOptions::centered_norm); the rest (p.allowed,
  // p.exact, the progressive layout, 8-bit sub-codes, L2 over residuals
  // coded without n', whose tables belong to a list), and indexes whose lists
  // hold fewer than 128 slots on average (a group's tables would outweigh
  // the codes it shares), run Search per query.
  absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(
      const float* queries, size_t nq, const SearchParams& p,
      ThreadPool* pool) const;
  // Whether SearchBatch runs the shared scan for p on this index (else
  // Search per query).
  bool BatchScans(const SearchParams& p) const;

 private:
  IvfIndex() = default;
  absl::Status CheckVectors(const float* x, size_t n,
                            absl::string_view what) const;
  // Search's checks of p (k, nprobe, store, oversampling).
  absl::Status CheckSearchParams(const SearchParams& p) const;
  // SearchBatch's shared scan (index/ivf_batch.cc) of the validated queries
  // [first, first + count): results, statuses and (when p.stats) stats of
  // each, at its index.
  void SearchChunk(const float* queries, size_t first, size_t count,
                   const SearchParams& p,
                   std::vector<std::vector<Neighbor>>* out,
                   std::vector<absl::Status>* st,
                   std::vector<SearchStats>* stats) const;
  // Copies and normalizes (cosine) rows into out.
  void Prepare(const float* x, size_t n, std::vector<float>* out) const;
  // Writes the centroid terms (CodecOptions::center_factor, centered_norm)
  // into n codes of the given residuals; a no-op for codecs without them.
  void SetCenterFactors(const float* residuals, const uint32_t* list_ids,
                        size_t n, uint8_t* codes) const;
  void InsertLocked(uint64_t id, uint32_t iid, uint32_t list,
                    const uint8_t* code, const float* refine);
  // Sets prog_ (if options_.layout asks and the codec allows) and creates
  // the empty lists in the matching layout.
  void InitLists();
  bool RemoveLocked(uint64_t id);
  // The nprobe (< nlist, >= 1) lists ranked first by `how` for the
  // prepared query q (nearest centroid in L2, or best expected score),
  // first first, with minus the squared distance to their centroid
  // (index/ivf_coarse.cc); counts the exact distances in
  // stats->centroids_exact.
  void NearestLists(const float* q, uint32_t nprobe, ProbeOrder how,
                    std::vector<std::pair<float, uint32_t>>* order,
                    SearchStats* stats) const;
  // ||q - c||^2 for centroid l (kernels::L2Sqr's bits): from its int8 code
  // where the code is the centroid, else from the floats.
  float ExactCentroidDistance(const float* q, uint32_t l) const;
  // The centroid's bytes that ExactCentroidDistance reads.
  const void* ExactCentroidBytes(uint32_t l, size_t* bytes) const;
  // ProbeOrder::kBestExpected's statistics from n prepared training
  // vectors (index/ivf_probe.cc): list_spread_ and spread_dims_, for the ip
  // and cosine metrics with nlist > 1 (else left empty).
  void TrainProbeStats(const float* x, size_t n, uint32_t threads);
  // SearchParams::probe_sigmas: per list of `order` (NearestLists' output
  // for the prepared query q) the score its best expected member reaches,
  // <q, c_l> + probe_sigmas sigma_l ||q||; left empty where the rule does
  // not apply (off, L2, no statistics).
  void ProbeReach(const float* q, const SearchParams& p,
                  const std::vector<std::pair<float, uint32_t>>& order,
                  std::vector<float>* reach) const;
  // Sets probe_kappa_ from the mean live list size. REQUIRES: mu_ held
  // exclusively, or the index not yet shared.
  void UpdateProbeKappa();
  void SetLocation(uint32_t iid, uint32_t list, uint32_t slot);
  // SearchValidated with p.allowed (index/ivf_filtered.cc).
  absl::StatusOr<std::vector<Neighbor>> SearchFiltered(
      const std::vector<float>& q, const SearchParams& p,
      const VectorStore* store) const;
  // The best k_scan candidates of the allowed points among the lists of
  // `order` (centroid order), visited until p's stopping rule holds.
  // Every allowed point into the heap unscored (a rescore follows).
  void CandidatesAllowed(const SearchParams& p, TopK* heap,
                         SearchStats* stats) const;
  absl::Status ScanProbed(const float* q, const SearchParams& p, TopK* heap,
                          SearchStats* stats) const;
  absl::Status ScanAllowedOnly(const float* q, const SearchParams& p,
                               TopK* heap, SearchStats* stats) const;
  // A scanner over the lists in their layout (progressive or full), with
  // p's refine_sigmas; the caller sets the query.
  ListScanner NewScanner(const SearchParams& p) const;
  // The candidates of a scan rescored (p.rescore) or cut to k; stats
  // (rescored added) copied to p.stats.
  std::vector<Neighbor> Finish(const float* q, const SearchParams& p,
                               const VectorStore* store, TopK* heap,
                               SearchStats* stats) const;
  // The best k of cand scored on the in-memory rescoring codes (takes the
  // reader lock); counts them in stats->rescored.
  std::vector<std::pair<float, uint64_t>> RescoreInMemory(
      const float* q, size_t k,
      const std::vector<std::pair<float, uint64_t>>& cand,
      SearchStats* stats) const;
  absl::StatusOr<std::vector<Neighbor>> SearchExact(
      const float* query, const SearchParams& p,
      const VectorStore& store) const;
  // Exact goodness (inner product, or minus the squared distance) of the
  // prepared query q and a raw stored vector v (normalized in place for
  // cosine).
  float ExactGoodness(const float* q, float* v) const;

  IvfOptions options_;
  uint32_t nlist_ = 0;
  std::vector<float> centroids_;       // nlist x dim
  std::vector<float> centroid_norms_;  // squared, for the scanner
  // The codec's weights of each centroid, for the progressive layout's
  // pass-1 centroid correction (ProgressiveLayout::center1_factor); empty
  // without it.
  CentroidWeights centroid_weights_;
  // LayoutOptions::quantized_coarse: int8 codes of the centroids (empty
  // when off), and per centroid, contiguous for the coarse step's bound
  // loop (the codes' own headers lie a code apart): the code's scale s,
  // ||c - c^|| and ||c^|| of the decoded c^; and whether c^ is c, bit for
  // bit (a centroid trained on the grid, LayoutOptions::quantized_coarse;
  // centroids of an index trained before are not): the exact step then
  // reads the code (ExactCentroidDistance), with the same result.
  RefineCodec coarse_codec_;
  std::vector<float> coarse_codes_;
  std::vector<float> coarse_scale_, coarse_err_norm_, coarse_code_norm_;
  std::vector<uint8_t> centroid_on_code_;
  // ProbeOrder::kBestExpected (empty or 0 without): per list the mean
  // ||x - c||^2 of the training vectors nearest c, and the residuals'
  // effective dimension (sum lambda)^2 / sum lambda^2 of their covariance;
  // persisted with the centroids (format version 2). probe_sigma_[l] = 2
  // sqrt(list_spread_[l] / spread_dims_), and probe_kappa_ = sqrt(2 ln n)
  // for the mean live list size n: ranking adds -(||c_l||^2 + kappa
  // sigma_l) to ||q - c_l||^2, which makes the rank -2 (<q, c_l> + beta_l)
  // up to a constant (types.h). probe_kappa_ is written under mu_ as the
  // index grows and read without it (relaxed: a ranking that sees an older
  // size is still a valid ranking).
  std::vector<float> list_spread_;
  float spread_dims_ = 0;
  std::vector<float> probe_sigma_;
  std::atomic<float> probe_kappa_{0.0f};
  std::unique_ptr<CentroidAssigner> assigner_;
  std::unique_ptr<ScanCodec> codec_;
  std::unique_ptr<ProgressiveLayout> prog_;  // null: the codec's layout
  RefineCodec refine_;                       // kNone: rescore from a store

  mutable std::shared_mutex mu_;
  std::vector<InvertedList> lists_;
  struct Location {
    uint32_t list;
    uint32_t slot;
  };
  absl::flat_hash_map<uint64_t, Location> where_;
  // By internal id: where the point is (list kNoIid when absent).
  std::vector<Location> loc_;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_IVF_INDEX_H_
