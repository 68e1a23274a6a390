// CollectionImpl's payload updates (SetPayload, OverwritePayload,
// DeletePayloadKeys) and payload indexes (CreateFieldIndex,
// DeleteFieldIndex, and the background thread that builds a new index over
// the points already stored, a chunk at a time under the write lock, so
// that writes go on between chunks).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/rocks_util.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

using dbformat::PointKey;
using dbformat::Prefix;

namespace {

// Points a backfill chunk indexes under the write lock (a few ms of JSON
// parsing: what a concurrent write may wait).
constexpr size_t kBackfillChunk = 1000;

absl::StatusOr<nlohmann::json> JsonObject(const std::string& payload) {
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError("payload is not valid JSON");
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError("payload is not a JSON object");
  }
  return j;
}

}  // namespace

// ------------------------------------------------------------ payload edits

absl::StatusOr<size_t> CollectionImpl::EditPayloads(const PointSelector& points,
                                                    const PayloadEdit& edit,
                                                    bool wait) {
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  TQ_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, SelectIds(points));
  const size_t chunk = std::max<size_t>(1, core_->options.max_filter_batch);
  size_t changed = 0;
  for (size_t at = 0; at < ids.size(); at += chunk) {
    std::vector<uint64_t> live;
    for (size_t i = at; i < std::min(ids.size(), at + chunk); ++i) {
      if (payload_index_.Find(ids[i]) != kNoIid) live.push_back(ids[i]);
    }
    std::vector<std::string> keys(live.size());
    for (size_t i = 0; i < live.size(); ++i) keys[i] = PointKey(cid_, live[i]);
    std::vector<rocksdb::PinnableSlice> vals;
    std::vector<bool> found;
    TQ_RETURN_IF_ERROR(MultiGet(core_->db, rocksdb::ReadOptions(),
                                core_->payload(), keys, &vals, &found,
                                core_->dir + ": payload"));
    std::vector<uint64_t> upd;
    std::vector<std::string> payloads;
    for (size_t i = 0; i < live.size(); ++i) {
      const std::string old = found[i] ? vals[i].ToString() : std::string();
      std::string now;
      TQ_RETURN_IF_ERROR(edit(live[i], old, found[i], &now));
      if (found[i] && now == old) continue;
      if (now.size() > core_->options.max_payload_bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("point ", live[i], ": payload of ", now.size(),
                         " bytes would exceed max_payload_bytes ",
                         core_->options.max_payload_bytes));
      }
      upd.push_back(live[i]);
      payloads.push_back(std::move(now));
    }
    if (upd.empty()) continue;
    const auto schema = payload_index_.Schema();
    std::vector<std::vector<FieldValues>> values(upd.size());
    std::vector<std::vector<FieldValues>> old_values;
    rocksdb::WriteBatch batch;
    IndexEdits edits;
    if (!schema.empty()) old_values = payload_index_.Current(upd);
    for (size_t i = 0; i < upd.size(); ++i) {
      batch.Put(core_->payload(), PointKey(cid_, upd[i]), payloads[i]);
      if (schema.empty()) continue;
      const nlohmann::json j =
          nlohmann::json::parse(payloads[i], nullptr, false);
      values[i] = payload_index_.Extract(j.is_discarded() ? nullptr : &j);
      IndexWrites(schema, upd[i], old_values[i], values[i], &edits);
    }
    edits.AddTo(core_->payload_index(), &batch);
    rocksdb::WriteOptions wo;
    wo.sync = wait;
    TQ_RETURN_IF_ERROR(FromRocks(core_->db->Write(wo, &batch),
                                 core_->dir + ": payload update"));
    payload_index_.Upsert(upd, values);
    payload_index_.EndWrite();
    changed += upd.size();
  }
  return changed;
}

absl::StatusOr<size_t> CollectionImpl::SetPayload(const PointSelector& points,
                                                  const std::string& payload,
                                                  bool wait) {
  TQ_LIFE_GUARD();
  TQ_ASSIGN_OR_RETURN(const nlohmann::json add, JsonObject(payload));
  return EditPayloads(
      points,
      [&](uint64_t id, const std::string& old, bool has_old,
          std::string* now) -> absl::Status {
        if (!has_old) {
          *now = add.dump();
          return absl::OkStatus();
        }
        nlohmann::json j = nlohmann::json::parse(old, nullptr, false);
        if (!j.is_object()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "point ", id,
              ": its payload is not a JSON object, so keys cannot be merged "
              "into it (OverwritePayload replaces it)"));
        }
        for (const auto& [k, v] : add.items()) j[k] = v;
        *now = j.dump();
        return absl::OkStatus();
      },
      wait);
}

absl::StatusOr<size_t> CollectionImpl::OverwritePayload(
    const PointSelector& points, const std::string& payload, bool wait) {
  TQ_LIFE_GUARD();
  TQ_RETURN_IF_ERROR(JsonObject(payload).status());
  return EditPayloads(
      points,
      [&](uint64_t, const std::string&, bool, std::string* now) {
        *now = payload;
        return absl::OkStatus();
      },
      wait);
}

absl::StatusOr<size_t> CollectionImpl::DeletePayloadKeys(
    const PointSelector& points, const std::vector<std::string>& keys,
    bool wait) {
  TQ_LIFE_GUARD();
  if (keys.empty()) return absl::InvalidArgumentError("keys: none given");
  std::vector<std::vector<std::string>> paths;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto p = JsonPath::Parse(keys[i]);
    TQ_RETURN_IF_ERROR(p.status()) << "keys[" << i << "]";
    paths.push_back(p->Members());
    if (paths.back().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keys[", i, "]: '", keys[i],
          "': array steps ([] or [N]) are not supported in payload keys"));
    }
  }
  return EditPayloads(
      points,
      [&](uint64_t, const std::string& old, bool has_old, std::string* now) {
        *now = old;
        if (!has_old) return absl::OkStatus();
        nlohmann::json j = nlohmann::json::parse(old, nullptr, false);
        if (!j.is_object()) return absl::OkStatus();
        bool changed = false;
        for (const auto& path : paths) {
          nlohmann::json* cur = &j;
          for (size_t s = 0; s + 1 < path.size() && cur != nullptr; ++s) {
            auto it = cur->is_object() ? cur->find(path[s]) : cur->end();
            cur = cur->is_object() && it != cur->end() ? &*it : nullptr;
          }
          if (cur != nullptr && cur->is_object()) {
            changed |= cur->erase(path.back()) > 0;
          }
        }
        if (changed) *now = j.dump();
        return absl::OkStatus();
      },
      wait);
}

// ---------------------------------------------------------- payload indexes

absl::StatusOr<FieldIndexInfo> CollectionImpl::FieldInfo(
    const std::string& field) const {
  for (const FieldIndexState& f : payload_index_.Fields()) {
    if (f.field != field) continue;
    FieldIndexInfo i;
    i.field = f.field;
    i.type = f.type;
    i.ready = f.ready;
    i.points = f.points;
    i.memory_bytes = f.memory_bytes;
    return i;
  }
  return absl::NotFoundError(absl::StrCat(
      "field '", field, "' has no index in collection '", config_.name, "'"));
}

absl::StatusOr<FieldIndexInfo> CollectionImpl::CreateFieldIndex(
    const std::string& field, FieldType type, bool wait) {
  TQ_LIFE_GUARD();
  TQ_RETURN_IF_ERROR(JsonPath::Parse(field).status()) << "field";
  if (!IsFieldType(type)) {
    return absl::InvalidArgumentError("unknown field index type");
  }
  {
    absl::MutexLock wl(&write_mu_);
    if (dropped_) return DroppedError();
    FieldType existing;
    if (payload_index_.TypeOf(field, &existing)) {
      if (existing != type) {
        return absl::AlreadyExistsError(absl::StrCat(
            "field '", field, "' already has a ", FieldTypeName(existing),
            " index (delete it first to index the field as ",
            FieldTypeName(type), ")"));
      }
    } else {
      dbformat::FieldIndexRecord rec;
      rec.field = field;
      rec.type = type;
      rec.ready = count_.load() == 0;  // nothing to build
      rocksdb::WriteOptions wo;
      wo.sync = true;
      TQ_RETURN_IF_ERROR(
          FromRocks(core_->db->Put(wo, core_->meta(),
                                   dbformat::FieldIndexKey(cid_, field),
                                   dbformat::EncodeFieldIndexRecord(rec)),
                    core_->dir + ": create field index"));
      TQ_RETURN_IF_ERROR(payload_index_.AddField(field, type, rec.ready));
      if (!rec.ready) {
        absl::MutexLock l(&bg_mu_);
        backfills_.push_back(field);
        index_errors_.erase(field);
        StartIndexer();
      }
    }
  }
  if (wait) {
    absl::MutexLock l(&bg_mu_);
    for (;;) {
      TQ_ASSIGN_OR_RETURN(FieldIndexInfo info, FieldInfo(field));
      if (info.ready) return info;
      auto err = index_errors_.find(field);
      if (err != index_errors_.end()) {
        return absl::InternalError(
            absl::StrCat("building the index of '", field, "': ", err->second));
      }
      if (stop_ || core_->closing) {
        return absl::CancelledError(absl::StrCat(
            "building the index of '", field,
            "' stopped (database closing); it resumes when it opens"));
      }
      if (!indexer_running_) StartIndexer();
      index_done_.Wait(&bg_mu_);
    }
  }
  return FieldInfo(field);
}

absl::Status CollectionImpl::DeleteFieldIndex(const std::string& field) {
  TQ_LIFE_GUARD();
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  FieldType type;
  if (!payload_index_.TypeOf(field, &type)) {
    return absl::NotFoundError(absl::StrCat(
        "field '", field, "' has no index in collection '", config_.name, "'"));
  }
  rocksdb::WriteBatch batch;
  batch.Delete(core_->meta(), dbformat::FieldIndexKey(cid_, field));
  batch.DeleteRange(core_->payload_index(),
                    dbformat::FieldEntriesBegin(cid_, field),
                    dbformat::FieldEntriesEnd(cid_, field));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  TQ_RETURN_IF_ERROR(FromRocks(core_->db->Write(wo, &batch),
                               core_->dir + ": delete field index"));
  payload_index_.DropField(field);
  absl::MutexLock l(&bg_mu_);
  index_errors_.erase(field);
  return absl::OkStatus();
}

void CollectionImpl::StartIndexer() {
  if (indexer_running_ || stop_ || core_->closing || backfills_.empty()) {
    return;
  }
  if (indexer_.joinable()) indexer_.join();  // finished
  indexer_running_ = true;
  indexer_ = std::thread([this] { IndexerLoop(); });
}

void CollectionImpl::IndexerLoop() {
  for (;;) {
    std::string field;
    {
      absl::MutexLock l(&bg_mu_);
      if (backfills_.empty() || stop_ || core_->closing) {
        indexer_running_ = false;
        index_done_.SignalAll();
        return;
      }
      field = backfills_.front();
    }
    uint64_t next = 0;
    bool done = false;
    absl::Status s;
    while (!done && !stop_ && !core_->closing) {
      s = BackfillChunk(field, &next, &done);
      if (!s.ok()) break;
    }
    absl::MutexLock l(&bg_mu_);
    if (!done && s.ok()) continue;  // stopping: the loop head ends it
    if (!backfills_.empty() && backfills_.front() == field) {
      backfills_.pop_front();
    }
    if (!s.ok()) index_errors_[field] = s.ToString();
    index_done_.SignalAll();
  }
}

absl::Status CollectionImpl::BackfillChunk(const std::string& field,
                                           uint64_t* next, bool* done) {
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  FieldType type;
  if (!payload_index_.TypeOf(field, &type)) {  // deleted meanwhile
    *done = true;
    return absl::OkStatus();
  }
  TQ_ASSIGN_OR_RETURN(JsonPath path, JsonPath::Parse(field));
  std::vector<uint64_t> ids;
  std::vector<FieldValues> values;
  {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    RangeIterator it(core_->db, core_->payload(), ro, PointKey(cid_, *next),
                     Prefix(cid_ + 1));
    for (; it->Valid() && ids.size() < kBackfillChunk; it->Next()) {
      if (it->key().size() != dbformat::kPointKeySize) {
        return absl::DataLossError(
            absl::StrCat(core_->dir, ": column family 'payload' has a key of ",
                         it->key().size(), " bytes"));
      }
      ids.push_back(dbformat::GetBig64(it->key().data() + 4));
      const nlohmann::json j =
          nlohmann::json::parse(ToStringView(it->value()), nullptr, false);
      values.push_back(
          ExtractField(j.is_discarded() ? nullptr : &j, path, type));
    }
    TQ_RETURN_IF_ERROR(FromRocks(it->status(), core_->dir + ": payload"));
    *done = ids.size() < kBackfillChunk;
  }
  const auto schema = payload_index_.Schema();
  size_t f = 0;
  while (f < schema.size() && schema[f].first != field) ++f;
  const std::vector<std::pair<std::string, FieldType>> one = {{field, type}};
  const auto current = payload_index_.Current(ids);
  rocksdb::WriteBatch batch;
  IndexEdits edits;
  for (size_t i = 0; i < ids.size(); ++i) {
    IndexWrites(one, ids[i], {current[i][f]}, {values[i]}, &edits);
  }
  edits.AddTo(core_->payload_index(), &batch);
  rocksdb::WriteOptions wo;
  if (*done) {
    dbformat::FieldIndexRecord rec;
    rec.field = field;
    rec.type = type;
    rec.ready = true;
    batch.Put(core_->meta(), dbformat::FieldIndexKey(cid_, field),
              dbformat::EncodeFieldIndexRecord(rec));
    wo.sync = true;
  }
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Write(wo, &batch),
                core_->dir + ": building the index of '" + field + "'"));
  payload_index_.SetField(field, ids, values);
  if (*done) payload_index_.MarkReady(field);
  if (!ids.empty()) {
    if (ids.back() == UINT64_MAX) *done = true;  // (no batch after it)
    *next = ids.back() + 1;
  }
  return absl::OkStatus();
}

}  // namespace dbimpl
}  // namespace tqdb
