// Query validation, once: the rules a query must meet to search a
// collection, checked where the query enters the database
// (Collection::Search, SearchBatch), in this order. Nothing below checks
// them again (the index is entered through IvfIndex::SearchValidated), and
// the gRPC API checks only its own fields (rpc/validate.h): the vector of a
// query is scanned once.
//
// Errors: InvalidArgument naming the value; FailedPrecondition for a search
// the collection's settings rule out.
#ifndef TQDB_DB_QUERY_H_
#define TQDB_DB_QUERY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "db/db.h"
#include "db/filter.h"

namespace tqdb {
namespace dbimpl {

// Search: the query has the collection's dimension (and is not empty).
absl::Status CheckQueryDim(size_t coordinates, const CollectionConfig& c);
// SearchBatch: the queries are a whole number of vectors.
absl::Status CheckBatchDim(size_t floats, uint32_t dim);
// One query of `dim` floats and the options: k >= 1, oversampling >= 1 when
// rescoring, every coordinate finite.
absl::Status CheckQuery(const float* q, uint32_t dim, const QueryOptions& o);
// Cosine: the query is not the zero vector (it has no direction; upsert
// rejects it too). Stops at the first non-zero coordinate.
absl::Status CheckQueryDirection(const float* q, const CollectionConfig& c);
// A trained collection: exact search and rescoring need stored vectors.
// (nprobe is not checked: the index clamps it to its nlist.)
absl::Status CheckTrainedQuery(const QueryOptions& o,
                               const CollectionConfig& c);

// Filters (db/filter.h), wherever one enters the database (search, count,
// scroll, delete, payload updates). InvalidArgument naming the place in the
// filter as the JSON syntax spells it ("must[2].range.gt: expected a finite
// number") for: nesting deeper than kMaxFilterDepth, more than
// kMaxFilterValues values (match values, any / except lists, has_id ids,
// the points of geo polygons),
// a malformed key, a range without a bound or with a non-finite one,
// min_should above the number of should conditions, and a condition the
// field's index cannot answer (index_type(key, &type) says whether the key
// has an index and of which type): keyword match / any / except on a
// keyword index, integer ones and ranges on an integer index, ranges on a
// float index, bool match on a bool index.
constexpr int kMaxFilterDepth = 16;
constexpr size_t kMaxFilterValues = 1000;
absl::Status CheckFilter(
    const Filter& filter,
    const std::function<bool(const std::string&, FieldType*)>& index_type);

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_QUERY_H_
