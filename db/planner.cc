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
  // holding matches, and `target` matches, were scanned, given the share
  // of the lists that hold a match (`holding`; lists without one count for
  // nothing): a cost linear in the visited share.
  const double blocks_per_slot = (1.0 - std::pow(1.0 - s, 32.0)) / 32.0;
  const double fixed_cost = nlist * PlanCosts::Centroid(in.dim, in.code_bytes);
  const double share_cost = n * blocks_per_slot + nlist * list_cost +
                            n * PlanCosts::Slot(in.code_bytes);
  const double lists_needed = nprobe / std::sqrt(s) / nlist;
  const double min_share = static_cast<double>(target) / in.matches;
  auto ivf_cost = [&](double holding) {
    const double share = std::min(
        1.0, std::max(lists_needed / std::max(holding, 1e-9), min_share));
    return fixed_cost + share * share_cost;
  };
  // Matches spread uniformly: a list holds one with probability
  // 1 - (1 - s)^(n / nlist), the most lists a number of matches can hold
  // on average (clustered ones hold fewer, and the scan visits more).
  const double holding_uniform = 1.0 - std::pow(1.0 - s, n / nlist);
  plan.ivf_cost = ivf_cost(holding_uniform);
  // Matches: at least matches / 32 blocks (packed) and one list; at most
  // about what uniformly spread matches would take (clustered ones share
  // blocks and lists). Counted (O(matches) at most) only in between.
  const double floor = std::ceil(in.matches / 32.0) + list_cost;
  if (floor >= plan.ivf_cost) return plan;
  const double ceiling =
      n * blocks_per_slot + nlist * holding_uniform * list_cost;
  if (ceiling <= plan.ivf_cost) {
    plan.matches_cost = ceiling;
    return matches_plan();
  }
  // Counted (IvfIndex::Spread): the blocks and lists holding a match, which
  // are the matches plan's cost and the IVF plan's `holding`. The count
  // stops once the IVF plan is the cheaper for certain: the matches
  // counted so far cost at least as much as the IVF plan would with only
  // the lists seen so far holding one (fewer lists holding, the more it
  // visits), a cost that rises as the count goes on while the other falls.
  // Uniformly spread matches (a new block almost every match) get there
  // after a fraction of them: a 10% filter on 100,000 points after about
  // a fifth.
  const IvfIndex::AllowedSpread sp =
      spread([&](const IvfIndex::AllowedSpread& c) {
        return c.Cost(list_cost) <=
               ivf_cost(c.lists / static_cast<double>(nlist));
      });
  if (!sp.complete) return plan;
  plan.ivf_cost = ivf_cost(sp.lists / static_cast<double>(nlist));
  plan.matches_cost = sp.Cost(list_cost);
  if (plan.matches_cost <= plan.ivf_cost) return matches_plan();
  return plan;
}

}  // namespace dbimpl
}  // namespace tqdb
