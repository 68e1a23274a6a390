// ClusterReader::ResolveExamples (rpc/cluster/cluster_reader.h): a search
// by example on a cluster, whose examples' vectors are spread over shards.
#include <vector>

#include "db/search_examples.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {

namespace pb = ::tqdb::v1;

absl::StatusOr<pb::SearchRequest> ClusterReader::ResolveExamples(
    const std::string& collection, const CollectionConfig& config,
    const pb::SearchRequest& search, const ReadConsistency& consistency,
    absl::Time deadline) {
  const SearchExamples examples = FromProto(search).examples;
  TQ_RETURN_IF_ERROR(CheckExamples(examples, search.vector_size(), config));
  const std::vector<uint64_t> ids = ExampleIds(examples);
  TQ_ASSIGN_OR_RETURN(pb::GetPointsResponse got,
                      Get(collection, ids, /*with_vectors=*/true,
                          /*with_payload=*/false, consistency, deadline));
  std::vector<Record> records(got.points_size());
  for (int i = 0; i < got.points_size(); ++i) {
    const pb::ScoredPoint& p = got.points(i);
    records[i].id = p.id();
    records[i].vector.assign(p.vector().begin(), p.vector().end());
    records[i].has_vector = !records[i].vector.empty();
  }
  TQ_ASSIGN_OR_RETURN(std::vector<float> query,
                      ExampleQuery(config, examples, records));
  pb::SearchRequest out = search;
  out.clear_positive_ids();
  out.clear_negative_ids();
  out.mutable_vector()->Assign(query.begin(), query.end());
  pb::HasIdCondition* left_out =
      out.mutable_filter()->add_must_not()->mutable_has_id();
  left_out->mutable_has_id()->Assign(ids.begin(), ids.end());
  return out;
}

}  // namespace cluster
}  // namespace tqdb
