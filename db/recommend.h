// The best_score and sum_scores strategies of a search by example (Qdrant's
// recommend strategies; SearchExamples::strategy). With sim(x, e) the
// collection's score of a stored vector x against example e for ip and
// cosine (examples of unit norm under cosine, ExampleVectorsOf), minus the
// squared distance for l2:
//   best_score(x) = f(max_p sim(x, p))    if it beats max_n sim(x, n),
//                 = -f(max_n sim(x, n))   otherwise,
//   f(s) = (s / (1 + |s|) + 1) / 2        (in (0, 1), increasing);
//   sum_scores(x) = sum_p sim(x, p) - sum_n sim(x, n).
// Higher is better for both, on every metric. A point nearer some positive
// than any negative ranks above every point that is not.
//
// sum_scores is one ordinary search: the sum is linear in x for ip and
// cosine (the query sum p - sum n; cosine scores it over its norm), and for
// l2 it is -(P - N) ||x - m||^2 + c with m = (sum p - sum n) / (P - N) (P
// positive and N negative examples, P > N: CheckExamples).
//
// best_score has no single query. Its candidates are the hits of a search
// per positive example k deep, scored on their stored vectors; a point no
// search returned has sim(x, p) at most the k-th hit's score of every
// positive's search, so its best_score is at most f of the largest of
// those. When the k-th best candidate reaches that, the k best are final;
// otherwise the searches go twice as deep, up to BestScoreMaxDepth(k) hits
// (a search that returns fewer hits than asked holds every point it may).
// With negatives alone (ip and cosine) the searches are for -n: a point no
// search returned has sim(x, n) at least minus the k-th hit's score of
// every negative's search. The bound is exact when the searches are (exact
// or every list probed with rescoring); otherwise as good as their recall.
#ifndef TQDB_DB_RECOMMEND_H_
#define TQDB_DB_RECOMMEND_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "db/db.h"
#include "db/search_examples.h"

namespace tqdb {

// sim(x, e) of a stored vector x (normalized here under cosine).
double ExampleSimilarity(Metric metric, absl::Span<const float> x,
                         absl::Span<const float> e);

// best_score(x) over the examples.
float BestScore(Metric metric, const ExampleVectors& ev,
                absl::Span<const float> x);

// sum_scores as a search: its query, and the map from that search's scores
// to the sums (score = scale * search score + shift; scale < 0 for l2, so
// the search's best-first order is the sums').
struct EquivalentSearch {
  std::vector<float> query;
  double scale = 1.0, shift = 0.0;
  float Score(float search_score) const {
    return static_cast<float>(scale * search_score + shift);
  }
};
// InvalidArgument (cosine) when the examples cancel out.
absl::StatusOr<EquivalentSearch> SumScoresSearch(const CollectionConfig& config,
                                                 const ExampleVectors& ev);

// A candidate search's hit: the search's own score, and the point's stored
// vector (as Get returns it; empty: deleted since the search, no
// candidate).
struct ExampleHit {
  uint64_t id = 0;
  float score = 0.0f;
  std::vector<float> vector;
};
// The best `depth` hits of an ordinary search for `query` (the caller's
// filter, without the examples), best first.
using ExampleSearch = std::function<absl::StatusOr<std::vector<ExampleHit>>(
    absl::Span<const float> query, size_t depth)>;

// The deepest a best_score search goes.
size_t BestScoreMaxDepth(size_t k);

// The k best points by best_score, best first (ties: the lower id), with
// their best_score as score.
absl::StatusOr<std::vector<Neighbor>> BestScoreSearch(
    const CollectionConfig& config, const ExampleVectors& ev, size_t k,
    const ExampleSearch& search);

}  // namespace tqdb

#endif  // TQDB_DB_RECOMMEND_H_
