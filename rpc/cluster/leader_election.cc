#include "rpc/cluster/leader_election.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/cluster/etcd_watch.h"

namespace tqdb {
namespace cluster {

LeaderElection::LeaderElection(EtcdClient* client, std::string key,
                               std::string value, int64_t lease)
    : client_(client),
      key_(std::move(key)),
      value_(std::move(value)),
      lease_(lease) {}

absl::StatusOr<std::optional<int64_t>> LeaderElection::TryOnce(
    int64_t* read_revision) {
  TQ_ASSIGN_OR_RETURN(
      TxnResult txn,
      client_->Txn({Compare::CreateRevision(key_, Compare::Op::kEqual, 0)},
                   {TxnOp::Put(key_, value_, lease_)}, {TxnOp::Get(key_)}));
  if (txn.succeeded) return std::optional<int64_t>(txn.revision);
  *read_revision = txn.revision;
  if (!txn.results.empty() && !txn.results[0].kvs.empty()) {
    const KeyValue& holder = txn.results[0].kvs[0];
    // Ours already (an earlier attempt whose answer was lost).
    if (holder.lease == lease_ && holder.value == value_) {
      return std::optional<int64_t>(holder.create_revision);
    }
  }
  return std::optional<int64_t>();
}

absl::StatusOr<int64_t> LeaderElection::Campaign(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string what =
      absl::StrCat("campaign for '", absl::CHexEscape(key_), "'");
  for (;;) {
    int64_t read_revision = 0;
    absl::StatusOr<std::optional<int64_t>> term = TryOnce(&read_revision);
    if (!term.ok()) return WithContext(term.status(), what);
    if (term->has_value()) {
      absl::MutexLock lock(&mu_);
      term_ = **term;
      return term_;
    }
    // Someone else leads: wait for the key's deletion after the read.
    WatchOptions options;
    options.key = key_;
    options.start_revision = read_revision + 1;
    absl::StatusOr<std::unique_ptr<EtcdWatch>> watch =
        EtcdWatch::Start(client_, options);
    if (!watch.ok()) return WithContext(watch.status(), what);
    bool deleted = false;
    while (!deleted) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        auto leader = Leader();
        return absl::DeadlineExceededError(absl::StrCat(
            what, ": not elected within ", absl::FormatDuration(timeout),
            leader.ok() && leader->has_value()
                ? absl::StrCat("; the leader is '",
                               absl::CHexEscape((*leader)->value), "'")
                : std::string()));
      }
      absl::StatusOr<std::vector<WatchEvent>> events =
          (*watch)->Next(std::min(left, absl::Seconds(1)));
      if (!events.ok()) return WithContext(events.status(), what);
      for (const WatchEvent& e : *events) {
        deleted |= e.type == WatchEvent::Type::kDelete;
      }
    }
  }
}

absl::Status LeaderElection::Resign() {
  int64_t term;
  {
    absl::MutexLock lock(&mu_);
    term = term_;
    term_ = 0;
  }
  if (term == 0) return absl::OkStatus();
  absl::StatusOr<TxnResult> txn =
      client_->Txn({IsLeaderIn(term)}, {TxnOp::Delete(key_)}, {});
  return WithContext(txn.status(), "resign '", absl::CHexEscape(key_), "'");
}

absl::StatusOr<std::optional<KeyValue>> LeaderElection::Leader() {
  return client_->Get(key_);
}

Compare LeaderElection::IsLeader() const { return IsLeaderIn(term()); }

Compare LeaderElection::IsLeaderIn(int64_t term) const {
  // Term 0 never holds: a key that exists has a create_revision above 0.
  return term == 0 ? Compare::CreateRevision(key_, Compare::Op::kLess, 0)
                   : Compare::CreateRevision(key_, Compare::Op::kEqual, term);
}

int64_t LeaderElection::term() const {
  absl::MutexLock lock(&mu_);
  return term_;
}

}  // namespace cluster
}  // namespace tqdb
