#include "tools/bench/faiss_peer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#ifdef TQDB_HAVE_FAISS
#include <omp.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Woverloaded-virtual"
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexIVFPQFastScan.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPQFastScan.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/FaissException.h>
#pragma GCC diagnostic pop

#include "quant/random.h"
#include "quant/status_macros.h"
#include "tools/bench/stopwatch.h"
#endif  // TQDB_HAVE_FAISS

namespace tqdb {

const char* PeerKindName(PeerKind kind) {
  switch (kind) {
    case PeerKind::kIvfPq:
      return "faiss-ivfpq";
    case PeerKind::kIvfPqFastScan:
      return "faiss-ivfpqfs";
    case PeerKind::kIvfPqFastScanRefine:
      return "faiss-ivfpqfs-refine";
    case PeerKind::kPqFastScanFlat:
      return "faiss-pqfs-flat";
    case PeerKind::kPqFlat:
      return "faiss-pq-flat";
  }
  return "faiss-unknown";
}

#ifndef TQDB_HAVE_FAISS

bool FaissAvailable() { return false; }

std::string FaissVersion() { return "none"; }

absl::StatusOr<std::vector<PeerResult>> RunFaissPeers(
    const FaissPeerConfig& /*cfg*/, const float* /*base*/, size_t /*nb*/,
    const float* /*queries*/, size_t /*nq*/, size_t /*d*/) {
  return absl::UnimplementedError("built without FAISS");
}

#else  // TQDB_HAVE_FAISS

namespace {

using idx_t = faiss::Index::idx_t;
using Clock = std::chrono::steady_clock;

bool IsIvf(PeerKind kind) {
  return kind == PeerKind::kIvfPq || kind == PeerKind::kIvfPqFastScan ||
         kind == PeerKind::kIvfPqFastScanRefine;
}

uint32_t NbitsOf(PeerKind kind) {
  return (kind == PeerKind::kIvfPq || kind == PeerKind::kPqFlat) ? 8 : 4;
}

// Largest m | d with m * nbits / 8 <= target (m even for 4-bit codes, so
// that the code is a whole number of bytes, as FastScan packs it); 0 if none.
uint32_t PickM(size_t d, size_t target_bytes, uint32_t nbits) {
  const size_t max_m = target_bytes * 8 / nbits;
  for (size_t m = std::min(d, max_m); m >= 1; --m) {
    if (d % m != 0) continue;
    if (nbits == 4 && m % 2 != 0) continue;
    return static_cast<uint32_t>(m);
  }
  return 0;
}

// Sets OpenMP's thread count, restores the previous one on destruction.
class OmpThreads {
 public:
  explicit OmpThreads(int n) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(n);
  }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// A built index with the structures it points to (FAISS indexes do not own
// their quantizer or base index unless told to; we own them here).
struct Built {
  std::unique_ptr<faiss::Index> quantizer;  // IVF coarse quantizer
  std::unique_ptr<faiss::Index> base;       // IndexRefine's base index
  std::unique_ptr<faiss::Index> index;      // what is searched
  faiss::IndexIVF* ivf = nullptr;           // where nprobe is set
  faiss::IndexRefine* refine = nullptr;     // where k_factor is set
  uint32_t m = 0, nbits = 0;
  double build_s = 0;
  double train_s = 0;

  // Destroy the users before what they point to.
  ~Built() {
    index.reset();
    base.reset();
    quantizer.reset();
  }
};

struct Ctx {
  const FaissPeerConfig& cfg;
  faiss::MetricType metric;
  const float* base;
  size_t nb;
  size_t d;
  const float* train;  // n_train x d: base itself or `train_rows`
  size_t n_train;
};

std::unique_ptr<faiss::Index> NewFlat(faiss::MetricType metric, size_t d) {
  const auto dd = static_cast<idx_t>(d);
  if (metric == faiss::METRIC_INNER_PRODUCT) {
    return std::make_unique<faiss::IndexFlatIP>(dd);
  }
  return std::make_unique<faiss::IndexFlatL2>(dd);
}

int FaissSeed(uint64_t seed) {
  return static_cast<int>((seed ^ (seed >> 32)) & 0x7fffffff);
}

// Settings shared by every k-means FAISS runs here: the seed, and no
// "please provide at least 39 * k points" warning on stderr (the minimum
// only gates that warning; it does not change the algorithm).
void SetClustering(faiss::ClusteringParameters* cp, uint64_t seed) {
  cp->seed = FaissSeed(seed);
  cp->min_points_per_centroid = 1;
}

// Trains and adds the index of `kind` (for refine: its FastScan base only).
std::unique_ptr<Built> Build(const Ctx& c, PeerKind kind) {
  auto b = std::make_unique<Built>();
  b->nbits = NbitsOf(kind);
  b->m = PickM(c.d, c.cfg.target_bytes_per_vector, b->nbits);
  const auto t0 = Clock::now();
  const size_t nlist = c.cfg.nlist;
  const uint64_t pq_seed = c.cfg.seed + 1;
  switch (kind) {
    case PeerKind::kIvfPq: {
      b->quantizer = NewFlat(c.metric, c.d);
      auto ivf = std::make_unique<faiss::IndexIVFPQ>(
          b->quantizer.get(), c.d, nlist, b->m, b->nbits, c.metric);
      SetClustering(&ivf->cp, c.cfg.seed);
      SetClustering(&ivf->pq.cp, pq_seed);
      b->ivf = ivf.get();
      b->index = std::move(ivf);
      break;
    }
    case PeerKind::kIvfPqFastScan:
    case PeerKind::kIvfPqFastScanRefine: {
      b->quantizer = NewFlat(c.metric, c.d);
      auto ivf = std::make_unique<faiss::IndexIVFPQFastScan>(
          b->quantizer.get(), c.d, nlist, b->m, b->nbits, c.metric,
          /*bbs=*/32);
      SetClustering(&ivf->cp, c.cfg.seed);
      SetClustering(&ivf->pq.cp, pq_seed);
      b->ivf = ivf.get();
      b->index = std::move(ivf);
      break;
    }
    case PeerKind::kPqFastScanFlat: {
      auto pq = std::make_unique<faiss::IndexPQFastScan>(
          static_cast<int>(c.d), b->m, b->nbits, c.metric, /*bbs=*/32);
      SetClustering(&pq->pq.cp, pq_seed);
      b->index = std::move(pq);
      break;
    }
    case PeerKind::kPqFlat: {
      auto pq = std::make_unique<faiss::IndexPQ>(static_cast<int>(c.d), b->m,
                                                 b->nbits, c.metric);
      SetClustering(&pq->pq.cp, pq_seed);
      b->index = std::move(pq);
      break;
    }
  }
  b->index->train(static_cast<idx_t>(c.n_train), c.train);
  b->train_s = Seconds(t0);
  b->index->add(static_cast<idx_t>(c.nb), c.base);
  b->build_s = Seconds(t0);
  return b;
}

// Wraps a built kIvfPqFastScan (taking it over) in an IndexRefineFlat, whose
// IndexFlat gets a copy of the raw vectors: IndexRefineFlat(base, xb) adds
// them; it neither owns (own_fields = false) nor retrains the base.
std::unique_ptr<Built> WrapRefine(const Ctx& c, std::unique_ptr<Built> fs) {
  const auto t0 = Clock::now();
  auto refine =
      std::make_unique<faiss::IndexRefineFlat>(fs->index.get(), c.base);
  refine->own_fields = false;
  fs->refine = refine.get();
  fs->base = std::move(fs->index);
  fs->index = std::move(refine);
  fs->build_s += Seconds(t0);
  return fs;
}

// Trains and adds the index of `kind`.
std::unique_ptr<Built> BuildKind(const Ctx& c, PeerKind kind) {
  if (kind != PeerKind::kIvfPqFastScanRefine) return Build(c, kind);
  return WrapRefine(c, Build(c, kind));
}

PeerResult Measure(const Built& b, PeerKind kind, const FaissPeerConfig& cfg,
                   const float* queries, size_t nq, uint32_t nprobe,
                   float refine_factor) {
  PeerResult r;
  r.kind = kind;
  r.name = PeerKindName(kind);
  r.m = b.m;
  r.nbits = b.nbits;
  r.bytes_per_vector = size_t{b.m} * b.nbits / 8;
  r.build_s = b.build_s;
  r.train_s = b.train_s;
  if (b.ivf != nullptr) {
    r.nlist = static_cast<uint32_t>(b.ivf->nlist);
    r.nprobe = nprobe;
    b.ivf->nprobe = nprobe;
  }
  if (b.refine != nullptr) {
    r.refine_factor = refine_factor;
    b.refine->k_factor = refine_factor;
  }
  const size_t k = cfg.k;
  const size_t ids_k = cfg.ids_k ? cfg.ids_k : cfg.k;
  if (ids_k != k) {
    std::vector<float> distances(nq * ids_k);
    std::vector<idx_t> labels(nq * ids_k, -1);
    b.index->search(static_cast<idx_t>(nq), queries, static_cast<idx_t>(ids_k),
                    distances.data(), labels.data());
    r.ids.assign(labels.begin(), labels.end());
  }
  std::vector<float> distances(nq * k);
  std::vector<idx_t> labels(nq * k, -1);
  const auto t0 = Clock::now();
  b.index->search(static_cast<idx_t>(nq), queries, static_cast<idx_t>(k),
                  distances.data(), labels.data());
  r.search_s = Seconds(t0);
  r.qps = r.search_s > 0 ? nq / r.search_s : 0;
  r.ms_per_query = 1e3 * r.search_s / nq;
  r.timed_ids.assign(labels.begin(), labels.end());
  if (ids_k == k) r.ids = r.timed_ids;
  r.ids_width = static_cast<uint32_t>(ids_k);
  return r;
}

absl::Status Validate(const FaissPeerConfig& cfg, const float* base, size_t nb,
                      const float* queries, size_t nq, size_t d) {
  if (d == 0 || nb == 0 || nq == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "faiss peer: empty input (d = ", d, ", nb = ", nb, ", nq = ", nq, ")"));
  }
  if (base == nullptr || queries == nullptr) {
    return absl::InvalidArgumentError("faiss peer: null base or queries");
  }
  if (cfg.k == 0)
    return absl::InvalidArgumentError("faiss peer: k must be >= 1");
  if (cfg.threads == 0) {
    return absl::InvalidArgumentError("faiss peer: threads must be >= 1");
  }
  for (PeerKind kind : cfg.kinds) {
    if (std::string(PeerKindName(kind)) == "faiss-unknown") {
      return absl::InvalidArgumentError(
          absl::StrCat("faiss peer: unknown kind ", static_cast<int>(kind)));
    }
    const uint32_t nbits = NbitsOf(kind);
    if (PickM(d, cfg.target_bytes_per_vector, nbits) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "faiss peer: ", PeerKindName(kind), ": no ", nbits,
          "-bit PQ fits d = ", d, " in ", cfg.target_bytes_per_vector,
          " bytes per vector (m must divide d",
          nbits == 4 ? " and be even" : "", ")"));
    }
    if (nb < (size_t{1} << nbits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("faiss peer: ", PeerKindName(kind), " needs at least ",
                       size_t{1} << nbits, " base vectors to train ", nbits,
                       "-bit PQ, got ", nb));
    }
    if (IsIvf(kind)) {
      if (cfg.nlist == 0 || cfg.nlist > nb) {
        return absl::InvalidArgumentError(absl::StrCat(
            "faiss peer: ", PeerKindName(kind), ": nlist = ", cfg.nlist,
            " must be in [1, nb = ", nb, "]"));
      }
      if (cfg.nprobes.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "faiss peer: ", PeerKindName(kind), " needs at least one nprobe"));
      }
      for (uint32_t p : cfg.nprobes) {
        if (p == 0 || p > cfg.nlist) {
          return absl::InvalidArgumentError(
              absl::StrCat("faiss peer: nprobe = ", p,
                           " must be in [1, nlist = ", cfg.nlist, "]"));
        }
      }
    }
    if (kind == PeerKind::kIvfPqFastScanRefine) {
      if (cfg.refine_factors.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "faiss peer: ", PeerKindName(kind), " needs refine_factors"));
      }
      for (float f : cfg.refine_factors) {
        if (!(f >= 1.0f)) {
          return absl::InvalidArgumentError(
              absl::StrCat("faiss peer: refine factor ", f, " must be >= 1"));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PeerResult>> RunImpl(const FaissPeerConfig& cfg,
                                                const float* base, size_t nb,
                                                const float* queries, size_t nq,
                                                size_t d) {
  TQ_RETURN_IF_ERROR(Validate(cfg, base, nb, queries, nq, d));
  OmpThreads threads(static_cast<int>(cfg.threads));

  // Training sample: every row, or (if nb is larger than the cap) a uniform
  // sample in base order by selection sampling (Knuth's Algorithm S).
  const size_t cap = cfg.max_train > 0
                         ? cfg.max_train
                         : std::max<size_t>(size_t{cfg.nlist} * 39, 65536);
  std::vector<float> train_rows;
  const faiss::MetricType metric = cfg.metric == PeerMetric::kL2
                                       ? faiss::METRIC_L2
                                       : faiss::METRIC_INNER_PRODUCT;
  Ctx c{cfg, metric, base, nb, d, /*train=*/base, /*n_train=*/nb};
  if (nb > cap) {
    Rng rng(cfg.seed);
    train_rows.reserve(cap * d);
    size_t needed = cap;
    for (size_t i = 0; i < nb && needed > 0; ++i) {
      if (rng.Uniform(nb - i) < needed) {
        train_rows.insert(train_rows.end(), base + i * d, base + (i + 1) * d);
        --needed;
      }
    }
    c.train = train_rows.data();
    c.n_train = cap;
  }

  // The refine kind rescores a FastScan base: if plain FastScan is measured
  // before it, that base is kept and wrapped instead of built again.
  std::unique_ptr<Built> spare_fs;  // built FastScan, waiting for refine

  std::vector<PeerResult> results;
  for (size_t i = 0; i < cfg.kinds.size(); ++i) {
    const PeerKind kind = cfg.kinds[i];
    std::unique_ptr<Built> b;
    if (kind == PeerKind::kIvfPqFastScanRefine && spare_fs != nullptr) {
      b = WrapRefine(c, std::move(spare_fs));
    } else {
      b = BuildKind(c, kind);
    }
    if (IsIvf(kind)) {
      for (uint32_t nprobe : cfg.nprobes) {
        if (kind == PeerKind::kIvfPqFastScanRefine) {
          for (float f : cfg.refine_factors) {
            results.push_back(Measure(*b, kind, cfg, queries, nq, nprobe, f));
          }
        } else {
          results.push_back(Measure(*b, kind, cfg, queries, nq, nprobe, 0));
        }
      }
    } else {
      results.push_back(Measure(*b, kind, cfg, queries, nq, 0, 0));
    }
    if (kind == PeerKind::kIvfPqFastScan && spare_fs == nullptr &&
        std::find(cfg.kinds.begin() + i + 1, cfg.kinds.end(),
                  PeerKind::kIvfPqFastScanRefine) != cfg.kinds.end()) {
      spare_fs = std::move(b);
    }
  }
  return results;
}

}  // namespace

bool FaissAvailable() { return true; }

std::string FaissVersion() {
  return absl::StrCat("FAISS ", FAISS_VERSION_MAJOR, ".", FAISS_VERSION_MINOR,
                      ".", FAISS_VERSION_PATCH);
}

absl::StatusOr<std::vector<PeerResult>> RunFaissPeers(
    const FaissPeerConfig& cfg, const float* base, size_t nb,
    const float* queries, size_t nq, size_t d) {
  try {
    return RunImpl(cfg, base, nb, queries, nq, d);
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(absl::StrCat("faiss: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("faiss peer: out of memory");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("faiss peer: ", e.what()));
  } catch (...) {
    return absl::InternalError("faiss peer: unknown exception");
  }
}

#endif  // TQDB_HAVE_FAISS

}  // namespace tqdb
