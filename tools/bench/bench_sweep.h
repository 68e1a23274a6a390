// What `tqdb bench` measures: for each method and bit width an IVF index
// over the base vectors (or FAISS's PQ index at the same bytes), searched
// with every nprobe and rescoring factor; one BenchRow a configuration
// (recall, queries per second, build time).
//
// Not thread-safe: one sweep runs at a time (it times itself).
#ifndef TQDB_TOOLS_BENCH_BENCH_SWEEP_H_
#define TQDB_TOOLS_BENCH_BENCH_SWEEP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/ivf_index.h"
#include "index/thread_pool.h"
#include "tools/bench/recall.h"
#include "tools/io/matrix.h"

namespace tqdb {

// One measured configuration (a line of the table and of the JSON output).
struct BenchRow {
  std::string method;
  uint32_t bits = 0;
  size_t bytes_per_vector = 0;
  uint32_t nlist = 0, nprobe = 0;
  double rescore = 0;  // oversampling / refine factor, 0 = none
  uint32_t k = 0;      // results per query of the timed pass
  double recall1_at[kNumAt] = {};
  double recall10 = 0;
  double qps = 0, ms_per_query = 0, build_s = 0;
  // Timed rounds (SweepOptions::rounds): qps is then the median round's,
  // qps_min and qps_max the slowest and fastest (all three qps with one).
  uint32_t rounds = 1;
  double qps_min = 0, qps_max = 0;
  // The SIMD target of the timed passes when SweepOptions::simds chose
  // one (else empty: the process's, BenchSetup::simd).
  std::string simd;
  std::string codec;
  // tqdb: the lists' layout ("full", "progressive" or "shared"), in-memory
  // bytes of a code, codes the scan ran over per query and the share of them
  // read in full (progressive; else 0), from the timed pass.
  std::string layout;
  size_t memory_bytes_per_code = 0;
  // What rescoring read: "none" (the raw vectors), "int8" or "f32" (the
  // index's in-memory codes, of refine_bytes_per_vector bytes).
  std::string refine = "none";
  size_t refine_bytes_per_vector = 0;
  // tqdb: the coarse step ("exact" or "int8") and the centroids it scored
  // exactly per query.
  std::string coarse;
  double centroids_exact_per_query = 0;
  double codes_per_query = 0, refined_share = 0;
  // SearchParams::probe_sigmas and the lists scanned per query (of nprobe).
  double probe_sigmas = 0, lists_per_query = 0;
  // The progressive layout's first pass, bits a dimension (0: full).
  double prefix_bits = 0;
  // tqdb: bytes of index memory a query read (IvfIndex::BytesRead).
  double bytes_per_query = 0;
};

// The run a sweep belongs to, as the outputs describe it.
struct BenchSetup {
  std::string label, metric;
  size_t n = 0, d = 0, nq = 0;
  uint32_t threads = 1;
  uint32_t batch = 1;  // SweepOptions::batch
  std::string simd;
  double mem_gbps = 0;
};

struct SweepOptions {
  Metric metric = Metric::kCosine;
  std::vector<std::string> methods;  // mse renorm prod pca pq pq8 faiss
  std::vector<int64_t> bits;
  uint32_t nlist = 0;             // 0 = the index's default
  std::vector<uint32_t> nprobes;  // 0 = nlist; values above are clamped
  std::vector<int64_t> rescores;  // 0 = none, else the oversampling factor
  uint32_t k = 10;                // results per query of the timed pass
  uint32_t threads = 1;
  // With one thread: queries per call of the timed pass, 1 = Search per
  // query, more = SearchBatch of that many (its shared scan, when it
  // covers the index: index/ivf_index.h). tqdb's methods only.
  uint32_t batch = 1;
  // In-memory layouts to measure ("auto": the index's default, "full",
  // "progressive" at any dimension); an index per layout, trained once.
  std::vector<std::string> layouts = {"auto"};
  // What rescoring reads ("none": the raw vectors; "int8", "f32": the
  // index's in-memory codes, LayoutOptions::refine); an index each.
  std::vector<std::string> refines = {"none"};
  // Coarse steps to measure: "exact" (every centroid in float) and "int8"
  // (LayoutOptions::quantized_coarse); an index each.
  std::vector<std::string> coarses = {"int8"};
  // "on": codecs keep the centroid terms (IvfOptions::center_factors);
  // "off": the ablation, its rows labelled "<method>/off". Trained each.
  std::vector<std::string> centroid_terms = {"on"};
  float refine_sigmas = SearchParams().refine_sigmas;
  // SearchParams::probe_sigmas to measure (0: every probed list scanned);
  // a configuration each.
  std::vector<float> probe_sigmas = {0.0f};
  // The progressive scan's first pass, bits a dimension; an index each
  // (0: the index's default, LayoutOptions::prefix_bits).
  std::vector<float> prefix_bits = {0.0f};
  // 1: each configuration is timed after its index is built (the fastest
  // of up to 3 passes). More: every index is built first and kept, then
  // each round times one pass of every configuration in turn; a row
  // reports the median round (BenchRow::qps_min, qps_max the spread).
  // Slow spells of a shared machine then fall on all configurations
  // alike. tqdb's methods only.
  uint32_t rounds = 1;
  // SIMD caps to time each configuration under (kernels::LimitSimdTargets
  // names), in turn in one process: results are the same on every target,
  // so one index serves them all. Empty: the process's target.
  std::vector<std::string> simds;
};

class BenchSweep {
 public:
  using Emit = std::function<void(const BenchRow&)>;

  // base_m, queries_m: the vectors as the metric compares them (unit
  // length for cosine; FAISS gets these). pool: SearchBatch's threads when
  // options.threads > 1, else null (Search per query, or SearchBatch of
  // options.batch queries on the calling thread). Rows go to emit.
  BenchSweep(const SweepOptions& options, const FloatMatrix& base,
             const FloatMatrix& queries, const std::vector<float>& base_m,
             const std::vector<float>& queries_m, const GroundTruth& gt,
             ThreadPool* pool, Emit emit);
  ~BenchSweep();

  // tqdb's methods: one index per method and bit width. Errors name them.
  absl::Status RunTqdb();
  // FAISS's IVFPQ and IVFPQFastScan (PQ and PQFastScan when nlist is 1)
  // at the bytes of renorm at each bit width; a note on `out` when FAISS
  // is missing or cannot match a width's bytes.
  absl::Status RunFaiss(std::ostream& out);

  // nlist of the indexes built so far (0 = none yet).
  uint32_t nlist() const { return nlist_; }

 private:
  // nprobe values for an index of `nlist` lists: 0 -> nlist, clamped,
  // without repeats.
  std::vector<uint32_t> Nprobes(uint32_t nlist) const;
  // Every (layout, refine, coarse, prefix bits) of the options.
  struct IndexVariant {
    std::string layout, refine, coarse;
    float prefix_bits;
  };
  std::vector<IndexVariant> Variants() const;
  // One (index, nprobe, rescore) being measured: its row but the timing,
  // and the wall seconds of its timed passes.
  struct Config {
    const IvfIndex* index = nullptr;
    std::string simd_cap;  // a SweepOptions::simds entry, or empty
    SearchParams params;   // of the timed passes
    BenchRow row;
    std::vector<double> walls;
  };
  // The configurations of an index (its untimed recall pass run).
  absl::Status AddConfigs(const IvfIndex& index, const std::string& method,
                          uint32_t bits, double build_s,
                          std::vector<Config>* configs);
  // One timed pass over all queries: its wall seconds (the row's per-pass
  // figures set from it).
  absl::StatusOr<double> TimedPass(Config* config);
  // The row with its timing, to emit_.
  void EmitConfig(Config* config);
  // rounds = 1: the index's configurations, timed now.
  absl::Status MeasureIndex(const IvfIndex& index, const std::string& method,
                            uint32_t bits, double build_s);
  // rounds > 1: every kept configuration, round after round.
  absl::Status MeasureInRounds();

  const SweepOptions options_;
  const FloatMatrix& base_;
  const FloatMatrix& queries_;
  const std::vector<float>& base_m_;
  const std::vector<float>& queries_m_;
  const GroundTruth& gt_;
  ThreadPool* const pool_;
  const Emit emit_;
  uint32_t nlist_ = 0;
  std::map<uint32_t, size_t> renorm_bytes_;  // bits -> renorm's bytes/vector
  std::unique_ptr<VectorStore> store_;       // the raw base, for rescoring
  // rounds > 1: the indexes built and their configurations.
  std::vector<std::unique_ptr<IvfIndex>> rounds_indexes_;
  std::vector<Config> rounds_configs_;
};

// Single-thread read bandwidth in GB/s: sums a 256 MiB array, best of 2.
double MeasureReadBandwidth();

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_BENCH_SWEEP_H_
