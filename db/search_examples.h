// Search by example (QueryOptions::examples; Qdrant's recommend API): the
// query is made of the stored vectors of the positive and negative points,
// each normalized first under cosine (as the collection scores them), and
// the example points are left out of the results (a must_not has_id
// condition joined to the search's filter). Under the average_vector
// strategy the query is
//   mean(positive)                       without negatives,
//   2 mean(positive) - mean(negative)    with them;
// the best_score and sum_scores strategies are in db/recommend.h.
//
// Collection::Search resolves the examples from its own stored vectors. A
// cluster node, whose points are spread over shards, reads them through
// the cluster (a Get) and searches with the query these functions make.
//
// Examples may also be given as vectors (SearchExamples::positive_vectors,
// negative_vectors), beside or instead of ids: they leave no point out.
//
// Errors: InvalidArgument for a query vector given too, a strategy that
// needs a positive example without one (average_vector always; best_score
// and sum_scores on l2), sum_scores on l2 with no more positives than
// negatives, more than kMaxExamples examples, an example vector of another
// dimension or with a non-finite value, or (cosine) a query with no
// direction; NotFound naming an example id the collection does not hold;
// FailedPrecondition when the collection keeps no raw vectors
// (store_vectors false) and examples are ids or the strategy best_score.
#ifndef TQDB_DB_SEARCH_EXAMPLES_H_
#define TQDB_DB_SEARCH_EXAMPLES_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/db.h"
#include "db/filter.h"

namespace tqdb {

// The examples a search may give (ids and vectors, positive and negative
// together): its ids are the has_id list of its exclusion, which filters
// bound the same way (kMaxFilterValues).
constexpr size_t kMaxExamples = 1000;

// The checks before the examples' vectors are read: `query_size` is the
// query vector's length the caller gave (0 for a search by example).
absl::Status CheckExamples(const SearchExamples& examples, size_t query_size,
                           const CollectionConfig& config);

// Every id of `examples`, positive then negative, each once.
std::vector<uint64_t> ExampleIds(const SearchExamples& examples);

// The examples' vectors: the stored ones in the order of
// examples.positive and .negative (an id named twice, twice), then those
// given as vectors, each of unit norm under cosine (a zero vector stays
// zero); the stored ones from their records (as Get returns them with
// vectors, in any order; ids absent from `records` are not held).
struct ExampleVectors {
  std::vector<std::vector<float>> positive, negative;
};
absl::StatusOr<ExampleVectors> ExampleVectorsOf(
    const CollectionConfig& config, const SearchExamples& examples,
    const std::vector<Record>& records);

// The average_vector query of `examples` (ExampleVectorsOf's records).
absl::StatusOr<std::vector<float>> ExampleQuery(
    const CollectionConfig& config, const SearchExamples& examples,
    const std::vector<Record>& records);

// `filter` (may be null) and not one of the examples' ids (`filter` itself
// when every example is a vector).
std::shared_ptr<const Filter> ExcludingExamples(
    const std::shared_ptr<const Filter>& filter,
    const SearchExamples& examples);

}  // namespace tqdb

#endif  // TQDB_DB_SEARCH_EXAMPLES_H_
