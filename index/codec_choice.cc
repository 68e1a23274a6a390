#include "index/codec_choice.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>
#include <vector>

#include "index/pca_codec.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

constexpr size_t kChoiceTop = 10;

// Calls f(q, i) for every query q < queries and row i < rows, a block of
// rows at a time for all queries (the rows, read from memory once, are
// what does not fit in cache).
template <typename F>
void ForBlocks(size_t queries, size_t rows, F f) {
  constexpr size_t kBlock = 64;
  for (size_t i0 = 0; i0 < rows; i0 += kBlock) {
    const size_t i1 = std::min(rows, i0 + kBlock);
    for (size_t q = 0; q < queries; ++q) {
      for (size_t i = i0; i < i1; ++i) f(q, i);
    }
  }
}

// The ids of the kChoiceTop largest of score[0, n), ascending.
std::vector<uint32_t> ChoiceTopIds(const float* score, size_t n) {
  std::vector<uint32_t> ids(n);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<uint32_t>(i);
  std::partial_sort(ids.begin(), ids.begin() + kChoiceTop, ids.end(),
                    [&](uint32_t a, uint32_t b) {
                      return score[a] > score[b] ||
                             (score[a] == score[b] && a < b);
                    });
  ids.resize(kChoiceTop);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The sample's rows [queries, n) as the base, with what scoring them needs
// besides a codec: the residuals, <u, c> of each query and list, the exact
// top 10 of each query.
struct Validation {
  const ValidationSample* s = nullptr;
  size_t queries = 0, nb = 0;
  std::vector<float> resid;      // nb x d
  std::vector<float> base_norm;  // nb (L2: ||x||^2)
  std::vector<float> qc;         // queries x nlist: <u, c> of each list
  std::vector<std::vector<uint32_t>> truth;

  const float* base(size_t i) const { return s->x + (queries + i) * s->d; }
  const float* centroid(size_t i) const {
    return s->centroids == nullptr
               ? nullptr
               : &s->centroids[size_t{s->list[queries + i]} * s->d];
  }
};

Validation MakeValidation(const ValidationSample& s, size_t queries) {
  Validation v;
  v.s = &s;
  v.queries = queries;
  v.nb = s.n - queries;
  const size_t d = s.d, nb = v.nb;
  v.resid.resize(nb * d);
  v.base_norm.assign(nb, 0.0f);
  for (size_t i = 0; i < nb; ++i) {
    const float* c = v.centroid(i);
    for (size_t a = 0; a < d; ++a) {
      v.resid[i * d + a] = v.base(i)[a] - (c != nullptr ? c[a] : 0.0f);
    }
    if (s.metric == Metric::kL2) {
      v.base_norm[i] = kernels::Dot(v.base(i), v.base(i), d);
    }
  }
  v.qc.assign(s.centroids != nullptr ? queries * s.nlist : 0, 0.0f);
  std::vector<float> exact(queries * nb);
  ForBlocks(queries, nb, [&](size_t q, size_t i) {
    const float ip = kernels::Dot(s.x + q * d, v.base(i), d);
    exact[q * nb + i] = s.metric == Metric::kL2 ? 2 * ip - v.base_norm[i] : ip;
  });
  for (size_t q = 0; q < queries; ++q) {
    if (s.centroids != nullptr) {
      for (uint32_t l = 0; l < s.nlist; ++l) {
        v.qc[q * s.nlist + l] =
            kernels::Dot(s.x + q * d, &s.centroids[size_t{l} * d], d);
      }
    }
    v.truth.push_back(ChoiceTopIds(&exact[q * nb], nb));
  }
  return v;
}

// How many of each query's true top 10 the codec's estimates (with the
// index's centroid terms) rank in their top 10.
absl::StatusOr<std::vector<int>> ValidationHits(const ScanCodec& codec,
                                                const Validation& v) {
  const ScalarCodeInfo* info = codec.scalar_info();
  if (info == nullptr || codec.combine_form().kind != CombineForm::kScaled) {
    return absl::InvalidArgumentError(
        "codec choice: the codec has no scaled scalar view");
  }
  const ValidationSample& s = *v.s;
  const size_t d = s.d, k = info->width.size(), nb = v.nb;
  // The base rows' codes read back as e_i[j] = f0 * level_j, so that the
  // estimate of <u, r_i> is <QueryWeights(u), e_i>.
  std::vector<uint8_t> codes(nb * codec.code_bytes());
  TQ_RETURN_IF_ERROR(codec.EncodeBatch(v.resid.data(), nb, codes.data()));
  std::vector<float> e(nb * k), factors(codec.shape().nfactors + 1);
  std::vector<uint8_t> idx(k);
  for (size_t i = 0; i < nb; ++i) {
    codec.UnpackIndices(&codes[i * codec.code_bytes()], idx.data(),
                        factors.data());
    for (size_t j = 0; j < k; ++j) {
      e[i * k + j] = factors[0] * info->levels[info->width[j]][idx[j]];
    }
  }
  // The centroid correction: delta_i = <c, r_i> - est(<c, r_i>), added as
  // <u, c> / ||c||^2 * delta_i; a list's weights computed once.
  std::vector<float> delta(nb, 0.0f), inv_cc(nb, 0.0f);
  if (s.center_factor && s.centroids != nullptr) {
    std::vector<std::vector<float>> list_w(s.nlist);
    for (size_t i = 0; i < nb; ++i) {
      std::vector<float>& cw = list_w[s.list[v.queries + i]];
      if (cw.empty()) {
        cw.resize(k);
        codec.QueryWeights(v.centroid(i), cw.data());
      }
      const float cc = kernels::Dot(v.centroid(i), v.centroid(i), d);
      delta[i] = kernels::Dot(v.centroid(i), &v.resid[i * d], d) -
                 kernels::Dot(cw.data(), &e[i * k], k);
      inv_cc[i] = cc > 0 ? 1.0f / cc : 0.0f;
    }
  }
  std::vector<float> wq(v.queries * k), est(v.queries * nb);
  for (size_t q = 0; q < v.queries; ++q) {
    codec.QueryWeights(s.x + q * d, &wq[q * k]);
  }
  ForBlocks(v.queries, nb, [&](size_t q, size_t i) {
    const float qc =
        s.centroids != nullptr ? v.qc[q * s.nlist + s.list[v.queries + i]] : 0;
    const float ip =
        qc + kernels::Dot(&wq[q * k], &e[i * k], k) + qc * inv_cc[i] * delta[i];
    est[q * nb + i] = s.metric == Metric::kL2 ? 2 * ip - v.base_norm[i] : ip;
  });
  std::vector<int> hits(v.queries);
  for (size_t q = 0; q < v.queries; ++q) {
    const std::vector<uint32_t> top = ChoiceTopIds(&est[q * nb], nb);
    std::vector<uint32_t> common;
    std::set_intersection(v.truth[q].begin(), v.truth[q].end(), top.begin(),
                          top.end(), std::back_inserter(common));
    hits[q] = static_cast<int>(common.size());
  }
  return hits;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScanCodec>> TrainPcaCodec(
    const CodecOptions& o, const float* train, const ValidationSample& s,
    uint64_t seed) {
  if (o.pca_weighting != PcaWeighting::kAuto) {
    return CreatePcaCodec(o, s.d, train, s.n);
  }
  CodecOptions plain = o, with_weights = o;
  plain.pca_weighting = PcaWeighting::kOff;
  with_weights.pca_weighting = PcaWeighting::kOn;
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<ScanCodec> unweighted,
                      CreatePcaCodec(plain, s.d, train, s.n));
  const size_t queries = std::min(kChoiceQueries, s.n / 10);
  const size_t nb = s.n - queries;
  if (queries < kChoiceTop || nb < kChoiceMinBase) return unweighted;
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<ScanCodec> weighted,
                      CreatePcaCodec(with_weights, s.d, train, s.n));
  // The queries: a seeded draw (a sample may come in the order of the
  // data: sorted by frequency, by date), moved to the front.
  Rng rng(seed);
  std::vector<uint32_t> order =
      RandomPermutation(static_cast<uint32_t>(s.n), &rng);
  std::vector<float> x(s.n * s.d);
  std::vector<uint32_t> list(s.list != nullptr ? s.n : 0);
  for (size_t i = 0; i < s.n; ++i) {
    std::copy(s.x + size_t{order[i]} * s.d, s.x + size_t{order[i] + 1} * s.d,
              &x[i * s.d]);
    if (s.list != nullptr) list[i] = s.list[order[i]];
  }
  ValidationSample shuffled = s;
  shuffled.x = x.data();
  shuffled.list = s.list != nullptr ? list.data() : nullptr;
  const Validation v = MakeValidation(shuffled, queries);
  TQ_ASSIGN_OR_RETURN(std::vector<int> without, ValidationHits(*unweighted, v));
  TQ_ASSIGN_OR_RETURN(std::vector<int> with, ValidationHits(*weighted, v));
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
