// A cluster's collection aliases (ClusterNode::UpdateAliases): etcd keys
// tqdb/aliases/<alias> (cluster_keys.h), read back through the view, where
// ClusterState::Find takes an alias for its collection on every path.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_node.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

// One call's changes against `state`: the etcd transaction that makes them
// if nothing they depend on changed meanwhile (each alias key touched as
// the view saw it, each collection named still the record the view saw).
struct AliasTxn {
  std::vector<Compare> compares;
  std::vector<TxnOp> ops;
};

absl::StatusOr<AliasTxn> PlanAliases(const ClusterState& state,
                                     const std::vector<AliasChange>& changes) {
  // alias -> collection after the changes (nullopt: deleted).
  std::map<std::string, std::optional<std::string>> touched;
  auto current = [&](const std::string& alias) -> std::optional<std::string> {
    auto t = touched.find(alias);
    if (t != touched.end()) return t->second;
    auto a = state.aliases.find(alias);
    if (a == state.aliases.end()) return std::nullopt;
    return a->second.collection;
  };
  std::map<std::string, int64_t> collections;  // named -> record revision
  for (size_t i = 0; i < changes.size(); ++i) {
    const AliasChange& ch = changes[i];
    const std::string where = absl::StrCat("alias change ", i, ": ");
    if (ch.kind == AliasChange::Kind::kDelete) {
      if (!current(ch.alias).has_value()) {
        return absl::NotFoundError(
            absl::StrCat(where, "alias '", ch.alias, "' not found"));
      }
      touched[ch.alias] = std::nullopt;
      continue;
    }
    if (state.collections.count(ch.alias)) {
      return absl::AlreadyExistsError(
          absl::StrCat(where, "'", ch.alias, "' is the name of a collection"));
    }
    if (std::optional<std::string> now = current(ch.alias)) {
      return absl::AlreadyExistsError(absl::StrCat(
          where, "alias '", ch.alias, "' exists (of collection '", *now,
          "'): delete it first, in the same call to move it at once"));
    }
    auto c = state.collections.find(ch.collection);
    if (c == state.collections.end() || !c->second.ready()) {
      return absl::NotFoundError(absl::StrCat(
          where, "collection '", EchoInput(ch.collection), "' not found",
          state.aliases.count(ch.collection)
              ? " (it is an alias: name a collection)"
              : ""));
    }
    collections[ch.collection] = c->second.mod_revision;
    touched[ch.alias] = ch.collection;
  }
  AliasTxn txn;
  for (const auto& [name, revision] : collections) {
    txn.compares.push_back(Compare::ModRevision(CollectionKey(name),
                                                Compare::Op::kEqual, revision));
  }
  // One operation a key (etcd refuses a key twice in a transaction).
  for (const auto& [alias, collection] : touched) {
    auto a = state.aliases.find(alias);
    const int64_t seen = a == state.aliases.end() ? 0 : a->second.mod_revision;
    txn.compares.push_back(
        Compare::ModRevision(AliasKey(alias), Compare::Op::kEqual, seen));
    if (collection.has_value()) {
      cpb::AliasRecord record;
      record.set_collection(*collection);
      txn.ops.push_back(TxnOp::Put(AliasKey(alias), ToJson(record)));
    } else if (seen != 0) {
      txn.ops.push_back(TxnOp::Delete(AliasKey(alias)));
    }
  }
  return txn;
}

}  // namespace

absl::Status ClusterNode::UpdateAliases(
    const std::vector<AliasChange>& changes) {
  for (int attempt = 0;; ++attempt) {
    const std::shared_ptr<const ClusterState> state = view_->state();
    TQ_ASSIGN_OR_RETURN(AliasTxn plan, PlanAliases(*state, changes));
    if (plan.ops.empty()) return absl::OkStatus();  // e.g. create + delete
    TQ_ASSIGN_OR_RETURN(TxnResult txn, etcd_->Txn(plan.compares, plan.ops, {}));
    if (txn.succeeded) {
      view_->AwaitRevision(txn.revision, options_.etcd_timeout);
      return absl::OkStatus();
    }
    // This node's view was behind etcd, or another call came first: plan
    // again from a view that caught up.
    if (attempt == 3) {
      return absl::AbortedError(
          "the aliases or their collections changed meanwhile; try again");
    }
    TQ_ASSIGN_OR_RETURN(RangeResult now, etcd_->GetPrefix(kAliasesPrefix, 1));
    view_->AwaitRevision(now.revision, options_.etcd_timeout);
  }
}

std::map<std::string, std::string> ClusterNode::ListAliases() const {
  std::map<std::string, std::string> out;
  for (const auto& [alias, entry] : view_->state()->aliases) {
    out[alias] = entry.collection;
  }
  return out;
}

}  // namespace cluster
}  // namespace tqdb
