// FAISS as the peer in tqdb's benchmarks: builds FAISS product-quantization
// indexes at (about) the same code bytes per vector as a tqdb collection and
// measures their build time, search throughput and result ids, so that the
// caller can compute recall against its own ground truth.
//
// FAISS is optional (Debian's libfaiss-dev 1.7.3, linked through the CMake
// target tqdb_faiss, which defines TQDB_HAVE_FAISS=1). Without it this module
// still compiles: FaissAvailable() returns false and RunFaissPeers() returns
// UnimplementedError("built without FAISS").
//
// No FAISS header leaks out of this file and no exception escapes: FAISS's
// exceptions are returned as InternalError with FAISS's message.
//
// Thread-safety: RunFaissPeers() sets OpenMP's global thread count for its
// duration (and restores it before returning), so concurrent calls with
// different `threads` interfere with each other's timings, not results.
#ifndef TQDB_TOOLS_BENCH_FAISS_PEER_H_
#define TQDB_TOOLS_BENCH_FAISS_PEER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tqdb {

// Cosine: the caller normalizes the vectors and passes kInnerProduct.
enum class PeerMetric { kInnerProduct, kL2 };

enum class PeerKind {
  // faiss::IndexIVFPQ, 8-bit codes (256-entry float LUTs), residuals encoded
  // (FAISS's default for IVFPQ).
  kIvfPq,
  // faiss::IndexIVFPQFastScan, 4-bit codes, blocks of 32 (bbs 32). Plain
  // vectors encoded, not residuals (FAISS 1.7.3's default for this index).
  kIvfPqFastScan,
  // kIvfPqFastScan wrapped in faiss::IndexRefineFlat: the base returns
  // k * refine_factor candidates, rescored exactly against the raw float
  // vectors (which the refine index keeps: d * 4 bytes per vector more,
  // not counted in bytes_per_vector).
  kIvfPqFastScanRefine,
  // faiss::IndexPQFastScan (no IVF, 4-bit, bbs 32): the flat scan-rate peer.
  kPqFastScanFlat,
  // faiss::IndexPQ, 8-bit codes (no IVF).
  kPqFlat,
};

// "faiss-ivfpq", "faiss-ivfpqfs", "faiss-ivfpqfs-refine", "faiss-pqfs-flat",
// "faiss-pq-flat"; "faiss-unknown" for an out-of-range value.
const char* PeerKindName(PeerKind kind);

struct FaissPeerConfig {
  PeerMetric metric = PeerMetric::kInnerProduct;
  // Code bytes per vector to match (tqdb's codes + per-vector factors).
  // FAISS PQ needs m | d, so the bytes used are the largest that fit:
  //   8-bit kinds: m = largest divisor of d with m <= target;
  //   4-bit kinds: m = largest even divisor of d with m / 2 <= target.
  // InvalidArgument (naming d and the target) if no such m exists.
  size_t target_bytes_per_vector = 0;
  // IVF lists (IVF kinds: 1 <= nlist <= nb). Ignored by the flat kinds.
  uint32_t nlist = 0;
  // One measurement per nprobe (IVF kinds: non-empty, each in [1, nlist]).
  // Flat kinds are measured once and ignore this.
  std::vector<uint32_t> nprobes;
  // kIvfPqFastScanRefine: one measurement per (nprobe, factor), nprobe-major;
  // non-empty, each factor >= 1. Ignored by the other kinds.
  std::vector<float> refine_factors;
  uint32_t k = 64;  // results per query of the timed search (>= 1)
  // If > 0 and != k: ids come from a second, untimed search with this k
  // (run first, so it also warms up); qps is always that of k.
  uint32_t ids_k = 0;
  uint32_t threads = 1;  // OpenMP threads for training, adding and search
  uint64_t seed = 1234;  // training sample and FAISS k-means seeds
  // Training rows at most; 0 = max(39 * nlist, 65536). A smaller cap
  // shortens FAISS's (slow, on Debian's SSE2 build) PQ training.
  size_t max_train = 0;
  std::vector<PeerKind> kinds;  // measured in this order
};

struct PeerResult {
  PeerKind kind = PeerKind::kIvfPq;
  std::string name;                // PeerKindName(kind)
  uint32_t m = 0, nbits = 0;       // PQ sub-quantizers and bits actually used
  size_t bytes_per_vector = 0;     // code bytes actually used (m * nbits / 8)
  uint32_t nlist = 0, nprobe = 0;  // 0 for the flat kinds
  float refine_factor = 0;         // 0 = no refinement
  // Train + add, seconds (wall), shared by all results of one kind. When
  // kIvfPqFastScan precedes kIvfPqFastScanRefine in cfg.kinds, the refine
  // kind wraps that already built index (same training, same codes) and
  // reports its build time plus the time to add the raw vectors.
  double build_s = 0;
  double train_s = 0;   // the train() part of build_s
  double search_s = 0;  // wall time of one search call over all queries
  double qps = 0, ms_per_query = 0;
  // nq * ids_width result ids, row-major, -1 = missing; ids_width is
  // cfg.ids_k if set, else cfg.k.
  std::vector<int64_t> ids;
  uint32_t ids_width = 0;
  // The timed search's ids: nq * cfg.k.
  std::vector<int64_t> timed_ids;
};

// True iff this binary was built with FAISS.
bool FaissAvailable();
// "FAISS 1.7.3" (the headers' version), or "none".
std::string FaissVersion();

// For each kind of cfg.kinds: trains on base (a deterministic sample of at
// most cfg.max_train, default max(39 * nlist, 65536), rows drawn with
// cfg.seed), adds all of base
// (ids 0..nb-1), then searches all nq queries in one batch per nprobe (and
// refine factor). base is nb x d and queries nq x d, row-major floats.
// Results are in the order of cfg.kinds, then nprobes, then refine factors.
//
// Errors: InvalidArgument for a bad config or sizes (d == 0, nb == 0,
// nq == 0, null data, k == 0, threads == 0, an unmatchable byte target, IVF
// kinds without a valid nlist/nprobes, refine without factors); InternalError
// for a FAISS failure (with FAISS's message); UnimplementedError without
// FAISS.
absl::StatusOr<std::vector<PeerResult>> RunFaissPeers(
    const FaissPeerConfig& cfg, const float* base, size_t nb,
    const float* queries, size_t nq, size_t d);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_FAISS_PEER_H_
