#include "index/types.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "quant/echo.h"

namespace tqdb {

const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kInnerProduct:
      return "ip";
    case Metric::kCosine:
      return "cosine";
    case Metric::kL2:
      return "l2";
  }
  return "unknown";
}

absl::StatusOr<Metric> ParseMetric(absl::string_view name) {
  if (name == "ip" || name == "dot") return Metric::kInnerProduct;
  if (name == "cosine" || name == "angular") return Metric::kCosine;
  if (name == "l2" || name == "euclidean") return Metric::kL2;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown metric '", name, "' (expected cosine, ip or l2)"));
}

const char* PrefixSharingName(PrefixSharing s) {
  switch (s) {
    case PrefixSharing::kWhereExact:
      return "auto";
    case PrefixSharing::kAlways:
      return "always";
    case PrefixSharing::kNever:
      return "never";
  }
  return "unknown";
}

absl::StatusOr<PrefixSharing> ParsePrefixSharing(absl::string_view name) {
  for (PrefixSharing s : {PrefixSharing::kWhereExact, PrefixSharing::kAlways,
                          PrefixSharing::kNever}) {
    if (name == PrefixSharingName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("prefix sharing '", EchoInput(name),
                   "' is not one of auto, always, never"));
}

const char* PcaWeightingName(PcaWeighting w) {
  switch (w) {
    case PcaWeighting::kAuto:
      return "auto";
    case PcaWeighting::kOff:
      return "off";
    case PcaWeighting::kOn:
      return "on";
  }
  return "unknown";
}

absl::StatusOr<PcaWeighting> ParsePcaWeighting(absl::string_view name) {
  for (PcaWeighting w :
       {PcaWeighting::kAuto, PcaWeighting::kOff, PcaWeighting::kOn}) {
    if (name == PcaWeightingName(w)) return w;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "pca weighting '", EchoInput(name), "' is not one of auto, off, on"));
}

SearchStats SumStats(const std::vector<SearchStats>& all) {
  SearchStats sum;
  for (const SearchStats& s : all) {
    sum.lists_probed += s.lists_probed;
    sum.lists_skipped += s.lists_skipped;
    sum.codes_scanned += s.codes_scanned;
    sum.rescored += s.rescored;
    sum.exact_scored += s.exact_scored;
    sum.refined += s.refined;
    sum.tables_built += s.tables_built;
    sum.blocks_scanned += s.blocks_scanned;
    sum.allowed_seen += s.allowed_seen;
    sum.centroids_exact += s.centroids_exact;
    sum.centroids_quantized += s.centroids_quantized;
  }
  return sum;
}

}  // namespace tqdb
