#include "db/recommend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"

namespace tqdb {

namespace {

// Qdrant's scaled fast sigmoid: increasing, into (0, 1).
double Squash(double s) { return 0.5 * (s / (1.0 + std::fabs(s)) + 1.0); }

// What the search of example e's query scores a point with sim(x, e) = s
// (l2 scores the squared distance; a negative's query is -n, which ip and
// cosine score -sim(x, n)), inverted: the sim of a search score.
double SimOfScore(Metric metric, bool negated, float score) {
  if (metric == Metric::kL2) return -double{score};
  return negated ? -double{score} : double{score};
}

}  // namespace

double ExampleSimilarity(Metric metric, absl::Span<const float> x,
                         absl::Span<const float> e) {
  // Only the sums the metric reads.
  double acc = 0.0, xx = 0.0;
  switch (metric) {
    case Metric::kL2:
      for (size_t j = 0; j < x.size(); ++j) {
        const double diff = double{x[j]} - e[j];
        acc += diff * diff;
      }
      return -acc;
    case Metric::kCosine:
      for (size_t j = 0; j < x.size(); ++j) {
        acc += double{x[j]} * e[j];
        xx += double{x[j]} * x[j];
      }
      return xx > 0.0 ? acc / std::sqrt(xx) : 0.0;
    case Metric::kInnerProduct:
      break;
  }
  for (size_t j = 0; j < x.size(); ++j) acc += double{x[j]} * e[j];
  return acc;
}

float BestScore(Metric metric, const ExampleVectors& ev,
                absl::Span<const float> x) {
  constexpr double kNone = -std::numeric_limits<double>::infinity();
  double pos = kNone, neg = kNone;
  for (const std::vector<float>& p : ev.positive) {
    pos = std::max(pos, ExampleSimilarity(metric, x, p));
  }
  for (const std::vector<float>& n : ev.negative) {
    neg = std::max(neg, ExampleSimilarity(metric, x, n));
  }
  if (!ev.positive.empty() && (ev.negative.empty() || pos > neg)) {
    return static_cast<float>(Squash(pos));
  }
  return static_cast<float>(-Squash(neg));
}

absl::StatusOr<EquivalentSearch> SumScoresSearch(const CollectionConfig& config,
                                                 const ExampleVectors& ev) {
  const uint32_t d = config.dim;
  std::vector<double> s(d, 0.0);
  double sq_pos = 0.0, sq_neg = 0.0;
  for (const std::vector<float>& p : ev.positive) {
    for (uint32_t j = 0; j < d; ++j) {
      s[j] += p[j];
      sq_pos += double{p[j]} * p[j];
    }
  }
  for (const std::vector<float>& n : ev.negative) {
    for (uint32_t j = 0; j < d; ++j) {
      s[j] -= n[j];
      sq_neg += double{n[j]} * n[j];
    }
  }
  double ss = 0.0;
  for (double x : s) ss += x * x;
  EquivalentSearch out;
  out.query.resize(d);
  switch (config.metric) {
    case Metric::kInnerProduct:
      for (uint32_t j = 0; j < d; ++j) out.query[j] = static_cast<float>(s[j]);
      break;
    case Metric::kCosine:
      if (ss == 0.0) {
        return absl::InvalidArgumentError(
            "the examples' sum is the zero vector (the positive and negative "
            "examples cancel out): every point scores 0, there is no "
            "direction to search");
      }
      for (uint32_t j = 0; j < d; ++j) out.query[j] = static_cast<float>(s[j]);
      out.scale = std::sqrt(ss);
      break;
    case Metric::kL2: {
      // CheckExamples: more positives than negatives.
      const double excess =
          static_cast<double>(ev.positive.size() - ev.negative.size());
      for (uint32_t j = 0; j < d; ++j) {
        out.query[j] = static_cast<float>(s[j] / excess);
      }
      out.scale = -excess;
      out.shift = ss / excess - sq_pos + sq_neg;
      break;
    }
  }
  return out;
}

size_t BestScoreMaxDepth(size_t k) { return std::max<size_t>(16 * k, 1024); }

absl::StatusOr<std::vector<Neighbor>> BestScoreSearch(
    const CollectionConfig& config, const ExampleVectors& ev, size_t k,
    const ExampleSearch& search) {
  const Metric metric = config.metric;
  const bool negated = ev.positive.empty();
  std::vector<std::vector<float>> queries = negated ? ev.negative : ev.positive;
  if (negated) {
    for (std::vector<float>& q : queries) {
      for (float& x : q) x = -x;
    }
  }
  std::sort(queries.begin(), queries.end());
  queries.erase(std::unique(queries.begin(), queries.end()), queries.end());
  k = std::max<size_t>(k, 1);
  const size_t max_depth = std::max(BestScoreMaxDepth(k), k);
  std::unordered_map<uint64_t, float> scores;
  std::vector<Neighbor> best;
  for (size_t depth = k;; depth = std::min(2 * depth, max_depth)) {
    // Positives: the largest sim to a positive a point no search returned
    // can have. Negatives alone: the least its largest sim to a negative
    // can be (each negative's search left it out: sim(x, n) >= minus that
    // search's k-th score).
    double edge = -std::numeric_limits<double>::infinity();
    bool complete = false;
    for (const std::vector<float>& q : queries) {
      TQ_ASSIGN_OR_RETURN(std::vector<ExampleHit> hits, search(q, depth));
      for (const ExampleHit& h : hits) {
        if (h.vector.empty()) continue;  // deleted since its search
        if (h.vector.size() != config.dim) {
          return absl::FailedPreconditionError(absl::StrCat(
              "point ", h.id, " has no stored vector in collection '",
              config.name, "'"));
        }
        if (scores.count(h.id) == 0) {
          scores.emplace(h.id, BestScore(metric, ev, h.vector));
        }
      }
      if (hits.size() < depth) {
        complete = true;
      } else {
        edge = std::max(edge, SimOfScore(metric, negated, hits.back().score));
      }
    }
    best.clear();
    best.reserve(scores.size());
    for (const auto& [id, score] : scores) best.push_back({id, score});
    auto better = [](const Neighbor& a, const Neighbor& b) {
      return a.score > b.score || (a.score == b.score && a.id < b.id);
    };
    const size_t top = std::min(k, best.size());
    std::partial_sort(best.begin(), best.begin() + top, best.end(), better);
    best.resize(top);
    if (complete || depth >= max_depth) break;
    // So a left-out point scores at most Squash(edge), or negatives alone
    // -Squash(edge). (The slack: the k-th hit's score, in float, against
    // its own best_score, computed in double: equal but for rounding.)
    const double bound = negated ? -Squash(edge) : Squash(edge);
    const double slack = 1e-6 * (1.0 + std::fabs(bound));
    if (top == k && double{best.back().score} >= bound - slack) break;
  }
  return best;
}

}  // namespace tqdb
