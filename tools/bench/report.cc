// tqdb bench --report: the recall report, TurboQuant vs product quantization
// (see tools/bench/report.h): the run over the data sets, its files, and
// the command line.
#include "tools/bench/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "quant/random.h"
#include "quant/status_macros.h"
#include "tools/bench/report_charts.h"
#include "tools/bench/report_data.h"
#include "tools/bench/report_markdown.h"
#include "tools/bench/report_measure.h"
#include "tools/bench/stopwatch.h"
#include "tools/cli/output.h"

namespace tqdb {
namespace {

constexpr char kReportCommand[] = "bench --report";

constexpr char kReportHelp[] =
    "usage: tqdb bench --report DIR [--data DATA_DIR] [--quick]\n"
    "                  [--max-base N] [--max-queries N]\n"
    "\n"
    "Writes the recall report (TurboQuant vs product quantization) to DIR:\n"
    "report.md (tables, verdict, machine, command), *.svg charts and *.jsonl\n"
    "raw numbers. Runs on DATA_DIR/glove100-wink (cosine) and\n"
    "DATA_DIR/use512-debian-pkgdesc (inner product), one thread:\n"
    "  1. recall@1@k, k = 1..64, at 2, 3, 4 bits, flat and IVF, for\n"
    "     TurboQuant mse/prod/renorm, pca (ours), PQ (ours) and FAISS PQ\n"
    "     (LUT256, FastScan) at equal bytes per vector;\n"
    "  2. indexing time (train + encode);\n"
    "  3. ablations (sign sketch, centring, sketch matrix, codebook);\n"
    "  4. inner-product error per bucket of the true inner product.\n"
    "\n"
    "flags:\n"
    "  --report DIR      output directory (created if missing)\n"
    "  --data DIR        shared data (default " TQDB_SHARED_DATA
    ")\n"
    "  --quick           tiny run for tests: 3,000 base vectors, 100 queries,\n"
    "                    2 and 4 bits\n"
    "  --max-base N      base vectors per data set at most (deterministic\n"
    "                    sample; exact ground truth recomputed)\n"
    "  --max-queries N   queries per data set at most\n"
    "Exit status 2 if the data is missing.\n";

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::out | std::ios::trunc | std::ios::binary);
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path));
  f << text;
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("writing ", path, " failed"));
  return absl::OkStatus();
}

// The raw numbers of a run, one JSON line each.
struct JsonLines {
  std::string recall, iperror, dmse;
};

// Experiments 1 (the paper's) and 3 (ablations; 2, indexing time, comes
// from their runs) on one data set.
absl::Status MeasureRecall(const Data& data, const Plan& plan,
                           DataResult* result, JsonLines* json,
                           std::vector<std::string>* notes, std::ostream& log) {
  DataResult& dr = *result;
  auto add = [&](const RecallResult& r) {
    dr.recs.push_back(r);
    json->recall += RecallResultJson(r);
    log << absl::StrFormat(
        "  %-10s %-5s %-15s %u bits %4zu B  R@1@1 %.3f R@1@4 %.3f  train "
        "%.2fs encode %.2fs\n",
        r.experiment, r.layout, r.method, r.bits, r.bytes, r.r[0], r.r[2],
        r.train_s, r.encode_s);
    log.flush();
  };
  auto run = [&](const std::string& experiment, const std::string& label,
                 const IvfOptions& o) -> absl::Status {
    TQ_ASSIGN_OR_RETURN(RecallResult r, RunTqdb(data, experiment, label, o));
    add(r);
    return absl::OkStatus();
  };
  // 1. The paper's experiment.
  for (const bool ivf : {false, true}) {
    for (uint32_t b : plan.bits) {
      size_t target = 0;
      for (const char* m : kTqdbMethods) {
        TQ_ASSIGN_OR_RETURN(
            RecallResult r,
            RunTqdb(data, "main", m,
                    IndexOptions(data, m, b, ivf, /*residual=*/ivf)));
        if (ivf) dr.nlist_ivf = r.nlist;
        if (std::string(m) == "renorm") target = r.bytes;
        add(r);
      }
      TQ_ASSIGN_OR_RETURN(
          auto peers,
          RunFaiss(data, ivf, b, target, ivf ? dr.nlist_ivf : 1, plan, notes));
      for (const RecallResult& r : peers) add(r);
    }
  }
  // 3. Ablations (2, indexing time, comes from the runs above).
  for (const bool ivf : {false, true}) {
    for (uint32_t b : plan.bits) {
      // (a) the sign sketch: mse at b - 1 bits, if not measured already.
      if (b >= 2 && std::find(plan.bits.begin(), plan.bits.end(), b - 1) ==
                        plan.bits.end()) {
        TQ_RETURN_IF_ERROR(run("sketch-off", "mse",
                               IndexOptions(data, "mse", b - 1, ivf, ivf)));
      }
      // (b) centring: flat centred on the mean, IVF without residuals.
      for (const char* m : {"mse", "prod", "renorm"}) {
        TQ_RETURN_IF_ERROR(run(
            "centring", m, IndexOptions(data, m, b, ivf, /*residual=*/!ivf)));
      }
      // (c) Gaussian sketch matrix for prod.
      IvfOptions g = IndexOptions(data, "prod", b, ivf, ivf);
      g.codec.sketch = SketchKind::kGaussian;
      TQ_RETURN_IF_ERROR(run("sketch", "prod", g));
      // (d) Gaussian codebook at low d.
      if (data.d < 128) {
        for (const char* m : {"mse", "renorm"}) {
          IvfOptions c = IndexOptions(data, m, b, ivf, ivf);
          c.codec.codebook = CodebookKind::kGaussian;
          TQ_RETURN_IF_ERROR(run("codebook", m, c));
        }
      }
    }
  }
  return absl::OkStatus();
}

// Experiment 4: the inner-product error, flat, raw vectors.
absl::Status MeasureIpErrors(const Data& data, const Plan& plan, DataResult* dr,
                             JsonLines* json, std::ostream& log) {
  const Pairs pairs = MakePairs(data, plan);
  for (uint32_t b : plan.bits) {
    if (b != 2 && b != 4) continue;
    std::vector<std::string> ip_methods(std::begin(kTqdbMethods),
                                        std::end(kTqdbMethods));
    ip_methods.push_back("prod-gaussian");
    for (const std::string& m : ip_methods) {
      TQ_ASSIGN_OR_RETURN(IpErrorResult e,
                          MeasureIpError(data, pairs, m, b, plan));
      json->iperror += IpErrorJson(e, pairs.truth.size());
      log << absl::StrFormat("  iperror %-6s %u bits: bias %+.4f std %.4f\n", m,
                             b, e.all_bias, e.all_sd);
      dr->iperr.push_back(std::move(e));
    }
  }
  return absl::OkStatus();
}

// Ablation (d): D_mse with the exact-Beta and the Gaussian codebook, on
// random unit vectors and on each data set's first vectors.
absl::StatusOr<std::vector<DmseResult>> MeasureCodebooks(
    const Plan& plan, const std::vector<std::unique_ptr<Data>>& datas) {
  std::vector<DmseResult> dmse;
  Rng rng(4242);
  for (uint32_t d : plan.dmse_dims) {
    std::vector<float> x(plan.dmse_n * d);
    for (float& v : x) v = static_cast<float>(rng.Gaussian());
    x = Normalized(x, plan.dmse_n, d);
    for (uint32_t b = 1; b <= 4; ++b) {
      TQ_ASSIGN_OR_RETURN(DmseResult r,
                          DmseRow("random", x, plan.dmse_n, d, b));
      dmse.push_back(r);
    }
  }
  for (const auto& dp : datas) {
    const size_t n = std::min(plan.dmse_n, dp->n);
    std::vector<float> x(dp->base_m.begin(), dp->base_m.begin() + n * dp->d);
    if (dp->spec->metric != Metric::kCosine) x = Normalized(x, n, dp->d);
    for (uint32_t b = 1; b <= 4; ++b) {
      TQ_ASSIGN_OR_RETURN(DmseResult r,
                          DmseRow(dp->spec->name, x, n, dp->d, b));
      dmse.push_back(r);
    }
  }
  return dmse;
}

}  // namespace

const FlagSpec& ReportFlags() {
  static const FlagSpec* spec =
      new FlagSpec{{"report", "data", "max-base", "max-queries"}, {"quick"}};
  return *spec;
}

absl::Status WriteReport(const ReportOptions& options, std::ostream& log) {
  const auto t_start = std::chrono::steady_clock::now();
  if (options.out_dir.empty()) {
    return absl::InvalidArgumentError("--report DIR is required");
  }
  const Plan plan = MakePlan(options);
  const std::string data_dir = options.data_dir.empty()
                                   ? std::string(TQDB_SHARED_DATA)
                                   : options.data_dir;
  // Check the data before the long run.
  for (const DataSpec& spec : kDataSpecs) {
    TQ_RETURN_IF_ERROR(CheckDataFiles(data_dir, spec));
  }
  mkdir(options.out_dir.c_str(), 0755);
  TQ_RETURN_IF_ERROR(WriteFile(options.out_dir + "/.write_test", ""));
  std::remove((options.out_dir + "/.write_test").c_str());

  ReportResults all;
  JsonLines json;
  std::vector<std::unique_ptr<Data>> datas;
  for (const DataSpec& spec : kDataSpecs) {
    const auto t_data = std::chrono::steady_clock::now();
    TQ_ASSIGN_OR_RETURN(Data loaded, LoadData(data_dir, spec, plan, log));
    datas.push_back(std::make_unique<Data>(std::move(loaded)));
    const Data& data = *datas.back();
    DataResult dr;
    dr.data = &data;
    TQ_RETURN_IF_ERROR(MeasureRecall(data, plan, &dr, &json, &all.notes, log));
    TQ_RETURN_IF_ERROR(MeasureIpErrors(data, plan, &dr, &json, log));
    dr.seconds = Seconds(t_data);
    const std::string dir = options.out_dir;
    TQ_RETURN_IF_ERROR(WriteFile(
        absl::StrCat(dir, "/recall_", spec.name, ".svg"), RecallSvg(dr, plan)));
    TQ_RETURN_IF_ERROR(
        WriteFile(absl::StrCat(dir, "/ablations_", spec.name, ".svg"),
                  AblationSvg(dr, plan)));
    TQ_RETURN_IF_ERROR(WriteFile(
        absl::StrCat(dir, "/iperror_", spec.name, ".svg"), IpErrorSvg(dr)));
    all.data.push_back(std::move(dr));
  }
  TQ_ASSIGN_OR_RETURN(all.dmse, MeasureCodebooks(plan, datas));
  for (const DmseResult& r : all.dmse) json.dmse += DmseJson(r);
  TQ_RETURN_IF_ERROR(
      WriteFile(options.out_dir + "/codebook.svg", CodebookSvg(all.dmse)));
  TQ_RETURN_IF_ERROR(WriteFile(options.out_dir + "/recall.jsonl", json.recall));
  TQ_RETURN_IF_ERROR(
      WriteFile(options.out_dir + "/iperror.jsonl", json.iperror));
  TQ_RETURN_IF_ERROR(WriteFile(options.out_dir + "/dmse.jsonl", json.dmse));

  all.runtime_s = Seconds(t_start);
  TQ_RETURN_IF_ERROR(WriteFile(options.out_dir + "/report.md",
                               ReportMarkdown(options, plan, all)));
  log << absl::StrFormat("report: wrote %s/report.md in %.0f s\n",
                         options.out_dir, Seconds(t_start));
  return absl::OkStatus();
}

int RunReport(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags = ParseCommandLine(
      kReportCommand, args, ReportFlags(), kReportHelp, out, err, &exit_code);
  if (!flags) return exit_code;
  ReportOptions o;
  o.out_dir = flags->GetString("report");
  if (o.out_dir.empty()) {
    return UsageError(kReportCommand, "--report DIR is required", err);
  }
  o.data_dir = flags->GetString("data");
  o.quick = flags->Has("quick");
  auto max_base = flags->GetInt("max-base", 0, 300, INT64_MAX);
  if (!max_base.ok()) return UsageError(kReportCommand, max_base.status(), err);
  auto max_queries = flags->GetInt("max-queries", 0, 1, INT64_MAX);
  if (!max_queries.ok())
    return UsageError(kReportCommand, max_queries.status(), err);
  o.max_base = static_cast<size_t>(*max_base);
  o.max_queries = static_cast<size_t>(*max_queries);
  o.command = absl::StrCat("tqdb bench ", absl::StrJoin(args, " "));
  absl::Status st = WriteReport(o, out);
  return st.ok() ? kExitOk : Fail(kReportCommand, st, err);
}

}  // namespace tqdb
