// Snapshots of a cluster's collections (ClusterNode::Snapshot): every
// shard's points, copied from one ready replica each (Shards.Copy), loaded
// into a single server's database beside the snapshot, which is then
// snapshotted as a single server's is (Database::CreateSnapshot). So a
// cluster's snapshot is the same kind of directory as a single server's:
// `tqdb serve --restore` serves it, `tqdb snapshots restore` loads it into
// any server or cluster.
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/log_line.h"
#include "rpc/cluster/log_names.h"
#include "rpc/cluster/read_method.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {
namespace {

namespace fs = std::filesystem;

// The collections a snapshot holds: the one named (or aliased), or every
// one (the cluster's ready ones; none is an empty snapshot).
absl::StatusOr<std::vector<const CollectionEntry*>> SnapshotEntries(
    const ClusterState& state, const std::string& collection) {
  std::vector<const CollectionEntry*> out;
  if (!collection.empty()) {
    TQ_ASSIGN_OR_RETURN(const CollectionEntry* entry,
                        read_method::Readable(state, collection));
    out.push_back(entry);
    return out;
  }
  for (const auto& [name, entry] : state.collections) {
    if (entry.ready() && entry.has_map) out.push_back(&entry);
  }
  return out;
}

// Loads `entry`'s points, shard after shard, into a collection of the same
// name and settings in `db`, each shard from a replica that applied its
// sequence in `last`, with the shards' payload indexes; trains it
// when it holds as many points as its settings train at (as a single
// server would have).
absl::Status CopyCollection(ClusterNode* node, const CollectionEntry& entry,
                            const std::vector<uint64_t>& last, Database* db) {
  TQ_ASSIGN_OR_RETURN(CollectionConfig config,
                      FromProto(entry.record.config()));
  config.name = entry.name;
  if (!config.store_vectors) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", entry.name,
        "' keeps no raw vectors (store_vectors false): its codes alone "
        "cannot be copied into a snapshot"));
  }
  TQ_RETURN_IF_ERROR(db->CreateCollection(config).status());
  TQ_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c,
                      db->GetCollection(entry.name));
  std::map<std::string, FieldType> indexes;
  std::vector<std::string> sequences;
  for (int s = 0; s < entry.map.shards_size(); ++s) {
    const uint32_t shard = static_cast<uint32_t>(s);
    TQ_ASSIGN_OR_RETURN(
        std::unique_ptr<ShardCopy> copy,
        node->ReadyCopy(entry.name, entry.uid, shard, last[shard]));
    // The shard's payload indexes before its points (indexed as they come).
    for (const FieldIndexInfo& f : copy->field_indexes()) {
      if (!indexes.emplace(f.field, f.type).second) continue;
      TQ_RETURN_IF_ERROR(c->CreateFieldIndex(f.field, f.type, false).status())
          << "payload index '" << f.field << "' of shard " << shard;
    }
    for (;;) {
      absl::StatusOr<std::vector<Point>> page = copy->Next();
      if (!page.ok()) {
        return WithContext(page.status(), "copying shard ", shard);
      }
      if (page->empty()) break;
      TQ_RETURN_IF_ERROR(c->Upsert(*page, false));
    }
    sequences.push_back(absl::StrCat(shard, " at ", copy->applied_sequence()));
  }
  for (const auto& [field, type] : indexes) {
    TQ_RETURN_IF_ERROR(c->CreateFieldIndex(field, type, true).status());
  }
  const uint64_t threshold = c->config().train_threshold;
  if (threshold > 0 && c->Count() >= threshold) {
    TQ_RETURN_IF_ERROR(c->Train());
  }
  LogLine(absl::StrCat("node ", node->options().node_id,
                       ": snapshot of collection '", entry.name,
                       "': ", c->Count(), " points; shards at sequences ",
                       absl::StrJoin(sequences, ", ")));
  return absl::OkStatus();
}

}  // namespace

absl::Status ClusterNode::Snapshot(const std::string& collection,
                                   const std::string& target_dir) {
  const std::shared_ptr<const ClusterState> state = view_->state();
  TQ_ASSIGN_OR_RETURN(std::vector<const CollectionEntry*> entries,
                      SnapshotEntries(*state, collection));
  // Each shard's last entry now: its copy holds it (and what came before).
  std::vector<std::vector<uint64_t>> last(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const CollectionEntry& e = *entries[i];
    for (int s = 0; s < e.map.shards_size(); ++s) {
      TQ_ASSIGN_OR_RETURN(
          uint64_t seq,
          js_->LastSequence(StreamName(e.name),
                            ShardSubject(e.name, static_cast<uint32_t>(s))));
      last[i].push_back(seq);
    }
  }
  std::error_code ec;
  if (fs::exists(target_dir, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat("snapshot directory ", target_dir, " exists"));
  }
  // The database the shards are loaded into, beside the snapshot (the
  // same file system: the snapshot hard-links its table files).
  const std::string loading = target_dir + ".loading";
  // Interrupted attempts' (a crash midway): snapshots are made one at a
  // time (SnapshotsService), so any other is stale.
  for (const auto& e :
       fs::directory_iterator(fs::path(target_dir).parent_path(), ec)) {
    if (absl::EndsWith(e.path().filename().string(), ".loading")) {
      fs::remove_all(e.path(), ec);
    }
  }
  DatabaseOptions o = options_.database;
  o.create_if_missing = true;
  o.background_training = false;  // trained once, when loaded
  absl::Status s = [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                        Database::Open(loading, o));
    for (size_t i = 0; i < entries.size(); ++i) {
      TQ_RETURN_IF_ERROR(CopyCollection(this, *entries[i], last[i], db.get()));
    }
    // (By its own name: the loaded database has no aliases.)
    TQ_RETURN_IF_ERROR(db->CreateSnapshot(
        target_dir, collection.empty() ? "" : entries[0]->name));
    return db->Close();
  }();
  fs::remove_all(loading, ec);
  if (!s.ok()) {
    fs::remove_all(target_dir, ec);  // made by this call, if at all
    return WithContext(s, "snapshot of ",
                       collection.empty()
                           ? std::string("every collection")
                           : absl::StrCat("collection '", collection, "'"));
  }
  return absl::OkStatus();
}

}  // namespace cluster
}  // namespace tqdb
