#include "tools/bench/report_measure.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/scan_codec.h"
#include "quant/random.h"
#include "quant/status_macros.h"
#include "quant/turbo_quantizer.h"
#include "tools/bench/faiss_peer.h"
#include "tools/bench/json_line.h"
#include "tools/bench/stopwatch.h"

namespace tqdb {
namespace {

// Rows of x (n x d) laid out for a PQ of m sub-vectors of dsub = ceil(d / m)
// dimensions: sub-vector i holds the real coordinates [i d / m, (i + 1) d /
// m) followed by zeros. Inner products and distances are unchanged, so
// FAISS (which needs m | d) gets the same uneven split as our PQ and
// exactly m sub-codes.
std::vector<float> PadForPq(const std::vector<float>& x, size_t n, size_t d,
                            size_t m, size_t* padded_d) {
  const size_t dsub = (d + m - 1) / m;
  *padded_d = dsub * m;
  if (*padded_d == d) return x;
  std::vector<float> y(n * *padded_d, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    for (size_t s = 0; s < m; ++s) {
      const size_t lo = s * d / m, hi = (s + 1) * d / m;
      std::copy(&x[i * d + lo], &x[i * d + hi], &y[i * *padded_d + s * dsub]);
    }
  }
  return y;
}

absl::StatusOr<double> MeasureDmse(const std::vector<float>& x, size_t n,
                                   size_t d, uint32_t bits, CodebookKind kind) {
  TurboOptions o;
  o.dim = static_cast<uint32_t>(d);
  o.bits = bits;
  o.method = TqMethod::kMse;
  o.codebook = kind;
  TQ_ASSIGN_OR_RETURN(auto tq, TurboQuantizer::Create(o));
  std::vector<uint8_t> codes(n * tq->bytes_per_vector());
  TQ_RETURN_IF_ERROR(tq->EncodeBatch(x.data(), n, codes.data()));
  std::vector<float> rec(d);
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    tq->Decode(&codes[i * tq->bytes_per_vector()], rec.data());
    for (size_t j = 0; j < d; ++j) {
      const double e = double{rec[j]} - x[i * d + j];
      total += e * e;
    }
  }
  return total / n;
}

}  // namespace

std::string RecallResultJson(const RecallResult& r) {
  const std::string at = RecallAtJson(r.r);
  return absl::StrFormat(
      "{\"dataset\":\"%s\",\"experiment\":\"%s\",\"layout\":\"%s\","
      "\"method\":\"%s\",\"bits_per_dim\":%u,\"bytes_per_vector\":%zu,"
      "\"nlist\":%u,\"residual\":%s,\"recall1_at\":{%s},\"train_s\":%.4f,"
      "\"encode_s\":%.4f,\"codec\":\"%s\"}\n",
      r.dataset, r.experiment, r.layout, r.method, r.bits, r.bytes, r.nlist,
      r.residual ? "true" : "false", at, r.train_s, r.encode_s,
      JsonEscape(r.codec));
}

IvfOptions IndexOptions(const Data& data, const std::string& method,
                        uint32_t bits, bool ivf, bool residual) {
  IvfOptions o;
  o.dim = static_cast<uint32_t>(data.d);
  o.metric = data.spec->metric;
  o.nlist = ivf ? 0 : 1;
  o.residual = residual;
  o.codec.method = method;
  o.codec.bits = bits;
  o.codec.pq_nbits = 4;
  o.threads = 1;
  return o;
}

absl::StatusOr<RecallResult> RunTqdb(const Data& data,
                                     const std::string& experiment,
                                     const std::string& label,
                                     const IvfOptions& o) {
  RecallResult rec;
  rec.dataset = data.spec->name;
  rec.experiment = experiment;
  rec.layout = o.nlist == 1 ? "flat" : "ivf";
  rec.method = label;
  rec.bits = o.codec.bits;
  rec.residual = o.residual;
  auto t0 = std::chrono::steady_clock::now();
  TQ_ASSIGN_OR_RETURN(auto index, IvfIndex::Train(o, data.base.data(), data.n));
  rec.train_s = Seconds(t0);
  std::vector<uint64_t> ids(data.n);
  for (size_t i = 0; i < data.n; ++i) ids[i] = i;
  t0 = std::chrono::steady_clock::now();
  TQ_RETURN_IF_ERROR(index->Add(ids.data(), data.base.data(), data.n));
  rec.encode_s = Seconds(t0);
  SearchParams p;
  p.k = kRecallK;
  p.nprobe = 0;  // all lists
  TQ_ASSIGN_OR_RETURN(
      auto res, index->SearchBatch(data.queries.data(), data.nq, p, nullptr));
  ComputeRecall(ToResults(res, kRecallK), data.gt, data.nq, rec.r, nullptr);
  rec.bytes = index->bytes_per_vector();
  rec.nlist = index->nlist();
  rec.codec = index->codec().Describe();
  return rec;
}

absl::StatusOr<std::vector<RecallResult>> RunFaiss(
    const Data& data, bool ivf, uint32_t bits, size_t target, uint32_t nlist,
    const Plan& plan, std::vector<std::string>* notes) {
  std::vector<RecallResult> out;
  if (!FaissAvailable()) return out;
  const PeerKind kinds[2] = {
      ivf ? PeerKind::kIvfPq : PeerKind::kPqFlat,
      ivf ? PeerKind::kIvfPqFastScan : PeerKind::kPqFastScanFlat};
  for (int kk = 0; kk < 2; ++kk) {
    const bool lut256 = kk == 0;
    // Sub-quantizers: every target byte, at most one per coordinate (4-bit
    // codes: m even, so that FastScan packs whole bytes).
    size_t m = lut256 ? target : 2 * target;
    m = std::min(m, lut256 ? data.d : data.d - data.d % 2);
    size_t pd = 0;
    const std::vector<float> base =
        PadForPq(data.base_m, data.n, data.d, m, &pd);
    const std::vector<float> queries =
        PadForPq(data.queries_m, data.nq, data.d, m, &pd);
    FaissPeerConfig cfg;
    cfg.metric = PeerMetric::kInnerProduct;  // cosine: normalized vectors
    cfg.target_bytes_per_vector = lut256 ? m : m / 2;
    cfg.nlist = nlist;
    cfg.nprobes = {nlist};
    cfg.k = kRecallK;
    cfg.threads = 1;
    cfg.max_train = plan.faiss_max_train;
    cfg.kinds = {kinds[kk]};
    auto peers =
        RunFaissPeers(cfg, base.data(), data.n, queries.data(), data.nq, pd);
    if (!peers.ok()) {
      if (peers.status().code() == absl::StatusCode::kInvalidArgument) {
        notes->push_back(absl::StrCat(data.spec->name, ", ", bits,
                                      " bits: ", peers.status().message()));
        continue;
      }
      return peers.status();
    }
    for (const PeerResult& pr : *peers) {
      RecallResult rec;
      rec.dataset = data.spec->name;
      rec.experiment = "main";
      rec.layout = ivf ? "ivf" : "flat";
      rec.method = lut256 ? kFaissLut : kFaissFs;
      rec.bits = bits;
      rec.bytes = pr.bytes_per_vector;
      rec.nlist = ivf ? pr.nlist : 1;
      rec.residual = ivf && lut256;  // IVFPQ encodes residuals
      rec.train_s = pr.train_s;
      rec.encode_s = pr.build_s - pr.train_s;
      rec.codec = absl::StrFormat("%s m=%u x %u-bit (%zu B), d padded %zu->%zu",
                                  pr.name, pr.m, pr.nbits, pr.bytes_per_vector,
                                  data.d, pd);
      Results res;
      res.width = pr.ids_width;
      res.ids = pr.ids;
      ComputeRecall(res, data.gt, data.nq, rec.r, nullptr);
      out.push_back(rec);
    }
  }
  return out;
}

// Inner-product error of one estimator in buckets of the true inner product.

Pairs MakePairs(const Data& data, const Plan& plan) {
  Pairs p;
  Rng rng(777);
  const size_t nq = std::min(plan.ip_queries, data.nq);
  for (size_t i = 0; i < nq; ++i) {
    std::vector<uint32_t> partners;
    for (size_t r = 0; r < data.gt.width; ++r) {
      partners.push_back(
          static_cast<uint32_t>(data.gt.ids[i * data.gt.width + r]));
    }
    for (size_t r = 0; r < plan.ip_random; ++r) {
      partners.push_back(static_cast<uint32_t>(rng.Uniform(data.n)));
    }
    for (uint32_t x : partners) {
      double t = 0;
      for (size_t j = 0; j < data.d; ++j) {
        t += double{data.queries_m[i * data.d + j]} *
             data.base_m[x * data.d + j];
      }
      p.q.push_back(static_cast<uint32_t>(i));
      p.x.push_back(x);
      p.truth.push_back(t);
    }
  }
  p.lo = *std::min_element(p.truth.begin(), p.truth.end());
  p.hi = *std::max_element(p.truth.begin(), p.truth.end());
  return p;
}

absl::StatusOr<IpErrorResult> MeasureIpError(const Data& data,
                                             const Pairs& pairs,
                                             const std::string& method,
                                             uint32_t bits, const Plan& plan) {
  CodecOptions co;
  co.method = method == "prod-gaussian" ? "prod" : method;
  if (method == "prod-gaussian") co.sketch = SketchKind::kGaussian;
  co.bits = bits;
  co.pq_nbits = 4;
  // As the index sets it for inner products: one 4-byte factor.
  co.single_factor = method == "renorm" || method == "pq" || method == "pca";
  const size_t nt = std::min(plan.codec_train, data.n);
  TQ_ASSIGN_OR_RETURN(auto codec,
                      ScanCodec::Create(co, static_cast<uint32_t>(data.d),
                                        data.base_m.data(), nt));
  const size_t bpv = codec->code_bytes();
  std::vector<uint8_t> codes(data.n * bpv);
  TQ_RETURN_IF_ERROR(
      codec->EncodeBatch(data.base_m.data(), data.n, codes.data()));
  const ScanShape& sh = codec->shape();
  std::vector<uint8_t> s4a(sh.m4a), s4b(sh.m4b), s8(sh.m8);
  std::vector<float> f(std::max<uint32_t>(1, sh.nfactors));
  QueryLuts luts;
  uint32_t cur_q = UINT32_MAX;
  std::vector<double> err(pairs.truth.size());
  for (size_t i = 0; i < pairs.truth.size(); ++i) {
    if (pairs.q[i] != cur_q) {
      cur_q = pairs.q[i];
      codec->BuildLuts(&data.queries_m[size_t{cur_q} * data.d], false, &luts);
    }
    codec->Unpack(&codes[size_t{pairs.x[i]} * bpv], s4a.data(), s4b.data(),
                  s8.data(), f.data());
    double a = 0, b = 0, c = 0;
    for (uint32_t j = 0; j < sh.m4a; ++j) a += luts.a[j * 16 + s4a[j]];
    for (uint32_t j = 0; j < sh.m4b; ++j) b += luts.b[j * 16 + s4b[j]];
    for (uint32_t j = 0; j < sh.m8; ++j) c += luts.c[j * 256 + s8[j]];
    const float est =
        codec->Combine(static_cast<float>(a), static_cast<float>(b),
                       static_cast<float>(c), f.data());
    err[i] = est - pairs.truth[i];
  }
  IpErrorResult out;
  out.dataset = data.spec->name;
  out.method = method;
  out.bits = bits;
  out.bytes = bpv;
  const double width = (pairs.hi - pairs.lo) / kIpBuckets;
  std::vector<double> s(kIpBuckets), ss(kIpBuckets);
  out.count.assign(kIpBuckets, 0);
  double s_all = 0, ss_all = 0;
  for (size_t i = 0; i < err.size(); ++i) {
    int bkt =
        width > 0 ? static_cast<int>((pairs.truth[i] - pairs.lo) / width) : 0;
    bkt = std::min(std::max(bkt, 0), kIpBuckets - 1);
    s[bkt] += err[i];
    ss[bkt] += err[i] * err[i];
    ++out.count[bkt];
    s_all += err[i];
    ss_all += err[i] * err[i];
  }
  auto sd = [](double sum, double sumsq, size_t n) {
    if (n < 2) return 0.0;
    const double m = sum / n;
    return std::sqrt(std::max(0.0, (sumsq - n * m * m) / (n - 1)));
  };
  for (int k = 0; k < kIpBuckets; ++k) {
    out.lo.push_back(pairs.lo + k * width);
    out.hi.push_back(pairs.lo + (k + 1) * width);
    out.bias.push_back(out.count[k] ? s[k] / out.count[k] : NAN);
    out.sd.push_back(out.count[k] ? sd(s[k], ss[k], out.count[k]) : NAN);
  }
  const size_t n = err.size();
  out.all_bias = s_all / n;
  out.all_sd = sd(s_all, ss_all, n);
  out.rmse = std::sqrt(ss_all / n);
  return out;
}

// D_mse = E||x - x~||^2 of TurboQuant mse on unit vectors.

std::string IpErrorJson(const IpErrorResult& e, size_t pairs) {
  std::string bk;
  for (int k = 0; k < kIpBuckets; ++k) {
    absl::StrAppend(
        &bk, k ? "," : "",
        absl::StrFormat(
            "{\"lo\":%.4f,\"hi\":%.4f,\"n\":%zu,\"bias\":%s,"
            "\"std\":%s}",
            e.lo[k], e.hi[k], e.count[k],
            e.count[k] ? absl::StrFormat("%.6f", e.bias[k]) : "null",
            e.count[k] > 1 ? absl::StrFormat("%.6f", e.sd[k]) : "null"));
  }
  return absl::StrFormat(
      "{\"dataset\":\"%s\",\"method\":\"%s\",\"bits_per_dim\":%u,"
      "\"bytes_per_vector\":%zu,\"pairs\":%zu,\"bias\":%.6f,\"std\":%.6f,"
      "\"rmse\":%.6f,\"buckets\":[%s]}\n",
      e.dataset, e.method, e.bits, e.bytes, pairs, e.all_bias, e.all_sd, e.rmse,
      bk);
}

absl::StatusOr<DmseResult> DmseRow(const std::string& source,
                                   const std::vector<float>& x, size_t n,
                                   size_t d, uint32_t bits) {
  DmseResult r;
  r.source = source;
  r.d = static_cast<uint32_t>(d);
  r.bits = bits;
  TQ_ASSIGN_OR_RETURN(r.exact,
                      MeasureDmse(x, n, d, bits, CodebookKind::kExactBeta));
  TQ_ASSIGN_OR_RETURN(r.gaussian,
                      MeasureDmse(x, n, d, bits, CodebookKind::kGaussian));
  TQ_ASSIGN_OR_RETURN(auto ce, GetCodebook(CodebookKind::kExactBeta,
                                           static_cast<uint32_t>(d), bits));
  TQ_ASSIGN_OR_RETURN(auto cg, GetCodebook(CodebookKind::kGaussian,
                                           static_cast<uint32_t>(d), bits));
  r.exact_pred = ce->expected_mse;
  r.gaussian_pred = cg->expected_mse;
  return r;
}

std::string DmseJson(const DmseResult& r) {
  return absl::StrFormat(
      "{\"source\":\"%s\",\"d\":%u,\"bits\":%u,\"dmse_exact\":%.6g,"
      "\"dmse_gaussian\":%.6g,\"pred_exact\":%.6g,\"pred_gaussian\":%.6g}"
      "\n",
      r.source, r.d, r.bits, r.exact, r.gaussian, r.exact_pred,
      r.gaussian_pred);
}

const RecallResult* Find(const std::vector<RecallResult>& recs,
                         const std::string& experiment,
                         const std::string& layout, const std::string& method,
                         uint32_t bits) {
  for (const RecallResult& r : recs) {
    if (r.experiment == experiment && r.layout == layout &&
        r.method == method && r.bits == bits) {
      return &r;
    }
  }
  return nullptr;
}

}  // namespace tqdb
