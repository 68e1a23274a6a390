#include "rpc/cluster/balancer.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/leader_election.h"
#include "rpc/cluster/log_line.h"
#include "rpc/cluster/log_names.h"
#include "rpc/cluster/pull_consumer.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;
using Ids = google::protobuf::RepeatedField<uint32_t>;

bool Has(const Ids& ids, uint32_t n) {
  return std::find(ids.begin(), ids.end(), n) != ids.end();
}

void Remove(Ids* ids, uint32_t n) {
  auto it = std::find(ids->begin(), ids->end(), n);
  if (it != ids->end()) ids->erase(it);
}

// The node with the least (most) load among `nodes`, ties by id; nullopt
// for none.
std::optional<uint32_t> Pick(const std::vector<uint32_t>& nodes,
                             const std::map<uint32_t, int>& load, bool most) {
  std::optional<uint32_t> best;
  for (uint32_t n : nodes) {
    auto it = load.find(n);
    const int l = it == load.end() ? 0 : it->second;
    if (!best) {
      best = n;
      continue;
    }
    const int b = load.count(*best) ? load.at(*best) : 0;
    if (most ? (l > b || (l == b && n > *best))
             : (l < b || (l == b && n < *best))) {
      best = n;
    }
  }
  return best;
}

}  // namespace

std::optional<cpb::ShardMap> PlanShardMap(
    const cpb::ShardMap& map, uint32_t replicas, const std::set<uint32_t>& live,
    const std::set<uint32_t>& present, const std::set<uint32_t>& draining,
    std::map<uint32_t, int>* load,
    std::vector<std::pair<uint32_t, uint32_t>>* removed) {
  // The nodes that may take a replica, and whose ready replicas count
  // toward a shard's `replicas`: live and not being drained.
  std::set<uint32_t> targets;
  for (uint32_t n : live) {
    if (!draining.count(n)) targets.insert(n);
  }
  cpb::ShardMap out = map;
  bool changed = false;
  bool in_flight = false;
  for (int s = 0; s < out.shards_size(); ++s) {
    cpb::ShardAssignment* a = out.mutable_shards(s);
    // staying: on present nodes not being drained; leaving: the others.
    std::vector<uint32_t> staying, live_ready, leaving;
    for (uint32_t n : a->replicas()) {
      if (present.count(n) && !draining.count(n)) {
        staying.push_back(n);
        if (!Has(a->ready(), n)) in_flight = true;  // catching up
      } else {
        leaving.push_back(n);
      }
      if (targets.count(n) && Has(a->ready(), n)) live_ready.push_back(n);
    }
    if (staying.size() > replicas) in_flight = true;
    // Rule 2: removals, only with enough ready replicas on live nodes left.
    if (live_ready.size() >= replicas && !leaving.empty()) {
      for (uint32_t n : leaving) {
        Remove(a->mutable_replicas(), n);
        Remove(a->mutable_ready(), n);
        if (load->count(n)) --(*load)[n];
        removed->emplace_back(static_cast<uint32_t>(s), n);
      }
      changed = true;
      continue;
    }
    if (staying.size() > replicas && live_ready.size() > replicas) {
      const uint32_t n = *Pick(live_ready, *load, /*most=*/true);
      Remove(a->mutable_replicas(), n);
      Remove(a->mutable_ready(), n);
      --(*load)[n];
      removed->emplace_back(static_cast<uint32_t>(s), n);
      changed = true;
      continue;
    }
    // Rule 1: too few replicas staying.
    if (staying.size() < replicas) {
      std::vector<uint32_t> candidates;
      for (uint32_t n : targets) {
        if (!Has(a->replicas(), n)) candidates.push_back(n);
      }
      if (auto n = Pick(candidates, *load, /*most=*/false)) {
        a->add_replicas(*n);
        ++(*load)[*n];
        changed = true;
        in_flight = true;
      }
    }
  }
  // Rule 3: one move at a time, toward the least loaded target.
  if (!in_flight && targets.size() > 1) {
    const std::vector<uint32_t> nodes(targets.begin(), targets.end());
    const uint32_t heavy = *Pick(nodes, *load, /*most=*/true);
    const uint32_t light = *Pick(nodes, *load, /*most=*/false);
    if ((*load)[heavy] - (*load)[light] >= 2) {
      for (int s = 0; s < out.shards_size(); ++s) {
        cpb::ShardAssignment* a = out.mutable_shards(s);
        if (Has(a->replicas(), heavy) && !Has(a->replicas(), light)) {
          a->add_replicas(light);
          ++(*load)[light];
          changed = true;
          break;
        }
      }
    }
  }
  if (!changed) return std::nullopt;
  return out;
}

Balancer::Balancer(ClusterNode* node) : node_(node) {
  thread_ = std::thread([this] { Run(); });
}

Balancer::~Balancer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool Balancer::leading() const {
  absl::MutexLock lock(&mu_);
  return leading_;
}

uint64_t Balancer::changes() const {
  absl::MutexLock lock(&mu_);
  return changes_;
}

void Balancer::Run() {
  auto stopping = [this] {
    absl::MutexLock lock(&mu_);
    return stopping_;
  };
  while (!stopping()) {
    const int64_t lease = node_->lease_id();
    if (lease == 0) {
      absl::SleepFor(absl::Milliseconds(200));
      continue;
    }
    LeaderElection election(node_->etcd(), std::string(kBalancerKey),
                            absl::StrCat(node_->options().node_id), lease);
    absl::StatusOr<int64_t> term = election.Campaign(absl::Seconds(1));
    if (!term.ok()) {
      if (!absl::IsDeadlineExceeded(term.status())) {
        absl::SleepFor(absl::Milliseconds(500));
      }
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      leading_ = true;
    }
    uint64_t seen = 0;
    while (!stopping() && node_->lease_id() == lease) {
      seen = node_->view()->version();
      absl::Status s = Pass(*term, election);
      if (!s.ok()) {
        LogLine(absl::StrCat("balancer (node ", node_->options().node_id,
                             "): ", s.ToString()));
      }
      node_->view()->AwaitChange(seen, absl::Seconds(1));
    }
    {
      absl::MutexLock lock(&mu_);
      leading_ = false;
    }
    election.Resign().IgnoreError();
  }
}

absl::Status Balancer::Pass(int64_t /*term*/, const LeaderElection& election) {
  const std::shared_ptr<const ClusterState> state = node_->view()->state();
  const absl::Time now = absl::Now();
  std::set<uint32_t> live;
  for (const auto& [id, record] : state->nodes) live.insert(id);
  std::set<uint32_t> mapped;
  for (const auto& [name, entry] : state->collections) {
    for (const auto& a : entry.map.shards()) {
      mapped.insert(a.replicas().begin(), a.replicas().end());
    }
  }
  for (uint32_t n : mapped) {
    if (live.count(n)) {
      absent_since_.erase(n);
    } else {
      absent_since_.emplace(n, now);
    }
  }
  std::set<uint32_t> present = live;
  for (const auto& [n, since] : absent_since_) {
    if (now - since < node_->options().replace_after) present.insert(n);
  }
  std::set<uint32_t> draining;
  for (const auto& [n, record] : state->draining) draining.insert(n);
  std::map<uint32_t, int> load;
  for (uint32_t n : live) load[n] = 0;
  for (const auto& [name, entry] : state->collections) {
    for (const auto& a : entry.map.shards()) {
      for (uint32_t n : a.replicas()) {
        if (present.count(n)) ++load[n];
      }
    }
  }
  absl::Status first;
  for (const auto& [name, entry] : state->collections) {
    if (!entry.ready() || !entry.has_map) continue;
    std::vector<std::pair<uint32_t, uint32_t>> removed;
    std::optional<cpb::ShardMap> plan =
        PlanShardMap(entry.map, entry.record.replicas(), live, present,
                     draining, &load, &removed);
    if (!plan) continue;
    const std::string key = ShardMapKey(name);
    absl::StatusOr<TxnResult> txn = node_->etcd()->Txn(
        {election.IsLeader(), Compare::ModRevision(key, Compare::Op::kEqual,
                                                   entry.map_mod_revision)},
        {TxnOp::Put(key, ToJson(*plan))}, {});
    if (!txn.ok()) {
      if (first.ok()) first = txn.status();
      continue;
    }
    if (!txn->succeeded) continue;  // changed meanwhile: the next pass
    {
      absl::MutexLock lock(&mu_);
      ++changes_;
    }
    // The consumers of removed replicas (their nodes may be gone for good).
    for (const auto& [shard, n] : removed) {
      PullConsumer::Delete(node_->jetstream(), StreamName(name),
                           ConsumerName(n, shard))
          .IgnoreError();
    }
  }
  return first;
}

}  // namespace cluster
}  // namespace tqdb
