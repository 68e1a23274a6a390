// CollectionImpl::Load: the in-memory state of a collection rebuilt from
// storage when the database opens.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/rocks_util.h"
#include "quant/coding.h"
#include "quant/status_macros.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

using dbformat::GenPrefix;
using dbformat::Prefix;

namespace {

constexpr size_t kLoadChunk = 8192;  // points per FlatStore/index insert

// Open scans read everything once: no cache pollution, long readahead.
rocksdb::ReadOptions ScanOptions() {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = size_t{4} << 20;
  ro.adaptive_readahead = true;
  return ro;
}

}  // namespace

absl::Status CollectionImpl::Load() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string where =
      absl::StrCat(core_->dir, ": collection '", config_.name, "'");
  uint32_t g;
  uint64_t trained_count;
  {
    absl::MutexLock wl(&write_mu_);
    g = record_.generation;
    trained_count = record_.trained_count;
  }
  TQ_RETURN_IF_ERROR(RemoveOtherGenerations(g, where));
  std::string applied;
  const rocksdb::Status as =
      core_->db->Get(rocksdb::ReadOptions(), core_->meta(),
                     dbformat::AppliedKey(cid_), &applied);
  if (!as.IsNotFound()) {
    TQ_RETURN_IF_ERROR(FromRocks(as, where + ": applied sequence"));
    uint64_t sequence = 0;
    if (!Decoder(applied).GetFixed64(&sequence)) {
      return absl::DataLossError(
          absl::StrCat(where, ": meta 'applied' entry has ", applied.size(),
                       " bytes, expected 8"));
    }
    applied_ = sequence;
  }
  uint64_t n = 0;
  if (g == 0) {
    TQ_RETURN_IF_ERROR(LoadVectors(state().flat.get(), where, &n));
  } else {
    TQ_ASSIGN_OR_RETURN(std::shared_ptr<IvfIndex> index, LoadTrained(g, where));
    TQ_RETURN_IF_ERROR(LoadCodes(g, index.get(), where, &n));
    absl::MutexLock sl(&state_mu_);
    state_.index = std::move(index);
    state_.flat = nullptr;
    state_.trained_count = trained_count;
  }
  count_ = n;
  TQ_RETURN_IF_ERROR(LoadFieldIndexes(where));
  TQ_RETURN_IF_ERROR(LoadSparse(where));
  {
    absl::MutexLock l(&bg_mu_);
    StartIndexer();  // unfinished index builds resume
  }
  AccountMemory();
  load_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  return absl::OkStatus();
}

// Leftovers of interrupted trainings: idmap and codes of generations other
// than the active one `g`, which a crash before a training's switch leaves.
absl::Status CollectionImpl::RemoveOtherGenerations(uint32_t g,
                                                    const std::string& where) {
  rocksdb::WriteBatch batch;
  const std::string lo = Prefix(cid_), hi = Prefix(cid_ + 1),
                    cur = GenPrefix(cid_, g), next = GenPrefix(cid_, g + 1);
  for (rocksdb::ColumnFamilyHandle* cf : {core_->idmap(), core_->codes()}) {
    for (const auto& [a, b] :
         {std::make_pair(lo, cur), std::make_pair(next, hi)}) {
      if (a >= b) continue;
      RangeIterator it(core_->db, cf, rocksdb::ReadOptions(), a, b);
      if (!it->status().ok()) return FromRocks(it->status(), where);
      if (it->Valid()) {
        rocksdb::Status s = batch.DeleteRange(cf, a, b);
        if (!s.ok()) return FromRocks(s, where);
      }
    }
  }
  if (batch.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(core_->db->Write(wo, &batch),
                   where + ": removing an interrupted training");
}

// Untrained: the raw vectors, into the in-memory store for exact search.
absl::Status CollectionImpl::LoadVectors(FlatStore* flat,
                                         const std::string& where,
                                         uint64_t* n) {
  RangeIterator it(core_->db, core_->vectors(), ScanOptions(), Prefix(cid_),
                   Prefix(cid_ + 1));
  std::vector<uint64_t> ids;
  std::vector<float> x;
  const uint32_t d = config_.dim;
  auto flush = [&] {
    for (uint64_t id : ids) payload_index_.LoadPoint(id);
    flat->Upsert(ids.data(), x.data(), ids.size());
    *n += ids.size();
    ids.clear();
    x.clear();
  };
  for (; it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (k.size() != dbformat::kPointKeySize) {
      return absl::DataLossError(
          absl::StrCat(where, ": column family 'vectors' has a key of ",
                       k.size(), " bytes"));
    }
    const uint64_t id = dbformat::GetBig64(k.data() + 4);
    ids.push_back(id);
    x.resize(ids.size() * d);
    if (!dbformat::DecodeVector(ToStringView(v), d, &x[(ids.size() - 1) * d])) {
      return absl::DataLossError(
          absl::StrCat(where, ": column family 'vectors': point ", id, " has ",
                       v.size(), " bytes, expected ", size_t{d} * 4));
    }
    if (ids.size() == kLoadChunk) flush();
  }
  if (!it->status().ok()) return FromRocks(it->status(), where + ": vectors");
  flush();
  return absl::OkStatus();
}

// Trained: the index's parameters of generation g (centroids, codec), empty.
absl::StatusOr<std::shared_ptr<IvfIndex>> CollectionImpl::LoadTrained(
    uint32_t g, const std::string& where) const {
  std::string params;
  rocksdb::Status s = core_->db->Get(rocksdb::ReadOptions(), core_->meta(),
                                     dbformat::TrainedKey(cid_), &params);
  if (s.IsNotFound()) {
    return absl::DataLossError(absl::StrCat(
        where, ": trained parameters (meta 'trained/') are missing"));
  }
  TQ_RETURN_IF_ERROR(FromRocks(s, where + ": trained parameters"));
  if (params.size() < 4 ||
      DecodeFixed32(reinterpret_cast<const uint8_t*>(params.data())) != g) {
    return absl::DataLossError(
        absl::StrCat(where,
                     ": trained parameters (meta 'trained/') do not belong to "
                     "generation ",
                     g));
  }
  LayoutOptions layout;
  layout.refine = config_.refine;
  layout.prefix_sharing = config_.prefix_sharing;
  auto idx = IvfIndex::FromTrained(absl::string_view(params).substr(4), layout);
  TQ_RETURN_IF_ERROR(idx.status()) << where << ": meta 'trained/'";
  std::shared_ptr<IvfIndex> index(std::move(*idx));
  if (index->dim() != config_.dim ||
      index->options().metric != config_.metric) {
    return absl::DataLossError(
        absl::StrCat(where, ": trained parameters do not match the settings"));
  }
  return index;
}

// Trained: the codes of generation g, into the index. An index that keeps
// rescoring codes (CollectionConfig::refine) gets them from the stored
// vectors, one MultiGet a chunk: they are not persisted (db/FORMAT.md).
absl::Status CollectionImpl::LoadCodes(uint32_t g, IvfIndex* index,
                                       const std::string& where, uint64_t* n) {
  const size_t bpv = index->bytes_per_vector();
  const uint32_t nlist = index->nlist();
  const uint32_t d = config_.dim;
  const bool with_raw = config_.refine != RefineKind::kNone;
  RangeIterator it(core_->db, core_->codes(), ScanOptions(), GenPrefix(cid_, g),
                   GenPrefix(cid_, g + 1));
  std::vector<uint64_t> ids;
  std::vector<uint32_t> lists, iids;
  std::vector<uint8_t> codes;
  std::vector<float> raw;
  ids.reserve(kLoadChunk);
  lists.reserve(kLoadChunk);
  codes.reserve(kLoadChunk * bpv);
  auto read_raw = [&]() -> absl::Status {
    std::vector<std::string> keys(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      keys[i] = dbformat::PointKey(cid_, ids[i]);
    }
    std::vector<rocksdb::PinnableSlice> values;
    std::vector<bool> found;
    TQ_RETURN_IF_ERROR(MultiGet(core_->db, ScanOptions(), core_->vectors(),
                                keys, &values, &found, where + ": vectors"));
    raw.resize(ids.size() * d);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!found[i] ||
          !dbformat::DecodeVector(ToStringView(values[i]), d, &raw[i * d])) {
        return absl::DataLossError(
            absl::StrCat(where, ": column family 'vectors': point ", ids[i],
                         found[i] ? " has a vector of the wrong size"
                                  : " has no vector (refine needs them)"));
      }
    }
    return absl::OkStatus();
  };
  auto flush = [&]() -> absl::Status {
    iids.resize(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      iids[i] = payload_index_.LoadPoint(ids[i]);
    }
    if (with_raw) {
      TQ_RETURN_IF_ERROR(read_raw());
    }
    TQ_RETURN_IF_ERROR(index->AddEncoded(ids.data(), lists.data(), codes.data(),
                                         ids.size(), iids.data(),
                                         with_raw ? raw.data() : nullptr));
    *n += ids.size();
    ids.clear();
    lists.clear();
    codes.clear();
    return absl::OkStatus();
  };
  for (; it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (k.size() != dbformat::kCodeKeySize) {
      return absl::DataLossError(absl::StrCat(
          where, ": column family 'codes' has a key of ", k.size(), " bytes"));
    }
    const uint32_t list = dbformat::GetBig32(k.data() + 8);
    const uint64_t id = dbformat::GetBig64(k.data() + 12);
    if (list >= nlist || v.size() != bpv) {
      return absl::DataLossError(absl::StrCat(
          where, ": column family 'codes': entry of point ", id, " (list ",
          list, " of ", nlist, ") has ", v.size(), " bytes, expected ", bpv));
    }
    ids.push_back(id);
    lists.push_back(list);
    codes.insert(codes.end(), v.data(), v.data() + v.size());
    if (ids.size() == kLoadChunk) {
      TQ_RETURN_IF_ERROR(flush());
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), where + ": codes");
  return flush();
}

// The payload indexes: their definitions (meta "field_index/"), then their
// entries, one sequential scan each. An index whose backfill had not
// finished resumes it in the background.
absl::Status CollectionImpl::LoadFieldIndexes(const std::string& where) {
  const std::string prefix = dbformat::FieldIndexKey(cid_, "");
  std::vector<dbformat::FieldIndexRecord> records;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        core_->db->NewIterator(rocksdb::ReadOptions(), core_->meta()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      auto rec = dbformat::DecodeFieldIndexRecord(ToStringView(it->value()));
      TQ_RETURN_IF_ERROR(rec.status())
          << where << ": meta '" << it->key().ToString() << "'";
      if (rec->field != it->key().ToString().substr(prefix.size())) {
        return absl::DataLossError(
            absl::StrCat(where, ": field index record of '", rec->field,
                         "' does not match its key"));
      }
      records.push_back(*std::move(rec));
    }
    TQ_RETURN_IF_ERROR(FromRocks(it->status(), where + ": meta"));
  }
  for (const dbformat::FieldIndexRecord& r : records) {
    const std::string what =
        absl::StrCat(where, ": payload index of '", r.field, "'");
    TQ_RETURN_IF_ERROR(payload_index_.AddField(r.field, r.type, r.ready))
        << what;
    const std::string lo = dbformat::FieldEntriesBegin(cid_, r.field);
    RangeIterator it(core_->db, core_->payload_index(), ScanOptions(), lo,
                     dbformat::FieldEntriesEnd(cid_, r.field));
    for (; it->Valid(); it->Next()) {
      FieldValues v;
      uint64_t id;
      TQ_RETURN_IF_ERROR(dbformat::DecodeFieldEntry(ToStringView(it->key()),
                                                    lo.size(), r.type, &v, &id))
          << what;
      absl::Status s = payload_index_.LoadValues(r.field, id, v);
      if (absl::IsNotFound(s)) {
        return absl::DataLossError(absl::StrCat(what, ": entry of point ", id,
                                                ", which does not exist"));
      }
      TQ_RETURN_IF_ERROR(s) << what;
    }
    TQ_RETURN_IF_ERROR(FromRocks(it->status(), what));
    if (!r.ready) {
      absl::MutexLock l(&bg_mu_);
      backfills_.push_back(r.field);
    }
  }
  return absl::OkStatus();
}

// The sparse vectors: one sequential scan of the collection's range of the
// sparse family, each entry that of an existing point (the payload index
// knows them all by now).
absl::Status CollectionImpl::LoadSparse(const std::string& where) {
  const std::string what = where + ": column family 'sparse'";
  RangeIterator it(core_->db, core_->sparse(), ScanOptions(), Prefix(cid_),
                   Prefix(cid_ + 1));
  constexpr size_t kChunk = 4096;
  std::vector<uint64_t> ids;
  std::vector<SparseVector> vectors;
  auto flush = [&] {
    std::vector<const SparseVector*> ptrs;
    for (const SparseVector& v : vectors) ptrs.push_back(&v);
    sparse_.Set(ids, ptrs);
    ids.clear();
    vectors.clear();
  };
  for (; it->Valid(); it->Next()) {
    if (it->key().size() != dbformat::kPointKeySize) {
      return absl::DataLossError(absl::StrCat(what, ": malformed key"));
    }
    const uint64_t id = dbformat::GetBig64(it->key().data() + 4);
    SparseVector v;
    if (!DecodeSparseVector(ToStringView(it->value()), &v)) {
      return absl::DataLossError(absl::StrCat(what, ": point ", id,
                                              " has a malformed entry of ",
                                              it->value().size(), " bytes"));
    }
    if (payload_index_.Find(id) == kNoIid) {
      return absl::DataLossError(absl::StrCat(what, ": entry of point ", id,
                                              ", which does not exist"));
    }
    ids.push_back(id);
    vectors.push_back(std::move(v));
    if (ids.size() == kChunk) flush();
  }
  TQ_RETURN_IF_ERROR(FromRocks(it->status(), what));
  flush();
  return absl::OkStatus();
}

}  // namespace dbimpl
}  // namespace tqdb
