// tqdb ingest: streams a vector file (and its --ids and --payload side files)
// into a collection a batch at a time, over a server (--server, one
// UpsertStream) or a data directory (--data).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "db/json_path.h"
#include "quant/status_macros.h"
#include "tools/cli/backend.h"
#include "tools/cli/client.h"
#include "tools/cli/commands.h"
#include "tools/cli/ingest_hints.h"
#include "tools/cli/output.h"
#include "tools/cli/progress.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace {

constexpr char kIngestCommand[] = "ingest";

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
    "{...}} a line;\n"
    "                         optional \"sparse_vector\": {\"indices\": "
    "[...],\n"
    "                         \"values\": [...]} or (--bm25) \"text\": "
    "\"...\"\n"
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
    "  --create               create the collection if missing, with (an\n"
    "                         existing one must have the same settings):\n"
    "    --dim D (default: the file's) --metric cosine|ip|l2 (default cosine)\n"
    "    --method renorm|mse|prod|pca|pq (default renorm) --bits B (default "
    "4)\n"
    "    --nlist N (default: automatic) --seed S --no-store-vectors\n"
    "    --refine raw|int8|f32 (default raw: rescore from the stored vectors)\n"
    "    --prefix-sharing auto|always|never (default auto; see tqdb "
    "collections)\n"
    "    --pca-weighting auto|off|on (pca; default auto; see tqdb "
    "collections)\n"
    "    --bm25 LANGUAGE --bm25-k1 K --bm25-b B --bm25-avg-len N (BM25 of\n"
    "    the rows' \"text\"; see tqdb collections)\n"
    "  --text-field KEY       bm25: each row's text is its payload's "
    "string(s)\n"
    "                         at KEY (a dotted path as filters name it;\n"
    "                         strings of arrays joined), as if its \"text\":\n"
    "                         the text is stored in the payload and indexed\n"
    "  --batch N              points per batch (default 1000)\n"
    "  --skip N               skip the first N rows (resume)\n"
    "  --limit N              ingest at most N rows\n"
    "  --wait                 sync every batch to disk before the next\n"
    "  --train                train the index at the end (blocking)\n"
    "  --progress auto|bar|lines|none  (default auto: a bar on a terminal)\n";

// The files of one ingest, positioned at the first row to send.
struct Inputs {
  std::string path;                    // --input
  std::optional<JsonPath> text_field;  // --text-field
  std::unique_ptr<VectorReader> vectors;
  std::string ids_path, payload_path;  // "" when not given
  std::unique_ptr<IdReader> ids;
  std::unique_ptr<PayloadReader> payloads;
};

// Opens --input, --ids and --payload and skips their first `first` rows.
// Errors are the readers' (they name the file).
absl::StatusOr<Inputs> OpenInputs(const Flags& f, uint64_t first) {
  Inputs in;
  in.path = f.GetString("input");
  ReaderOptions ro;
  ro.format = f.GetString("format");
  ro.hdf5_dataset = f.GetString("hdf5-dataset", "train");
  TQ_ASSIGN_OR_RETURN(in.vectors, VectorReader::Open(in.path, ro));
  if (f.Has("ids")) {
    in.ids_path = f.GetString("ids");
    TQ_ASSIGN_OR_RETURN(in.ids, IdReader::Open(in.ids_path));
  }
  if (f.Has("text-field")) {
    absl::StatusOr<JsonPath> field = JsonPath::Parse(f.GetString("text-field"));
    TQ_RETURN_IF_ERROR(field.status()) << "--text-field";
    in.text_field = *std::move(field);
  }
  if (f.Has("payload")) {
    in.payload_path = f.GetString("payload");
    TQ_ASSIGN_OR_RETURN(in.payloads, PayloadReader::Open(in.payload_path));
  }
  if (first > 0) {
    TQ_RETURN_IF_ERROR(in.vectors->Skip(first));
    if (in.ids) {
      TQ_RETURN_IF_ERROR(in.ids->Skip(first));
    }
    if (in.payloads) {
      TQ_RETURN_IF_ERROR(in.payloads->Skip(first));
    }
  }
  return in;
}

// The text --text-field names in a row's payload: the strings at the path
// (arrays flattened) joined by newlines, "" where it has none (or null).
// InvalidArgument naming the row (1-based) of `source` for another value.
absl::StatusOr<std::string> PayloadText(const JsonPath& field,
                                        const std::string& payload,
                                        const std::string& source,
                                        uint64_t row) {
  if (payload.empty()) return std::string();
  const nlohmann::json doc = nlohmann::json::parse(payload, nullptr, false);
  // A payload that is not JSON: the server says so, naming the point.
  if (doc.is_discarded()) return std::string();
  std::vector<const nlohmann::json*> values;
  field.Resolve(doc, &values);
  std::string text;
  const char* other = nullptr;
  ForEachScalar(values, [&](const nlohmann::json& v) {
    if (v.is_string()) {
      absl::StrAppend(&text, text.empty() ? "" : "\n", v.get<std::string>());
    } else if (!v.is_null() && other == nullptr) {
      other = v.type_name();
    }
  });
  if (other != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": row ", row, ": payload field '", field.text(),
                     "' holds ", other, ", not text (--text-field)"));
  }
  return text;
}

// Reads the n entries of a side file (--ids, --payload) that go with the
// rows first_row.. of the input; a side file that ends early is an error.
template <typename Reader, typename T>
absl::Status ReadSideFile(Reader* r, size_t n, std::vector<T>* out,
                          const std::string& path, const char* what,
                          const std::string& input, uint64_t first_row) {
  TQ_ASSIGN_OR_RETURN(const size_t m, r->Next(n, out));
  if (m != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": has fewer ", what, " than ", input,
                     " has rows (it ends before row ", first_row + m + 1, ")"));
  }
  return absl::OkStatus();
}

// The collection to ingest into: existing, or created with --create (for
// the input's dimension, which an existing one must have too).
absl::StatusOr<CollectionInfo> TargetCollection(Backend& b, const Flags& f,
                                                const std::string& coll,
                                                const Inputs& in,
                                                std::ostream& out) {
  const uint32_t dim = in.vectors->dim();
  auto info = b.Info(coll);
  if (absl::IsNotFound(info.status()) && f.Has("create")) {
    TQ_ASSIGN_OR_RETURN(CollectionConfig cfg,
                        ConfigFromFlags(f, coll, in.path, dim));
    info = b.Create(cfg);
    if (info.ok()) {
      out << absl::StrFormat(
          "created collection '%s' (dim %d, %s, %s %d bits)\n", coll,
          info->config.dim, MetricName(info->config.metric),
          info->config.method, info->config.bits);
    }
  } else if (absl::IsNotFound(info.status())) {
    return absl::NotFoundError(absl::StrCat(info.status().message(),
                                            " (add --create --dim ", dim,
                                            " to create it)"));
  } else if (info.ok() && f.Has("create")) {
    // --create says which settings the data is meant for: an existing
    // collection with others is not it.
    TQ_ASSIGN_OR_RETURN(CollectionConfig want,
                        ConfigFromFlags(f, coll, in.path, dim));
    TQ_RETURN_IF_ERROR(CheckSameSettings(info->config, want, f));
  }
  if (!info.ok()) return info.status();
  if (info->config.dim != dim) {
    return absl::InvalidArgumentError(absl::StrCat(in.path, " has dimension ",
                                                   dim, ", collection '", coll,
                                                   "' has ", info->config.dim));
  }
  return info;
}

// What the batch loop did.
struct Streamed {
  uint64_t rows = 0;  // rows handed to the ingest (after --skip)
  std::vector<uint64_t> batch_sizes;
  absl::Status input_status;  // the input error that stopped it
  absl::Status send_status;   // the backend error that stopped it
  absl::StatusOr<uint64_t> stored = uint64_t{0};  // Finish(): points stored
};

// Sends batches of `batch` rows (at most `limit` rows in all; 0 = no limit)
// until the input ends or an error stops it, then finishes the ingest.
Streamed Stream(Inputs& in, Ingest& ingest, size_t batch, uint64_t limit,
                Progress& progress) {
  Streamed s;
  VectorReader& r = *in.vectors;
  VectorBatch vb;
  std::vector<uint64_t> id_buf;
  std::vector<std::string> pay_buf;
  while (limit == 0 || s.rows < limit) {
    size_t want = batch;
    if (limit > 0) want = std::min<uint64_t>(want, limit - s.rows);
    auto n = r.Next(want, &vb);
    if (!n.ok()) {
      s.input_status = n.status();
      break;
    }
    if (*n == 0) break;
    if (in.ids) {
      s.input_status = ReadSideFile(in.ids.get(), *n, &id_buf, in.ids_path,
                                    "ids", in.path, vb.first_row);
      if (!s.input_status.ok()) break;
    }
    if (in.payloads) {
      s.input_status =
          ReadSideFile(in.payloads.get(), *n, &pay_buf, in.payload_path,
                       "lines", in.path, vb.first_row);
      if (!s.input_status.ok()) break;
    }
    std::vector<Point> pts(*n);
    const uint32_t d = r.dim();
    for (size_t i = 0; i < *n; ++i) {
      pts[i].id = in.ids            ? id_buf[i]
                  : !vb.ids.empty() ? vb.ids[i]
                                    : vb.first_row + i;
      pts[i].vector.assign(vb.vectors.begin() + i * d,
                           vb.vectors.begin() + (i + 1) * d);
      if (in.payloads) {
        pts[i].payload = std::move(pay_buf[i]);
      } else if (!vb.payloads.empty()) {
        pts[i].payload = std::move(vb.payloads[i]);
      }
      if (!vb.sparse_indices.empty()) {
        pts[i].sparse.indices = std::move(vb.sparse_indices[i]);
        pts[i].sparse.values = std::move(vb.sparse_values[i]);
      }
      if (!vb.texts.empty()) pts[i].text = std::move(vb.texts[i]);
      if (in.text_field.has_value()) {
        const std::string& source = in.payloads ? in.payload_path : in.path;
        const uint64_t row = vb.first_row + i + 1;
        if (!pts[i].text.empty()) {
          s.input_status = absl::InvalidArgumentError(
              absl::StrCat(in.path, ": row ", row,
                           ": a \"text\" and --text-field: give one"));
          break;
        }
        absl::StatusOr<std::string> text =
            PayloadText(*in.text_field, pts[i].payload, source, row);
        if (!text.ok()) {
          s.input_status = text.status();
          break;
        }
        pts[i].text = *std::move(text);
      }
    }
    if (!s.input_status.ok()) break;
    s.send_status = ingest.Send(std::move(pts));
    if (!s.send_status.ok()) break;
    s.batch_sizes.push_back(*n);
    s.rows += *n;
    progress.Update(s.rows);
  }
  s.stored = ingest.Finish();
  if (s.send_status.ok() && !s.stored.ok()) s.send_status = s.stored.status();
  progress.Update(s.rows, true);
  return s;
}

// How many rows are in for sure: all sent ones, or (a server error) the
// batches before the one the server names.
uint64_t CommittedRows(const Streamed& s) {
  if (s.send_status.ok()) return s.rows;
  size_t bad_batch = 0;
  const std::string msg(s.send_status.message());
  if (std::sscanf(msg.c_str(), "batch %zu:", &bad_batch) == 1 &&
      bad_batch <= s.batch_sizes.size()) {
    uint64_t committed = 0;
    for (size_t i = 0; i < bad_batch; ++i) committed += s.batch_sizes[i];
    return committed;
  }
  return s.stored.ok() ? *s.stored : 0;
}

// Embedded: leave the directory trained (and its automatic nlist sized for
// the data) rather than abandon a background training at exit. --train
// asks the same of a server, and waits for it.
absl::Status SettleTraining(Backend& b, const Flags& f, const std::string& coll,
                            std::ostream& out) {
  TQ_ASSIGN_OR_RETURN(CollectionInfo after, b.Info(coll));
  const bool settle = f.Has("train") || f.Has("data");
  const bool untrained =
      !after.trained &&
      (f.Has("train") || after.count >= after.config.train_threshold);
  const bool auto_nlist = after.config.nlist == 0 && after.config.store_vectors;
  if (settle && (untrained || after.training ||
                 (auto_nlist && after.retrain_recommended))) {
    const auto t0 = std::chrono::steady_clock::now();
    TQ_ASSIGN_OR_RETURN(CollectionInfo trained, b.Train(coll, auto_nlist));
    out << absl::StrFormat(
        "trained '%s': %s points, nlist %d, %d bytes/vector (%.1f s)\n", coll,
        Thousands(trained.count), trained.nlist, trained.code_bytes,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count());
  } else {
    out << absl::StrFormat("collection '%s': %s points, %s\n", coll,
                           Thousands(after.count),
                           after.trained    ? "trained"
                           : after.training ? "training in the background"
                                            : "not trained yet");
  }
  return absl::OkStatus();
}

}  // namespace

const FlagSpec& IngestFlags() {
  static const FlagSpec* spec = new FlagSpec(
      TargetFlags()
          .And(CreateFlags())
          .And({{"collection", "input", "format", "hdf5-dataset", "ids",
                 "payload", "text-field", "batch", "skip", "limit", "progress"},
                {"create", "wait", "train"}}));
  return *spec;
}

int RunIngest(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags = ParseCommandLine(
      kIngestCommand, args, IngestFlags(),
      absl::StrFormat(kIngestUsage, kTargetHelp), out, err, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("collection")) {
    return UsageError(kIngestCommand, "--collection is required", err);
  }
  if (!flags->Has("input")) {
    return UsageError(kIngestCommand, "--input FILE is required", err);
  }
  auto batch = flags->GetInt("batch", 1000, 1, 1000000);
  auto skip = flags->GetInt("skip", 0, 0, INT64_MAX);
  auto limit = flags->GetInt("limit", 0, 0, INT64_MAX);
  for (const absl::Status& s :
       {batch.status(), skip.status(), limit.status()}) {
    if (!s.ok()) return UsageError(kIngestCommand, s, err);
  }
  const std::string progress_mode = flags->GetString("progress", "auto");
  if (progress_mode != "auto" && progress_mode != "bar" &&
      progress_mode != "lines" && progress_mode != "none") {
    return UsageError(kIngestCommand,
                      "--progress: one of auto, bar, lines, none", err);
  }
  const std::string coll = flags->GetString("collection");
  const uint64_t first = static_cast<uint64_t>(*skip);
  auto inputs = OpenInputs(*flags, first);
  if (!inputs.ok()) return InputError(kIngestCommand, inputs.status(), err);
  Inputs& in = *inputs;

  auto backend = OpenBackend(*flags, flags->Has("create"));
  if (!backend.ok()) return Fail(kIngestCommand, backend.status(), err);
  Backend& b = **backend;
  auto fail = [&](const absl::Status& s) {
    const int code = Fail(kIngestCommand, s, err);
    b.Close().IgnoreError();
    return code;
  };
  if (auto info = TargetCollection(b, *flags, coll, in, out); !info.ok()) {
    return fail(info.status());
  }
  auto ingest = b.StartIngest(coll, flags->Has("wait"));
  if (!ingest.ok()) return fail(ingest.status());
  std::optional<uint64_t> total = in.vectors->total_rows();
  if (total) *total = *total > first ? *total - first : 0;
  if (total && *limit > 0) *total = std::min<uint64_t>(*total, *limit);
  Progress progress(err, progress_mode, total);
  const Streamed s = Stream(in, **ingest, static_cast<size_t>(*batch),
                            static_cast<uint64_t>(*limit), progress);
  const uint64_t committed = CommittedRows(s);
  const uint64_t resume = first + committed;
  if (!s.input_status.ok() || !s.send_status.ok()) {
    // An input error is the file's, whatever its code; the rest as Fail.
    const int code = !s.input_status.ok()
                         ? InputError(kIngestCommand, s.input_status, err)
                         : Fail(kIngestCommand, s.send_status, err);
    const LimitHint hint =
        HintForLimit(s.send_status, static_cast<size_t>(*batch));
    if (!hint.text.empty()) err << "tqdb ingest: " << hint.text << "\n";
    err << absl::StrFormat(
        "tqdb ingest: %s rows committed to '%s' (rows %d to %d of %s); fix "
        "the problem and resume with --skip %d%s\n",
        Thousands(committed), coll, first + (committed ? 1 : 0), resume,
        in.path, resume,
        hint.batch ? absl::StrCat(" --batch ", hint.batch) : "");
    b.Close().IgnoreError();
    return code;
  }
  out << absl::StrFormat(
      "ingested %s rows of %s into '%s' (%s) in %.1f s (%s rows/s)\n",
      Thousands(committed), in.path, coll, b.Describe(), progress.seconds(),
      Thousands(uint64_t(committed / std::max(1e-9, progress.seconds()))));
  if (absl::Status settled = SettleTraining(b, *flags, coll, out);
      !settled.ok()) {
    return fail(settled);
  }
  absl::Status closed = b.Close();
  if (!closed.ok()) {
    Fail(kIngestCommand, closed, err);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tqdb
