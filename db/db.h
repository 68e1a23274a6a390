// tqdb's embedded database: named collections of vectors, compressed with
// TurboQuant in an IVF index, persisted in one RocksDB instance per data
// directory (layout: db/format.h, db/FORMAT.md).
//
//   auto db = Database::Open("/var/lib/tqdb", DatabaseOptions());
//   CollectionConfig cfg;
//   cfg.name = "docs"; cfg.dim = 512; cfg.metric = Metric::kCosine;
//   (*db)->CreateCollection(cfg);
//   auto c = *(*db)->GetCollection("docs");
//   c->Upsert({{1, vec1, "payload"}, {2, vec2, ""}}, /*wait=*/true);
//   auto hits = c->Search(query, QueryOptions());
//   c->CreateFieldIndex("lang", FieldType::kKeyword, /*wait=*/true);
//   QueryOptions o;
//   o.filter = ...;  // db/filter.h, or ParseFilterJson (db/filter_json.h)
//   hits = c->Search(query, o);  // nearest points whose payload matches
//
// Durability: every Upsert/Delete batch is one atomic RocksDB WriteBatch
// across the column families (stale entries of updated points included). With
// wait = true the call returns after the write-ahead log is synced (survives
// power loss); without it the write survives a process crash and a clean
// shutdown. Either way the batch is searchable when the call returns.
//
// Training: a collection starts untrained and answers searches exactly over
// its stored vectors. When it holds train_threshold points, a background
// thread trains the IVF index (k-means centroids; TurboQuant rotation and
// codebooks are fixed by the settings), encodes every point, catches up with
// the writes that arrived meanwhile and switches searches to the index in
// one step. Writes are never blocked by training except for that final
// catch-up. Train() does it now; Retrain() rebuilds the centroids of a
// trained collection (Info() reports when list imbalance recommends it).
// With an automatic nlist (0) and stored vectors, the background thread also
// retrains by itself each time the collection has grown retrain_growth times
// past its last training, so that nlist follows the data (a collection
// trained at 1,000 points does not stay at nlist 25 for a million). Open
// starts the trainings that are due (one a crash interrupted), without
// waiting for a write.
//
// Payloads are JSON (validated on upsert). Filters (db/filter.h) select
// points by payload fields and ids; a payload index on a field
// (CreateFieldIndex) answers its conditions from compressed bitmaps, a
// condition on a field without one reads the payloads (correct, slower;
// reported in SearchInfo/unindexed_fields). A filtered search filters
// inside the index scan and returns k results whenever k points match.
//
// Errors: InvalidArgument (naming the point index and id) for bad input,
// NotFound for unknown collections, ResourceExhausted for batches over
// DatabaseOptions::max_batch, DataLoss for missing or corrupt files (named),
// FailedPrecondition for a directory written by a newer format version or an
// operation the collection's settings rule out. No exception escapes.
//
// Storage faults: when the disk is full (ResourceExhausted) or fails
// (Unavailable: EIO on a write or an fsync, a failed flush), writes fail and
// reads go on; nothing acknowledged is lost, and writes resume by themselves
// once the storage works again, without reopening (db/storage_recovery.h).
// A failed write is never half applied. Nothing aborts the process, however
// the disk fails (RocksDB's info log is replaced: db/info_log.h).
//
// Thread-safety: Database and Collection methods may be called concurrently
// from any threads: searches run concurrently with each other and with
// writes; writes to one collection are serialized. Close() waits for calls
// in flight and stops background training; afterwards every Collection
// handle (they may outlive the Database) returns FailedPrecondition. As for
// any object, destroying the Database must not race with calls on it.
#ifndef TQDB_DB_DB_H_
#define TQDB_DB_DB_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "db/bm25_config.h"
#include "db/filter.h"
#include "index/refine_codes.h"
#include "index/types.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace tqdb {

struct DatabaseOptions {
  // Open: create the directory and an empty database if there is none.
  bool create_if_missing = true;
  // Open: refuse (AlreadyExists) a directory that already holds a database.
  bool error_if_exists = false;
  // Points per Upsert/Delete call; more is ResourceExhausted.
  size_t max_batch = 10000;
  // Bytes per payload; more is InvalidArgument.
  size_t max_payload_bytes = size_t{1} << 20;
  // Points per filtered delete, payload update or index backfill batch:
  // each batch is atomic; more points are done in several.
  size_t max_filter_batch = 10000;
  // Train a collection in the background once it reaches its
  // train_threshold (false: only Train() trains it).
  bool background_training = true;
  // Raw vectors of an untrained collection are kept in memory for exact
  // search up to this many bytes per collection; past it (a bulk load
  // outrunning the first training) searches before the first training scan
  // the stored vectors instead, and memory stays bounded.
  size_t max_untrained_memory_bytes = size_t{256} << 20;
  // Memory the collections may hold (indexes, in-memory raw vectors,
  // trainings; db/memory_budget.h); 0 = no limit. A write, a training or an
  // open that would pass it fails with ResourceExhausted naming the
  // collection and the numbers.
  size_t memory_limit_bytes = 0;
  // Threads for training, bulk encoding and SearchBatch (0 = all cores).
  uint32_t threads = 0;
  // Info().retrain_recommended when list imbalance exceeds this, or when the
  // collection has grown to retrain_growth x the points it was trained on.
  double retrain_imbalance = 3.0;
  double retrain_growth = 4.0;
  // RocksDB tuning.
  size_t block_cache_bytes = size_t{32} << 20;
  size_t write_buffer_bytes = size_t{64} << 20;
  int max_background_jobs = 2;
  // The file system the database's files go through; null = the local one
  // (rocksdb::FileSystem::Default()). For tests (tests/db/fault_fs.h wraps
  // the local one to inject faults) and for embedding with a custom
  // rocksdb::FileSystem. Shared with the caller, kept until Close().
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

struct CollectionConfig {
  // [A-Za-z0-9_-]{1,64}
  std::string name;
  uint32_t dim = 0;
  Metric metric = Metric::kCosine;
  // Codec (index/scan_codec.h): TurboQuant "renorm", "mse", "prod", the
  // data-aware "pca" (index/pca_codec.h), or "pq".
  std::string method = "renorm";
  uint32_t bits = 4;
  // Seeds the rotation (and sketch) of TurboQuant and the k-means.
  uint64_t seed = 0x7464622d726f74ull;
  // IVF lists; 0 = chosen at training time (round(4 sqrt(n)), at most n/39).
  uint32_t nlist = 0;
  // Keep the raw float vectors (needed for exact search and rescoring after
  // training, Get(with_vectors) and Retrain). Vectors are always kept until
  // the first training; with false they are deleted when it completes.
  bool store_vectors = true;
  // Points at which the first training starts in the background;
  // 0 = 39 * nlist, or 1000 when nlist is 0.
  uint64_t train_threshold = 0;
  // Where a rescore (QueryOptions::rescore) reads the candidates' vectors
  // (RefineVocabulary::kRescoreSource): kNone "raw", the stored vectors (one
  // RocksDB MultiGet a search); kInt8 "int8" or kFloat32 "f32", rescoring codes
  // the index keeps in memory (index/refine_codes.h: d + 8 or 4 d + 4 bytes a
  // point), built from the stored vectors at training and at open, so they
  // need store_vectors. int8 scores err by at most ||q||_1 s / 2 (s the
  // point's largest |coordinate| / 127); f32 scores equal raw ones.
  RefineKind refine = RefineKind::kNone;
  // Whether the index's progressive lists hold the first pass's bits once
  // or twice (PrefixSharing, index/types.h): kWhereExact ("auto") shares
  // them where the first pass loses nothing by it (mse, renorm); kAlways
  // also for pca (use512 4 bits: 292 instead of 356 bytes a point in
  // memory, 0-11% slower searches); kNever holds them twice.
  PrefixSharing prefix_sharing = PrefixSharing::kWhereExact;
  // With it, points may be given a text (Point::text), indexed as its BM25
  // sparse vector, and searched by a query text (db/bm25.h).
  std::optional<Bm25Config> bm25;
  // pca only: whether training codes the residuals weighted as queries
  // like the data see them (PcaWeighting, index/types.h): kAuto trains both
  // and keeps the weighting where the collection's own sample ranks better
  // with it (index/codec_choice.h; use512 2 / 3 / 4 bits 10-recall@10
  // +0.011 / +0.006 / +0.003, kept out on GloVe) at twice the training
  // time. Other methods take only kAuto; older collections read as kOff.
  PcaWeighting pca_weighting = PcaWeighting::kAuto;
};

// A sparse vector (Qdrant's sparse vectors, Milvus's SPARSE_FLOAT_VECTOR):
// the non-zero coordinates of a vector over a vocabulary of up to 2^32
// terms (SPLADE or BM25 weights), scored by dot product. Stored in
// ascending index order; Upsert sorts them (db/sparse_index.h: the rules).
struct SparseVector {
  std::vector<uint32_t> indices;
  std::vector<float> values;
  bool empty() const { return indices.empty() && values.empty(); }
  bool operator==(const SparseVector& o) const {
    return indices == o.indices && values == o.values;
  }
};

// What the IDF of a sparse query needs (Collection::SparseStats): the
// points holding a sparse vector, and for each term asked the points
// holding it.
struct SparseTermStats {
  uint64_t points = 0;
  std::vector<uint64_t> holding;  // one per term asked, in order
};

struct Point {
  uint64_t id = 0;
  std::vector<float> vector;
  std::string payload;  // optional JSON (UTF-8, any value); empty = none
  // Optional, beside the dense vector: searched by Collection::SearchSparse.
  // An upsert replaces it (empty: the point has none); UpdateVectors keeps
  // the stored one when empty.
  SparseVector sparse{};
  // Optional, instead of `sparse`, in a collection with bm25 settings: a
  // text whose BM25 term weights become the sparse vector (db/bm25.h). The
  // text itself is not stored (keep it in the payload to read it back).
  std::string text{};
};

struct Record {
  uint64_t id = 0;
  bool has_vector = false;  // false when not requested or not stored
  std::vector<float> vector;
  std::string payload;
  double order_value = 0;  // an ordered scroll's: the value it is listed at
  SparseVector sparse{};   // with the vector (when requested), if it has one
};

// What a search did (QueryOptions::info).
struct SearchInfo {
  // Lists probed: the asked nprobe clamped to the active index's nlist (0
  // asks for all), or as the filter's planner raised it; 0 when no IVF list
  // was scanned (exact, untrained, or every match scored).
  uint32_t nprobe_used = 0;
  bool exact = false;  // brute force over the stored vectors
  // "ivf": the nprobe nearest lists; "exact": brute force over the stored
  // vectors; "flat": exact over the vectors in memory (untrained);
  // filtered: "filtered-ivf" (lists in centroid order until they held
  // enough matches), "filtered-matches" (every matching point scored),
  // "filtered-exact", "filtered-flat", "filtered-none" (no point matches).
  std::string plan;
  bool filtered = false;
  uint64_t matches = 0;       // points matching the filter (exact)
  uint32_t lists_probed = 0;  // IVF plans
  uint64_t scored = 0;        // points whose code (or vector) was scored
  double filter_ms = 0;       // evaluating the filter
  // Keys evaluated on payloads: no ready payload index.
  std::vector<std::string> unindexed_fields;
};

// How a filtered search over a trained collection visits the index
// (db/planner.h): the planner's choice per query, or one forced (to compare
// them; SearchInfo::plan says which ran).
enum class FilterPlanChoice {
  kAuto = 0,
  kIvf = 1,      // "filtered-ivf"
  kMatches = 2,  // "filtered-matches"
};

// How a search by example scores the points (Qdrant's recommend
// strategies; db/search_examples.h and db/recommend.h).
enum class RecommendStrategy {
  kAverageVector = 0,  // one search with the examples' mean
  kBestScore = 1,      // the best positive against the best negative
  kSumScores = 2,      // the positives' scores minus the negatives'
};

// Search by example (Qdrant's recommend): the query is made of stored
// points' vectors, and those points are left out of the results
// (db/search_examples.h). Under kBestScore and kSumScores a higher score
// is better on every metric.
struct SearchExamples {
  std::vector<uint64_t> positive, negative;
  RecommendStrategy strategy = RecommendStrategy::kAverageVector;
  // Examples given as vectors, beside or instead of ids (normalized under
  // cosine as the stored ones are); they leave no point out.
  std::vector<std::vector<float>> positive_vectors{}, negative_vectors{};
  bool empty() const {
    return positive.empty() && negative.empty() && positive_vectors.empty() &&
           negative_vectors.empty();
  }
};

// The search parameters of index/types.h (k, nprobe, exact, rescore,
// oversampling, id_filter, cancelled), as the database reads them, plus its
// own. Passed down to the index as they are, with the allowed set of the
// filter (SearchParams::allowed) set by the database. Differences:
//  - nprobe: clamped to the active index's nlist (0 = all); ignored while
//    untrained. A collection's nlist changes when it retrains, so a fixed
//    nprobe keeps working; `info` says what was used. With a filter, the
//    minimum: the planner (db/planner.h) probes further until the lists
//    probed hold enough matching points, or scores just the matching points.
//  - exact: over the stored vectors (always the case while untrained).
//  - rescore: reranks k * oversampling index candidates by exact score on
//    the stored vectors.
//  - stats: filled by every search (exact ones count exact_scored); for
//    SearchBatch, the sum over its queries.
//  - id_filter, cancelled: also apply to exact searches; cancelled is
//    polled between IVF lists and every few thousand stored vectors, and
//    the search then stops with Cancelled.
// The raw vectors (SearchParams::store) are the collection's own.
struct QueryOptions : SearchParams {
  // Optional: only points matching it are returned (db/filter.h).
  std::shared_ptr<const Filter> filter;
  // Optional: Search takes an empty query and searches with the examples'
  // (db/search_examples.h). Not for SearchBatch.
  SearchExamples examples;
  FilterPlanChoice filter_plan = FilterPlanChoice::kAuto;
  // Optional out: Search fills *info; SearchBatch fills info[i] for query i
  // (an array of as many as there are queries). Not owned.
  SearchInfo* info = nullptr;

 private:
  // Set by the database, not by its callers.
  using SearchParams::allowed;
  using SearchParams::filtered_scan;
  using SearchParams::min_allowed;
  using SearchParams::store;
};

// A payload index (Collection::CreateFieldIndex).
struct FieldIndexInfo {
  std::string field;
  FieldType type = FieldType::kKeyword;
  bool ready = false;       // false while it is being built (backfill)
  uint64_t points = 0;      // points whose field is not empty
  size_t memory_bytes = 0;  // approximate, in memory
};

// The order of an ordered scroll (ScrollOptions::order_by): by the values
// of a numeric or datetime payload field, then by id. A point with several
// values is listed once for each (Qdrant's order_by), one without a value
// not at all. Integers are compared as doubles (exact up to 2^53); a
// datetime index's values are microseconds since 1970 (db/datetime.h).
struct OrderBy {
  std::string key;  // a field with a ready integer, float or datetime index
  bool descending = false;
  // The first value of the page (inclusive); among the points listed at
  // it, the page starts at id ScrollOptions::offset. A page's
  // next_order_value and next_offset are the next page's.
  std::optional<double> start_from;
};

struct ScrollOptions {
  std::shared_ptr<const Filter> filter;  // optional
  uint32_t limit = 10;                   // points per page, >= 1
  uint64_t offset = 0;                   // first id of the page (inclusive)
  bool with_vectors = false;
  bool with_payload = true;
  std::optional<OrderBy> order_by;  // else in id order
};

struct ScrollPage {
  std::vector<Record> points;  // ascending ids, or in order_by's order
  bool has_next = false;
  uint64_t next_offset = 0;     // the offset of the next page, if has_next
  double next_order_value = 0;  // ordered: the next page's start_from
  std::vector<std::string> unindexed_fields;
};

struct CountResult {
  uint64_t count = 0;
  std::vector<std::string> unindexed_fields;
};

// A value of a payload field and the number of points holding it
// (Collection::Facet; db/facet.h orders and merges them).
struct FacetHit {
  FieldType type = FieldType::kKeyword;  // kKeyword, kInteger or kBool
  std::string keyword;                   // kKeyword
  int64_t integer = 0;                   // kInteger; kBool: 0 or 1
  uint64_t count = 0;
};

struct FacetOptions {
  std::string key;  // a field with a ready keyword, integer or bool index
  std::shared_ptr<const Filter> filter;  // optional: count matching points
  size_t limit = 10;                     // most frequent values; 0 = all
};

struct FacetResult {
  std::vector<FacetHit> hits;  // most points first, then ascending values
  std::vector<std::string> unindexed_fields;  // of the filter
};

// The points a payload update or a delete applies to: the ids, or the
// points matching the filter (exactly one of the two).
struct PointSelector {
  std::vector<uint64_t> ids;
  std::shared_ptr<const Filter> filter;
};

struct CollectionInfo {
  CollectionConfig config;  // train_threshold as in effect
  uint32_t collection_id = 0;
  uint64_t count = 0;
  bool trained = false;
  uint32_t generation = 0;     // trainings completed
  uint32_t nlist = 0;          // of the active index, 0 while untrained
  uint64_t trained_count = 0;  // points at the last training
  bool training = false;       // a training is running now
  std::string last_training_error;
  ListStats lists;       // of the active index
  double imbalance = 0;  // lists.imbalance
  bool retrain_recommended = false;
  std::string retrain_reason;
  std::vector<FieldIndexInfo> field_indexes;  // by field
  size_t code_bytes = 0;  // per vector in the index, 0 if untrained
  // The active index's codec (ScanCodec::Describe(), e.g. "pca 4-bit
  // weighted (262 B)": what kAuto chose); empty if untrained.
  std::string codec;
  // Memory of one point in the active index (0 if untrained): its codes
  // in the lists' layout, its rescoring code (refine_bytes: 0 for raw), id,
  // flag and id-map entry (IvfIndex::MemoryBytesPerVector).
  size_t memory_bytes_per_vector = 0;
  size_t refine_bytes = 0;
  double disk_bytes_per_vector = 0;  // approximate, all families
  double load_seconds = 0;           // rebuilding the in-memory state at open
  uint64_t disk_bytes = 0;           // approximate, all families
  // Memory (db/memory_budget.h): what the collection holds (index, or raw
  // vectors in memory while untrained, plus what running writes and a
  // training reserved), of it the active index, every collection's total
  // and DatabaseOptions::memory_limit_bytes (0 = none).
  size_t memory_bytes = 0;
  size_t memory_index_bytes = 0;
  size_t memory_reserved_bytes = 0;
  size_t memory_total_bytes = 0;
  size_t memory_limit_bytes = 0;
  // Points holding a sparse vector, and the inverted index's memory (part
  // of memory_bytes).
  uint64_t sparse_points = 0;
  size_t sparse_memory_bytes = 0;
};

// RocksDB's state, for monitoring (Database::storage_stats).
struct StorageStats {
  uint64_t wal_syncs = 0;           // WAL fsyncs since open
  uint64_t wal_bytes = 0;           // bytes written to the WAL since open
  uint64_t compaction_pending = 0;  // 1 if a compaction is pending
  uint64_t compactions_running = 0;
  uint64_t pending_compaction_bytes = 0;  // estimated
  uint64_t block_cache_usage = 0;
  uint64_t block_cache_capacity = 0;
  uint64_t memtable_bytes = 0;      // all column families
  uint64_t live_sst_bytes = 0;      // all column families
  uint64_t memory_total_bytes = 0;  // the collections' (db/memory_budget.h)
  uint64_t memory_limit_bytes = 0;
  // Storage errors since open (a full or failing disk), the recoveries
  // that resumed writes after them (reopens among them), and whether writes
  // are refused now, waiting for one (db/storage_recovery.h).
  uint64_t storage_errors = 0;
  uint64_t storage_recoveries = 0;
  uint64_t storage_reopens = 0;
  uint64_t writes_stopped = 0;  // 0 or 1
};

// A collection's points as they stood at one moment (a RocksDB snapshot),
// read page by page in ascending id order while writes go on: what a
// cluster replica sends a peer that can no longer catch up from the log
// (rpc/cluster/). Holds the snapshot until destroyed; Database::Close, or
// a reopen after a storage error, releases it, and Next then answers
// Aborted (start over).
class PointCursor {
 public:
  virtual ~PointCursor() = default;
  // Collection::applied_sequence() at the cursor's moment: the points are
  // exactly those of the log entries up to it.
  virtual uint64_t applied_sequence() const = 0;
  // The next points (at most max_points >= 1), each with its vector and
  // payload; empty once every point was returned.
  virtual absl::StatusOr<std::vector<Record>> Next(size_t max_points) = 0;
};

class Collection {
 public:
  virtual ~Collection() = default;

  virtual const CollectionConfig& config() const = 0;

  // Inserts or replaces points (vector and payload together). All or
  // nothing: a bad point rejects the batch (a payload that is not valid
  // JSON too). Duplicate ids: the last wins.
  virtual absl::Status Upsert(const std::vector<Point>& points, bool wait) = 0;
  // Replaces the vectors of stored points and keeps their payloads
  // (Qdrant's update_vectors; the points' payload fields are not read).
  // All or nothing: NotFound naming a point the collection does not hold,
  // InvalidArgument for a bad vector. Duplicate ids: the last wins. Returns
  // how many points were updated.
  virtual absl::StatusOr<size_t> UpdateVectors(const std::vector<Point>& points,
                                               bool wait) = 0;
  // Deletes points; unknown ids are ignored. Returns how many were deleted.
  virtual absl::StatusOr<size_t> Delete(const std::vector<uint64_t>& ids,
                                        bool wait) = 0;
  // The stored points among ids, in the order asked; missing ids are
  // skipped.
  virtual absl::StatusOr<std::vector<Record>> Get(
      const std::vector<uint64_t>& ids, bool with_vectors,
      bool with_payload) const = 0;
  virtual uint64_t Count() const = 0;
  // Points matching `filter` (exact).
  virtual absl::StatusOr<CountResult> Count(const Filter& filter) const = 0;
  // The values of a payload field and how many points (matching the
  // filter, if any) hold each; a point with several values counts once for
  // each. FailedPrecondition without a keyword, integer or bool index on
  // the field, Unavailable while that index is being built.
  virtual absl::StatusOr<FacetResult> Facet(
      const FacetOptions& options) const = 0;
  // A consistent copy of every point (PointCursor). FailedPrecondition
  // without store_vectors (the codes alone cannot rebuild a point).
  virtual absl::StatusOr<std::unique_ptr<PointCursor>> OpenCursor() const = 0;

  // A page of points in ascending id order from options.offset, matching
  // the filter if any.
  virtual absl::StatusOr<ScrollPage> Scroll(
      const ScrollOptions& options) const = 0;
  // Deletes the selected points; returns how many. A filter's matches are
  // deleted in atomic batches of DatabaseOptions::max_filter_batch.
  virtual absl::StatusOr<size_t> DeletePoints(const PointSelector& points,
                                              bool wait) = 0;

  // Payload updates of existing points (unknown ids are skipped); return
  // how many points changed. `payload` is a JSON object:
  //  - SetPayload merges its top-level keys into each payload (a point
  //    without a payload gets it as is; FailedPrecondition naming the
  //    point if a payload is not a JSON object);
  //  - OverwritePayload replaces each payload with it;
  //  - DeletePayloadKeys removes the keys (dotted paths into nested
  //    objects) from each payload.
  virtual absl::StatusOr<size_t> SetPayload(const PointSelector& points,
                                            const std::string& payload,
                                            bool wait) = 0;
  virtual absl::StatusOr<size_t> OverwritePayload(const PointSelector& points,
                                                  const std::string& payload,
                                                  bool wait) = 0;
  virtual absl::StatusOr<size_t> DeletePayloadKeys(
      const PointSelector& points, const std::vector<std::string>& keys,
      bool wait) = 0;

  // A payload index on `field` (a dotted JSON path). Indexes the points
  // already stored in the background, in batches that let writes through;
  // until it is ready its conditions are evaluated on the payloads. wait:
  // return once it is ready. OK if the field has an index of this type
  // already; AlreadyExists if of another type.
  virtual absl::StatusOr<FieldIndexInfo> CreateFieldIndex(
      const std::string& field, FieldType type, bool wait) = 0;
  // NotFound if the field has no index.
  virtual absl::Status DeleteFieldIndex(const std::string& field) = 0;

  // Writes tagged with their place in an ordered, replicated log (a tqdb
  // cluster's replica applying its shard of the collection's JetStream
  // stream, rpc/cluster/). The entry's sequence number is stored in the
  // same WriteBatch as its points, so that after any crash
  // applied_sequence() says exactly which entries the collection holds; an
  // entry at or below it was applied already and is skipped (OK, nothing
  // written): a log replayed after a crash is applied exactly once.
  // Sequences must increase; gaps are fine (other shards' entries). Errors
  // as Upsert/Delete, and then nothing is recorded.
  virtual absl::Status UpsertLogged(uint64_t sequence,
                                    const std::vector<Point>& points,
                                    bool wait) = 0;
  virtual absl::StatusOr<size_t> DeleteLogged(uint64_t sequence,
                                              const std::vector<uint64_t>& ids,
                                              bool wait) = 0;
  // Records `sequence` as applied without writing points: an entry every
  // replica rejects alike (e.g. a point invalid for this collection), after
  // which the log moves on.
  virtual absl::Status SkipLogged(uint64_t sequence) = 0;
  // Forgets the applied sequence (0 again; synced): the collection no longer
  // claims to hold a prefix of the log. Before a replica replaces its points
  // with another replica's copy (rpc/cluster/shard_replica.h): a crash
  // midway then leaves a collection that replays or copies from the start.
  virtual absl::Status ForgetLogged() = 0;
  // The last sequence recorded by the calls above; 0 before any. Once it
  // covers an entry, reads see the entry's points (counts, searches).
  virtual uint64_t applied_sequence() const = 0;

  // Best first. Scores: inner product (ip, cosine; larger is better) or
  // squared L2 distance (smaller is better); estimated unless exact/rescore.
  virtual absl::StatusOr<std::vector<Neighbor>> Search(
      absl::Span<const float> query, const QueryOptions& options) const = 0;
  // queries: nq * dim floats.
  virtual absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(
      absl::Span<const float> queries, const QueryOptions& options) const = 0;
  // The points with a sparse vector, best first by its dot product with
  // `query` (larger is better; equal scores by ascending id); a point that
  // shares no index with the query is not returned. Exact (an inverted index
  // in memory). Reads options.k, filter, id_filter, cancelled, stats and
  // info; the dense search's settings (nprobe, exact, rescore, ...) do not
  // apply and are ignored, examples must be empty. InvalidArgument for a
  // bad or empty query (db/sparse_index.h CheckSparseVector).
  virtual absl::StatusOr<std::vector<Neighbor>> SearchSparse(
      const SparseVector& query, const QueryOptions& options) const = 0;
  // The points holding a sparse vector and, for each of `terms`, the points
  // holding it (a query's IDF: db/sparse_index.h ApplyIdf).
  virtual absl::StatusOr<SparseTermStats> SparseStats(
      const std::vector<uint32_t>& terms) const = 0;

  virtual absl::StatusOr<CollectionInfo> Info() const = 0;

  // Trains now (blocking) if untrained; waits for a running background
  // training. OK if already trained. FailedPrecondition if empty.
  virtual absl::Status Train() = 0;
  // Rebuilds the centroids from the stored vectors and re-encodes every
  // point (blocking); writes and searches go on meanwhile.
  // FailedPrecondition without store_vectors.
  virtual absl::Status Retrain() = 0;
  // Blocks until no background training is running.
  virtual void WaitForTraining() = 0;
};

// The checks Upsert makes on its points (dimension, finite coordinates, a
// direction for cosine, payload size), for callers that must validate a
// batch before it reaches the collection (a cluster node, before the batch
// enters the log): InvalidArgument naming the first bad point.
absl::Status ValidatePoints(const CollectionConfig& config,
                            const DatabaseOptions& options,
                            const std::vector<Point>& points);

// The checks CreateCollection makes on a configuration, with its derived
// settings filled in (train_threshold as in effect): InvalidArgument.
absl::Status ValidateCollectionConfig(CollectionConfig* config);

// One change of Database::UpdateAliases.
struct AliasChange {
  enum class Kind { kCreate, kDelete };
  Kind kind = Kind::kCreate;
  std::string alias;
  std::string collection;  // kCreate: the collection the alias names
};

class Database {
 public:
  virtual ~Database() = default;

  // Opens (or creates) the database in `dir`. DataLoss naming the file for
  // missing or corrupt files, FailedPrecondition for a newer format or a
  // snapshot directory (see RestoreSnapshot).
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const std::string& dir, const DatabaseOptions& options);

  // InvalidArgument for bad settings, AlreadyExists for a taken name.
  virtual absl::StatusOr<CollectionInfo> CreateCollection(
      const CollectionConfig& config) = 0;
  // NotFound if absent. Handles to it return NotFound afterwards, and so
  // does a read under way when the drop comes (it may have read after the
  // data was deleted: never an answer from part of the points).
  virtual absl::Status DropCollection(const std::string& name) = 0;
  // Sorted names (not the aliases).
  virtual std::vector<std::string> ListCollections() const = 0;
  // The collection called `name`, or the one the alias `name` names.
  virtual absl::StatusOr<std::shared_ptr<Collection>> GetCollection(
      const std::string& name) const = 0;

  // Aliases: other names of collections, which GetCollection (and so every
  // read and write through the API) takes as the collection's. Moving an
  // alias to another collection (delete and create in one call) replaces
  // a collection without a moment in which the name is unknown: how one
  // reindexes with other settings. Applies `changes` in order, all or none
  // (one synced write). kCreate: the alias must be a valid name, unused by
  // a collection or another alias (AlreadyExists; delete it first in the
  // same call to move it), and name an existing collection (NotFound);
  // kDelete: an existing alias (NotFound). Dropping a collection deletes
  // its aliases; DropCollection of an alias is InvalidArgument.
  virtual absl::Status UpdateAliases(
      const std::vector<AliasChange>& changes) = 0;
  // Every alias -> its collection.
  virtual std::map<std::string, std::string> ListAliases() const = 0;

  // A consistent copy of the database (RocksDB checkpoint: hard links where
  // possible) in target_dir, which must not exist, marked as a snapshot
  // (file TQDB_SNAPSHOT: db/FORMAT.md). With a collection name, the
  // snapshot keeps only that collection. A snapshot is not opened (Open
  // refuses it: it would write into it) but restored (RestoreSnapshot).
  virtual absl::Status CreateSnapshot(const std::string& target_dir,
                                      const std::string& collection = "") = 0;

  // Copies the snapshot in snapshot_dir into target_dir (which must not
  // exist) as a database to open; the snapshot is left as it was (its
  // table files are hard-linked when on the same file system: they are
  // never modified, only deleted, which removes the copy's link alone).
  // NotFound for a missing snapshot_dir, InvalidArgument for one that is
  // not a snapshot, AlreadyExists for an existing target_dir.
  static absl::Status RestoreSnapshot(const std::string& snapshot_dir,
                                      const std::string& target_dir);

  // Stops background training, flushes and closes. Idempotent; the
  // destructor calls it.
  virtual absl::Status Close() = 0;

  virtual const std::string& dir() const = 0;

  // Counters and gauges of the storage engine and the memory budget.
  // Cheap (no I/O); zeros once closed.
  virtual StorageStats storage_stats() const = 0;
};

// Whether `status` is a write refused because the disk is full (a
// ResourceExhausted error of the storage, marked as such; context added
// with quant/status_macros.h keeps the mark): the other ResourceExhausted
// errors are limits of the request or of the memory budget. Writes resume
// by themselves once space is freed.
bool IsDiskFull(const absl::Status& status);

}  // namespace tqdb

#endif  // TQDB_DB_DB_H_
