#include "index/codec_choice.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>
#include <vector>

#include "index/pca_codec.h"
#include "index/thread_pool.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

constexpr size_t kChoiceTop = 10;
// Base rows encoded at a time (their residuals are built per block).
constexpr size_t kEncodeBlock = 1024;

// Calls f(q, i) for every query q < queries and row i < rows: the queries
// split in chunks across the pool's threads, each chunk's queries scoring a
// block of rows at a time (the rows, read from memory once per chunk, are
// what does not fit in cache). f(q, ...) runs on one thread for a given q.
template <typename F>
void ForBlocks(ThreadPool& pool, size_t queries, size_t rows, F f) {
  constexpr size_t kBlock = 64, kQueriesPerChunk = 16;
  const size_t chunks = (queries + kQueriesPerChunk - 1) / kQueriesPerChunk;
  pool.ParallelFor(chunks, [&](size_t chunk) {
    const size_t q0 = chunk * kQueriesPerChunk;
    const size_t q1 = std::min(queries, q0 + kQueriesPerChunk);
    for (size_t i0 = 0; i0 < rows; i0 += kBlock) {
      const size_t i1 = std::min(rows, i0 + kBlock);
      for (size_t q = q0; q < q1; ++q) {
        for (size_t i = i0; i < i1; ++i) f(q, i);
      }
    }
  });
}

// The kChoiceTop best of the (score, id) offered, larger scores first and
// lower ids on ties, kept as a heap whose front is the worst kept: a
// query's top 10 without its scores over every row.
class TopIds {
 public:
  void Offer(float score, uint32_t id) {
    const Entry e{score, id};
    if (heap_.size() < kChoiceTop) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }
  // The ids kept, ascending.
  std::vector<uint32_t> Ids() const {
    std::vector<uint32_t> ids;
    for (const Entry& e : heap_) ids.push_back(e.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

 private:
  struct Entry {
    float score;
    uint32_t id;
  };
  static bool Better(const Entry& a, const Entry& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  }
  std::vector<Entry> heap_;
};

// The sample in a seeded order: its first `queries` rows are the queries,
// the rest the base, with what scoring them needs besides a codec: <u, c>
// of each query and list, the exact top 10 of each query.
struct Validation {
  const ValidationSample* s = nullptr;
  size_t queries = 0, nb = 0;
  std::vector<uint32_t> order;   // sample rows: the queries, then the base
  std::vector<float> base_norm;  // nb (L2: ||x||^2)
  std::vector<float> qc;         // queries x nlist: <u, c> of each list
  std::vector<std::vector<uint32_t>> truth;

  const float* query(size_t q) const { return s->x + size_t{order[q]} * s->d; }
  const float* base(size_t i) const {
    return s->x + size_t{order[queries + i]} * s->d;
  }
  uint32_t list(size_t i) const { return s->list[order[queries + i]]; }
  const float* centroid(size_t i) const {
    return s->centroids == nullptr ? nullptr
                                   : &s->centroids[size_t{list(i)} * s->d];
  }
};

Validation MakeValidation(const ValidationSample& s, size_t queries,
                          std::vector<uint32_t> order, ThreadPool& pool) {
  Validation v;
  v.s = &s;
  v.queries = queries;
  v.nb = s.n - queries;
  v.order = std::move(order);
  const size_t d = s.d, nb = v.nb;
  v.base_norm.assign(nb, 0.0f);
  if (s.metric == Metric::kL2) {
    for (size_t i = 0; i < nb; ++i) {
      v.base_norm[i] = kernels::Dot(v.base(i), v.base(i), d);
    }
  }
  v.qc.assign(s.centroids != nullptr ? queries * s.nlist : 0, 0.0f);
  std::vector<TopIds> top(queries);
  ForBlocks(pool, queries, nb, [&](size_t q, size_t i) {
    const float ip = kernels::Dot(v.query(q), v.base(i), d);
    top[q].Offer(s.metric == Metric::kL2 ? 2 * ip - v.base_norm[i] : ip,
                 static_cast<uint32_t>(i));
  });
  v.truth.resize(queries);
  pool.ParallelFor(queries, [&](size_t q) {
    if (s.centroids != nullptr) {
      for (uint32_t l = 0; l < s.nlist; ++l) {
        v.qc[q * s.nlist + l] =
            kernels::Dot(v.query(q), &s.centroids[size_t{l} * d], d);
      }
    }
    v.truth[q] = top[q].Ids();
  });
  return v;
}

// How many of each query's true top 10 the codec's estimates (with the
// index's centroid terms) rank in their top 10.
absl::StatusOr<std::vector<int>> ValidationHits(const ScanCodec& codec,
                                                const Validation& v,
                                                ThreadPool& pool) {
  const ScalarCodeInfo* info = codec.scalar_info();
  if (info == nullptr || codec.combine_form().kind != CombineForm::kScaled) {
    return absl::InvalidArgumentError(
        "codec choice: the codec has no scaled scalar view");
  }
  const ValidationSample& s = *v.s;
  const size_t d = s.d, k = info->width.size(), nb = v.nb;
  const bool center = s.center_factor && s.centroids != nullptr;
  // The base rows' codes read back as e_i[j] = f0 * level_j, so that the
  // estimate of <u, r_i> is <QueryWeights(u), e_i>; and the centroid
  // correction: delta_i = <c, r_i> - est(<c, r_i>), added as <u, c> /
  // ||c||^2 * delta_i, with each list's weights computed once (first, for
  // the lists the base rows are in, so the blocks only read them).
  std::vector<float> e(nb * k), delta(nb, 0.0f), inv_cc(nb, 0.0f);
  std::vector<std::vector<float>> list_w(center ? s.nlist : 0);
  if (center) {
    for (size_t i = 0; i < nb; ++i) list_w[v.list(i)].resize(k);
    pool.ParallelFor(s.nlist, [&](size_t l) {
      if (list_w[l].empty()) return;
      codec.QueryWeights(&s.centroids[l * d], list_w[l].data());
    });
  }
  const size_t blocks = (nb + kEncodeBlock - 1) / kEncodeBlock;
  std::vector<absl::Status> block_status(blocks);
  pool.ParallelFor(blocks, [&](size_t b) {
    const size_t i0 = b * kEncodeBlock;
    const size_t rows = std::min(kEncodeBlock, nb - i0);
    std::vector<float> resid(rows * d);
    std::vector<uint8_t> codes(rows * codec.code_bytes());
    std::vector<float> factors(codec.shape().nfactors + 1);
    std::vector<uint8_t> idx(k);
    for (size_t r = 0; r < rows; ++r) {
      const float* x = v.base(i0 + r);
      const float* c = v.centroid(i0 + r);
      for (size_t a = 0; a < d; ++a) {
        resid[r * d + a] = x[a] - (c != nullptr ? c[a] : 0.0f);
      }
    }
    block_status[b] = codec.EncodeBatch(resid.data(), rows, codes.data());
    if (!block_status[b].ok()) return;
    for (size_t r = 0; r < rows; ++r) {
      const size_t i = i0 + r;
      codec.UnpackIndices(&codes[r * codec.code_bytes()], idx.data(),
                          factors.data());
      for (size_t j = 0; j < k; ++j) {
        e[i * k + j] = factors[0] * info->levels[info->width[j]][idx[j]];
      }
      if (!center) continue;
      const std::vector<float>& cw = list_w[v.list(i)];
      const float cc = kernels::Dot(v.centroid(i), v.centroid(i), d);
      delta[i] = kernels::Dot(v.centroid(i), &resid[r * d], d) -
                 kernels::Dot(cw.data(), &e[i * k], k);
      inv_cc[i] = cc > 0 ? 1.0f / cc : 0.0f;
    }
  });
  for (const absl::Status& st : block_status) TQ_RETURN_IF_ERROR(st);
  std::vector<float> wq(v.queries * k);
  pool.ParallelFor(
      v.queries, [&](size_t q) { codec.QueryWeights(v.query(q), &wq[q * k]); });
  std::vector<TopIds> top(v.queries);
  ForBlocks(pool, v.queries, nb, [&](size_t q, size_t i) {
    const float qc = s.centroids != nullptr ? v.qc[q * s.nlist + v.list(i)] : 0;
    const float ip =
        qc + kernels::Dot(&wq[q * k], &e[i * k], k) + qc * inv_cc[i] * delta[i];
    top[q].Offer(s.metric == Metric::kL2 ? 2 * ip - v.base_norm[i] : ip,
                 static_cast<uint32_t>(i));
  });
  std::vector<int> hits(v.queries);
  for (size_t q = 0; q < v.queries; ++q) {
    const std::vector<uint32_t> est = top[q].Ids();
    std::vector<uint32_t> common;
    std::set_intersection(v.truth[q].begin(), v.truth[q].end(), est.begin(),
                          est.end(), std::back_inserter(common));
    hits[q] = static_cast<int>(common.size());
  }
  return hits;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScanCodec>> TrainPcaCodec(
    const CodecOptions& o, const float* train, const ValidationSample& s,
    uint64_t seed, uint32_t threads) {
  if (o.pca_weighting != PcaWeighting::kAuto) {
    return CreatePcaCodec(o, s.d, train, s.n);
  }
  CodecOptions plain = o, with_weights = o;
  plain.pca_weighting = PcaWeighting::kOff;
  with_weights.pca_weighting = PcaWeighting::kOn;
  const size_t queries = std::min(kChoiceQueries, s.n / 10);
  const size_t nb = s.n - queries;
  if (queries < kChoiceTop || nb < kChoiceMinBase) {
    return CreatePcaCodec(plain, s.d, train, s.n);
  }
  // One thread: the pool has no workers and runs everything inline.
  ThreadPool pool(std::max<uint32_t>(threads, 1));
  // The two variants trained side by side (each is single-threaded).
  std::unique_ptr<ScanCodec> variant[2];
  absl::Status variant_status[2];
  pool.ParallelFor(2, [&](size_t w) {
    absl::StatusOr<std::unique_ptr<ScanCodec>> c =
        CreatePcaCodec(w == 0 ? plain : with_weights, s.d, train, s.n);
    if (c.ok()) {
      variant[w] = *std::move(c);
    } else {
      variant_status[w] = c.status();
    }
  });
  for (const absl::Status& st : variant_status) TQ_RETURN_IF_ERROR(st);
  std::unique_ptr<ScanCodec>& unweighted = variant[0];
  std::unique_ptr<ScanCodec>& weighted = variant[1];
  // The queries: a seeded draw (a sample may come in the order of the
  // data: sorted by frequency, by date), the base the rest in the same
  // draw's order.
  Rng rng(seed);
  const Validation v = MakeValidation(
      s, queries, RandomPermutation(static_cast<uint32_t>(s.n), &rng), pool);
  TQ_ASSIGN_OR_RETURN(std::vector<int> without,
                      ValidationHits(*unweighted, v, pool));
  TQ_ASSIGN_OR_RETURN(std::vector<int> with,
                      ValidationHits(*weighted, v, pool));
  // A paired test on the queries' differences: the weighting is kept only
  // if its mean gain is at least kChoiceSigmas standard errors above 0.
  double sum = 0, sum_sq = 0;
  for (size_t q = 0; q < queries; ++q) {
    const double diff = with[q] - without[q];
    sum += diff;
    sum_sq += diff * diff;
  }
  const double mean = sum / queries;
  const double var = std::max(0.0, sum_sq / queries - mean * mean);
  const double se = std::sqrt(var / (queries - 1));
  return mean > kChoiceSigmas * se && mean > 0 ? std::move(weighted)
                                               : std::move(unweighted);
}

}  // namespace tqdb
