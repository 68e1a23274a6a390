// One shard of a cluster collection held by this node: a thread that reads
// the shard's subject of the collection's JetStream stream through a
// durable pull consumer and applies each entry to the node's local
// collection with Collection::UpsertLogged/DeleteLogged, whose sequence
// lands in the same RocksDB batch as the points. Exactly once across
// crashes: an entry at or below the local applied sequence is a replay and
// skipped.
//
// A session creates the durable consumer at the local applied sequence + 1
// (replacing whatever position JetStream kept: the local sequence is the
// truth, and a consumer JetStream advanced past it after an unsynced local
// write was lost would skip entries), fetches batches, applies runs of
// upserts as one batch (up to max_batch points), then acknowledges the last
// entry (AckAll). A gap in the consumer's delivery sequence, a consumer
// that delivers nothing for 5 s while JetStream counts entries pending for
// it, an error of NATS or of the database ends the session; the next starts
// after a backoff (0.1 s doubling to 5 s; back to 0.1 s after a session that
// applied entries) from the applied sequence again, for as long as the
// replica lives. Entries every replica rejects alike (a point invalid for the
// collection, an entry of another incarnation, an undecodable message) are
// skipped with SkipLogged and named in last_error(). A full disk is not such
// a rejection (db's IsDiskFull: RESOURCE_EXHAUSTED like a batch over this
// node's limit): the session ends, the entry stays unacknowledged and is
// applied, with all after it, once space returns (the database resumes
// writes by itself, db/storage_recovery.h); last_error() says the disk is
// full meanwhile.
//
// A filter's delete, payload updates and field index changes are applied
// with the collection's own calls (DeletePoints, SetPayload, ...), then
// their sequence recorded with SkipLogged: a crash between the two replays
// the entry, which is idempotent (the state after it is a fixed point of
// it). What such an entry did (points changed, or its rejection) is kept
// for the last kWriteResults entries, for the node that wrote it
// (WriteResult).
//
// If the stream no longer holds the entries after the applied sequence
// (retention dropped them: ClusterOptions::stream_max_bytes, _max_age),
// the replica asks its shard's other replicas (PeerCopySource) for the most
// advanced copy and, if one holds more than it does, replaces its points
// with that copy (shard_rebuild.cc): forgets its applied sequence
// (Collection::ForgetLogged), clears the collection, takes the copy's
// payload indexes and points, then records the copy's sequence, from which
// it applies the log. A crash midway leaves applied sequence 0: a copy is
// taken again (or, if the log still starts at 1, it is replayed, which
// converges from any points the copy held: every point's first entry in
// the log is its upsert). While it rebuilds it answers no reads
// (rebuilding()); a copy it gives meanwhile says sequence 0 and is never
// taken. If every other
// replica answered and none holds more, the dropped entries held nothing
// this replica lacks (a shard quiet while others wrote) or are lost with
// every copy of them: it applies the log from its oldest entry. Without a
// source it stops applying and says so in last_error().
//
// Thread-safety: every method may be called from any thread. The JetStream
// must outlive the replica.
#ifndef TQDB_RPC_CLUSTER_SHARD_REPLICA_H_
#define TQDB_RPC_CLUSTER_SHARD_REPLICA_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/db.h"
#include "rpc/cluster/jetstream.h"
#include "rpc/cluster/pull_consumer.h"
#include "tqdb/cluster/v1/cluster.pb.h"

namespace tqdb {
namespace cluster {

struct ReplicaSpec {
  std::string collection;  // the cluster collection's name
  int64_t uid = 0;         // its incarnation (cluster_keys.h)
  uint32_t shard = 0;
  uint32_t node_id = 0;  // this node (names the durable consumer)
  // Points applied in one batch at most (DatabaseOptions::max_batch).
  size_t max_batch = 10000;
  int fetch_batch = 256;  // entries per fetch
};

// A copy of a shard from another replica: its points as they stood at
// applied_sequence(), a page at a time (ClusterNode::PeerCopy).
class ShardCopy {
 public:
  virtual ~ShardCopy() = default;
  virtual uint64_t applied_sequence() const = 0;
  virtual const std::vector<FieldIndexInfo>& field_indexes() const = 0;
  // The next points (ascending ids); empty at the end.
  virtual absl::StatusOr<std::vector<Point>> Next() = 0;
  // Makes a Next that waits (now or later) return an error soon; any
  // thread.
  virtual void Cancel() = 0;
};
// The most advanced copy of spec's shard among its other replicas when one
// holds entries past `applied`; null when every other replica answered and
// none does; an error when one did not answer and none that did has more.
using PeerCopySource = std::function<absl::StatusOr<std::unique_ptr<ShardCopy>>(
    const ReplicaSpec& spec, uint64_t applied)>;

class ShardReplica {
 public:
  // Starts applying into `local` (the node's collection for the shard).
  // peer_copy: where a replica the log cannot catch up gets a copy (none:
  // it stops applying).
  ShardReplica(JetStream* js, ReplicaSpec spec,
               std::shared_ptr<Collection> local,
               PeerCopySource peer_copy = nullptr);
  // RequestStop() and waits for the thread.
  ~ShardReplica();
  ShardReplica(const ShardReplica&) = delete;
  ShardReplica& operator=(const ShardReplica&) = delete;

  // Asks the thread to stop without waiting (stopping many replicas at once
  // takes one fetch timeout, not one each).
  void RequestStop();
  // RequestStop() and waits for the thread (its fetch ends): after it, the
  // replica no longer uses its consumer, which may then be deleted. Called
  // by the replica's owner only, once.
  void Stop();

  const ReplicaSpec& spec() const { return spec_; }
  const std::shared_ptr<Collection>& local() const { return local_; }
  uint64_t applied() const { return local_->applied_sequence(); }
  // Waits up to `timeout` until applied() >= sequence; returns whether.
  bool AwaitApplied(uint64_t sequence, absl::Duration timeout);
  // Whether this replica has once applied its shard's whole log as it then
  // stood (ClusterNode::MarkReady finds and records it): until then it holds
  // only a prefix of the shard, complete up to applied() but not as an
  // answer for "what the shard holds" (an eventual read).
  bool caught_up() const;
  void MarkCaughtUp();
  // Whether the replica is replacing its points with a copy, or failed to
  // and must again (its points are then no answer to a read).
  bool rebuilding() const;
  // Rebuilds completed.
  int rebuilds() const;
  // Why the last session ended, or an entry skipped; "" when all is well.
  std::string last_error() const;
  // Sessions started (1 while the first runs), fetches made and entries
  // received (replays included).
  int sessions() const;
  uint64_t fetches() const;
  uint64_t received() const;
  // What the entry at `sequence` did (a filter's delete, a payload update,
  // a field index change). NotFound if this replica did not apply it since
  // it started (or it is older than the last kWriteResults such entries).
  absl::StatusOr<tqdb::cluster::v1::ShardWriteResult> WriteResult(
      uint64_t sequence) const;
  static constexpr size_t kWriteResults = 4096;

 private:
  void Run();
  absl::Status Session();
  // Applies a fetched batch in order; *last_consumer is the consumer
  // sequence of the previous delivery (0: none yet in this session).
  absl::Status Apply(const std::vector<JsMessage>& batch,
                     uint64_t* last_consumer);
  void NoteSkipped(uint64_t sequence, const absl::Status& why);
  // An entry other than an upsert or a delete by ids; errors every replica
  // gives alike are its result (and it is skipped), others end the session.
  absl::Status ApplyUpdate(uint64_t sequence,
                           const tqdb::cluster::v1::LogEntry& entry);
  bool Stopping() const;
  // shard_rebuild.cc: what to do when the stream's oldest entry is past
  // the applied sequence + 1.
  absl::Status CatchUpFromPeer(uint64_t first_sequence);
  absl::Status Rebuild(ShardCopy* copy);
  absl::Status ClearLocal();

  JetStream* const js_;
  const ReplicaSpec spec_;
  const std::shared_ptr<Collection> local_;
  const PeerCopySource peer_copy_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_error_ ABSL_GUARDED_BY(mu_);  // cleared by a good batch
  std::string last_skip_ ABSL_GUARDED_BY(mu_);   // the last entry skipped
  int sessions_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t fetches_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t received_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;    // mirrors local_, for waits
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;  // never cleared
  bool rebuilding_ ABSL_GUARDED_BY(mu_) = false;
  int rebuilds_ ABSL_GUARDED_BY(mu_) = 0;
  // The copy a rebuild reads (RequestStop cancels it).
  ShardCopy* copy_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<uint64_t, tqdb::cluster::v1::ShardWriteResult> results_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_SHARD_REPLICA_H_
