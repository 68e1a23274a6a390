#include "rpc/cluster/lease_keeper.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace cluster {

LeaseKeeper::LeaseKeeper(EtcdClient* client, Lease lease)
    : client_(client), lease_(lease) {}

absl::StatusOr<std::unique_ptr<LeaseKeeper>> LeaseKeeper::Grant(
    EtcdClient* client, absl::Duration ttl) {
  const absl::Time sent = absl::Now();
  absl::StatusOr<Lease> lease = client->GrantLease(ttl);
  if (!lease.ok()) return lease.status();
  std::unique_ptr<LeaseKeeper> keeper(new LeaseKeeper(client, *lease));
  {
    absl::MutexLock lock(&keeper->mu_);
    keeper->last_refresh_ = sent;
  }
  LeaseKeeper* k = keeper.get();
  keeper->thread_ = std::thread([k] { k->Run(); });
  return keeper;
}

LeaseKeeper::~LeaseKeeper() {
  bool revoke;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    revoke = !lost_;
  }
  if (thread_.joinable()) thread_.join();
  if (revoke) client_->RevokeLease(lease_.id).IgnoreError();
}

bool LeaseKeeper::LostLocked() const {
  return lost_ || absl::Now() - last_refresh_ >= lease_.ttl;
}

void LeaseKeeper::MarkLost(absl::Status why) {
  if (lost_) return;
  lost_ = true;
  why_ = std::move(why);
}

bool LeaseKeeper::lost() const {
  absl::MutexLock lock(&mu_);
  return LostLocked();
}

absl::Status LeaseKeeper::status() const {
  absl::MutexLock lock(&mu_);
  if (lost_) return why_;
  if (LostLocked()) {
    return absl::UnavailableError(
        absl::StrCat("lease ", lease_.id, ": not refreshed for its TTL (",
                     absl::FormatDuration(lease_.ttl),
                     "); last error: ", last_error_.ToString()));
  }
  return absl::OkStatus();
}

bool LeaseKeeper::AwaitLost(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (LostLocked()) return true;
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    // Wake when the thread marks it lost, or when the TTL since the last
    // refresh runs out, whichever comes first.
    const absl::Time stale = last_refresh_ + lease_.ttl;
    mu_.AwaitWithDeadline(absl::Condition(&lost_),
                          stale < deadline ? stale : deadline);
  }
}

absl::Status LeaseKeeper::Revoke() {
  absl::Status s = client_->RevokeLease(lease_.id);
  absl::MutexLock lock(&mu_);
  MarkLost(absl::FailedPreconditionError(
      absl::StrCat("lease ", lease_.id, " revoked")));
  return s;
}

void LeaseKeeper::Run() {
  const absl::Duration interval = lease_.ttl / 3;
  const absl::Duration retry = lease_.ttl / 10;
  absl::Time next = absl::Now() + interval;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(&stopping_), next);
      if (stopping_ || lost_) return;
    }
    const absl::Time sent = absl::Now();
    absl::StatusOr<absl::Duration> ttl =
        client_->KeepAliveOnce(lease_.id, std::max(interval, absl::Seconds(1)));
    absl::MutexLock lock(&mu_);
    if (ttl.ok()) {
      last_refresh_ = sent;
      next = sent + interval;
      continue;
    }
    last_error_ = ttl.status();
    if (absl::IsNotFound(ttl.status())) {
      MarkLost(ttl.status());
      return;
    }
    if (LostLocked()) {
      MarkLost(absl::UnavailableError(
          absl::StrCat("lease ", lease_.id, ": not refreshed for its TTL (",
                       absl::FormatDuration(lease_.ttl),
                       "); last error: ", ttl.status().message())));
      return;
    }
    next = absl::Now() + retry;
  }
}

}  // namespace cluster
}  // namespace tqdb
