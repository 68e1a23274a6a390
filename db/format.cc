#include "db/format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "db/bm25.h"
#include "quant/coding.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbformat {

const char* const kCfNames[kNumCfs] = {kMetaCf,  kVectorsCf, kCodesCf,
                                       kIdmapCf, kPayloadCf, kPayloadIndexCf,
                                       kSparseCf};

uint32_t CfSinceVersion(int f) {
  if (f < kNumCfsV1) return 1;
  return kCfNames[f] == kPayloadIndexCf ? 2 : 3;
}

void PutBig32(std::string* dst, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  dst->append(b, 4);
}

void PutBig64(std::string* dst, uint64_t v) {
  PutBig32(dst, static_cast<uint32_t>(v >> 32));
  PutBig32(dst, static_cast<uint32_t>(v));
}

uint32_t GetBig32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

uint64_t GetBig64(const char* p) {
  return (uint64_t{GetBig32(p)} << 32) | GetBig32(p + 4);
}

std::string Prefix(uint32_t cid) {
  std::string k;
  PutBig32(&k, cid);
  return k;
}

std::string GenPrefix(uint32_t cid, uint32_t gen) {
  std::string k;
  k.reserve(8);
  PutBig32(&k, cid);
  PutBig32(&k, gen);
  return k;
}

std::string PointKey(uint32_t cid, uint64_t id) {
  std::string k;
  k.reserve(kPointKeySize);
  PutBig32(&k, cid);
  PutBig64(&k, id);
  return k;
}

std::string IdmapKey(uint32_t cid, uint32_t gen, uint64_t id) {
  std::string k;
  k.reserve(kIdmapKeySize);
  PutBig32(&k, cid);
  PutBig32(&k, gen);
  PutBig64(&k, id);
  return k;
}

std::string CodeKey(uint32_t cid, uint32_t gen, uint32_t list, uint64_t id) {
  std::string k;
  k.reserve(kCodeKeySize);
  PutBig32(&k, cid);
  PutBig32(&k, gen);
  PutBig32(&k, list);
  PutBig64(&k, id);
  return k;
}

std::string AliasKey(absl::string_view alias) {
  return absl::StrCat(kAliasPrefix, alias);
}

std::string CollectionKey(absl::string_view name) {
  return absl::StrCat(kCollectionPrefix, name);
}

std::string TrainedKey(uint32_t cid) {
  std::string k(kTrainedPrefix);
  PutBig32(&k, cid);
  return k;
}

std::string AppliedKey(uint32_t cid) {
  std::string k(kAppliedPrefix);
  PutBig32(&k, cid);
  return k;
}

std::string EncodeFormat(uint32_t version) {
  std::string s;
  PutFixed32(&s, kFormatMagic);
  PutFixed32(&s, version);
  PutFixed32(&s, Crc32c(s.data(), s.size()));
  return s;
}

absl::Status DecodeFormat(absl::string_view value, uint32_t* version_out) {
  if (value.size() != 12) {
    return absl::DataLossError(
        absl::StrCat("format entry has ", value.size(), " bytes, expected 12"));
  }
  const auto* u = reinterpret_cast<const uint8_t*>(value.data());
  if (Crc32c(u, 8) != DecodeFixed32(u + 8)) {
    return absl::DataLossError("format entry: checksum mismatch");
  }
  if (DecodeFixed32(u) != kFormatMagic) {
    return absl::DataLossError(
        "format entry: bad magic (not a tqdb directory)");
  }
  const uint32_t version = DecodeFixed32(u + 4);
  if (version > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "format version ", version, " is newer than this build supports (",
        kFormatVersion, "); open it with a newer tqdb"));
  }
  if (version == 0) return absl::DataLossError("format entry: version 0");
  if (version_out != nullptr) *version_out = version;
  return absl::OkStatus();
}

// ---------------------------------------------------------- payload indexes

namespace {

// The body of a checksummed record (magic, version, fields, crc32c) with
// its checksum, magic and version checked; errors name `what`. A version
// newer than `newest` is FAILED_PRECONDITION (a newer build wrote it), not
// data loss.
absl::StatusOr<Decoder> OpenRecord(absl::string_view value,
                                   absl::string_view what, uint32_t magic,
                                   uint32_t newest, uint32_t* version) {
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(what, ": ", why));
  };
  if (value.size() < 12) return corrupt("truncated");
  const uint32_t crc = DecodeFixed32(
      reinterpret_cast<const uint8_t*>(value.data() + value.size() - 4));
  if (Crc32c(value.data(), value.size() - 4) != crc) {
    return corrupt("checksum mismatch");
  }
  Decoder dec(value.substr(0, value.size() - 4));
  uint32_t got_magic = 0;
  if (!dec.GetFixed32(&got_magic) || !dec.GetFixed32(version)) {
    return corrupt("truncated header");
  }
  if (got_magic != magic) return corrupt("bad magic");
  if (*version > newest) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " version ", *version,
                     " is newer than this build supports (", newest, ")"));
  }
  return dec;
}

constexpr uint32_t kFieldRecordMagic = 0x49465154;  // "TQFI"
constexpr uint32_t kFieldRecordVersion = 1;

std::string FieldPrefix(uint32_t cid, absl::string_view field, char end) {
  std::string k;
  k.reserve(4 + field.size() + 1);
  PutBig32(&k, cid);
  k.append(field.data(), field.size());
  k.push_back(end);
  return k;
}

uint64_t OrderedDouble(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);
}

double FromOrderedDouble(uint64_t u) {
  const uint64_t bits = (u >> 63) ? u & ~(uint64_t{1} << 63) : ~u;
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}

}  // namespace

std::string FieldIndexKey(uint32_t cid, absl::string_view field) {
  std::string k(kFieldIndexPrefix);
  PutBig32(&k, cid);
  k.append(field.data(), field.size());
  return k;
}

std::string FieldEntriesBegin(uint32_t cid, absl::string_view field) {
  return FieldPrefix(cid, field, '\0');
}

std::string FieldEntriesEnd(uint32_t cid, absl::string_view field) {
  return FieldPrefix(cid, field, '\1');
}

void FieldEntryKeys(uint32_t cid, absl::string_view field,
                    const FieldValues& values, uint64_t id,
                    std::vector<std::string>* keys) {
  const std::string prefix = FieldEntriesBegin(cid, field);
  auto add = [&](char tag, absl::string_view value) {
    std::string k = prefix;
    k.push_back(tag);
    k.append(value.data(), value.size());
    PutBig64(&k, id);
    keys->push_back(std::move(k));
  };
  if (values.null) add('N', "");
  // A value of the type implies the field is not empty: 'P' only without.
  if (values.present && !values.has_values()) add('P', "");
  for (uint8_t b : values.bools) add('b', std::string(1, b ? '\1' : '\0'));
  std::string v;
  for (int64_t x : values.integers) {
    v.clear();
    PutBig64(&v, static_cast<uint64_t>(x) ^ (uint64_t{1} << 63));
    add('i', v);
  }
  for (double x : values.floats) {
    v.clear();
    PutBig64(&v, OrderedDouble(x));
    add('f', v);
  }
  for (const std::string& w : values.keywords) add('k', w);
  for (const GeoPoint& p : values.geo) {
    v.clear();
    PutBig64(&v, OrderedDouble(p.lon));
    PutBig64(&v, OrderedDouble(p.lat));
    add('g', v);
  }
}

absl::Status DecodeFieldEntry(absl::string_view key, size_t prefix_size,
                              FieldType type, FieldValues* values,
                              uint64_t* id) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(
        "column family 'payload_index': malformed entry (", why, ")"));
  };
  if (key.size() < prefix_size + 1 + 8) return bad("too short");
  *id = GetBig64(key.data() + key.size() - 8);
  const char tag = key[prefix_size];
  if (tag != 'N') values->present = true;  // 'P', or a value (see above)
  const absl::string_view v =
      key.substr(prefix_size + 1, key.size() - prefix_size - 1 - 8);
  auto expect = [&](FieldType t, size_t bytes) {
    return type == t && v.size() == bytes;
  };
  switch (tag) {
    case 'N':
      if (!v.empty()) return bad("null flag with a value");
      values->null = true;
      return absl::OkStatus();
    case 'P':
      if (!v.empty()) return bad("present flag with a value");
      return absl::OkStatus();
    case 'b':
      if (!expect(FieldType::kBool, 1) || static_cast<uint8_t>(v[0]) > 1) {
        return bad("bool value");
      }
      values->bools.push_back(static_cast<uint8_t>(v[0]));
      return absl::OkStatus();
    case 'i':
      if (!(expect(FieldType::kInteger, 8) ||
            expect(FieldType::kDatetime, 8))) {
        return bad("integer value");
      }
      values->integers.push_back(
          static_cast<int64_t>(GetBig64(v.data()) ^ (uint64_t{1} << 63)));
      return absl::OkStatus();
    case 'f':
      if (!expect(FieldType::kFloat, 8)) return bad("float value");
      values->floats.push_back(FromOrderedDouble(GetBig64(v.data())));
      return absl::OkStatus();
    case 'g': {
      if (!expect(FieldType::kGeo, 16)) return bad("geo value");
      GeoPoint p{FromOrderedDouble(GetBig64(v.data())),
                 FromOrderedDouble(GetBig64(v.data() + 8))};
      if (!CheckGeoPoint(p).ok()) return bad("geo value out of range");
      values->geo.push_back(p);
      return absl::OkStatus();
    }
    case 'k':
      if (type != FieldType::kKeyword && type != FieldType::kText) {
        return bad("keyword value");
      }
      values->keywords.emplace_back(v);
      return absl::OkStatus();
    default:
      return bad("unknown tag");
  }
}

std::string EncodeFieldIndexRecord(const FieldIndexRecord& r) {
  std::string s;
  PutFixed32(&s, kFieldRecordMagic);
  PutFixed32(&s, kFieldRecordVersion);
  PutBytes(&s, r.field);
  PutFixed32(&s, static_cast<uint32_t>(r.type));
  PutFixed32(&s, r.ready ? 1 : 0);
  PutFixed32(&s, Crc32c(s.data(), s.size()));
  return s;
}

absl::StatusOr<FieldIndexRecord> DecodeFieldIndexRecord(
    absl::string_view value) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("field index record: ", why));
  };
  uint32_t version = 0, type = 0, ready = 0;
  TQ_ASSIGN_OR_RETURN(Decoder dec,
                      OpenRecord(value, "field index record", kFieldRecordMagic,
                                 kFieldRecordVersion, &version));
  absl::string_view field;
  if (!dec.GetBytes(&field) || !dec.GetFixed32(&type) ||
      !dec.GetFixed32(&ready) || dec.remaining() ||
      !IsFieldType(static_cast<FieldType>(type)) || ready > 1) {
    return corrupt("bad fields");
  }
  FieldIndexRecord r;
  r.field = std::string(field);
  r.type = static_cast<FieldType>(type);
  r.ready = ready != 0;
  return r;
}

std::string EncodeRecord(const CollectionRecord& r) {
  std::string s;
  PutFixed32(&s, kRecordMagic);
  const CollectionConfig& c = r.config;
  // The oldest version that holds the settings, so that a record written
  // with the defaults stays readable by the servers before them.
  // Version 5 for a pca collection whose weighting is not kOff (what
  // older records read as).
  const bool v5 = c.method == "pca" && c.pca_weighting != PcaWeighting::kOff;
  const bool v4 = v5 || c.bm25.has_value();
  const bool v3 = v4 || c.prefix_sharing != PrefixSharing::kWhereExact;
  const bool v2 = v3 || c.refine != RefineKind::kNone;
  PutFixed32(&s, v5 ? 5 : v4 ? 4 : v3 ? 3 : v2 ? 2 : 1);
  PutFixed32(&s, r.cid);
  PutBytes(&s, c.name);
  PutFixed32(&s, c.dim);
  PutFixed32(&s, static_cast<uint32_t>(c.metric));
  PutBytes(&s, c.method);
  PutFixed32(&s, c.bits);
  PutFixed64(&s, c.seed);
  PutFixed32(&s, c.nlist);
  PutFixed32(&s, c.store_vectors ? 1 : 0);
  PutFixed64(&s, c.train_threshold);
  if (v2) PutFixed32(&s, static_cast<uint32_t>(c.refine));
  if (v3) PutFixed32(&s, static_cast<uint32_t>(c.prefix_sharing));
  if (v5) {
    PutFixed32(&s, static_cast<uint32_t>(c.pca_weighting));
    PutFixed32(&s, c.bm25.has_value() ? 1 : 0);
  }
  if (c.bm25.has_value()) {
    PutBytes(&s, c.bm25->language);
    PutFloat(&s, c.bm25->k1);
    PutFloat(&s, c.bm25->b);
    PutFloat(&s, c.bm25->avg_len);
  }
  PutFixed32(&s, r.generation);
  PutFixed32(&s, r.trained_nlist);
  PutFixed64(&s, r.trained_count);
  PutFixed32(&s, Crc32c(s.data(), s.size()));
  return s;
}

absl::StatusOr<CollectionRecord> DecodeRecord(absl::string_view value) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("collection record: ", why));
  };
  uint32_t version = 0;
  TQ_ASSIGN_OR_RETURN(Decoder dec,
                      OpenRecord(value, "collection record", kRecordMagic,
                                 kRecordVersion, &version));
  CollectionRecord r;
  CollectionConfig& c = r.config;
  absl::string_view name, method;
  // Version 1: raw rescoring; versions 1-2: prefix sharing auto; version 4:
  // BM25 settings; versions 1-4: no pca weighting (kOff), version 5 the
  // weighting and whether BM25 settings follow.
  uint32_t metric = 0, store = 0, refine = 0, sharing = 0;
  uint32_t weighting = static_cast<uint32_t>(PcaWeighting::kOff);
  uint32_t has_bm25 = version == 4 ? 1 : 0;
  absl::string_view language;
  Bm25Config bm25;
  if (!dec.GetFixed32(&r.cid) || !dec.GetBytes(&name) ||
      !dec.GetFixed32(&c.dim) || !dec.GetFixed32(&metric) ||
      !dec.GetBytes(&method) || !dec.GetFixed32(&c.bits) ||
      !dec.GetFixed64(&c.seed) || !dec.GetFixed32(&c.nlist) ||
      !dec.GetFixed32(&store) || !dec.GetFixed64(&c.train_threshold) ||
      (version >= 2 && !dec.GetFixed32(&refine)) ||
      (version >= 3 && !dec.GetFixed32(&sharing)) ||
      (version >= 5 &&
       (!dec.GetFixed32(&weighting) || !dec.GetFixed32(&has_bm25))) ||
      (has_bm25 == 1 &&
       (!dec.GetBytes(&language) || !dec.GetFloat(&bm25.k1) ||
        !dec.GetFloat(&bm25.b) || !dec.GetFloat(&bm25.avg_len))) ||
      !dec.GetFixed32(&r.generation) || !dec.GetFixed32(&r.trained_nlist) ||
      !dec.GetFixed64(&r.trained_count) || dec.remaining() != 0) {
    return corrupt("truncated or malformed body");
  }
  if (metric > 2 || c.dim < 2 || store > 1 || refine > 2 || sharing > 2 ||
      weighting > 2 || has_bm25 > 1) {
    return corrupt("bad settings");
  }
  if (has_bm25 == 1) {
    bm25.language = std::string(language);
    if (!ValidateBm25Config(&bm25).ok()) return corrupt("bad bm25 settings");
    c.bm25 = std::move(bm25);
  }
  c.refine = static_cast<RefineKind>(refine);
  c.prefix_sharing = static_cast<PrefixSharing>(sharing);
  c.name = std::string(name);
  c.method = std::string(method);
  // Other methods take only kAuto (their records hold none).
  c.pca_weighting = c.method == "pca" ? static_cast<PcaWeighting>(weighting)
                                      : PcaWeighting::kAuto;
  c.metric = static_cast<Metric>(metric);
  c.store_vectors = store != 0;
  return r;
}

std::string EncodeListValue(uint32_t list) {
  std::string v;
  PutFixed32(&v, list);
  return v;
}

bool DecodeListValue(absl::string_view value, uint32_t* list) {
  if (value.size() != 4) return false;
  *list = DecodeFixed32(reinterpret_cast<const uint8_t*>(value.data()));
  return true;
}

void EncodeVector(const float* v, uint32_t dim, std::string* dst) {
  dst->resize(size_t{dim} * 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::memcpy(dst->data(), v, size_t{dim} * 4);
#else
  for (uint32_t j = 0; j < dim; ++j) {
    EncodeFloat(reinterpret_cast<uint8_t*>(dst->data()) + 4 * j, v[j]);
  }
#endif
}

bool DecodeVector(absl::string_view value, uint32_t dim, float* out) {
  if (value.size() != size_t{dim} * 4) return false;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::memcpy(out, value.data(), value.size());
#else
  for (uint32_t j = 0; j < dim; ++j) {
    out[j] =
        DecodeFloat(reinterpret_cast<const uint8_t*>(value.data()) + 4 * j);
  }
#endif
  return true;
}

}  // namespace dbformat
}  // namespace tqdb
