// ClusterNode's writes: validated, split by shard, published to each
// shard's subject as entries small enough for the NATS servers, and
// acknowledged after JetStream's PubAck for every entry.
#include <algorithm>
#include <future>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/bm25.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/cluster/log_names.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

// Room for the headers (message id) and the entry's own fields.
constexpr int64_t kEntryOverhead = 1024;

absl::StatusOr<const CollectionEntry*> Writable(const ClusterState& state,
                                                const std::string& name) {
  const CollectionEntry* entry = state.Find(name);
  if (entry == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("collection '", EchoInput(name), "' not found"));
  }
  if (!entry->ready() || !entry->has_map) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", EchoInput(name), "' is being created or dropped"));
  }
  return entry;
}

// Publishes every shard's part at once (one thread each; JetStream
// pipelines them on the connection) and waits for all: a write costs about
// one quorum round trip, not one per shard. The first error in shard
// order is the write's.
template <typename Part, typename Publish>
absl::StatusOr<std::vector<::tqdb::v1::ShardSequence>> PublishAll(
    const std::map<uint32_t, Part>& by_shard, Publish publish) {
  std::vector<std::pair<uint32_t, std::future<absl::StatusOr<uint64_t>>>>
      pending;
  for (const auto& [shard, part] : by_shard) {
    if (pending.empty() && by_shard.size() == 1) break;
    pending.emplace_back(
        shard,
        std::async(std::launch::async, [&publish, shard = shard, &part = part] {
          return publish(shard, part);
        }));
  }
  std::vector<::tqdb::v1::ShardSequence> out;
  absl::Status first;
  if (pending.empty()) {  // one shard: no thread
    for (const auto& [shard, part] : by_shard) {
      TQ_ASSIGN_OR_RETURN(uint64_t sequence, publish(shard, part));
      ::tqdb::v1::ShardSequence s;
      s.set_shard(shard);
      s.set_sequence(sequence);
      out.push_back(s);
    }
    return out;
  }
  for (auto& [shard, future] : pending) {
    absl::StatusOr<uint64_t> sequence = future.get();
    if (!sequence.ok()) {
      if (first.ok()) first = sequence.status();
      continue;
    }
    ::tqdb::v1::ShardSequence s;
    s.set_shard(shard);
    s.set_sequence(*sequence);
    out.push_back(s);
  }
  if (!first.ok()) return first;
  return out;
}

absl::Status CheckBatch(size_t n, const char* what, size_t max_batch) {
  if (n <= max_batch) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "batch of ", n, " ", what, " exceeds max_batch ", max_batch));
}

}  // namespace

absl::Status ClusterNode::CheckUpsert(const std::string& collection,
                                      std::vector<Point>* points) const {
  const std::shared_ptr<const ClusterState> state = view_->state();
  TQ_ASSIGN_OR_RETURN(const CollectionEntry* entry,
                      Writable(*state, collection));
  TQ_RETURN_IF_ERROR(
      CheckBatch(points->size(), "points", options_.database.max_batch));
  TQ_ASSIGN_OR_RETURN(CollectionConfig config, LocalConfig(*entry, 0));
  config.name = collection;
  TQ_RETURN_IF_ERROR(ResolvePointTexts(config, points));
  return ValidatePoints(config, options_.database, *points);
}

absl::StatusOr<std::vector<::tqdb::v1::ShardSequence>> ClusterNode::Upsert(
    const std::string& collection, const std::vector<Point>& points,
    bool checked) {
  std::vector<Point> resolved;  // unchecked points, texts resolved
  if (!checked) {
    resolved = points;
    TQ_RETURN_IF_ERROR(CheckUpsert(collection, &resolved));
  }
  const std::vector<Point>& to_write = checked ? points : resolved;
  const std::shared_ptr<const ClusterState> state = view_->state();
  TQ_ASSIGN_OR_RETURN(const CollectionEntry* entry,
                      Writable(*state, collection));
  TQ_RETURN_IF_ERROR(
      CheckBatch(to_write.size(), "points", options_.database.max_batch));
  std::map<uint32_t, std::vector<const Point*>> by_shard;
  for (const Point& p : to_write) {
    by_shard[ShardOf(p.id, entry->record.shards())].push_back(&p);
  }
  return PublishAll(by_shard,
                    [&](uint32_t shard, const std::vector<const Point*>& part) {
                      return PublishShard(*entry, shard, part, {});
                    });
}

absl::StatusOr<std::vector<::tqdb::v1::ShardSequence>> ClusterNode::Delete(
    const std::string& collection, const std::vector<uint64_t>& ids) {
  const std::shared_ptr<const ClusterState> state = view_->state();
  TQ_ASSIGN_OR_RETURN(const CollectionEntry* entry,
                      Writable(*state, collection));
  TQ_RETURN_IF_ERROR(
      CheckBatch(ids.size(), "ids", options_.database.max_batch));
  std::map<uint32_t, std::vector<uint64_t>> by_shard;
  for (uint64_t id : ids) {
    by_shard[ShardOf(id, entry->record.shards())].push_back(id);
  }
  return PublishAll(by_shard,
                    [&](uint32_t shard, const std::vector<uint64_t>& part) {
                      return PublishShard(*entry, shard, {}, part);
                    });
}

absl::StatusOr<ClusterNode::UpdateResult> ClusterNode::Update(
    const std::string& collection, cpb::LogEntry entry, absl::Time deadline) {
  const std::shared_ptr<const ClusterState> state = view_->state();
  TQ_ASSIGN_OR_RETURN(const CollectionEntry* e, Writable(*state, collection));
  entry.set_collection_uid(e->uid);
  // The ids of a payload update by ids (they select the shards), or the
  // points of a vector update.
  google::protobuf::RepeatedField<uint64_t>* ids = nullptr;
  google::protobuf::RepeatedPtrField<::tqdb::v1::Point>* points = nullptr;
  switch (entry.op_case()) {
    case cpb::LogEntry::kSetPayload:
      if (!entry.set_payload().has_filter()) {
        ids = entry.mutable_set_payload()->mutable_ids();
      }
      break;
    case cpb::LogEntry::kOverwritePayload:
      if (!entry.overwrite_payload().has_filter()) {
        ids = entry.mutable_overwrite_payload()->mutable_ids();
      }
      break;
    case cpb::LogEntry::kDeletePayloadKeys:
      if (!entry.delete_payload_keys().has_filter()) {
        ids = entry.mutable_delete_payload_keys()->mutable_ids();
      }
      break;
    case cpb::LogEntry::kUpdateVectors:
      points = entry.mutable_update_vectors()->mutable_points();
      break;
    case cpb::LogEntry::kDeleteFilter:
    case cpb::LogEntry::kCreateFieldIndex:
    case cpb::LogEntry::kDeleteFieldIndex:
      break;
    default:
      return absl::InternalError("ClusterNode::Update: not an update entry");
  }
  std::map<uint32_t, std::string> by_shard;  // the serialized entries
  if (points != nullptr) {
    TQ_RETURN_IF_ERROR(
        CheckBatch(points->size(), "points", options_.database.max_batch));
    std::map<uint32_t, cpb::LogEntry> split;
    for (const ::tqdb::v1::Point& p : *points) {
      cpb::LogEntry& part = split[ShardOf(p.id(), e->record.shards())];
      *part.mutable_update_vectors()->add_points() = p;
    }
    for (auto& [shard, part] : split) {
      part.set_collection_uid(e->uid);
      by_shard[shard] = part.SerializeAsString();
    }
  } else if (ids != nullptr) {
    TQ_RETURN_IF_ERROR(
        CheckBatch(ids->size(), "ids", options_.database.max_batch));
    std::map<uint32_t, std::vector<uint64_t>> split;
    for (uint64_t id : *ids)
      split[ShardOf(id, e->record.shards())].push_back(id);
    for (const auto& [shard, part] : split) {
      ids->Assign(part.begin(), part.end());
      by_shard[shard] = entry.SerializeAsString();
    }
  } else {
    const std::string bytes = entry.SerializeAsString();
    for (uint32_t s = 0; s < e->record.shards(); ++s) by_shard[s] = bytes;
  }
  const int64_t limit = nats_->max_payload() - kEntryOverhead;
  for (const auto& [shard, bytes] : by_shard) {
    if (static_cast<int64_t>(bytes.size()) > limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "collection '", EchoInput(collection), "': the update takes ",
          bytes.size(),
          " bytes in the log; the NATS servers take messages of at most ",
          nats_->max_payload(), " bytes (their max_payload)"));
    }
  }
  UpdateResult out;
  if (by_shard.empty()) return out;  // no ids
  TQ_ASSIGN_OR_RETURN(
      out.sequences,
      PublishAll(by_shard,
                 [&](uint32_t shard,
                     const std::string& bytes) -> absl::StatusOr<uint64_t> {
                   TQ_ASSIGN_OR_RETURN(
                       PubAck ack,
                       js_->Publish(ShardSubject(e->name, shard), bytes,
                                    NextMessageId(), options_.write_timeout));
                   return ack.sequence;
                 }));
  TQ_ASSIGN_OR_RETURN(std::vector<cpb::ShardWriteResult> results,
                      reader_->WriteResults(e->name, out.sequences, deadline));
  for (size_t i = 0; i < results.size(); ++i) {
    const cpb::ShardWriteResult& r = results[i];
    if (r.code() != 0) {
      return absl::Status(
          static_cast<absl::StatusCode>(r.code()),
          absl::StrCat("shard ", out.sequences[i].shard(), ": ", r.message()));
    }
    out.changed += r.changed();
  }
  return out;
}

absl::StatusOr<uint64_t> ClusterNode::PublishShard(
    const CollectionEntry& entry, uint32_t shard,
    const std::vector<const Point*>& points,
    const std::vector<uint64_t>& delete_ids) {
  const std::string subject = ShardSubject(entry.name, shard);
  const int64_t limit = nats_->max_payload() - kEntryOverhead;
  const std::string where =
      absl::StrCat("collection '", entry.name, "' shard ", shard);
  uint64_t last = 0;
  cpb::LogEntry log;
  auto publish = [&]() -> absl::Status {
    log.set_collection_uid(entry.uid);
    const std::string bytes = log.SerializeAsString();
    TQ_ASSIGN_OR_RETURN(
        PubAck ack,
        js_->Publish(subject, bytes, NextMessageId(), options_.write_timeout));
    last = std::max(last, ack.sequence);
    log.Clear();
    return absl::OkStatus();
  };
  if (!delete_ids.empty()) {
    // 8 bytes an id at most: chunks well under the payload limit.
    const size_t per = static_cast<size_t>(std::max<int64_t>(1, limit / 10));
    for (size_t i = 0; i < delete_ids.size(); i += per) {
      const size_t end = std::min(delete_ids.size(), i + per);
      log.mutable_delete_()->mutable_ids()->Add(delete_ids.begin() + i,
                                                delete_ids.begin() + end);
      TQ_RETURN_IF_ERROR(publish()) << where;
    }
    return last;
  }
  int64_t bytes = 0;
  for (const Point* p : points) {
    ::tqdb::v1::Point pp;
    pp.set_id(p->id);
    pp.mutable_vector()->Add(p->vector.begin(), p->vector.end());
    pp.set_payload(p->payload);
    if (!p->sparse.empty()) ToProto(p->sparse, pp.mutable_sparse_vector());
    const int64_t size = static_cast<int64_t>(pp.ByteSizeLong()) + 8;
    if (size > limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": point ", p->id, " takes ", size,
          " bytes in the log; the NATS servers take messages of at most ",
          nats_->max_payload(), " bytes (their max_payload)"));
    }
    if (log.has_upsert() && bytes + size > limit) {
      TQ_RETURN_IF_ERROR(publish()) << where;
      bytes = 0;
    }
    *log.mutable_upsert()->add_points() = std::move(pp);
    bytes += size;
  }
  if (log.has_upsert()) {
    TQ_RETURN_IF_ERROR(publish()) << where;
  }
  return last;
}

}  // namespace cluster
}  // namespace tqdb
