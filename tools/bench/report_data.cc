#include "tools/bench/report_data.h"

#include <sys/stat.h>

#include <chrono>
#include <iterator>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "quant/random.h"
#include "quant/status_macros.h"
#include "tools/bench/stopwatch.h"
#include "tools/io/matrix.h"

namespace tqdb {

Plan MakePlan(const ReportOptions& o) {
  Plan p;
  if (o.quick) {
    p.bits = {2, 4};
    p.max_base = 3000;
    p.max_queries = 100;
    p.ip_queries = 20;
    p.ip_random = 50;
    p.codec_train = 5000;
    p.dmse_n = 500;
    p.dmse_dims = {16, 64, 100};
    p.faiss_max_train = 600;
  } else {
    p.bits = {2, 3, 4};
    p.max_base = 0;
    p.max_queries = 1000;
    p.ip_queries = 200;
    p.ip_random = 100;
    p.codec_train = 20000;
    p.dmse_n = 4000;
    p.dmse_dims = {8, 16, 32, 64, 100, 128, 512};
    p.faiss_max_train = 10000;
  }
  if (o.max_base > 0) p.max_base = o.max_base;
  if (o.max_queries > 0) p.max_queries = o.max_queries;
  return p;
}

std::vector<std::string> MainMethods() {
  std::vector<std::string> m(std::begin(kTqdbMethods), std::end(kTqdbMethods));
  m.push_back(kFaissLut);
  m.push_back(kFaissFs);
  return m;
}

std::string Display(const std::string& m) {
  static const std::map<std::string, std::string> kNames = {
      {"mse", "TQ mse"},
      {"prod", "TQ prod"},
      {"renorm", "TQ renorm"},
      {"pca", "pca (ours)"},
      {"pq", "PQ 4-bit FastScan (ours)"},
      {"prod-gaussian", "TQ prod, Gaussian S"},
      {kFaissLut, "FAISS PQ 8-bit (LUT256)"},
      {kFaissFs, "FAISS PQ 4-bit FastScan"}};
  auto it = kNames.find(m);
  return it == kNames.end() ? m : it->second;
}

bool IsTurbo(const std::string& m) {
  return m == "mse" || m == "prod" || m == "renorm";
}
bool IsPq(const std::string& m) {
  return m == "pq" || m == kFaissLut || m == kFaissFs;
}

absl::Status CheckDataFiles(const std::string& dir, const DataSpec& spec) {
  for (const char* f : {spec.base, spec.queries, spec.gt}) {
    const std::string path = absl::StrCat(dir, "/", spec.name, "/", f);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::NotFoundError(
          absl::StrCat("shared data not found: ", path,
                       " (give the folder holding glove100-wink/ and "
                       "use512-debian-pkgdesc/ with --data)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Data> LoadData(const std::string& dir, const DataSpec& spec,
                              const Plan& plan, std::ostream& log) {
  TQ_RETURN_IF_ERROR(CheckDataFiles(dir, spec));
  const std::string folder = absl::StrCat(dir, "/", spec.name);
  Data data;
  data.spec = &spec;
  ReaderOptions fvecs;
  fvecs.format = "fvecs";
  TQ_ASSIGN_OR_RETURN(
      FloatMatrix base,
      ReadFloatMatrix(absl::StrCat(folder, "/", spec.base), 0, fvecs));
  TQ_ASSIGN_OR_RETURN(FloatMatrix queries,
                      ReadFloatMatrix(absl::StrCat(folder, "/", spec.queries),
                                      plan.max_queries, fvecs));
  if (base.dim != queries.dim || base.rows == 0 || queries.rows == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(folder, ": empty files or dimension mismatch"));
  }
  data.n_file = base.rows;
  data.d = base.dim;
  data.nq = queries.rows;
  data.queries = std::move(queries.data);
  const bool sample = plan.max_base > 0 && plan.max_base < base.rows;
  if (sample) {
    // Selection sampling (Knuth's Algorithm S), rows kept in file order.
    Rng rng(20250101);
    size_t needed = plan.max_base;
    data.base.reserve(needed * data.d);
    for (size_t i = 0; i < base.rows && needed > 0; ++i) {
      if (rng.Uniform(base.rows - i) < needed) {
        data.base.insert(data.base.end(), base.row(i), base.row(i) + data.d);
        --needed;
      }
    }
    data.n = plan.max_base;
  } else {
    data.base = std::move(base.data);
    data.n = base.rows;
  }
  if (spec.metric == Metric::kCosine) {
    data.base_m = Normalized(data.base, data.n, data.d);
    data.queries_m = Normalized(data.queries, data.nq, data.d);
  } else {
    data.base_m = data.base;
    data.queries_m = data.queries;
  }
  if (sample) {
    const auto t0 = std::chrono::steady_clock::now();
    data.gt = BruteForce(data.base_m, data.n, data.queries_m, data.nq, data.d,
                         /*l2=*/false, nullptr);
    data.gt_note = absl::StrFormat(
        "exact top-%zu recomputed by brute force on the %zu-vector sample "
        "(%.1f s)",
        data.gt.width, data.n, Seconds(t0));
  } else {
    TQ_RETURN_IF_ERROR(LoadGroundTruth(absl::StrCat(folder, "/", spec.gt),
                                       data.nq, data.n, &data.gt));
    data.gt_note =
        absl::StrCat("`", spec.gt, "` (shipped, top-", data.gt.width, ")");
  }
  log << absl::StrFormat("report: %s: n=%zu of %zu, d=%zu, queries=%zu\n",
                         spec.name, data.n, data.n_file, data.d, data.nq);
  log.flush();
  return data;
}

}  // namespace tqdb
