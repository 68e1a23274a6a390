// CollectionImpl::Upsert and Delete: one atomic RocksDB batch a call (the
// points, their payloads and their payload index entries), serialized per
// collection by write_mu_, mirrored into the in-memory state (payload
// index, then index or flat store) after the batch is written.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "db/bm25.h"
#include "db/db_impl.h"
#include "db/rocks_util.h"
#include "quant/coding.h"
#include "quant/finite.h"
#include "quant/status_macros.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

using dbformat::CodeKey;
using dbformat::IdmapKey;
using dbformat::kNoList;
using dbformat::PointKey;

namespace {

// Why `payload` is not JSON (parse error position and reason).
std::string JsonError(const std::string& payload) {
  try {
    const nlohmann::json j = nlohmann::json::parse(payload);
    if (!j.is_discarded()) return "not valid JSON";
  } catch (const nlohmann::json::exception& e) {
    absl::string_view what = e.what();
    const size_t close = what.find("] ");
    if (close != absl::string_view::npos) what.remove_prefix(close + 2);
    return std::string(what);
  }
  return "not valid JSON";
}

// The points of one Upsert, all or nothing: InvalidArgument naming the
// first bad point (index and id). With `parsed`, every payload is parsed
// into it (null for an empty payload) keeping only the top-level members
// named in `keep` (sorted; the payload indexes read them: the rest is
// validated, not built).
absl::Status CheckPoints(const std::vector<Point>& points,
                         const CollectionConfig& c,
                         const DatabaseOptions& options,
                         std::vector<nlohmann::json>* parsed,
                         const std::vector<std::string>& keep = {},
                         std::vector<SparseVector>* sparse = nullptr) {
  if (sparse != nullptr) sparse->assign(points.size(), SparseVector());
  if (parsed != nullptr) parsed->assign(points.size(), nlohmann::json());
  const uint32_t d = c.dim;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "point ", i, " (id ", p.id, "): ", why, "; batch rejected"));
    };
    if (p.vector.size() != d) {
      return bad(absl::StrCat("vector has ", p.vector.size(),
                              " coordinates, expected ", d));
    }
    if (const std::ptrdiff_t j = FirstNonFinite(p.vector.data(), d); j >= 0) {
      return bad(absl::StrCat("coordinate ", j, " is ",
                              std::isnan(p.vector[j]) ? "NaN" : "infinite"));
    }
    if (c.metric == Metric::kCosine &&
        std::all_of(p.vector.begin(), p.vector.end(),
                    [](float v) { return v == 0.0f; })) {
      return bad("zero vector has no direction (metric cosine)");
    }
    if (!p.text.empty()) {
      absl::StatusOr<SparseVector> doc = PointTextVector(c, p);
      if (!doc.ok()) return bad(doc.status().message());
      if (sparse != nullptr) (*sparse)[i] = *std::move(doc);
    } else if (!p.sparse.empty()) {
      SparseVector sorted = p.sparse;
      if (absl::Status st = CheckSparseVector("sparse vector", &sorted);
          !st.ok()) {
        return bad(st.message());
      }
      if (sparse != nullptr) (*sparse)[i] = std::move(sorted);
    }
    if (p.payload.size() > options.max_payload_bytes) {
      return bad(absl::StrCat("payload of ", p.payload.size(),
                              " bytes exceeds max_payload_bytes ",
                              options.max_payload_bytes));
    }
    if (p.payload.empty()) continue;
    bool valid;
    if (parsed != nullptr) {
      valid = ParseMembers(p.payload, keep, &(*parsed)[i]);
    } else {
      valid = nlohmann::json::accept(p.payload);
    }
    if (!valid) {
      return bad(absl::StrCat("payload is not valid JSON (",
                              JsonError(p.payload), ")"));
    }
  }
  return absl::OkStatus();
}

// The payloads of points CheckPoints accepted, parsed again keeping the
// top-level members named in `keep` (an index appeared since the check;
// the rest of the check, texts' encoding included, stands).
void ParsePayloads(const std::vector<Point>& points,
                   const std::vector<std::string>& keep,
                   std::vector<nlohmann::json>* parsed) {
  parsed->assign(points.size(), nlohmann::json());
  for (size_t i = 0; i < points.size(); ++i) {
    if (!points[i].payload.empty()) {
      ParseMembers(points[i].payload, keep, &(*parsed)[i]);
    }
  }
}

// Rows of `points` to write: the last occurrence of each id, in order.
std::vector<size_t> LastOccurrences(const std::vector<Point>& points) {
  std::vector<size_t> rows;
  rows.reserve(points.size());
  absl::flat_hash_set<uint64_t> seen;
  seen.reserve(points.size());
  for (size_t i = points.size(); i-- > 0;) {
    if (seen.insert(points[i].id).second) rows.push_back(i);
  }
  std::reverse(rows.begin(), rows.end());
  return rows;
}

absl::Status CheckBatchSize(size_t n, const char* what, size_t max_batch) {
  if (n <= max_batch) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "batch of ", n, " ", what, " exceeds max_batch ", max_batch));
}

}  // namespace

absl::Status CollectionImpl::ReadLists(uint32_t g,
                                       const std::vector<uint64_t>& ids,
                                       std::vector<uint32_t>* lists,
                                       std::vector<bool>* found) const {
  std::vector<std::string> keys(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) keys[i] = IdmapKey(cid_, g, ids[i]);
  std::vector<rocksdb::PinnableSlice> values;
  TQ_RETURN_IF_ERROR(MultiGet(core_->db, rocksdb::ReadOptions(), core_->idmap(),
                              keys, &values, found, core_->dir + ": idmap"));
  lists->assign(ids.size(), kNoList);
  for (size_t i = 0; i < ids.size(); ++i) {
    if ((*found)[i] &&
        !dbformat::DecodeListValue(ToStringView(values[i]), &(*lists)[i])) {
      return absl::DataLossError(
          absl::StrCat(core_->dir, ": column family 'idmap': point ", ids[i],
                       " has a ", values[i].size(), "-byte value"));
    }
  }
  return absl::OkStatus();
}

absl::Status CollectionImpl::Upsert(const std::vector<Point>& points,
                                    bool wait) {
  return WriteUpsert(points, wait, 0);
}

absl::StatusOr<size_t> CollectionImpl::UpdateVectors(
    const std::vector<Point>& points, bool wait) {
  // Only the vectors are read: the payloads stay as stored.
  std::vector<Point> vectors(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    vectors[i].id = points[i].id;
    vectors[i].vector = points[i].vector;
    vectors[i].sparse = points[i].sparse;  // kept when empty
    vectors[i].text = points[i].text;      // (or the text's)
  }
  size_t updated = 0;
  TQ_RETURN_IF_ERROR(WriteUpsert(vectors, wait, 0, Payloads::kKeep, &updated));
  return updated;
}

absl::Status CollectionImpl::UpsertLogged(uint64_t sequence,
                                          const std::vector<Point>& points,
                                          bool wait) {
  TQ_RETURN_IF_ERROR(CheckSequence(sequence));
  return WriteUpsert(points, wait, sequence);
}

absl::StatusOr<size_t> CollectionImpl::DeleteLogged(
    uint64_t sequence, const std::vector<uint64_t>& ids, bool wait) {
  TQ_RETURN_IF_ERROR(CheckSequence(sequence));
  return WriteDelete(ids, wait, sequence);
}

absl::Status CollectionImpl::SkipLogged(uint64_t sequence) {
  TQ_LIFE_GUARD();
  TQ_RETURN_IF_ERROR(CheckSequence(sequence));
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  return RecordSequence(sequence, false);
}

absl::Status CollectionImpl::ForgetLogged() {
  TQ_LIFE_GUARD();
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  rocksdb::WriteBatch batch;
  batch.Delete(core_->meta(), dbformat::AppliedKey(cid_));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  TQ_RETURN_IF_ERROR(FromRocks(core_->db->Write(wo, &batch),
                               core_->dir + ": applied sequence"));
  applied_ = 0;
  return absl::OkStatus();
}

absl::Status CollectionImpl::CheckSequence(uint64_t sequence) {
  if (sequence > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("collection '", config_.name,
                   "': a logged write needs a sequence above 0"));
}

void CollectionImpl::TagBatch(uint64_t sequence, rocksdb::WriteBatch* batch) {
  if (sequence == 0) return;
  std::string value;
  PutFixed64(&value, sequence);
  batch->Put(core_->meta(), dbformat::AppliedKey(cid_), value);
}

absl::Status CollectionImpl::RecordSequence(uint64_t sequence, bool wait) {
  if (sequence <= applied_.load()) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  TagBatch(sequence, &batch);
  rocksdb::WriteOptions wo;
  wo.sync = wait;
  TQ_RETURN_IF_ERROR(FromRocks(core_->db->Write(wo, &batch),
                               core_->dir + ": applied sequence"));
  applied_ = sequence;
  return absl::OkStatus();
}

absl::Status CollectionImpl::WriteUpsert(const std::vector<Point>& points,
                                         bool wait, uint64_t sequence,
                                         Payloads payloads, size_t* updated) {
  const bool keep_payloads = payloads == Payloads::kKeep;
  TQ_LIFE_GUARD();
  // A replayed log entry (cheap check first; again under the lock).
  if (sequence > 0 && sequence <= applied_.load()) return absl::OkStatus();
  if (points.empty()) {
    if (sequence == 0) return absl::OkStatus();
    absl::MutexLock wl(&write_mu_);
    if (dropped_) return DroppedError();
    return RecordSequence(sequence, wait);
  }
  TQ_RETURN_IF_ERROR(
      CheckBatchSize(points.size(), "points", core_->options.max_batch));
  // Payloads are parsed (once) when there are payload indexes to feed.
  std::vector<nlohmann::json> parsed;
  std::vector<std::string> keep;
  if (!keep_payloads) keep = payload_index_.TopLevelKeys();
  bool have_parsed = !keep.empty();
  std::vector<SparseVector> sorted_sparse;  // a point's, in index order
  TQ_RETURN_IF_ERROR(CheckPoints(points, config_, core_->options,
                                 have_parsed ? &parsed : nullptr, keep,
                                 &sorted_sparse));
  const std::vector<size_t> rows = LastOccurrences(points);
  const uint32_t d = config_.dim;
  const size_t m = rows.size();
  std::vector<uint64_t> ids(m);
  std::vector<float> x(m * d);
  std::vector<SparseVector> sparse(m);  // in index order
  size_t sparse_nonzeros = 0;
  for (size_t r = 0; r < m; ++r) {
    const Point& p = points[rows[r]];
    ids[r] = p.id;
    std::copy(p.vector.begin(), p.vector.end(), x.begin() + r * d);
    sparse[r] = std::move(sorted_sparse[rows[r]]);
    sparse_nonzeros += sparse[r].indices.size();
  }

  // Encode before taking the write lock (writers of one collection encode
  // in parallel); redone under the lock if a training switched the index.
  std::vector<uint32_t> lists;
  std::vector<uint8_t> codes;
  std::shared_ptr<IvfIndex> encoded_with = state().index;
  auto encode = [&](const IvfIndex& index) {
    lists.resize(m);
    codes.resize(m * index.bytes_per_vector());
    return index.Encode(x.data(), m, lists.data(), codes.data());
  };
  if (encoded_with) {
    TQ_RETURN_IF_ERROR(encode(*encoded_with));
  }

  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  if (sequence > 0 && sequence <= applied_.load()) return absl::OkStatus();
  const State st = state();  // current until write_mu_ is released
  const uint32_t g = st.generation;
  if (st.index && st.index != encoded_with) {
    TQ_RETURN_IF_ERROR(encode(*st.index));
  }
  const size_t bpv = st.index ? st.index->bytes_per_vector() : 0;
  // Which points exist: the in-memory state mirrors the stored one under
  // write_mu_. Only existing points of a trained collection need a read
  // (their list, to delete the stale code when it moves).
  std::vector<bool> exists(m);
  std::vector<uint32_t> old_list(m, kNoList);
  if (st.index) {
    std::vector<size_t> rows_read;
    std::vector<uint64_t> ids_read;
    for (size_t r = 0; r < m; ++r) {
      if (!st.index->Contains(ids[r])) continue;
      rows_read.push_back(r);
      ids_read.push_back(ids[r]);
    }
    std::vector<uint32_t> read_lists;
    std::vector<bool> found;
    TQ_RETURN_IF_ERROR(ReadLists(g, ids_read, &read_lists, &found));
    for (size_t i = 0; i < rows_read.size(); ++i) {
      exists[rows_read[i]] = found[i];
      old_list[rows_read[i]] = read_lists[i];
    }
  } else {
    st.flat->Contains(ids.data(), m, &exists);
  }
  if (keep_payloads) {
    for (size_t r = 0; r < m; ++r) {
      if (!exists[r]) {
        return absl::NotFoundError(absl::StrCat(
            "point ", ids[r], " is not in collection '", config_.name,
            "': updating vectors changes stored points only (an upsert adds "
            "points)"));
      }
    }
  }
  // The memory the new points take, reserved before anything is written.
  // (Sparse vectors: all of them, as if none replaced a stored one.)
  MemoryBudget::Reservation reserved;
  if (const size_t added_points =
          static_cast<size_t>(std::count(exists.begin(), exists.end(), false));
      added_points > 0 || sparse_nonzeros > 0) {
    const size_t per = st.index ? st.index->MemoryBytesPerVector()
                                : st.flat->MemoryBytesPerVector();
    TQ_RETURN_IF_ERROR(core_->memory->Reserve(
        config_.name, cid_,
        added_points * per + sparse_nonzeros * SparseIndex::kBytesPerNonZero,
        absl::StrCat("upserting ", added_points, " new points"), &reserved));
  }
  // Payload index entries: the values each point's payload gives the
  // indexed fields, against those it holds now.
  const auto schema = payload_index_.Schema();
  std::vector<std::vector<FieldValues>> values(m);
  std::vector<std::vector<FieldValues>> old_values;
  if (keep_payloads) {
    // The payloads stay: so do the values they give the indexed fields.
    if (!schema.empty()) values = payload_index_.Current(ids);
  } else if (!schema.empty()) {
    // An index appeared since the check: parsed again, for its key too.
    std::vector<std::string> keep_now = payload_index_.TopLevelKeys();
    if (!have_parsed || keep_now != keep) {
      keep = std::move(keep_now);
      ParsePayloads(points, keep, &parsed);
      have_parsed = true;
    }
    for (size_t r = 0; r < m; ++r) {
      const nlohmann::json& j = parsed[rows[r]];
      values[r] = payload_index_.Extract(
          j.is_null() && points[rows[r]].payload.empty() ? nullptr : &j);
    }
    old_values = payload_index_.Current(ids);
  }
  const bool keep_vectors = config_.store_vectors || !st.index;
  rocksdb::WriteBatch batch(
      m * ((keep_vectors ? d * 4 : 0) + bpv + 3 * dbformat::kCodeKeySize + 32));
  [[maybe_unused]] std::string vbuf;  // big-endian hosts only
  IndexEdits edits;
  size_t added = 0;
  for (size_t r = 0; r < m; ++r) {
    const uint64_t id = ids[r];
    const uint32_t list = st.index ? lists[r] : kNoList;
    if (exists[r]) {
      if (st.index && old_list[r] != list && old_list[r] != kNoList) {
        batch.Delete(core_->codes(), CodeKey(cid_, g, old_list[r], id));
      }
      if (points[rows[r]].payload.empty() && !keep_payloads) {
        batch.Delete(core_->payload(), PointKey(cid_, id));
      }
      if (sparse[r].empty() && !keep_payloads) {
        batch.Delete(core_->sparse(), PointKey(cid_, id));
      }
    } else {
      ++added;
    }
    batch.Put(core_->idmap(), IdmapKey(cid_, g, id),
              dbformat::EncodeListValue(list));
    if (st.index) {
      batch.Put(
          core_->codes(), CodeKey(cid_, g, list, id),
          rocksdb::Slice(reinterpret_cast<const char*>(&codes[r * bpv]), bpv));
    }
    if (keep_vectors) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      // The floats' bytes are their little-endian encoding.
      batch.Put(core_->vectors(), PointKey(cid_, id),
                rocksdb::Slice(reinterpret_cast<const char*>(&x[r * d]),
                               size_t{d} * 4));
#else
      dbformat::EncodeVector(&x[r * d], d, &vbuf);
      batch.Put(core_->vectors(), PointKey(cid_, id), vbuf);
#endif
    }
    if (!points[rows[r]].payload.empty() && !keep_payloads) {
      batch.Put(core_->payload(), PointKey(cid_, id), points[rows[r]].payload);
    }
    if (!sparse[r].empty()) {
      batch.Put(core_->sparse(), PointKey(cid_, id),
                EncodeSparseVector(sparse[r]));
    }
    if (!schema.empty() && !keep_payloads) {
      IndexWrites(schema, id, old_values[r], values[r], &edits);
    }
  }
  TagBatch(sequence, &batch);
  edits.AddTo(core_->payload_index(), &batch);
  rocksdb::WriteOptions wo;
  wo.sync = wait;
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Write(wo, &batch), core_->dir + ": upsert"));
  const std::vector<uint32_t> iids = payload_index_.Upsert(ids, values);
  {
    // UpdateVectors keeps the sparse vectors it was not given.
    std::vector<uint64_t> sparse_ids;
    std::vector<const SparseVector*> sparse_set;
    for (size_t r = 0; r < m; ++r) {
      if (keep_payloads && sparse[r].empty()) continue;
      sparse_ids.push_back(ids[r]);
      sparse_set.push_back(&sparse[r]);
    }
    sparse_.Set(sparse_ids, sparse_set);
  }
  if (st.index) {
    // x: the raw vectors, for the index's rescoring codes if it keeps them.
    TQ_RETURN_IF_ERROR(st.index->AddEncoded(
        ids.data(), lists.data(), codes.data(), m, iids.data(), x.data()));
  } else {
    st.flat->Upsert(ids.data(), x.data(), m);
  }
  count_ += added;
  if (updated != nullptr) *updated = m;
  // Last: a reader that sees the sequence applied sees the points (counted
  // and searchable). After an error above, the entry is applied again (an
  // upsert is idempotent).
  if (sequence > 0) applied_ = sequence;
  AccountMemory();
  reserved.Release();
  if (tracking_) dirty_.insert(ids.begin(), ids.end());
  MaybeStartBackgroundTraining();
  return absl::OkStatus();
}

absl::StatusOr<size_t> CollectionImpl::Delete(const std::vector<uint64_t>& in,
                                              bool wait) {
  return WriteDelete(in, wait, 0);
}

absl::StatusOr<size_t> CollectionImpl::WriteDelete(
    const std::vector<uint64_t>& in, bool wait, uint64_t sequence) {
  TQ_LIFE_GUARD();
  if (sequence > 0 && sequence <= applied_.load()) return size_t{0};
  if (in.empty() && sequence == 0) return size_t{0};
  TQ_RETURN_IF_ERROR(
      CheckBatchSize(in.size(), "ids", core_->options.max_batch));
  std::vector<uint64_t> ids;
  {
    absl::flat_hash_set<uint64_t> seen;
    for (uint64_t id : in) {
      if (seen.insert(id).second) ids.push_back(id);
    }
  }
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  if (sequence > 0 && sequence <= applied_.load()) return size_t{0};
  return DeleteLocked(ids, wait, sequence);
}

absl::StatusOr<size_t> CollectionImpl::DeleteLocked(
    const std::vector<uint64_t>& ids, bool wait, uint64_t sequence) {
  const State st = state();  // current until write_mu_ is released
  const uint32_t g = st.generation;
  std::vector<uint32_t> old_list;
  std::vector<bool> found;
  TQ_RETURN_IF_ERROR(ReadLists(g, ids, &old_list, &found));
  rocksdb::WriteBatch batch;
  std::vector<uint64_t> gone;
  for (size_t r = 0; r < ids.size(); ++r) {
    if (!found[r]) continue;
    const uint64_t id = ids[r];
    batch.Delete(core_->idmap(), IdmapKey(cid_, g, id));
    if (old_list[r] != kNoList) {
      batch.Delete(core_->codes(), CodeKey(cid_, g, old_list[r], id));
    }
    batch.Delete(core_->vectors(), PointKey(cid_, id));
    batch.Delete(core_->payload(), PointKey(cid_, id));
    batch.Delete(core_->sparse(), PointKey(cid_, id));
    gone.push_back(id);
  }
  if (gone.empty()) {
    TQ_RETURN_IF_ERROR(RecordSequence(sequence, wait));
    return size_t{0};
  }
  TagBatch(sequence, &batch);
  const auto schema = payload_index_.Schema();
  if (!schema.empty()) {
    const auto old_values = payload_index_.Current(gone);
    const std::vector<FieldValues> none(schema.size());
    IndexEdits edits;
    for (size_t i = 0; i < gone.size(); ++i) {
      IndexWrites(schema, gone[i], old_values[i], none, &edits);
    }
    edits.AddTo(core_->payload_index(), &batch);
  }
  rocksdb::WriteOptions wo;
  wo.sync = wait;
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Write(wo, &batch), core_->dir + ": delete"));
  if (st.index) {
    st.index->Remove(gone.data(), gone.size());
  } else {
    st.flat->Remove(gone.data(), gone.size());
  }
  sparse_.Remove(gone);
  // After the index: a search that still sees a point finds its id.
  payload_index_.Erase(gone);
  payload_index_.EndWrite();
  count_ -= gone.size();
  if (sequence > 0) applied_ = sequence;  // last, as in WriteUpsert
  AccountMemory();
  if (tracking_) dirty_.insert(gone.begin(), gone.end());
  return gone.size();
}

void CollectionImpl::IndexWrites(
    const std::vector<std::pair<std::string, FieldType>>& schema, uint64_t id,
    const std::vector<FieldValues>& old_values,
    const std::vector<FieldValues>& new_values, IndexEdits* edits) const {
  std::vector<std::string> before, after;
  for (size_t f = 0; f < schema.size(); ++f) {
    const FieldValues empty;
    const FieldValues& o = f < old_values.size() ? old_values[f] : empty;
    const FieldValues& n = f < new_values.size() ? new_values[f] : empty;
    if (o == n) continue;
    before.clear();
    after.clear();
    dbformat::FieldEntryKeys(cid_, schema[f].first, o, id, &before);
    dbformat::FieldEntryKeys(cid_, schema[f].first, n, id, &after);
    if (before.empty()) {  // a new point: nothing to compare
      for (std::string& k : after) edits->puts.push_back(std::move(k));
      continue;
    }
    std::sort(before.begin(), before.end());
    std::sort(after.begin(), after.end());
    std::set_difference(before.begin(), before.end(), after.begin(),
                        after.end(), std::back_inserter(edits->deletes));
    std::set_difference(after.begin(), after.end(), before.begin(),
                        before.end(), std::back_inserter(edits->puts));
  }
}

void CollectionImpl::IndexEdits::AddTo(rocksdb::ColumnFamilyHandle* cf,
                                       rocksdb::WriteBatch* batch) const {
  for (const std::string& k : deletes) batch->Delete(cf, k);
  for (const std::string& k : puts) batch->Put(cf, k, rocksdb::Slice());
}

}  // namespace dbimpl

absl::Status ValidatePoints(const CollectionConfig& config,
                            const DatabaseOptions& options,
                            const std::vector<Point>& points) {
  return dbimpl::CheckPoints(points, config, options, nullptr);
}

}  // namespace tqdb
