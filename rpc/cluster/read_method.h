// The pieces every ClusterReader read is made of (cluster_reader.cc and
// its sibling reader_*.cc files): the collection's entry and a route per
// shard (PlanRead), the request naming a node's replicas (Target), and the
// fan-out Method that asks a node, remote or this one (ReadMethod).
//
// Internal to ClusterReader's implementation. Thread-safety: functions of
// their arguments; the node is used as ClusterNode allows.
#ifndef TQDB_RPC_CLUSTER_READ_METHOD_H_
#define TQDB_RPC_CLUSTER_READ_METHOD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/cluster/cluster_view.h"
#include "rpc/cluster/fan_out.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"

namespace tqdb {
namespace cluster {
namespace read_method {

namespace cpb = ::tqdb::cluster::v1;
using fan_out::Method;
using fan_out::Route;

// The collection's entry for a read: NotFound for an unknown or dropping
// collection, Unavailable while it is being created.
absl::StatusOr<const CollectionEntry*> Readable(const ClusterState& state,
                                                const std::string& name);

// The request to a node for its replicas `refs` of the collection.
cpb::ShardsRequest Target(const CollectionEntry& entry,
                          const std::vector<cpb::ShardRef>& refs);

// A response's per-shard answers in the order asked.
template <typename Item>
absl::StatusOr<std::vector<Item>> InOrder(
    const google::protobuf::RepeatedPtrField<Item>& items, size_t n) {
  if (static_cast<size_t>(items.size()) != n) {
    return absl::InternalError(
        absl::StrCat("answered ", items.size(), " shards of ", n, " asked"));
  }
  return std::vector<Item>(items.begin(), items.end());
}

// What a read starts from: the cluster state it reads in, the collection's
// entry in it, and a route per shard (Plan).
struct ReadPlan {
  std::shared_ptr<const ClusterState> state;
  const CollectionEntry* entry = nullptr;
  std::vector<Route> routes;
};

// A plan of a read of `collection` in the node's current state; `spread`
// advances only for a readable collection.
absl::StatusOr<ReadPlan> PlanRead(ClusterNode* node,
                                  const std::string& collection,
                                  const ReadConsistency& consistency,
                                  std::atomic<uint64_t>* spread);

// A Shards method on a remote node (its callback form) and the same read of
// this node's replicas.
template <typename Req, typename Resp>
using RemoteRead = void (cpb::Shards::Stub::async::*)(
    grpc::ClientContext*, const Req*, Resp*, std::function<void(grpc::Status)>);
template <typename Req, typename Resp>
using LocalRead = absl::Status (ClusterNode::*)(const Req&, absl::Time,
                                                Resp*) const;

// The fan-out Method of a read: `build` makes a node's request, `remote` and
// `local` ask it, `parse` splits its answer by shard.
template <typename Result, typename Req, typename Resp, typename Build,
          typename Parse>
Method<Req, Resp, Result> ReadMethod(ClusterNode* node, Build build,
                                     RemoteRead<Req, Resp> remote,
                                     LocalRead<Req, Resp> local, Parse parse) {
  Method<Req, Resp, Result> m;
  m.build = std::move(build);
  m.call = [remote](cpb::Shards::Stub* stub, grpc::ClientContext* ctx,
                    const Req* req, Resp* resp,
                    std::function<void(grpc::Status)> done) {
    (stub->async()->*remote)(ctx, req, resp, std::move(done));
  };
  m.local = [node, local](const Req& req, absl::Time deadline, Resp* resp) {
    return (node->*local)(req, deadline, resp);
  };
  m.parse = std::move(parse);
  return m;
}

// The same, for a response that answers each shard asked in one repeated
// field (`items`), in the order asked.
template <typename Req, typename Resp, typename Result, typename Build>
Method<Req, Resp, Result> ReadMethod(
    ClusterNode* node, Build build, RemoteRead<Req, Resp> remote,
    LocalRead<Req, Resp> local,
    const google::protobuf::RepeatedPtrField<Result>& (Resp::*items)() const) {
  return ReadMethod<Result>(
      node, std::move(build), remote, local,
      [items](Resp* resp, const std::vector<uint32_t>& shards) {
        return InOrder((resp->*items)(), shards.size());
      });
}

using Async = class cpb::Shards::Stub::async;

}  // namespace read_method
}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_READ_METHOD_H_
