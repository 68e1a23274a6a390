// The gRPC API's own rules for requests, beside the conversions
// (rpc/convert.h), as Qdrant's lib/api validate.rs: empty names and
// batches, and the ranges the API puts on its fields (limit in
// [1, ServerOptions::max_limit], oversampling 0 or in [1, 1000], a finite
// score_threshold). The rules the database owns (dimension, empty vector,
// finite coordinates, a direction under cosine, stored vectors for exact
// search, points) are checked by it, once (db/query.h): not here again. (The
// database also refuses k = 0 for its in-process callers; limit's range is
// checked here so that the message names the API's field.)
//
// Errors: InvalidArgument naming the field, ResourceExhausted over a limit.
#ifndef TQDB_RPC_VALIDATE_H_
#define TQDB_RPC_VALIDATE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "rpc/server.h"
#include "tqdb/v1/collections.pb.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {

// Largest number of ids in one Points.Get.
constexpr size_t kMaxGetIds = 100000;

absl::Status ValidateCollectionName(const std::string& name);
// refine one of the Refine enum's values (an unknown number is refused,
// not read as raw). The settings' own rules (dim, bits, refine needing
// store_vectors, ...) are the database's (Database::CreateCollection).
absl::Status ValidateCreateCollection(const v1::CreateCollectionRequest& req);
absl::Status ValidateUpsert(const v1::UpsertRequest& req);
absl::Status ValidateUpdateVectors(const v1::UpdateVectorsRequest& req);
absl::Status ValidateGet(const v1::GetPointsRequest& req);
absl::Status ValidateSearch(const v1::SearchRequest& req,
                            const ServerOptions& options);
// The batch and each of its searches ("search i: ..."); a search's own
// collection, when given, must be the batch's.
absl::Status ValidateSearchBatch(const v1::SearchBatchRequest& req,
                                 const ServerOptions& options);
// Ids or a filter, not both.
absl::Status ValidateDelete(const v1::DeletePointsRequest& req);
// limit at most ServerOptions::max_limit; an order_by key, and offset with
// order_by only beside its start_from.
absl::Status ValidateScroll(const v1::ScrollRequest& req,
                            const ServerOptions& options);
// A key, and limit at most ServerOptions::max_limit.
absl::Status ValidateFacet(const v1::FacetRequest& req,
                           const ServerOptions& options);
// A payload, and exactly one of ids and filter.
absl::Status ValidateSetPayload(const v1::SetPayloadRequest& req);
// Keys, and exactly one of ids and filter.
absl::Status ValidateDeletePayloadKeys(const v1::DeletePayloadKeysRequest& req);
// A field (its path is the database's to check).
absl::Status ValidateFieldIndex(const std::string& field);

}  // namespace tqdb

#endif  // TQDB_RPC_VALIDATE_H_
