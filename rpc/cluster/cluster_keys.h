// The names a tqdb cluster keeps its state under (README "Cluster"): etcd
// keys and their values, and how a point's id picks its shard.
//
//   tqdb/nodes/<id>          NodeRecord, under the node's lease
//   tqdb/collections/<name>  CollectionRecord (create_revision = its uid)
//   tqdb/shards/<name>       ShardMap
//   tqdb/drain/<id>          DrainRecord: node <id> is being drained
//   tqdb/aliases/<alias>     AliasRecord: the collection the alias names
//   tqdb/balancer            the balancer's election key
//
// Values are protobuf JSON (proto/tqdb/cluster/v1/cluster.proto), so that
// `etcdctl get --prefix tqdb/` shows the cluster's state.
#ifndef TQDB_RPC_CLUSTER_CLUSTER_KEYS_H_
#define TQDB_RPC_CLUSTER_CLUSTER_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace tqdb {
namespace cluster {

inline constexpr absl::string_view kRootPrefix = "tqdb/";
inline constexpr absl::string_view kNodesPrefix = "tqdb/nodes/";
inline constexpr absl::string_view kCollectionsPrefix = "tqdb/collections/";
inline constexpr absl::string_view kShardsPrefix = "tqdb/shards/";
inline constexpr absl::string_view kDrainPrefix = "tqdb/drain/";
inline constexpr absl::string_view kAliasesPrefix = "tqdb/aliases/";
inline constexpr absl::string_view kBalancerKey = "tqdb/balancer";

std::string NodeKey(uint32_t node_id);
std::string CollectionKey(absl::string_view name);
std::string ShardMapKey(absl::string_view name);
std::string DrainKey(uint32_t node_id);
std::string AliasKey(absl::string_view alias);

// Protobuf JSON both ways; InvalidArgument (naming `what`) for a value that
// does not parse.
std::string ToJson(const google::protobuf::Message& message);
absl::Status FromJson(absl::string_view json, google::protobuf::Message* out,
                      absl::string_view what);

// The shard of a point: a 64-bit mix of its id (SplitMix64's finalizer),
// modulo the collection's shard count. Fixed forever: changing it would
// move every point.
uint32_t ShardOf(uint64_t id, uint32_t shards);

// The collection in a node's data directory that holds shard `shard` of the
// cluster collection with uid `uid`: "c<uid>-s<shard>" (a valid db/ name
// whatever the cluster name's length, and new for every incarnation).
std::string LocalName(int64_t uid, uint32_t shard);
struct LocalShard {
  int64_t uid = 0;
  uint32_t shard = 0;
};
// nullopt for a name LocalName did not make.
std::optional<LocalShard> ParseLocalName(absl::string_view name);

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_CLUSTER_KEYS_H_
