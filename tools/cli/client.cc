#include "tools/cli/client.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/bm25.h"
#include "db/filter_json.h"
#include "quant/status_macros.h"
#include "tools/io/readers.h"

namespace tqdb {

const FlagSpec& TargetFlags() {
  static const FlagSpec* spec = new FlagSpec{
      {"server", "data", "api-key-file", "tls-ca", "tls-server-name"}, {}};
  return *spec;
}

const char kTargetHelp[] =
    "  --server HOST:PORT     a running tqdb server, or\n"
    "  --data DIR             a data directory opened in process (no server)\n"
    "  --api-key-file F       API key for the server (else $TQDB_API_KEY)\n"
    "  --tls-ca CA.pem        talk TLS to the server, trusting the\n"
    "                         certificates CA.pem signs (a self-signed\n"
    "                         server certificate is its own CA)\n"
    "  --tls-server-name N    the name the server's certificate must carry\n"
    "                         (default: the host of --server)\n";

absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(const Flags& f,
                                                     bool create_if_missing) {
  if (f.Has("server") == f.Has("data")) {
    return absl::InvalidArgumentError(
        "give exactly one of --server HOST:PORT and --data DIR");
  }
  if (f.Has("data")) {
    return Backend::Embedded(f.GetString("data"), create_if_missing);
  }
  TQ_ASSIGN_OR_RETURN(ServerChannel server, ServerFromFlags(f));
  return Backend::Remote(std::move(server));
}

absl::StatusOr<ServerChannel> ServerFromFlags(const Flags& f) {
  if (!f.Has("server")) {
    return absl::InvalidArgumentError("give --server HOST:PORT");
  }
  std::string key;
  if (f.Has("api-key-file")) {
    TQ_ASSIGN_OR_RETURN(key, ReadApiKeyFile(f.GetString("api-key-file")));
  }
  TlsClientOptions tls;
  if (f.Has("tls-server-name") && !f.Has("tls-ca")) {
    return absl::InvalidArgumentError(
        "--tls-server-name needs --tls-ca (the server's CA certificate)");
  }
  if (f.Has("tls-ca")) {
    const std::string path = f.GetString("tls-ca");
    std::ifstream in(path, std::ios::binary);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || pem.str().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-ca: cannot read ", path));
    }
    tls.ca_pem = pem.str();
    tls.server_name = f.GetString("tls-server-name");
  }
  return ConnectServer(f.GetString("server"), key, tls);
}

const char kFilterHelp[] =
    "  --filter JSON          only points matching the filter, in Qdrant's\n"
    "                         syntax: '{\"must\": [{\"key\": \"lang\", "
    "\"match\":\n"
    "                         {\"value\": \"en\"}}]}'; @FILE reads it from "
    "FILE\n";

absl::StatusOr<std::shared_ptr<const Filter>> FilterFromFlags(const Flags& f) {
  if (!f.Has("filter")) return std::shared_ptr<const Filter>();
  std::string text = f.GetString("filter");
  if (!text.empty() && text[0] == '@') {
    const std::string path = text.substr(1);
    std::ifstream in(path);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("--filter: cannot read ", path));
    }
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  TQ_ASSIGN_OR_RETURN(Filter filter, ParseFilterJson(text));
  return std::make_shared<const Filter>(std::move(filter));
}

const char kPayloadSelectorHelp[] =
    "  --payload-include P    show only these parts of the payloads (comma-\n"
    "                         separated keys as filters name them: a,b.c)\n"
    "  --payload-exclude P    leave these parts of the payloads out\n";

absl::StatusOr<PayloadSelector> PayloadSelectorFromFlags(const Flags& f) {
  auto paths = [&](const char* flag) {
    std::vector<std::string> out;
    if (f.Has(flag)) out = absl::StrSplit(f.GetString(flag), ',');
    return out;
  };
  return PayloadSelector::Make(
      paths("payload-include"), paths("payload-exclude"),
      {"--payload-", "--payload-include, --payload-exclude: "});
}

const FlagSpec& CreateFlags() {
  static const FlagSpec* spec =
      new FlagSpec{{"dim", "metric", "method", "bits", "nlist", "seed",
                    "refine", "prefix-sharing", "pca-weighting", "bm25",
                    "bm25-k1", "bm25-b", "bm25-avg-len"},
                   {"no-store-vectors"}};
  return *spec;
}

absl::StatusOr<CollectionConfig> ConfigFromFlags(const Flags& f,
                                                 const std::string& name,
                                                 const std::string& input,
                                                 uint32_t input_dim) {
  CollectionConfig c;
  c.name = name;
  TQ_ASSIGN_OR_RETURN(const int64_t d, f.GetInt("dim", input_dim, 1, kMaxDim));
  if (d == 0) return absl::InvalidArgumentError("--dim D is required");
  if (input_dim != 0 && d != input_dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        input, ": dimension ", input_dim, " does not match --dim ", d));
  }
  c.dim = static_cast<uint32_t>(d);
  TQ_ASSIGN_OR_RETURN(c.metric, ParseMetric(f.GetString("metric", "cosine")));
  c.method = f.GetString("method", "renorm");
  static const std::set<std::string> kMethods = {"renorm", "mse", "prod", "pca",
                                                 "pq"};
  if (!kMethods.count(c.method)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--method: '", c.method, "' is not one of renorm, mse, prod, pca, pq"));
  }
  TQ_ASSIGN_OR_RETURN(const int64_t bits, f.GetInt("bits", 4, 1, 8));
  TQ_ASSIGN_OR_RETURN(const int64_t nlist, f.GetInt("nlist", 0, 0, 1 << 20));
  c.bits = static_cast<uint32_t>(bits);
  c.nlist = static_cast<uint32_t>(nlist);
  if (f.Has("seed")) {
    TQ_ASSIGN_OR_RETURN(const int64_t seed, f.GetInt("seed", 0, 1, INT64_MAX));
    c.seed = static_cast<uint64_t>(seed);
  }
  c.store_vectors = !f.Has("no-store-vectors");
  {
    auto refine = ParseRefineKind(f.GetString("refine", "raw"),
                                  RefineVocabulary::kRescoreSource);
    TQ_RETURN_IF_ERROR(refine.status()) << "--refine";
    c.refine = *refine;
  }
  {
    auto sharing = ParsePrefixSharing(f.GetString("prefix-sharing", "auto"));
    TQ_RETURN_IF_ERROR(sharing.status()) << "--prefix-sharing";
    c.prefix_sharing = *sharing;
  }
  {
    auto weighting = ParsePcaWeighting(f.GetString("pca-weighting", "auto"));
    TQ_RETURN_IF_ERROR(weighting.status()) << "--pca-weighting";
    c.pca_weighting = *weighting;
  }
  if (f.Has("bm25")) {
    Bm25Config b;
    b.language = f.GetString("bm25");
    TQ_ASSIGN_OR_RETURN(const double k1, f.GetDouble("bm25-k1", b.k1));
    TQ_ASSIGN_OR_RETURN(const double bb, f.GetDouble("bm25-b", b.b));
    TQ_ASSIGN_OR_RETURN(const double avg_len,
                        f.GetDouble("bm25-avg-len", b.avg_len));
    b.k1 = static_cast<float>(k1);
    b.b = static_cast<float>(bb);
    b.avg_len = static_cast<float>(avg_len);
    TQ_RETURN_IF_ERROR(ValidateBm25Config(&b)) << "--bm25";
    c.bm25 = std::move(b);
  } else if (f.Has("bm25-k1") || f.Has("bm25-b") || f.Has("bm25-avg-len")) {
    return absl::InvalidArgumentError(
        "--bm25-k1, --bm25-b and --bm25-avg-len go with --bm25 LANGUAGE");
  }
  return c;
}

std::string Bm25Text(const std::optional<Bm25Config>& b) {
  if (!b.has_value()) return "none";
  return absl::StrCat(b->language, " k1 ", b->k1, " b ", b->b, " avg_len ",
                      b->avg_len);
}

absl::Status CheckSameSettings(const CollectionConfig& have,
                               const CollectionConfig& want, const Flags& f) {
  std::vector<std::string> diffs;
  // The flag's side: as given, or its default when absent.
  auto flag = [&](const char* name, const std::string& value) {
    return f.Has(name) ? absl::StrCat("--", name, " ", value)
                       : absl::StrCat("--", name, " default ", value);
  };
  if (have.dim != want.dim) {
    diffs.push_back(absl::StrCat("dim ", have.dim, " (",
                                 flag("dim", absl::StrCat(want.dim)), ")"));
  }
  if (have.metric != want.metric) {
    diffs.push_back(absl::StrCat("metric ", MetricName(have.metric), " (",
                                 flag("metric", MetricName(want.metric)), ")"));
  }
  if (have.method != want.method) {
    diffs.push_back(absl::StrCat("method ", have.method, " (",
                                 flag("method", want.method), ")"));
  }
  if (have.bits != want.bits) {
    diffs.push_back(absl::StrCat("bits ", have.bits, " (",
                                 flag("bits", absl::StrCat(want.bits)), ")"));
  }
  if (have.nlist != want.nlist) {
    diffs.push_back(absl::StrCat("nlist ", have.nlist, " (",
                                 flag("nlist", absl::StrCat(want.nlist)), ")"));
  }
  if (f.Has("seed") && have.seed != want.seed) {
    diffs.push_back(
        absl::StrCat("seed ", have.seed, " (--seed ", want.seed, ")"));
  }
  if (have.store_vectors != want.store_vectors) {
    diffs.push_back(absl::StrCat(
        "store_vectors ", have.store_vectors ? "true" : "false", " (",
        want.store_vectors ? "no --no-store-vectors" : "--no-store-vectors",
        ")"));
  }
  if (have.refine != want.refine) {
    diffs.push_back(absl::StrCat(
        "refine ",
        RefineKindName(have.refine, RefineVocabulary::kRescoreSource), " (",
        flag("refine",
             RefineKindName(want.refine, RefineVocabulary::kRescoreSource)),
        ")"));
  }
  if (have.prefix_sharing != want.prefix_sharing) {
    diffs.push_back(absl::StrCat(
        "prefix_sharing ", PrefixSharingName(have.prefix_sharing), " (",
        flag("prefix-sharing", PrefixSharingName(want.prefix_sharing)), ")"));
  }
  // Compared only when given: collections created before the setting read
  // as off, where the flag's default is auto.
  if (f.Has("pca-weighting") && have.pca_weighting != want.pca_weighting) {
    diffs.push_back(absl::StrCat(
        "pca_weighting ", PcaWeightingName(have.pca_weighting),
        " (--pca-weighting ", PcaWeightingName(want.pca_weighting), ")"));
  }
  if (have.bm25 != want.bm25) {
    diffs.push_back(absl::StrCat(
        "bm25 ", Bm25Text(have.bm25), " (",
        f.Has("bm25") ? "--bm25 " : "no --bm25: ", Bm25Text(want.bm25), ")"));
  }
  if (diffs.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "collection '", have.name, "' exists with other settings: ",
      absl::StrJoin(diffs, ", "), "; drop it first (tqdb collections drop ",
      have.name, ") or leave out --create to ingest into it as it is"));
}

}  // namespace tqdb
