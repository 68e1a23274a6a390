// The gRPC API's rules for requests, beside the conversions
// (rpc/convert.h), as Qdrant's lib/api validate.rs: empty names, vectors
// and batches, the vector against the collection (dimension, finite
// coordinates), and the ranges the API puts on its fields (limit up to
// ServerOptions::max_limit, oversampling up to 1000, a finite
// score_threshold). Checked before the database is called.
//
// Errors: InvalidArgument naming the field, ResourceExhausted over a limit.
#ifndef TQDB_RPC_VALIDATE_H_
#define TQDB_RPC_VALIDATE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "db/db.h"
#include "rpc/server.h"
#include "tqdb/v1/tqdb.pb.h"

namespace tqdb {

// Largest number of ids in one Points.Get.
constexpr size_t kMaxGetIds = 100000;

absl::Status ValidateCollectionName(const std::string& name);
absl::Status ValidateUpsert(const v1::UpsertRequest& req);
absl::Status ValidateGet(const v1::GetPointsRequest& req);
absl::Status ValidateSearch(const v1::SearchRequest& req,
                            const CollectionConfig& collection,
                            const ServerOptions& options);
// The batch and each of its searches ("search i: ..."); a search's own
// collection, when given, must be the batch's.
absl::Status ValidateSearchBatch(const v1::SearchBatchRequest& req,
                                 const CollectionConfig& collection,
                                 const ServerOptions& options);

}  // namespace tqdb

#endif  // TQDB_RPC_VALIDATE_H_
