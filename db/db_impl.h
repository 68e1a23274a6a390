// Internals of db/db.h: the shared RocksDB handle, the collection and the
// database implementations. Not part of the public API.
//
// Lock order (a thread holding one may only take those after it):
//   DbCore::life_mu -> DatabaseImpl::mu_ -> CollectionImpl::train_mu_
//   -> CollectionImpl::write_mu_ -> CollectionImpl::state_mu_
//   -> CollectionImpl::bg_mu_
// The locks inside FlatStore, IvfIndex, PayloadIndex and RocksVectorStore
// are leaves.
// Nothing takes life_mu twice (absl::Mutex is not reentrant, in either
// mode). The annotations let clang's -Wthread-safety check the rules.
#ifndef TQDB_DB_DB_IMPL_H_
#define TQDB_DB_DB_IMPL_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "db/db.h"
#include "db/filter_eval.h"
#include "db/flat_store.h"
#include "db/format.h"
#include "db/memory_budget.h"
#include "db/payload_index.h"
#include "db/sparse_index.h"
#include "db/storage_recovery.h"
#include "index/ivf_index.h"
#include "index/thread_pool.h"
#include "quant/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/statistics.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

// The first statement of every public Collection method: holds life_mu
// shared for the rest of the scope and returns CheckUsable()'s error.
#define TQ_LIFE_GUARD()                            \
  absl::ReaderMutexLock tq_life_(&core_->life_mu); \
  TQ_RETURN_IF_ERROR(CheckUsable())

// What every collection of one database shares.
struct DbCore {
  std::string dir;
  DatabaseOptions options;
  // The Env over options.file_system (null: RocksDB's default Env); must
  // outlive db.
  std::unique_ptr<rocksdb::Env> env;
  // Resumes writes after storage errors (db/storage_recovery.h); a listener
  // of db. Stopped by Close before db closes.
  std::shared_ptr<StorageRecovery> recovery;
  // Open from Database::Open to Close. Public calls use it while they hold
  // life_mu shared; background trainings, which hold no lock, are stopped
  // by Close (and by DatabaseImpl::RecoverStorage) before it takes life_mu
  // exclusively to close it. Null before Close only while a reopen after a
  // storage error has not succeeded yet (calls answer ReopeningError()).
  rocksdb::DB* db = nullptr;
  // Indexed like dbformat::kCfNames; fixed while db is open.
  rocksdb::ColumnFamilyHandle* cf[dbformat::kNumCfs] = {};
  // What db was opened with, to reopen it in place; fixed after open (the
  // column families of a format migration included).
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> cf_descs;
  // Shared by every public call, exclusive for Close(). First in the lock
  // order.
  mutable absl::Mutex life_mu;
  std::vector<rocksdb::ColumnFamilyHandle*> handles
      ABSL_GUARDED_BY(life_mu);  // all opened
  bool closed ABSL_GUARDED_BY(life_mu) = false;
  std::atomic<bool> closing{false};
  std::unique_ptr<ThreadPool> pool ABSL_GUARDED_BY(life_mu);  // SearchBatch
  // The collections' memory against DatabaseOptions::memory_limit_bytes.
  std::unique_ptr<MemoryBudget> memory;
  // RocksDB's tickers (WAL syncs), and its block cache; fixed while open.
  std::shared_ptr<rocksdb::Statistics> statistics;
  std::shared_ptr<rocksdb::Cache> block_cache;

  rocksdb::ColumnFamilyHandle* meta() const { return cf[0]; }
  rocksdb::ColumnFamilyHandle* vectors() const { return cf[1]; }
  rocksdb::ColumnFamilyHandle* codes() const { return cf[2]; }
  rocksdb::ColumnFamilyHandle* idmap() const { return cf[3]; }
  rocksdb::ColumnFamilyHandle* payload() const { return cf[4]; }
  rocksdb::ColumnFamilyHandle* payload_index() const { return cf[5]; }
  rocksdb::ColumnFamilyHandle* sparse() const { return cf[6]; }

  // The error of a call while db is null before Close (UNAVAILABLE: it
  // passes once the reopen succeeds).
  absl::Status ReopeningError() const;
  // Takes the handle of the column family `name`, just opened or created.
  void AddHandle(const std::string& name, rocksdb::ColumnFamilyHandle* h)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(life_mu);
  // Destroys every handle and releases the snapshots of open PointCursors
  // (before db closes: RocksDB refuses to close with snapshots held).
  void DestroyHandles() ABSL_EXCLUSIVE_LOCKS_REQUIRED(life_mu);
  // The snapshots open PointCursors hold (db/point_cursor.cc). A cursor
  // adds and removes its own with life_mu held shared; DestroyHandles
  // releases them all and clears the cursors' pointers (life_mu exclusive),
  // so a cursor reads its pointer safely under life_mu shared.
  absl::Mutex cursors_mu;  // after life_mu
  std::set<const rocksdb::Snapshot**> cursor_snapshots
      ABSL_GUARDED_BY(cursors_mu);
};

class CollectionImpl : public Collection,
                       public std::enable_shared_from_this<CollectionImpl> {
 public:
  friend class PointCursorImpl;  // db/point_cursor.cc
  CollectionImpl(std::shared_ptr<DbCore> core,
                 const dbformat::CollectionRecord& record);
  ~CollectionImpl() override;

  // Rebuilds the in-memory state from storage (one scan of codes, or of
  // vectors while untrained) and removes leftovers of interrupted trainings.
  // Called once, before the collection is shared.
  absl::Status Load();

  const CollectionConfig& config() const override { return config_; }
  absl::Status Upsert(const std::vector<Point>& points, bool wait) override;
  absl::StatusOr<size_t> UpdateVectors(const std::vector<Point>& points,
                                       bool wait) override;
  absl::StatusOr<size_t> Delete(const std::vector<uint64_t>& ids,
                                bool wait) override;
  absl::StatusOr<std::vector<Record>> Get(const std::vector<uint64_t>& ids,
                                          bool with_vectors,
                                          bool with_payload) const override;
  uint64_t Count() const override { return count_.load(); }
  absl::StatusOr<std::unique_ptr<PointCursor>> OpenCursor() const override;
  absl::Status UpsertLogged(uint64_t sequence, const std::vector<Point>& points,
                            bool wait) override;
  absl::StatusOr<size_t> DeleteLogged(uint64_t sequence,
                                      const std::vector<uint64_t>& ids,
                                      bool wait) override;
  absl::Status SkipLogged(uint64_t sequence) override;
  absl::Status ForgetLogged() override;
  uint64_t applied_sequence() const override { return applied_.load(); }
  absl::StatusOr<CountResult> Count(const Filter& filter) const override;
  absl::StatusOr<FacetResult> Facet(const FacetOptions& options) const override;
  absl::StatusOr<ScrollPage> Scroll(
      const ScrollOptions& options) const override;
  absl::StatusOr<size_t> DeletePoints(const PointSelector& points,
                                      bool wait) override;
  absl::StatusOr<size_t> SetPayload(const PointSelector& points,
                                    const std::string& payload,
                                    bool wait) override;
  absl::StatusOr<size_t> OverwritePayload(const PointSelector& points,
                                          const std::string& payload,
                                          bool wait) override;
  absl::StatusOr<size_t> DeletePayloadKeys(const PointSelector& points,
                                           const std::vector<std::string>& keys,
                                           bool wait) override;
  absl::StatusOr<FieldIndexInfo> CreateFieldIndex(const std::string& field,
                                                  FieldType type,
                                                  bool wait) override;
  absl::Status DeleteFieldIndex(const std::string& field) override;
  absl::StatusOr<std::vector<Neighbor>> Search(
      absl::Span<const float> query,
      const QueryOptions& options) const override;
  absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(
      absl::Span<const float> queries,
      const QueryOptions& options) const override;
  absl::StatusOr<std::vector<Neighbor>> SearchSparse(
      const SparseVector& query, const QueryOptions& options) const override;
  absl::StatusOr<SparseTermStats> SparseStats(
      const std::vector<uint32_t>& terms) const override;
  absl::StatusOr<CollectionInfo> Info() const override;
  // Info() for a caller that holds life_mu and has checked the handle (the
  // database, answering a create with the collection it made even if a drop
  // follows at once).
  CollectionInfo InfoLocked() const ABSL_SHARED_LOCKS_REQUIRED(core_->life_mu);
  absl::Status Train() override;
  absl::Status Retrain() override;
  void WaitForTraining() override;

  // For the database: stops training and index builds (joins the
  // background threads).
  void StopTraining();
  // For the database, after StopTraining, when a storage recovery succeeded:
  // lets background work run again and restarts the index builds it stopped
  // (ResumeTraining restarts the training).
  void AllowBackground();
  // For the database: starts the background training the collection's size
  // calls for, if background training is on. After open (a crash may have
  // interrupted the first training, and no write may come to start it
  // again) and after a storage recovery (the error may have failed one).
  void ResumeTraining();
  // Marks the handle dropped and appends the deletion of all its data to
  // `batch` (called with training stopped).
  void MarkDropped(rocksdb::WriteBatch* batch);
  uint32_t cid() const { return cid_; }
  const std::string& name() const { return config_.name; }
  // Records what the in-memory state holds now in the database's budget
  // (after a change of it).
  void AccountMemory() const;

 private:
  class RocksVectorStore;  // collection_search.cc
  class Training;          // collection_train.cc
  struct State {
    uint32_t generation = 0;
    std::shared_ptr<IvfIndex> index;  // null while untrained
    std::shared_ptr<FlatStore> flat;  // non-null while untrained
    uint64_t trained_count = 0;
  };

  // FailedPrecondition once the database is closed, NotFound once dropped.
  absl::Status CheckUsable() const ABSL_SHARED_LOCKS_REQUIRED(core_->life_mu);
  absl::Status DroppedError() const;
  // A read's result, or NotFound if the collection was dropped by the time
  // it finished: the read may have come after the drop's range delete and
  // found nothing. dropped_ is set before that delete is written, so a read
  // that still finds it clear afterwards read before it.
  template <typename T>
  absl::StatusOr<T> UnlessDropped(absl::StatusOr<T> read) const {
    if (dropped_) return DroppedError();
    return read;
  }
  // An automatic nlist (config nlist 0, vectors stored) chosen when the
  // collection had trained_count points, now that it has n: retrain once it
  // has grown retrain_growth times.
  bool AutoNlistOutgrown(uint64_t n, uint64_t trained_count) const;
  State state() const ABSL_LOCKS_EXCLUDED(state_mu_) {
    absl::ReaderMutexLock l(&state_mu_);
    return state_;
  }

  // The sparse vectors of out's points (keys: their PointKeys, in order),
  // read with `ro`; DataLoss for a malformed entry.
  absl::Status ReadSparse(const rocksdb::ReadOptions& ro,
                          const std::vector<std::string>& keys,
                          std::vector<Record>* out) const;
  // Get, for callers that hold life_mu already.
  absl::StatusOr<std::vector<Record>> GetRecords(
      const std::vector<uint64_t>& ids, bool with_vectors,
      bool with_payload) const ABSL_SHARED_LOCKS_REQUIRED(core_->life_mu);

  // collection_load.cc: the steps of Load.
  absl::Status RemoveOtherGenerations(uint32_t g, const std::string& where);
  absl::Status LoadVectors(FlatStore* flat, const std::string& where,
                           uint64_t* n);
  absl::StatusOr<std::shared_ptr<IvfIndex>> LoadTrained(
      uint32_t g, const std::string& where) const;
  absl::Status LoadCodes(uint32_t g, IvfIndex* index, const std::string& where,
                         uint64_t* n);

  // collection_write.cc. Upsert and Delete, tagged with a log sequence
  // unless it is 0. kKeep (UpdateVectors): the points must exist (NotFound
  // otherwise, nothing written) and keep their payloads; *updated: the
  // points written.
  enum class Payloads { kReplace, kKeep };
  absl::Status WriteUpsert(const std::vector<Point>& points, bool wait,
                           uint64_t sequence,
                           Payloads payloads = Payloads::kReplace,
                           size_t* updated = nullptr);
  absl::StatusOr<size_t> WriteDelete(const std::vector<uint64_t>& ids,
                                     bool wait, uint64_t sequence);
  absl::Status CheckSequence(uint64_t sequence);
  // Adds the applied sequence to a write's batch (nothing for 0).
  void TagBatch(uint64_t sequence, rocksdb::WriteBatch* batch);
  // A batch of the applied sequence alone (if above the current one).
  absl::Status RecordSequence(uint64_t sequence, bool wait)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // collection_write.cc: the lists of `ids` in generation g (kNoList in
  // gen 0) from idmap; found[i] false for an absent point. DataLoss for a
  // malformed entry.
  absl::Status ReadLists(uint32_t g, const std::vector<uint64_t>& ids,
                         std::vector<uint32_t>* lists,
                         std::vector<bool>* found) const;

  // collection_search.cc. Queries are validated (db/query.h) on the way in.
  struct Prepared;  // a search's filter, evaluated once (a batch shares it)
  // Search of a query vector (o.examples resolved already).
  absl::StatusOr<std::vector<Neighbor>> SearchQuery(
      absl::Span<const float> query, const QueryOptions& o) const
      ABSL_SHARED_LOCKS_REQUIRED(core_->life_mu);
  absl::StatusOr<std::vector<Neighbor>> SearchOne(const State& st,
                                                  const float* query,
                                                  const QueryOptions& o,
                                                  const Prepared* filter,
                                                  SearchInfo* info) const;
  absl::StatusOr<std::vector<Neighbor>> SearchFiltered(const State& st,
                                                       const float* query,
                                                       const QueryOptions& o,
                                                       const Prepared& f,
                                                       SearchInfo* info) const;
  absl::StatusOr<std::unique_ptr<Prepared>> Prepare(const QueryOptions& o,
                                                    const State& st) const;
  // Exact, over the stored vectors; with `only` (ascending ids), over those
  // points only.
  absl::StatusOr<std::vector<Neighbor>> ExactFromStorage(
      const float* query, const QueryOptions& o,
      const std::vector<uint64_t>* only = nullptr) const;

  // collection_filter.cc: a filter's matching points, validated against the
  // query rules (db/query.h) and complete (payloads read for the conditions
  // without a ready index). Hold `pin` while using the internal ids.
  struct Matches {
    FilterResult result;
    std::shared_ptr<const void> pin;
    double ms = 0;
  };
  absl::Status CheckFilter(const Filter& filter) const;
  absl::StatusOr<Matches> Match(std::shared_ptr<const Filter> filter) const;
  // Scroll with options.order_by.
  absl::StatusOr<ScrollPage> OrderedScroll(const ScrollOptions& options) const;
  // Phase 2 of a FilterResult: reads the candidates' payloads.
  absl::Status DecideFromPayloads(FilterResult* r) const;
  // The ids a selector names (ids deduplicated; a filter's matches,
  // ascending); RESOURCE_EXHAUSTED past max_batch listed ids. REQUIRES:
  // write_mu_ held for a filter (so that its matches stay the matches until the
  // caller's writes).
  absl::StatusOr<std::vector<uint64_t>> SelectIds(
      const PointSelector& points) const;

  // collection_write.cc. `sequence`: as WriteDelete's (0 = not logged).
  absl::StatusOr<size_t> DeleteLocked(const std::vector<uint64_t>& ids,
                                      bool wait, uint64_t sequence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The payload_index family's changes of a write: deletes of the entries
  // of old values that are gone, puts of new ones (the family's memtable is
  // unsorted, db/db.cc: their order does not matter).
  struct IndexEdits {
    std::vector<std::string> deletes, puts;
    void AddTo(rocksdb::ColumnFamilyHandle* cf,
               rocksdb::WriteBatch* batch) const;
  };
  // One point's edits.
  void IndexWrites(const std::vector<std::pair<std::string, FieldType>>& schema,
                   uint64_t id, const std::vector<FieldValues>& old_values,
                   const std::vector<FieldValues>& new_values,
                   IndexEdits* edits) const;

  // collection_payload.cc: payload updates and index builds.
  using PayloadEdit =
      std::function<absl::Status(uint64_t id, const std::string& old_payload,
                                 bool has_old, std::string* new_payload)>;
  absl::StatusOr<size_t> EditPayloads(const PointSelector& points,
                                      const PayloadEdit& edit, bool wait);
  void StartIndexer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_);
  void IndexerLoop();
  // One chunk of a field's backfill from point id *next; *done when none
  // are left (the index is then ready).
  absl::Status BackfillChunk(const std::string& field, uint64_t* next,
                             bool* done);
  absl::StatusOr<FieldIndexInfo> FieldInfo(const std::string& field) const;
  // collection_load.cc: the payload indexes' definitions and entries.
  absl::Status LoadFieldIndexes(const std::string& where);
  // collection_load.cc: the sparse vectors into sparse_.
  absl::Status LoadSparse(const std::string& where);
  // Parses one entry of the vectors family (point id and dim floats);
  // DataLoss naming the directory and collection if key or value is
  // malformed.
  absl::Status DecodeVectorEntry(const rocksdb::Slice& key,
                                 const rocksdb::Slice& value, uint64_t* id,
                                 float* out) const;

  // collection_train.cc. retrain: also when trained.
  absl::Status RunTraining(bool retrain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(train_mu_);
  absl::Status TrainLocked(bool retrain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(train_mu_);
  void MaybeStartBackgroundTraining() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status RemoveGeneration(uint32_t gen);

  const std::shared_ptr<DbCore> core_;
  const CollectionConfig config_;
  const uint32_t cid_;       // the collection id, fixed at creation
  double load_seconds_ = 0;  // written by Load only

  // One training at a time (the background thread, Train, Retrain).
  absl::Mutex train_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  // Serializes writers and the final step of a training.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(state_mu_);
  // The searchable state. It changes only in a training's switch, which
  // holds write_mu_ too: a copy taken under write_mu_ stays current until
  // write_mu_ is released.
  mutable absl::Mutex state_mu_ ABSL_ACQUIRED_BEFORE(bg_mu_);
  mutable absl::Mutex bg_mu_;

  State state_ ABSL_GUARDED_BY(state_mu_);
  // Settings and training state as persisted.
  dbformat::CollectionRecord record_ ABSL_GUARDED_BY(write_mu_);
  std::atomic<uint64_t> count_{0};
  std::atomic<bool> dropped_{false};
  // The last log sequence written (UpsertLogged); changes under write_mu_.
  std::atomic<uint64_t> applied_{0};

  // Points written since a training's snapshot.
  bool tracking_ ABSL_GUARDED_BY(write_mu_) = false;
  absl::flat_hash_set<uint64_t> dirty_ ABSL_GUARDED_BY(write_mu_);
  std::atomic<uint64_t> next_auto_train_{0};  // count to try again at

  // The points' internal ids and payload indexes (thread-safe; its lock is
  // a leaf).
  PayloadIndex payload_index_;
  // The points' sparse vectors (thread-safe; its lock is a leaf); written
  // after each batch, as payload_index_.
  SparseIndex sparse_;
  // Index builds: fields whose backfill is pending or running, the thread
  // running them, and their last errors.
  std::deque<std::string> backfills_ ABSL_GUARDED_BY(bg_mu_);
  std::thread indexer_ ABSL_GUARDED_BY(bg_mu_);
  bool indexer_running_ ABSL_GUARDED_BY(bg_mu_) = false;
  absl::CondVar index_done_;  // signalled when a backfill ends
  std::map<std::string, std::string> index_errors_ ABSL_GUARDED_BY(bg_mu_);

  std::atomic<bool> stop_{false};
  std::atomic<bool> training_{false};
  std::thread bg_ ABSL_GUARDED_BY(bg_mu_);
  bool bg_running_ ABSL_GUARDED_BY(bg_mu_) = false;
  absl::CondVar bg_done_;  // signalled when bg_running_ turns false
  std::string last_error_ ABSL_GUARDED_BY(bg_mu_);
};

// A valid collection or alias name: [A-Za-z0-9_-]{1,64}.
bool ValidName(const std::string& name);

class DatabaseImpl : public Database {
 public:
  explicit DatabaseImpl(std::shared_ptr<DbCore> core)
      : core_(std::move(core)) {}
  ~DatabaseImpl() override;

  absl::Status LoadCollections();
  // CollectionImpl::ResumeTraining on every collection (after open and after
  // a storage recovery).
  void ResumeTrainings();
  // StorageRecovery::Hooks::recover (db/storage_reopen.cc): one attempt,
  // with background work stopped and public calls waiting (life_mu
  // exclusive).
  rocksdb::Status RecoverStorage(
      const std::function<bool(rocksdb::DB* db)>& must_reopen, rocksdb::DB** db,
      bool* reopened);

  absl::StatusOr<CollectionInfo> CreateCollection(
      const CollectionConfig& config) override;
  absl::Status DropCollection(const std::string& name) override;
  std::vector<std::string> ListCollections() const override;
  absl::StatusOr<std::shared_ptr<Collection>> GetCollection(
      const std::string& name) const override;
  absl::Status UpdateAliases(const std::vector<AliasChange>& changes) override;
  std::map<std::string, std::string> ListAliases() const override;
  // Reads the aliases (Open, after LoadCollections).
  absl::Status LoadAliases();
  absl::Status CreateSnapshot(const std::string& target_dir,
                              const std::string& collection) override;
  absl::Status Close() override;
  const std::string& dir() const override { return core_->dir; }
  StorageStats storage_stats() const override;

 private:
  // Closes RocksDB and opens it again in the same place; *db is the
  // instance open afterwards (null: closed, not reopened yet).
  rocksdb::Status ReopenStorage(rocksdb::DB** db)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->life_mu);
  // The open collection called `name`, else NotFound.
  absl::StatusOr<std::shared_ptr<CollectionImpl>> Find(
      const std::string& name) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The collection `name` names: itself, or the one it is an alias of.
  const std::string& Resolve(const std::string& name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<DbCore> core_;
  // Create and drop; after DbCore::life_mu in the lock order.
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<CollectionImpl>> collections_
      ABSL_GUARDED_BY(mu_);
  // alias -> collection (meta "alias/<alias>").
  std::map<std::string, std::string> aliases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_DB_IMPL_H_
