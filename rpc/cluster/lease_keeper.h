// An etcd lease kept alive in the background: what a node's registration and
// a leader's key hang on. Keys put with the lease vanish when the process
// dies (the lease expires one TTL after the last refresh), when the keeper
// is destroyed (it revokes the lease) or when etcd cannot be reached for a
// whole TTL.
//
//   auto lease = LeaseKeeper::Grant(etcd, absl::Seconds(10));
//   etcd->Put("tqdb/nodes/3", "10.0.0.3:7700", (*lease)->id());
//   ...
//   if ((*lease)->lost()) ...  // re-register with a new lease
//
// A background thread refreshes the lease every TTL/3 (each refresh is one
// KeepAlive exchange under a deadline of TTL/3, at least 1 s, so a hung etcd
// cannot stall it); after a failed refresh it retries every TTL/10.
//
// lost() is final and conservative: it turns true when etcd says the lease
// expired or was revoked, or when no refresh succeeded for a whole TTL
// (etcd may then have expired it). A leader must stop acting as one when its
// lease is lost, and grant a new lease to campaign again.
//
// Thread-safety: every method may be called from any thread. The EtcdClient
// must outlive the keeper.
#ifndef TQDB_RPC_CLUSTER_LEASE_KEEPER_H_
#define TQDB_RPC_CLUSTER_LEASE_KEEPER_H_

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/cluster/etcd_client.h"

namespace tqdb {
namespace cluster {

class LeaseKeeper {
 public:
  // Grants a lease of `ttl` (rounded up to whole seconds; etcd raises it to
  // its minimum, 2 s with default settings) and starts refreshing it.
  static absl::StatusOr<std::unique_ptr<LeaseKeeper>> Grant(EtcdClient* client,
                                                            absl::Duration ttl);
  // Stops refreshing and revokes the lease (best effort: if etcd cannot be
  // reached, the lease expires one TTL later).
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  int64_t id() const { return lease_.id; }
  absl::Duration ttl() const { return lease_.ttl; }

  bool lost() const;
  // Why the lease is lost (OK while it is not).
  absl::Status status() const;
  // Waits up to `timeout` for the lease to be lost; returns lost().
  bool AwaitLost(absl::Duration timeout);
  // Revokes the lease now (its keys are deleted); the keeper is then lost.
  absl::Status Revoke();

 private:
  LeaseKeeper(EtcdClient* client, Lease lease);
  void Run();
  // lost_, or a whole TTL since the last refresh.
  bool LostLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkLost(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  EtcdClient* const client_;
  const Lease lease_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status why_ ABSL_GUARDED_BY(mu_);
  // When the last successful refresh was sent (the lease lives at least a
  // TTL from then).
  absl::Time last_refresh_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_LEASE_KEEPER_H_
