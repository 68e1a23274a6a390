#include "index/ivf_index.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "index/codec_choice.h"
#include "index/prefetch.h"
#include "index/scanner.h"
#include "index/thread_pool.h"
#include "quant/finite.h"
#include "quant/kernels.h"
#include "quant/kmeans.h"
#include "quant/random.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

constexpr size_t kMaxCodecTrain = 65536;

}  // namespace

absl::Status IvfIndex::CheckVectors(const float* x, size_t n,
                                    absl::string_view what) const {
  const size_t d = options_.dim;
  for (size_t i = 0; i < n; ++i) {
    if (const std::ptrdiff_t j = FirstNonFinite(x + i * d, d); j >= 0) {
      const float v = x[i * d + j];
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", i, " coordinate ", j, " is ",
                       std::isnan(v) ? "NaN" : "infinite"));
    }
  }
  return absl::OkStatus();
}

void IvfIndex::Prepare(const float* x, size_t n,
                       std::vector<float>* out) const {
  const size_t d = options_.dim;
  out->assign(x, x + n * d);
  if (options_.metric != Metric::kCosine) return;
  for (size_t i = 0; i < n; ++i) {
    float* r = out->data() + i * d;
    const float nsq = kernels::Dot(r, r, d);
    if (nsq > 0) {
      const float inv = 1.0f / std::sqrt(nsq);
      for (size_t j = 0; j < d; ++j) r[j] *= inv;
    }
  }
}

absl::StatusOr<std::unique_ptr<IvfIndex>> IvfIndex::Train(
    const IvfOptions& options, const float* x, size_t n) {
  if (options.dim < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimension must be >= 2, got ", options.dim));
  }
  if (n == 0 || x == nullptr) {
    return absl::InvalidArgumentError("training needs at least one vector");
  }
  std::unique_ptr<IvfIndex> idx(new IvfIndex());
  idx->options_ = options;
  idx->options_.cancelled = nullptr;  // for this call only
  TQ_RETURN_IF_ERROR(idx->CheckVectors(x, n, "training row"));
  const uint32_t d = options.dim;
  uint32_t nlist = options.nlist;
  if (nlist == 0) {
    nlist = static_cast<uint32_t>(std::lround(4.0 * std::sqrt(double(n))));
    nlist = std::max<uint32_t>(1, std::min<uint32_t>(nlist, n / 39));
  }
  if (nlist > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("nlist ", nlist, " exceeds the ", n, " training vectors"));
  }
  idx->nlist_ = nlist;
  std::vector<float> xp;
  idx->Prepare(x, n, &xp);
  const uint32_t threads = ResolveThreads(options.threads);
  if (nlist == 1) {
    idx->centroids_.assign(d, 0.0f);
    if (options.residual) {
      for (size_t i = 0; i < n; ++i) {
        for (uint32_t j = 0; j < d; ++j) idx->centroids_[j] += xp[i * d + j];
      }
      for (uint32_t j = 0; j < d; ++j) idx->centroids_[j] /= n;
    }
  } else {
    KMeansOptions ko;
    ko.k = nlist;
    ko.max_iter = options.kmeans_iters;
    ko.seed = options.seed;
    ko.max_points_per_centroid = options.max_points_per_centroid;
    ko.num_threads = threads;
    ko.cancelled = options.cancelled;
    TQ_ASSIGN_OR_RETURN(KMeansResult km, TrainKMeans(xp.data(), n, d, ko));
    idx->centroids_ = std::move(km.centroids);
    if (options.layout.quantized_coarse) {
      for (uint32_t l = 0; l < nlist; ++l) {
        SnapToInt8Grid(&idx->centroids_[size_t{l} * d], d);
      }
    }
  }
  idx->assigner_ =
      std::make_unique<CentroidAssigner>(idx->centroids_.data(), nlist, d);
  // Codec training data: residuals of a sample (PQ needs it).
  std::vector<float> train;
  std::vector<float> sample;  // pca kAuto: the rows of `train` uncentered
  std::vector<uint32_t> assign;
  size_t nt = 0;
  if (options.codec.method == "pq" || options.codec.method == "pca") {
    nt = std::min(n, kMaxCodecTrain);
    std::vector<uint32_t> rows(n);
    for (size_t i = 0; i < n; ++i) rows[i] = static_cast<uint32_t>(i);
    if (nt < n) {
      Rng rng(options.seed + 17);
      rows = RandomPermutation(static_cast<uint32_t>(n), &rng);
      rows.resize(nt);
    }
    train.resize(nt * d);
    for (size_t i = 0; i < nt; ++i) {
      std::copy(&xp[size_t{rows[i]} * d], &xp[size_t{rows[i]} * d] + d,
                &train[i * d]);
    }
    if (options.codec.method == "pca" &&
        options.codec.pca_weighting == PcaWeighting::kAuto) {
      sample = train;  // TrainPcaCodec's choice scores the rows themselves
    }
    if (options.residual) {
      assign.resize(nt);
      idx->assigner_->Assign(train.data(), nt, d, assign.data(), nullptr,
                             threads);
      for (size_t i = 0; i < nt; ++i) {
        const float* c = &idx->centroids_[size_t{assign[i]} * d];
        for (uint32_t j = 0; j < d; ++j) train[i * d + j] -= c[j];
      }
    }
  }
  CodecOptions co = options.codec;
  co.center_factor =
      options.center_factors && options.residual &&
      (co.method == "mse" || co.method == "renorm" || co.method == "pca");
  co.centered_norm = co.center_factor && options.metric == Metric::kL2;
  // Inner products need no norm; L2 with n' (centered_norm) needs no norm
  // apart from the scale in renorm, while pca keeps n' in its norm's place.
  co.single_factor =
      options.compact_factors &&
      (options.metric != Metric::kL2
           ? co.method == "renorm" || co.method == "pq" || co.method == "pca"
           : co.centered_norm && co.method == "renorm");
  idx->options_.codec = co;
  if (co.method == "pca") {
    ValidationSample vs;
    vs.x = sample.data();
    vs.n = nt;
    vs.d = d;
    vs.metric = options.metric;
    vs.center_factor = co.center_factor;
    if (options.residual) {
      vs.centroids = idx->centroids_.data();
      vs.nlist = nlist;
      vs.list = assign.data();
    }
    TQ_ASSIGN_OR_RETURN(idx->codec_, TrainPcaCodec(co, train.data(), vs,
                                                   options.seed + 23, threads));
  } else {
    TQ_ASSIGN_OR_RETURN(idx->codec_,
                        ScanCodec::Create(co, d, train.data(), nt));
  }
  idx->TrainProbeStats(xp.data(), n, threads);
  idx->InitLists();
  return idx;
}

void IvfIndex::InitLists() {
  centroid_norms_.resize(nlist_);
  for (uint32_t l = 0; l < nlist_; ++l) {
    const float* c = &centroids_[size_t{l} * options_.dim];
    centroid_norms_[l] = kernels::Dot(c, c, options_.dim);
  }
  prog_.reset();
  // A scalar code takes the progressive layout with the first pass asked
  // for, else the one DefaultPrefixBits picks, unless a 4-bit FastScan code
  // (mse, renorm up to 4 bits) would hold less than fastscan_prefix_ratio
  // times the first pass's bits: its full layout is then the faster.
  const ScalarCodeInfo* info = codec_->scalar_info();
  if (options_.layout.progressive && info != nullptr) {
    uint64_t bits = 0;
    for (uint8_t w : info->width) bits += w;
    const double prefix = options_.layout.prefix_bits > 0
                              ? double{options_.layout.prefix_bits}
                              : DefaultPrefixBits(options_.dim, bits);
    const bool fastscan = codec_->shape().m8 == 0;
    if (prefix > 0 &&
        (!fastscan ||
         double(bits) >= double{options_.layout.fastscan_prefix_ratio} *
                             prefix * options_.dim)) {
      prog_ = ProgressiveLayout::Create(*codec_, prefix,
                                        options_.layout.prefix_sharing);
    }
  }
  centroid_weights_ = CentroidWeights();
  if (prog_ != nullptr && prog_->center1_factor() >= 0 && options_.residual) {
    centroid_weights_ = CentroidWeights(*prog_, *codec_, centroids_.data(),
                                        nlist_, options_.dim);
  }
  refine_ = RefineCodec(options_.layout.refine, options_.dim);
  coarse_codes_.clear();
  coarse_scale_.clear();
  coarse_err_norm_.clear();
  coarse_code_norm_.clear();
  centroid_on_code_.clear();
  if (options_.layout.quantized_coarse && nlist_ > 1) {
    coarse_codec_ = RefineCodec(RefineKind::kInt8, options_.dim);
    const uint32_t w = coarse_codec_.code_words();
    coarse_codes_.assign(size_t{nlist_} * w, 0.0f);
    coarse_scale_.resize(nlist_);
    coarse_err_norm_.resize(nlist_);
    coarse_code_norm_.resize(nlist_);
    centroid_on_code_.resize(nlist_);
    std::vector<float> decoded(options_.dim);
    for (uint32_t l = 0; l < nlist_; ++l) {
      float* code = &coarse_codes_[size_t{l} * w];
      const float* c = &centroids_[size_t{l} * options_.dim];
      coarse_codec_.Encode(c, code);
      coarse_codec_.Decode(code, decoded.data());
      double err = 0;
      for (uint32_t i = 0; i < options_.dim; ++i) {
        const double e = double{c[i]} - decoded[i];
        err += e * e;
      }
      centroid_on_code_[l] = std::equal(c, c + options_.dim, decoded.begin());
      coarse_scale_[l] = coarse_codec_.Scale(code);
      // Rounded up: the bound multiplies them as upper bounds (||c^||^2 is
      // the code's own, summed in double by Encode).
      coarse_err_norm_[l] = static_cast<float>(std::sqrt(err) * 1.0001);
      coarse_code_norm_[l] = static_cast<float>(
          std::sqrt(double{coarse_codec_.NormSq(code)}) * 1.0001);
    }
  }
  lists_.assign(nlist_, InvertedList(prog_ ? prog_->shape() : codec_->shape(),
                                     refine_.code_words(),
                                     /*blocked_c=*/prog_ == nullptr));
  probe_sigma_.clear();
  if (!list_spread_.empty()) {
    probe_sigma_.resize(nlist_);
    for (uint32_t l = 0; l < nlist_; ++l) {
      probe_sigma_[l] = 2.0f * std::sqrt(list_spread_[l] / spread_dims_);
    }
  }
  UpdateProbeKappa();
}

size_t IvfIndex::memory_bytes_per_code() const {
  if (prog_) return prog_->memory_bytes_per_vector();
  return codec_->shape().bytes_per_vector();
}

absl::Status IvfIndex::Add(const uint64_t* ids, const float* x, size_t n) {
  if (n == 0) return absl::OkStatus();
  TQ_RETURN_IF_ERROR(CheckVectors(x, n, "row"));
  std::vector<uint32_t> lists(n);
  std::vector<uint8_t> codes(n * codec_->code_bytes());
  TQ_RETURN_IF_ERROR(Encode(x, n, lists.data(), codes.data()));
  return AddEncoded(ids, lists.data(), codes.data(), n, nullptr, x);
}

absl::Status IvfIndex::AddEncoded(const uint64_t* ids, const uint32_t* list_ids,
                                  const uint8_t* codes, size_t n,
                                  const uint32_t* iids, const float* raw) {
  for (size_t i = 0; i < n; ++i) {
    if (list_ids[i] >= nlist_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "row ", i, ": list ", list_ids[i], " >= nlist ", nlist_));
    }
  }
  // The rescoring codes, of the vectors as the index compares them.
  std::vector<float> rc;
  const uint32_t rw = refine_.code_words();
  if (refine_.enabled()) {
    if (raw == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the index keeps ", RefineKindName(refine_.kind()),
          " rescoring codes in memory (LayoutOptions::refine): adding "
          "encoded vectors needs their raw vectors too"));
    }
    TQ_RETURN_IF_ERROR(CheckVectors(raw, n, "row"));
    std::vector<float> xp;
    Prepare(raw, n, &xp);
    rc.resize(n * rw);
    for (size_t i = 0; i < n; ++i) {
      refine_.Encode(&xp[i * options_.dim], &rc[i * rw]);
    }
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (size_t i = 0; i < n; ++i) {
    InsertLocked(ids[i], iids ? iids[i] : kNoIid, list_ids[i],
                 codes + i * codec_->code_bytes(),
                 rw > 0 ? &rc[i * rw] : nullptr);
  }
  UpdateProbeKappa();
  return absl::OkStatus();
}

void IvfIndex::SetLocation(uint32_t iid, uint32_t list, uint32_t slot) {
  if (iid == kNoIid) return;
  if (iid >= loc_.size()) {
    loc_.resize(std::max<size_t>(size_t{iid} + 1, loc_.size() * 3 / 2),
                Location{kNoIid, 0});
  }
  loc_[iid] = Location{list, slot};
}

void IvfIndex::InsertLocked(uint64_t id, uint32_t iid, uint32_t list,
                            const uint8_t* code, const float* refine) {
  RemoveLocked(id);
  const ScanShape& s = prog_ ? prog_->shape() : codec_->shape();
  thread_local std::vector<uint8_t> a, b, c;
  thread_local std::vector<float> f;
  a.assign(s.m4a, 0);
  b.assign(s.m4b, 0);
  c.assign(s.m8, 0);
  f.assign(s.nfactors + s.nfactors16, 0.0f);
  if (prog_) {
    prog_->Unpack(
        code, a.data(), c.data(), f.data(),
        centroid_weights_.empty() ? nullptr : centroid_weights_.weights(list));
  } else {
    codec_->Unpack(code, a.data(), b.data(), c.data(), f.data());
  }
  const uint32_t slot = lists_[list].Append(id, iid, a.data(), b.data(),
                                            c.data(), f.data(), refine);
  where_[id] = Location{list, slot};
  SetLocation(iid, list, slot);
}

bool IvfIndex::RemoveLocked(uint64_t id) {
  auto it = where_.find(id);
  if (it == where_.end()) return false;
  const Location loc = it->second;
  where_.erase(it);
  InvertedList& l = lists_[loc.list];
  const uint32_t iid = l.iids()[loc.slot];
  if (iid != kNoIid && iid < loc_.size()) loc_[iid] = Location{kNoIid, 0};
  l.MarkDeleted(loc.slot);
  if (l.tombstones() > 32 && l.tombstones() * 4 > l.size()) {
    l.Compact([&](uint64_t moved_id, uint32_t slot) {
      where_[moved_id] = Location{loc.list, slot};
      SetLocation(l.iids()[slot], loc.list, slot);
    });
  }
  return true;
}

size_t IvfIndex::Remove(const uint64_t* ids, size_t n) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  size_t removed = 0;
  for (size_t i = 0; i < n; ++i) removed += RemoveLocked(ids[i]);
  UpdateProbeKappa();
  return removed;
}

bool IvfIndex::Contains(uint64_t id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return where_.contains(id);
}

size_t IvfIndex::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return where_.size();
}

ListStats IvfIndex::stats() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  ListStats st;
  st.nlist = nlist_;
  std::vector<uint32_t> sizes(nlist_);
  st.min_size = UINT32_MAX;
  for (uint32_t i = 0; i < nlist_; ++i) {
    sizes[i] = lists_[i].live();
    st.live += sizes[i];
    st.tombstones += lists_[i].tombstones();
    st.min_size = std::min(st.min_size, sizes[i]);
    st.max_size = std::max(st.max_size, sizes[i]);
  }
  st.imbalance = ImbalanceFactor(sizes);
  st.sizes = std::move(sizes);
  return st;
}

size_t IvfIndex::MemoryBytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  size_t bytes = (centroids_.capacity() + centroid_norms_.capacity() +
                  coarse_codes_.capacity() + coarse_scale_.capacity() +
                  coarse_err_norm_.capacity() + coarse_code_norm_.capacity()) *
                 sizeof(float);
  bytes += centroid_on_code_.capacity();
  bytes += centroid_weights_.MemoryBytes();
  for (const InvertedList& l : lists_) bytes += l.MemoryBytes();
  // absl::flat_hash_map: one slot and one control byte per bucket.
  bytes += where_.capacity() * (sizeof(std::pair<uint64_t, Location>) + 1);
  return bytes;
}

size_t IvfIndex::MemoryBytesPerVector() const {
  // The map's buckets at its maximum load factor of 7/8.
  const size_t map_entry = (sizeof(std::pair<uint64_t, Location>) + 1) * 8 / 7;
  return memory_bytes_per_code() + refine_.code_bytes() + sizeof(uint64_t) + 1 +
         map_entry;
}

double IvfIndex::BytesRead(const SearchStats& s) const {
  const double d = options_.dim;
  double bytes = 4 * d * s.centroids_exact;
  bytes += double(s.centroids_quantized) * coarse_codec_.code_bytes();
  if (prog_) {
    bytes += double(s.codes_scanned) * prog_->prefix_bytes() +
             double(s.refined) * prog_->refine_bytes();
  } else {
    bytes += double(s.codes_scanned) * memory_bytes_per_code();
  }
  bytes +=
      double(s.rescored) * (refine_.enabled() ? refine_.code_bytes() : 4 * d);
  bytes += double(s.tables_built) *
           double(codec_->query_bytes() + (prog_ ? prog_->query_bytes() : 0));
  // The progressive first pass's per-list bound reads the code of the
  // centroid's weights (counted for every probed list when the index keeps
  // them).
  if (!centroid_weights_.empty()) {
    bytes +=
        double(s.lists_probed) * double(centroid_weights_.codec().code_bytes());
  }
  return bytes;
}

absl::Status CancelledSearch() {
  return absl::CancelledError("search cancelled (deadline or client gone)");
}

size_t KScan(const SearchParams& p) {
  return p.rescore ? static_cast<size_t>(std::ceil(p.k * p.oversampling)) : p.k;
}

absl::StatusOr<std::vector<Neighbor>> IvfIndex::Search(
    const float* query, const SearchParams& p) const {
  TQ_RETURN_IF_ERROR(CheckSearchParams(p));
  TQ_RETURN_IF_ERROR(CheckVectors(query, 1, "query"));
  return SearchValidated(query, p, p.store);
}

absl::Status IvfIndex::CheckSearchParams(const SearchParams& p) const {
  if (p.k == 0) return absl::InvalidArgumentError("k must be >= 1");
  if (p.nprobe > nlist_) {
    return absl::InvalidArgumentError(
        absl::StrCat("nprobe ", p.nprobe, " exceeds nlist ", nlist_));
  }
  if ((p.exact || (p.rescore && !refine_.enabled())) && p.store == nullptr) {
    return absl::FailedPreconditionError(
        "exact search and rescoring need the raw vectors (no store given)");
  }
  if (p.rescore && !(p.oversampling >= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("oversampling must be >= 1, got ", p.oversampling));
  }
  if (!(p.probe_sigmas >= 0.0f && p.probe_sigmas <= 1000.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "probe_sigmas must be in [0, 1000], got ", p.probe_sigmas));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Neighbor>> IvfIndex::SearchValidated(
    const float* query, const SearchParams& p, const VectorStore* store) const {
  if (p.exact) return SearchExact(query, p, *store);
  std::vector<float> q;
  Prepare(query, 1, &q);
  if (p.allowed != nullptr) return SearchFiltered(q, p, store);
  // Coarse step: the nprobe lists first in p.probe_order. Vectors are
  // assigned to their nearest centroid (L2 Voronoi cells, which keeps
  // residuals small); for inner products a list is then ranked by the best
  // score it can be expected to hold (types.h, ProbeOrder): on use512 the
  // nearest centroid in L2 found the true top-1's list more often than <q,
  // c> alone (0.843 vs 0.799 of queries at nprobe 8 of 565), since L2 adds
  // half the list's spread; the expected best weighs the spread by the
  // residuals' effective dimension and the mean list size instead.
  const uint32_t nprobe =
      p.nprobe == 0 || p.nprobe > nlist_ ? nlist_ : p.nprobe;
  SearchStats stats;
  std::vector<std::pair<float, uint32_t>> order;
  NearestLists(q.data(), nprobe, p.probe_order, &order, &stats);
  TopK heap(KScan(p));
  ListScanner scanner = NewScanner(p);
  ScopedScanBuffers buffers(&scanner);
  scanner.SetQuery(q.data());
  thread_local std::vector<float> reach;
  ProbeReach(q.data(), p, order, &reach);
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto prefetch = [&](size_t i) {
      scanner.Prefetch(order[i].second, lists_[order[i].second]);
    };
    if (!order.empty()) prefetch(0);
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& [score, l] = order[i];
      if (p.cancelled && p.cancelled()) return CancelledSearch();
      // Adaptive probing: the k-th score only rises, so a list out of
      // reach now is skipped when its turn comes (and not prefetched).
      const float kth = reach.empty() ? 0.0f : scanner.Threshold(heap);
      const bool skip = !reach.empty() && reach[i] < kth;
      if (i + 1 < order.size() && (reach.empty() || reach[i + 1] >= kth)) {
        prefetch(i + 1);
      }
      // The list object after it (its vectors' data pointers and sizes,
      // four lines), which that prefetch reads: one list ahead, its loads
      // missed (a fifth of ListScanner::Prefetch's samples on GloVe-100;
      // 1.018x there at nprobe 72, 1.008x use512, in one process).
      if (i + 2 < order.size()) {
        PrefetchBytes(&lists_[order[i + 2].second], sizeof(InvertedList));
      }
      if (skip) {
        ++stats.lists_skipped;
        continue;
      }
      scanner.SetList(l, -score);
      scanner.Scan(lists_[l], &heap, p.id_filter ? &p.id_filter : nullptr);
      stats.codes_scanned += lists_[l].size();
    }
    scanner.Finish(&heap);
  }
  stats.lists_probed =
      static_cast<uint32_t>(order.size()) - stats.lists_skipped;
  stats.refined = scanner.refined();
  stats.tables_built = scanner.tables_built();
  return Finish(q.data(), p, store, &heap, &stats);
}

ListScanner IvfIndex::NewScanner(const SearchParams& p) const {
  ListScanner scanner(*codec_, options_.metric == Metric::kL2,
                      options_.residual, centroids_.data(), options_.dim,
                      prog_.get());
  scanner.set_refine_sigmas(p.refine_sigmas);
  scanner.set_centroid_norms(centroid_norms_.data());
  if (!centroid_weights_.empty()) {
    scanner.set_centroid_weights(&centroid_weights_);
  }
  return scanner;
}

std::vector<Neighbor> IvfIndex::Finish(const float* q, const SearchParams& p,
                                       const VectorStore* store, TopK* heap,
                                       SearchStats* stats) const {
  std::vector<std::pair<float, uint64_t>> cand = heap->TakeSorted();
  if (p.rescore && refine_.enabled()) {
    cand = RescoreInMemory(q, p.k, cand, stats);
  } else if (p.rescore) {
    const size_t d = options_.dim;
    std::vector<uint64_t> ids(cand.size());
    for (size_t i = 0; i < cand.size(); ++i) ids[i] = cand[i].second;
    std::vector<float> v(ids.size() * d);
    std::unique_ptr<bool[]> found(new bool[ids.size()]);
    store->GetVectors(ids.data(), ids.size(), d, v.data(), found.get());
    TopK best(p.k);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!found[i]) continue;  // deleted meanwhile
      best.Push(ExactGoodness(q, &v[i * d]), ids[i]);
      ++stats->rescored;
    }
    cand = best.TakeSorted();
  } else if (cand.size() > p.k) {
    cand.resize(p.k);
  }
  const bool l2 = options_.metric == Metric::kL2;
  std::vector<Neighbor> out;
  out.reserve(cand.size());
  for (const auto& [g, id] : cand) out.push_back({id, l2 ? -g : g});
  if (p.stats != nullptr) *p.stats = *stats;
  return out;
}

std::vector<std::pair<float, uint64_t>> IvfIndex::RescoreInMemory(
    const float* q, size_t k,
    const std::vector<std::pair<float, uint64_t>>& cand,
    SearchStats* stats) const {
  const uint32_t d = options_.dim;
  const Metric m = options_.metric;
  const float q_norm_sq = m == Metric::kL2 ? kernels::Dot(q, q, d) : 0.0f;
  TopK best(k);
  std::shared_lock<std::shared_mutex> lock(mu_);
  // Every candidate's code is a cache miss of its own (they lie anywhere
  // in the lists): find them all first, then score each while the codes
  // a few places ahead load, instead of waiting on one miss after another.
  thread_local std::vector<std::pair<const float*, uint64_t>> codes;
  codes.clear();
  for (const auto& [g, id] : cand) {
    const auto it = where_.find(id);
    if (it == where_.end()) continue;  // deleted meanwhile
    codes.push_back({lists_[it->second.list].refine(it->second.slot), id});
  }
  const size_t code_bytes = refine_.code_bytes();
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < std::min(kAhead, codes.size()); ++i) {
    PrefetchBytes(codes[i].first, code_bytes);
  }
  for (size_t i = 0; i < codes.size(); ++i) {
    if (i + kAhead < codes.size()) {
      PrefetchBytes(codes[i + kAhead].first, code_bytes);
    }
    const auto [code, id] = codes[i];
    const float dot = refine_.Dot(q, code);
    float goodness = dot;
    if (m == Metric::kL2) {
      goodness = -(q_norm_sq - 2.0f * dot + refine_.NormSq(code));
    } else if (m == Metric::kCosine) {
      // As ExactGoodness: the stored vector at unit length.
      const float nsq = refine_.NormSq(code);
      goodness = nsq > 0 ? dot / std::sqrt(nsq) : 0.0f;
    }
    best.Push(goodness, id);
    ++stats->rescored;
  }
  return best.TakeSorted();
}

float IvfIndex::ExactGoodness(const float* q, float* v) const {
  const uint32_t d = options_.dim;
  if (options_.metric == Metric::kL2) return -kernels::L2Sqr(q, v, d);
  if (options_.metric == Metric::kCosine) {
    const float nsq = kernels::Dot(v, v, d);
    const float inv = nsq > 0 ? 1.0f / std::sqrt(nsq) : 0.0f;
    for (uint32_t i = 0; i < d; ++i) v[i] *= inv;
  }
  return kernels::Dot(q, v, d);
}

absl::StatusOr<std::vector<Neighbor>> IvfIndex::SearchExact(
    const float* query, const SearchParams& p, const VectorStore& store) const {
  const uint32_t d = options_.dim;
  std::vector<float> q;
  Prepare(query, 1, &q);
  const bool l2 = options_.metric == Metric::kL2;
  std::vector<uint64_t> ids;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    ids.reserve(where_.size());
    for (const auto& [id, loc] : where_) {
      if (p.allowed != nullptr &&
          !p.allowed->Contains(lists_[loc.list].iids()[loc.slot])) {
        continue;
      }
      ids.push_back(id);
    }
  }
  TopK best(p.k);
  std::vector<float> v(d);
  size_t seen = 0;
  uint64_t scored = 0;
  for (uint64_t id : ids) {
    if (p.cancelled && (++seen & 4095) == 0 && p.cancelled()) {
      return CancelledSearch();
    }
    if (p.id_filter && !p.id_filter(id)) continue;
    if (!store.GetVector(id, v.data())) continue;
    best.Push(ExactGoodness(q.data(), v.data()), id);
    ++scored;
  }
  if (p.stats != nullptr) *p.stats = ExactSearchStats(scored);
  std::vector<Neighbor> out;
  for (const auto& [g, id] : best.TakeSorted())
    out.push_back({id, l2 ? -g : g});
  return out;
}

}  // namespace tqdb
