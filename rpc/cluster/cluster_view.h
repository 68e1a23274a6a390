// A node's copy of the cluster's state in etcd (everything under tqdb/,
// cluster_keys.h), kept current by a watch: which nodes live, which
// collections exist with what settings, their shard maps, and which nodes
// are being drained. Readers get an immutable snapshot; a version number
// and AwaitChange let the node's reconciler and tests wait for news.
//
//   auto view = ClusterView::Start(etcd);  // the first read, then the watch
//   std::shared_ptr<const ClusterState> s = (*view)->state();
//   const CollectionEntry* c = s->Find("docs");
//
// The first read must succeed (Unavailable naming etcd's address
// otherwise). Afterwards the watch reconnects by itself; when etcd
// compacted the history it missed, the view reads everything again. While
// etcd is away the snapshot stays as it was last seen (connected() false).
//
// Thread-safety: every method may be called from any thread. The EtcdClient
// must outlive the view.
#ifndef TQDB_RPC_CLUSTER_CLUSTER_VIEW_H_
#define TQDB_RPC_CLUSTER_CLUSTER_VIEW_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/cluster/etcd_client.h"
#include "rpc/cluster/etcd_watch.h"
#include "tqdb/cluster/v1/cluster.pb.h"

namespace tqdb {
namespace cluster {

struct CollectionEntry {
  std::string name;
  tqdb::cluster::v1::CollectionRecord record;
  int64_t uid = 0;           // the record key's create_revision
  int64_t mod_revision = 0;  // of the record key (for compare-and-swap)
  bool has_map = false;
  tqdb::cluster::v1::ShardMap map;
  int64_t map_mod_revision = 0;

  bool ready() const {
    return record.state() == tqdb::cluster::v1::CollectionRecord::STATE_READY;
  }
};

struct AliasEntry {
  std::string collection;
  int64_t mod_revision = 0;  // of the alias key (for compare-and-swap)
};

struct ClusterState {
  int64_t revision = 0;  // etcd's revision this state reflects
  std::map<uint32_t, tqdb::cluster::v1::NodeRecord> nodes;  // live nodes
  std::map<std::string, CollectionEntry> collections;
  // Nodes being drained (tqdb/drain/<id>), registered or not.
  std::map<uint32_t, tqdb::cluster::v1::DrainRecord> draining;
  // Values that did not parse (key -> error), shown by status; skipped.
  std::map<std::string, std::string> bad_values;
  // alias -> the collection it names (tqdb/aliases/).
  std::map<std::string, AliasEntry> aliases;

  // The collection called `name`, or the one the alias `name` names.
  const CollectionEntry* Find(const std::string& name) const {
    auto it = collections.find(name);
    if (it == collections.end()) {
      auto a = aliases.find(name);
      if (a == aliases.end()) return nullptr;
      it = collections.find(a->second.collection);
    }
    return it == collections.end() ? nullptr : &it->second;
  }
  // Shard `shard` of the collection's incarnation `uid` in the map, or null
  // (no such collection, incarnation, map or shard).
  const tqdb::cluster::v1::ShardAssignment* FindShard(
      const std::string& collection, int64_t uid, uint32_t shard) const {
    const CollectionEntry* e = Find(collection);
    if (e == nullptr || e->uid != uid || !e->has_map ||
        static_cast<int>(shard) >= e->map.shards_size()) {
      return nullptr;
    }
    return &e->map.shards(static_cast<int>(shard));
  }
};

class ClusterView {
 public:
  static absl::StatusOr<std::unique_ptr<ClusterView>> Start(EtcdClient* client);
  ~ClusterView();
  ClusterView(const ClusterView&) = delete;
  ClusterView& operator=(const ClusterView&) = delete;

  std::shared_ptr<const ClusterState> state() const;
  // Incremented with every change applied to the state.
  uint64_t version() const;
  // Waits up to `timeout` for version() to pass `seen`; returns version().
  uint64_t AwaitChange(uint64_t seen, absl::Duration timeout);
  // Waits up to `timeout` until the state reflects etcd's revision
  // `revision` (after a write of this node's, to read it back).
  bool AwaitRevision(int64_t revision, absl::Duration timeout);
  // The watch's stream is open.
  bool connected() const;

 private:
  explicit ClusterView(EtcdClient* client) : client_(client) {}
  // Reads everything under tqdb/ and replaces the state.
  absl::Status Reload();
  void Run();
  void Publish(std::shared_ptr<ClusterState> next);

  EtcdClient* const client_;
  std::thread thread_;
  // Used by the thread without mu_; replaced by it under mu_ (connected()
  // reads it under mu_).
  std::unique_ptr<EtcdWatch> watch_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const ClusterState> state_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

// Shard replicas the maps give `node`, over every collection.
uint32_t MappedReplicas(const ClusterState& state, uint32_t node);

// Applies one put or delete under tqdb/ to `state` (exposed for tests).
void ApplyToState(const WatchEvent& event, ClusterState* state);

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_CLUSTER_VIEW_H_
