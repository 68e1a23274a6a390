// A tqdb node of a cluster (tqdb serve --cluster, README "Cluster"): etcd
// holds the cluster's state, a NATS JetStream stream per collection is its
// write-ahead log, and each node applies the shards it holds from that log
// into its own Database.
//
//   ClusterOptions o;
//   o.etcd_endpoints = {"127.0.0.1:2379"};
//   o.nats_servers = {"nats://127.0.0.1:4222"};
//   o.node_id = 1;
//   o.advertise = "127.0.0.1:7701";
//   auto node = ClusterNode::Start(o, db.get());  // exits? no: returns errors
//   node->CreateCollection(request);   // any node
//   node->Upsert("docs", points, deadline);  // after JetStream's PubAck
//
// Start connects to etcd and NATS (Unavailable naming the addresses when
// either cannot be reached), registers the node under a lease (a dead node
// vanishes from tqdb/nodes/ within lease_ttl; a node id registered by
// another live address is AlreadyExists), reads the cluster's state and
// starts the reconciler: for every ready collection, each shard the shard
// map gives this node gets a local collection (cluster_keys.h LocalName)
// and a ShardReplica applying its log; local shard collections of
// collections that are gone are dropped.
//
// Writes: validated as a single server validates them (db/ ValidatePoints),
// split by shard (ShardOf), published to the shard's subject with a message
// id (JetStream drops a retried duplicate), and acknowledged once JetStream
// stored every part on a quorum (PubAck). The result names the last
// sequence per shard written. A write that fails (Unavailable when NATS has
// no quorum within write_timeout) may have been stored in part: retry it
// (upserts and deletes are idempotent). Replicas apply writes after the
// call returns.
//
// Thread-safety: every method may be called from any thread. The Database
// must outlive the node.
#ifndef TQDB_RPC_CLUSTER_CLUSTER_NODE_H_
#define TQDB_RPC_CLUSTER_CLUSTER_NODE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/db.h"
#include "rpc/cluster/cluster_view.h"
#include "rpc/cluster/etcd_client.h"
#include "rpc/cluster/jetstream.h"
#include "rpc/cluster/lease_keeper.h"
#include "rpc/cluster/nats_connection.h"
#include "rpc/cluster/shard_replica.h"
#include "tqdb/cluster/v1/cluster.pb.h"
#include "tqdb/v1/collections.pb.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {
namespace cluster {

class ClusterReader;  // cluster_reader.h
class Balancer;       // balancer.h

struct ClusterOptions {
  std::vector<std::string> etcd_endpoints;  // host:port
  std::vector<std::string> nats_servers;    // nats://host:port
  uint32_t node_id = 0;
  // host:port where clients and other nodes reach this node's gRPC API.
  std::string advertise;
  // The node's registration expires this long after it stopped refreshing.
  absl::Duration lease_ttl = absl::Seconds(5);
  // JetStream replicas of each collection's stream (at most the NATS
  // servers; 3 survives the loss of one).
  int stream_replicas = 3;
  // Defaults of CreateCollectionRequest's shards and replicas.
  uint32_t default_shards = 16;
  uint32_t default_replicas = 2;
  // A write waits this long at most for JetStream's PubAcks.
  absl::Duration write_timeout = absl::Seconds(10);
  // Each etcd call's deadline.
  absl::Duration etcd_timeout = absl::Seconds(5);
  // The wait at start for JetStream's meta leader: a NATS cluster restarted
  // as a whole recovers its state before it elects one (5 s idle, longer on
  // a busy machine).
  absl::Duration nats_timeout = absl::Seconds(60);
  // Retention of each collection's stream: a replica catches up by
  // replaying it (README "Cluster"); -1 / zero: keep everything.
  int64_t stream_max_bytes = -1;
  absl::Duration stream_max_age = absl::ZeroDuration();
  // The node's database settings (batch and payload limits: writes are
  // validated against them before they enter the log).
  DatabaseOptions database;
  // Reads: a replica that has not answered after this (or half the call's
  // remaining deadline, if sooner) is hedged: its shards are asked of
  // another replica too, and the first answer wins.
  absl::Duration hedge_delay = absl::Milliseconds(250);
  // How this node calls the others' Shards service: the cluster's API key
  // ("" = none) and, for nodes serving TLS, the PEM they are verified
  // with ("" = plaintext).
  std::string peer_api_key;
  std::string peer_tls_root_pem;
  // The balancer (balancer.h) replaces a node's replicas once the node has
  // been gone from tqdb/nodes/ this long (a restart within it costs no
  // copying).
  absl::Duration replace_after = absl::Seconds(30);
};

class ClusterNode {
 public:
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Start(
      const ClusterOptions& options, Database* db);
  // Stops the replicas and leaves: the registration is revoked at once.
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Collections (cluster_admin.cc). InvalidArgument for bad settings,
  // AlreadyExists, FailedPrecondition when fewer live nodes than replicas.
  absl::StatusOr<::tqdb::v1::CollectionInfo> CreateCollection(
      const ::tqdb::v1::CreateCollectionRequest& request);
  // NotFound if absent.
  absl::Status DropCollection(const std::string& name);
  // The settings of a collection as the cluster knows them (count and the
  // index state come from the shards: the read path).
  absl::StatusOr<::tqdb::v1::CollectionInfo> DescribeCollection(
      const std::string& name) const;
  std::vector<std::string> ListCollections() const;
  // Aliases (cluster_aliases.cc), as Database::UpdateAliases: in order, all
  // or none (one etcd transaction); every node's reads and writes take an
  // alias for its collection once its view has the change (this node's
  // before the call returns). Dropping a collection deletes its aliases.
  // Aborted when the aliases or collections kept changing meanwhile.
  absl::Status UpdateAliases(const std::vector<AliasChange>& changes);
  std::map<std::string, std::string> ListAliases() const;

  // Writes (cluster_writer.cc). Sequences: one per shard written, sorted by
  // shard. checked: the points passed CheckUpsert already.
  absl::StatusOr<std::vector<::tqdb::v1::ShardSequence>> Upsert(
      const std::string& collection, const std::vector<Point>& points,
      bool checked = false);
  // Upsert's checks alone (as a single server's: db/ ValidatePoints, the
  // batch limit), nothing written; the points' texts become their BM25
  // sparse vectors here (db/bm25.h: ResolvePointTexts), so the log carries
  // the vectors and every replica stores the same ones.
  absl::Status CheckUpsert(const std::string& collection,
                           std::vector<Point>* points) const;
  absl::StatusOr<std::vector<::tqdb::v1::ShardSequence>> Delete(
      const std::string& collection, const std::vector<uint64_t>& ids);
  // A write applied with the collection's own call on each replica: a
  // filter's delete, a payload update (SetPayload, OverwritePayload,
  // DeletePayloadKeys) or a field index change, as `entry`'s op. By ids, an
  // entry to each shard of the ids (only its ids); else one to every shard.
  // Waits (up to `deadline`) until one replica of each shard applied it:
  // `changed` sums what the entries did (points deleted or updated; 1 a
  // shard for a field index); a shard's rejection of its entry (e.g.
  // InvalidArgument for a payload that is not a JSON object, NotFound for
  // an index that does not exist) is the call's error, after the log has
  // it (every replica rejects it alike).
  struct UpdateResult {
    uint64_t changed = 0;
    std::vector<::tqdb::v1::ShardSequence> sequences;
  };
  absl::StatusOr<UpdateResult> Update(const std::string& collection,
                                      tqdb::cluster::v1::LogEntry entry,
                                      absl::Time deadline);

  // Reads of this node's replicas (local_shards.cc): what the Shards
  // service answers, and the reader's local part. NotFound for a shard this
  // node does not hold (or of another incarnation); DeadlineExceeded when a
  // replica has not applied a ShardRef's min_sequence by `deadline`.
  absl::Status LocalSearch(const tqdb::cluster::v1::ShardSearchRequest& req,
                           absl::Time deadline,
                           tqdb::cluster::v1::ShardSearchResponse* resp) const;
  absl::Status LocalCount(const tqdb::cluster::v1::ShardCountRequest& req,
                          absl::Time deadline,
                          tqdb::cluster::v1::ShardCountResponse* resp) const;
  absl::Status LocalSparseStats(
      const tqdb::cluster::v1::ShardSparseStatsRequest& req,
      absl::Time deadline,
      tqdb::cluster::v1::ShardSparseStatsResponse* resp) const;
  absl::Status LocalFacet(const tqdb::cluster::v1::ShardFacetRequest& req,
                          absl::Time deadline,
                          tqdb::cluster::v1::ShardFacetResponse* resp) const;
  absl::Status LocalScroll(const tqdb::cluster::v1::ShardScrollRequest& req,
                           absl::Time deadline,
                           tqdb::cluster::v1::ShardScrollResponse* resp) const;
  absl::Status LocalWriteResults(
      const tqdb::cluster::v1::ShardsRequest& req, absl::Time deadline,
      tqdb::cluster::v1::ShardWriteResultsResponse* resp) const;
  absl::Status LocalGet(const tqdb::cluster::v1::ShardGetRequest& req,
                        absl::Time deadline,
                        ::tqdb::v1::GetPointsResponse* resp) const;
  absl::Status LocalInfo(const tqdb::cluster::v1::ShardsRequest& req,
                         absl::Time deadline,
                         tqdb::cluster::v1::ShardInfoResponse* resp) const;
  absl::Status LocalTrain(const tqdb::cluster::v1::ShardTrainRequest& req,
                          absl::Time deadline,
                          tqdb::cluster::v1::ShardInfoResponse* resp) const;

  // Shards.Copy (peer_copy.cc): this node's replica of the request's one
  // shard as it stands now (PointCursor), to `write` chunk by chunk (false:
  // the asking node went away), once it applied the shard's min_sequence.
  // NotFound for a shard this node does not hold; Unavailable while its
  // replica is taking a copy itself; DeadlineExceeded when it has not
  // applied min_sequence by `deadline`.
  absl::Status LocalCopy(
      const tqdb::cluster::v1::ShardCopyRequest& req, absl::Time deadline,
      const std::function<bool(const tqdb::cluster::v1::ShardCopyChunk&)>&
          write) const;
  // The PeerCopySource of this node's replicas (shard_replica.h): asks the
  // shard's other replicas for copies and keeps the most advanced.
  absl::StatusOr<std::unique_ptr<ShardCopy>> PeerCopy(const ReplicaSpec& spec,
                                                      uint64_t applied);

  // A copy of one shard from a ready replica that applied min_sequence,
  // this node's first, then the others in the map's order (the first whose
  // copy starts within 10 s); Unavailable naming each replica's error when
  // none gives one.
  absl::StatusOr<std::unique_ptr<ShardCopy>> ReadyCopy(
      const std::string& collection, int64_t uid, uint32_t shard,
      uint64_t min_sequence);
  // Snapshots.Create on a cluster node (cluster_snapshot.cc): `collection`
  // ("" = every collection) as a single server's snapshot in target_dir
  // (which must not exist), every shard copied from one ready replica at
  // the sequence that replica had applied, which is at least the shard's
  // last when the call came: every write acknowledged before it is in the
  // snapshot (shards are not cut at one moment: each holds its entries up
  // to its own sequence).
  // NotFound for an unknown collection, Unavailable while one is created
  // or a shard has no replica to copy; FailedPrecondition without
  // store_vectors (a copy needs the vectors).
  absl::Status Snapshot(const std::string& collection,
                        const std::string& target_dir);

  // The read path: fan-out over one replica per shard (cluster_reader.h).
  ClusterReader* reader() const { return reader_.get(); }

  // What this node holds (the Node service). Its JetStream consumer
  // lookups take kStatusLookupTime at most, in all (ReplicaStatus.
  // consumer_error names the replicas they did not read).
  void Status(tqdb::cluster::v1::NodeStatusResponse* out) const;
  static constexpr absl::Duration kStatusLookupTime = absl::Seconds(2);
  // Starts draining node `node_id` (0: this one), or with `cancel` ends it
  // (drain.cc; Node.Drain in proto/tqdb/cluster/v1/cluster.proto): the
  // balancer moves its replicas to other nodes. NotFound for a node neither
  // registered nor in a map; FailedPrecondition when too few other nodes
  // would be left for a collection's replicas.
  absl::StatusOr<tqdb::cluster::v1::DrainResponse> Drain(uint32_t node_id,
                                                         bool cancel);
  // The replica of (collection, shard) on this node, or null.
  std::shared_ptr<ShardReplica> Replica(const std::string& collection,
                                        uint32_t shard) const;

  const ClusterOptions& options() const { return options_; }
  // The lease the node is registered under now (0 while it has none).
  int64_t lease_id() const;
  // This node runs the balancer now.
  bool balancing() const;
  ClusterView* view() const { return view_.get(); }
  EtcdClient* etcd() const { return etcd_.get(); }
  JetStream* jetstream() const { return js_.get(); }

 private:
  ClusterNode(const ClusterOptions& options, Database* db);
  absl::Status Init();
  // AwaitReady for nats_timeout, a line on stderr every 10 s of it.
  absl::Status AwaitJetStream();
  absl::Status CheckDataDir() const;
  // Puts tqdb/nodes/<id> under the current lease.
  absl::Status Register();
  // Keeps the registration alive (a new lease when the old one is lost).
  void RunMembership();
  // Makes the local replicas what the shard maps say; returns the first
  // error (the loop retries).
  absl::Status Reconcile();
  // Marks this node's caught-up replicas ready in the shard maps (a
  // replica is caught up once it applied its subject's last sequence), and
  // records it on the replica (ShardReplica::MarkCaughtUp), as for those
  // the map already lists ready: only those answer eventual reads.
  absl::Status MarkReady();
  void RunReconciler();
  // The collection's settings as the database takes them, name = local.
  absl::StatusOr<CollectionConfig> LocalConfig(const CollectionEntry& entry,
                                               uint32_t shard) const;
  // One shard's part of a write, as entries of at most max_batch points
  // and the connection's max payload; returns the last sequence.
  absl::StatusOr<uint64_t> PublishShard(
      const CollectionEntry& entry, uint32_t shard,
      const std::vector<const Point*>& points,
      const std::vector<uint64_t>& delete_ids);
  std::string NextMessageId();
  // The replica of a shard the map gives this node, once the reconciler
  // runs it (waiting up to `deadline`); null if not this node's.
  std::shared_ptr<ShardReplica> AwaitReplica(const std::string& collection,
                                             int64_t uid, uint32_t shard,
                                             absl::Time deadline) const;
  // Whether this node's map lists it as a ready replica of the shard (of
  // that incarnation).
  bool ReadyHere(const std::string& collection, int64_t uid,
                 uint32_t shard) const;
  // The replicas a Shards call asks for: each one the map gives this node,
  // running, past the call's min_sequence and, for an eventual read (`reads`
  // and min_sequence 0), caught up once; else NotFound, DeadlineExceeded or
  // Unavailable (the reader asks another replica).
  absl::StatusOr<std::vector<std::shared_ptr<ShardReplica>>> LocalReplicas(
      const tqdb::cluster::v1::ShardsRequest& target, absl::Time deadline,
      bool reads) const;

  const ClusterOptions options_;
  Database* const db_;
  std::unique_ptr<EtcdClient> etcd_;
  std::unique_ptr<NatsConnection> nats_;
  std::unique_ptr<JetStream> js_;
  std::unique_ptr<ClusterView> view_;
  std::unique_ptr<ClusterReader> reader_;
  std::unique_ptr<Balancer> balancer_;
  const uint64_t boot_id_;  // message ids: unique across restarts
  std::atomic<uint64_t> next_message_{0};

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<LeaseKeeper> lease_ ABSL_GUARDED_BY(mu_);
  // (collection, shard) -> its replica on this node.
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<ShardReplica>>
      replicas_ ABSL_GUARDED_BY(mu_);
  std::string reconcile_error_ ABSL_GUARDED_BY(mu_);
  std::thread membership_;
  std::thread reconciler_;
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_CLUSTER_NODE_H_
