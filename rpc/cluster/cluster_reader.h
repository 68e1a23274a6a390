// The cluster's read path: a node serving a client's read asks one replica
// per shard (this node's own when it holds a ready one, else a ready
// replica on a live node, spread round-robin), merges the answers exactly,
// and
// hedges: shards whose replica failed, or has not answered after
// ClusterOptions::hedge_delay (or half the remaining deadline, if sooner),
// are asked of another replica too; the first answer per shard wins, so a
// dead or hung (SIGSTOPped) node costs a read the hedge delay, not its
// deadline. A replica dropped while it answers (its shard moved away)
// fails NotFound (db.h), never with part of its points, and the shard is
// asked of another; so does a replica that the reader's map (stale) lists
// ready but that is catching up after being added again: it refuses
// eventual reads (Unavailable) until it has once caught up.
//
// Search: each shard returns its top `limit` for every query; the merged
// answer is the best `limit` of their union (scores compare exactly: every
// replica scores with the same code), ties broken by id, then
// score_threshold. With exact search this equals a single server's top-k
// over the same points. nprobe is clamped to each shard's nlist
// (nprobe_used: the most lists a shard probed; 0 when every shard searched
// exactly). A filter
// goes to every shard; the plan sums the shards' matches, lists probed and
// points scored (filter_ms: the slowest shard's; kind: the shards' kinds,
// distinct, sorted, joined by '+'), unindexed_fields is their union.
//
// Scroll: every shard's page from the same offset; the answer is the
// `limit` lowest ids of their union, next_page_offset the lowest id past
// them (a shard's next page or a point not taken). With order_by the same
// in the order of (value, id), the next page's cursor likewise.
//
// Consistency: with CONSISTENCY_READ_YOUR_WRITES each replica asked first
// waits (up to the deadline) until it has applied the request's read_after
// sequence for its shard; eventual reads take what is applied.
//
// Errors: NotFound for an unknown collection; Unavailable naming the shard
// and each replica's error when no replica of a shard answered;
// DeadlineExceeded when the call's deadline passed first.
//
// Thread-safety: every method may be called from any thread. The node
// must outlive the reader.
#ifndef TQDB_RPC_CLUSTER_CLUSTER_READER_H_
#define TQDB_RPC_CLUSTER_CLUSTER_READER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/db.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"
#include "tqdb/v1/collections.pb.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {
namespace cluster {

class ClusterNode;
struct CollectionEntry;

// How fresh a read must be (from the request's consistency and read_after).
struct ReadConsistency {
  bool read_your_writes = false;
  std::map<uint32_t, uint64_t> read_after;  // shard -> sequence
};
// InvalidArgument for read_your_writes without read_after.
absl::StatusOr<ReadConsistency> ConsistencyOf(
    ::tqdb::v1::Consistency consistency,
    const google::protobuf::RepeatedPtrField<::tqdb::v1::ShardSequence>&
        read_after);

class ClusterReader {
 public:
  explicit ClusterReader(ClusterNode* node);
  ~ClusterReader();

  // One response per search, in order. A search by example (positive_ids)
  // reads its examples' vectors through Get first (they are spread over
  // shards), then searches with their query (db/search_examples.h), or
  // under best_score with each example's (db/recommend.h). A search of
  // sparse vectors alone merges as a dense one with higher-better scores;
  // a hybrid one runs as SearchHybrid says.
  absl::StatusOr<std::vector<::tqdb::v1::SearchResponse>> Search(
      const std::string& collection,
      const std::vector<const ::tqdb::v1::SearchRequest*>& searches,
      const ReadConsistency& consistency, absl::Time deadline);
  // filter: null for every point.
  absl::StatusOr<::tqdb::v1::CountResponse> Count(
      const std::string& collection, const ::tqdb::v1::Filter* filter,
      const ReadConsistency& consistency, absl::Time deadline);
  // Whether the payload index of `field` is ready on every replica on a
  // live node, each having applied `consistency`'s read_after first
  // (reader_index.cc). NotFound when one has no such index.
  absl::StatusOr<bool> IndexReadyOnEveryReplica(
      const std::string& collection, const std::string& field,
      const ReadConsistency& consistency, absl::Time deadline);
  // Facet counts (the request validated): every value of each shard,
  // summed over the shards and cut to the limit (exact; reader_facet.cc).
  absl::StatusOr<::tqdb::v1::FacetResponse> Facet(
      const ::tqdb::v1::FacetRequest& request,
      const ReadConsistency& consistency, absl::Time deadline);
  // A page of points in id order (the request validated).
  absl::StatusOr<::tqdb::v1::ScrollResponse> Scroll(
      const ::tqdb::v1::ScrollRequest& request,
      const ReadConsistency& consistency, absl::Time deadline);
  // What the log entries `written` did (one per shard: a filter's delete,
  // a payload update, a field index change), in their order, from one
  // replica per shard once it applied the entry.
  absl::StatusOr<std::vector<tqdb::cluster::v1::ShardWriteResult>> WriteResults(
      const std::string& collection,
      const std::vector<::tqdb::v1::ShardSequence>& written,
      absl::Time deadline);
  // The stored points among ids, in the order asked.
  absl::StatusOr<::tqdb::v1::GetPointsResponse> Get(
      const std::string& collection, const std::vector<uint64_t>& ids,
      bool with_vectors, bool with_payload, const ReadConsistency& consistency,
      absl::Time deadline);
  // The collection's settings with counts, memory and disk summed over one
  // replica per shard (index fields from shard 0); a payload index is
  // ready when it is on every shard, its points and memory summed.
  absl::StatusOr<::tqdb::v1::CollectionInfo> Info(
      const std::string& collection, absl::Time deadline,
      const ReadConsistency& consistency = ReadConsistency());
  // Trains (or retrains) every replica of every shard; then Info.
  absl::StatusOr<::tqdb::v1::CollectionInfo> Train(
      const std::string& collection, bool retrain, absl::Time deadline);

  // Hedged requests sent so far (tests, status).
  uint64_t hedges() const { return hedges_.load(); }

  // For cluster_reader.cc's fan-out: the Shards stub for a node's address
  // (channels are cached), and the cluster's API key on a call.
  tqdb::cluster::v1::Shards::Stub* Stub(const std::string& address);
  void AddAuth(grpc::ClientContext* context) const;

 private:
  // A search by example made into an ordinary one (reader_examples.cc):
  // the request with the examples' query vector and a filter leaving them
  // out, the map from its scores to the strategy's (sum_scores), or under
  // best_score the answer itself (its candidate searches run here).
  struct ResolvedSearch {
    ::tqdb::v1::SearchRequest request;
    double scale = 1.0, shift = 0.0;
    std::optional<::tqdb::v1::SearchResponse> answer;
  };
  absl::StatusOr<ResolvedSearch> ResolveExamples(
      const std::string& collection, const CollectionConfig& config,
      const ::tqdb::v1::SearchRequest& search,
      const ReadConsistency& consistency, absl::Time deadline);
  // A search with sparse_idf (reader_hybrid.cc): the request with its
  // sparse query weighed by the IDF over every shard's points (the shards'
  // statistics summed) and sparse_idf cleared.
  // `query`: the request's sparse_vector, checked (in index order).
  absl::StatusOr<::tqdb::v1::SearchRequest> WeighByIdf(
      const std::string& collection, const ::tqdb::v1::SearchRequest& search,
      SparseVector query, const ReadConsistency& consistency,
      absl::Time deadline);
  // A hybrid search (a vector and a sparse_vector, reader_hybrid.cc): its
  // dense and sparse searches, each merged over the shards as Search
  // merges, then fused (rpc/hybrid_search.h FuseHybrid) as one server does.
  absl::StatusOr<::tqdb::v1::SearchResponse> SearchHybrid(
      const std::string& collection, const CollectionConfig& config,
      const ::tqdb::v1::SearchRequest& search,
      const ReadConsistency& consistency, absl::Time deadline);

  ClusterNode* const node_;
  std::atomic<uint64_t> round_robin_{0};
  std::atomic<uint64_t> hedges_{0};
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<tqdb::cluster::v1::Shards::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_CLUSTER_READER_H_
