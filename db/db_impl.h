// Internals of db/db.h: the shared RocksDB handle, the collection and the
// database implementations. Not part of the public API.
#ifndef TQDB_DB_DB_IMPL_H_
#define TQDB_DB_DB_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "db/db.h"
#include "db/format.h"
#include "index/ivf_index.h"
#include "index/thread_pool.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

// rocksdb::Status -> absl::Status, with context. Corruption (and a missing
// file) is DataLoss; RocksDB's messages name the file.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context);

// What every collection of one database shares.
struct DbCore {
  std::string dir;
  DatabaseOptions options;
  rocksdb::DB* db = nullptr;
  // Indexed like dbformat::kCfNames.
  rocksdb::ColumnFamilyHandle* cf[dbformat::kNumCfs] = {};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // all opened
  // Shared by every public call, exclusive for Close().
  mutable std::shared_mutex life_mu;
  bool closed = false;
  std::atomic<bool> closing{false};
  std::unique_ptr<ThreadPool> pool;  // SearchBatch

  rocksdb::ColumnFamilyHandle* meta() const { return cf[0]; }
  rocksdb::ColumnFamilyHandle* vectors() const { return cf[1]; }
  rocksdb::ColumnFamilyHandle* codes() const { return cf[2]; }
  rocksdb::ColumnFamilyHandle* idmap() const { return cf[3]; }
  rocksdb::ColumnFamilyHandle* payload() const { return cf[4]; }
};

// Raw vectors of an untrained collection, in memory, for exact search, up
// to max_bytes of vectors; past that only the ids are kept (existence,
// count) and has_vectors() turns false for good: searches then scan the
// stored vectors.
class FlatStore {
 public:
  FlatStore(uint32_t dim, Metric metric, size_t max_bytes)
      : dim_(dim), metric_(metric), max_bytes_(max_bytes) {}
  bool has_vectors() const;
  void Upsert(const uint64_t* ids, const float* x, size_t n);
  void Remove(const uint64_t* ids, size_t n);
  void Contains(const uint64_t* ids, size_t n, std::vector<bool>* out) const;
  size_t size() const;
  std::vector<Neighbor> Search(
      const float* query, uint32_t k,
      const std::function<bool(uint64_t)>* filter) const;

 private:
  const uint32_t dim_;
  const Metric metric_;
  const size_t max_bytes_;
  mutable std::shared_mutex mu_;
  bool overflowed_ = false;
  std::vector<float> data_;
  std::vector<uint64_t> ids_;
  absl::flat_hash_map<uint64_t, uint32_t> slot_;
};

class CollectionImpl : public Collection,
                       public std::enable_shared_from_this<CollectionImpl> {
 public:
  CollectionImpl(std::shared_ptr<DbCore> core,
                 const dbformat::CollectionRecord& record);
  ~CollectionImpl() override;

  // Rebuilds the in-memory state from storage (one scan of codes, or of
  // vectors while untrained) and removes leftovers of interrupted trainings.
  absl::Status Load();

  const CollectionConfig& config() const override { return config_; }
  absl::Status Upsert(const std::vector<Point>& points, bool wait) override;
  absl::StatusOr<size_t> Delete(const std::vector<uint64_t>& ids,
                                bool wait) override;
  absl::StatusOr<std::vector<Record>> Get(const std::vector<uint64_t>& ids,
                                          bool with_vectors,
                                          bool with_payload) const override;
  uint64_t Count() const override { return count_.load(); }
  absl::StatusOr<std::vector<Neighbor>> Search(
      absl::Span<const float> query,
      const QueryOptions& options) const override;
  absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(
      absl::Span<const float> queries,
      const QueryOptions& options) const override;
  absl::StatusOr<CollectionInfo> Info() const override;
  absl::Status Train() override;
  absl::Status Retrain() override;
  void WaitForTraining() override;

  // For the database: stops training (joins the background thread).
  void StopTraining();
  // Marks the handle dropped and appends the deletion of all its data to
  // `batch` (called with training stopped).
  void MarkDropped(rocksdb::WriteBatch* batch);
  uint32_t cid() const { return record_.cid; }
  const std::string& name() const { return config_.name; }

 private:
  class RocksVectorStore;
  struct State {
    uint32_t generation = 0;
    std::shared_ptr<IvfIndex> index;  // null while untrained
    std::shared_ptr<FlatStore> flat;  // non-null while untrained
    uint64_t trained_count = 0;
  };

  absl::Status CheckUsable() const;  // closed / dropped
  // An automatic nlist (config nlist 0, vectors stored) chosen when the
  // collection had trained_count points, now that it has n: retrain once it
  // has grown retrain_growth times.
  bool AutoNlistOutgrown(uint64_t n, uint64_t trained_count) const;
  State state() const {
    std::shared_lock<std::shared_mutex> l(state_mu_);
    return state_;
  }
  absl::StatusOr<std::vector<Neighbor>> SearchOne(const State& st,
                                                  const float* query,
                                                  const QueryOptions& o) const;
  absl::StatusOr<std::vector<Neighbor>> ExactFromStorage(
      const float* query, const QueryOptions& o) const;
  absl::Status CheckQuery(const float* q, const QueryOptions& o) const;
  // Parses one entry of the vectors family (point id and dim floats);
  // DataLoss naming the directory and collection if key or value is
  // malformed.
  absl::Status DecodeVectorEntry(const rocksdb::Slice& key,
                                 const rocksdb::Slice& value, uint64_t* id,
                                 float* out) const;
  // Training (train_mu_ held). retrain: also when trained.
  absl::Status RunTraining(bool retrain);
  absl::Status TrainLocked(bool retrain, bool* trained_now);
  void MaybeStartBackgroundTraining();  // write_mu_ held
  absl::Status RemoveGeneration(uint32_t gen);

  std::shared_ptr<DbCore> core_;
  CollectionConfig config_;
  dbformat::CollectionRecord record_;  // guarded by write_mu_
  double load_seconds_ = 0;

  mutable std::shared_mutex state_mu_;
  State state_;
  std::atomic<uint64_t> count_{0};
  std::atomic<bool> dropped_{false};

  // Serializes writers (and the final step of a training).
  std::mutex write_mu_;
  // Points written since a training's snapshot (write_mu_).
  bool tracking_ = false;
  absl::flat_hash_set<uint64_t> dirty_;
  std::atomic<uint64_t> next_auto_train_{0};  // count to try again at

  // One training at a time.
  std::mutex train_mu_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> training_{false};
  mutable std::mutex bg_mu_;  // bg_, bg_running_, last_error_
  std::condition_variable bg_cv_;
  std::thread bg_;
  bool bg_running_ = false;
  std::string last_error_;
};

class DatabaseImpl : public Database {
 public:
  explicit DatabaseImpl(std::shared_ptr<DbCore> core)
      : core_(std::move(core)) {}
  ~DatabaseImpl() override;

  absl::Status LoadCollections();

  absl::StatusOr<CollectionInfo> CreateCollection(
      const CollectionConfig& config) override;
  absl::Status DropCollection(const std::string& name) override;
  std::vector<std::string> ListCollections() const override;
  absl::StatusOr<std::shared_ptr<Collection>> GetCollection(
      const std::string& name) const override;
  absl::Status CreateSnapshot(const std::string& target_dir,
                              const std::string& collection) override;
  absl::Status Close() override;
  const std::string& dir() const override { return core_->dir; }

 private:
  std::shared_ptr<DbCore> core_;
  mutable std::mutex mu_;  // collections_, create/drop
  std::map<std::string, std::shared_ptr<CollectionImpl>> collections_;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_DB_IMPL_H_
