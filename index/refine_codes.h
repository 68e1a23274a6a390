// In-memory rescoring codes (LayoutOptions::refine): a second, finer code
// of every vector kept beside the lists' scan codes, which IvfIndex's
// rescore reads instead of the raw vectors behind SearchParams::store (the
// database's RocksDB lookups) - the FAISS IndexRefine pattern. Codes are of
// the vector as the index compares it (unit length for cosine), never of a
// residual, so a candidate's score needs no centroid.
//  - kInt8: round(x_i / s) in [-127, 127] with s = max_i |x_i| / 127, per
//    vector; the code holds s and ||x^||^2 of the decoded vector x^ (L2,
//    cosine), then the d int8 values: d + 8 bytes (padded to 4). Each
//    coordinate errs by at most s / 2, so |<q, x^> - <q, x>| <=
//    ||q||_1 * s / 2, and typically ||q|| * s / sqrt(12).
//  - kFloat32: ||x||^2 and the vector: 4 d + 4 bytes; the same scores as
//    rescoring from the raw vectors, without the lookups.
// Thread-safety: immutable; const methods may run concurrently.
#ifndef TQDB_INDEX_REFINE_CODES_H_
#define TQDB_INDEX_REFINE_CODES_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tqdb {

enum class RefineKind : uint32_t { kNone = 0, kInt8 = 1, kFloat32 = 2 };

// The two vocabularies that name a RefineKind differ only in kNone: the
// index calls it "none" (no codes kept, as `tqdb bench --refine` spells it);
// a collection's rescoring source (CollectionConfig::refine, `tqdb create
// --refine`) calls it "raw", since a rescore then reads the stored raw
// vectors. kInt8 is "int8" and kFloat32 "f32" in both.
enum class RefineVocabulary { kCodes, kRescoreSource };

// The kind's name in the vocabulary; a kind outside the enum reads as kNone.
const char* RefineKindName(
    RefineKind kind, RefineVocabulary vocabulary = RefineVocabulary::kCodes);
// The names above; InvalidArgument naming the accepted ones otherwise.
absl::StatusOr<RefineKind> ParseRefineKind(
    absl::string_view name,
    RefineVocabulary vocabulary = RefineVocabulary::kCodes);

class RefineCodec {
 public:
  RefineCodec() = default;
  RefineCodec(RefineKind kind, uint32_t dim);

  RefineKind kind() const { return kind_; }
  bool enabled() const { return kind_ != RefineKind::kNone; }
  // A code's size in 4-byte words (0 for kNone), and in bytes.
  uint32_t code_words() const { return words_; }
  size_t code_bytes() const { return size_t{words_} * sizeof(float); }

  // Writes the code (code_words() words) of the dim floats of x.
  void Encode(const float* x, float* code) const;
  // <q, x^> for the decoded vector x^.
  float Dot(const float* q, const float* code) const;
  // kInt8 only: ||q - x^||^2, kernels::L2Sqr(q, x^) bit for bit.
  float L2Sqr(const float* q, const float* code) const;
  // The decoded vector x^ (dim floats).
  void Decode(const float* code, float* out) const;
  // kInt8 only: out[r] = the exact int32 sum of q16 times the int8 values
  // of codes + r * code_words() (kernels::DotI16I8Rows; the code's scale,
  // code[1], not applied). REQUIRES: dim * max|q16| * 128 < 2^31.
  void DotRowsInt(const int16_t* q16, const float* codes, size_t rows,
                  int32_t* out) const;
  // The scale of an int8 code: x^ = Scale(code) * its int8 values.
  float Scale(const float* code) const { return code[1]; }
  // ||x^||^2.
  float NormSq(const float* code) const { return code[0]; }

 private:
  RefineKind kind_ = RefineKind::kNone;
  uint32_t dim_ = 0;
  uint32_t words_ = 0;
};

// Moves the d floats of x onto the grid of their kInt8 code, so that the
// code decodes to x bit for bit (each coordinate moves by at most half the
// code's scale s = max |x_i| / 127); after 4 rounds that do not reach such
// a point, x is left on the last.
void SnapToInt8Grid(float* x, uint32_t d);

}  // namespace tqdb

#endif  // TQDB_INDEX_REFINE_CODES_H_
