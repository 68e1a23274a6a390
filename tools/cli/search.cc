// tqdb search: the nearest neighbours of one query vector, given on the
// command line (--vector) or as a row of a vector file (--query-file).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "db/formula_json.h"
#include "tools/cli/backend.h"
#include "tools/cli/client.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"
#include "tools/cli/payload_text.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace {

constexpr char kSearchCommand[] = "search";

constexpr char kSearchUsage[] =
    "usage: tqdb search --collection C (--server HOST:PORT | --data DIR)\n"
    "                   (--vector \"0.1,0.2,...\" | --query-file F [--row N]"
    " |\n"
    "                    --like IDS [--unlike IDS] [--strategy S])\n"
    "                   [--sparse I:V,... | --text \"...\"] [flags]\n"
    "\n"
    "Nearest neighbours of one query vector, best first; or of points of\n"
    "the collection (search by example).\n"
    "\n"
    "flags:\n"
    "%s"
    "  --collection C         the collection (required)\n"
    "  --vector V             the query, comma-separated numbers\n"
    "  --query-file F         read the query from a vector file (any format\n"
    "                         tqdb ingest reads), row --row N (0-based,\n"
    "                         default 0)\n"
    "  --format F             the query file's format when its extension "
    "does\n"
    "                         not say\n"
    "  --like IDS             search by example: the points most like these\n"
    "                         (comma-separated ids; the query is the mean of\n"
    "                         their stored vectors, normalized under cosine),\n"
    "                         left out of the results\n"
    "  --unlike IDS           with --like: away from these (the query is\n"
    "                         2 mean(like) - mean(unlike))\n"
    "  --strategy S           how the examples score the points (Qdrant's\n"
    "                         recommend strategies): average_vector (the\n"
    "                         default: the query above), best_score (a point\n"
    "                         nearer a --like point than any --unlike one\n"
    "                         scores f(its best score to them), the others\n"
    "                         -f(their best score to an --unlike point), f(s)\n"
    "                         = (s / (1 + |s|) + 1) / 2), sum_scores (the\n"
    "                         scores to the --like points minus those to the\n"
    "                         --unlike ones); under the last two a higher\n"
    "                         score is better on every metric (l2: minus the\n"
    "                         squared distance) and --unlike alone is allowed\n"
    "                         on ip and cosine collections\n"
    "  --sparse I:V,...       a sparse query (index:value pairs): alone, the\n"
    "                         points' sparse vectors by dot product; with\n"
    "                         --vector or --query-file, a hybrid search of\n"
    "                         both, fused\n"
    "  --text \"...\"           a collection created with --bm25: a full-text\n"
    "                         query ranked by BM25 (its stemmed words as a\n"
    "                         sparse query weighed by IDF), alone or hybrid\n"
    "                         as --sparse\n"
    "  --sparse-idf           weigh each --sparse value by its term's IDF\n"
    "                         over the collection (BM25 over term-frequency\n"
    "                         weights)\n"
    "  --fusion F             hybrid: rrf (default: the sum of 1 / (rrf-k +\n"
    "                         position)) or dbsf (scores normalized by mean\n"
    "                         +- 3 sd, summed)\n"
    "  --rrf-k X              rrf's constant (default 2)\n"
    "  --prefetch N           hybrid: how deep each search goes; with\n"
    "                         --formula, how many points it rescores\n"
    "                         (default offset + k)\n"
    "  --formula JSON         score boosting (Qdrant's formula query): the\n"
    "                         search's best --prefetch points rescored by\n"
    "                         this expression over $score and payload keys,\n"
    "                         highest first, e.g. '{\"sum\": [\"$score\",\n"
    "                         {\"mult\": [0.1, \"popularity\"]}]}' (README\n"
    "                         \"Querying over gRPC\")\n"
    "  --formula-defaults JSON  values for points without one at a key:\n"
    "                         '{\"popularity\": 0}'\n"
    "  --group-by KEY         search groups: the best K groups of points\n"
    "                         sharing a value (string or integer) at this\n"
    "                         payload key, best group first\n"
    "  --group-size N         hits a group shows (default 1)\n"
    "  --k K                  neighbours, or groups (default 10)\n"
    "  --offset N             skip the best N first: the page after them\n"
    "                         (default 0)\n"
    "  --nprobe N             lists probed (default 16; 0 = all; at most the\n"
    "                         collection's nlist: the output says the nprobe\n"
    "                         used)\n"
    "  --exact                brute force over the stored vectors\n"
    "  --rescore              rerank k * oversampling candidates exactly\n"
    "  --oversampling X       (default 4)\n"
    "  --probe-sigmas S       adaptive probing (ip, cosine): skip a list "
    "whose\n"
    "                         best expected score (S deviations above its\n"
    "                         centroid's) cannot reach the k-th found; nprobe\n"
    "                         is then the most lists (default 0 = off)\n"
    "%s"
    "  --with-payload         print payloads (default on in the table)\n"
    "%s"
    "  --json                 one JSON object: collection, k, nprobe_used,\n"
    "                         time_ms, results [{id, score, payload}], and\n"
    "                         with --filter the plan\n"
    "\n"
    "Payloads are JSON (shown as their JSON value). Bytes stored by older\n"
    "versions that are not JSON are shown as a JSON string, and bytes that\n"
    "are not UTF-8 as U+FFFD.\n";

// --formula (an expression in Qdrant's JSON syntax, db/formula_json.h)
// with --formula-defaults; InvalidArgument naming the flag and the place.
absl::StatusOr<Formula> FormulaFromFlags(const std::string& expression,
                                         const std::string& defaults) {
  const nlohmann::json e = nlohmann::json::parse(expression, nullptr, false);
  if (e.is_discarded()) {
    return absl::InvalidArgumentError("--formula is not valid JSON");
  }
  nlohmann::json q = {{"formula", e}};
  if (!defaults.empty()) {
    q["defaults"] = nlohmann::json::parse(defaults, nullptr, false);
    if (q["defaults"].is_discarded()) {
      return absl::InvalidArgumentError("--formula-defaults is not valid JSON");
    }
  }
  absl::StatusOr<Formula> f = FormulaFromJson(q);
  if (!f.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--formula: ", f.status().message()));
  }
  // The server would refuse it the same way: say so before connecting.
  absl::Status compiled = ScoreFormula::Compile(*f).status();
  if (!compiled.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--formula: ", compiled.message()));
  }
  return f;
}

// The index:value pairs of --sparse; InvalidArgument naming the bad one.
absl::StatusOr<SparseVector> ParseSparse(const std::string& text) {
  SparseVector v;
  int item = 0;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    ++item;
    const std::pair<absl::string_view, absl::string_view> iv =
        absl::StrSplit(part, absl::MaxSplits(':', 1));
    uint32_t index;
    float value;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(iv.first), &index) ||
        !absl::SimpleAtof(absl::StripAsciiWhitespace(iv.second), &value) ||
        !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sparse: item ", item, " ('", part,
                       "') is not index:value (an index in [0, 2^32), a "
                       "finite value)"));
    }
    v.indices.push_back(index);
    v.values.push_back(value);
  }
  return v;
}

// The numbers of --vector; InvalidArgument naming the bad one.
absl::StatusOr<std::vector<float>> ParseVector(const std::string& text) {
  std::vector<float> q;
  int col = 0;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    ++col;
    float v;
    if (!absl::SimpleAtof(absl::StripAsciiWhitespace(part), &v) ||
        !std::isfinite(v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--vector: value ", col, " ('", part, "') is not a finite number"));
    }
    q.push_back(v);
  }
  return q;
}

// Row `row` (0-based) of the vector file `path`; errors name the file.
absl::StatusOr<std::vector<float>> ReadQueryRow(const std::string& path,
                                                const std::string& format,
                                                uint64_t row) {
  ReaderOptions ro;
  ro.format = format;
  auto reader = VectorReader::Open(path, ro);
  if (!reader.ok()) return reader.status();
  if (row > 0) {
    if (absl::Status s = (*reader)->Skip(row); !s.ok()) return s;
  }
  VectorBatch batch;
  auto n = (*reader)->Next(1, &batch);
  if (!n.ok()) return n.status();
  if (*n == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no row ", row));
  }
  return std::move(batch.vectors);
}

nlohmann::json PlanJson(const SearchInfo& i) {
  return {{"kind", i.plan},
          {"matches", i.matches},
          {"lists_probed", i.lists_probed},
          {"scored", i.scored},
          {"filter_ms", i.filter_ms},
          {"unindexed_fields", i.unindexed_fields}};
}

// `info`: what the search did; its plan is printed when `filtered`.
void PrintHits(const std::vector<Hit>& hits, const std::string& coll,
               const std::string& source, uint32_t k, double ms,
               const SearchInfo& info, bool filtered, bool json,
               std::ostream& out) {
  if (json) {
    nlohmann::json res = nlohmann::json::array();
    for (const Hit& h : hits) {
      res.push_back({{"id", h.id},
                     {"score", h.score},
                     {"payload", PayloadJson(h.payload)}});
    }
    nlohmann::json doc = {{"collection", coll},
                          {"k", k},
                          {"nprobe_used", info.nprobe_used},
                          {"time_ms", ms},
                          {"results", res}};
    if (filtered) doc["plan"] = PlanJson(info);
    out << DumpJson(doc) << "\n";
    return;
  }
  out << absl::StrFormat("%d neighbours of %s in '%s' (%.2f ms, %s)\n",
                         hits.size(), ValidUtf8(source), coll, ms,
                         info.exact
                             ? std::string("exact")
                             : absl::StrCat("nprobe ", info.nprobe_used));
  if (filtered) {
    const SearchInfo* plan = &info;
    out << absl::StrFormat(
        "filter: %s matching points, plan %s (%d lists probed, %s scored)%s\n",
        Thousands(plan->matches), plan->plan, plan->lists_probed,
        Thousands(plan->scored),
        plan->unindexed_fields.empty()
            ? ""
            : absl::StrCat("; read from payloads (no index): ",
                           absl::StrJoin(plan->unindexed_fields, ", ")));
  }
  out << absl::StrFormat("%4s  %20s  %10s  %s\n", "rank", "id", "score",
                         "payload");
  int rank = 0;
  for (const Hit& h : hits) {
    out << absl::StrFormat("%4d  %20d  %10.4f  %s\n", ++rank, h.id, h.score,
                           PayloadCell(h.payload, 60));
  }
}

void PrintGroups(const std::vector<HitGroup>& groups, const std::string& coll,
                 const std::string& source, const std::string& key, double ms,
                 bool json, std::ostream& out) {
  if (json) {
    nlohmann::json res = nlohmann::json::array();
    for (const HitGroup& g : groups) {
      nlohmann::json hits = nlohmann::json::array();
      for (const Hit& h : g.hits) {
        hits.push_back({{"id", h.id},
                        {"score", h.score},
                        {"payload", PayloadJson(h.payload)}});
      }
      res.push_back({{"value", g.value}, {"hits", hits}});
    }
    out << DumpJson({{"collection", coll},
                     {"group_by", key},
                     {"time_ms", ms},
                     {"groups", res}})
        << "\n";
    return;
  }
  out << absl::StrFormat("%d groups by %s of %s in '%s' (%.2f ms)\n",
                         groups.size(), ValidUtf8(key), ValidUtf8(source), coll,
                         ms);
  out << absl::StrFormat("%5s  %-20s  %20s  %10s  %s\n", "group", "value", "id",
                         "score", "payload");
  int rank = 0;
  for (const HitGroup& g : groups) {
    ++rank;
    for (const Hit& h : g.hits) {
      out << absl::StrFormat("%5d  %-20s  %20d  %10.4f  %s\n", rank,
                             ValidUtf8(g.value), h.id, h.score,
                             PayloadCell(h.payload, 40));
    }
  }
}

}  // namespace

const FlagSpec& SearchFlags() {
  static const FlagSpec* spec = new FlagSpec(TargetFlags().And(
      {{"collection",
        "vector",
        "query-file",
        "row",
        "format",
        "like",
        "unlike",
        "strategy",
        "group-by",
        "group-size",
        "k",
        "offset",
        "nprobe",
        "oversampling",
        "probe-sigmas",
        "filter",
        "payload-include",
        "payload-exclude",
        "sparse",
        "text",
        "fusion",
        "rrf-k",
        "prefetch",
        "formula",
        "formula-defaults"},
       {"exact", "rescore", "with-payload", "json", "sparse-idf"}}));
  return *spec;
}

int RunSearch(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags =
      ParseCommandLine(kSearchCommand, args, SearchFlags(),
                       absl::StrFormat(kSearchUsage, kTargetHelp, kFilterHelp,
                                       kPayloadSelectorHelp),
                       out, err, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("collection")) {
    return UsageError(kSearchCommand, "--collection is required", err);
  }
  QueryOptions o;
  const bool by_example = flags->Has("like") || flags->Has("unlike");
  if (flags->Has("strategy")) {
    const std::string name = flags->GetString("strategy");
    if (!by_example) {
      return UsageError(kSearchCommand,
                        "--strategy goes with --like / --unlike", err);
    }
    if (name == "best_score") {
      o.examples.strategy = RecommendStrategy::kBestScore;
    } else if (name == "sum_scores") {
      o.examples.strategy = RecommendStrategy::kSumScores;
    } else if (name != "average_vector") {
      return UsageError(kSearchCommand,
                        absl::StrCat("--strategy '", name,
                                     "' is not average_vector, best_score or "
                                     "sum_scores"),
                        err);
    }
  }
  if (flags->Has("unlike") && !flags->Has("like") &&
      o.examples.strategy == RecommendStrategy::kAverageVector) {
    return UsageError(
        kSearchCommand,
        "--unlike goes with --like (alone: --strategy best_score or "
        "sum_scores)",
        err);
  }
  const bool text = flags->Has("text");
  if (text && flags->Has("sparse")) {
    return UsageError(kSearchCommand,
                      "--sparse and --text: give one (a text is searched as "
                      "its words' sparse vector)",
                      err);
  }
  const bool sparse = flags->Has("sparse") || text;
  const int dense =
      int{flags->Has("vector")} + flags->Has("query-file") + by_example;
  if (dense > 1 || (dense == 0 && !sparse)) {
    return UsageError(kSearchCommand,
                      "give exactly one of --vector, --query-file and --like "
                      "(or --sparse or --text alone)",
                      err);
  }
  if (sparse && by_example) {
    return UsageError(kSearchCommand,
                      absl::StrCat(text ? "--text" : "--sparse",
                                   " does not go with --like or --unlike"),
                      err);
  }
  if (flags->Has("sparse-idf") && !flags->Has("sparse")) {
    return UsageError(kSearchCommand, "--sparse-idf goes with --sparse", err);
  }
  const bool hybrid = sparse && dense == 1;
  if (!hybrid && (flags->Has("fusion") || flags->Has("rrf-k"))) {
    return UsageError(kSearchCommand,
                      "--fusion and --rrf-k go with --sparse (or --text) and "
                      "--vector or --query-file (a hybrid search)",
                      err);
  }
  if (!hybrid && !flags->Has("formula") && flags->Has("prefetch")) {
    return UsageError(kSearchCommand,
                      "--prefetch goes with a hybrid search (--sparse or "
                      "--text and --vector or --query-file) or --formula",
                      err);
  }
  auto prefetch = flags->GetInt("prefetch", 0, 0, 100000);
  if (!prefetch.ok()) return UsageError(kSearchCommand, prefetch.status(), err);
  std::optional<FormulaSearch> formula;
  if (flags->Has("formula-defaults") && !flags->Has("formula")) {
    return UsageError(kSearchCommand, "--formula-defaults goes with --formula",
                      err);
  }
  if (flags->Has("formula")) {
    auto f = FormulaFromFlags(flags->GetString("formula"),
                              flags->GetString("formula-defaults"));
    if (!f.ok()) return UsageError(kSearchCommand, f.status(), err);
    formula.emplace();
    formula->formula = *std::move(f);
    formula->prefetch_limit = static_cast<uint32_t>(*prefetch);
  }
  std::optional<SparseSearch> sparse_search;
  if (sparse) {
    sparse_search.emplace();
    if (text) {
      sparse_search->text = flags->GetString("text");
    } else {
      auto v = ParseSparse(flags->GetString("sparse"));
      if (!v.ok()) return UsageError(kSearchCommand, v.status(), err);
      sparse_search->vector = *std::move(v);
    }
    sparse_search->idf = flags->Has("sparse-idf");
    const std::string fusion = flags->GetString("fusion");
    if (fusion == "dbsf") {
      sparse_search->fusion = Fusion::kDbsf;
    } else if (!fusion.empty() && fusion != "rrf") {
      return UsageError(
          kSearchCommand,
          absl::StrCat("--fusion '", fusion, "' is not rrf or dbsf"), err);
    }
    if (flags->Has("rrf-k")) {
      auto rrf_k = flags->GetDouble("rrf-k", 2.0);
      if (!rrf_k.ok()) return UsageError(kSearchCommand, rrf_k.status(), err);
      sparse_search->rrf_k = *rrf_k;
    }
    sparse_search->prefetch_limit = static_cast<uint32_t>(*prefetch);
  }
  auto k = flags->GetInt("k", 10, 1, 100000);
  auto nprobe = flags->GetInt("nprobe", 16, 0, 1 << 20);
  auto os = flags->GetDouble("oversampling", 4.0);
  auto ps = flags->GetDouble("probe-sigmas", 0.0);
  auto row = flags->GetInt("row", 0, 0, INT64_MAX);
  auto offset = flags->GetInt("offset", 0, 0, 100000);
  auto group_size = flags->GetInt("group-size", 1, 1, 100000);
  for (const absl::Status& s :
       {k.status(), nprobe.status(), os.status(), ps.status(), row.status(),
        offset.status(), group_size.status()}) {
    if (!s.ok()) return UsageError(kSearchCommand, s, err);
  }
  const bool grouped = flags->Has("group-by");
  if (flags->Has("group-size") && !grouped) {
    return UsageError(kSearchCommand, "--group-size goes with --group-by", err);
  }
  if (grouped && *offset != 0) {
    return UsageError(kSearchCommand, "--offset does not go with --group-by",
                      err);
  }
  // A page is the search of offset + k, its first `offset` dropped (as the
  // server does with SearchRequest.offset).
  o.k = static_cast<uint32_t>(*k + *offset);
  o.nprobe = static_cast<uint32_t>(*nprobe);
  o.exact = flags->Has("exact");
  o.rescore = flags->Has("rescore");
  o.oversampling = static_cast<float>(*os);
  o.probe_sigmas = static_cast<float>(*ps);
  auto filter = FilterFromFlags(*flags);
  if (!filter.ok()) return UsageError(kSearchCommand, filter.status(), err);
  o.filter = *filter;
  auto selector = PayloadSelectorFromFlags(*flags);
  if (!selector.ok()) {
    return UsageError(kSearchCommand, selector.status(), err);
  }

  std::vector<float> q;
  std::string source;
  if (by_example) {
    if (flags->Has("like")) {
      auto like = flags->GetIdList("like");
      if (!like.ok()) return UsageError(kSearchCommand, like.status(), err);
      o.examples.positive = *std::move(like);
    }
    if (flags->Has("unlike")) {
      auto unlike = flags->GetIdList("unlike");
      if (!unlike.ok()) return UsageError(kSearchCommand, unlike.status(), err);
      o.examples.negative = *std::move(unlike);
    }
    source =
        o.examples.positive.empty()
            ? std::string("points")
            : absl::StrCat("points ", absl::StrJoin(o.examples.positive, ","));
    if (!o.examples.negative.empty()) {
      absl::StrAppend(&source, " (unlike ",
                      absl::StrJoin(o.examples.negative, ","), ")");
    }
    if (o.examples.strategy != RecommendStrategy::kAverageVector) {
      absl::StrAppend(&source,
                      o.examples.strategy == RecommendStrategy::kBestScore
                          ? " by best_score"
                          : " by sum_scores");
    }
  } else if (dense == 0) {
    source = text ? "--text" : "--sparse";
  } else if (flags->Has("vector")) {
    auto parsed = ParseVector(flags->GetString("vector"));
    if (!parsed.ok()) return UsageError(kSearchCommand, parsed.status(), err);
    q = std::move(*parsed);
    source = "--vector";
  } else {
    const std::string path = flags->GetString("query-file");
    auto read = ReadQueryRow(path, flags->GetString("format"),
                             static_cast<uint64_t>(*row));
    if (!read.ok()) return InputError(kSearchCommand, read.status(), err);
    q = std::move(*read);
    source = absl::StrCat(path, " row ", *row);
  }
  auto backend = OpenBackend(*flags, false);
  if (!backend.ok()) return Fail(kSearchCommand, backend.status(), err);
  const std::string coll = flags->GetString("collection");
  const bool payload = true;
  const auto t0 = std::chrono::steady_clock::now();
  if (grouped) {
    auto groups = (*backend)->SearchGroups(
        coll, q, o, flags->GetString("group-by"),
        static_cast<uint32_t>(*group_size),
        sparse_search.has_value() ? &*sparse_search : nullptr,
        formula.has_value() ? &*formula : nullptr);
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
    if (!groups.ok()) return Fail(kSearchCommand, groups.status(), err);
    for (HitGroup& g : *groups) {
      for (Hit& h : g.hits) h.payload = selector->Apply(h.payload);
    }
    PrintGroups(*groups, coll, source, flags->GetString("group-by"), ms,
                flags->Has("json"), out);
    absl::Status closed = (*backend)->Close();
    return closed.ok() ? kExitOk : Fail(kSearchCommand, closed, err);
  }
  SearchInfo info;
  if (hybrid) absl::StrAppend(&source, text ? " and --text" : " and --sparse");
  if (formula.has_value()) absl::StrAppend(&source, " by --formula");
  auto hits =
      (*backend)->Search(coll, q, o, payload, &info,
                         sparse_search.has_value() ? &*sparse_search : nullptr,
                         formula.has_value() ? &*formula : nullptr);
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
  if (!hits.ok()) return Fail(kSearchCommand, hits.status(), err);
  hits->erase(hits->begin(),
              hits->begin() + std::min<size_t>(*offset, hits->size()));
  for (Hit& h : *hits) h.payload = selector->Apply(h.payload);
  PrintHits(*hits, coll, source, static_cast<uint32_t>(*k), ms, info,
            o.filter != nullptr, flags->Has("json"), out);
  absl::Status closed = (*backend)->Close();
  return closed.ok() ? kExitOk : Fail(kSearchCommand, closed, err);
}

}  // namespace tqdb
