// The filtered-search planner (db/planner.h) and the IVF plan's stopping
// rule: a filtered search keeps the unfiltered one's recall on real data
// while probing about nprobe / sqrt(share) lists.
#include "db/planner.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "index/ivf_index.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "tests/test_util.h"

namespace tqdb {
namespace dbimpl {
namespace {

PlanInput Input(uint64_t matches, uint64_t points, uint32_t nlist,
                uint32_t nprobe, uint64_t k_scan) {
  PlanInput in;
  in.matches = matches;
  in.points = points;
  in.nlist = nlist;
  in.nprobe = nprobe;
  in.k_scan = k_scan;
  in.dim = 512;
  in.code_bytes = 260;
  in.choice = FilterPlanChoice::kIvf;
  return in;
}

IvfIndex::AllowedSpread NoSpread(
    const std::function<bool(const IvfIndex::AllowedSpread&)>&) {
  return {};
}

TEST(PlannerTest, TheIvfPlanHandsTheIndexTheCandidatesAsItsFloor) {
  // The index takes sqrt(share) times the points of the query's nprobe
  // nearest lists; the plan adds the rescore's candidates as a floor.
  EXPECT_EQ(
      ChooseFilterPlan(Input(5000, 20000, 512, 32, 40), NoSpread).min_allowed,
      40u);
}

TEST(PlannerTest, AutoTakesTheMatchesPlanWhenTheTargetIsEveryMatch) {
  // target = nprobe * n / nlist * sqrt(s) = 1250 * 0.05 = 62.5 of 50
  // matches: every match.
  PlanInput in = Input(50, 20000, 512, 32, 10);
  in.choice = FilterPlanChoice::kAuto;
  EXPECT_EQ(ChooseFilterPlan(in, NoSpread).scan, FilteredScan::kAllowedOnly);
}

// Between the bounds on the matches plan's cost the planner counts where
// the matches sit (IvfIndex::Spread), and stops as soon as the IVF plan is
// the cheaper for certain.
TEST(PlannerTest, UniformlySpreadMatchesAreCountedUntilTheIvfPlanWins) {
  // 20% of 20,000 in 512 lists of 39: the floor (125 blocks) is below the
  // IVF plan's cost, the ceiling (every block, every list) above it.
  PlanInput in = Input(4000, 20000, 512, 32, 40);
  in.choice = FilterPlanChoice::kAuto;
  // The matches one at a time, each in a block and list of its own until
  // every list holds one (a uniform spread's first matches).
  uint64_t counted = 0;
  const FilterPlan plan = ChooseFilterPlan(
      in,
      [&](const std::function<bool(const IvfIndex::AllowedSpread&)>& go_on) {
        IvfIndex::AllowedSpread c;
        for (counted = 0; counted < in.matches; ++counted) {
          ++c.blocks;
          c.lists = static_cast<uint32_t>(std::min<uint64_t>(512, c.blocks));
          if (!go_on(c)) {
            c.complete = false;
            return c;
          }
        }
        return c;
      });
  EXPECT_EQ(plan.scan, FilteredScan::kProbe);
  EXPECT_GT(plan.ivf_cost, 125);
  // Stopped past the IVF plan's cost, long before the 4,000 matches.
  EXPECT_GT(counted, plan.ivf_cost / 2);
  EXPECT_LT(counted, 1000u);
}

// Counted in full, the lists holding a match also set the IVF plan's cost:
// the fewer hold one, the more lists the IVF plan visits for its target.
TEST(PlannerTest, ClusteredMatchesMakeTheIvfPlanDearer) {
  // 5% of 20,000: 1,000 matches in 400 blocks.
  PlanInput in = Input(1000, 20000, 512, 32, 40);
  in.choice = FilterPlanChoice::kAuto;
  auto counted = [](uint32_t lists) {
    return
        [lists](
            const std::function<bool(const IvfIndex::AllowedSpread&)>& go_on) {
          IvfIndex::AllowedSpread c;
          c.blocks = 400;
          c.lists = lists;
          c.complete = go_on(c);
          return c;
        };
  };
  // In every list: the IVF plan is the cheaper (the count stops).
  const FilterPlan spread = ChooseFilterPlan(in, counted(512));
  EXPECT_EQ(spread.scan, FilteredScan::kProbe);
  // In a quarter of the lists (a correlated filter): the IVF plan must
  // visit most of the index, and the matches plan is the cheaper.
  const FilterPlan clustered = ChooseFilterPlan(in, counted(128));
  EXPECT_EQ(clustered.scan, FilteredScan::kAllowedOnly);
  EXPECT_GT(clustered.ivf_cost, spread.ivf_cost);
  EXPECT_LE(clustered.matches_cost, clustered.ivf_cost);
}

// use512-debian-pkgdesc with uniform filters (a random share of the
// points) and correlated ones (Debian sections): the recall of the filtered
// search at the plan's target against the unfiltered search's at the same
// nprobe, and the lists it probes.
TEST(PlannerTest, FiltersKeepTheUnfilteredRecallOnUse512) {
  testing_util::Use512 u;
  if (!testing_util::LoadUse512(&u)) {
    GTEST_SKIP() << "shared data not found in "
                 << testing_util::SharedDataDir();
  }
  const std::vector<float>& base = u.base;
  const std::vector<float>& queries = u.queries;
  const size_t n = u.n, d = u.d;
  size_t nq = u.nq;
  nq = std::min<size_t>(nq, 300);
  IvfOptions o;
  o.dim = static_cast<uint32_t>(d);
  o.metric = Metric::kInnerProduct;
  o.nlist = 512;
  o.codec.method = "renorm";
  o.codec.bits = 4;
  auto trained = IvfIndex::Train(o, base.data(), n);
  ASSERT_TRUE(trained.ok()) << trained.status();
  IvfIndex& idx = **trained;
  std::vector<uint32_t> lists(n), iids(n);
  std::vector<uint64_t> ids(n);
  std::vector<uint8_t> codes(n * idx.bytes_per_vector());
  ASSERT_TRUE(idx.Encode(base.data(), n, lists.data(), codes.data()).ok());
  std::iota(ids.begin(), ids.end(), 0);
  std::iota(iids.begin(), iids.end(), 0);
  ASSERT_TRUE(
      idx.AddEncoded(ids.data(), lists.data(), codes.data(), n, iids.data())
          .ok());
  std::vector<float> scores(nq * n);
  for (size_t qi = 0; qi < nq; ++qi) {
    for (size_t i = 0; i < n; ++i) {
      scores[qi * n + i] = kernels::Dot(&queries[qi * d], &base[i * d], d);
    }
  }
  constexpr uint32_t kK = 10, kNprobe = 16;
  // Recall against the exact top k of the rows `allowed` holds (all: null).
  auto recall = [&](const AllowedSet* allowed, uint64_t min_allowed,
                    double* lists_probed) {
    double hit = 0;
    *lists_probed = 0;
    for (size_t qi = 0; qi < nq; ++qi) {
      std::vector<std::pair<float, uint64_t>> s;
      for (size_t i = 0; i < n; ++i) {
        if (allowed == nullptr || allowed->Contains(static_cast<uint32_t>(i))) {
          s.push_back({scores[qi * n + i], i});
        }
      }
      std::partial_sort(
          s.begin(), s.begin() + kK, s.end(),
          [](const auto& a, const auto& b) { return a.first > b.first; });
      std::set<uint64_t> truth;
      for (uint32_t i = 0; i < kK; ++i) truth.insert(s[i].second);
      SearchParams p;
      p.k = kK;
      p.nprobe = kNprobe;
      p.allowed = allowed;
      p.min_allowed = min_allowed;
      SearchStats st;
      p.stats = &st;
      auto r = idx.Search(&queries[qi * d], p);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return 0.0;
      for (const Neighbor& nb : *r) hit += truth.count(nb.id);
      *lists_probed += st.lists_probed;
    }
    *lists_probed /= nq;
    return hit / (nq * kK);
  };
  double unfiltered_lists = 0;
  const double unfiltered = recall(nullptr, 0, &unfiltered_lists);
  std::vector<std::pair<std::string, AllowedSet>> filters;
  std::vector<uint32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  Rng rng(7);
  for (size_t i = n - 1; i > 0; --i) {
    std::swap(perm[i], perm[rng.Uniform(i + 1)]);
  }
  for (double share : {0.5, 0.2, 0.05}) {
    AllowedSet allowed(static_cast<uint32_t>(n));
    const size_t matches = static_cast<size_t>(share * n);
    for (size_t i = 0; i < matches; ++i) allowed.Add(perm[i]);
    filters.push_back({absl::StrCat(100 * share, "% uniform"), allowed});
  }
  // Correlated: the largest Debian sections (their points sit in a few
  // lists), about half and a fifth of the points; the queries of the
  // other sections find their neighbours far out.
  std::ifstream payloads(testing_util::SharedDataDir() +
                         "/use512-debian-pkgdesc/"
                         "debdesc_use512_base_20k.payload.jsonl");
  std::vector<std::string> section;
  for (std::string line; std::getline(payloads, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    section.push_back(j.is_object() && j.contains("section") &&
                              j["section"].is_string()
                          ? j["section"].get<std::string>()
                          : "");
  }
  ASSERT_EQ(section.size(), n);
  for (const std::set<std::string>& sections :
       {std::set<std::string>{"libs", "libdevel", "doc", "python", "perl",
                              "devel", "utils", "net"},
        std::set<std::string>{"libs", "libdevel", "ruby"}}) {
    AllowedSet allowed(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i) {
      if (sections.count(section[i])) allowed.Add(static_cast<uint32_t>(i));
    }
    filters.push_back(
        {absl::StrCat(absl::StrJoin(sections, ","), " (correlated)"), allowed});
  }
  for (const auto& [name, allowed] : filters) {
    const double share = static_cast<double>(allowed.count()) / n;
    const size_t matches = allowed.count();
    const FilterPlan plan =
        ChooseFilterPlan(Input(matches, n, idx.nlist(), kNprobe, kK), NoSpread);
    ASSERT_EQ(plan.scan, FilteredScan::kProbe);
    double lists_probed = 0;
    const double filtered = recall(&allowed, plan.min_allowed, &lists_probed);
    std::printf(
        "use512 nprobe %u: unfiltered recall %.3f; %s (%.3f): %.3f, %.1f "
        "lists\n",
        kNprobe, unfiltered, name.c_str(), share, filtered, lists_probed);
    EXPECT_GE(filtered, unfiltered - 0.01) << name;
    // Lists in proportion to 1 / sqrt(share), not 1 / share (nprobe
    // lists' worth of allowed points, which probed 2-20 times nprobe lists
    // here, for recall well past the unfiltered search's).
    EXPECT_LE(lists_probed, 2.0 * kNprobe / std::sqrt(share)) << name;
  }
}

}  // namespace
}  // namespace dbimpl
}  // namespace tqdb
