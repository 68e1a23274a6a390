// ClusterNode: start-up, membership and the reconciler that keeps this
// node's replicas what the shard maps say. Collections: cluster_admin.cc;
// writes: cluster_writer.cc.
#include "rpc/cluster/cluster_node.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "quant/status_macros.h"
#include "rpc/cluster/balancer.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/cluster/log_line.h"
#include "rpc/cluster/log_names.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

constexpr char kNodeIdFile[] = "CLUSTER_NODE_ID";

uint64_t RandomBootId() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd() ^
         static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
}

}  // namespace

ClusterNode::ClusterNode(const ClusterOptions& options, Database* db)
    : options_(options), db_(db), boot_id_(RandomBootId()) {}

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Start(
    const ClusterOptions& options, Database* db) {
  if (db == nullptr) return absl::InvalidArgumentError("cluster: no database");
  if (options.node_id == 0) {
    return absl::InvalidArgumentError("cluster: --node-id must be 1 or more");
  }
  if (options.advertise.empty() ||
      options.advertise.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "cluster: --advertise HOST:PORT is needed (where the other nodes "
        "and clients reach this one)");
  }
  if (options.stream_replicas < 1 || options.stream_replicas > 5) {
    return absl::InvalidArgumentError(
        "cluster: stream replicas must be in [1, 5]");
  }
  std::unique_ptr<ClusterNode> node(new ClusterNode(options, db));
  TQ_RETURN_IF_ERROR(node->Init());
  return node;
}

absl::Status ClusterNode::CheckDataDir() const {
  // A data directory belongs to one node id: its replicas' sequences are
  // that node's consumers' positions.
  const std::filesystem::path file =
      std::filesystem::path(db_->dir()) / kNodeIdFile;
  std::ifstream in(file);
  if (in) {
    std::string line;
    std::getline(in, line);
    uint32_t id = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &id)) {
      return absl::DataLossError(
          absl::StrCat(file.string(), ": not a node id: '", line, "'"));
    }
    if (id != options_.node_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          db_->dir(), " holds the data of cluster node ", id, ", not of node ",
          options_.node_id, " (", file.string(), ")"));
    }
    return absl::OkStatus();
  }
  std::ofstream out(file);
  out << options_.node_id << "\n";
  out.close();
  if (!out) {
    return absl::InternalError(absl::StrCat("cannot write ", file.string()));
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::AwaitJetStream() {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options_.nats_timeout;
  bool reported = false;
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    absl::Status s = js_->AwaitReady(std::min(left, absl::Seconds(10)));
    const absl::Duration waited = absl::Now() - start;
    if (s.ok()) {
      if (reported) {
        LogLine(absl::StrCat(
            "node ", options_.node_id, ": JetStream ready after ",
            absl::FormatDuration(absl::Trunc(waited, absl::Seconds(1)))));
      }
      return s;
    }
    if (absl::Now() >= deadline) return s;
    LogLine(absl::StrCat(
        "node ", options_.node_id, ": still waiting for JetStream after ",
        absl::FormatDuration(absl::Trunc(waited, absl::Seconds(1))),
        " (gives up at ", absl::FormatDuration(options_.nats_timeout),
        "): ", s.message()));
    reported = true;
  }
}

absl::Status ClusterNode::Init() {
  TQ_RETURN_IF_ERROR(CheckDataDir());
  EtcdOptions eo;
  eo.endpoints = options_.etcd_endpoints;
  eo.timeout = options_.etcd_timeout;
  TQ_ASSIGN_OR_RETURN(etcd_, EtcdClient::Connect(eo));
  NatsOptions no;
  no.servers = options_.nats_servers;
  no.name = absl::StrCat("tqdb-node-", options_.node_id);
  TQ_ASSIGN_OR_RETURN(nats_, NatsConnection::Connect(no));
  TQ_ASSIGN_OR_RETURN(js_, JetStream::Create(nats_.get()));
  TQ_RETURN_IF_ERROR(AwaitJetStream());
  {
    TQ_ASSIGN_OR_RETURN(auto lease,
                        LeaseKeeper::Grant(etcd_.get(), options_.lease_ttl));
    absl::MutexLock lock(&mu_);
    lease_ = std::move(lease);
  }
  TQ_RETURN_IF_ERROR(Register());
  TQ_ASSIGN_OR_RETURN(view_, ClusterView::Start(etcd_.get()));
  reader_ = std::make_unique<ClusterReader>(this);
  balancer_ = std::make_unique<Balancer>(this);
  membership_ = std::thread([this] { RunMembership(); });
  reconciler_ = std::thread([this] { RunReconciler(); });
  return absl::OkStatus();
}

ClusterNode::~ClusterNode() {
  balancer_.reset();  // resigns: another node takes over
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reconciler_.joinable()) reconciler_.join();
  if (membership_.joinable()) membership_.join();
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<ShardReplica>>
      replicas;
  std::unique_ptr<LeaseKeeper> lease;
  {
    absl::MutexLock lock(&mu_);
    replicas.swap(replicas_);
    lease = std::move(lease_);
  }
  for (auto& [key, r] : replicas) r->RequestStop();
  replicas.clear();  // joins each
  reader_.reset();
  lease.reset();  // revokes: the node leaves tqdb/nodes/ now
  view_.reset();
  js_.reset();
  nats_.reset();
  etcd_.reset();
}

absl::Status ClusterNode::Register() {
  int64_t lease_id;
  {
    absl::MutexLock lock(&mu_);
    lease_id = lease_->id();
  }
  cpb::NodeRecord record;
  record.set_node_id(options_.node_id);
  record.set_address(options_.advertise);
  record.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  const std::string key = NodeKey(options_.node_id);
  TQ_ASSIGN_OR_RETURN(
      TxnResult txn,
      etcd_->Txn({Compare::CreateRevision(key, Compare::Op::kEqual, 0)},
                 {TxnOp::Put(key, ToJson(record), lease_id)},
                 {TxnOp::Get(key)}));
  if (txn.succeeded) return absl::OkStatus();
  if (!txn.results.empty() && !txn.results[0].kvs.empty()) {
    const KeyValue& kv = txn.results[0].kvs[0];
    cpb::NodeRecord other;
    if (FromJson(kv.value, &other, key).ok() &&
        other.address() != options_.advertise) {
      return absl::AlreadyExistsError(
          absl::StrCat("cluster: node id ", options_.node_id,
                       " is registered by ", other.address(),
                       " (alive: its lease holds); pick another "
                       "--node-id or stop that node"));
    }
  }
  // This node's own earlier registration (a restart within the lease TTL,
  // or a lease lost while etcd was away): take it over.
  TQ_RETURN_IF_ERROR(etcd_->Put(key, ToJson(record), lease_id).status());
  return absl::OkStatus();
}

void ClusterNode::RunMembership() {
  absl::Duration backoff = absl::Milliseconds(100);
  for (;;) {
    LeaseKeeper* lease;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      lease = lease_.get();
    }
    if (lease != nullptr && !lease->AwaitLost(absl::Milliseconds(500))) {
      continue;
    }
    // Lost (etcd away for a whole TTL, or revoked): a new lease, and the
    // registration again, until it works.
    LogLine(absl::StrCat("node ", options_.node_id, ": registration lost (",
                         lease ? lease->status().ToString() : "no lease",
                         "); registering again"));
    auto fresh = LeaseKeeper::Grant(etcd_.get(), options_.lease_ttl);
    if (fresh.ok()) {
      std::unique_ptr<LeaseKeeper> old;
      {
        absl::MutexLock lock(&mu_);
        old = std::exchange(lease_, std::move(*fresh));
      }
      old.reset();
      if (Register().ok()) {
        backoff = absl::Milliseconds(100);
        continue;
      }
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

absl::StatusOr<CollectionConfig> ClusterNode::LocalConfig(
    const CollectionEntry& entry, uint32_t shard) const {
  TQ_ASSIGN_OR_RETURN(CollectionConfig c, FromProto(entry.record.config()));
  c.name = LocalName(entry.uid, shard);
  return c;
}

void ClusterNode::RunReconciler() {
  uint64_t seen = 0;
  absl::Duration backoff = absl::Milliseconds(100);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const uint64_t version = view_->version();
    absl::Status s = Reconcile();
    if (s.ok()) s = MarkReady();
    {
      absl::MutexLock lock(&mu_);
      reconcile_error_ = s.ok() ? "" : s.ToString();
    }
    if (!s.ok()) {
      LogLine(absl::StrCat("node ", options_.node_id, ": ", s.ToString()));
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(100);
    seen = version;
    // News from etcd, or a periodic pass.
    view_->AwaitChange(seen, absl::Milliseconds(500));
  }
}

absl::Status ClusterNode::Reconcile() {
  const std::shared_ptr<const ClusterState> state = view_->state();
  // What this node should hold: (collection, shard) -> its entry.
  std::map<std::pair<std::string, uint32_t>, const CollectionEntry*> desired;
  std::set<std::string> desired_local;
  for (const auto& [name, entry] : state->collections) {
    if (!entry.ready() || !entry.has_map) continue;
    for (int s = 0; s < entry.map.shards_size(); ++s) {
      const auto& replicas = entry.map.shards(s).replicas();
      if (std::find(replicas.begin(), replicas.end(), options_.node_id) ==
          replicas.end()) {
        continue;
      }
      desired[{name, static_cast<uint32_t>(s)}] = &entry;
      desired_local.insert(LocalName(entry.uid, static_cast<uint32_t>(s)));
    }
  }
  // Replicas no longer wanted (collection dropped, created anew, or the
  // shard moved away): stopped together, then their data dropped.
  std::vector<std::shared_ptr<ShardReplica>> gone;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      auto d = desired.find(it->first);
      if (d != desired.end() && d->second->uid == it->second->spec().uid) {
        ++it;
        continue;
      }
      gone.push_back(it->second);
      it = replicas_.erase(it);
    }
  }
  for (auto& r : gone) r->RequestStop();
  absl::Status first;
  for (auto& r : gone) {
    // Its thread ended before its consumer is deleted: a fetch in flight on
    // a consumer deleted under it ended in "Consumer Deleted" and then a
    // heap corruption in the node (cluster_sh_e2e, a drain).
    r->Stop();
    const std::string local = r->local()->config().name;
    // Its consumer too (best effort: the stream may be gone with the
    // collection).
    PullConsumer::Delete(js_.get(), StreamName(r->spec().collection),
                         ConsumerName(options_.node_id, r->spec().shard))
        .IgnoreError();
    r.reset();
    absl::Status s = db_->DropCollection(local);
    if (!s.ok() && !absl::IsNotFound(s) && first.ok()) first = s;
  }
  // Local shard collections nothing wants (dropped while this node was
  // down).
  for (const std::string& name : db_->ListCollections()) {
    if (!ParseLocalName(name).has_value() || desired_local.count(name)) {
      continue;
    }
    absl::Status s = db_->DropCollection(name);
    if (!s.ok() && !absl::IsNotFound(s) && first.ok()) first = s;
  }
  // Replicas wanted and not running yet.
  for (const auto& [key, entry] : desired) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return first;
      if (replicas_.count(key)) continue;
    }
    const std::string local = LocalName(entry->uid, key.second);
    auto coll = db_->GetCollection(local);
    if (absl::IsNotFound(coll.status())) {
      auto config = LocalConfig(*entry, key.second);
      absl::Status s = config.status();
      if (s.ok()) s = db_->CreateCollection(*config).status();
      if (!s.ok() && !absl::IsAlreadyExists(s)) {
        if (first.ok()) {
          first =
              WithContext(s, "collection '", key.first, "' shard ", key.second);
        }
        continue;
      }
      coll = db_->GetCollection(local);
    }
    if (!coll.ok()) {
      if (first.ok()) first = coll.status();
      continue;
    }
    ReplicaSpec spec;
    spec.collection = key.first;
    spec.uid = entry->uid;
    spec.shard = key.second;
    spec.node_id = options_.node_id;
    spec.max_batch = options_.database.max_batch;
    auto replica = std::make_shared<ShardReplica>(
        js_.get(), spec, *coll, [this](const ReplicaSpec& s, uint64_t applied) {
          return PeerCopy(s, applied);
        });
    absl::MutexLock lock(&mu_);
    replicas_[key] = std::move(replica);
  }
  return first;
}

absl::Status ClusterNode::MarkReady() {
  const std::shared_ptr<const ClusterState> state = view_->state();
  for (const auto& [name, entry] : state->collections) {
    if (!entry.ready() || !entry.has_map) continue;
    for (int s = 0; s < entry.map.shards_size(); ++s) {
      const auto& a = entry.map.shards(s);
      const auto has = [](const auto& ids, uint32_t n) {
        return std::find(ids.begin(), ids.end(), n) != ids.end();
      };
      if (!has(a.replicas(), options_.node_id)) continue;
      std::shared_ptr<ShardReplica> r = Replica(name, static_cast<uint32_t>(s));
      if (r == nullptr || r->spec().uid != entry.uid) continue;
      // (The replica was made from this map or an older one: ready here is
      // its readiness, or the one it had before this node restarted.)
      if (has(a.ready(), options_.node_id)) {
        r->MarkCaughtUp();
        continue;
      }
      TQ_ASSIGN_OR_RETURN(
          uint64_t last,
          js_->LastSequence(StreamName(name),
                            ShardSubject(name, static_cast<uint32_t>(s))));
      if (r->applied() < last) continue;  // still catching up
      r->MarkCaughtUp();
      cpb::ShardMap map = entry.map;
      map.mutable_shards(s)->add_ready(options_.node_id);
      const std::string key = ShardMapKey(name);
      TQ_ASSIGN_OR_RETURN(
          TxnResult txn,
          etcd_->Txn({Compare::ModRevision(key, Compare::Op::kEqual,
                                           entry.map_mod_revision)},
                     {TxnOp::Put(key, ToJson(map))}, {}));
      if (txn.succeeded) {
        LogLine(absl::StrCat("node ", options_.node_id, ": collection '", name,
                             "' shard ", s, " caught up (sequence ",
                             r->applied(), "), ready"));
      }
      // One change per map per pass: the next one reads the new revision.
      break;
    }
  }
  return absl::OkStatus();
}

int64_t ClusterNode::lease_id() const {
  absl::MutexLock lock(&mu_);
  return lease_ && !lease_->lost() ? lease_->id() : 0;
}

bool ClusterNode::balancing() const {
  return balancer_ != nullptr && balancer_->leading();
}

std::shared_ptr<ShardReplica> ClusterNode::Replica(
    const std::string& collection, uint32_t shard) const {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find({collection, shard});
  return it == replicas_.end() ? nullptr : it->second;
}

void ClusterNode::Status(cpb::NodeStatusResponse* out) const {
  out->set_node_id(options_.node_id);
  out->set_address(options_.advertise);
  out->set_etcd_connected(view_->connected());
  out->set_nats_connected(nats_->connected());
  std::vector<std::shared_ptr<ShardReplica>> replicas;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, r] : replicas_) replicas.push_back(r);
  }
  // JetStream's view of each consumer costs a request, which waits up to
  // the API timeout (5 s) when JetStream is slow to answer: CI saw `tqdb
  // cluster status` pass its 30 s deadline on a node whose requests were
  // timing out (2026-12-06). The lookups share kStatusLookupTime.
  const absl::Time lookups_end = absl::Now() + kStatusLookupTime;
  for (const auto& r : replicas) {
    cpb::ReplicaStatus* s = out->add_replicas();
    s->set_collection(r->spec().collection);
    s->set_shard(r->spec().shard);
    s->set_local_name(r->local()->config().name);
    s->set_applied_sequence(r->applied());
    s->set_count(r->local()->Count());
    s->set_copies_taken(static_cast<uint32_t>(r->rebuilds()));
    s->set_taking_copy(r->rebuilding());
    auto info = r->local()->Info();
    s->set_trained(info.ok() && info->trained);
    s->set_last_error(r->last_error());
    s->set_sessions(r->sessions());
    s->set_fetches(r->fetches());
    s->set_entries_received(r->received());
    const absl::Duration left = lookups_end - absl::Now();
    if (left <= absl::ZeroDuration()) {
      s->set_consumer_error(
          absl::StrCat("not looked up: this status call's ",
                       absl::FormatDuration(kStatusLookupTime),
                       " for JetStream lookups were spent"));
      continue;
    }
    auto consumer = PullConsumer::Lookup(
        js_.get(), StreamName(r->spec().collection),
        ConsumerName(options_.node_id, r->spec().shard), left);
    if (!consumer.ok()) s->set_consumer_error(consumer.status().ToString());
    if (consumer.ok() && consumer->has_value()) {
      s->set_consumer_delivered((*consumer)->delivered_sequence);
      s->set_consumer_ack_floor((*consumer)->ack_floor);
      s->set_consumer_pending((*consumer)->pending);
      s->set_consumer_ack_pending((*consumer)->ack_pending);
    }
  }
  for (const std::string& name : db_->ListCollections()) {
    if (ParseLocalName(name).has_value()) out->add_local_collections(name);
  }
  const std::shared_ptr<const ClusterState> state = view_->state();
  std::map<uint32_t, cpb::NodeStatusResponse::NodeSummary> nodes;
  auto summary = [&](uint32_t id) -> cpb::NodeStatusResponse::NodeSummary& {
    auto& n = nodes[id];
    n.set_node_id(id);
    return n;
  };
  for (const auto& [id, record] : state->nodes) {
    summary(id).set_address(record.address());
    summary(id).set_live(true);
  }
  for (const auto& [id, record] : state->draining) {
    summary(id).set_draining(true);
  }
  for (const auto& [name, entry] : state->collections) {
    for (const auto& a : entry.map.shards()) {
      for (uint32_t id : a.replicas()) {
        auto& n = summary(id);
        n.set_mapped_replicas(n.mapped_replicas() + 1);
      }
      for (uint32_t id : a.ready()) {
        auto& n = summary(id);
        n.set_ready_replicas(n.ready_replicas() + 1);
      }
    }
  }
  // This node's own line, also in the response's top-level fields.
  const auto self = nodes.find(options_.node_id);
  if (self != nodes.end()) {
    out->set_draining(self->second.draining());
    out->set_mapped_replicas(self->second.mapped_replicas());
  }
  for (auto& [id, n] : nodes) *out->add_nodes() = std::move(n);
}

std::string ClusterNode::NextMessageId() {
  return absl::StrCat("n", options_.node_id, "-", absl::Hex(boot_id_), "-",
                      next_message_.fetch_add(1));
}

}  // namespace cluster
}  // namespace tqdb
