// The on-disk format of a tqdb data directory: one RocksDB instance, its
// column families, key layouts and value encodings. db/FORMAT.md is the prose
// version of this file; keep them in step, and bump kFormatVersion for any
// change an older build would misread.
//
// Column families (all keys are prefixed with the 4-byte big-endian
// collection id `cid`, assigned at creation and never reused, except in
// `meta`):
//
//   meta     "format"               -> fixed32 magic 'TQDB', fixed32 version,
//                                      fixed32 crc32c of the first 8 bytes
//            "next_cid"             -> fixed32 next collection id
//            "collection/<name>"    -> CollectionRecord (config + state), crc
//            "trained/" be32 cid    -> fixed32 generation, then
//                                      IvfIndex::SerializeTrained() (its own
//                                      magic, version and crc): centroids,
//                                      rotation, codebooks
//            "applied/" be32 cid    -> fixed64 the last log sequence applied
//                                      (Collection::UpsertLogged; absent
//                                      until the first)
//   vectors  cid be64 id            -> dim float32, little-endian
//   payload  cid be64 id            -> opaque bytes (absent when empty)
//   idmap    cid be32 gen be64 id   -> fixed32 list id (kNoList when gen 0)
//   codes    cid be32 gen be32 list be64 id -> the code bytes
//                                      (IvfIndex::bytes_per_vector())
//   payload_index cid field 0x00 tag value be64 id -> empty
//            one entry per indexed value of a point (format version 2)
//   sparse   cid be64 id            -> the point's sparse vector
//            (db/sparse_index.h EncodeSparseVector; absent when it has
//            none; format version 3)
//   meta     "field_index/" be32 cid field -> FieldIndexRecord, crc
//   meta     "alias/<alias>"        -> the name of the collection it names
//            (Database::UpdateAliases; older builds ignore these keys)
//
// `gen` is the training generation: 0 while the collection is untrained,
// then 1, 2, ... after each (re)training. The record names the one active
// generation; idmap and codes entries of any other generation are leftovers
// of an interrupted training and are deleted at open. A training writes its
// codes under gen + 1 while the collection keeps serving gen, then flips the
// record, the trained parameters and the deletion of the old generation in
// one synced WriteBatch.
//
// Integers in values are little-endian (quant/coding.h); integers in keys
// are big-endian so that RocksDB's bytewise order is numeric order.
#ifndef TQDB_DB_FORMAT_H_
#define TQDB_DB_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/db.h"
#include "db/field_values.h"

namespace tqdb {
namespace dbformat {

// Version of the whole directory layout. A directory whose "format" entry
// is newer is refused with FailedPrecondition.
constexpr uint32_t kFormatMagic = 0x42445154;  // "TQDB" little-endian
// Version 2 added the payload_index family and the field_index/ records,
// version 3 the sparse family; Open migrates an older directory (creates
// the families it lacks, rewrites the format entry).
constexpr uint32_t kFormatVersion = 3;

// Collection record (value of meta "collection/<name>").
constexpr uint32_t kRecordMagic = 0x52435154;  // "TQCR"
// Version 2 adds the rescoring source (CollectionConfig::refine) after
// train_threshold. A record is written at version 2 only when refine is not
// raw, so a directory without such a collection stays readable by builds
// that know version 1 only; they refuse a version 2 record. Version 3 adds
// the prefix sharing (CollectionConfig::prefix_sharing) after refine,
// written only when it is not auto (db/FORMAT.md). Version 4 adds the
// BM25 settings (CollectionConfig::bm25) after it, written only when set.
// Version 5 adds the pca weighting (CollectionConfig::pca_weighting) and a
// BM25 presence word before the BM25 settings, written only for a pca
// collection whose weighting is not kOff (what versions 1-4 read as).
constexpr uint32_t kRecordVersion = 5;

constexpr uint32_t kNoList = 0xFFFFFFFFu;

// Column family names, in the order Open creates them.
constexpr const char* kMetaCf = "meta";
constexpr const char* kVectorsCf = "vectors";
constexpr const char* kCodesCf = "codes";
constexpr const char* kIdmapCf = "idmap";
constexpr const char* kPayloadCf = "payload";
constexpr const char* kPayloadIndexCf = "payload_index";
constexpr const char* kSparseCf = "sparse";
constexpr int kNumCfs = 7;
// Families of a version 1 directory (the first kNumCfsV1 of kCfNames).
constexpr int kNumCfsV1 = 5;
extern const char* const kCfNames[kNumCfs];
// The format version that added family f of kCfNames (1 for the first
// kNumCfsV1): a directory of that version or newer must have it.
uint32_t CfSinceVersion(int f);

// meta keys.
constexpr absl::string_view kFormatKey = "format";
constexpr absl::string_view kNextCidKey = "next_cid";
constexpr absl::string_view kCollectionPrefix = "collection/";
constexpr absl::string_view kTrainedPrefix = "trained/";
constexpr absl::string_view kAppliedPrefix = "applied/";
constexpr absl::string_view kFieldIndexPrefix = "field_index/";
constexpr absl::string_view kAliasPrefix = "alias/";

// The file that marks a snapshot directory (Database::CreateSnapshot):
// "collection=<name or empty>\ncreated=<Unix seconds>\n". Open refuses a
// directory that has one; RestoreSnapshot copies all but it.
constexpr const char* kSnapshotMarker = "TQDB_SNAPSHOT";

// Big-endian helpers for keys.
void PutBig32(std::string* dst, uint32_t v);
void PutBig64(std::string* dst, uint64_t v);
uint32_t GetBig32(const char* p);
uint64_t GetBig64(const char* p);

// Key builders. Prefix(cid) is the 4-byte range start of a collection in
// every data family; Prefix(cid + 1) is its exclusive end.
std::string Prefix(uint32_t cid);
std::string GenPrefix(uint32_t cid, uint32_t gen);  // idmap / codes
std::string PointKey(uint32_t cid, uint64_t id);    // vectors / payload
std::string IdmapKey(uint32_t cid, uint32_t gen, uint64_t id);
std::string CodeKey(uint32_t cid, uint32_t gen, uint32_t list, uint64_t id);
std::string CollectionKey(absl::string_view name);
std::string AliasKey(absl::string_view alias);
std::string TrainedKey(uint32_t cid);
std::string AppliedKey(uint32_t cid);

constexpr size_t kPointKeySize = 12;
constexpr size_t kIdmapKeySize = 16;
constexpr size_t kCodeKeySize = 20;

std::string EncodeFormat(uint32_t version);
// DataLoss for a malformed entry, FailedPrecondition for a newer version.
// version (optional): the directory's version.
absl::Status DecodeFormat(absl::string_view value, uint32_t* version = nullptr);

// Persisted settings (immutable after creation) and training state of one
// collection.
struct CollectionRecord {
  uint32_t cid = 0;
  // Settings as validated at creation (nlist 0 = automatic, train_threshold
  // as in effect).
  CollectionConfig config;
  // State.
  uint32_t generation = 0;     // 0 = untrained
  uint32_t trained_nlist = 0;  // lists of the active generation
  uint64_t trained_count = 0;  // points when it was trained
};

std::string EncodeRecord(const CollectionRecord& r);
absl::StatusOr<CollectionRecord> DecodeRecord(absl::string_view value);

// idmap values: the point's list in its generation (kNoList in gen 0).
std::string EncodeListValue(uint32_t list);
// False unless value is 4 bytes.
bool DecodeListValue(absl::string_view value, uint32_t* list);

// Payload indexes. A field name never holds a 0x00 byte (a JSON path has
// no control characters), so `cid field 0x00` starts the entries of one
// index and `cid field 0x01` ends them; the id is the key's last 8 bytes,
// so a keyword value needs no escaping.
//   tag 'N' (no value): the field is null (is_null)
//   tag 'P' (no value): the field is not empty (is_empty) but holds no
//   value of the index's type (a value of the type implies it)
//   tag 'b' 0x00|0x01, 'i' be64 (v xor 2^63), 'f' be64 (order-preserving
//   bits of the double), 'k' the keyword's bytes
std::string FieldIndexKey(uint32_t cid, absl::string_view field);  // meta
std::string FieldEntriesBegin(uint32_t cid, absl::string_view field);
std::string FieldEntriesEnd(uint32_t cid, absl::string_view field);
// The entry keys of a point's values of one field.
void FieldEntryKeys(uint32_t cid, absl::string_view field,
                    const FieldValues& values, uint64_t id,
                    std::vector<std::string>* keys);
// One entry (key with the FieldEntriesBegin prefix of `prefix_size` bytes
// removed already counted): the value it holds (or the flag) into *values,
// the point into *id. DataLoss for a malformed key or a value of another
// type than `type`.
absl::Status DecodeFieldEntry(absl::string_view key, size_t prefix_size,
                              FieldType type, FieldValues* values,
                              uint64_t* id);

struct FieldIndexRecord {
  std::string field;
  FieldType type = FieldType::kKeyword;
  bool ready = false;  // backfill complete
};
std::string EncodeFieldIndexRecord(const FieldIndexRecord& r);
absl::StatusOr<FieldIndexRecord> DecodeFieldIndexRecord(
    absl::string_view value);

// Vector values.
void EncodeVector(const float* v, uint32_t dim, std::string* dst);
bool DecodeVector(absl::string_view value, uint32_t dim, float* out);

}  // namespace dbformat
}  // namespace tqdb

#endif  // TQDB_DB_FORMAT_H_
