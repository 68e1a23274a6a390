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

#include "absl/status/status.h"
#include "db/db.h"

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

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_QUERY_H_
