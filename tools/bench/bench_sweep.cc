#include "tools/bench/bench_sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/prefetch.h"
#include "quant/kernels.h"
#include "quant/simd_targets.h"
#include "quant/status_macros.h"
#include "tools/bench/faiss_peer.h"
#include "tools/bench/stopwatch.h"

namespace tqdb {
namespace {

constexpr int kMaxPasses = 3;  // timed passes per configuration, at most
constexpr double kRepeatBelowS = 0.5;

// The raw base vectors by id, for rescoring.
class ArrayStore : public VectorStore {
 public:
  ArrayStore(const float* x, size_t n, size_t d) : x_(x), n_(n), d_(d) {}
  bool GetVector(uint64_t id, float* out) const override {
    if (id >= n_) return false;
    std::memcpy(out, x_ + id * d_, d_ * sizeof(float));
    return true;
  }
  // As a contiguous raw-vector store reads a batch: the rows a few places
  // ahead are loading while one is copied (PrefetchBytes).
  void GetVectors(const uint64_t* ids, size_t n, size_t dim, float* out,
                  bool* found) const override {
    constexpr size_t kAhead = 8;
    auto prefetch = [&](size_t i) {
      if (ids[i] < n_) PrefetchBytes(x_ + ids[i] * d_, d_ * sizeof(float));
    };
    for (size_t i = 0; i < std::min(kAhead, n); ++i) prefetch(i);
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) prefetch(i + kAhead);
      found[i] = GetVector(ids[i], out + i * dim);
    }
  }

 private:
  const float* x_;
  size_t n_, d_;
};

}  // namespace

double MeasureReadBandwidth() {
  const size_t n = (size_t{256} << 20) / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> a(new uint64_t[n]);
  for (size_t i = 0; i < n; ++i) a[i] = i * 0x9e3779b97f4a7c15ull;
  uint64_t sink = 0;
  double best = 0;
  for (int rep = 0; rep < 2; ++rep) {
    asm volatile("" : : "g"(a.get()) : "memory");
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n; i += 4) {
      s0 += a[i];
      s1 += a[i + 1];
      s2 += a[i + 2];
      s3 += a[i + 3];
    }
    const double s = Seconds(t0);
    sink += s0 + s1 + s2 + s3;
    if (s > 0) best = std::max(best, n * sizeof(uint64_t) / s / 1e9);
  }
  volatile uint64_t keep = sink;
  (void)keep;
  return best;
}

BenchSweep::BenchSweep(const SweepOptions& options, const FloatMatrix& base,
                       const FloatMatrix& queries,
                       const std::vector<float>& base_m,
                       const std::vector<float>& queries_m,
                       const GroundTruth& gt, ThreadPool* pool, Emit emit)
    : options_(options),
      base_(base),
      queries_(queries),
      base_m_(base_m),
      queries_m_(queries_m),
      gt_(gt),
      pool_(pool),
      emit_(std::move(emit)),
      store_(std::make_unique<ArrayStore>(base.data.data(), base.rows,
                                          base.dim)) {}

BenchSweep::~BenchSweep() = default;

std::vector<uint32_t> BenchSweep::Nprobes(uint32_t nlist) const {
  std::vector<uint32_t> v;
  for (uint32_t p : options_.nprobes) {
    const uint32_t q = p == 0 ? nlist : std::min(p, nlist);
    if (std::find(v.begin(), v.end(), q) == v.end()) v.push_back(q);
  }
  return v;
}

absl::Status BenchSweep::RunTqdb() {
  const size_t n = base_.rows, d = base_.dim;
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = i;
  for (const std::string& method : options_.methods) {
    if (method == "faiss") continue;
    for (int64_t b : options_.bits) {
      for (const std::string& terms : options_.centroid_terms) {
        // prod and PQ have no centroid terms: "off" would repeat "on".
        if (terms == "off" && method != "mse" && method != "renorm" &&
            method != "pca" && method != "pca-w") {
          continue;
        }
        IvfOptions o;
        o.dim = static_cast<uint32_t>(d);
        o.metric = options_.metric;
        o.nlist = options_.nlist;
        o.codec.method = method == "pq8"     ? "pq"
                         : method == "pca-w" ? "pca"
                                             : method;
        if (method == "pca-w") o.codec.pca_weighting = PcaWeighting::kAuto;
        o.codec.bits = static_cast<uint32_t>(b);
        o.codec.pq_nbits = method == "pq8" ? 8 : 4;
        o.threads = options_.threads;
        o.center_factors = terms == "on";
        const std::string label =
            terms == "on" ? method : absl::StrCat(method, "/off");
        std::string trained;
        std::vector<std::string> measured;
        for (const auto& [layout, refine, coarse, prefix] : Variants()) {
          // "auto": the index's default; "progressive" (and "shared", the
          // same holding no bit twice) asks for it also where a 4-bit
          // FastScan code would keep its full layout. Its
          // first pass is --prefix-bits, or with 0 the index's default
          // width, which leaves a code too short for twice that (2 or 3
          // bits below 320 dimensions) in the full layout.
          o.layout.progressive = layout != "full";
          o.layout.prefix_sharing = layout == "shared" ? PrefixSharing::kAlways
                                    : layout == "progressive"
                                        ? PrefixSharing::kNever
                                        : PrefixSharing::kWhereExact;
          o.layout.fastscan_prefix_ratio =
              layout == "progressive" || layout == "shared"
                  ? 0
                  : LayoutOptions().fastscan_prefix_ratio;
          TQ_ASSIGN_OR_RETURN(o.layout.refine, ParseRefineKind(refine));
          o.layout.prefix_bits =
              prefix > 0 ? prefix : LayoutOptions().prefix_bits;
          o.layout.quantized_coarse = coarse == "int8";
          // The first layout trains; the others load its parameters.
          const auto t0 = std::chrono::steady_clock::now();
          auto index = trained.empty()
                           ? IvfIndex::Train(o, base_.data.data(), n)
                           : IvfIndex::FromTrained(trained, o.layout);
          absl::Status st = index.status();
          if (st.ok()) st = (*index)->Add(ids.data(), base_.data.data(), n);
          if (st.ok()) {
            if (trained.empty()) trained = (*index)->SerializeTrained();
            // A codec without the progressive layout (prod, pq, too few
            // bits) falls back to the full one: measure that once.
            const ProgressiveLayout* prog = (*index)->progressive();
            const std::string got = absl::StrCat(
                prog == nullptr         ? "full"
                : prog->shares_prefix() ? "shared"
                                        : "progressive",
                "/", refine, "/", coarse, "/", prog != nullptr ? prefix : 0.0f);
            if (std::find(measured.begin(), measured.end(), got) !=
                measured.end()) {
              continue;
            }
            measured.push_back(got);
            if (options_.rounds > 1) {
              st = AddConfigs(**index, label, static_cast<uint32_t>(b),
                              Seconds(t0), &rounds_configs_);
              rounds_indexes_.push_back(std::move(*index));
            } else {
              st = MeasureIndex(**index, label, static_cast<uint32_t>(b),
                                Seconds(t0));
            }
          }
          TQ_RETURN_IF_ERROR(st)
              << label << " at " << b << " bits, " << layout
              << " layout, refine " << refine << ", coarse " << coarse;
        }
      }
    }
  }
  if (options_.rounds > 1) {
    TQ_RETURN_IF_ERROR(MeasureInRounds());
  }
  // Back to the process's target (TQDB_SIMD's cap, or none).
  if (!options_.simds.empty()) {
    TQ_RETURN_IF_ERROR(kernels::LimitSimdTargetsFromEnvironment());
  }
  return absl::OkStatus();
}

std::vector<BenchSweep::IndexVariant> BenchSweep::Variants() const {
  std::vector<IndexVariant> v;
  for (const std::string& layout : options_.layouts) {
    for (const std::string& refine : options_.refines) {
      for (const std::string& coarse : options_.coarses) {
        for (float prefix : options_.prefix_bits) {
          v.push_back({layout, refine, coarse, prefix});
        }
      }
    }
  }
  return v;
}

absl::Status BenchSweep::AddConfigs(const IvfIndex& idx,
                                    const std::string& method, uint32_t bits,
                                    double build_s,
                                    std::vector<Config>* configs) {
  const size_t nq = queries_.rows;
  nlist_ = idx.nlist();
  if (method == "renorm") renorm_bytes_[bits] = idx.bytes_per_vector();
  for (uint32_t nprobe : Nprobes(idx.nlist())) {
    for (int64_t r : options_.rescores) {
      for (float probe_sigmas : options_.probe_sigmas) {
        // In-memory rescoring codes change nothing without a rescore.
        if (r == 0 && idx.refine_bytes_per_vector() > 0) continue;
        Config c;
        c.index = &idx;
        SearchParams& p = c.params;
        p.nprobe = nprobe;
        p.rescore = r > 0;
        p.oversampling = r > 0 ? static_cast<float>(r) : 1.0f;
        p.refine_sigmas = options_.refine_sigmas;
        p.probe_sigmas = probe_sigmas;
        p.store = store_.get();
        // Untimed pass (also the warm-up): recall@1@k up to k = 64.
        p.k = kRecallK;
        TQ_ASSIGN_OR_RETURN(
            auto deep, idx.SearchBatch(queries_.data.data(), nq, p, pool_));
        p.k = options_.k;
        BenchRow& row = c.row;
        row.method = method;
        row.bits = bits;
        row.bytes_per_vector = idx.bytes_per_vector();
        row.nlist = idx.nlist();
        row.nprobe = nprobe;
        row.rescore = static_cast<double>(r);
        row.probe_sigmas = probe_sigmas;
        row.k = options_.k;
        row.build_s = build_s;
        row.codec = idx.codec().Describe();
        row.layout = idx.progressive() == nullptr         ? "full"
                     : idx.progressive()->shares_prefix() ? "shared"
                                                          : "progressive";
        if (const ProgressiveLayout* prog = idx.progressive()) {
          double prefix = 0;
          for (uint8_t t : prog->prefix_bits()) prefix += t;
          row.prefix_bits = prefix / idx.dim();
        }
        row.memory_bytes_per_code = idx.memory_bytes_per_code();
        row.refine_bytes_per_vector = idx.refine_bytes_per_vector();
        row.refine = row.refine_bytes_per_vector > 0
                         ? RefineKindName(idx.options().layout.refine)
                         : "none";
        row.coarse = idx.options().layout.quantized_coarse ? "int8" : "exact";
        // R@1@k from the deep pass; 10-R@10 from the timed pass (the deep
        // one if k < 10).
        ComputeRecall(ToResults(deep, kRecallK), gt_, nq, row.recall1_at,
                      options_.k >= 10 ? nullptr : &row.recall10);
        if (options_.simds.empty()) {
          configs->push_back(std::move(c));
          continue;
        }
        for (const std::string& cap : options_.simds) {
          configs->push_back(c);
          configs->back().simd_cap = cap;
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<double> BenchSweep::TimedPass(Config* c) {
  const IvfIndex& idx = *c->index;
  const size_t nq = queries_.rows;
  SearchParams p = c->params;
  std::vector<std::vector<Neighbor>> res;
  // What the pass did: the batch's sum, or each query's, summed after it.
  SearchStats stats, one;
  std::vector<SearchStats> per_query(pool_ ? 0 : nq);
  p.stats = &one;
  if (!c->simd_cap.empty()) {
    TQ_RETURN_IF_ERROR(kernels::LimitSimdTargets(c->simd_cap)) << "--simd";
    c->row.simd = kernels::ActiveTargetName();
  }
  const auto t1 = std::chrono::steady_clock::now();
  if (pool_) {
    TQ_ASSIGN_OR_RETURN(res,
                        idx.SearchBatch(queries_.data.data(), nq, p, pool_));
    stats = one;
  } else if (options_.batch > 1) {
    res.resize(nq);
    per_query.clear();
    for (size_t i = 0; i < nq; i += options_.batch) {
      const size_t m = std::min<size_t>(options_.batch, nq - i);
      TQ_ASSIGN_OR_RETURN(auto part,
                          idx.SearchBatch(queries_.row(i), m, p, nullptr));
      std::move(part.begin(), part.end(), res.begin() + i);
      per_query.push_back(one);
    }
    stats = SumStats(per_query);
  } else {
    res.resize(nq);
    for (size_t i = 0; i < nq; ++i) {
      p.stats = &per_query[i];
      TQ_ASSIGN_OR_RETURN(res[i], idx.Search(queries_.row(i), p));
    }
    stats = SumStats(per_query);
  }
  const double wall = Seconds(t1);
  // The same in every pass.
  BenchRow& row = c->row;
  row.codes_per_query = nq > 0 ? double(stats.codes_scanned) / nq : 0;
  row.lists_per_query = nq > 0 ? double(stats.lists_probed) / nq : 0;
  row.centroids_exact_per_query =
      nq > 0 ? double(stats.centroids_exact) / nq : 0;
  row.bytes_per_query = nq > 0 ? idx.BytesRead(stats) / nq : 0;
  row.refined_share = stats.codes_scanned > 0
                          ? double(stats.refined) / double(stats.codes_scanned)
                          : 0;
  if (options_.k >= 10) {
    double unused[kNumAt];
    ComputeRecall(ToResults(res, options_.k), gt_, nq, unused, &row.recall10);
  }
  return wall;
}

void BenchSweep::EmitConfig(Config* c) {
  const size_t nq = queries_.rows;
  BenchRow& row = c->row;
  std::vector<double> walls = c->walls;
  std::sort(walls.begin(), walls.end());
  auto qps = [&](double wall) { return wall > 0 ? nq / wall : 0; };
  // One round: the fastest of its passes; more: the median round (the
  // lower middle of an even count), with the slowest and fastest.
  const double wall =
      options_.rounds > 1 ? walls[(walls.size() - 1) / 2] : walls.front();
  row.qps = qps(wall);
  row.rounds = options_.rounds;
  row.qps_min = options_.rounds > 1 ? qps(walls.back()) : row.qps;
  row.qps_max = options_.rounds > 1 ? qps(walls.front()) : row.qps;
  row.ms_per_query =
      pool_ ? wall * 1000 / nq : (row.qps > 0 ? 1000 / row.qps : 0);
  emit_(row);
}

absl::Status BenchSweep::MeasureIndex(const IvfIndex& idx,
                                      const std::string& method, uint32_t bits,
                                      double build_s) {
  std::vector<Config> configs;
  TQ_RETURN_IF_ERROR(AddConfigs(idx, method, bits, build_s, &configs));
  for (Config& c : configs) {
    // Timed passes: one, repeated (up to kMaxPasses) while they take
    // under kRepeatBelowS in all; the fastest counts, which damps noise
    // from other processes on short passes.
    double spent = 0;
    for (int pass = 0;
         pass < kMaxPasses && (pass == 0 || spent < kRepeatBelowS); ++pass) {
      TQ_ASSIGN_OR_RETURN(const double wall, TimedPass(&c));
      c.walls.push_back(wall);
      spent += wall;
    }
    EmitConfig(&c);
  }
  return absl::OkStatus();
}

absl::Status BenchSweep::MeasureInRounds() {
  // Every configuration's pass once a round, in the same order each round:
  // a slow spell of the machine then lands on all of them alike.
  for (uint32_t round = 0; round < options_.rounds; ++round) {
    for (Config& c : rounds_configs_) {
      TQ_ASSIGN_OR_RETURN(const double wall, TimedPass(&c));
      c.walls.push_back(wall);
    }
  }
  for (Config& c : rounds_configs_) EmitConfig(&c);
  rounds_configs_.clear();
  rounds_indexes_.clear();
  return absl::OkStatus();
}

absl::Status BenchSweep::RunFaiss(std::ostream& out) {
  if (std::find(options_.methods.begin(), options_.methods.end(), "faiss") ==
      options_.methods.end()) {
    return absl::OkStatus();
  }
  if (!FaissAvailable()) {
    out << "note: this tqdb was built without FAISS (libfaiss-dev not found "
           "at configure time); skipping faiss\n";
    return absl::OkStatus();
  }
  const size_t n = base_.rows, d = base_.dim, nq = queries_.rows;
  const uint32_t k = options_.k;
  const bool l2 = options_.metric == Metric::kL2;
  uint32_t nlist = options_.nlist;
  if (nlist == 0) nlist = nlist_;
  if (nlist == 0) {  // the IvfIndex default
    nlist = static_cast<uint32_t>(std::lround(4.0 * std::sqrt(double(n))));
    nlist = std::max<uint32_t>(
        1, std::min<uint32_t>(nlist, static_cast<uint32_t>(n / 39)));
  }
  nlist_ = nlist;
  std::vector<float> refine;
  for (int64_t r : options_.rescores) {
    if (r > 0) refine.push_back(static_cast<float>(r));
  }
  for (int64_t b : options_.bits) {
    FaissPeerConfig cfg;
    cfg.metric = l2 ? PeerMetric::kL2 : PeerMetric::kInnerProduct;
    // The bytes of renorm at b bits: as measured if renorm ran, else its
    // layout (b*d bits, plus one 4-byte factor for ip and cosine or two
    // for l2).
    auto measured = renorm_bytes_.find(static_cast<uint32_t>(b));
    cfg.target_bytes_per_vector =
        measured != renorm_bytes_.end()
            ? measured->second
            : (static_cast<size_t>(b) * d + 7) / 8 + (l2 ? 8 : 4);
    cfg.nlist = nlist;
    cfg.nprobes = Nprobes(nlist);
    cfg.refine_factors = refine;
    // Timed with the same k as tqdb's rows (refine reranks k * factor
    // candidates, so k matters); ids for recall@1@k from a k = 64 pass.
    cfg.k = k;
    cfg.ids_k = kRecallK;
    cfg.threads = options_.threads;
    if (nlist == 1) {
      cfg.kinds = {PeerKind::kPqFlat, PeerKind::kPqFastScanFlat};
    } else {
      cfg.kinds = {PeerKind::kIvfPq, PeerKind::kIvfPqFastScan};
      if (!refine.empty()) cfg.kinds.push_back(PeerKind::kIvfPqFastScanRefine);
    }
    auto peers =
        RunFaissPeers(cfg, base_m_.data(), n, queries_m_.data(), nq, d);
    if (absl::IsInvalidArgument(peers.status())) {
      out << "note: faiss at " << b
          << " bits skipped: " << peers.status().message() << "\n";
      continue;
    }
    TQ_RETURN_IF_ERROR(peers.status()) << "faiss at " << b << " bits";
    for (const PeerResult& pr : *peers) {
      BenchRow row;
      row.method = pr.name;
      row.bits = static_cast<uint32_t>(b);
      row.bytes_per_vector = pr.bytes_per_vector;
      row.nlist = pr.nlist == 0 ? 1 : pr.nlist;  // flat kinds: one list
      row.nprobe = pr.nlist == 0 ? 1 : pr.nprobe;
      row.rescore = pr.refine_factor;
      row.k = k;
      row.qps = pr.qps;
      row.ms_per_query = pr.ms_per_query;
      row.build_s = pr.build_s;
      row.codec = absl::StrFormat("%s m=%u x %u-bit (%zu B)", pr.name, pr.m,
                                  pr.nbits, pr.bytes_per_vector);
      Results res;
      res.width = pr.ids_width;
      res.ids = pr.ids;
      ComputeRecall(res, gt_, nq, row.recall1_at,
                    k >= 10 ? nullptr : &row.recall10);
      if (k >= 10) {
        // 10-R@10 from the timed pass, as for tqdb's rows.
        Results timed;
        timed.width = k;
        timed.ids = pr.timed_ids;
        double unused[kNumAt];
        ComputeRecall(timed, gt_, nq, unused, &row.recall10);
      }
      emit_(row);
    }
  }
  return absl::OkStatus();
}

}  // namespace tqdb
