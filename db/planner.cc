#include "db/planner.h"

#include <algorithm>
#include <cmath>

namespace tqdb {
namespace dbimpl {

// Measured on this machine (README, "Filtered search": the kernel runs
// through about 40 code bytes per ns, a centroid distance 8 floats per ns,
// a membership test about 1.5 ns): costs relative to one block, 32 codes
// of code_bytes each.
namespace {
constexpr double kKernelBytesPerNs = 40.0;
constexpr double kCentroidFloatsPerNs = 8.0;
constexpr double kSlotNs = 1.5;
constexpr double kL2TableFloatsPerNs = 1.0;  // 16 entries per sub-code

double BlockNs(size_t code_bytes) {
  return std::max(1.0,
                  32.0 * static_cast<double>(code_bytes) / kKernelBytesPerNs);
}
}  // namespace

double PlanCosts::Centroid(uint32_t dim, size_t code_bytes) {
  return dim / kCentroidFloatsPerNs / BlockNs(code_bytes);
}

double PlanCosts::List(uint32_t dim, size_t code_bytes, bool l2) {
  const double ns =
      l2 ? 16.0 * dim / kL2TableFloatsPerNs : dim / kCentroidFloatsPerNs;
  return ns / BlockNs(code_bytes);
}

double PlanCosts::Slot(size_t code_bytes) {
  return kSlotNs / BlockNs(code_bytes);
}

FilterPlan ChooseFilterPlan(const PlanInput& in, const SpreadFn& spread) {
  FilterPlan plan;
  const double n = static_cast<double>(std::max<uint64_t>(1, in.points));
  const uint32_t nlist = std::max<uint32_t>(1, in.nlist);
  const uint32_t nprobe =
      in.nprobe == 0 || in.nprobe > nlist ? nlist : in.nprobe;
  const double s = static_cast<double>(in.matches) / n;
  const uint64_t target = std::max<uint64_t>(
      in.k_scan, static_cast<uint64_t>(std::ceil(static_cast<double>(nprobe) *
                                                 n / nlist * std::sqrt(s))));
  // The index probes until sqrt(s) times the points of the query's own
  // nprobe nearest lists were seen (IvfIndex, FilteredScan::kProbe);
  // `target` is that on average, which the costs below use.
  plan.min_allowed = in.k_scan;
  const double list_cost = PlanCosts::List(in.dim, in.code_bytes, in.l2);
  auto matches_plan = [&] {
    plan.scan = FilteredScan::kAllowedOnly;
    plan.name = "filtered-matches";
    return plan;
  };
  if (in.choice == FilterPlanChoice::kMatches) return matches_plan();
  if (in.choice == FilterPlanChoice::kIvf) return plan;
  if (in.matches <= target) return matches_plan();
  // IVF: the share of the collection visited until nprobe / sqrt(s) lists
  // holding matches, and `target` matches, were scanned (matches spread
  // uniformly: a list holds one with probability 1 - (1 - s)^(n / nlist)).
  const double holding = 1.0 - std::pow(1.0 - s, n / nlist);
  const double share = std::min(
      1.0, std::max(nprobe / std::sqrt(s) / std::max(holding, 1e-9) / nlist,
                    static_cast<double>(target) / in.matches));
  const double slots = share * n;
  const double blocks = slots / 32.0 * (1.0 - std::pow(1.0 - s, 32.0));
  plan.ivf_cost = nlist * PlanCosts::Centroid(in.dim, in.code_bytes) + blocks +
                  share * nlist * list_cost +
                  slots * PlanCosts::Slot(in.code_bytes);
  // Matches: at least matches / 32 blocks (packed) and one list; at most
  // about what uniformly spread matches would take (clustered ones share
  // blocks and lists). Counted (O(matches) at most) only in between.
  const double floor = std::ceil(in.matches / 32.0) + list_cost;
  if (floor >= plan.ivf_cost) return plan;
  const double ceiling =
      n / 32.0 * (1.0 - std::pow(1.0 - s, 32.0)) + nlist * holding * list_cost;
  if (ceiling <= plan.ivf_cost) {
    plan.matches_cost = ceiling;
    return matches_plan();
  }
  // Counted up to the IVF plan's cost only: uniformly spread matches pass
  // it after a fraction of them (a new block almost every match; a 10%
  // filter on 100,000 points after about a fifth), and the count stops.
  const IvfIndex::AllowedSpread sp = spread(list_cost, plan.ivf_cost);
  plan.matches_cost = sp.Cost(list_cost);
  if (sp.complete && plan.matches_cost <= plan.ivf_cost) return matches_plan();
  return plan;
}

}  // namespace dbimpl
}  // namespace tqdb
