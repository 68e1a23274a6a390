// tqdb ingest, tqdb search, tqdb collections: the user-facing commands, over
// a running server (--server ADDR) or an embedded data dir (--data DIR).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "quant/status_macros.h"
#include "tools/backend.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace {

using Clock = std::chrono::steady_clock;

// Exit code for a failed status: 2 for what the user can fix in the input
// or the command line, 1 for the rest (server down, internal errors).
int ExitCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnauthenticated:
      return 2;
    default:
      return 1;
  }
}

// Splits leading positional words (before the first --flag) from flags.
std::vector<std::string> TakePositionals(std::vector<std::string>* args) {
  std::vector<std::string> pos;
  size_t i = 0;
  while (i < args->size() && (*args)[i].rfind("--", 0) != 0) {
    pos.push_back((*args)[i++]);
  }
  args->erase(args->begin(), args->begin() + i);
  return pos;
}

const std::set<std::string> kTargetFlags = {"server", "data", "api-key-file"};

std::set<std::string> With(std::set<std::string> a,
                           const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

constexpr char kTargetHelp[] =
    "  --server HOST:PORT     a running tqdb server, or\n"
    "  --data DIR             a data directory opened in process (no server)\n"
    "  --api-key-file F       API key for the server (else $TQDB_API_KEY)\n";

// Opens the backend named by --server / --data.
absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(const Flags& f,
                                                     bool create_if_missing) {
  if (f.Has("server") == f.Has("data")) {
    return absl::InvalidArgumentError(
        "give exactly one of --server HOST:PORT and --data DIR");
  }
  if (f.Has("data")) {
    return Backend::Embedded(f.GetString("data"), create_if_missing);
  }
  std::string key;
  if (f.Has("api-key-file")) {
    TQ_ASSIGN_OR_RETURN(key, ReadApiKeyFile(f.GetString("api-key-file")));
  }
  return Backend::Connect(f.GetString("server"), key);
}

nlohmann::json PayloadJson(const std::string& payload) {
  if (payload.empty()) return nullptr;
  if (nlohmann::json::accept(payload)) return nlohmann::json::parse(payload);
  return payload;  // opaque bytes: as a string
}

nlohmann::json InfoJson(const CollectionInfo& i) {
  const CollectionConfig& c = i.config;
  return {{"name", c.name},
          {"dim", c.dim},
          {"metric", MetricName(c.metric)},
          {"method", c.method},
          {"bits", c.bits},
          {"store_vectors", c.store_vectors},
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
          {"last_training_error", i.last_training_error}};
}

std::string Thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

std::string Clock2(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600
             ? absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
             : absl::StrFormat("%d:%02d", s / 60, s % 60);
}

// ---------------------------------------------------------------------------
// tqdb collections

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
    "  train NAME [--retrain] train the index now (blocking); --retrain\n"
    "                         rebuilds the centroids of a trained one\n"
    "  drop NAME              delete the collection and its points\n"
    "\n"
    "flags:\n"
    "%s"
    "  --json                 machine-readable output (info: one object)\n";

// Builds a CollectionConfig from --dim/--metric/--method/--bits/--nlist/
// --seed/--no-store-vectors (shared by collections create and ingest
// --create). `dim` is the default dimension (0: --dim required).
absl::StatusOr<CollectionConfig> ConfigFromFlags(const Flags& f,
                                                 const std::string& name,
                                                 uint32_t dim) {
  CollectionConfig c;
  c.name = name;
  auto d = f.GetInt("dim", dim, 1, kMaxDim);
  if (!d.ok()) return d.status();
  if (*d == 0) return absl::InvalidArgumentError("--dim D is required");
  if (dim != 0 && *d != dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dim ", *d, " does not match the input's dimension ", dim));
  }
  c.dim = static_cast<uint32_t>(*d);
  auto m = ParseMetric(f.GetString("metric", "cosine"));
  if (!m.ok()) return m.status();
  c.metric = *m;
  c.method = f.GetString("method", "renorm");
  static const std::set<std::string> kMethods = {"renorm", "mse", "prod", "pca",
                                                 "pq"};
  if (!kMethods.count(c.method)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--method: '", c.method, "' is not one of renorm, mse, prod, pca, pq"));
  }
  auto b = f.GetInt("bits", 4, 1, 8);
  auto nl = f.GetInt("nlist", 0, 0, 1 << 20);
  if (!b.ok()) return b.status();
  if (!nl.ok()) return nl.status();
  c.bits = static_cast<uint32_t>(*b);
  c.nlist = static_cast<uint32_t>(*nl);
  if (f.Has("seed")) {
    auto s = f.GetInt("seed", 0, 1, INT64_MAX);
    if (!s.ok()) return s.status();
    c.seed = static_cast<uint64_t>(*s);
  }
  c.store_vectors = !f.Has("no-store-vectors");
  return c;
}

const std::set<std::string> kCreateFlags = {"dim",  "metric", "method",
                                            "bits", "nlist",  "seed"};

}  // namespace

int RunCollections(const std::vector<std::string>& args_in, std::ostream& out,
                   std::ostream& err) {
  const std::string usage = absl::StrFormat(kCollectionsUsage, kTargetHelp);
  if (WantsHelp(args_in)) {
    out << usage;
    return 0;
  }
  std::vector<std::string> args = args_in;
  std::vector<std::string> pos = TakePositionals(&args);
  auto flags = Flags::Parse(args, With(kTargetFlags, kCreateFlags),
                            {"json", "no-store-vectors", "retrain"});
  auto fail = [&](const absl::Status& s) {
    err << "tqdb collections: " << s.message() << "\n";
    return ExitCode(s);
  };
  if (!flags.ok()) {
    err << "tqdb collections: " << flags.status().message() << "\n\n" << usage;
    return 2;
  }
  const std::string action = pos.empty() ? "list" : pos[0];
  const bool needs_name = action != "list";
  if (action != "list" && action != "info" && action != "drop" &&
      action != "create" && action != "train") {
    err << "tqdb collections: unknown action '" << action << "'\n\n" << usage;
    return 2;
  }
  if (pos.size() != (needs_name ? 2u : 1u) &&
      !(action == "list" && pos.empty())) {
    err << "tqdb collections: " << action
        << (needs_name ? " takes one collection name" : " takes no argument")
        << "\n\n"
        << usage;
    return 2;
  }
  const std::string name = needs_name ? pos[1] : "";
  const bool json = flags->Has("json");
  auto backend = OpenBackend(*flags, action == "create");
  if (!backend.ok()) return fail(backend.status());
  Backend& b = **backend;
  int rc = 0;
  if (action == "list") {
    auto list = b.List();
    if (!list.ok()) return fail(list.status());
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& i : *list) arr.push_back(InfoJson(i));
      out << arr.dump() << "\n";
    } else if (list->empty()) {
      out << "no collections (" << b.Describe() << ")\n";
    } else {
      out << absl::StrFormat("%-24s %6s %-7s %-10s %12s %-8s %6s %9s\n", "name",
                             "dim", "metric", "quantizer", "count", "trained",
                             "nlist", "bytes/vec");
      for (const auto& i : *list) {
        out << absl::StrFormat(
            "%-24s %6d %-7s %-10s %12s %-8s %6d %9d\n", i.config.name,
            i.config.dim, MetricName(i.config.metric),
            absl::StrCat(i.config.method, "/", i.config.bits, "b"),
            Thousands(i.count),
            i.trained ? "yes" : (i.training ? "training" : "no"), i.nlist,
            i.code_bytes);
      }
    }
  } else if (action == "info" || action == "create" || action == "train") {
    absl::StatusOr<CollectionInfo> info;
    if (action == "create") {
      auto cfg = ConfigFromFlags(*flags, name, 0);
      if (!cfg.ok()) return fail(cfg.status());
      info = b.Create(*cfg);
    } else if (action == "train") {
      info = b.Train(name, flags->Has("retrain"));
    } else {
      info = b.Info(name);
    }
    if (!info.ok()) return fail(info.status());
    if (json) {
      out << InfoJson(*info).dump() << "\n";
    } else {
      const nlohmann::json j = InfoJson(*info);
      for (const auto& [k, v] : j.items()) {
        out << absl::StrFormat("%-22s %s\n", k,
                               v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
  } else if (action == "drop") {
    absl::Status s = b.Drop(name);
    if (!s.ok()) return fail(s);
    if (json) {
      out << nlohmann::json{{"dropped", name}}.dump() << "\n";
    } else {
      out << "dropped collection '" << name << "'\n";
    }
  }
  absl::Status closed = b.Close();
  if (!closed.ok()) rc = fail(closed);
  return rc;
}

// ---------------------------------------------------------------------------
// tqdb search

namespace {
constexpr char kSearchUsage[] =
    "usage: tqdb search --collection C (--server HOST:PORT | --data DIR)\n"
    "                   (--vector \"0.1,0.2,...\" | --query-file F [--row N])"
    " [flags]\n"
    "\n"
    "Nearest neighbours of one query vector, best first.\n"
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
    "  --k K                  neighbours (default 10)\n"
    "  --nprobe N             lists probed (default 16; 0 = all)\n"
    "  --exact                brute force over the stored vectors\n"
    "  --rescore              rerank k * oversampling candidates exactly\n"
    "  --oversampling X       (default 4)\n"
    "  --with-payload         print payloads (default on in the table)\n"
    "  --json                 one JSON object\n";
}  // namespace

int RunSearch(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  const std::string usage = absl::StrFormat(kSearchUsage, kTargetHelp);
  if (WantsHelp(args)) {
    out << usage;
    return 0;
  }
  auto flags = Flags::Parse(
      args,
      With(kTargetFlags, {"collection", "vector", "query-file", "row", "format",
                          "k", "nprobe", "oversampling"}),
      {"exact", "rescore", "with-payload", "json"});
  auto usage_error = [&](absl::string_view msg) {
    err << "tqdb search: " << msg << "\n\n" << usage;
    return 2;
  };
  auto fail = [&](const absl::Status& s) {
    err << "tqdb search: " << s.message() << "\n";
    return ExitCode(s);
  };
  if (!flags.ok()) return usage_error(flags.status().message());
  if (!flags->Has("collection")) return usage_error("--collection is required");
  if (flags->Has("vector") == flags->Has("query-file")) {
    return usage_error("give exactly one of --vector and --query-file");
  }
  QueryOptions o;
  auto k = flags->GetInt("k", 10, 1, 100000);
  auto nprobe = flags->GetInt("nprobe", 16, 0, 1 << 20);
  auto os = flags->GetDouble("oversampling", 4.0);
  auto row = flags->GetInt("row", 0, 0, INT64_MAX);
  for (const absl::Status& s :
       {k.status(), nprobe.status(), os.status(), row.status()}) {
    if (!s.ok()) return usage_error(s.message());
  }
  o.k = static_cast<uint32_t>(*k);
  o.nprobe = static_cast<uint32_t>(*nprobe);
  o.exact = flags->Has("exact");
  o.rescore = flags->Has("rescore");
  o.oversampling = static_cast<float>(*os);

  std::vector<float> q;
  std::string source;
  if (flags->Has("vector")) {
    int col = 0;
    for (absl::string_view part :
         absl::StrSplit(flags->GetString("vector"), ',')) {
      ++col;
      float v;
      if (!absl::SimpleAtof(absl::StripAsciiWhitespace(part), &v) ||
          !std::isfinite(v)) {
        return usage_error(absl::StrCat("--vector: value ", col, " ('", part,
                                        "') is not a finite number"));
      }
      q.push_back(v);
    }
    source = "--vector";
  } else {
    ReaderOptions ro;
    ro.format = flags->GetString("format");
    const std::string path = flags->GetString("query-file");
    auto reader = VectorReader::Open(path, ro);
    if (!reader.ok()) {
      err << "tqdb search: " << reader.status().message() << "\n";
      return 2;
    }
    if (*row > 0) {
      if (absl::Status s = (*reader)->Skip(static_cast<uint64_t>(*row));
          !s.ok()) {
        err << "tqdb search: " << s.message() << "\n";
        return 2;
      }
    }
    VectorBatch batch;
    auto n = (*reader)->Next(1, &batch);
    if (!n.ok() || *n == 0) {
      err << "tqdb search: "
          << (n.ok() ? absl::StrCat(path, ": no row ", *row)
                     : std::string(n.status().message()))
          << "\n";
      return 2;
    }
    q = std::move(batch.vectors);
    source = absl::StrCat(path, " row ", *row);
  }
  auto backend = OpenBackend(*flags, false);
  if (!backend.ok()) return fail(backend.status());
  const std::string coll = flags->GetString("collection");
  const bool json = flags->Has("json");
  const bool payload = true;
  const auto t0 = Clock::now();
  auto hits = (*backend)->Search(coll, q, o, payload);
  const double ms =
      std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!hits.ok()) return fail(hits.status());
  if (json) {
    nlohmann::json res = nlohmann::json::array();
    for (const Hit& h : *hits) {
      res.push_back({{"id", h.id},
                     {"score", h.score},
                     {"payload", PayloadJson(h.payload)}});
    }
    out << nlohmann::json{{"collection", coll},
                          {"k", o.k},
                          {"time_ms", ms},
                          {"results", res}}
               .dump()
        << "\n";
  } else {
    out << absl::StrFormat("%d neighbours of %s in '%s' (%.2f ms)\n",
                           hits->size(), source, coll, ms);
    out << absl::StrFormat("%4s  %20s  %10s  %s\n", "rank", "id", "score",
                           "payload");
    int rank = 0;
    for (const Hit& h : *hits) {
      std::string p = h.payload;
      if (p.size() > 60) p = p.substr(0, 57) + "...";
      out << absl::StrFormat("%4d  %20d  %10.4f  %s\n", ++rank, h.id, h.score,
                             p);
    }
  }
  absl::Status closed = (*backend)->Close();
  return closed.ok() ? 0 : fail(closed);
}

// ---------------------------------------------------------------------------
// tqdb ingest

namespace {
constexpr char kIngestUsage[] =
    "usage: tqdb ingest --collection C --input FILE (--server HOST:PORT | "
    "--data DIR) [flags]\n"
    "\n"
    "Streams a vector file into a collection, a batch at a time (memory is\n"
    "bounded by the batch, not the file). Formats by extension or --format:\n"
    "  .fvecs .bvecs .ivecs   TEXMEX\n"
    "  .fbin .u8bin .i8bin    big-ann-benchmarks (uint32 n, uint32 d header)\n"
    "  .npy                   2-D float32/float16/float64/uint8/int8, C order\n"
    "  .hdf5 .h5              ann-benchmarks (dataset --hdf5-dataset, default"
    " train)\n"
    "  .jsonl                 {\"id\": 1, \"vector\": [...], \"payload\": "
    "{...}} a line\n"
    "  .csv                   id,v1,...,vd a line (optional header)\n"
    "Ids: from --ids, else from the file (jsonl/csv), else the row number\n"
    "(0-based). A bad row stops the ingest with its file and row; the batches\n"
    "before it are committed and the message says how to resume (--skip N).\n"
    "\n"
    "flags:\n"
    "%s"
    "  --collection C         target collection (required)\n"
    "  --input FILE           the vectors (required)\n"
    "  --format F             fvecs bvecs ivecs fbin u8bin i8bin npy hdf5 "
    "jsonl csv\n"
    "  --hdf5-dataset NAME    (default train)\n"
    "  --ids FILE             one id per line (or .npy of integers)\n"
    "  --payload FILE.jsonl   line i is the payload (JSON) of row i\n"
    "  --create               create the collection if missing, with:\n"
    "    --dim D (default: the file's) --metric cosine|ip|l2 (default cosine)\n"
    "    --method renorm|mse|prod|pca|pq (default renorm) --bits B (default "
    "4)\n"
    "    --nlist N (default: automatic) --seed S --no-store-vectors\n"
    "  --batch N              points per batch (default 1000)\n"
    "  --skip N               skip the first N rows (resume)\n"
    "  --limit N              ingest at most N rows\n"
    "  --wait                 sync every batch to disk before the next\n"
    "  --train                train the index at the end (blocking)\n"
    "  --progress auto|bar|lines|none  (default auto: a bar on a terminal)\n";

// Reads the n entries of a side file (--ids, --payload) that go with the
// rows first_row.. of the input; a side file that ends early is an error.
template <typename Reader, typename T>
absl::Status ReadSideFile(Reader* r, size_t n, std::vector<T>* out,
                          const std::string& path, const char* what,
                          const std::string& input, uint64_t first_row) {
  auto m = r->Next(n, out);
  if (!m.ok()) return m.status();
  if (*m != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": has fewer ", what, " than ", input,
        " has rows (it ends before row ", first_row + *m + 1, ")"));
  }
  return absl::OkStatus();
}

class Progress {
 public:
  Progress(std::ostream& err, const std::string& mode,
           std::optional<uint64_t> total)
      : err_(err), total_(total), t0_(Clock::now()), last_(t0_) {
    bar_ = mode == "bar" || (mode == "auto" && isatty(STDERR_FILENO));
    lines_ = mode == "lines" || (mode == "auto" && !bar_);
  }
  void Update(uint64_t done, bool final = false) {
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (!final && since < (bar_ ? 0.2 : 5.0)) return;
    last_ = now;
    const double el = std::chrono::duration<double>(now - t0_).count();
    const double rate = el > 0 ? done / el : 0;
    std::string line = absl::StrCat(Thousands(done), " rows");
    if (total_) {
      const double frac = *total_ ? double(done) / *total_ : 1.0;
      line = absl::StrFormat("%s / %s rows %3.0f%%", Thousands(done),
                             Thousands(*total_), 100 * frac);
      if (bar_) {
        const int w = 30, fill = static_cast<int>(frac * w + 0.5);
        line = absl::StrCat("[", std::string(fill, '#'),
                            std::string(w - fill, ' '), "] ", line);
      }
    }
    line += absl::StrFormat("  %s rows/s", Thousands(uint64_t(rate)));
    if (total_ && rate > 0 && done < *total_) {
      line += "  ETA " + Clock2((*total_ - done) / rate);
    }
    if (bar_) {
      err_ << "\r" << line << "   " << (final ? "\n" : "") << std::flush;
    } else if (lines_) {
      err_ << "ingest: " << line << "\n" << std::flush;
    }
  }
  double seconds() const {
    return std::chrono::duration<double>(Clock::now() - t0_).count();
  }

 private:
  std::ostream& err_;
  std::optional<uint64_t> total_;
  Clock::time_point t0_, last_;
  bool bar_ = false, lines_ = false;
};
}  // namespace

int RunIngest(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  const std::string usage = absl::StrFormat(kIngestUsage, kTargetHelp);
  if (WantsHelp(args)) {
    out << usage;
    return 0;
  }
  auto flags =
      Flags::Parse(args,
                   With(With(kTargetFlags, kCreateFlags),
                        {"collection", "input", "format", "hdf5-dataset", "ids",
                         "payload", "batch", "skip", "limit", "progress"}),
                   {"create", "wait", "train", "no-store-vectors"});
  auto usage_error = [&](absl::string_view msg) {
    err << "tqdb ingest: " << msg << "\n\n" << usage;
    return 2;
  };
  if (!flags.ok()) return usage_error(flags.status().message());
  if (!flags->Has("collection")) return usage_error("--collection is required");
  if (!flags->Has("input")) return usage_error("--input FILE is required");
  auto batch_n = flags->GetInt("batch", 1000, 1, 1000000);
  auto skip = flags->GetInt("skip", 0, 0, INT64_MAX);
  auto limit = flags->GetInt("limit", 0, 0, INT64_MAX);
  for (const absl::Status& s :
       {batch_n.status(), skip.status(), limit.status()}) {
    if (!s.ok()) return usage_error(s.message());
  }
  const std::string progress_mode = flags->GetString("progress", "auto");
  if (progress_mode != "auto" && progress_mode != "bar" &&
      progress_mode != "lines" && progress_mode != "none") {
    return usage_error("--progress: one of auto, bar, lines, none");
  }
  const std::string coll = flags->GetString("collection");
  const std::string input = flags->GetString("input");
  // Input errors: the reader's message names the file and the row or line.
  auto input_error = [&](const absl::Status& s) {
    err << "tqdb ingest: " << s.message() << "\n";
    return 2;
  };

  ReaderOptions ro;
  ro.format = flags->GetString("format");
  ro.hdf5_dataset = flags->GetString("hdf5-dataset", "train");
  auto reader = VectorReader::Open(input, ro);
  if (!reader.ok()) return input_error(reader.status());
  VectorReader& r = **reader;
  std::unique_ptr<IdReader> ids;
  std::unique_ptr<PayloadReader> payloads;
  if (flags->Has("ids")) {
    auto x = IdReader::Open(flags->GetString("ids"));
    if (!x.ok()) return input_error(x.status());
    ids = std::move(*x);
  }
  if (flags->Has("payload")) {
    auto x = PayloadReader::Open(flags->GetString("payload"));
    if (!x.ok()) return input_error(x.status());
    payloads = std::move(*x);
  }
  const uint64_t first = static_cast<uint64_t>(*skip);
  if (first > 0) {
    if (absl::Status s = r.Skip(first); !s.ok()) return input_error(s);
    if (ids) {
      if (absl::Status s = ids->Skip(first); !s.ok()) return input_error(s);
    }
    if (payloads) {
      if (absl::Status s = payloads->Skip(first); !s.ok()) {
        return input_error(s);
      }
    }
  }

  auto backend = OpenBackend(*flags, flags->Has("create"));
  if (!backend.ok()) {
    err << "tqdb ingest: " << backend.status().message() << "\n";
    return ExitCode(backend.status());
  }
  Backend& b = **backend;
  auto fail = [&](const absl::Status& s) {
    err << "tqdb ingest: " << s.message() << "\n";
    b.Close().IgnoreError();
    return ExitCode(s);
  };
  // The collection: existing, or created with --create.
  auto info = b.Info(coll);
  if (absl::IsNotFound(info.status()) && flags->Has("create")) {
    auto cfg = ConfigFromFlags(*flags, coll, r.dim());
    if (!cfg.ok()) return fail(cfg.status());
    info = b.Create(*cfg);
    if (info.ok()) {
      out << absl::StrFormat(
          "created collection '%s' (dim %d, %s, %s %d bits)\n", coll,
          info->config.dim, MetricName(info->config.metric),
          info->config.method, info->config.bits);
    }
  } else if (absl::IsNotFound(info.status())) {
    return fail(absl::NotFoundError(absl::StrCat(info.status().message(),
                                                 " (add --create --dim ",
                                                 r.dim(), " to create it)")));
  }
  if (!info.ok()) return fail(info.status());
  if (info->config.dim != r.dim()) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat(input, " has dimension ", r.dim(), ", collection '", coll,
                     "' has ", info->config.dim)));
  }

  auto ingest = b.StartIngest(coll, flags->Has("wait"));
  if (!ingest.ok()) return fail(ingest.status());
  std::optional<uint64_t> total = r.total_rows();
  if (total) *total = *total > first ? *total - first : 0;
  if (total && *limit > 0) *total = std::min<uint64_t>(*total, *limit);
  Progress progress(err, progress_mode, total);
  const size_t bn = static_cast<size_t>(*batch_n);
  uint64_t sent_rows = 0;  // rows handed to the ingest (after --skip)
  std::vector<uint64_t> batch_sizes;
  VectorBatch vb;
  std::vector<uint64_t> id_buf;
  std::vector<std::string> pay_buf;
  absl::Status input_status, send_status;
  while (*limit == 0 || sent_rows < static_cast<uint64_t>(*limit)) {
    size_t want = bn;
    if (*limit > 0) want = std::min<uint64_t>(want, *limit - sent_rows);
    auto n = r.Next(want, &vb);
    if (!n.ok()) {
      input_status = n.status();
      break;
    }
    if (*n == 0) break;
    if (ids) {
      input_status =
          ReadSideFile(ids.get(), *n, &id_buf, flags->GetString("ids"), "ids",
                       input, vb.first_row);
      if (!input_status.ok()) break;
    }
    if (payloads) {
      input_status = ReadSideFile(payloads.get(), *n, &pay_buf,
                                  flags->GetString("payload"), "lines", input,
                                  vb.first_row);
      if (!input_status.ok()) break;
    }
    std::vector<Point> pts(*n);
    const uint32_t d = r.dim();
    for (size_t i = 0; i < *n; ++i) {
      pts[i].id = ids               ? id_buf[i]
                  : !vb.ids.empty() ? vb.ids[i]
                                    : vb.first_row + i;
      pts[i].vector.assign(vb.vectors.begin() + i * d,
                           vb.vectors.begin() + (i + 1) * d);
      if (payloads) {
        pts[i].payload = std::move(pay_buf[i]);
      } else if (!vb.payloads.empty()) {
        pts[i].payload = std::move(vb.payloads[i]);
      }
    }
    send_status = (*ingest)->Send(std::move(pts));
    if (!send_status.ok()) break;
    batch_sizes.push_back(*n);
    sent_rows += *n;
    progress.Update(sent_rows);
  }
  auto stored = (*ingest)->Finish();
  if (send_status.ok() && !stored.ok()) send_status = stored.status();
  progress.Update(sent_rows, true);

  // How many rows are in for sure: all sent ones, or (server error) the
  // batches before the one the server names.
  uint64_t committed = sent_rows;
  if (!send_status.ok()) {
    committed = 0;
    size_t bad_batch = 0;
    const std::string msg(send_status.message());
    if (std::sscanf(msg.c_str(), "batch %zu:", &bad_batch) == 1 &&
        bad_batch <= batch_sizes.size()) {
      for (size_t i = 0; i < bad_batch; ++i) committed += batch_sizes[i];
    } else if (stored.ok()) {
      committed = *stored;
    }
  }
  const uint64_t resume = first + committed;
  if (!input_status.ok() || !send_status.ok()) {
    const absl::Status& s = !input_status.ok() ? input_status : send_status;
    err << "tqdb ingest: " << s.message() << "\n";
    err << absl::StrFormat(
        "tqdb ingest: %s rows committed to '%s' (rows %d to %d of %s); fix "
        "the problem and resume with --skip %d\n",
        Thousands(committed), coll, first + (committed ? 1 : 0), resume, input,
        resume);
    b.Close().IgnoreError();
    return input_status.ok() ? ExitCode(s) : 2;
  }
  out << absl::StrFormat(
      "ingested %s rows of %s into '%s' (%s) in %.1f s (%s rows/s)\n",
      Thousands(committed), input, coll, b.Describe(), progress.seconds(),
      Thousands(uint64_t(committed / std::max(1e-9, progress.seconds()))));
  // Embedded: leave the directory trained (and its automatic nlist sized
  // for the data) rather than abandon a background training at exit.
  // --train asks the same of a server, and waits for it.
  auto after = b.Info(coll);
  if (!after.ok()) return fail(after.status());
  const bool settle = flags->Has("train") || flags->Has("data");
  const bool untrained =
      !after->trained &&
      (flags->Has("train") || after->count >= after->config.train_threshold);
  const bool auto_nlist =
      after->config.nlist == 0 && after->config.store_vectors;
  if (settle && (untrained || after->training ||
                 (auto_nlist && after->retrain_recommended))) {
    const auto t0 = Clock::now();
    auto trained = b.Train(coll, auto_nlist);
    if (!trained.ok()) return fail(trained.status());
    out << absl::StrFormat(
        "trained '%s': %s points, nlist %d, %d bytes/vector (%.1f s)\n", coll,
        Thousands(trained->count), trained->nlist, trained->code_bytes,
        std::chrono::duration<double>(Clock::now() - t0).count());
  } else {
    out << absl::StrFormat("collection '%s': %s points, %s\n", coll,
                           Thousands(after->count),
                           after->trained    ? "trained"
                           : after->training ? "training in the background"
                                             : "not trained yet");
  }
  absl::Status closed = b.Close();
  if (!closed.ok()) {
    err << "tqdb ingest: " << closed.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace tqdb
