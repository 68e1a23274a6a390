#include "rpc/cluster/cluster_view.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

// Parses kv's value into *msg, or records why not in state->bad_values.
template <typename Message>
bool ParseValue(const KeyValue& kv, Message* msg, ClusterState* state) {
  absl::Status s = FromJson(kv.value, msg, kv.key);
  if (s.ok()) return true;
  state->bad_values[kv.key] = std::string(s.message());
  return false;
}

}  // namespace

uint32_t MappedReplicas(const ClusterState& state, uint32_t node) {
  uint32_t n = 0;
  for (const auto& [name, entry] : state.collections) {
    for (const auto& a : entry.map.shards()) {
      for (uint32_t r : a.replicas()) n += r == node;
    }
  }
  return n;
}

void ApplyToState(const WatchEvent& event, ClusterState* state) {
  const KeyValue& kv = event.kv;
  const bool put = event.type == WatchEvent::Type::kPut;
  state->revision = std::max(state->revision, kv.mod_revision);
  state->bad_values.erase(kv.key);
  absl::string_view rest = kv.key;
  if (absl::ConsumePrefix(&rest, kNodesPrefix)) {
    uint32_t id = 0;
    if (!absl::SimpleAtoi(rest, &id)) return;
    if (!put) {
      state->nodes.erase(id);
      return;
    }
    cpb::NodeRecord node;
    if (!ParseValue(kv, &node, state)) return;
    state->nodes[id] = std::move(node);
  } else if (absl::ConsumePrefix(&rest, kDrainPrefix)) {
    uint32_t id = 0;
    if (!absl::SimpleAtoi(rest, &id)) return;
    if (!put) {
      state->draining.erase(id);
      return;
    }
    cpb::DrainRecord drain;
    if (!ParseValue(kv, &drain, state)) return;
    state->draining[id] = drain;
  } else if (absl::ConsumePrefix(&rest, kAliasesPrefix)) {
    const std::string alias(rest);
    if (!put) {
      state->aliases.erase(alias);
      return;
    }
    cpb::AliasRecord record;
    if (!ParseValue(kv, &record, state)) return;
    state->aliases[alias] = AliasEntry{record.collection(), kv.mod_revision};
  } else if (absl::ConsumePrefix(&rest, kCollectionsPrefix)) {
    const std::string name(rest);
    if (!put) {
      state->collections.erase(name);
      return;
    }
    cpb::CollectionRecord record;
    if (!ParseValue(kv, &record, state)) return;
    CollectionEntry& e = state->collections[name];
    e.name = name;
    e.record = std::move(record);
    e.uid = kv.create_revision;
    e.mod_revision = kv.mod_revision;
  } else if (absl::ConsumePrefix(&rest, kShardsPrefix)) {
    const std::string name(rest);
    auto it = state->collections.find(name);
    if (!put) {
      if (it != state->collections.end()) {
        it->second.has_map = false;
        it->second.map.Clear();
        it->second.map_mod_revision = 0;
      }
      return;
    }
    cpb::ShardMap map;
    if (!ParseValue(kv, &map, state)) return;
    // The map is written with or after its record (one Txn at creation):
    // a map without a record is a leftover and ignored.
    if (it == state->collections.end()) return;
    it->second.has_map = true;
    it->second.map = std::move(map);
    it->second.map_mod_revision = kv.mod_revision;
  }
}

absl::StatusOr<std::unique_ptr<ClusterView>> ClusterView::Start(
    EtcdClient* client) {
  std::unique_ptr<ClusterView> view(new ClusterView(client));
  TQ_RETURN_IF_ERROR(view->Reload()) << "reading the cluster's state";
  WatchOptions o;
  o.key = std::string(kRootPrefix);
  o.prefix = true;
  o.start_revision = view->state()->revision + 1;
  TQ_ASSIGN_OR_RETURN(view->watch_, EtcdWatch::Start(client, o));
  ClusterView* v = view.get();
  view->thread_ = std::thread([v] { v->Run(); });
  return view;
}

ClusterView::~ClusterView() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status ClusterView::Reload() {
  TQ_ASSIGN_OR_RETURN(RangeResult all, client_->GetPrefix(kRootPrefix));
  auto next = std::make_shared<ClusterState>();
  // Records before maps, whatever the key order.
  for (int pass = 0; pass < 2; ++pass) {
    for (const KeyValue& kv : all.kvs) {
      const bool map = absl::StartsWith(kv.key, kShardsPrefix);
      if (map != (pass == 1)) continue;
      ApplyToState(WatchEvent{WatchEvent::Type::kPut, kv}, next.get());
    }
  }
  next->revision = all.revision;
  Publish(std::move(next));
  return absl::OkStatus();
}

void ClusterView::Publish(std::shared_ptr<ClusterState> next) {
  absl::MutexLock lock(&mu_);
  state_ = std::move(next);
  ++version_;
}

std::shared_ptr<const ClusterState> ClusterView::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

uint64_t ClusterView::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

uint64_t ClusterView::AwaitChange(uint64_t seen, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto changed = [this, seen]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return version_ > seen || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return version_;
}

bool ClusterView::AwaitRevision(int64_t revision, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, revision]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return state_->revision >= revision;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

bool ClusterView::connected() const {
  absl::MutexLock lock(&mu_);
  return watch_->connected();
}

void ClusterView::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::StatusOr<std::vector<WatchEvent>> events =
        watch_->Next(absl::Milliseconds(200));
    if (events.ok()) {
      if (events->empty()) continue;
      auto next = std::make_shared<ClusterState>(*state());
      for (const WatchEvent& e : *events) ApplyToState(e, next.get());
      Publish(std::move(next));
      continue;
    }
    // History compacted or the watch cancelled: read everything again and
    // watch from there. Retried until it works or the view stops.
    for (absl::Duration backoff = absl::Milliseconds(100);;
         backoff = std::min(backoff * 2, absl::Seconds(2))) {
      absl::Status s = Reload();
      if (s.ok()) {
        WatchOptions o;
        o.key = std::string(kRootPrefix);
        o.prefix = true;
        o.start_revision = state()->revision + 1;
        auto watch = EtcdWatch::Start(client_, o);
        if (watch.ok()) {
          std::unique_ptr<EtcdWatch> old;
          absl::MutexLock lock(&mu_);
          old = std::exchange(watch_, std::move(*watch));
          break;
        }
      }
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff)) return;
    }
  }
}

}  // namespace cluster
}  // namespace tqdb
