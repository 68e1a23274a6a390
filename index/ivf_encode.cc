// IvfIndex::Encode (index/ivf_index.h): assignment to lists, residuals,
// the codec's codes and the centroid correction written into them.
#include <algorithm>
#include <thread>
#include <vector>

#include "index/ivf_index.h"
#include "index/thread_pool.h"
#include "quant/kernels.h"
#include "quant/status_macros.h"

namespace tqdb {

absl::Status IvfIndex::Encode(const float* x, size_t n, uint32_t* list_ids,
                              uint8_t* codes) const {
  const uint32_t d = options_.dim;
  std::vector<float> xp;
  Prepare(x, n, &xp);
  const uint32_t threads = ResolveThreads(options_.threads);
  assigner_->Assign(xp.data(), n, d, list_ids, nullptr, threads);
  if (options_.residual) {
    for (size_t i = 0; i < n; ++i) {
      const float* c = &centroids_[size_t{list_ids[i]} * d];
      for (uint32_t j = 0; j < d; ++j) xp[i * d + j] -= c[j];
    }
  }
  const size_t bpv = codec_->code_bytes();
  if (threads <= 1 || n < 256) {
    TQ_RETURN_IF_ERROR(codec_->EncodeBatch(xp.data(), n, codes));
    SetCenterFactors(xp.data(), list_ids, n, codes);
    return absl::OkStatus();
  }
  // Encode in parallel chunks.
  const size_t chunks = std::min<size_t>(threads, (n + 127) / 128);
  const size_t per = (n + chunks - 1) / chunks;
  std::vector<absl::Status> st(chunks);
  std::vector<std::thread> ts;
  for (size_t c = 0; c < chunks; ++c) {
    ts.emplace_back([&, c] {
      const size_t lo = c * per, hi = std::min(n, lo + per);
      if (lo < hi) {
        st[c] = codec_->EncodeBatch(&xp[lo * d], hi - lo, codes + lo * bpv);
      }
    });
  }
  for (auto& t : ts) t.join();
  for (auto& s : st) TQ_RETURN_IF_ERROR(s);
  SetCenterFactors(xp.data(), list_ids, n, codes);
  return absl::OkStatus();
}

void IvfIndex::SetCenterFactors(const float* residuals,
                                const uint32_t* list_ids, size_t n,
                                uint8_t* codes) const {
  const CombineForm cf = codec_->combine_form();
  const bool center = cf.center_factor >= 0;
  if ((!center && !cf.centered_norm) || !options_.residual) return;
  // delta = <c, r> - the codec's estimate of it from the code (factors as
  // stored), with one table per list: rows grouped by list. n' = ||r||^2 +
  // 2 <c, r>, exact.
  const uint32_t d = options_.dim;
  const size_t bpv = codec_->code_bytes();
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return list_ids[a] < list_ids[b] || (list_ids[a] == list_ids[b] && a < b);
  });
  // Rows order[lo, hi): each range starts a list, so its table is built
  // once.
  auto run = [&](size_t lo, size_t hi) {
    QueryLuts luts;
    uint32_t current = nlist_;
    const float* c = nullptr;
    for (size_t at = lo; at < hi; ++at) {
      const uint32_t i = order[at];
      if (list_ids[i] != current) {
        current = list_ids[i];
        c = &centroids_[size_t{current} * d];
        if (center) codec_->BuildLuts(c, /*l2=*/false, &luts);
      }
      uint8_t* code = codes + size_t{i} * bpv;
      const float* r = residuals + size_t{i} * d;
      const float cr = kernels::Dot(c, r, d);
      if (cf.centered_norm) {
        codec_->SetCenteredNorm(code, kernels::Dot(r, r, d) + 2.0f * cr);
      }
      if (center) {
        codec_->SetCenterFactor(code,
                                cr - EstimateFromLuts(*codec_, luts, code));
      }
    }
  };
  const uint32_t threads = ResolveThreads(options_.threads);
  if (threads <= 1 || n < 256) {
    run(0, n);
    return;
  }
  // Chunks of about n / threads rows, cut where a list starts.
  std::vector<size_t> cuts = {0};
  for (uint32_t t = 1; t < threads; ++t) {
    size_t at = std::max(cuts.back(), n * t / threads);
    while (at < n && at > 0 && list_ids[order[at]] == list_ids[order[at - 1]]) {
      ++at;
    }
    cuts.push_back(at);
  }
  cuts.push_back(n);
  std::vector<std::thread> ts;
  for (size_t t = 0; t + 1 < cuts.size(); ++t) {
    if (cuts[t] < cuts[t + 1]) ts.emplace_back(run, cuts[t], cuts[t + 1]);
  }
  for (auto& t : ts) t.join();
}

}  // namespace tqdb
