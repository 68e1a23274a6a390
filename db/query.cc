#include "db/query.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "quant/finite.h"

namespace tqdb {
namespace dbimpl {

absl::Status CheckQueryDim(size_t coordinates, const CollectionConfig& c) {
  if (coordinates == 0) return absl::InvalidArgumentError("vector is empty");
  if (coordinates != c.dim) {
    return absl::InvalidArgumentError(absl::StrCat("vector has ", coordinates,
                                                   " dimensions, collection '",
                                                   c.name, "' has ", c.dim));
  }
  return absl::OkStatus();
}

absl::Status CheckBatchDim(size_t floats, uint32_t dim) {
  if (floats % dim != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queries hold ", floats, " floats, not a multiple of dim ", dim));
  }
  return absl::OkStatus();
}

absl::Status CheckQuery(const float* q, uint32_t dim, const QueryOptions& o) {
  if (o.k == 0) return absl::InvalidArgumentError("k must be >= 1");
  if (o.rescore && !(o.oversampling >= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("oversampling must be >= 1, got ", o.oversampling));
  }
  if (const std::ptrdiff_t j = FirstNonFinite(q, dim); j >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("vector coordinate ", j, " is ",
                     std::isnan(q[j]) ? "NaN" : "infinite"));
  }
  return absl::OkStatus();
}

absl::Status CheckQueryDirection(const float* q, const CollectionConfig& c) {
  if (c.metric != Metric::kCosine) return absl::OkStatus();
  for (uint32_t j = 0; j < c.dim; ++j) {
    if (q[j] != 0.0f) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "vector is zero: a zero vector has no direction (metric cosine)");
}

absl::Status CheckTrainedQuery(const QueryOptions& o,
                               const CollectionConfig& c) {
  if ((o.exact || o.rescore) && !c.store_vectors) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", c.name,
                     "' does not store vectors "
                     "(store_vectors = false): no exact search or rescoring"));
  }
  return absl::OkStatus();
}

}  // namespace dbimpl
}  // namespace tqdb
