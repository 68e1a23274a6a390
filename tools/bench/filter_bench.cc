#include "tools/bench/filter_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/db.h"
#include "db/filter_json.h"
#include "index/thread_pool.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "quant/status_macros.h"
#include "tools/bench/recall.h"
#include "tools/bench/stopwatch.h"
#include "tools/cli/output.h"
#include "tools/io/matrix.h"

namespace tqdb {
namespace {

constexpr char kFilterBenchCommand[] = "bench --filter";

constexpr char kFilterBenchHelp[] =
    "usage: tqdb bench --filter --base B.fvecs --queries Q.fvecs --metric M\n"
    "                  [--payload B.payload.jsonl --field F] [flags]\n"
    "\n"
    "Filtered search through the database (payload indexes, the planner, the\n"
    "filtered IVF scan, rescoring), one thread. Per selectivity, two filters:\n"
    "correlated (a set of values of the payload field F, chosen to match\n"
    "about that share of the points; e.g. Debian sections, whose points sit\n"
    "in a few IVF lists) and uncorrelated (a range on '_u', a random\n"
    "permutation of 0..n-1 scaled to [0, 1e6): exactly that share). Reports\n"
    "filtered 10-recall@10 against the exact search over the matching rows,\n"
    "the share of full pages (min(k, matches) results), QPS against the\n"
    "unfiltered search at the same settings (timed in alternate passes: 'x\n"
    "unf' is their ratio), the plans; the ingest rate with three payload\n"
    "indexes (F keyword, _u integer, _r float) against none; memory per\n"
    "indexed field per point.\n"
    "\n"
    "flags:\n"
    "  --base FILE          .fvecs base vectors (ids 0..n-1)\n"
    "  --queries FILE       .fvecs queries\n"
    "  --metric M           cosine, ip or l2\n"
    "  --payload FILE       .jsonl, line i the payload of base row i\n"
    "  --field F            the payload field of the correlated filters\n"
    "                       (default section; skipped if no row has it)\n"
    "  --selectivity LIST   shares of matching points (default\n"
    "                       0.5,0.2,0.1,0.05,0.02,0.01,0.005,0.002,0.001)\n"
    "  --method M           renorm, mse, prod, pca, pq (default renorm)\n"
    "  --bits B             (default 4)\n"
    "  --nlist N            (default: 4 sqrt(n), at most n/39)\n"
    "  --nprobe N           lists probed (default 32)\n"
    "  --rescore R          oversampling of the rescore, 0 = none (default 4)\n"
    "  --refine LIST        rescoring sources (raw, int8, f32; default raw):\n"
    "                       one collection each (CollectionConfig::refine),\n"
    "                       unfiltered QPS of each timed alternately with\n"
    "                       the first's ('x first'), memory per point; the\n"
    "                       filters run on the first\n"
    "  --plans LIST         auto (the planner's choice), ivf, matches: the\n"
    "                       plans measured per filter (default auto)\n"
    "  --k K                results per query (default 10)\n"
    "  --max-queries N      use only the first N queries\n"
    "  --data DIR           where to build the database (default: a fresh\n"
    "                       directory under /tmp, removed at the end)\n"
    "  --json FILE          one JSON object per measured filter\n";

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Setup {
  size_t n = 0, d = 0, nq = 0;
  Metric metric = Metric::kCosine;
  std::vector<float> base, queries;  // as the metric compares them
  std::vector<Point> points;
  std::vector<std::string> field;  // per row: its field value ("" = none)
  std::vector<int64_t> u;          // per row: _u
  uint32_t k = 10;
};

// Exact top k over the rows `match` accepts, per query.
std::vector<std::vector<uint64_t>> Truth(const Setup& s,
                                         const std::vector<char>& match,
                                         ThreadPool* pool) {
  std::vector<std::vector<uint64_t>> out(s.nq);
  pool->ParallelFor(s.nq, [&](size_t qi) {
    const float* q = &s.queries[qi * s.d];
    std::vector<std::pair<float, uint64_t>> best;
    for (size_t i = 0; i < s.n; ++i) {
      if (!match[i]) continue;
      const float* v = &s.base[i * s.d];
      const float g = s.metric == Metric::kL2 ? -kernels::L2Sqr(q, v, s.d)
                                              : kernels::Dot(q, v, s.d);
      best.push_back({g, i});
    }
    const size_t k = std::min<size_t>(s.k, best.size());
    std::partial_sort(best.begin(), best.begin() + k, best.end(),
                      [](const auto& a, const auto& b) {
                        return a.first > b.first ||
                               (a.first == b.first && a.second < b.second);
                      });
    for (size_t i = 0; i < k; ++i) out[qi].push_back(best[i].second);
  });
  return out;
}

struct Measured {
  double recall = 0, full = 0, qps = 0, lists = 0, scored = 0, filter_ms = 0;
  double paired_qps = 0;  // of the `paired` options, timed alongside
  std::map<std::string, int> plans;
};

// The queries, one thread: a recall pass, then three timed passes, the
// fastest counting. With `paired` (the unfiltered search), each timed pass
// is preceded by one of it, so that both see the same machine (others'
// jobs share its two cores) and their ratio is fair.
// MeasureOn: the paired search runs base_options on `paired_collection`.
absl::StatusOr<Measured> MeasureOn(const Setup& s, Collection* c,
                                   const QueryOptions& base_options,
                                   const std::vector<std::vector<uint64_t>>& gt,
                                   uint64_t matches,
                                   Collection* paired_collection,
                                   const QueryOptions* paired = nullptr) {
  Measured m;
  QueryOptions o = base_options;
  SearchInfo info;
  o.info = &info;
  double hits = 0, want = 0;
  for (size_t qi = 0; qi < s.nq; ++qi) {
    auto r = c->Search(absl::MakeConstSpan(&s.queries[qi * s.d], s.d), o);
    TQ_RETURN_IF_ERROR(r.status()) << "query " << qi;
    std::set<uint64_t> truth(gt[qi].begin(), gt[qi].end());
    for (const Neighbor& nb : *r) hits += truth.count(nb.id);
    want += truth.size();
    m.full += r->size() == std::min<uint64_t>(s.k, matches);
    m.lists += info.lists_probed;
    m.scored += info.scored;
    m.filter_ms += info.filter_ms;
    ++m.plans[info.plan];
  }
  m.recall = want > 0 ? hits / want : 1.0;
  m.full /= s.nq;
  m.lists /= s.nq;
  m.scored /= s.nq;
  m.filter_ms /= s.nq;
  o.info = nullptr;
  auto pass = [&](Collection* on,
                  const QueryOptions& opts) -> absl::StatusOr<double> {
    const auto t0 = Clock::now();
    for (size_t qi = 0; qi < s.nq; ++qi) {
      auto r = on->Search(absl::MakeConstSpan(&s.queries[qi * s.d], s.d), opts);
      TQ_RETURN_IF_ERROR(r.status());
    }
    return Seconds(t0);
  };
  if (paired_collection != nullptr && paired == nullptr) paired = &o;
  if (paired_collection == nullptr) paired_collection = c;
  double best = 1e30, paired_best = 1e30;
  for (int i = 0; i < 3; ++i) {
    if (paired != nullptr) {
      TQ_ASSIGN_OR_RETURN(const double t, pass(paired_collection, *paired));
      paired_best = std::min(paired_best, t);
    }
    TQ_ASSIGN_OR_RETURN(const double t, pass(c, o));
    best = std::min(best, t);
  }
  m.qps = s.nq / best;
  if (paired != nullptr) m.paired_qps = s.nq / paired_best;
  return m;
}

absl::StatusOr<Measured> Measure(const Setup& s, Collection* c,
                                 const QueryOptions& base_options,
                                 const std::vector<std::vector<uint64_t>>& gt,
                                 uint64_t matches,
                                 const QueryOptions* paired = nullptr) {
  return MeasureOn(s, c, base_options, gt, matches, nullptr, paired);
}

// Values of the field whose points add up to about `target` (the largest
// that fit first), else the one value closest to it.
std::vector<std::string> ValuesFor(const std::map<std::string, uint64_t>& count,
                                   double target) {
  std::vector<std::pair<uint64_t, std::string>> by;
  for (const auto& [v, c] : count) by.push_back({c, v});
  std::sort(by.begin(), by.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  std::vector<std::string> chosen;
  double total = 0;
  for (const auto& [c, v] : by) {
    if (total + c <= target * 1.05) {
      chosen.push_back(v);
      total += c;
    }
    if (total >= target * 0.95) break;
  }
  if (chosen.empty() && !by.empty()) {
    auto best = by.front();
    for (const auto& e : by) {
      if (std::abs(double(e.first) - target) <
          std::abs(double(best.first) - target)) {
        best = e;
      }
    }
    chosen.push_back(best.second);
  }
  return chosen;
}

double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + t.tv_nsec * 1e-9;
}

struct IngestRun {
  double rate = 0;       // points/s, wall time
  double cpu_us = 1e30;  // CPU of the calling thread per point
};

// Ingest rate (points/s, untrained, batches of 1,000, one thread) into a
// fresh collection with or without the three payload indexes.
absl::StatusOr<IngestRun> IngestRate(Database* db, const Setup& s,
                                     const std::string& field, bool indexed,
                                     int rep) {
  CollectionConfig cfg;
  cfg.name = absl::StrCat("ingest_", indexed ? "indexed" : "plain", "_", rep);
  cfg.dim = static_cast<uint32_t>(s.d);
  cfg.metric = s.metric;
  cfg.train_threshold = s.n + 1;
  TQ_RETURN_IF_ERROR(db->CreateCollection(cfg).status());
  TQ_ASSIGN_OR_RETURN(auto c, db->GetCollection(cfg.name));
  if (indexed) {
    TQ_RETURN_IF_ERROR(
        c->CreateFieldIndex(field, FieldType::kKeyword, true).status());
    TQ_RETURN_IF_ERROR(
        c->CreateFieldIndex("_u", FieldType::kInteger, true).status());
    TQ_RETURN_IF_ERROR(
        c->CreateFieldIndex("_r", FieldType::kFloat, true).status());
  }
  std::vector<std::vector<Point>> batches;
  for (size_t at = 0; at < s.n; at += 1000) {
    batches.emplace_back(s.points.begin() + at,
                         s.points.begin() + std::min(s.n, at + 1000));
  }
  const auto t0 = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  for (const std::vector<Point>& batch : batches) {
    TQ_RETURN_IF_ERROR(c->Upsert(batch, false));
  }
  IngestRun run;
  run.cpu_us = (ThreadCpuSeconds() - cpu0) * 1e6 / s.n;
  run.rate = s.n / Seconds(t0);
  c.reset();
  TQ_RETURN_IF_ERROR(db->DropCollection(cfg.name));
  return run;
}

}  // namespace

bool WantsFilterBench(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "--filter") return true;
  }
  return false;
}

const FlagSpec& FilterBenchFlags() {
  static const FlagSpec* spec = new FlagSpec{
      {"base", "queries", "metric", "payload", "field", "selectivity", "method",
       "bits", "nlist", "nprobe", "rescore", "refine", "plans", "k",
       "max-queries", "data", "json"},
      {"filter"}};
  return *spec;
}

int RunFilterBench(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags =
      ParseCommandLine(kFilterBenchCommand, args, FilterBenchFlags(),
                       kFilterBenchHelp, out, err, &exit_code);
  if (!flags) return exit_code;
  for (const char* name : {"base", "queries", "metric"}) {
    if (!flags->Has(name)) {
      return UsageError(kFilterBenchCommand,
                        absl::StrCat("--", name, " is required"), err);
    }
  }
  Setup s;
  auto metric = ParseMetric(flags->GetString("metric"));
  if (!metric.ok())
    return UsageError(kFilterBenchCommand, metric.status(), err);
  s.metric = *metric;
  auto bits = flags->GetInt("bits", 4, 1, 8);
  auto nprobe = flags->GetInt("nprobe", 32, 0, 1 << 20);
  auto rescore = flags->GetInt("rescore", 4, 0, 1000);
  auto k = flags->GetInt("k", 10, 1, 10000);
  auto max_queries = flags->GetInt("max-queries", 0, 1, INT64_MAX);
  auto nlist = flags->GetInt("nlist", 0, 1, 1 << 20);
  for (const absl::Status& st :
       {bits.status(), nprobe.status(), rescore.status(), k.status(),
        max_queries.status(), nlist.status()}) {
    if (!st.ok()) return UsageError(kFilterBenchCommand, st, err);
  }
  s.k = static_cast<uint32_t>(*k);
  std::vector<double> selectivities;
  for (absl::string_view part : absl::StrSplit(
           flags->GetString("selectivity",
                            "0.5,0.2,0.1,0.05,0.02,0.01,0.005,0.002,0.001"),
           ',')) {
    double v;
    if (!absl::SimpleAtod(part, &v) || !(v > 0 && v <= 1)) {
      return UsageError(
          kFilterBenchCommand,
          absl::StrCat("--selectivity: '", part, "' is not a share in (0, 1]"),
          err);
    }
    selectivities.push_back(v);
  }
  const std::string field = flags->GetString("field", "section");
  auto plan_names =
      flags->GetWordList("plans", "auto", {"auto", "ivf", "matches"});
  if (!plan_names.ok())
    return UsageError(kFilterBenchCommand, plan_names.status(), err);
  auto refine_names =
      flags->GetWordList("refine", "raw", {"raw", "int8", "f32"});
  if (!refine_names.ok()) {
    return UsageError(kFilterBenchCommand, refine_names.status(), err);
  }
  std::ofstream json_file;
  if (flags->Has("json")) {
    json_file.open(flags->GetString("json"), std::ios::out | std::ios::trunc);
    if (!json_file) {
      return UsageError(kFilterBenchCommand, "--json: cannot write the file",
                        err);
    }
  }

  // Inputs.
  ReaderOptions fvecs;
  fvecs.format = "fvecs";
  auto base = ReadFloatMatrix(flags->GetString("base"), 0, fvecs);
  if (!base.ok()) return InputError(kFilterBenchCommand, base.status(), err);
  auto queries = ReadFloatMatrix(flags->GetString("queries"),
                                 static_cast<size_t>(*max_queries), fvecs);
  if (!queries.ok())
    return InputError(kFilterBenchCommand, queries.status(), err);
  if (queries->dim != base->dim) {
    return InputError(
        kFilterBenchCommand,
        absl::InvalidArgumentError("--queries: dimension mismatch"), err);
  }
  s.n = base->rows;
  s.d = base->dim;
  s.nq = queries->rows;
  s.base = s.metric == Metric::kCosine ? Normalized(base->data, s.n, s.d)
                                       : base->data;
  s.queries = s.metric == Metric::kCosine ? Normalized(queries->data, s.nq, s.d)
                                          : queries->data;
  std::vector<std::string> lines(s.n);
  if (flags->Has("payload")) {
    std::ifstream in(flags->GetString("payload"));
    if (!in) {
      return InputError(
          kFilterBenchCommand,
          absl::NotFoundError(absl::StrCat("--payload: cannot read ",
                                           flags->GetString("payload"))),
          err);
    }
    for (size_t i = 0; i < s.n && std::getline(in, lines[i]); ++i) {
    }
  }
  Rng rng(20240607);
  const std::vector<uint32_t> perm =
      RandomPermutation(static_cast<uint32_t>(s.n), &rng);
  s.field.resize(s.n);
  s.u.resize(s.n);
  s.points.resize(s.n);
  std::map<std::string, uint64_t> value_count;
  for (size_t i = 0; i < s.n; ++i) {
    json p = lines[i].empty() ? json::object()
                              : json::parse(lines[i], nullptr, false);
    if (p.is_discarded() || !p.is_object()) p = json::object();
    if (p.contains(field) && p[field].is_string()) {
      s.field[i] = p[field].get<std::string>();
      ++value_count[s.field[i]];
    }
    s.u[i] = static_cast<int64_t>(uint64_t{perm[i]} * 1000000 / s.n);
    p["_u"] = s.u[i];
    p["_r"] = rng.Uniform(1 << 30) / double(1 << 30);
    s.points[i].id = i;
    s.points[i].vector.assign(&base->data[i * s.d], &base->data[(i + 1) * s.d]);
    s.points[i].payload = p.dump();
  }

  // The database.
  std::string dir = flags->GetString("data");
  const bool temp = dir.empty();
  if (temp) {
    char tmpl[] = "/tmp/tqdb_filter_bench_XXXXXX";
    dir = mkdtemp(tmpl) ? tmpl : "/tmp/tqdb_filter_bench";
  }
  DatabaseOptions dbo;
  dbo.threads = 1;
  dbo.background_training = false;
  dbo.error_if_exists = false;
  auto db = Database::Open(dir + "/db", dbo);
  if (!db.ok()) return Fail(kFilterBenchCommand, db.status(), err);
  ThreadPool pool(0);
  auto fail = [&](const absl::Status& st) {
    (*db)->Close().IgnoreError();
    if (temp) std::filesystem::remove_all(dir);
    return Fail(kFilterBenchCommand, st, err);
  };
  out << absl::StrFormat(
      "tqdb bench --filter: n=%d d=%d queries=%d metric=%s method=%s bits=%d "
      "nprobe=%d rescore=%d k=%d, one thread (SIMD %s)\n",
      s.n, s.d, s.nq, MetricName(s.metric),
      flags->GetString("method", "renorm"), *bits, *nprobe, *rescore, s.k,
      kernels::ActiveTargetName());

  // Ingest with and without indexes, alternated (each order in turn), the
  // best of five each: wall time (what a client sees; other processes on
  // the machine and RocksDB's background work count) and the CPU time of
  // the calling thread.
  IngestRun plain, indexed;
  for (int rep = 0; rep < 5; ++rep) {
    for (bool with : {rep % 2 == 1, rep % 2 == 0}) {
      auto r = IngestRate(db->get(), s, field, with, rep);
      if (!r.ok()) return fail(r.status());
      IngestRun& best = with ? indexed : plain;
      best.rate = std::max(best.rate, r->rate);
      best.cpu_us = std::min(best.cpu_us, r->cpu_us);
    }
  }
  out << absl::StrFormat(
      "ingest (untrained, batches of 1,000, best of 5): %.0f points/s "
      "without payload indexes, %.0f with 3 (%s keyword, _u integer, _r "
      "float): %.0f%%; CPU per point (calling thread) %.1f us, %.1f us: "
      "%.0f%%\n",
      plain.rate, indexed.rate, field, 100.0 * indexed.rate / plain.rate,
      plain.cpu_us, indexed.cpu_us, 100.0 * plain.cpu_us / indexed.cpu_us);

  // The collections searched: one per rescoring source, the same points
  // (same seed: the same centroids and codes).
  std::vector<std::shared_ptr<Collection>> colls;
  std::vector<CollectionInfo> infos;
  for (const std::string& refine_name : *refine_names) {
    CollectionConfig cfg;
    cfg.name = absl::StrCat("bench_", refine_name);
    cfg.dim = static_cast<uint32_t>(s.d);
    cfg.metric = s.metric;
    cfg.method = flags->GetString("method", "renorm");
    cfg.bits = static_cast<uint32_t>(*bits);
    cfg.nlist = static_cast<uint32_t>(*nlist);
    cfg.train_threshold = s.n + 1;
    cfg.refine =
        *ParseRefineKind(refine_name, RefineVocabulary::kRescoreSource);
    if (auto st = (*db)->CreateCollection(cfg).status(); !st.ok()) {
      return fail(st);
    }
    auto c = *(*db)->GetCollection(cfg.name);
    for (const auto& [f, t] :
         {std::make_pair(field, FieldType::kKeyword),
          std::make_pair(std::string("_u"), FieldType::kInteger),
          std::make_pair(std::string("_r"), FieldType::kFloat)}) {
      if (auto st = c->CreateFieldIndex(f, t, true).status(); !st.ok()) {
        return fail(st);
      }
    }
    for (size_t at = 0; at < s.n; at += 1000) {
      std::vector<Point> batch(s.points.begin() + at,
                               s.points.begin() + std::min(s.n, at + 1000));
      if (auto st = c->Upsert(batch, false); !st.ok()) return fail(st);
    }
    const auto t_train = Clock::now();
    if (auto st = c->Train(); !st.ok()) return fail(st);
    auto info = c->Info();
    if (!info.ok()) return fail(info.status());
    out << absl::StrFormat(
        "trained %s: nlist %d (%.1f s); index memory per point %d bytes "
        "(rescoring codes %d)\n",
        cfg.name, info->nlist, Seconds(t_train), info->memory_bytes_per_vector,
        info->refine_bytes);
    colls.push_back(std::move(c));
    infos.push_back(*std::move(info));
  }
  Collection* c = colls.front().get();
  const CollectionInfo* info = &infos.front();
  for (const FieldIndexInfo& fi : info->field_indexes) {
    out << absl::StrFormat(
        "payload index %-10s %-8s %8d points, %10d bytes: %.1f bytes per "
        "point of the collection\n",
        fi.field, FieldTypeName(fi.type), fi.points, fi.memory_bytes,
        double(fi.memory_bytes) / s.n);
  }

  QueryOptions o;
  o.k = s.k;
  o.nprobe = static_cast<uint32_t>(*nprobe);
  o.rescore = *rescore > 0;
  o.oversampling = *rescore > 0 ? static_cast<float>(*rescore) : 1.0f;
  // Unfiltered, at the same settings.
  std::vector<char> all(s.n, 1);
  const auto unfiltered_gt = Truth(s, all, &pool);
  auto unfiltered = Measure(s, c, o, unfiltered_gt, s.n);
  if (!unfiltered.ok()) return fail(unfiltered.status());
  out << absl::StrFormat(
      "unfiltered %s: 10-recall@10 %.3f, %.0f QPS (%.1f lists)\n",
      refine_names->front(), unfiltered->recall, unfiltered->qps,
      unfiltered->lists);
  for (size_t r = 1; r < colls.size(); ++r) {
    // Timed in alternate passes with the first collection's search.
    auto m = MeasureOn(s, colls[r].get(), o, unfiltered_gt, s.n, c);
    if (!m.ok()) return fail(m.status());
    out << absl::StrFormat(
        "unfiltered %s: 10-recall@10 %.3f, %.0f QPS (%.1f lists), x first "
        "%.2f (first %.0f QPS alongside)\n",
        (*refine_names)[r], m->recall, m->qps, m->lists, m->qps / m->paired_qps,
        m->paired_qps);
    if (json_file.is_open()) {
      json_file << json{{"filter", "none"},
                        {"refine", (*refine_names)[r]},
                        {"recall10", m->recall},
                        {"qps", m->qps},
                        {"first_qps", m->paired_qps},
                        {"memory_bytes_per_vector",
                         infos[r].memory_bytes_per_vector},
                        {"refine_bytes", infos[r].refine_bytes}}
                       .dump()
                << "\n";
    }
  }
  out << "\n";
  out << absl::StrFormat(
      "%-12s %7s %7s %8s %-7s %7s %6s %8s %7s %-22s %6s %7s %6s\n", "filter",
      "target", "actual", "matches", "plan", "recall", "full", "QPS", "x unf",
      "plans taken", "lists", "scored", "f.ms");
  if (json_file.is_open()) {
    json_file << json{{"filter", "none"},
                      {"refine", refine_names->front()},
                      {"memory_bytes_per_vector",
                       info->memory_bytes_per_vector},
                      {"refine_bytes", info->refine_bytes},
                      {"recall10", unfiltered->recall},
                      {"qps", unfiltered->qps},
                      {"ingest_plain", plain.rate},
                      {"ingest_indexed", indexed.rate},
                      {"ingest_cpu_us_plain", plain.cpu_us},
                      {"ingest_cpu_us_indexed", indexed.cpu_us}}
                     .dump()
              << "\n";
  }
  for (const char* kind : {"correlated", "uniform"}) {
    if (std::string(kind) == "correlated" && value_count.empty()) {
      out << "(no row has a string field '" << field
          << "': no correlated filters)\n";
      continue;
    }
    for (double sel : selectivities) {
      std::vector<char> match(s.n, 0);
      Filter f;
      std::string what;
      if (std::string(kind) == "correlated") {
        const std::vector<std::string> values =
            ValuesFor(value_count, sel * s.n);
        const std::set<std::string> vs(values.begin(), values.end());
        for (size_t i = 0; i < s.n; ++i) match[i] = vs.count(s.field[i]) > 0;
        f.must.push_back(Condition::AnyKeyword(field, values));
        what = absl::StrJoin(values, ",");
      } else {
        const int64_t below = static_cast<int64_t>(std::llround(sel * 1e6));
        for (size_t i = 0; i < s.n; ++i) match[i] = s.u[i] < below;
        Range r;
        r.lt = static_cast<double>(below);
        f.must.push_back(Condition::InRange("_u", r));
        what = absl::StrCat("_u < ", below);
      }
      const uint64_t matches = std::count(match.begin(), match.end(), 1);
      const auto gt = Truth(s, match, &pool);
      for (const std::string& plan_name : *plan_names) {
        QueryOptions fo = o;
        fo.filter = std::make_shared<const Filter>(f);
        fo.filter_plan = plan_name == "ivf"       ? FilterPlanChoice::kIvf
                         : plan_name == "matches" ? FilterPlanChoice::kMatches
                                                  : FilterPlanChoice::kAuto;
        auto m = Measure(s, c, fo, gt, matches, &o);
        if (!m.ok()) return fail(m.status());
        std::string plans;
        for (const auto& [p, count] : m->plans) {
          absl::StrAppend(&plans, plans.empty() ? "" : " ",
                          p.substr(p.find('-') + 1), ":", count);
        }
        out << absl::StrFormat(
            "%-12s %7.3f %7.4f %8d %-7s %7.3f %6.3f %8.0f %7.2f %-22s %6.1f "
            "%7.0f %6.3f\n",
            kind, sel, double(matches) / s.n, matches, plan_name, m->recall,
            m->full, m->qps, m->qps / m->paired_qps, plans, m->lists, m->scored,
            m->filter_ms);
        out.flush();
        if (json_file.is_open()) {
          json_file << json{{"filter", kind},
                            {"selectivity", sel},
                            {"actual", double(matches) / s.n},
                            {"matches", matches},
                            {"what", what},
                            {"plan", plan_name},
                            {"recall10", m->recall},
                            {"full_pages", m->full},
                            {"qps", m->qps},
                            {"qps_vs_unfiltered", m->qps / m->paired_qps},
                            {"unfiltered_recall10", unfiltered->recall},
                            {"unfiltered_qps", m->paired_qps},
                            {"plans", m->plans},
                            {"lists_probed", m->lists},
                            {"scored", m->scored},
                            {"filter_ms", m->filter_ms}}
                           .dump()
                    << "\n";
        }
      }
    }
  }
  colls.clear();
  absl::Status closed = (*db)->Close();
  if (temp) std::filesystem::remove_all(dir);
  if (!closed.ok()) return Fail(kFilterBenchCommand, closed, err);
  return kExitOk;
}

}  // namespace tqdb
