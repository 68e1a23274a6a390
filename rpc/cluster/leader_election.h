// Leader election on etcd with a lease and a Txn: one leader at a time (the
// cluster's balancer) among candidates that campaign for the same key.
//
//   auto lease = LeaseKeeper::Grant(etcd, absl::Seconds(10));
//   LeaderElection election(etcd, "tqdb/balancer/leader", "node-3",
//                           (*lease)->id());
//   auto term = election.Campaign(absl::Minutes(5));  // blocks until elected
//   ... act as leader while !(*lease)->lost(), fencing writes with
//   ... election.IsLeader() in their Txn guard ...
//   election.Resign();
//
// The leader is whoever holds the key. Campaign creates it with the
// candidate's value under the candidate's lease, in a Txn that succeeds only
// if the key does not exist (create_revision 0); otherwise it watches the
// key and tries again when it is deleted: by Resign, by a revoked lease, or
// by the leader's lease expiring after its process died or lost etcd. The
// key's create_revision identifies the term: a fencing token that grows with
// each new leader.
//
// Errors: as EtcdClient's; Campaign returns DeadlineExceeded when not
// elected within its timeout, NotFound when the candidate's lease is gone.
//
// Thread-safety: one Campaign at a time; the other methods from any thread.
#ifndef TQDB_RPC_CLUSTER_LEADER_ELECTION_H_
#define TQDB_RPC_CLUSTER_LEADER_ELECTION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/cluster/etcd_client.h"

namespace tqdb {
namespace cluster {

class LeaderElection {
 public:
  // `client` must outlive the election; `lease` is the candidate's (see
  // lease_keeper.h): leadership ends with it.
  LeaderElection(EtcdClient* client, std::string key, std::string value,
                 int64_t lease);

  // Blocks until this candidate leads, then returns the term (the key's
  // create_revision). Returns at once if it already leads.
  absl::StatusOr<int64_t> Campaign(absl::Duration timeout);

  // Gives leadership up: deletes the key if this candidate's term still
  // holds it. OK when it did not lead.
  absl::Status Resign();

  // The current leader's key (value = its candidate value), or nullopt.
  absl::StatusOr<std::optional<KeyValue>> Leader();

  // A Txn guard that holds only while this candidate leads in the term
  // Campaign returned: writes a leader makes under it cannot land after it
  // was replaced.
  Compare IsLeader() const;

  // The term Campaign returned (0 before).
  int64_t term() const;

 private:
  // One attempt: the term if elected, else nullopt and the revision at
  // which the key was read (to watch from).
  absl::StatusOr<std::optional<int64_t>> TryOnce(int64_t* read_revision);
  Compare IsLeaderIn(int64_t term) const;

  EtcdClient* const client_;
  const std::string key_;
  const std::string value_;
  const int64_t lease_;
  mutable absl::Mutex mu_;
  int64_t term_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_LEADER_ELECTION_H_
