// A collection's in-memory filtering state: the internal ids of its points
// (db/id_map.h), the bitmap of live points, and its payload indexes (one
// db/field_index.h per indexed field), under one reader-writer lock, so
// that a filter is evaluated against one consistent state of them.
//
// Writers (the collection's write path, serialized by its write lock) read
// the current values of points (to delete their stored index entries),
// then, once the RocksDB batch is written, apply the points' new values and
// EndWrite(). An index being built (backfilled) is maintained by writes
// but not used by filters until it is ready (MarkReady): meanwhile
// conditions on its field are evaluated on the payloads.
//
// Thread-safety: thread-safe. Lock order: after CollectionImpl::state_mu_
// and before nothing (a leaf; FieldIndex, IdMap and NumericIndex are used
// only under it).
#ifndef TQDB_DB_PAYLOAD_INDEX_H_
#define TQDB_DB_PAYLOAD_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "db/field_index.h"
#include "db/field_values.h"
#include "db/filter.h"
#include "db/filter_eval.h"
#include "db/id_map.h"
#include "index/allowed_set.h"
#include "roaring/roaring.hh"

namespace tqdb {
namespace dbimpl {

struct FieldIndexState {
  std::string field;
  FieldType type = FieldType::kKeyword;
  bool ready = false;
  uint64_t points = 0;      // points whose field is not empty
  size_t memory_bytes = 0;  // approximate
};

class PayloadIndex {
 public:
  PayloadIndex() = default;
  PayloadIndex(const PayloadIndex&) = delete;
  PayloadIndex& operator=(const PayloadIndex&) = delete;

  // ---------------------------------------------------------- fields
  // A new, empty index of `field` (InvalidArgument for a malformed path,
  // AlreadyExists if the field has one).
  absl::Status AddField(const std::string& field, FieldType type, bool ready);
  void DropField(const std::string& field);
  void MarkReady(const std::string& field);
  // Every index, sorted by field (with its size: O(index)).
  std::vector<FieldIndexState> Fields() const;
  // The indexed fields and their types, sorted by field (cheap): the order
  // of Extract and Current.
  std::vector<std::pair<std::string, FieldType>> Schema() const;
  // The payload's top-level keys the indexes read (their paths' first
  // members), sorted.
  std::vector<std::string> TopLevelKeys() const;
  // The type of the index of `field`, if any (ready or not).
  bool TypeOf(const std::string& field, FieldType* type) const;

  // ---------------------------------------------------------- writers
  // The values a payload gives each indexed field (Fields() order).
  std::vector<FieldValues> Extract(const nlohmann::json* payload) const;
  // The values each point holds now, per field (Fields() order); empty
  // values for absent points.
  std::vector<std::vector<FieldValues>> Current(
      const std::vector<uint64_t>& ids) const;
  // Inserts or updates points (values[i]: Fields() order, or empty for no
  // indexed field); returns their internal ids.
  std::vector<uint32_t> Upsert(
      const std::vector<uint64_t>& ids,
      const std::vector<std::vector<FieldValues>>& values);
  // Sets one field's values of existing points (an index's backfill).
  void SetField(const std::string& field, const std::vector<uint64_t>& ids,
                const std::vector<FieldValues>& values);
  void Erase(const std::vector<uint64_t>& ids);
  // Ends a write (see IdMap::EndWrite).
  void EndWrite();

  // ---------------------------------------------------------- loading
  // (before the collection is shared)
  uint32_t LoadPoint(uint64_t id);
  // Adds values read back from storage to a point's; NotFound if the point
  // or the field is unknown.
  absl::Status LoadValues(const std::string& field, uint64_t id,
                          const FieldValues& values);

  // ---------------------------------------------------------- readers
  // Keeps ids freed from now on from reuse while held (hold it for a whole
  // query: from Evaluate to the end of the scan).
  std::shared_ptr<const void> Pin() const;
  // kNoIid when absent.
  uint32_t Find(uint64_t id) const;
  uint32_t universe() const;
  uint64_t size() const;
  // Phase 1 of a filter (db/filter_eval.h).
  absl::StatusOr<FilterResult> Evaluate(
      std::shared_ptr<const Filter> filter) const;
  // FieldIndex::Facet of the index of `field` over `among` (nullptr: every
  // point). FailedPrecondition without a keyword, integer or bool index of
  // the field, Unavailable while it is being built.
  absl::StatusOr<std::vector<FacetHit>> Facet(const std::string& field,
                                              const Roaring* among) const;
  // An ordered scroll's entries: the first `n` (value, point id) of the
  // values of o.key held by the points of `among` (nullptr: every point),
  // in o's order (then ascending ids), from o's cursor (start_from, and
  // `offset` among the points at it). FailedPrecondition without an
  // integer, float or datetime index of the field, Unavailable while it is
  // being built. Read from the index's sorted buckets from the cursor on
  // (about n * points / matches pairs), or, for a filter keeping under
  // sqrt(n * points) of the points, by sorting the matches' values.
  struct OrderedEntry {
    double value = 0;
    uint64_t id = 0;
  };
  absl::StatusOr<std::vector<OrderedEntry>> Ordered(const OrderBy& o,
                                                    uint64_t offset,
                                                    const Roaring* among,
                                                    size_t n) const;
  // The points of `ids` as a scan's allowed set.
  AllowedSet ToAllowed(const Roaring& ids) const;
  // Point ids of internal ids (ascending internal ids in, same order out).
  std::vector<uint64_t> ExternalIds(const Roaring& ids) const;
  // Approximate bytes of the id map and the live bitmap.
  size_t BaseMemoryBytes() const;

 private:
  struct Slot {
    std::unique_ptr<FieldIndex> index;
    bool ready = false;
  };

  // The ready index of `field` if its type is one of `types`, else an error
  // saying why, and what the use needs (`needs`: "facet counts need a
  // keyword, integer or bool one").
  absl::StatusOr<const FieldIndex*> IndexFor(
      const std::string& field, std::initializer_list<FieldType> types,
      const char* needs) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  IdMap ids_ ABSL_GUARDED_BY(mu_);
  Roaring live_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Slot> fields_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_PAYLOAD_INDEX_H_
