// ClusterReader::ResolveExamples (rpc/cluster/cluster_reader.h): a search
// by example on a cluster, whose examples' vectors are spread over shards.
#include <unordered_map>
#include <utility>
#include <vector>

#include "db/recommend.h"
#include "db/search_examples.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {

namespace pb = ::tqdb::v1;

absl::StatusOr<ClusterReader::ResolvedSearch> ClusterReader::ResolveExamples(
    const std::string& collection, const CollectionConfig& config,
    const pb::SearchRequest& search, const ReadConsistency& consistency,
    absl::Time deadline) {
  const SearchExamples examples = FromProto(search).examples;
  TQ_RETURN_IF_ERROR(CheckExamples(examples, search.vector_size(), config));
  const std::vector<uint64_t> ids = ExampleIds(examples);
  std::vector<Record> records;
  if (!ids.empty()) {
    TQ_ASSIGN_OR_RETURN(pb::GetPointsResponse got,
                        Get(collection, ids, /*with_vectors=*/true,
                            /*with_payload=*/false, consistency, deadline));
    records.resize(got.points_size());
    for (int i = 0; i < got.points_size(); ++i) {
      const pb::ScoredPoint& p = got.points(i);
      records[i].id = p.id();
      records[i].vector.assign(p.vector().begin(), p.vector().end());
      records[i].has_vector = !records[i].vector.empty();
    }
  }
  ResolvedSearch out;
  pb::SearchRequest& plain = out.request;
  plain = search;
  plain.clear_positive_ids();
  plain.clear_negative_ids();
  plain.clear_positive_vectors();
  plain.clear_negative_vectors();
  plain.clear_strategy();
  if (!ids.empty()) {
    pb::HasIdCondition* left_out =
        plain.mutable_filter()->add_must_not()->mutable_has_id();
    left_out->mutable_has_id()->Assign(ids.begin(), ids.end());
  }
  if (examples.strategy == RecommendStrategy::kAverageVector) {
    TQ_ASSIGN_OR_RETURN(std::vector<float> query,
                        ExampleQuery(config, examples, records));
    plain.mutable_vector()->Assign(query.begin(), query.end());
    return out;
  }
  TQ_ASSIGN_OR_RETURN(const ExampleVectors ev,
                      ExampleVectorsOf(config, examples, records));
  if (examples.strategy == RecommendStrategy::kSumScores) {
    TQ_ASSIGN_OR_RETURN(const EquivalentSearch es, SumScoresSearch(config, ev));
    plain.mutable_vector()->Assign(es.query.begin(), es.query.end());
    out.scale = es.scale;
    out.shift = es.shift;
    return out;
  }
  // best_score: each candidate search an ordinary cluster search, its hits
  // with their stored vectors (and the payloads asked for, kept for the
  // answer).
  std::unordered_map<uint64_t, pb::ScoredPoint> seen;
  pb::SearchResponse last;
  const ExampleSearch candidates =
      [&](absl::Span<const float> q,
          size_t depth) -> absl::StatusOr<std::vector<ExampleHit>> {
    pb::SearchRequest sub = plain;
    sub.mutable_vector()->Assign(q.begin(), q.end());
    sub.set_limit(static_cast<uint32_t>(depth));
    sub.set_offset(0);
    sub.set_with_vectors(true);
    sub.clear_score_threshold();
    TQ_ASSIGN_OR_RETURN(std::vector<pb::SearchResponse> r,
                        Search(collection, {&sub}, consistency, deadline));
    std::vector<ExampleHit> hits;
    hits.reserve(r[0].points_size());
    for (const pb::ScoredPoint& p : r[0].points()) {
      hits.push_back(
          {p.id(), p.score(),
           std::vector<float>(p.vector().begin(), p.vector().end())});
      seen.try_emplace(p.id(), p);
    }
    last = std::move(r[0]);
    return hits;
  };
  TQ_ASSIGN_OR_RETURN(
      const std::vector<Neighbor> best,
      BestScoreSearch(config, ev, size_t{search.offset()} + search.limit(),
                      candidates));
  pb::SearchResponse& answer = out.answer.emplace();
  *answer.mutable_plan() = last.plan();
  answer.set_nprobe_used(last.nprobe_used());
  *answer.mutable_unindexed_fields() = last.unindexed_fields();
  for (size_t i = search.offset(); i < best.size(); ++i) {
    if (search.has_score_threshold() &&
        best[i].score < search.score_threshold()) {
      break;
    }
    pb::ScoredPoint* p = answer.add_points();
    *p = seen.at(best[i].id);
    p->set_score(best[i].score);
    if (!search.with_vectors()) p->clear_vector();
  }
  return out;
}

}  // namespace cluster
}  // namespace tqdb
