// Search groups (SearchRequest.group_by; Qdrant's search_groups, Milvus's
// group_by_field), the same on a single server and a cluster node: both
// hand SearchGroups their own search of one request.
//
// The groups come from one ordinary search of k hits with their payloads,
// read in score order: the first `limit` distinct values met are the best
// groups (a group ranks by its best hit), and each keeps its first
// `group_size` hits. That answer is final when every one of those groups
// is full, or when the search returned fewer than k hits (every match was
// seen; a score_threshold cut ends the hits the same way). Otherwise the
// search runs again four times as deep, up to max_hits hits; at that depth
// the groups are those of the best max_hits hits, and a group may hold
// fewer than group_size.
#ifndef TQDB_RPC_SEARCH_GROUPS_H_
#define TQDB_RPC_SEARCH_GROUPS_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {

// The search SearchGroups runs: the request as it gives it (limit = the
// depth, offset 0, with_payload, no group_by), the response as Search
// answers it.
using SearchFunction =
    std::function<absl::StatusOr<v1::SearchResponse>(const v1::SearchRequest&)>;

// *out: the groups of `request` (validated, group_by set), its plan and
// nprobe_used those of the deepest search. Errors are the search's.
absl::Status SearchGroups(const v1::SearchRequest& request, uint32_t max_hits,
                          const SearchFunction& search,
                          v1::SearchResponse* out);

}  // namespace tqdb

#endif  // TQDB_RPC_SEARCH_GROUPS_H_
