// tqdb collections: list, info, create, train and drop collections, index
// payload fields, count points (all, or those matching a filter) and the
// values of a field (facet counts), over a server (--server) or a data
// directory (--data).
#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/cli/backend.h"
#include "tools/cli/client.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"
#include "tools/cli/payload_text.h"

namespace tqdb {
namespace {

constexpr char kCollectionsCommand[] = "collections";

constexpr char kCollectionsUsage[] =
    "usage: tqdb collections (--server HOST:PORT | --data DIR) [ACTION] "
    "[--json]\n"
    "\n"
    "actions:\n"
    "  list                   all collections (default)\n"
    "  info NAME              settings, counts, training and list stats\n"
    "  create NAME --dim D [--metric cosine|ip|l2] [--method renorm|mse|prod|"
    "pca|pq]\n"
    "         [--bits B] [--nlist N] [--seed S] [--no-store-vectors]\n"
    "         [--refine raw|int8|f32]  rescore from the stored vectors\n"
    "                         (default) or from int8 / f32 codes in memory\n"
    "         [--prefix-sharing auto|always|never]  the lists hold the first\n"
    "                         scan pass's bits once or twice; auto (default):\n"
    "                         once where that loses nothing (mse, renorm),\n"
    "                         always: pca too (less memory, a little slower)\n"
    "         [--pca-weighting auto|off|on]  pca: code the residuals weighted\n"
    "                         as queries like the data see them; auto\n"
    "                         (default): where the collection's own sample\n"
    "                         ranks better with it (twice the training\n"
    "                         time); info's codec says what it chose\n"
    "         [--bm25 LANGUAGE [--bm25-k1 K] [--bm25-b B] [--bm25-avg-len N]]\n"
    "                         rank points' texts by BM25 (ingest: a jsonl\n"
    "                         row's \"text\"; search --text): words stemmed\n"
    "                         by the Snowball stemmer of LANGUAGE (english,\n"
    "                         french, german, ... or none); k1 (default 1.2),\n"
    "                         b (0.75), avg_len: words of a typical text\n"
    "                         (256)\n"
    "  train NAME [--retrain] train the index now (blocking); --retrain\n"
    "                         rebuilds the centroids of a trained one\n"
    "  drop NAME              delete the collection and its points\n"
    "  index NAME FIELD TYPE  a payload index on FIELD (a dotted JSON path),\n"
    "                         TYPE "
    "keyword|integer|float|bool|text|datetime|geo;\n"
    "                         returns once it holds every stored point\n"
    "  drop-index NAME FIELD  delete the payload index of FIELD\n"
    "  count NAME [--filter JSON]\n"
    "                         points of the collection (matching the filter)\n"
    "  facet NAME FIELD [--filter JSON] [--limit N]\n"
    "                         the N (default 10) values of FIELD held by the\n"
    "                         most points (matching the filter), with their\n"
    "                         counts; FIELD needs a keyword, integer or bool\n"
    "                         payload index\n"
    "  alias ALIAS NAME       ALIAS names collection NAME from now on (an\n"
    "                         existing alias moves to NAME at once)\n"
    "  unalias ALIAS          delete the alias\n"
    "  aliases                every alias and its collection\n"
    "Flags and the action may come in any order; '--' ends the flags.\n"
    "\n"
    "flags:\n"
    "%s"
    "%s"
    "  --json                 machine-readable output (info: one object)\n";

nlohmann::json IndexJson(const FieldIndexInfo& f) {
  return {{"field", f.field},
          {"type", FieldTypeName(f.type)},
          {"ready", f.ready},
          {"points", f.points},
          {"memory_bytes", f.memory_bytes}};
}

nlohmann::json IndexesJson(const std::vector<FieldIndexInfo>& fs) {
  nlohmann::json arr = nlohmann::json::array();
  for (const FieldIndexInfo& f : fs) arr.push_back(IndexJson(f));
  return arr;
}

// A float setting as JSON: its shortest decimal (1.2, not the double
// 1.2000000476837158 it widens to).
double ShortFloat(float x) {
  double d = x;
  return absl::SimpleAtod(absl::StrCat(x), &d) ? d : x;
}

nlohmann::json InfoJson(const CollectionInfo& i) {
  const CollectionConfig& c = i.config;
  const char* refine =
      RefineKindName(c.refine, RefineVocabulary::kRescoreSource);
  return {
      {"name", c.name},
      {"dim", c.dim},
      {"metric", MetricName(c.metric)},
      {"method", c.method},
      {"bits", c.bits},
      {"store_vectors", c.store_vectors},
      {"refine", refine},
      {"prefix_sharing", PrefixSharingName(c.prefix_sharing)},
      {"pca_weighting", PcaWeightingName(c.pca_weighting)},
      {"codec", i.codec},
      {"bm25", c.bm25.has_value()
                   ? nlohmann::json{{"language", c.bm25->language},
                                    {"k1", ShortFloat(c.bm25->k1)},
                                    {"b", ShortFloat(c.bm25->b)},
                                    {"avg_len", ShortFloat(c.bm25->avg_len)}}
                   : nlohmann::json(nullptr)},
      {"sparse_points", i.sparse_points},
      {"refine_bytes_per_vector", i.refine_bytes},
      {"memory_bytes_per_vector", i.memory_bytes_per_vector},
      {"count", i.count},
      {"trained", i.trained},
      {"training", i.training},
      {"nlist", i.nlist},
      {"configured_nlist", c.nlist},
      {"train_threshold", c.train_threshold},
      {"bytes_per_vector", i.code_bytes},
      {"disk_bytes_per_vector", i.disk_bytes_per_vector},
      {"list_min", i.lists.min_size},
      {"list_max", i.lists.max_size},
      {"imbalance", i.imbalance},
      {"tombstones", i.lists.tombstones},
      {"retrain_recommended", i.retrain_recommended},
      {"retrain_reason", i.retrain_reason},
      {"last_training_error", i.last_training_error},
      {"payload_indexes", IndexesJson(i.field_indexes)},
      {"disk_bytes", i.disk_bytes},
      {"memory_bytes", i.memory_bytes},
      {"memory_index_bytes", i.memory_index_bytes},
      {"memory_reserved_bytes", i.memory_reserved_bytes},
      {"memory_total_bytes", i.memory_total_bytes},
      {"memory_limit_bytes", i.memory_limit_bytes}};
}

void PrintList(const std::vector<CollectionInfo>& list, bool json,
               const Backend& b, std::ostream& out) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& i : list) arr.push_back(InfoJson(i));
    out << DumpJson(arr) << "\n";
    return;
  }
  if (list.empty()) {
    out << "no collections (" << b.Describe() << ")\n";
    return;
  }
  out << absl::StrFormat("%-24s %6s %-7s %-10s %12s %-8s %6s %9s\n", "name",
                         "dim", "metric", "quantizer", "count", "trained",
                         "nlist", "bytes/vec");
  for (const auto& i : list) {
    out << absl::StrFormat(
        "%-24s %6d %-7s %-10s %12s %-8s %6d %9d\n", i.config.name, i.config.dim,
        MetricName(i.config.metric),
        absl::StrCat(i.config.method, "/", i.config.bits, "b"),
        Thousands(i.count),
        i.trained ? "yes" : (i.training ? "training" : "no"), i.nlist,
        i.code_bytes);
  }
}

void PrintInfo(const CollectionInfo& info, bool json, std::ostream& out) {
  const nlohmann::json j = InfoJson(info);
  if (json) {
    out << DumpJson(j) << "\n";
    return;
  }
  for (const auto& [k, v] : j.items()) {
    out << absl::StrFormat(
        "%-22s %s\n", k,
        v.is_string() ? ValidUtf8(v.get<std::string>()) : DumpJson(v));
  }
}

// A facet's values and counts: a two-column table, or one JSON object
// ({"hits": [{"value": ..., "count": n}], "unindexed_fields": [...]}).
void PrintFacet(const FacetResult& r, bool json, std::ostream& out) {
  auto value = [](const FacetHit& h) -> nlohmann::json {
    switch (h.type) {
      case FieldType::kInteger:
        return h.integer;
      case FieldType::kBool:
        return h.integer != 0;
      default:
        return h.keyword;
    }
  };
  if (json) {
    nlohmann::json hits = nlohmann::json::array();
    for (const FacetHit& h : r.hits) {
      hits.push_back({{"value", value(h)}, {"count", h.count}});
    }
    out << nlohmann::json{{"hits", hits},
                          {"unindexed_fields", r.unindexed_fields}}
               .dump()
        << "\n";
    return;
  }
  std::vector<std::string> values;
  size_t width = 5;  // "value"
  for (const FacetHit& h : r.hits) {
    const nlohmann::json v = value(h);
    values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    width = std::max(width, values.back().size());
  }
  out << absl::StrFormat("%-*s  %s\n", width, "value", "points");
  for (size_t i = 0; i < r.hits.size(); ++i) {
    out << absl::StrFormat("%-*s  %s\n", width, values[i],
                           Thousands(r.hits[i].count));
  }
}

}  // namespace

const FlagSpec& CollectionsFlags() {
  static const FlagSpec* spec =
      new FlagSpec(TargetFlags()
                       .And(CreateFlags())
                       .And({{"filter", "limit"}, {"json", "retrain"}, true}));
  return *spec;
}

int RunCollections(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags = ParseCommandLine(
      kCollectionsCommand, args, CollectionsFlags(),
      absl::StrFormat(kCollectionsUsage, kTargetHelp, kFilterHelp), out, err,
      &exit_code);
  if (!flags) return exit_code;
  const std::vector<std::string>& pos = flags->positionals();
  const std::string action = pos.empty() ? "list" : pos[0];
  // Action -> its positional arguments after the action, and their names.
  static const std::map<std::string, std::pair<size_t, const char*>> kArgs = {
      {"list", {0, "no argument"}},
      {"info", {1, "one collection name"}},
      {"drop", {1, "one collection name"}},
      {"create", {1, "one collection name"}},
      {"train", {1, "one collection name"}},
      {"count", {1, "one collection name"}},
      {"facet", {2, "NAME FIELD"}},
      {"index", {3, "NAME FIELD TYPE"}},
      {"drop-index", {2, "NAME FIELD"}},
      {"alias", {2, "ALIAS NAME"}},
      {"unalias", {1, "one alias"}},
      {"aliases", {0, "no argument"}}};
  auto spec = kArgs.find(action);
  if (spec == kArgs.end()) {
    return UsageError(kCollectionsCommand,
                      absl::StrCat("unknown action '", action, "'"), err);
  }
  if (!(action == "list" && pos.empty()) &&
      pos.size() != spec->second.first + 1) {
    return UsageError(kCollectionsCommand,
                      absl::StrCat(action, " takes ", spec->second.second),
                      err);
  }
  const std::string name = pos.size() > 1 ? pos[1] : "";
  if (flags->Has("filter") && action != "count" && action != "facet") {
    return UsageError(kCollectionsCommand, "--filter goes with count or facet",
                      err);
  }
  if (flags->Has("limit") && action != "facet") {
    return UsageError(kCollectionsCommand, "--limit goes with facet", err);
  }
  auto limit = flags->GetInt("limit", 10, 1, 100000);
  if (!limit.ok()) return UsageError(kCollectionsCommand, limit.status(), err);
  FieldType type = FieldType::kKeyword;
  if (action == "index") {
    auto t = ParseFieldType(pos[3]);
    if (!t.ok()) return UsageError(kCollectionsCommand, t.status(), err);
    type = *t;
  }
  auto filter = FilterFromFlags(*flags);
  if (!filter.ok())
    return UsageError(kCollectionsCommand, filter.status(), err);
  const bool json = flags->Has("json");
  auto backend = OpenBackend(*flags, action == "create");
  if (!backend.ok()) return Fail(kCollectionsCommand, backend.status(), err);
  Backend& b = **backend;
  if (action == "alias" || action == "unalias") {
    // alias: created, or moved (deleted and created in one call) when it
    // exists.
    std::vector<AliasChange> changes;
    if (action == "unalias") {
      changes.push_back({AliasChange::Kind::kDelete, name, ""});
    } else {
      auto aliases = b.ListAliases();
      if (!aliases.ok())
        return Fail(kCollectionsCommand, aliases.status(), err);
      if (aliases->count(name)) {
        changes.push_back({AliasChange::Kind::kDelete, name, ""});
      }
      changes.push_back({AliasChange::Kind::kCreate, name, pos[2]});
    }
    absl::Status s = b.UpdateAliases(changes);
    if (!s.ok()) return Fail(kCollectionsCommand, s, err);
    if (json) {
      out << (action == "alias"
                  ? nlohmann::json{{"alias", name}, {"collection", pos[2]}}
                  : nlohmann::json{{"deleted_alias", name}})
                 .dump()
          << "\n";
    } else if (action == "alias") {
      out << "alias '" << name << "' names collection '" << pos[2] << "'\n";
    } else {
      out << "deleted alias '" << name << "'\n";
    }
  } else if (action == "aliases") {
    auto aliases = b.ListAliases();
    if (!aliases.ok()) return Fail(kCollectionsCommand, aliases.status(), err);
    if (json) {
      out << nlohmann::json(*aliases).dump() << "\n";
    } else {
      for (const auto& [alias, collection] : *aliases) {
        out << alias << " -> " << collection << "\n";
      }
    }
  } else if (action == "list") {
    auto list = b.List();
    if (!list.ok()) return Fail(kCollectionsCommand, list.status(), err);
    PrintList(*list, json, b, out);
  } else if (action == "index") {
    auto info = b.CreateFieldIndex(name, pos[2], type);
    if (!info.ok()) return Fail(kCollectionsCommand, info.status(), err);
    if (json) {
      out << IndexJson(*info).dump() << "\n";
    } else {
      out << absl::StrFormat(
          "payload index on '%s' (%s) of collection '%s': %s points, %s "
          "bytes in memory\n",
          info->field, FieldTypeName(info->type), name, Thousands(info->points),
          Thousands(info->memory_bytes));
    }
  } else if (action == "drop-index") {
    absl::Status s = b.DeleteFieldIndex(name, pos[2]);
    if (!s.ok()) return Fail(kCollectionsCommand, s, err);
    if (json) {
      out << nlohmann::json{{"dropped_index", pos[2]}}.dump() << "\n";
    } else {
      out << "dropped the payload index on '" << pos[2] << "' of collection '"
          << name << "'\n";
    }
  } else if (action == "count") {
    auto n = b.Count(name, *filter);
    if (!n.ok()) return Fail(kCollectionsCommand, n.status(), err);
    if (json) {
      out << nlohmann::json{{"collection", name},
                            {"count", n->count},
                            {"unindexed_fields", n->unindexed_fields}}
                 .dump()
          << "\n";
    } else {
      out << n->count << "\n";
      if (!n->unindexed_fields.empty()) {
        err << "tqdb collections: note: read from the payloads (no payload "
               "index): "
            << absl::StrJoin(n->unindexed_fields, ", ") << "\n";
      }
    }
  } else if (action == "facet") {
    FacetOptions o;
    o.key = pos[2];
    o.filter = *filter;
    o.limit = static_cast<size_t>(*limit);
    auto r = b.Facet(name, o);
    if (!r.ok()) return Fail(kCollectionsCommand, r.status(), err);
    PrintFacet(*r, json, out);
    if (!json && !r->unindexed_fields.empty()) {
      err << "tqdb collections: note: the filter was read from the payloads "
             "(no payload index): "
          << absl::StrJoin(r->unindexed_fields, ", ") << "\n";
    }
  } else if (action == "drop") {
    absl::Status s = b.Drop(name);
    if (!s.ok()) return Fail(kCollectionsCommand, s, err);
    if (json) {
      out << DumpJson({{"dropped", name}}) << "\n";
    } else {
      out << "dropped collection '" << name << "'\n";
    }
  } else {  // info, create, train
    absl::StatusOr<CollectionInfo> info;
    if (action == "create") {
      auto cfg = ConfigFromFlags(*flags, name, "", 0);
      if (!cfg.ok()) return Fail(kCollectionsCommand, cfg.status(), err);
      info = b.Create(*cfg);
    } else if (action == "train") {
      info = b.Train(name, flags->Has("retrain"));
    } else {
      info = b.Info(name);
    }
    if (!info.ok()) return Fail(kCollectionsCommand, info.status(), err);
    PrintInfo(*info, json, out);
  }
  absl::Status closed = b.Close();
  return closed.ok() ? kExitOk : Fail(kCollectionsCommand, closed, err);
}

}  // namespace tqdb
