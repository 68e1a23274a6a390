// Score boosting at the API (SearchRequest.formula, db/formula.h): the
// formula's proto <-> db conversion, and the search that rescores a
// request's best points by it. The single server and a cluster's node run
// the same SearchByFormula over their own plain search (a cluster's shards
// answer the plain search with payloads; the node rescores the merged
// answer, so a cluster ranks as one database would).
#ifndef TQDB_RPC_FORMULA_SEARCH_H_
#define TQDB_RPC_FORMULA_SEARCH_H_

#include <functional>

#include "absl/status/statusor.h"
#include "db/formula.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {

// InvalidArgument naming the place ("formula.sum[1]: expression is empty")
// for what only the proto can get wrong: an expression or condition with
// nothing set, a default that is not JSON. db/formula.h's Compile checks
// the rest.
absl::StatusOr<Formula> FromProto(const v1::Formula& in);
void ToProto(const Formula& in, v1::Formula* out);

// The answer to `q` (q.has_formula()): `search` answers the same request
// without its formula at depth PrefetchOf(q) (offset 0, no threshold, with
// whole payloads); its points are rescored by the formula, sorted (higher
// first, ties by id), and the page [offset, offset + limit) at or above
// score_threshold kept, their payloads as q asks. The plan and the rest of
// the response are the plain search's.
absl::StatusOr<v1::SearchResponse> SearchByFormula(
    const v1::SearchRequest& q,
    const std::function<
        absl::StatusOr<v1::SearchResponse>(const v1::SearchRequest&)>& search);

}  // namespace tqdb

#endif  // TQDB_RPC_FORMULA_SEARCH_H_
