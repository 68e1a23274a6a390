// tqdb bench: recall and throughput of IVF indexes over TurboQuant and PQ
// codes on a real data set, with FAISS's PQ indexes as the peer.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "index/ivf_index.h"
#include "index/thread_pool.h"
#include "quant/kernels.h"
#include "tools/bench_common.h"
#include "tools/commands.h"
#include "tools/faiss_peer.h"
#include "tools/flags.h"
#include "tools/io/matrix.h"
#include "tools/report.h"
#include "tools/svg.h"

namespace tqdb {
namespace {

constexpr char kHelp[] =
    "usage: tqdb bench --base B.fvecs --queries Q.fvecs --metric cosine|ip|l2\n"
    "                  [flags]\n"
    "\n"
    "Builds an IVF index per method and bit width over the base vectors, then\n"
    "searches the queries for every nprobe and rescore setting and reports\n"
    "recall against the ground truth, queries per second and build time: a\n"
    "table on stdout, optionally JSON lines and an SVG chart.\n"
    "\n"
    "flags:\n"
    "  --base FILE        .fvecs base vectors (ids 0..n-1)\n"
    "  --queries FILE     .fvecs queries (same dimension)\n"
    "  --gt FILE          .ivecs true neighbour ids per query, best first;\n"
    "                     without it the exact top-100 is computed (brute\n"
    "                     force over --threads threads)\n"
    "  --metric M         cosine, ip or l2 (required)\n"
    "  --methods LIST     of mse,renorm,prod,pca,pq,pq8,faiss (default\n"
    "                     mse,renorm,prod,pq). pca: PCA of the residuals +\n"
    "                     water-filled bits (index/pca_codec.h). pq: 4-bit\n"
    "                     sub-codes (FastScan)\n"
    "                     at the bytes of renorm at the same bits; pq8: 8-bit\n"
    "                     sub-codes at those bytes; faiss: FAISS IVFPQ and\n"
    "                     IVFPQFastScan (+ refine when rescoring) at those\n"
    "                     bytes, or PQ / PQFastScan when nlist is 1\n"
    "  --bits LIST        bits per coordinate, 1..8 (default 2,3,4)\n"
    "  --nlist N          IVF lists (default: the index's, 4*sqrt(n) capped\n"
    "                     at n/39)\n"
    "  --nprobe LIST      lists probed, 'all' or 0 = nlist; values above\n"
    "                     nlist are clamped (default 1,4,16,64)\n"
    "  --rescore LIST     0 = no rescoring, r > 0 = rescore the best k*r\n"
    "                     candidates on the raw vectors (default 0)\n"
    "  --threads T        search threads; 1 = single-query Search calls, more\n"
    "                     = SearchBatch over a thread pool (default 1)\n"
    "  --k K              results per query in the timed pass (default 10)\n"
    "  --max-queries N    use only the first N queries\n"
    "  --json FILE        write one JSON object per configuration to FILE\n"
    "  --svg FILE         write recall/QPS and recall@k charts to FILE\n"
    "  --label NAME       data set name in the output (default: base file\n"
    "                     name)\n"
    "  --report DIR       instead of the above: write the recall report\n"
    "                     (TurboQuant vs PQ on the shared data) to DIR; see\n"
    "                     'tqdb bench --report DIR --help'\n"
    "\n"
    "Recall: R@1@k = share of queries whose true nearest neighbour is among\n"
    "the first k results (measured in an untimed pass with k = 64); 10-R@10 =\n"
    "|first 10 results & true top 10| / 10, from the timed pass.\n"
    "Timing: qps = queries / wall seconds of a pass over all queries; passes\n"
    "shorter than 0.5 s in total are repeated (3 at most), the fastest\n"
    "counts. FAISS peers are timed with the same k, recall from a k = 64 "
    "pass.\n";

constexpr int kMaxPasses = 3;  // timed passes per configuration, at most
constexpr double kRepeatBelowS = 0.5;

// One measured configuration (a line of the table and of the JSON output).
struct Row {
  std::string method;
  uint32_t bits = 0;
  size_t bytes_per_vector = 0;
  uint32_t nlist = 0, nprobe = 0;
  double rescore = 0;  // oversampling / refine factor, 0 = none
  uint32_t k = 0;      // results per query of the timed pass
  double recall1_at[kNumAt] = {};
  double recall10 = 0;
  double qps = 0, ms_per_query = 0, build_s = 0;
  std::string codec;
};

struct Setup {
  std::string label, metric;
  size_t n = 0, d = 0, nq = 0;
  uint32_t threads = 1;
  std::string simd;
  double mem_gbps = 0;
};

class ArrayStore : public VectorStore {
 public:
  ArrayStore(const float* x, size_t n, size_t d) : x_(x), n_(n), d_(d) {}
  bool GetVector(uint64_t id, float* out) const override {
    if (id >= n_) return false;
    std::memcpy(out, x_ + id * d_, d_ * sizeof(float));
    return true;
  }

 private:
  const float* x_;
  size_t n_, d_;
};

// Single-thread read bandwidth: sums a 256 MiB array of uint64, best of 2.
double MeasureReadBandwidth() {
  const size_t n = (size_t{256} << 20) / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> a(new uint64_t[n]);
  for (size_t i = 0; i < n; ++i) a[i] = i * 0x9e3779b97f4a7c15ull;
  uint64_t sink = 0;
  double best = 0;
  for (int rep = 0; rep < 2; ++rep) {
#if defined(__GNUC__)
    asm volatile("" : : "g"(a.get()) : "memory");
#endif
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

std::string JsonLine(const Setup& s, const Row& r) {
  const std::string at = RecallAtJson(r.recall1_at);
  return absl::StrFormat(
      "{\"label\":\"%s\",\"metric\":\"%s\",\"n\":%zu,\"d\":%zu,\"nq\":%zu,"
      "\"method\":\"%s\",\"bits_per_dim\":%u,\"bytes_per_vector\":%zu,"
      "\"nlist\":%u,\"nprobe\":%u,\"rescore\":%g,\"threads\":%u,\"k\":%u,"
      "\"recall1_at\":{%s},\"recall10_at10\":%.4f,\"qps\":%.1f,"
      "\"ms_per_query\":%.4f,\"build_s\":%.3f,\"codec\":\"%s\","
      "\"simd\":\"%s\"}\n",
      JsonEscape(s.label), s.metric, s.n, s.d, s.nq, JsonEscape(r.method),
      r.bits, r.bytes_per_vector, r.nlist, r.nprobe, r.rescore, s.threads, r.k,
      at, r.recall10, r.qps, r.ms_per_query, r.build_s, JsonEscape(r.codec),
      s.simd);
}

void PrintHeader(std::ostream& out) {
  out << absl::StrFormat("%-20s %4s %5s %5s %6s %7s %6s %6s %6s %7s %9s %7s\n",
                         "method", "bits", "bytes", "nlist", "nprobe",
                         "rescore", "R@1@1", "R@1@4", "R@1@16", "10-R@10",
                         "qps", "build s");
}

void PrintRow(std::ostream& out, const Setup& s, const Row& r) {
  out << absl::StrFormat(
      "%-20s %4u %5zu %5u %6u %7s %6.3f %6.3f %6.3f %7.3f %9.1f %7.2f\n",
      r.method, r.bits, r.bytes_per_vector, r.nlist, r.nprobe,
      r.rescore > 0 ? absl::StrFormat("x%g", r.rescore) : std::string("-"),
      r.recall1_at[0], r.recall1_at[2], r.recall1_at[4], r.recall10, r.qps,
      r.build_s);
  if (r.nlist == 1) {
    const double codes = static_cast<double>(s.n) * r.qps;
    out << absl::StrFormat(
        "%-20s scan rate: %.1f M codes/s, %.2f GB/s of codes (memory read "
        "%.1f GB/s)\n",
        "", codes / 1e6, codes * r.bytes_per_vector / 1e9, s.mem_gbps);
  }
  out.flush();
}

// ---- SVG report ----------------------------------------------------------

std::string FamilyOf(const std::string& method) {
  // FAISS's refined FastScan is FastScan with rescoring.
  if (method == "faiss-ivfpqfs-refine") return "faiss-ivfpqfs";
  return method;
}

std::string WriteSvg(const Setup& s, uint32_t nlist,
                     const std::vector<Row>& rows) {
  // Families (method colours) and bit widths (shade and marker), in order.
  std::vector<std::string> families;
  std::set<uint32_t> bitset;
  std::set<double> rescores;
  for (const Row& r : rows) {
    const std::string f = FamilyOf(r.method);
    if (std::find(families.begin(), families.end(), f) == families.end()) {
      families.push_back(f);
    }
    bitset.insert(r.bits);
    if (r.rescore > 0) rescores.insert(r.rescore);
  }
  const std::vector<uint32_t> bits(bitset.begin(), bitset.end());
  const std::vector<double> rs(rescores.begin(), rescores.end());
  static const svg::Marker kMarkers[] = {
      svg::Marker::kCircle, svg::Marker::kSquare, svg::Marker::kTriangle,
      svg::Marker::kDiamond, svg::Marker::kCross};
  static const char* kDashes[] = {"7,4", "2,3", "10,3,2,3", "4,6"};
  auto style = [&](const std::string& family, uint32_t b, double rescore) {
    svg::Style st;
    const size_t fi =
        std::find(families.begin(), families.end(), family) - families.begin();
    const size_t bi = std::find(bits.begin(), bits.end(), b) - bits.begin();
    const double light =
        bits.size() > 1 ? 0.5 * (bits.size() - 1 - bi) / (bits.size() - 1) : 0;
    st.color = svg::Lighten(FamilyColor(family, fi), light);
    st.marker = kMarkers[bi % 5];
    if (rescore > 0) {
      const size_t ri = std::find(rs.begin(), rs.end(), rescore) - rs.begin();
      st.dash = kDashes[ri % 4];
      st.hollow = true;
    }
    return st;
  };

  // Chart 1: recall10_at10 against QPS, one curve per family, bits, rescore.
  svg::Chart c1;
  c1.title = "Recall 10@10 vs queries/s (points: nprobe sweep)";
  c1.x = {absl::StrFormat("queries per second, %u thread%s (log scale)",
                          s.threads, s.threads == 1 ? "" : "s"),
          svg::Scale::kLog10};
  c1.y = {"10-recall@10", svg::Scale::kLinear, NAN, 1.0};
  std::map<std::tuple<size_t, uint32_t, double>, size_t> curve;
  // Legend grid: one column per family, one row per bit width.
  std::map<std::pair<size_t, uint32_t>, svg::LegendEntry> cells;
  for (const Row& r : rows) {
    const std::string f = FamilyOf(r.method);
    const size_t fi =
        std::find(families.begin(), families.end(), f) - families.begin();
    auto key = std::make_tuple(fi, r.bits, r.rescore);
    auto it = curve.find(key);
    if (it == curve.end()) {
      it = curve.emplace(key, c1.series.size()).first;
      svg::Series se;
      se.style = style(f, r.bits, r.rescore);
      c1.series.push_back(se);
    }
    c1.series[it->second].points.push_back({r.qps, r.recall10});
    c1.series[it->second].point_labels.push_back(
        absl::StrFormat("nprobe %u", r.nprobe));
    if (!cells.count({fi, r.bits}) && r.rescore == 0) {
      cells[{fi, r.bits}] = {
          absl::StrFormat("%s %u-bit, %zu B", f, r.bits, r.bytes_per_vector),
          style(f, r.bits, 0)};
    }
  }
  // nprobe labels on one curve only (the first family at its most bits,
  // without rescoring), to keep the chart legible.
  size_t labelled = c1.series.size();
  for (const auto& [key, index] : curve) {
    if (std::get<0>(key) == 0 && std::get<2>(key) == 0) labelled = index;
  }
  for (size_t i = 0; i < c1.series.size(); ++i) {
    if (i != labelled) c1.series[i].point_labels.clear();
  }
  // Chart 2: recall@1@k against k at each curve's largest nprobe without
  // rescoring.
  svg::Chart c2;
  c2.x = {"k (results returned, log2 scale)", svg::Scale::kLog2, 1, 64};
  c2.y = {"1-recall@k: true nearest among the first k", svg::Scale::kLinear,
          NAN, 1.0};
  std::map<std::pair<size_t, uint32_t>, const Row*> best;
  for (const Row& r : rows) {
    if (r.rescore > 0) continue;
    const std::string f = FamilyOf(r.method);
    const size_t fi =
        std::find(families.begin(), families.end(), f) - families.begin();
    const Row*& b = best[{fi, r.bits}];
    if (!b || r.nprobe >= b->nprobe) b = &r;
  }
  std::set<uint32_t> nprobes;
  for (const auto& [key, r] : best) {
    svg::Series se;
    se.style = style(families[key.first], key.second, 0);
    for (int j = 0; j < kNumAt; ++j) {
      se.points.push_back({double(1 << j), r->recall1_at[j]});
    }
    c2.series.push_back(se);
    nprobes.insert(r->nprobe);
  }
  c2.title = nprobes.size() == 1
                 ? absl::StrFormat("Recall 1@k at nprobe %u, no rescore",
                                   *nprobes.begin())
                 : std::string("Recall 1@k at the largest nprobe, no rescore");

  const int columns = static_cast<int>(std::max<size_t>(1, families.size()));
  std::vector<svg::LegendEntry> legend;
  for (uint32_t b : bits) {
    for (size_t fi = 0; fi < families.size(); ++fi) {
      auto it = cells.find({fi, b});
      legend.push_back(it != cells.end() ? it->second : svg::LegendEntry{});
    }
  }
  // Line styles of rescoring, on a row of their own (the grid above is
  // full rows).
  if (!rs.empty()) {
    svg::Style solid;
    solid.color = "#666666";
    solid.marker = svg::Marker::kNone;
    std::vector<svg::LegendEntry> extra = {{"solid: no rescore", solid}};
    for (size_t i = 0; i < rs.size(); ++i) {
      svg::Style st = solid;
      st.dash = kDashes[i % 4];
      st.marker = svg::Marker::kCircle;
      st.hollow = true;
      extra.push_back(
          {absl::StrFormat("dashed: rescore / refine x%g", rs[i]), st});
    }
    legend.insert(legend.end(), extra.begin(), extra.end());
  }

  const double width = std::max(1300.0, 90.0 + 215.0 * columns);
  const double chart_w = width / 2, chart_h = 460, top = 58;
  const double legend_h = svg::Document::LegendHeight(legend.size(), columns);
  svg::Document doc(width, top + chart_h + 14 + legend_h + 10);
  doc.AddText(width / 2, 24, absl::StrFormat("tqdb bench: %s", s.label), 17,
              "middle", true);
  doc.AddText(
      width / 2, 44,
      absl::StrFormat("n=%zu  d=%zu  queries=%zu  metric %s  nlist %u  "
                      "threads %u  SIMD %s",
                      s.n, s.d, s.nq, s.metric, nlist, s.threads, s.simd),
      12, "middle", false, "#555");
  doc.AddChart(c1, 0, top, chart_w, chart_h);
  doc.AddChart(c2, chart_w, top, chart_w, chart_h);
  doc.AddLegend(legend, 70, top + chart_h + 10, width - 90, columns);
  return doc.ToString();
}

}  // namespace

int RunBench(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "--report" || a.rfind("--report=", 0) == 0) {
      return RunReport(args, out, err);
    }
  }
  if (WantsHelp(args)) {
    out << kHelp;
    return 0;
  }
  auto usage = [&](const absl::Status& s) {
    return UsageError("bench", s, err);
  };
  auto fail = [&](const std::string& what, const absl::Status& s) {
    err << "tqdb bench: " << what << (what.empty() ? "" : ": ") << s.message()
        << "\n";
    return s.code() == absl::StatusCode::kInvalidArgument ||
                   s.code() == absl::StatusCode::kNotFound
               ? 2
               : 1;
  };
  auto flags = Flags::Parse(
      args,
      {"base", "queries", "gt", "metric", "methods", "bits", "nlist", "nprobe",
       "rescore", "threads", "k", "max-queries", "json", "svg", "label"},
      {});
  if (!flags.ok()) return usage(flags.status());
  for (const char* f : {"base", "queries", "metric"}) {
    if (flags->GetString(f).empty()) {
      return usage(
          absl::InvalidArgumentError(absl::StrCat("--", f, " is required")));
    }
  }
  auto metric = ParseMetric(flags->GetString("metric"));
  if (!metric.ok()) {
    return usage(absl::InvalidArgumentError(
        absl::StrCat("--metric: ", metric.status().message())));
  }
  auto methods = flags->GetWordList(
      "methods", "mse,renorm,prod,pq",
      {"mse", "renorm", "prod", "pca", "pq", "pq8", "faiss"});
  if (!methods.ok()) return usage(methods.status());
  auto bits = flags->GetIntList("bits", "2,3,4", 1, 8);
  if (!bits.ok()) return usage(bits.status());
  auto rescore = flags->GetIntList("rescore", "0", 0, 1000);
  if (!rescore.ok()) return usage(rescore.status());
  auto threads = flags->GetInt("threads", 1, 1, 1024);
  if (!threads.ok()) return usage(threads.status());
  auto k_flag = flags->GetInt("k", 10, 1, 100000);
  if (!k_flag.ok()) return usage(k_flag.status());
  auto max_queries = flags->GetInt("max-queries", 0, 1, INT64_MAX);
  if (!max_queries.ok()) return usage(max_queries.status());
  std::vector<uint32_t> nprobe_list;  // 0 = nlist
  for (absl::string_view part :
       absl::StrSplit(flags->GetString("nprobe", "1,4,16,64"), ',')) {
    uint32_t v = 0;
    if (part != "all" && (!absl::SimpleAtoi(part, &v) || v > (1u << 30))) {
      return usage(absl::InvalidArgumentError(absl::StrCat(
          "--nprobe: '", part, "' is not 'all' or an integer >= 0")));
    }
    nprobe_list.push_back(v);
  }

  // Output files first, so that a bad path fails before the long run.
  std::ofstream json_file, svg_file;
  const std::string json_path = flags->GetString("json");
  const std::string svg_path = flags->GetString("svg");
  if (flags->Has("json")) {
    json_file.open(json_path, std::ios::out | std::ios::trunc);
    if (!json_file) {
      return usage(absl::InvalidArgumentError(
          absl::StrCat("--json: cannot write '", json_path, "'")));
    }
  }
  if (flags->Has("svg")) {
    svg_file.open(svg_path, std::ios::out | std::ios::trunc);
    if (!svg_file) {
      return usage(absl::InvalidArgumentError(
          absl::StrCat("--svg: cannot write '", svg_path, "'")));
    }
  }

  // Inputs.
  const std::string base_path = flags->GetString("base");
  const std::string query_path = flags->GetString("queries");
  // Input files: their errors name the file and row, and exit 2.
  auto input_error = [&](const std::string& what, const absl::Status& s) {
    err << "tqdb bench: " << what << ": " << s.message() << "\n";
    return 2;
  };
  ReaderOptions fvecs;
  fvecs.format = "fvecs";
  absl::StatusOr<FloatMatrix> base_read = ReadFloatMatrix(base_path, 0, fvecs);
  if (!base_read.ok()) return input_error("--base", base_read.status());
  absl::StatusOr<FloatMatrix> queries_read =
      ReadFloatMatrix(query_path, static_cast<size_t>(*max_queries), fvecs);
  if (!queries_read.ok())
    return input_error("--queries", queries_read.status());
  const FloatMatrix& base = *base_read;
  const FloatMatrix& queries = *queries_read;
  absl::Status st;
  if (queries.dim != base.dim) {
    return fail(
        "", absl::InvalidArgumentError(absl::StrCat(
                "dimension mismatch: --queries ", query_path, " has dimension ",
                queries.dim, ", --base ", base_path, " has ", base.dim)));
  }
  if (base.dim < 2) {
    return fail("--base",
                absl::InvalidArgumentError(absl::StrCat(
                    base_path, ": dimension ", base.dim, " is below 2")));
  }
  const size_t n = base.rows, d = base.dim, nq = queries.rows;
  auto nlist_flag = flags->GetInt("nlist", 0, 1, static_cast<int64_t>(n));
  if (!nlist_flag.ok()) return usage(nlist_flag.status());

  Setup setup;
  setup.label = flags->GetString("label");
  if (setup.label.empty()) {
    setup.label = base_path.substr(base_path.find_last_of('/') + 1);
    const size_t dot = setup.label.rfind(".fvecs");
    if (dot != std::string::npos && dot > 0) setup.label.resize(dot);
  }
  setup.metric = MetricName(*metric);
  setup.n = n;
  setup.d = d;
  setup.nq = nq;
  setup.threads = static_cast<uint32_t>(*threads);
  setup.simd = kernels::ActiveTargetName();
  const bool l2 = *metric == Metric::kL2;
  std::unique_ptr<ThreadPool> pool;
  if (*threads > 1) pool = std::make_unique<ThreadPool>(*threads);

  out << absl::StrFormat(
      "tqdb bench: %s: n=%zu d=%zu queries=%zu metric=%s k=%d threads=%d\n",
      setup.label, n, d, nq, setup.metric, *k_flag, *threads);
  setup.mem_gbps = MeasureReadBandwidth();
  out << absl::StrFormat(
      "SIMD target: %s; memory read bandwidth: %.1f GB/s (1 thread, sum of "
      "256 MiB)\n",
      setup.simd, setup.mem_gbps);
  out.flush();

  // Ground truth.
  GroundTruth gt;
  std::vector<float> base_n, queries_n;  // normalized copies (cosine)
  if (*metric == Metric::kCosine) {
    base_n = Normalized(base.data, n, d);
    queries_n = Normalized(queries.data, nq, d);
  }
  const std::vector<float>& base_m = base_n.empty() ? base.data : base_n;
  const std::vector<float>& queries_m =
      queries_n.empty() ? queries.data : queries_n;
  if (flags->Has("gt")) {
    const std::string gt_path = flags->GetString("gt");
    st = LoadGroundTruth(gt_path, nq, n, &gt);
    if (!st.ok()) return input_error("--gt", st);
    out << absl::StrFormat("ground truth: %s (%zu ids per query)\n", gt_path,
                           gt.width);
  } else {
    const auto t0 = std::chrono::steady_clock::now();
    gt = BruteForce(base_m, n, queries_m, nq, d, l2, pool.get());
    out << absl::StrFormat(
        "note: no --gt given: ground truth computed exactly (brute force, "
        "top-%zu, %d thread%s, %.2f s)\n",
        gt.width, *threads, *threads == 1 ? "" : "s", Seconds(t0));
  }
  out << "\n";
  PrintHeader(out);
  out.flush();

  std::vector<Row> rows;
  auto emit = [&](const Row& r) {
    rows.push_back(r);
    PrintRow(out, setup, r);
    if (json_file.is_open()) {
      json_file << JsonLine(setup, r);
      json_file.flush();
    }
  };
  // nprobe values for an index of `nlist` lists: 0 -> nlist, clamped,
  // without repeats.
  auto resolve_nprobes = [&](uint32_t nlist) {
    std::vector<uint32_t> v;
    for (uint32_t p : nprobe_list) {
      const uint32_t q = p == 0 ? nlist : std::min(p, nlist);
      if (std::find(v.begin(), v.end(), q) == v.end()) v.push_back(q);
    }
    return v;
  };

  ArrayStore store(base.data.data(), n, d);
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = i;
  const uint32_t k = static_cast<uint32_t>(*k_flag);
  uint32_t nlist_seen = 0;  // nlist of the indexes built (0 = none yet)
  std::map<uint32_t, size_t> renorm_bytes;  // bits -> renorm's bytes/vector

  for (const std::string& method : *methods) {
    if (method == "faiss") continue;
    for (int64_t b : *bits) {
      const std::string what = absl::StrCat(method, " at ", b, " bits");
      IvfOptions o;
      o.dim = static_cast<uint32_t>(d);
      o.metric = *metric;
      o.nlist = static_cast<uint32_t>(*nlist_flag);
      o.codec.method = method == "pq8" ? "pq" : method;
      o.codec.bits = static_cast<uint32_t>(b);
      o.codec.pq_nbits = method == "pq8" ? 8 : 4;
      o.threads = static_cast<uint32_t>(*threads);
      const auto t0 = std::chrono::steady_clock::now();
      auto index = IvfIndex::Train(o, base.data.data(), n);
      if (!index.ok()) return fail(what, index.status());
      st = (*index)->Add(ids.data(), base.data.data(), n);
      if (!st.ok()) return fail(what, st);
      const double build_s = Seconds(t0);
      const IvfIndex& idx = **index;
      nlist_seen = idx.nlist();
      if (method == "renorm") {
        renorm_bytes[static_cast<uint32_t>(b)] = idx.bytes_per_vector();
      }
      for (uint32_t nprobe : resolve_nprobes(idx.nlist())) {
        for (int64_t r : *rescore) {
          SearchParams p;
          p.nprobe = nprobe;
          p.rescore = r > 0;
          p.oversampling = r > 0 ? static_cast<float>(r) : 1.0f;
          p.store = &store;
          // Untimed pass (also the warm-up): recall@1@k up to k = 64.
          p.k = kRecallK;
          auto deep = idx.SearchBatch(queries.data.data(), nq, p, pool.get());
          if (!deep.ok()) return fail(what, deep.status());
          // Timed passes: one, repeated (up to kMaxPasses) while they take
          // under kRepeatBelowS in all; the fastest counts, which damps
          // noise from other processes on short passes.
          p.k = k;
          std::vector<std::vector<Neighbor>> res;
          double wall = 0, spent = 0;
          for (int pass = 0;
               pass < kMaxPasses && (pass == 0 || spent < kRepeatBelowS);
               ++pass) {
            const auto t1 = std::chrono::steady_clock::now();
            if (pool) {
              auto batch =
                  idx.SearchBatch(queries.data.data(), nq, p, pool.get());
              if (!batch.ok()) return fail(what, batch.status());
              res = std::move(*batch);
            } else {
              res.resize(nq);
              for (size_t i = 0; i < nq; ++i) {
                auto one = idx.Search(queries.row(i), p);
                if (!one.ok()) return fail(what, one.status());
                res[i] = std::move(*one);
              }
            }
            const double s = Seconds(t1);
            wall = pass == 0 ? s : std::min(wall, s);
            spent += s;
          }
          Row row;
          row.method = method;
          row.bits = static_cast<uint32_t>(b);
          row.bytes_per_vector = idx.bytes_per_vector();
          row.nlist = idx.nlist();
          row.nprobe = nprobe;
          row.rescore = static_cast<double>(r);
          row.k = k;
          row.qps = wall > 0 ? nq / wall : 0;
          row.ms_per_query =
              pool ? wall * 1000 / nq : (row.qps > 0 ? 1000 / row.qps : 0);
          row.build_s = build_s;
          row.codec = idx.codec().Describe();
          // R@1@k from the deep pass; 10-R@10 from the timed pass (the deep
          // one if k < 10).
          ComputeRecall(ToResults(*deep, kRecallK), gt, nq, row.recall1_at,
                        k >= 10 ? nullptr : &row.recall10);
          if (k >= 10) {
            double unused[kNumAt];
            ComputeRecall(ToResults(res, k), gt, nq, unused, &row.recall10);
          }
          emit(row);
        }
      }
    }
  }

  // FAISS peers, at the bytes of renorm at each bit width.
  if (std::find(methods->begin(), methods->end(), "faiss") != methods->end()) {
    if (!FaissAvailable()) {
      out << "note: this tqdb was built without FAISS (libfaiss-dev not found "
             "at configure time); skipping faiss\n";
    } else {
      uint32_t nlist = static_cast<uint32_t>(*nlist_flag);
      if (nlist == 0) nlist = nlist_seen;
      if (nlist == 0) {  // the IvfIndex default
        nlist = static_cast<uint32_t>(std::lround(4.0 * std::sqrt(double(n))));
        nlist = std::max<uint32_t>(
            1, std::min<uint32_t>(nlist, static_cast<uint32_t>(n / 39)));
      }
      nlist_seen = nlist;
      std::vector<float> refine;
      for (int64_t r : *rescore) {
        if (r > 0) refine.push_back(static_cast<float>(r));
      }
      for (int64_t b : *bits) {
        FaissPeerConfig cfg;
        cfg.metric = l2 ? PeerMetric::kL2 : PeerMetric::kInnerProduct;
        // The bytes of renorm at b bits: as measured if renorm ran, else
        // its layout (b*d bits, plus one 4-byte factor for ip and cosine
        // or two for l2).
        auto measured = renorm_bytes.find(static_cast<uint32_t>(b));
        cfg.target_bytes_per_vector =
            measured != renorm_bytes.end()
                ? measured->second
                : (static_cast<size_t>(b) * d + 7) / 8 + (l2 ? 8 : 4);
        cfg.nlist = nlist;
        cfg.nprobes = resolve_nprobes(nlist);
        cfg.refine_factors = refine;
        // Timed with the same k as tqdb's rows (refine reranks k * factor
        // candidates, so k matters); ids for recall@1@k from a k = 64 pass.
        cfg.k = static_cast<uint32_t>(k);
        cfg.ids_k = kRecallK;
        cfg.threads = static_cast<uint32_t>(*threads);
        if (nlist == 1) {
          cfg.kinds = {PeerKind::kPqFlat, PeerKind::kPqFastScanFlat};
        } else {
          cfg.kinds = {PeerKind::kIvfPq, PeerKind::kIvfPqFastScan};
          if (!refine.empty()) {
            cfg.kinds.push_back(PeerKind::kIvfPqFastScanRefine);
          }
        }
        auto peers =
            RunFaissPeers(cfg, base_m.data(), n, queries_m.data(), nq, d);
        if (!peers.ok()) {
          if (peers.status().code() == absl::StatusCode::kInvalidArgument) {
            out << "note: faiss at " << b
                << " bits skipped: " << peers.status().message() << "\n";
            continue;
          }
          return fail(absl::StrCat("faiss at ", b, " bits"), peers.status());
        }
        for (const PeerResult& pr : *peers) {
          Row row;
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
          ComputeRecall(res, gt, nq, row.recall1_at,
                        k >= 10 ? nullptr : &row.recall10);
          if (k >= 10) {
            // 10-R@10 from the timed pass, as for tqdb's rows.
            Results timed;
            timed.width = k;
            timed.ids = pr.timed_ids;
            double unused[kNumAt];
            ComputeRecall(timed, gt, nq, unused, &row.recall10);
          }
          emit(row);
        }
      }
    }
  }

  if (svg_file.is_open()) {
    svg_file << WriteSvg(setup, nlist_seen, rows);
    svg_file.close();
    if (!svg_file) {
      return fail("--svg", absl::InternalError(
                               absl::StrCat("writing ", svg_path, " failed")));
    }
    out << "wrote " << svg_path << "\n";
  }
  if (json_file.is_open()) {
    json_file.close();
    if (!json_file) {
      return fail("--json", absl::InternalError(absl::StrCat(
                                "writing ", json_path, " failed")));
    }
    out << "wrote " << json_path << "\n";
  }
  return 0;
}

}  // namespace tqdb
