// The vocabulary of a search, shared by the index and every layer above it
// (as FAISS's faiss/MetricType.h and SearchParameters): the metric, a
// result, list statistics, the raw-vector source for exact scoring, and the
// parameters of one search. No behaviour beside the metric's names; the
// index's types (IvfIndex, IvfOptions) are in index/ivf_index.h.
#ifndef TQDB_INDEX_TYPES_H_
#define TQDB_INDEX_TYPES_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tqdb {

// Scores: for kInnerProduct and kCosine the (estimated) inner product,
// larger is better (kCosine normalizes vectors and queries); for kL2 the
// squared Euclidean distance, smaller is better.
enum class Metric : uint32_t { kInnerProduct = 0, kCosine = 1, kL2 = 2 };
const char* MetricName(Metric m);  // "ip", "cosine", "l2"
// Also accepts "dot", "angular", "euclidean". InvalidArgument otherwise.
absl::StatusOr<Metric> ParseMetric(absl::string_view name);

// Whether the progressive layout (index/progressive.h) holds a code's
// first-pass bits once (a shared prefix: the refine row keeps only the
// rest) or twice (the row holds the whole code). Once saves memory (use512
// `pca` 4 bits: 292 instead of 356 bytes a point) at 0-11% of the search
// speed, measured.
enum class PrefixSharing : uint32_t {
  // Shared where allotting the prefix a chunk at a time gives every
  // coordinate the bits the coordinate-wise allotment does (codes of one
  // width and even importance, as mse and renorm), so the first pass
  // loses nothing and the refinements cost only the gathers; else twice.
  kWhereExact = 0,
  kAlways = 1,
  kNever = 2,
};
const char* PrefixSharingName(PrefixSharing s);  // "auto", "always", "never"
absl::StatusOr<PrefixSharing> ParsePrefixSharing(absl::string_view name);

// Whether the pca codec codes its residuals weighted as queries like the
// data see them (CodecOptions::pca_weighting, index/pca_params.h): kAuto
// trains both codes and keeps the weighting where the index's own sample
// ranks better with it (index/codec_choice.h).
enum class PcaWeighting : uint8_t { kAuto = 0, kOff = 1, kOn = 2 };
const char* PcaWeightingName(PcaWeighting w);  // "auto", "off", "on"
absl::StatusOr<PcaWeighting> ParsePcaWeighting(absl::string_view name);

class AllowedSet;  // index/allowed_set.h

// Internal id of a point added without one (IvfIndex::Add): never allowed.
constexpr uint32_t kNoIid = std::numeric_limits<uint32_t>::max();

// How a search restricted to an AllowedSet visits the index (the database's
// planner chooses, db/planner.h).
enum class FilteredScan : uint32_t {
  // Lists in centroid order until nprobe / sqrt(s) lists holding allowed
  // points were scanned, s the share of points allowed (lists without one
  // are skipped and not counted; one where they are rarer than in the
  // whole collection counts in proportion) and they held sqrt(s) times the
  // points of the query's nprobe nearest lists, and at least min_allowed
  // (or every list is probed).
  kProbe = 0,
  // Every allowed point: the blocks holding one, in whatever list; no
  // coarse step, nprobe ignored.
  kAllowedOnly = 1,
};

struct Neighbor {
  uint64_t id;
  float score;
};

struct ListStats {
  uint32_t nlist = 0;
  uint64_t live = 0;        // vectors searchable
  uint64_t tombstones = 0;  // deleted, not yet compacted
  uint32_t min_size = 0, max_size = 0;
  double imbalance = 0;         // FAISS imbalance factor of live list sizes
  std::vector<uint32_t> sizes;  // live vectors of each list, by list id
};

// What one search did (SearchParams::stats), for monitoring.
struct SearchStats {
  uint32_t lists_probed = 0;    // IVF lists whose slots were examined
  uint32_t lists_skipped = 0;   // of the nprobe, by SearchParams::probe_sigmas
  uint64_t codes_scanned = 0;   // list slots the scan kernel ran over
  uint64_t rescored = 0;        // candidates rescored on the raw vectors
  uint64_t exact_scored = 0;    // vectors scored exactly (exact search)
  uint64_t blocks_scanned = 0;  // filtered: 32-slot blocks the kernel ran on
  uint64_t allowed_seen = 0;    // filtered: allowed points in the lists seen
  // Progressive scan: candidates whose whole code was read (the second
  // pass); refined / codes_scanned is the share refined.
  uint64_t refined = 0;
  // Query tables built (and the codec's query-side state read for them,
  // ScanCodec::query_bytes): one a search, one a probed list where L2
  // builds tables of q - c per list.
  uint64_t tables_built = 0;
  // Coarse step: centroids whose exact distance was computed (nlist
  // without LayoutOptions::quantized_coarse).
  uint32_t centroids_exact = 0;
  // Coarse step: centroids scored on their int8 codes first
  // (LayoutOptions::quantized_coarse; 0 when every centroid is scored
  // exactly).
  uint32_t centroids_quantized = 0;
};
// What an exact search that scored `scored` vectors did (by field name:
// positional initializers broke when a field was added).
inline SearchStats ExactSearchStats(uint64_t scored) {
  SearchStats s;
  s.exact_scored = scored;
  return s;
}
// The field-wise sum (a batch's stats).
SearchStats SumStats(const std::vector<SearchStats>& all);

// Caller-provided raw vectors, for exact search and rescoring.
// Implementations must be thread-safe for concurrent GetVector calls.
class VectorStore {
 public:
  virtual ~VectorStore() = default;
  // Copies the stored vector of `id` (dim floats, as given to Add, before
  // normalization) to out; false if unknown.
  virtual bool GetVector(uint64_t id, float* out) const = 0;
  // The vectors of n ids at once (out: n * dim floats; found[i] false for
  // an unknown id): a store with a batched read overrides it.
  virtual void GetVectors(const uint64_t* ids, size_t n, size_t dim, float* out,
                          bool* found) const {
    for (size_t i = 0; i < n; ++i) {
      found[i] = GetVector(ids[i], out + i * dim);
    }
  }
};

// What one search asks for. The database's QueryOptions (db/db.h) extends
// it (FAISS's SearchParametersIVF : SearchParameters), so the same object
// flows from the API down to the index without being copied field by field.
// The order in which IvfIndex's coarse step ranks lists (and so which
// nprobe it probes). L2 indexes always take kNearest.
enum class ProbeOrder : uint8_t {
  // Nearest centroid (L2) first.
  kNearest,
  // Inner products (ip, cosine): best expected top score first, <q, c_l> +
  // sqrt(2 ln n) sigma_l, the expected largest <q, r> of n residuals of
  // list l when <q, r> has deviation sigma_l = sqrt(R_l / d_eff) (n: the
  // mean list size; R_l: the list's mean ||r||^2, d_eff: the residuals'
  // effective dimension, both from the training sample; IvfIndex keeps
  // them). A wide list then comes before a tight one whose centroid is a
  // little nearer: for the same codes scanned more true neighbours lie in
  // the lists probed (the README's "The index"). Indexes trained before
  // (no statistics) rank as kNearest.
  kBestExpected,
};

struct SearchParams {
  uint32_t k = 10;
  // Lists probed; 0 = all. IvfIndex::Search: InvalidArgument if > nlist.
  uint32_t nprobe = 16;
  ProbeOrder probe_order = ProbeOrder::kBestExpected;
  // Brute force over the raw vectors (ground truth); ignores nprobe.
  bool exact = false;
  // Rerank the best k * oversampling candidates by exact score on the raw
  // vectors, or on the index's in-memory rescoring codes where it keeps
  // them (LayoutOptions::refine: no store needed).
  bool rescore = false;
  float oversampling = 4.0f;
  // Progressive scan (index/progressive.h): a candidate is read in full
  // unless its first-pass estimate plus refine_sigmas standard deviations
  // of that estimate's error cannot reach the k-th best score. Larger is
  // safer and slower; <= 0 reads every candidate in full. At 2.5 a true
  // neighbour is dropped only if its first-pass error exceeds 2.5
  // deviations (a normal tail: 6.2e-3 of pairs; tests/index/
  // progressive_test measures at most 2.4e-2 above 2 and 1.2e-3 above 3 on
  // every shared set) and its estimate sits near the k-th score besides.
  // RaBitQ's bound takes 1.9 deviations of its estimator (kConstEpsilon);
  // 3 refines a fifth more candidates than 2.5 for no measured recall with
  // `pca`, 3e-4 with `renorm` 4 bits (README "The index").
  float refine_sigmas = 2.5f;
  // Adaptive probing (ip and cosine indexes with ProbeOrder::kBestExpected's
  // statistics, unfiltered searches; ignored otherwise): of the nprobe
  // lists, one is skipped when even its best expected member cannot reach
  // the k-th score the lists before it found. A list's members score
  // <q, c_l> + <q, r>, and <q, r> over its residuals has deviation
  // sigma_l ||q|| (ProbeOrder above): the list is skipped when <q, c_l> +
  // probe_sigmas sigma_l ||q|| is below that k-th score (ListScanner::
  // Threshold). Then nprobe is the most lists a query scans, and easy
  // queries (a k-th score far above the next lists') stop sooner. 0 (the
  // default): every one of the nprobe lists is scanned. README "The
  // index": 3 on use512 kept 10-recall@10 within 0.003 for 13% fewer
  // codes; GloVe-100 needed 4.5-5.
  float probe_sigmas = 0.0f;
  // IvfIndex::Search called directly: the raw vectors of exact and rescore.
  // (The database supplies its own; QueryOptions hides this field.)
  const VectorStore* store = nullptr;
  // Optional predicate on point ids applied inside the scan: only ids for
  // which it returns true are returned. Must be thread-safe.
  std::function<bool(uint64_t)> id_filter;
  // Optional: only points whose internal id is in the set are scored and
  // returned; blocks of 32 slots without one are skipped before the scan
  // kernel runs, so a search returns k results whenever k points are
  // allowed (and visited: filtered_scan). Not owned; must outlive the call.
  const AllowedSet* allowed = nullptr;
  FilteredScan filtered_scan = FilteredScan::kProbe;
  uint64_t min_allowed = 0;  // kProbe: allowed points to reach at least
  // Optional out: what the search did (overwritten). Not owned; one per
  // concurrent search.
  SearchStats* stats = nullptr;
  // Optional: polled between lists (and every few thousand vectors of an
  // exact search); when it returns true the search stops with Cancelled
  // (deadline passed, client gone). Must be thread-safe.
  std::function<bool()> cancelled;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_TYPES_H_
