// tqdb bench: recall and throughput of IVF indexes over TurboQuant and PQ
// codes on a real data set, with FAISS's PQ indexes as the peer; the command
// line in front of the sweep (bench_sweep.h) and its outputs
// (bench_output.h). --report runs the recall report instead (report.h).
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "index/ivf_index.h"
#include "index/thread_pool.h"
#include "quant/kernels.h"
#include "quant/simd_targets.h"
#include "quant/status_macros.h"
#include "tools/bench/bench_output.h"
#include "tools/bench/bench_sweep.h"
#include "tools/bench/commands.h"
#include "tools/bench/filter_bench.h"
#include "tools/bench/recall.h"
#include "tools/bench/report.h"
#include "tools/bench/stacked.h"
#include "tools/bench/stopwatch.h"
#include "tools/cli/output.h"
#include "tools/io/matrix.h"

namespace tqdb {
namespace {

constexpr char kBenchCommand[] = "bench";
// The seed of --stack's rotations: fixed, so runs are comparable.
constexpr uint64_t kStackSeed = 0x57ac4ed;

constexpr char kBenchHelp[] =
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
    "  --methods LIST     of mse,renorm,prod,pca,pca-w,pq,pq8,faiss (default\n"
    "                     mse,renorm,prod,pq). pca: PCA of the residuals +\n"
    "                     water-filled bits (index/pca_codec.h); pca-w: pca\n"
    "                     with its query weighting where the training\n"
    "                     sample ranks better with it\n"
    "                     (index/codec_choice.h). pq: 4-bit\n"
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
    "  --refine LIST      what a rescore reads, of none (the raw vectors, an\n"
    "                     in-memory array here), int8 and f32 (codes the "
    "index\n"
    "                     keeps in memory: d + 8 or 4d + 4 bytes a vector;\n"
    "                     index/refine_codes.h); an index each (default none;\n"
    "                     int8 and f32 are measured with rescoring only)\n"
    "  --coarse LIST      the coarse step, of int8 (centroids scored on int8\n"
    "                     codes, exactly only where their error bound can\n"
    "                     reach the nprobe nearest; the same lists) and\n"
    "                     exact (every centroid in float); an index each\n"
    "                     (default int8)\n"
    "  --layout LIST      in-memory layouts of the lists, of auto, full and\n"
    "                     progressive (a first pass over the codes' top\n"
    "                     bits, the rest read only for candidates its bound\n"
    "                     cannot rule out; index/progressive.h). auto (the\n"
    "                     default) is the index's choice: progressive\n"
    "                     where the codes hold twice the first pass's bits\n"
    "                     (1 a dimension from 320 dimensions, 2 from 104),\n"
    "                     for mse and renorm three times; progressive also\n"
    "                     takes it for mse and renorm below three times,\n"
    "                     holding the first pass's bits twice; shared is\n"
    "                     progressive holding no bit twice (the refine rows\n"
    "                     keep only the bits below the first pass's;\n"
    "                     LayoutOptions::prefix_sharing, by default only\n"
    "                     where the first pass loses nothing by it).\n"
    "                     Codecs without it (prod, pq, 1 bit, and with\n"
    "                     --prefix-bits 0 codes short of twice the default\n"
    "                     first pass) are measured once, in full\n"
    "  --centroid-terms LIST  of on, off: whether mse, renorm and pca codes\n"
    "                     over residuals keep the centroid terms (the\n"
    "                     correction of the estimate along the centroid,\n"
    "                     and for l2 ||r||^2 + 2<c, r>, which lets a query's\n"
    "                     tables serve every list it probes); off is the\n"
    "                     ablation, rows labelled <method>/off, l2 then\n"
    "                     building tables per probed list; an index each,\n"
    "                     trained each (default on)\n"
    "  --prefix-bits LIST the progressive layout's first pass, bits a\n"
    "                     dimension (0 = the index's default,\n"
    "                     LayoutOptions::prefix_bits); an index each\n"
    "                     (default 0)\n"
    "  --refine-sigmas S  the progressive scan's bound, in standard\n"
    "                     deviations of the first pass's error (default:\n"
    "                     the index's, SearchParams::refine_sigmas = 2.5;\n"
    "                     0 = read every candidate in full)\n"
    "  --probe-sigmas L   adaptive probing (ip, cosine), a list: a probed\n"
    "                     list is skipped when its centroid's score plus S\n"
    "                     deviations of its residuals' scores cannot reach\n"
    "                     the k-th score found (SearchParams::probe_sigmas);\n"
    "                     0 = scan every probed list; a configuration each\n"
    "                     (default 0)\n"
    "  --threads T        search threads; 1 = single-query Search calls, more\n"
    "                     = SearchBatch over a thread pool (default 1)\n"
    "  --batch N          with --threads 1: queries per call of the timed\n"
    "                     pass; 1 = Search per query (the default), N > 1 =\n"
    "                     SearchBatch of N queries on the calling thread\n"
    "                     (each probed list read once for the queries of the\n"
    "                     call that probe it, where SearchBatch can: see\n"
    "                     index/ivf_index.h). tqdb's methods only\n"
    "  --k K              results per query in the timed pass (default 10)\n"
    "  --max-queries N    use only the first N queries\n"
    "  --simd LIST        time every configuration under each of these SIMD\n"
    "                     caps in turn, in this process (avx3_dl, avx3,\n"
    "                     avx2, sse4, ssse3, emu128, scalar; a cap above\n"
    "                     the CPU runs its best target, which the row\n"
    "                     names); results are the same on every target\n"
    "  --rounds R         time in R interleaved rounds: every index is built\n"
    "                     (and kept in memory) first, then each round times\n"
    "                     one pass of every configuration in turn; qps is\n"
    "                     the median round's, [slowest-fastest] after the\n"
    "                     row (default 1: each configuration timed once its\n"
    "                     index is built; FAISS peers always so)\n"
    "  --stack C          the scale regime: the base stacked C times, copy c\n"
    "                     rotated by a seeded random rotation R_c (R_0 = I),\n"
    "                     query i rotated by R_(i mod C); ground truth\n"
    "                     computed exactly (not with --gt); see\n"
    "                     tools/bench/stacked.h (default 1)\n"
    "  --json FILE        write one JSON object per configuration to FILE\n"
    "  --svg FILE         write recall/QPS and recall@k charts to FILE\n"
    "  --label NAME       data set name in the output (default: base file\n"
    "                     name)\n"
    "  --report DIR       instead of the above: write the recall report\n"
    "                     (TurboQuant vs PQ on the shared data) to DIR; see\n"
    "                     'tqdb bench --report DIR --help'\n"
    "  --filter           instead of the above: filtered search through the\n"
    "                     database; see 'tqdb bench --filter --help'\n"
    "\n"
    "Columns: scan = the lists' layout, full or pB (progressive, a first\n"
    "pass of B bits a dimension; sB: shared), +c8 = the int8 coarse step; mem "
    "B =\n"
    "in-memory bytes of a code (codes and factors of the\n"
    "layout); codes/q = codes scanned per query; refined = the share of them\n"
    "read in full by the progressive scan (timed pass); KB/q = bytes of index\n"
    "memory a query read (centroids or their int8 codes, the codes and "
    "factors\n"
    "the scan passes read, in-memory rescoring codes, the codec's query "
    "state\n"
    "such as pca's projection; IvfIndex::BytesRead) and\n"
    "GB/s = KB/q x qps, beside the memory read bandwidth measured at start.\n"
    "Recall: R@1@k = share of queries whose true nearest neighbour is among\n"
    "the first k results (measured in an untimed pass with k = 64); 10-R@10 =\n"
    "|first 10 results & true top 10| / 10, from the timed pass.\n"
    "Timing: qps = queries / wall seconds of a pass over all queries; passes\n"
    "shorter than 0.5 s in total are repeated (3 at most), the fastest\n"
    "counts (with --rounds: the median round, one pass a round). FAISS "
    "peers are timed with the same k, recall from a k = 64 "
    "pass.\n";

// The sweep's flags but --nlist (bounded by the base's size) and the files.
absl::Status ParseSweepFlags(const Flags& f, SweepOptions* o) {
  for (const char* name : {"base", "queries", "metric"}) {
    if (f.GetString(name).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is required"));
    }
  }
  auto metric = ParseMetric(f.GetString("metric"));
  TQ_RETURN_IF_ERROR(metric.status()) << "--metric";
  o->metric = *metric;
  TQ_ASSIGN_OR_RETURN(
      o->methods, f.GetWordList("methods", "mse,renorm,prod,pq",
                                {"mse", "renorm", "prod", "pca", "pca-w", "pq",
                                 "pq8", "faiss"}));
  TQ_ASSIGN_OR_RETURN(o->bits, f.GetIntList("bits", "2,3,4", 1, 8));
  TQ_ASSIGN_OR_RETURN(o->rescores, f.GetIntList("rescore", "0", 0, 1000));
  TQ_ASSIGN_OR_RETURN(o->layouts,
                      f.GetWordList("layout", "auto",
                                    {"auto", "full", "progressive", "shared"}));
  TQ_ASSIGN_OR_RETURN(o->coarses,
                      f.GetWordList("coarse", "int8", {"exact", "int8"}));
  TQ_ASSIGN_OR_RETURN(o->refines,
                      f.GetWordList("refine", "none", {"none", "int8", "f32"}));
  TQ_ASSIGN_OR_RETURN(o->centroid_terms,
                      f.GetWordList("centroid-terms", "on", {"on", "off"}));
  TQ_ASSIGN_OR_RETURN(o->prefix_bits,
                      f.GetFloatList("prefix-bits", "0", 0.0f, 4.0f));
  const std::string sigmas =
      f.GetString("refine-sigmas", absl::StrCat(SearchParams().refine_sigmas));
  if (!absl::SimpleAtof(sigmas, &o->refine_sigmas) ||
      !(o->refine_sigmas >= 0) || o->refine_sigmas > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--refine-sigmas: '", sigmas, "' is not a number in [0, 1000]"));
  }
  TQ_ASSIGN_OR_RETURN(o->probe_sigmas,
                      f.GetFloatList("probe-sigmas", "0", 0.0f, 1000.0f));
  TQ_ASSIGN_OR_RETURN(const int64_t threads, f.GetInt("threads", 1, 1, 1024));
  o->threads = static_cast<uint32_t>(threads);
  TQ_ASSIGN_OR_RETURN(const int64_t batch, f.GetInt("batch", 1, 1, 1000000));
  if (batch > 1 && threads > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--batch ", batch, " needs --threads 1 (got ", threads,
        "): more threads already run SearchBatch over all the queries"));
  }
  o->batch = static_cast<uint32_t>(batch);
  TQ_ASSIGN_OR_RETURN(const int64_t k, f.GetInt("k", 10, 1, 100000));
  o->k = static_cast<uint32_t>(k);
  TQ_ASSIGN_OR_RETURN(const int64_t rounds, f.GetInt("rounds", 1, 1, 1000));
  o->rounds = static_cast<uint32_t>(rounds);
  o->simds.clear();
  if (!f.GetString("simd").empty()) {
    for (absl::string_view part : absl::StrSplit(f.GetString("simd"), ',')) {
      // Checked here, so that a bad name fails before any index is built.
      if (absl::Status s = kernels::CheckSimdTargetName(part); !s.ok()) {
        return WithContext(s, "--simd");
      }
      o->simds.emplace_back(part);
    }
  }
  o->nprobes.clear();
  for (absl::string_view part :
       absl::StrSplit(f.GetString("nprobe", "1,4,16,64"), ',')) {
    uint32_t v = 0;
    if (part != "all" && (!absl::SimpleAtoi(part, &v) || v > (1u << 30))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--nprobe: '", part, "' is not 'all' or an integer >= 0"));
    }
    o->nprobes.push_back(v);
  }
  return absl::OkStatus();
}

// Opens `path` for --<flag> (truncating it); InvalidArgument if it cannot.
absl::Status OpenOutput(const char* flag, const std::string& path,
                        std::ofstream* file) {
  file->open(path, std::ios::out | std::ios::trunc);
  if (!*file) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot write '", path, "'"));
  }
  return absl::OkStatus();
}

// Closes an output file written in full; Internal if writing failed.
absl::Status CloseOutput(const char* flag, const std::string& path,
                         std::ofstream* file) {
  file->close();
  if (!*file) {
    return absl::InternalError(
        absl::StrCat("--", flag, ": writing ", path, " failed"));
  }
  return absl::OkStatus();
}

// The data set's name in the outputs: --label, else the base file's name.
std::string Label(const Flags& f, const std::string& base_path) {
  std::string label = f.GetString("label");
  if (label.empty()) {
    label = base_path.substr(base_path.find_last_of('/') + 1);
    const size_t dot = label.rfind(".fvecs");
    if (dot != std::string::npos && dot > 0) label.resize(dot);
  }
  return label;
}

// Whether the arguments ask for the recall report (--report before "--").
bool WantsReport(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "--report" || a.rfind("--report=", 0) == 0) return true;
  }
  return false;
}

}  // namespace

const FlagSpec& BenchFlags() {
  static const FlagSpec* spec = new FlagSpec{
      {"base",          "queries",        "gt",          "metric",
       "methods",       "bits",           "nlist",       "nprobe",
       "rescore",       "layout",         "refine",      "coarse",
       "refine-sigmas", "threads",        "k",           "max-queries",
       "stack",         "json",           "svg",         "label",
       "batch",         "centroid-terms", "prefix-bits", "rounds",
       "simd",          "probe-sigmas"},
      {}};
  return *spec;
}

int RunBench(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err) {
  if (WantsReport(args)) return RunReport(args, out, err);
  if (WantsFilterBench(args)) return RunFilterBench(args, out, err);
  int exit_code;
  std::optional<Flags> flags = ParseCommandLine(
      kBenchCommand, args, BenchFlags(), kBenchHelp, out, err, &exit_code);
  if (!flags) return exit_code;
  SweepOptions o;
  if (absl::Status s = ParseSweepFlags(*flags, &o); !s.ok()) {
    return UsageError(kBenchCommand, s, err);
  }
  auto max_queries = flags->GetInt("max-queries", 0, 1, INT64_MAX);
  if (!max_queries.ok())
    return UsageError(kBenchCommand, max_queries.status(), err);
  auto stack = flags->GetInt("stack", 1, 1, kMaxStackCopies);
  if (!stack.ok()) return UsageError(kBenchCommand, stack.status(), err);
  if (*stack > 1 && flags->Has("gt")) {
    return UsageError(
        kBenchCommand,
        absl::InvalidArgumentError(
            "--gt cannot be used with --stack: the ground truth of the "
            "stacked base is computed exactly"),
        err);
  }

  // Output files first, so that a bad path fails before the long run.
  std::ofstream json_file, svg_file;
  const std::string json_path = flags->GetString("json");
  const std::string svg_path = flags->GetString("svg");
  if (flags->Has("json")) {
    if (absl::Status s = OpenOutput("json", json_path, &json_file); !s.ok()) {
      return UsageError(kBenchCommand, s, err);
    }
  }
  if (flags->Has("svg")) {
    if (absl::Status s = OpenOutput("svg", svg_path, &svg_file); !s.ok()) {
      return UsageError(kBenchCommand, s, err);
    }
  }

  // Inputs: their errors name the file and row.
  const std::string base_path = flags->GetString("base");
  const std::string query_path = flags->GetString("queries");
  ReaderOptions fvecs;
  fvecs.format = "fvecs";
  absl::StatusOr<FloatMatrix> base = ReadFloatMatrix(base_path, 0, fvecs);
  if (!base.ok()) {
    return InputError(kBenchCommand, WithContext(base.status(), "--base"), err);
  }
  absl::StatusOr<FloatMatrix> queries =
      ReadFloatMatrix(query_path, static_cast<size_t>(*max_queries), fvecs);
  if (!queries.ok()) {
    return InputError(kBenchCommand, WithContext(queries.status(), "--queries"),
                      err);
  }
  if (queries->dim != base->dim) {
    return InputError(
        kBenchCommand,
        absl::InvalidArgumentError(absl::StrCat(
            "dimension mismatch: --queries ", query_path, " has dimension ",
            queries->dim, ", --base ", base_path, " has ", base->dim)),
        err);
  }
  if (base->dim < 2) {
    return InputError(
        kBenchCommand,
        absl::InvalidArgumentError(absl::StrCat(
            "--base: ", base_path, ": dimension ", base->dim, " is below 2")),
        err);
  }
  if (*stack > 1) {
    const auto t0 = std::chrono::steady_clock::now();
    absl::Status s = StackRotatedCopies(static_cast<uint32_t>(*stack),
                                        kStackSeed, &*base, &*queries);
    if (!s.ok())
      return UsageError(kBenchCommand, WithContext(s, "--stack"), err);
    out << absl::StrFormat(
        "stacked: %d rotated copies of %s (%zu rows, %.2f s)\n", *stack,
        base_path, base->rows, Seconds(t0));
  }
  const size_t n = base->rows, d = base->dim, nq = queries->rows;
  auto nlist = flags->GetInt("nlist", 0, 1, static_cast<int64_t>(n));
  if (!nlist.ok()) return UsageError(kBenchCommand, nlist.status(), err);
  o.nlist = static_cast<uint32_t>(*nlist);

  BenchSetup setup;
  setup.label = Label(*flags, base_path);
  if (*stack > 1) absl::StrAppend(&setup.label, " x", *stack);
  setup.metric = MetricName(o.metric);
  setup.n = n;
  setup.d = d;
  setup.nq = nq;
  setup.threads = o.threads;
  setup.batch = o.batch;
  setup.simd = kernels::ActiveTargetName();
  std::unique_ptr<ThreadPool> pool;
  if (o.threads > 1) pool = std::make_unique<ThreadPool>(o.threads);

  out << absl::StrFormat(
      "tqdb bench: %s: n=%zu d=%zu queries=%zu metric=%s k=%d threads=%d "
      "batch=%d\n",
      setup.label, n, d, nq, setup.metric, o.k, o.threads, o.batch);
  setup.mem_gbps = MeasureReadBandwidth();
  out << absl::StrFormat(
      "SIMD target: %s; memory read bandwidth: %.1f GB/s (1 thread, sum of "
      "256 MiB)\n",
      setup.simd, setup.mem_gbps);
  out.flush();

  // Ground truth.
  GroundTruth gt;
  std::vector<float> base_n, queries_n;  // normalized copies (cosine)
  if (o.metric == Metric::kCosine) {
    base_n = Normalized(base->data, n, d);
    queries_n = Normalized(queries->data, nq, d);
  }
  const std::vector<float>& base_m = base_n.empty() ? base->data : base_n;
  const std::vector<float>& queries_m =
      queries_n.empty() ? queries->data : queries_n;
  if (flags->Has("gt")) {
    const std::string gt_path = flags->GetString("gt");
    if (absl::Status s = LoadGroundTruth(gt_path, nq, n, &gt); !s.ok()) {
      return InputError(kBenchCommand, WithContext(s, "--gt"), err);
    }
    out << absl::StrFormat("ground truth: %s (%zu ids per query)\n", gt_path,
                           gt.width);
  } else {
    const auto t0 = std::chrono::steady_clock::now();
    gt = BruteForce(base_m, n, queries_m, nq, d, o.metric == Metric::kL2,
                    pool.get());
    out << absl::StrFormat(
        "note: no --gt given: ground truth computed exactly (brute force, "
        "top-%zu, %d thread%s, %.2f s)\n",
        gt.width, o.threads, o.threads == 1 ? "" : "s", Seconds(t0));
  }
  out << "\n";
  PrintHeader(out);
  out.flush();

  std::vector<BenchRow> rows;
  BenchSweep sweep(o, *base, *queries, base_m, queries_m, gt, pool.get(),
                   [&](const BenchRow& r) {
                     rows.push_back(r);
                     PrintRow(out, setup, r);
                     if (json_file.is_open()) {
                       json_file << JsonLine(setup, r);
                       json_file.flush();
                     }
                   });
  absl::Status swept = sweep.RunTqdb();
  if (swept.ok()) swept = sweep.RunFaiss(out);
  if (!swept.ok()) return Fail(kBenchCommand, swept, err);

  if (svg_file.is_open()) {
    svg_file << BenchSvg(setup, sweep.nlist(), rows);
    if (absl::Status s = CloseOutput("svg", svg_path, &svg_file); !s.ok()) {
      return Fail(kBenchCommand, s, err);
    }
    out << "wrote " << svg_path << "\n";
  }
  if (json_file.is_open()) {
    if (absl::Status s = CloseOutput("json", json_path, &json_file); !s.ok()) {
      return Fail(kBenchCommand, s, err);
    }
    out << "wrote " << json_path << "\n";
  }
  return kExitOk;
}

}  // namespace tqdb
