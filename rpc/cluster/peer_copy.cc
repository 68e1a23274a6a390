// Copies of a shard between the replicas of a cluster node (shard_replica.h,
// "catch-up without the log"): LocalCopy serves this node's replica's points
// under one snapshot (Shards.Copy); PeerCopy asks the shard's other
// replicas for theirs and keeps the most advanced; ReadyCopy takes one
// ready replica's (a snapshot of the cluster, cluster_snapshot.cc).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

// A peer's first chunk (the copy's sequence, its payload indexes) waits
// this long at most; a copy's later chunks wait kCopyTime in all.
constexpr absl::Duration kHeaderWait = absl::Seconds(10);
constexpr absl::Duration kCopyTime = absl::Hours(6);
constexpr uint32_t kPagePoints = 1000;

// One peer's Copy stream, its first chunk read.
struct PeerStream {
  uint32_t node = 0;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<cpb::ShardCopyChunk>> reader;
  cpb::ShardCopyChunk header;
  absl::Status status;  // of opening it and reading the header
};

class RemoteShardCopy final : public ShardCopy {
 public:
  explicit RemoteShardCopy(PeerStream stream) : s_(std::move(stream)) {
    for (const ::tqdb::v1::PayloadIndexInfo& f : s_.header.field_indexes()) {
      indexes_.push_back(FromProto(f));
    }
  }
  ~RemoteShardCopy() override {
    if (!ended_) {
      s_.context->TryCancel();
      s_.reader->Finish().ok();
    }
  }

  uint64_t applied_sequence() const override {
    return s_.header.applied_sequence();
  }
  const std::vector<FieldIndexInfo>& field_indexes() const override {
    return indexes_;
  }
  absl::StatusOr<std::vector<Point>> Next() override {
    if (ended_) return std::vector<Point>();
    cpb::ShardCopyChunk chunk;
    while (s_.reader->Read(&chunk)) {
      if (chunk.points_size() > 0) return FromProto(chunk.points());
    }
    ended_ = true;
    const grpc::Status st = s_.reader->Finish();
    if (!st.ok()) {
      return WithContext(FromGrpc(st), "the copy from node ", s_.node);
    }
    return std::vector<Point>();
  }
  void Cancel() override { s_.context->TryCancel(); }

 private:
  PeerStream s_;
  std::vector<FieldIndexInfo> indexes_;
  bool ended_ = false;
};

// Opens `node`'s Copy stream of one shard (its header not read yet).
void StartStream(ClusterReader* reader, const std::string& collection,
                 int64_t uid, uint32_t shard, uint64_t min_sequence,
                 uint32_t page, uint32_t node, const std::string& address,
                 PeerStream* p) {
  p->node = node;
  p->context = std::make_unique<grpc::ClientContext>();
  p->context->set_deadline(absl::ToChronoTime(absl::Now() + kCopyTime));
  reader->AddAuth(p->context.get());
  cpb::ShardCopyRequest req;
  req.mutable_target()->set_collection(collection);
  req.mutable_target()->set_uid(uid);
  cpb::ShardRef* ref = req.mutable_target()->add_shards();
  ref->set_shard(shard);
  ref->set_min_sequence(min_sequence);
  req.set_page_points(page);
  p->reader = reader->Stub(address)->Copy(p->context.get(), req);
}

// Reads the stream's first chunk; on failure sets p->status and ends it.
void ReadHeader(PeerStream* p) {
  if (!p->reader->Read(&p->header)) {
    p->status = FromGrpc(p->reader->Finish());
    if (p->status.ok()) p->status = absl::DataLossError("an empty copy");
    p->reader.reset();
  }
}

uint32_t PageFor(const ReplicaSpec& spec) {
  return static_cast<uint32_t>(
      std::min<size_t>(kPagePoints, std::max<size_t>(1, spec.max_batch)));
}

}  // namespace

absl::Status ClusterNode::LocalCopy(
    const cpb::ShardCopyRequest& req, absl::Time deadline,
    const std::function<bool(const cpb::ShardCopyChunk&)>& write) const {
  const cpb::ShardsRequest& target = req.target();
  if (target.shards_size() != 1) {
    return absl::InvalidArgumentError("a copy is of one shard");
  }
  const uint32_t shard = target.shards(0).shard();
  std::shared_ptr<ShardReplica> r = AwaitReplica(
      target.collection(), target.uid(), shard, absl::Now() + absl::Seconds(5));
  if (r == nullptr || r->spec().uid != target.uid()) {
    return absl::NotFoundError(
        absl::StrCat("node ", options_.node_id, " holds no replica of shard ",
                     shard, " of collection '", target.collection(), "'"));
  }
  if (r->rebuilding()) {
    return absl::UnavailableError(absl::StrCat(
        "node ", options_.node_id, ": the replica of shard ", shard,
        " of collection '", target.collection(), "' is itself taking a copy"));
  }
  const uint64_t min_sequence = target.shards(0).min_sequence();
  if (min_sequence > r->applied() &&
      !r->AwaitApplied(min_sequence, deadline - absl::Now())) {
    return absl::DeadlineExceededError(
        absl::StrCat("node ", options_.node_id, ": shard ", shard,
                     " of collection '", target.collection(), "' has applied ",
                     r->applied(), ", not yet ", min_sequence));
  }
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<PointCursor> cursor,
                      r->local()->OpenCursor());
  TQ_ASSIGN_OR_RETURN(CollectionInfo info, r->local()->Info());
  cpb::ShardCopyChunk header;
  header.set_applied_sequence(cursor->applied_sequence());
  for (const FieldIndexInfo& f : info.field_indexes) {
    ToProto(f, header.add_field_indexes());
  }
  const auto gone = [] {
    return absl::CancelledError("the node taking the copy went away");
  };
  if (!write(header)) return gone();
  const size_t page = req.page_points() == 0 ? kPagePoints : req.page_points();
  for (;;) {
    TQ_ASSIGN_OR_RETURN(std::vector<Record> recs, cursor->Next(page));
    if (recs.empty()) return absl::OkStatus();
    cpb::ShardCopyChunk chunk;
    for (Record& rec : recs) {
      ToProto(Point{rec.id, std::move(rec.vector), std::move(rec.payload),
                    std::move(rec.sparse)},
              chunk.add_points());
    }
    if (!write(chunk)) return gone();
  }
}

absl::StatusOr<std::unique_ptr<ShardCopy>> ClusterNode::PeerCopy(
    const ReplicaSpec& spec, uint64_t applied) {
  std::vector<std::pair<uint32_t, std::string>> peers;  // node, address
  std::vector<std::string> errors;
  {
    const std::shared_ptr<const ClusterState> state = view_->state();
    const cpb::ShardAssignment* a =
        state->FindShard(spec.collection, spec.uid, spec.shard);
    if (a == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("shard ", spec.shard, " of collection '",
                       spec.collection, "' is not in the cluster's map"));
    }
    for (uint32_t node : a->replicas()) {
      if (node == options_.node_id) continue;
      auto it = state->nodes.find(node);
      if (it == state->nodes.end()) {
        errors.push_back(absl::StrCat("node ", node, ": not registered"));
      } else {
        peers.emplace_back(node, it->second.address());
      }
    }
  }
  // Every peer's first chunk at once, each on its own thread (a hung peer
  // costs kHeaderWait, then is cancelled).
  std::vector<PeerStream> streams(peers.size());
  std::vector<std::future<void>> done;
  for (size_t i = 0; i < peers.size(); ++i) {
    PeerStream& p = streams[i];
    StartStream(reader_.get(), spec.collection, spec.uid, spec.shard, 0,
                PageFor(spec), peers[i].first, peers[i].second, &p);
    done.push_back(std::async(std::launch::async, [&p] { ReadHeader(&p); }));
  }
  const absl::Time until = absl::Now() + kHeaderWait;
  for (size_t i = 0; i < done.size(); ++i) {
    if (done[i].wait_until(absl::ToChronoTime(until)) !=
        std::future_status::ready) {
      streams[i].context->TryCancel();
    }
    done[i].wait();
  }
  // The most advanced copy holding more than this replica; the others
  // cancelled.
  PeerStream* best = nullptr;
  for (PeerStream& p : streams) {
    if (!p.status.ok()) {
      errors.push_back(
          absl::StrCat("node ", p.node, ": ", p.status.ToString()));
      continue;
    }
    if (best == nullptr ||
        p.header.applied_sequence() > best->header.applied_sequence()) {
      best = &p;
    }
  }
  std::unique_ptr<ShardCopy> out;
  if (best != nullptr && best->header.applied_sequence() > applied) {
    out = std::make_unique<RemoteShardCopy>(std::move(*best));
  }
  for (PeerStream& p : streams) {
    if (p.reader == nullptr) continue;  // failed, or taken
    p.context->TryCancel();
    p.reader->Finish().ok();
  }
  if (out != nullptr) return out;
  if (!errors.empty()) {
    return absl::UnavailableError(
        absl::StrCat("not every other replica answered (",
                     absl::StrJoin(errors, "; "), ")"));
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<ShardCopy>> ClusterNode::ReadyCopy(
    const std::string& collection, int64_t uid, uint32_t shard,
    uint64_t min_sequence) {
  std::vector<std::pair<uint32_t, std::string>> ready;  // node, address
  std::vector<std::string> errors;
  {
    const std::shared_ptr<const ClusterState> state = view_->state();
    const cpb::ShardAssignment* a = state->FindShard(collection, uid, shard);
    if (a == nullptr) {
      return absl::NotFoundError(absl::StrCat("shard ", shard,
                                              " of collection '", collection,
                                              "' is not in the cluster's map"));
    }
    for (uint32_t node : a->ready()) {
      auto it = state->nodes.find(node);
      if (it == state->nodes.end()) {
        errors.push_back(absl::StrCat("node ", node, ": not registered"));
      } else if (node == options_.node_id) {
        ready.emplace(ready.begin(), node, it->second.address());
      } else {
        ready.emplace_back(node, it->second.address());
      }
    }
  }
  // One replica at a time: the first whose copy starts.
  for (const auto& [node, address] : ready) {
    PeerStream p;
    StartStream(reader_.get(), collection, uid, shard, min_sequence,
                kPagePoints, node, address, &p);
    std::future<void> header =
        std::async(std::launch::async, [&p] { ReadHeader(&p); });
    if (header.wait_until(absl::ToChronoTime(absl::Now() + kHeaderWait)) !=
        std::future_status::ready) {
      p.context->TryCancel();
    }
    header.wait();
    if (p.status.ok()) return std::make_unique<RemoteShardCopy>(std::move(p));
    errors.push_back(absl::StrCat("node ", node, ": ", p.status.ToString()));
  }
  return absl::UnavailableError(
      absl::StrCat("no ready replica of shard ", shard, " of collection '",
                   collection, "' gave a copy (",
                   errors.empty() ? std::string("none is ready")
                                  : absl::StrJoin(errors, "; "),
                   ")"));
}

}  // namespace cluster
}  // namespace tqdb
