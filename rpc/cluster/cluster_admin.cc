// ClusterNode's collections: create (etcd Txn, then the stream, then a
// compare-and-swap to ready), drop (mark, delete the stream, delete the
// keys), describe and list.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/log_names.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

constexpr uint32_t kMaxShards = 1024;

// The same collection settings (a create retried after a failure resumes).
bool SameSettings(const cpb::CollectionRecord& a,
                  const cpb::CollectionRecord& b) {
  return a.config().SerializeAsString() == b.config().SerializeAsString() &&
         a.shards() == b.shards() && a.replicas() == b.replicas();
}

const char* StateName(cpb::CollectionRecord::State s) {
  switch (s) {
    case cpb::CollectionRecord::STATE_CREATING:
      return "being created";
    case cpb::CollectionRecord::STATE_DROPPING:
      return "being dropped";
    default:
      return "ready";
  }
}

}  // namespace

absl::StatusOr<::tqdb::v1::CollectionInfo> ClusterNode::CreateCollection(
    const ::tqdb::v1::CreateCollectionRequest& request) {
  TQ_ASSIGN_OR_RETURN(CollectionConfig config, FromProto(request));
  TQ_RETURN_IF_ERROR(ValidateCollectionConfig(&config));
  const std::string& name = config.name;
  const uint32_t shards =
      request.shards() ? request.shards() : options_.default_shards;
  const uint32_t replicas =
      request.replicas() ? request.replicas() : options_.default_replicas;
  if (shards < 1 || shards > kMaxShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("collection '", EchoInput(name), "': shards ", shards,
                     " must be in [1, ", kMaxShards, "]"));
  }
  // The live nodes, read from etcd now rather than from the view.
  TQ_ASSIGN_OR_RETURN(RangeResult live, etcd_->GetPrefix(kNodesPrefix));
  // Nodes being drained take no replica (the balancer would move it).
  TQ_ASSIGN_OR_RETURN(RangeResult drains, etcd_->GetPrefix(kDrainPrefix));
  std::set<std::string> drain_keys;
  for (const KeyValue& kv : drains.kvs) drain_keys.insert(kv.key);
  std::vector<uint32_t> nodes, draining;
  for (const KeyValue& kv : live.kvs) {
    cpb::NodeRecord n;
    if (!FromJson(kv.value, &n, kv.key).ok()) continue;
    (drain_keys.count(DrainKey(n.node_id())) ? draining : nodes)
        .push_back(n.node_id());
  }
  std::sort(nodes.begin(), nodes.end());
  std::sort(draining.begin(), draining.end());
  if (replicas < 1 || replicas > nodes.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", EchoInput(name), "': replicas ", replicas,
        " needs as many live nodes; the cluster has ", nodes.size(), " (",
        absl::StrJoin(nodes, ", "), ")",
        draining.empty() ? ""
                         : absl::StrCat(" besides those being drained (",
                                        absl::StrJoin(draining, ", "), ")")));
  }

  cpb::CollectionRecord record;
  TQ_RETURN_IF_ERROR(ToProto(config, record.mutable_config()));
  record.mutable_config()->clear_shards();
  record.mutable_config()->clear_replicas();
  record.set_shards(shards);
  record.set_replicas(replicas);
  record.set_state(cpb::CollectionRecord::STATE_CREATING);
  record.set_stream_replicas(options_.stream_replicas);
  // Shard s on nodes s, s+1, ... (mod the node count): every node holds
  // about shards * replicas / nodes shards, and no shard twice.
  cpb::ShardMap map;
  for (uint32_t s = 0; s < shards; ++s) {
    cpb::ShardAssignment* a = map.add_shards();
    for (uint32_t j = 0; j < replicas; ++j) {
      const uint32_t node = nodes[(s + j) % nodes.size()];
      a->add_replicas(node);
      a->add_ready(node);  // an empty log: caught up from the start
    }
  }
  const std::string key = CollectionKey(name);
  TQ_ASSIGN_OR_RETURN(
      TxnResult txn,
      etcd_->Txn(
          {Compare::CreateRevision(key, Compare::Op::kEqual, 0),
           Compare::CreateRevision(AliasKey(name), Compare::Op::kEqual, 0)},
          {TxnOp::Put(key, ToJson(record)),
           TxnOp::Put(ShardMapKey(name), ToJson(map))},
          {TxnOp::Get(key), TxnOp::Get(AliasKey(name))}));
  int64_t mod_revision = txn.revision;
  if (!txn.succeeded) {
    cpb::CollectionRecord existing;
    if (txn.results.size() > 1 && !txn.results[1].kvs.empty()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "'", EchoInput(name), "' is an alias: delete the alias first"));
    }
    if (txn.results.empty() || txn.results[0].kvs.empty()) {
      return absl::AbortedError(
          absl::StrCat("collection '", EchoInput(name),
                       "' changed while being created; try again"));
    }
    const KeyValue& kv = txn.results[0].kvs[0];
    TQ_RETURN_IF_ERROR(FromJson(kv.value, &existing, key));
    if (existing.state() != cpb::CollectionRecord::STATE_CREATING ||
        !SameSettings(existing, record)) {
      return absl::AlreadyExistsError(
          absl::StrCat("collection '", EchoInput(name), "' already exists (",
                       StateName(existing.state()), ")"));
    }
    // An earlier create of the same settings stopped half-way: finish it.
    record = existing;
    mod_revision = kv.mod_revision;
  }

  // The log. A stream of the name is a leftover (the record did not exist,
  // and a drop deletes the stream before the record): start afresh.
  const std::string stream = StreamName(name);
  absl::Status deleted = js_->DeleteStream(stream);
  if (!deleted.ok() && !absl::IsNotFound(deleted)) {
    return WithContext(deleted, "collection '", EchoInput(name), "'");
  }
  StreamConfig sc;
  sc.name = stream;
  sc.subjects = {StreamSubjects(name)};
  sc.replicas = record.stream_replicas();
  sc.max_bytes = options_.stream_max_bytes;
  sc.max_age = options_.stream_max_age;
  // JetStream refuses a dedup window longer than the entries live.
  if (sc.max_age > absl::ZeroDuration()) {
    sc.duplicate_window = std::min(sc.duplicate_window, sc.max_age);
  }
  TQ_RETURN_IF_ERROR(js_->EnsureStream(sc)) << "collection '" << name << "'";

  record.set_state(cpb::CollectionRecord::STATE_READY);
  TQ_ASSIGN_OR_RETURN(CasResult cas,
                      etcd_->CompareAndSwap(key, ToJson(record), mod_revision));
  if (!cas.swapped) {
    cpb::CollectionRecord now;
    if (!cas.current.has_value() ||
        !FromJson(cas.current->value, &now, key).ok() ||
        now.state() != cpb::CollectionRecord::STATE_READY) {
      return absl::AbortedError(
          absl::StrCat("collection '", EchoInput(name),
                       "' changed while being created; try again"));
    }
  }
  // Read back through the view, so that a write to this node right after
  // finds the collection.
  view_->AwaitRevision(cas.revision, options_.etcd_timeout);
  return DescribeCollection(name);
}

absl::Status ClusterNode::DropCollection(const std::string& name) {
  const std::string key = CollectionKey(name);
  {
    const std::shared_ptr<const ClusterState> state = view_->state();
    auto a = state->aliases.find(name);
    if (a != state->aliases.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", EchoInput(name), "' is an alias of collection '",
          a->second.collection, "': drop the collection, or delete the alias"));
    }
  }
  for (int attempt = 0;; ++attempt) {
    TQ_ASSIGN_OR_RETURN(std::optional<KeyValue> kv, etcd_->Get(key));
    if (!kv.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("collection '", EchoInput(name), "' not found"));
    }
    cpb::CollectionRecord record;
    TQ_RETURN_IF_ERROR(FromJson(kv->value, &record, key));
    int64_t mod_revision = kv->mod_revision;
    if (record.state() != cpb::CollectionRecord::STATE_DROPPING) {
      // No writes from here on; replicas stop and drop their data.
      record.set_state(cpb::CollectionRecord::STATE_DROPPING);
      TQ_ASSIGN_OR_RETURN(
          CasResult cas,
          etcd_->CompareAndSwap(key, ToJson(record), kv->mod_revision));
      if (!cas.swapped) {
        if (attempt < 3) continue;
        return absl::AbortedError(
            absl::StrCat("collection '", EchoInput(name),
                         "' changed while being dropped; try again"));
      }
      mod_revision = cas.revision;
    }
    absl::Status deleted = js_->DeleteStream(StreamName(name));
    if (!deleted.ok() && !absl::IsNotFound(deleted)) {
      return WithContext(deleted, "collection '", EchoInput(name),
                         "' (marked as being dropped; drop it again to "
                         "finish)");
    }
    // Its aliases go with it. Read from etcd, not the view: once the
    // record says dropping, no alias of it can be created (UpdateAliases
    // compares the record), so this list is complete.
    std::vector<TxnOp> ops = {TxnOp::Delete(key),
                              TxnOp::Delete(ShardMapKey(name))};
    TQ_ASSIGN_OR_RETURN(RangeResult aliases, etcd_->GetPrefix(kAliasesPrefix));
    for (const KeyValue& a : aliases.kvs) {
      cpb::AliasRecord record;
      if (FromJson(a.value, &record, a.key).ok() &&
          record.collection() == name) {
        ops.push_back(TxnOp::Delete(a.key));
      }
    }
    TQ_ASSIGN_OR_RETURN(TxnResult txn,
                        etcd_->Txn({Compare::ModRevision(
                                       key, Compare::Op::kEqual, mod_revision)},
                                   ops, {}));
    if (!txn.succeeded) {
      if (attempt < 3) continue;
      return absl::AbortedError(
          absl::StrCat("collection '", EchoInput(name),
                       "' changed while being dropped; try again"));
    }
    view_->AwaitRevision(txn.revision, options_.etcd_timeout);
    return absl::OkStatus();
  }
}

absl::StatusOr<::tqdb::v1::CollectionInfo> ClusterNode::DescribeCollection(
    const std::string& name) const {
  const std::shared_ptr<const ClusterState> state = view_->state();
  const CollectionEntry* entry = state->Find(name);
  if (entry == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("collection '", EchoInput(name), "' not found"));
  }
  TQ_ASSIGN_OR_RETURN(CollectionConfig config,
                      FromProto(entry->record.config()));
  CollectionInfo info;
  info.config = config;
  ::tqdb::v1::CollectionInfo out;
  ToProto(info, &out);
  out.set_shards(entry->record.shards());
  out.set_replicas(entry->record.replicas());
  return out;
}

std::vector<std::string> ClusterNode::ListCollections() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : view_->state()->collections) {
    if (entry.ready()) names.push_back(name);
  }
  return names;
}

}  // namespace cluster
}  // namespace tqdb
