// Database: opening (and creating) the RocksDB instance, the collections
// catalogue, snapshots and shutdown.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/bm25.h"
#include "db/db_impl.h"
#include "db/info_log.h"
#include "db/rocks_util.h"
#include "quant/coding.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

namespace fs = std::filesystem;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

namespace {

rocksdb::ColumnFamilyOptions CfOptions(
    const std::string& name, const DatabaseOptions& o,
    const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.format_version = 5;
  if (name == dbformat::kCodesCf) {
    // Only scanned (at open) and written: big blocks, no filter.
    t.block_size = 64 << 10;
    cf.compression = rocksdb::kNoCompression;  // codes are incompressible
    cf.write_buffer_size = o.write_buffer_bytes / 2;
  } else if (name == dbformat::kVectorsCf) {
    t.block_size = 16 << 10;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.compression =
        rocksdb::kNoCompression;  // float mantissas barely compress
    cf.write_buffer_size = o.write_buffer_bytes;
  } else if (name == dbformat::kPayloadIndexCf) {
    // Written with every point (a few small keys, at scattered places:
    // field, value, id) and read only by scans (at open, by an index
    // build): an unsorted memtable, sorted once when flushed, costs a
    // fraction of a skiplist's insert (a search through cache misses per
    // key; db/FORMAT.md). Lookups never go to it: no filter.
    cf.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    cf.write_buffer_size = std::min<size_t>(o.write_buffer_bytes, 16 << 20);
  } else {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.write_buffer_size = std::min<size_t>(o.write_buffer_bytes, 16 << 20);
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return cf;
}

// Fills derived settings and rejects bad ones.
absl::Status ValidateConfig(CollectionConfig* c) {
  if (!ValidName(c->name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("collection name '", EchoInput(c->name),
                     "' must match [A-Za-z0-9_-]{1,64}"));
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("collection '", c->name, "': ", why));
  };
  if (c->dim < 2 || c->dim > 65536) {
    return bad(absl::StrCat("dim ", c->dim, " must be in [2, 65536]"));
  }
  if (static_cast<uint32_t>(c->metric) > 2) return bad("unknown metric");
  if (c->method != "renorm" && c->method != "mse" && c->method != "prod" &&
      c->method != "pca" && c->method != "pq") {
    return bad(absl::StrCat("method '", EchoInput(c->method),
                            "' is not one of renorm, mse, prod, pca, pq"));
  }
  if (c->bits < 1 || c->bits > 8) {
    return bad(absl::StrCat("bits ", c->bits, " must be in [1, 8]"));
  }
  if (c->method != "pq" && c->method != "pca") {  // those train on data
    CodecOptions co;
    co.method = c->method;
    co.bits = c->bits;
    co.seed = c->seed;
    auto codec = ScanCodec::Create(co, c->dim, nullptr, 0);
    TQ_RETURN_IF_ERROR(codec.status()) << "collection '" << c->name << "'";
  }
  if (c->nlist > 65536) {
    return bad(absl::StrCat("nlist ", c->nlist, " exceeds 65536"));
  }
  if (c->train_threshold == 0) {
    c->train_threshold = c->nlist ? uint64_t{39} * c->nlist : 1000;
  }
  if (c->train_threshold < c->nlist) {
    return bad(absl::StrCat("train_threshold ", c->train_threshold,
                            " is below nlist ", c->nlist));
  }
  if (static_cast<uint32_t>(c->refine) > 2) return bad("unknown refine");
  if (static_cast<uint32_t>(c->prefix_sharing) > 2) {
    return bad("unknown prefix_sharing");
  }
  if (static_cast<uint32_t>(c->pca_weighting) > 2) {
    return bad("unknown pca_weighting");
  }
  if (c->method != "pca" && c->pca_weighting != PcaWeighting::kAuto) {
    return bad(
        absl::StrCat("pca_weighting ", PcaWeightingName(c->pca_weighting),
                     " applies to method pca only (method ", c->method, ")"));
  }
  if (c->bm25.has_value()) {
    TQ_RETURN_IF_ERROR(ValidateBm25Config(&*c->bm25))
        << "collection '" << c->name << "'";
  }
  if (c->refine != RefineKind::kNone && !c->store_vectors) {
    // The codes are rebuilt from the stored vectors at open.
    return bad(absl::StrCat(
        "refine ", RefineKindName(c->refine, RefineVocabulary::kRescoreSource),
        " needs store_vectors (its in-memory codes are "
        "built from the stored vectors)"));
  }
  return absl::OkStatus();
}

bool LooksLikeRocksDb(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (absl::StartsWith(f, "MANIFEST-") || absl::EndsWith(f, ".sst") ||
        absl::EndsWith(f, ".log") || f == "IDENTITY" ||
        absl::StartsWith(f, "OPTIONS-")) {
      return true;
    }
  }
  return false;
}

// Brings a directory of an older format version up to kFormatVersion:
// creates the families it lacks (version 2 added payload_index, version 3
// sparse: no data to convert, an older directory holds neither payload
// indexes nor sparse vectors), then rewrites the format entry. Idempotent:
// a crash between the two steps leaves the families there and the old
// version, and the next open finishes.
absl::Status MigrateFormat(DbCore* core,
                           const std::vector<std::string>& missing,
                           const std::shared_ptr<rocksdb::Cache>& cache) {
  for (const std::string& name : missing) {
    rocksdb::ColumnFamilyHandle* h = nullptr;
    TQ_RETURN_IF_ERROR(
        FromRocks(core->db->CreateColumnFamily(
                      CfOptions(name, core->options, cache), name, &h),
                  "creating column family '" + name + "'"));
    absl::MutexLock life(&core->life_mu);
    core->AddHandle(name, h);
    core->cf_descs.emplace_back(name, CfOptions(name, core->options, cache));
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(
      core->db->Put(wo, core->meta(), std::string(dbformat::kFormatKey),
                    dbformat::EncodeFormat(dbformat::kFormatVersion)),
      "format entry");
}

// The MANIFEST file CURRENT names (for messages).
std::string ManifestName(const fs::path& dir) {
  std::ifstream f(dir / "CURRENT");
  std::string name;
  std::getline(f, name);
  return name.empty() ? std::string("the MANIFEST") : name;
}

}  // namespace

void DbCore::AddHandle(const std::string& name,
                       rocksdb::ColumnFamilyHandle* h) {
  handles.push_back(h);
  for (int f = 0; f < dbformat::kNumCfs; ++f) {
    if (name == dbformat::kCfNames[f]) cf[f] = h;
  }
}

void DbCore::DestroyHandles() {
  {
    absl::MutexLock l(&cursors_mu);
    for (const rocksdb::Snapshot** snap : cursor_snapshots) {
      if (*snap != nullptr) db->ReleaseSnapshot(*snap);
      *snap = nullptr;
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  handles.clear();
  std::fill(std::begin(cf), std::end(cf), nullptr);
}

DatabaseImpl::~DatabaseImpl() { Close().IgnoreError(); }

absl::Status DatabaseImpl::LoadCollections() {
  rocksdb::DB* db = core_->db;
  const std::string& dir = core_->dir;
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), core_->meta()));
  const std::string prefix(dbformat::kCollectionPrefix);
  std::string next_cid_value;
  rocksdb::Status s =
      db->Get(rocksdb::ReadOptions(), core_->meta(),
              std::string(dbformat::kNextCidKey), &next_cid_value);
  if (s.IsNotFound() || (s.ok() && next_cid_value.size() != 4)) {
    return absl::DataLossError(absl::StrCat(
        dir,
        ": column family 'meta': entry 'next_cid' is missing or malformed"));
  }
  TQ_RETURN_IF_ERROR(FromRocks(s, dir + ": meta"));
  const uint32_t next_cid =
      DecodeFixed32(reinterpret_cast<const uint8_t*>(next_cid_value.data()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    const std::string key = it->key().ToString();
    const std::string where =
        absl::StrCat(dir, ": column family 'meta', entry '", key, "'");
    auto rec = dbformat::DecodeRecord(
        absl::string_view(it->value().data(), it->value().size()));
    TQ_RETURN_IF_ERROR(rec.status()) << where;
    if (rec->config.name != key.substr(prefix.size()) || rec->cid >= next_cid) {
      return absl::DataLossError(
          absl::StrCat(where, ": record does not match its key"));
    }
    auto c = std::make_shared<CollectionImpl>(core_, *rec);
    TQ_RETURN_IF_ERROR(c->Load());
    c->AccountMemory();
    TQ_RETURN_IF_ERROR(core_->memory->CheckLoaded(rec->config.name, rec->cid))
        << dir;
    absl::MutexLock l(&mu_);
    collections_[rec->config.name] = std::move(c);
  }
  return FromRocks(it->status(), dir + ": meta");
}

void DatabaseImpl::ResumeTrainings() {
  absl::ReaderMutexLock life(&core_->life_mu);
  if (core_->closed || core_->db == nullptr) return;
  // Close sets closing, then stops the trainings under mu_: checked under
  // mu_, no training starts after that stop.
  absl::MutexLock l(&mu_);
  if (core_->closing) return;
  for (auto& [name, c] : collections_) c->ResumeTraining();
}

absl::StatusOr<CollectionInfo> DatabaseImpl::CreateCollection(
    const CollectionConfig& config) {
  CollectionConfig c = config;
  absl::ReaderMutexLock life(&core_->life_mu);
  if (core_->closed) {
    return absl::FailedPreconditionError("database is closed");
  }
  if (core_->db == nullptr) return core_->ReopeningError();
  TQ_RETURN_IF_ERROR(ValidateConfig(&c));
  absl::MutexLock l(&mu_);
  if (collections_.count(c.name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("collection '", c.name, "' already exists"));
  }
  if (auto a = aliases_.find(c.name); a != aliases_.end()) {
    return absl::AlreadyExistsError(
        absl::StrCat("'", c.name, "' is an alias (of collection '", a->second,
                     "'): delete the alias first"));
  }
  std::string v;
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Get(rocksdb::ReadOptions(), core_->meta(),
                               std::string(dbformat::kNextCidKey), &v),
                core_->dir + ": meta next_cid"));
  if (v.size() != 4) {
    return absl::DataLossError(core_->dir + ": meta next_cid is malformed");
  }
  const uint32_t cid =
      DecodeFixed32(reinterpret_cast<const uint8_t*>(v.data()));
  if (cid == 0xFFFFFFFFu) {
    return absl::ResourceExhaustedError("collection ids exhausted");
  }
  dbformat::CollectionRecord r;
  r.cid = cid;
  r.config = c;
  rocksdb::WriteBatch batch;
  std::string next;
  PutFixed32(&next, cid + 1);
  batch.Put(core_->meta(), std::string(dbformat::kNextCidKey), next);
  batch.Put(core_->meta(), dbformat::CollectionKey(c.name),
            dbformat::EncodeRecord(r));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  TQ_RETURN_IF_ERROR(FromRocks(core_->db->Write(wo, &batch),
                               core_->dir + ": create collection"));
  auto coll = std::make_shared<CollectionImpl>(core_, r);
  coll->AccountMemory();
  collections_[c.name] = coll;
  // Before mu_ is released: a drop right after must not make this
  // successful create report the collection dropped.
  return coll->InfoLocked();
}

absl::Status DatabaseImpl::DropCollection(const std::string& name) {
  absl::ReaderMutexLock life(&core_->life_mu);
  if (core_->closed) return absl::FailedPreconditionError("database is closed");
  if (core_->db == nullptr) return core_->ReopeningError();
  absl::MutexLock l(&mu_);
  if (auto a = aliases_.find(name); a != aliases_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", EchoInput(name), "' is an alias of collection '",
                     a->second, "': drop the collection, or delete the alias"));
  }
  TQ_ASSIGN_OR_RETURN(std::shared_ptr<CollectionImpl> c, Find(name));
  c->StopTraining();
  rocksdb::WriteBatch batch;
  c->MarkDropped(&batch);
  // Its aliases go with it.
  for (auto it = aliases_.begin(); it != aliases_.end();) {
    if (it->second != name) {
      ++it;
      continue;
    }
    batch.Delete(core_->meta(), dbformat::AliasKey(it->first));
    it = aliases_.erase(it);
  }
  collections_.erase(name);
  core_->memory->Remove(c->cid());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(core_->db->Write(wo, &batch),
                   core_->dir + ": drop collection '" + name + "'");
}

absl::StatusOr<std::shared_ptr<CollectionImpl>> DatabaseImpl::Find(
    const std::string& name) const {
  auto it = collections_.find(name);
  if (it == collections_.end()) {
    return absl::NotFoundError(
        absl::StrCat("collection '", EchoInput(name), "' not found"));
  }
  return it->second;
}

std::vector<std::string> DatabaseImpl::ListCollections() const {
  absl::MutexLock l(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, c] : collections_) names.push_back(name);
  return names;
}

absl::StatusOr<std::shared_ptr<Collection>> DatabaseImpl::GetCollection(
    const std::string& name) const {
  absl::ReaderMutexLock life(&core_->life_mu);
  if (core_->closed) return absl::FailedPreconditionError("database is closed");
  absl::MutexLock l(&mu_);
  TQ_ASSIGN_OR_RETURN(std::shared_ptr<CollectionImpl> c, Find(Resolve(name)));
  return std::shared_ptr<Collection>(std::move(c));
}

StorageStats DatabaseImpl::storage_stats() const {
  StorageStats st;
  absl::ReaderMutexLock life(&core_->life_mu);
  if (core_->closed) return st;
  const StorageRecovery::Stats rs = core_->recovery->stats();
  st.storage_errors = rs.errors;
  st.storage_recoveries = rs.recoveries;
  st.storage_reopens = rs.reopens;
  st.writes_stopped = rs.writes_stopped || core_->db == nullptr ? 1 : 0;
  if (core_->db == nullptr) return st;
  rocksdb::DB* db = core_->db;
  st.wal_syncs = core_->statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  st.wal_bytes = core_->statistics->getTickerCount(rocksdb::WAL_FILE_BYTES);
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCompactionPending,
                               &st.compaction_pending);
  db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions,
                     &st.compactions_running);
  db->GetAggregatedIntProperty(
      rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
      &st.pending_compaction_bytes);
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables,
                               &st.memtable_bytes);
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize,
                               &st.live_sst_bytes);
  st.block_cache_usage = core_->block_cache->GetUsage();
  st.block_cache_capacity = core_->block_cache->GetCapacity();
  st.memory_total_bytes = core_->memory->usage(0).total;
  st.memory_limit_bytes = core_->memory->limit();
  return st;
}

absl::Status DatabaseImpl::Close() {
  if (core_->closing.exchange(true)) {
    // Another Close is under way: wait for it.
    absl::ReaderMutexLock life(&core_->life_mu);
    return absl::OkStatus();
  }
  {
    absl::MutexLock l(&mu_);
    for (auto& [name, c] : collections_) c->StopTraining();
  }
  if (core_->recovery) core_->recovery->Stop();
  absl::MutexLock life(&core_->life_mu);
  absl::Status status;
  if (core_->db != nullptr) {
    std::vector<rocksdb::ColumnFamilyHandle*> flush(
        core_->cf, core_->cf + dbformat::kNumCfs);
    rocksdb::FlushOptions fo;
    fo.wait = true;
    rocksdb::Status fs = core_->db->Flush(fo, flush);
    if (!fs.ok() && core_->db->Resume().ok()) {
      // A storage error the recovery thread had not cleared yet (say, a
      // compaction that ran out of space): once more after resuming.
      fs = core_->db->Flush(fo, flush);
    }
    // The flush put every acknowledged write in a synced table file: the
    // write-ahead log needs no sync (syncing a log whose write failed
    // aborts in Debian's RocksDB).
    status = FromRocks(fs, core_->dir + ": flush");
    core_->DestroyHandles();
    rocksdb::Status s = core_->db->Close();
    if (status.ok()) status = FromRocks(s, core_->dir + ": close");
    delete core_->db;
    core_->db = nullptr;
  }
  core_->closed = true;
  core_->pool.reset();
  return status;
}

}  // namespace dbimpl

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const std::string& dir_in, const DatabaseOptions& options) {
  using namespace dbimpl;  // NOLINT
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path path = fs::absolute(dir_in, ec);
  if (ec) path = dir_in;
  const std::string dir = path.lexically_normal().string();

  if (fs::exists(path / dbformat::kSnapshotMarker, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is a snapshot (it holds ", dbformat::kSnapshotMarker,
        "): opening it would write into it; restore a copy with "
        "Database::RestoreSnapshot (tqdb serve --restore) and open that"));
  }
  bool fresh = false;
  if (!fs::exists(path / "CURRENT", ec)) {
    if (fs::exists(path, ec) && LooksLikeRocksDb(path)) {
      return absl::DataLossError(
          absl::StrCat(dir,
                       ": file CURRENT is missing (the database's other "
                       "files are there)"));
    }
    if (!options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no tqdb database in ", dir));
    }
    fs::create_directories(path, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create ", dir, ": ", ec.message()));
    }
    fresh = true;
  } else if (options.error_if_exists) {
    return absl::AlreadyExistsError(absl::StrCat("a database exists in ", dir));
  }

  auto core = std::make_shared<DbCore>();
  core->dir = dir;
  core->options = options;
  rocksdb::DBOptions dbo;
  if (options.file_system) {
    core->env = rocksdb::NewCompositeEnv(options.file_system);
    dbo.env = core->env.get();
  }
  // RocksDB's own info log aborts the process once a log line fails to be
  // written (db/info_log.h); this one drops the line instead.
  dbo.info_log = std::make_shared<InfoLog>(options.file_system
                                               ? options.file_system
                                               : rocksdb::FileSystem::Default(),
                                           dir, dbo.info_log_level);
  // Storage errors: writes resume by themselves (db/storage_recovery.h).
  core->recovery = std::make_shared<StorageRecovery>();
  dbo.listeners.push_back(core->recovery);
  dbo.max_bgerror_resume_count = 0;  // StorageRecovery is the one recovery
  dbo.create_if_missing = fresh;
  dbo.create_missing_column_families = fresh;
  dbo.paranoid_checks = true;
  dbo.max_background_jobs = std::max(2, options.max_background_jobs);
  dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  dbo.max_open_files = -1;
  dbo.keep_log_file_num = 4;
  dbo.avoid_flush_during_shutdown = false;
  dbo.bytes_per_sync = 1 << 20;
  // The payload_index family's memtable takes one writer at a time (the
  // write group's leader inserts the batches of its followers).
  dbo.allow_concurrent_memtable_write = false;
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Tickers only (WAL syncs for monitoring): no histograms or timers on
  // the write path.
  dbo.statistics = rocksdb::CreateDBStatistics();
  dbo.statistics->set_stats_level(
      rocksdb::StatsLevel::kExceptHistogramOrTimers);
  core->statistics = dbo.statistics;
  core->block_cache = cache;
  core->memory = std::make_unique<MemoryBudget>(options.memory_limit_bytes);

  std::vector<std::string> names;
  // Families added after version 1 that the directory lacks, and the
  // version that added the first of them.
  std::vector<std::string> missing_later;
  uint32_t missing_since = 0;
  if (fresh) {
    names.push_back(rocksdb::kDefaultColumnFamilyName);
    for (const char* n : dbformat::kCfNames) names.push_back(n);
  } else {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(dbo, dir, &names);
    if (!s.ok()) {
      absl::Status st = FromRocks(s, dir + ": reading the MANIFEST");
      if (st.code() == absl::StatusCode::kInvalidArgument) {
        return absl::DataLossError(st.message());
      }
      return st;
    }
    // The families of format version 1 must be there; those added later
    // are created when an older directory is migrated (below).
    for (int f = 0; f < dbformat::kNumCfs; ++f) {
      const char* n = dbformat::kCfNames[f];
      if (std::find(names.begin(), names.end(), n) != names.end()) continue;
      if (f >= dbformat::kNumCfsV1) {
        if (missing_later.empty()) missing_since = dbformat::CfSinceVersion(f);
        missing_later.push_back(n);
        continue;
      }
      return absl::DataLossError(absl::StrCat(
          dir, ": column family '", n, "' is missing from ", ManifestName(path),
          " (it lists: ", absl::StrJoin(names, ", "), ")"));
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const std::string& n : names) {
    descs.emplace_back(n, CfOptions(n, options, cache));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  core->db_options = dbo;
  core->cf_descs = descs;
  rocksdb::Status s = rocksdb::DB::Open(dbo, dir, descs, &handles, &raw);
  if (!s.ok()) {
    absl::Status st = FromRocks(s, dir + ": open");
    if (s.IsIOError() && absl::StrContains(s.ToString(), "lock")) {
      return absl::FailedPreconditionError(
          absl::StrCat(st.message(),
                       " (is the database open in another process or "
                       "Database instance?)"));
    }
    if (st.code() == absl::StatusCode::kInvalidArgument ||
        st.code() == absl::StatusCode::kNotFound) {
      return absl::DataLossError(st.message());
    }
    return st;
  }
  core->db = raw;
  {
    absl::MutexLock life(&core->life_mu);
    for (size_t i = 0; i < names.size(); ++i) {
      core->AddHandle(names[i], handles[i]);
    }
    core->pool = std::make_unique<ThreadPool>(options.threads);
  }
  auto impl = std::make_unique<DatabaseImpl>(core);

  // The format entry: written once, on creation (or when a creation was
  // interrupted before it: an empty meta family).
  std::string format;
  s = raw->Get(rocksdb::ReadOptions(), core->meta(),
               std::string(dbformat::kFormatKey), &format);
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(
        raw->NewIterator(rocksdb::ReadOptions(), core->meta()));
    it->SeekToFirst();
    TQ_RETURN_IF_ERROR(FromRocks(it->status(), dir + ": meta"));
    if (it->Valid()) {
      return absl::DataLossError(
          absl::StrCat(dir, ": column family 'meta' has no 'format' entry"));
    }
    rocksdb::WriteBatch batch;
    batch.Put(core->meta(), std::string(dbformat::kFormatKey),
              dbformat::EncodeFormat(dbformat::kFormatVersion));
    std::string next;
    PutFixed32(&next, 1);
    batch.Put(core->meta(), std::string(dbformat::kNextCidKey), next);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    TQ_RETURN_IF_ERROR(FromRocks(raw->Write(wo, &batch), dir + ": initialize"));
  } else {
    TQ_RETURN_IF_ERROR(FromRocks(s, dir + ": meta 'format'"));
    uint32_t version = 0;
    TQ_RETURN_IF_ERROR(dbformat::DecodeFormat(format, &version))
        << dir << ": column family 'meta'";
    if (!missing_later.empty() && version >= missing_since) {
      return absl::DataLossError(absl::StrCat(
          dir, ": column family '", missing_later[0], "' is missing from ",
          ManifestName(path), " (format version ", version, " has it)"));
    }
    if (version < dbformat::kFormatVersion) {
      TQ_RETURN_IF_ERROR(MigrateFormat(core.get(), missing_later, cache))
          << dir << ": migrating from format version " << version;
    }
  }
  TQ_RETURN_IF_ERROR(impl->LoadCollections());
  TQ_RETURN_IF_ERROR(impl->LoadAliases());
  DatabaseImpl* db = impl.get();  // outlives the thread: Close stops it
  StorageRecovery::Hooks hooks;
  hooks.recover = [db](const std::function<bool(rocksdb::DB*)>& must_reopen,
                       rocksdb::DB** out, bool* reopened) {
    return db->RecoverStorage(must_reopen, out, reopened);
  };
  hooks.on_resumed = [db] { db->ResumeTrainings(); };
  core->recovery->Start(raw, dbo.info_log, std::move(hooks));
  // A first training interrupted by a crash (or never started: the process
  // ended first) starts again now, not at the next write, which may never
  // come.
  impl->ResumeTrainings();
  return std::unique_ptr<Database>(std::move(impl));
}

absl::Status ValidateCollectionConfig(CollectionConfig* config) {
  return dbimpl::ValidateConfig(config);
}

}  // namespace tqdb
