#include "tools/bench/recall.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "quant/kernels.h"
#include "tools/io/matrix.h"

namespace tqdb {

std::vector<float> Normalized(const std::vector<float>& x, size_t n, size_t d) {
  std::vector<float> y(x);
  for (size_t i = 0; i < n; ++i) {
    float* r = &y[i * d];
    const float nsq = kernels::Dot(r, r, d);
    if (nsq > 0) {
      const float inv = 1.0f / std::sqrt(nsq);
      for (size_t j = 0; j < d; ++j) r[j] *= inv;
    }
  }
  return y;
}

GroundTruth BruteForce(const std::vector<float>& base, size_t n,
                       const std::vector<float>& queries, size_t nq, size_t d,
                       bool l2, ThreadPool* pool) {
  GroundTruth gt;
  gt.width = std::min(kGtK, n);
  gt.ids.resize(nq * gt.width);
  // Queries in blocks against base chunks of about 1 MiB, so that a chunk
  // is read from memory once per block rather than once per query (a base
  // of 1M x 512 floats is 2 GB: per query that would be memory-bound).
  // Each query keeps its best `width` (key, id) pairs in a max-heap; pairs
  // compare by key, then id, so the result is that of a full sort.
  constexpr size_t kQueryBlock = 32;
  const size_t chunk = std::max<size_t>(1, (size_t{1} << 20) / (4 * d));
  const size_t nblocks = (nq + kQueryBlock - 1) / kQueryBlock;
  using Entry = std::pair<float, int32_t>;  // (key, id), smaller first
  auto block = [&](size_t b) {
    const size_t q0 = b * kQueryBlock, q1 = std::min(nq, q0 + kQueryBlock);
    std::vector<std::vector<Entry>> heaps(q1 - q0);
    for (auto& h : heaps) h.reserve(gt.width);
    for (size_t j0 = 0; j0 < n; j0 += chunk) {
      const size_t j1 = std::min(n, j0 + chunk);
      for (size_t i = q0; i < q1; ++i) {
        const float* q = &queries[i * d];
        std::vector<Entry>& h = heaps[i - q0];
        for (size_t j = j0; j < j1; ++j) {
          const float* x = &base[j * d];
          const Entry e{l2 ? kernels::L2Sqr(q, x, d) : -kernels::Dot(q, x, d),
                        static_cast<int32_t>(j)};
          if (h.size() < gt.width) {
            h.push_back(e);
            std::push_heap(h.begin(), h.end());
          } else if (e < h.front()) {
            std::pop_heap(h.begin(), h.end());
            h.back() = e;
            std::push_heap(h.begin(), h.end());
          }
        }
      }
    }
    for (size_t i = q0; i < q1; ++i) {
      std::vector<Entry>& h = heaps[i - q0];
      std::sort_heap(h.begin(), h.end());
      for (size_t r = 0; r < gt.width; ++r) {
        gt.ids[i * gt.width + r] = h[r].second;
      }
    }
  };
  if (pool) {
    pool->ParallelFor(nblocks, block);
  } else {
    for (size_t b = 0; b < nblocks; ++b) block(b);
  }
  return gt;
}

void ComputeRecall(const Results& r, const GroundTruth& gt, size_t nq,
                   double* recall1_at, double* recall10) {
  std::fill(recall1_at, recall1_at + kNumAt, 0.0);
  const size_t t = std::min<size_t>(10, gt.width);
  double r10 = 0;
  for (size_t i = 0; i < nq; ++i) {
    const int64_t* ids = &r.ids[i * r.width];
    const int64_t top1 = gt.ids[i * gt.width];
    size_t pos = r.width;
    for (size_t p = 0; p < r.width; ++p) {
      if (ids[p] == top1) {
        pos = p;
        break;
      }
    }
    for (int j = 0; j < kNumAt; ++j) {
      if (pos < (size_t{1} << j)) recall1_at[j] += 1;
    }
    if (recall10) {
      std::unordered_set<int64_t> truth(gt.ids.begin() + i * gt.width,
                                        gt.ids.begin() + i * gt.width + t);
      size_t hit = 0;
      for (size_t p = 0; p < std::min<size_t>(10, r.width); ++p) {
        hit += ids[p] >= 0 && truth.count(ids[p]);
      }
      r10 += static_cast<double>(hit) / t;
    }
  }
  for (int j = 0; j < kNumAt; ++j) recall1_at[j] /= nq;
  if (recall10) *recall10 = r10 / nq;
}

Results ToResults(const std::vector<std::vector<Neighbor>>& res, size_t width) {
  Results r;
  r.width = width;
  r.ids.assign(res.size() * width, -1);
  for (size_t i = 0; i < res.size(); ++i) {
    for (size_t p = 0; p < std::min(width, res[i].size()); ++p) {
      r.ids[i * width + p] = static_cast<int64_t>(res[i][p].id);
    }
  }
  return r;
}

absl::Status LoadGroundTruth(const std::string& path, size_t nq, size_t n,
                             GroundTruth* gt) {
  absl::StatusOr<IntMatrix> read = ReadIntMatrix(path, nq);
  if (!read.ok()) return read.status();
  IntMatrix& g = *read;
  if (g.rows < nq) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " has ", g.rows, " rows, fewer than the ", nq, " queries"));
  }
  for (size_t i = 0; i < nq; ++i) {
    for (size_t j = 0; j < g.dim; ++j) {
      const int32_t id = g.row(i)[j];
      if (id < 0 || static_cast<size_t>(id) >= n) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, " row ", i + 1, ": id ", id,
                         " is not a row of the base (", n, " rows)"));
      }
    }
  }
  gt->width = g.dim;
  gt->ids = std::move(g.data);
  return absl::OkStatus();
}

}  // namespace tqdb
